//! Patrols on the ground (路长巡查): a road chief starts a patrol on the phone, uploads the
//! trail in batches while walking or driving, and ends it; the segments the trail covered
//! are matched when it ends and recorded for the rankings.
//!
//! - Start is idempotent per person: while a patrol runs, "start" answers the running one
//!   (a phone that lost the answer does not open a second).
//! - A batch is stored once per batch id (a retry with the same points is a replay, with
//!   other points a 409); batches may arrive in any order, the trail is sorted by time.
//! - End matches the trail (`cityloop_geo::patrol`: unbelievable points dropped and counted,
//!   a segment credited only for the district's share of its length within the tolerance),
//!   writes the result and the `patrols` record in one transaction; ending twice is a 409.
//! - A patrol without a trail (no GPS) is ended with a reason and counts separately: it
//!   credits no segment.
//!
//! The matching rules are the district setting `patrol_rules` (invented defaults, see
//! [`MatchRules`]). The clock of what a level owes is `cityloop_domain::patrol`.

use cityloop_domain::evaluation::{Patrol, PatrolKind};
use cityloop_domain::model::{Person, Role};
use cityloop_geo::patrol::{
    self as matcher, Cleaned, Dropped, MatchRules, SegmentCoverage, TrailPoint,
};
use cityloop_store::{BatchOutcome, PatrolRefusal, PatrolRun, StoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ServiceError, Services};

/// Settings key of the district's trail-matching rules.
pub const RULES_SETTING: &str = "patrol_rules";
/// Most trail points one patrol keeps (8 hours at one point every 1.5 s).
pub const MAX_TRAIL_POINTS: i64 = 20_000;
/// Most points in one batch.
pub const MAX_BATCH_POINTS: usize = 1_000;
/// Longest batch id.
pub const MAX_BATCH_ID_CHARS: usize = 64;
/// Longest no-GPS reason and note.
pub const MAX_REASON_CHARS: usize = 500;

/// What a patrol's end recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PatrolResult {
    pub kind: PatrolKindDto,
    /// Points received in all batches.
    pub points_received: usize,
    /// Points kept after dropping unbelievable ones.
    pub points_kept: usize,
    pub dropped: Dropped,
    /// Length of the kept trail in metres (gaps not bridged).
    pub trail_length_m: f64,
    /// Every segment the trail came within the tolerance of, with its covered share.
    pub segments: Vec<SegmentCoverage>,
    /// The segments the patrol counts for (share reached).
    pub credited: Vec<String>,
    pub no_gps_reason: Option<String>,
    pub note: Option<String>,
    /// The rules it was matched with.
    #[schema(value_type = Object)]
    pub rules: MatchRules,
}

/// [`PatrolKind`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PatrolKindDto {
    Trail,
    NoGps,
}

/// A patrol run with its result once ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PatrolView {
    pub run: PatrolRun,
    /// True when "start" answered a patrol that was already running.
    pub resumed: bool,
    pub result: Option<PatrolResult>,
}

/// What uploading a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchAnswer {
    /// False when the batch had been stored before (a retry).
    pub stored: bool,
    /// Points stored for the patrol so far.
    pub points_total: i64,
}

fn must_be_chief(person: &Person) -> Result<(), ServiceError> {
    if person.role != Role::RoadChief {
        return Err(ServiceError::Forbidden(
            "only road chiefs (路长) record patrols".into(),
        ));
    }
    Ok(())
}

fn checked_text(field: &str, v: Option<String>) -> Result<Option<String>, ServiceError> {
    let Some(v) = v else { return Ok(None) };
    let t = v.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > MAX_REASON_CHARS {
        return Err(ServiceError::invalid(
            field,
            format!("is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(Some(t.to_owned()))
}

impl Services {
    /// The district's trail-matching rules (invented defaults unless set).
    pub async fn patrol_rules(&self) -> Result<MatchRules, ServiceError> {
        let rules = crate::reference::get_setting::<MatchRules>(&*self.store, RULES_SETTING)
            .await?
            .unwrap_or_default();
        rules.validate().map_err(|(f, m)| {
            ServiceError::NotConfigured(format!("setting {RULES_SETTING}: {f} {m}"))
        })?;
        Ok(rules)
    }

    /// Drops unbelievable points and matches the rest against the district's segments.
    pub fn match_trail(
        &self,
        mut points: Vec<TrailPoint>,
        rules: &MatchRules,
    ) -> Result<(Cleaned, Vec<SegmentCoverage>), ServiceError> {
        let Some(t) = &self.territory else {
            return Err(ServiceError::NotConfigured(
                "no territory is loaded: trails cannot be matched to road segments".into(),
            ));
        };
        points.sort_by_key(|p| p.t_ms);
        let now = self.now().timestamp_millis();
        let cleaned = matcher::clean(&points, now, rules, |lon, lat| {
            !t.route(lon, lat).outside_district
        });
        let cov = matcher::coverage(t.router(), &cleaned, rules);
        Ok((cleaned, cov))
    }

    /// Starts a patrol, or answers the one running.
    pub async fn start_patrol(&self, person: &Person) -> Result<PatrolView, ServiceError> {
        must_be_chief(person)?;
        if let Some(run) = self.store.open_patrol_runs(person.id).await?.pop() {
            return Ok(PatrolView {
                run,
                resumed: true,
                result: None,
            });
        }
        let run = PatrolRun {
            id: Uuid::now_v7(),
            person_id: person.id,
            started_at: self.now(),
            ended_at: None,
            points: 0,
            result: None,
        };
        self.store.start_patrol_run(&run).await?;
        tracing::info!(patrol.id = %run.id, person.id = %person.id, "patrol started");
        Ok(PatrolView {
            run,
            resumed: false,
            result: None,
        })
    }

    /// One of the caller's patrols.
    pub async fn patrol(&self, person: &Person, id: Uuid) -> Result<PatrolView, ServiceError> {
        let run = match self.store.patrol_run(id).await {
            Ok(r) if r.person_id == person.id => r,
            Ok(_) | Err(StoreError::NotFound(_)) => {
                return Err(ServiceError::NotFound(format!("patrol {id}")))
            }
            Err(e) => return Err(e.into()),
        };
        let result = run
            .result
            .as_deref()
            .map(serde_json::from_str::<PatrolResult>)
            .transpose()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("stored patrol result: {e}")))?;
        Ok(PatrolView {
            run,
            resumed: false,
            result,
        })
    }

    /// Stores one batch of trail points (idempotent per batch id).
    pub async fn upload_patrol_points(
        &self,
        person: &Person,
        id: Uuid,
        batch_id: &str,
        points: Vec<TrailPoint>,
    ) -> Result<BatchAnswer, ServiceError> {
        must_be_chief(person)?;
        if batch_id.is_empty()
            || batch_id.chars().count() > MAX_BATCH_ID_CHARS
            || !batch_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ServiceError::invalid(
                "batch",
                format!("1 to {MAX_BATCH_ID_CHARS} characters of A–Z, a–z, 0–9, '-' and '_'"),
            ));
        }
        if points.is_empty() {
            return Err(ServiceError::invalid("points", "give at least one point"));
        }
        if points.len() > MAX_BATCH_POINTS {
            return Err(ServiceError::invalid(
                "points",
                format!("a batch holds at most {MAX_BATCH_POINTS} points"),
            ));
        }
        let view = self.patrol(person, id).await?;
        if view.run.ended_at.is_some() {
            return Err(ServiceError::Conflict(format!("patrol {id} has ended")));
        }
        let json = serde_json::to_string(&points).map_err(|e| ServiceError::Internal(e.into()))?;
        let outcome = self
            .store
            .add_patrol_batch(
                id,
                batch_id,
                points.len() as i64,
                &json,
                MAX_TRAIL_POINTS,
                self.now(),
            )
            .await?;
        let stored = match outcome {
            Ok(BatchOutcome::Stored) => true,
            Ok(BatchOutcome::Replayed) => false,
            Ok(BatchOutcome::Differs) => {
                return Err(ServiceError::Conflict(format!(
                    "batch {batch_id} was stored with other points; a retry must send the same"
                )))
            }
            Err(PatrolRefusal::Ended) => {
                return Err(ServiceError::Conflict(format!("patrol {id} has ended")))
            }
            Err(PatrolRefusal::TooManyPoints) => {
                return Err(ServiceError::invalid(
                    "points",
                    format!("a patrol's trail holds at most {MAX_TRAIL_POINTS} points"),
                ))
            }
        };
        let points_total = self.store.patrol_run(id).await?.points;
        Ok(BatchAnswer {
            stored,
            points_total,
        })
    }

    /// Ends a patrol: matches its trail (or records it as a no-GPS patrol with the reason)
    /// and records the result. Ending twice is a conflict.
    pub async fn end_patrol(
        &self,
        person: &Person,
        id: Uuid,
        no_gps_reason: Option<String>,
        note: Option<String>,
    ) -> Result<PatrolView, ServiceError> {
        must_be_chief(person)?;
        let no_gps_reason = checked_text("no_gps_reason", no_gps_reason)?;
        let note = checked_text("note", note)?;
        let view = self.patrol(person, id).await?;
        if view.run.ended_at.is_some() {
            return Err(ServiceError::Conflict(format!(
                "patrol {id} has already ended"
            )));
        }
        let mut points: Vec<TrailPoint> = Vec::new();
        for b in self.store.patrol_batches(id).await? {
            let batch: Vec<TrailPoint> = serde_json::from_str(&b)
                .map_err(|e| ServiceError::Internal(anyhow::anyhow!("stored batch: {e}")))?;
            points.extend(batch);
        }
        let rules = self.patrol_rules().await?;
        let received = points.len();
        let result = if let Some(reason) = no_gps_reason {
            // A reason is for a patrol without a usable trail: none received, or every
            // point dropped (then the drops are kept with it).
            let dropped = if received > 0 {
                let (cleaned, _) = self.match_trail(points, &rules)?;
                if cleaned.kept() > 0 {
                    return Err(ServiceError::invalid(
                        "no_gps_reason",
                        format!(
                            "the patrol has a trail of {} usable points: end it without a reason",
                            cleaned.kept()
                        ),
                    ));
                }
                cleaned.dropped
            } else {
                Dropped::default()
            };
            PatrolResult {
                kind: PatrolKindDto::NoGps,
                points_received: received,
                points_kept: 0,
                dropped,
                trail_length_m: 0.0,
                segments: Vec::new(),
                credited: Vec::new(),
                no_gps_reason: Some(reason),
                note,
                rules,
            }
        } else {
            let (cleaned, segments) = self.match_trail(points, &rules)?;
            if cleaned.kept() == 0 {
                return Err(ServiceError::invalid(
                    "no_gps_reason",
                    format!(
                        "no usable trail point ({received} received, {} dropped): give the reason there is no trail",
                        cleaned.dropped.total()
                    ),
                ));
            }
            PatrolResult {
                kind: PatrolKindDto::Trail,
                points_received: received,
                points_kept: cleaned.kept(),
                dropped: cleaned.dropped,
                trail_length_m: (cleaned.length_m() * 10.0).round() / 10.0,
                credited: segments
                    .iter()
                    .filter(|s| s.credited)
                    .map(|s| s.segment_id.clone())
                    .collect(),
                segments,
                no_gps_reason: None,
                note,
                rules,
            }
        };
        let ended_at = self.now().max(view.run.started_at);
        let record = Patrol {
            id,
            person_id: person.id,
            started_at: view.run.started_at,
            ended_at,
            segments: result.credited.clone(),
            points: Vec::new(),
            note: result.note.clone(),
            kind: match result.kind {
                PatrolKindDto::Trail => PatrolKind::Trail,
                PatrolKindDto::NoGps => PatrolKind::NoGps,
            },
            no_gps_reason: result.no_gps_reason.clone(),
        };
        let body = serde_json::to_string(&result).map_err(|e| ServiceError::Internal(e.into()))?;
        match self
            .store
            .end_patrol_run(id, ended_at, &body, &record)
            .await?
        {
            Ok(()) => {}
            Err(_) => {
                return Err(ServiceError::Conflict(format!(
                    "patrol {id} has already ended"
                )))
            }
        }
        tracing::info!(
            patrol.id = %id,
            person.id = %person.id,
            credited = result.credited.len(),
            dropped = result.dropped.total(),
            "patrol ended"
        );
        let mut run = view.run;
        run.ended_at = Some(ended_at);
        run.result = Some(body);
        Ok(PatrolView {
            run,
            resumed: false,
            result: Some(result),
        })
    }
}
