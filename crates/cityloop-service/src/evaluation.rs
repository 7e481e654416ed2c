//! Rankings (综合评价): league tables per object and period from the store's day buckets,
//! with the previous period for change, drill-down to the cases behind a figure, and
//! road-chief patrols.
//!
//! The figures are computed by the pure domain (`cityloop_domain::evaluation`); this
//! module picks the objects (territory, units, people, road-chief assignments), names
//! them, sums buckets for the period and the one before, and ranks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
pub use cityloop_domain::evaluation::HONOUR_ROWS;
use cityloop_domain::evaluation::{
    composite, honours, indicators, is_due, metric, patrol_figures, rank, EvaluationConfig, Grade,
    HonourInput, Indicator, ObjectKind, Patrol, PatrolFigures, RankObject, Totals,
    WEIGHTS_PROVENANCE,
};
use cityloop_domain::ids::{CaseId, PersonId};
use cityloop_domain::model::{RoadChiefLevel, Role, UnitKind};
use cityloop_store::{CaseFilter, Page};
use serde::Serialize;

use crate::{ServiceError, Services};

/// Settings key of the district's evaluation configuration (weights, bands, grades).
pub const SETTING: &str = "evaluation";
/// Longest period a ranking may cover.
pub const MAX_PERIOD_DAYS: i64 = 3 * 366;
/// Largest drill-down answer.
pub const MAX_DRILL_ROWS: u32 = 500;
/// Limits on a patrol record.
pub const MAX_PATROL_SEGMENTS: usize = 200;
pub const MAX_PATROL_POINTS: usize = 5000;
pub const MAX_PATROL_HOURS: i64 = 24;

/// Settings key recording that the evaluation buckets were built for this database.
pub const BUILT: &str = "evaluation_buckets_built";

/// Builds the evaluation buckets from history once, for a database that had cases before
/// the buckets existed (migration 0007); afterwards every event keeps them current.
pub async fn ensure_buckets(store: &dyn cityloop_store::Store) -> Result<(), ServiceError> {
    if store.get_setting(BUILT).await?.is_some() {
        return Ok(());
    }
    if store.count_cases().await? > 0 {
        let n = store.eval_rebuild().await?;
        tracing::info!(cases = n, "evaluation buckets built from history");
    }
    store
        .put_setting(BUILT, &serde_json::Value::Bool(true))
        .await?;
    Ok(())
}

/// One unit grid's shape for the heat map.
#[derive(Debug, Clone)]
pub struct GridShape {
    pub code: String,
    pub schematic: bool,
    /// GeoJSON geometry (WGS84).
    pub geometry: serde_json::Value,
}

/// Registered cases per unit grid in a period (grids with at least one).
#[derive(Debug, Clone)]
pub struct GridHeat {
    pub cells: Vec<(GridShape, i64)>,
    /// The largest count (0 when there is none).
    pub max: i64,
}

/// A local-day period, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, ServiceError> {
        if to < from {
            return Err(ServiceError::invalid("to", "must not be before from"));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(ServiceError::invalid(
                "to",
                format!("a period is at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Period { from, to })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Period {
        let len = Duration::days(self.days());
        Period {
            from: self.from - len,
            to: self.to - len,
        }
    }

    fn keys(&self) -> (i32, i32) {
        (key(self.from), key(self.to))
    }
}

fn key(d: NaiveDate) -> i32 {
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

/// One line of a league table.
#[derive(Debug, Clone, Serialize)]
pub struct RankingRow {
    pub rank: Option<u32>,
    pub id: String,
    pub name: String,
    pub score: Option<f64>,
    pub grade: Option<Grade>,
    pub indicators: Vec<Indicator>,
    pub previous_rank: Option<u32>,
    pub previous_score: Option<f64>,
    /// Score now minus score in the previous period.
    pub score_change: Option<f64>,
    /// Places gained since the previous period (positive = moved up).
    pub rank_change: Option<i64>,
    /// `red` for the top of the table, `black` for the bottom (红黑榜), else None.
    pub honour: Option<&'static str>,
    /// The object's cases in the period (`cityloop_domain::evaluation::case_count`).
    pub cases: i64,
    /// No case in the period (无数据): listed, not scored, not ranked.
    pub no_data: bool,
    /// No case in the previous period: the change columns are blank.
    pub previous_no_data: bool,
}

/// One period's figures of one subject.
struct Scored {
    indicators: Vec<Indicator>,
    score: Option<f64>,
    cases: i64,
}

/// A league table.
#[derive(Debug, Clone, Serialize)]
pub struct Ranking {
    pub object: RankObject,
    pub object_zh: &'static str,
    pub period: Period,
    pub previous: Period,
    /// e.g. `二七区街道综合评价排名（2026-11-01 至 2026-11-30）`.
    pub title_zh: String,
    pub weights: BTreeMap<String, f64>,
    /// Whether the standard's text confirms the default weights ([V]) or they are ours ([U]).
    pub weights_verified: bool,
    /// Cases an object needs for the 红黑榜 (the evaluation setting).
    pub honour_min_cases: i64,
    pub rows: Vec<RankingRow>,
}

/// One case behind a figure.
#[derive(Debug, Clone, Serialize)]
pub struct DrillCase {
    pub id: CaseId,
    pub number: String,
    pub state: String,
    pub source: String,
    pub category: String,
    pub street_code: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The local day the figure is dated at (`yyyymmdd`).
    pub day: i32,
    /// What the case contributes to the figure.
    pub value: i64,
}

/// A patrol as a road chief records it.
#[derive(Debug, Clone)]
pub struct PatrolInput {
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub segments: Vec<String>,
    pub points: Vec<[f64; 2]>,
    pub note: Option<String>,
}

/// The counter behind an indicator, for drill-down.
pub fn drill_metric(object: RankObject, indicator: &str) -> Option<&'static str> {
    use metric::*;
    let m = match object {
        RankObject::Street
        | RankObject::Community
        | RankObject::Grid
        | RankObject::Segment
        | RankObject::RoadChief => match indicator {
            "registered" | "missed" | "missed_rate" => REGISTERED,
            "public" | "public_rate" | "public_complaints" => PUBLIC,
            "to_close" => TO_CLOSE,
            "closed" | "closure_rate" => CLOSED,
            "closed_on_time" | "on_time_closure_rate" => CLOSED_ON_TIME,
            "rework" => REWORK,
            "self_found" => SELF_FOUND,
            _ => return None,
        },
        RankObject::Department => match indicator {
            "to_handle" => TO_HANDLE,
            "handled" | "handling_rate" | "mean_hours" | "p90_hours" => HANDLED,
            "handled_on_time" | "on_time_handling_rate" => HANDLED_ON_TIME,
            "overdue" => OVERDUE,
            "rework" | "rework_rate" => REWORK,
            "returned" => RETURNED,
            _ => return None,
        },
        RankObject::Inspector => match indicator {
            "reported" => INSP_REPORTED,
            "valid" | "valid_rate" => INSP_VALID,
            "verified" => INSP_VERIFIED,
            "on_time_verify_rate" => INSP_VERIFIED_ON_TIME,
            "checked" => INSP_CHECKED,
            "on_time_check_rate" => INSP_CHECKED_ON_TIME,
            _ => return None,
        },
        RankObject::Operator => match indicator {
            "accepted" => OP_ACCEPTED,
            "on_time_accept_rate" => OP_ACCEPTED_ON_TIME,
            "verify_sent" => OP_VERIFY_SENT,
            "verify_sent_on_time_rate" => OP_VERIFY_SENT_ON_TIME,
            _ => return None,
        },
        RankObject::Supervisor => match indicator {
            "registered" => SUP_REGISTERED,
            "on_time_register_rate" => SUP_REGISTERED_ON_TIME,
            "accurate_register_rate" => SUP_REGISTERED_VOIDED,
            "closed" => SUP_CLOSED,
            "on_time_close_rate" => SUP_CLOSED_ON_TIME,
            _ => return None,
        },
        RankObject::Dispatcher => match indicator {
            "dispatched" => DISP_DISPATCHED,
            "returned" | "accurate_dispatch_rate" => DISP_RETURNED,
            "on_time_dispatch_rate" => DISP_ON_TIME,
            _ => return None,
        },
    };
    Some(m)
}

/// An object to rank: its id, name, and the counter objects whose sums it takes.
struct Subject {
    id: String,
    name: String,
    sources: Vec<String>,
    patrol_every_days: Option<u32>,
}

impl Services {
    /// The district's evaluation configuration (defaults from the standard).
    pub async fn evaluation_config(&self) -> Result<EvaluationConfig, ServiceError> {
        let cfg = crate::reference::get_setting::<EvaluationConfig>(&*self.store, SETTING)
            .await?
            .unwrap_or_default();
        cfg.validate()
            .map_err(|e| ServiceError::NotConfigured(format!("evaluation setting: {e}")))?;
        Ok(cfg)
    }

    /// The objects a ranking lists.
    async fn subjects(&self, object: RankObject) -> Result<Vec<Subject>, ServiceError> {
        let plain = |id: &str, name: &str| Subject {
            id: id.to_owned(),
            name: name.to_owned(),
            sources: vec![id.to_owned()],
            patrol_every_days: None,
        };
        let mut out: Vec<Subject> = Vec::new();
        match object {
            RankObject::Street | RankObject::Community | RankObject::Grid | RankObject::Segment => {
                if let Some(t) = &self.territory {
                    out.extend(t.objects(object.as_str()).map(|(id, n)| plain(id, n)));
                }
                if object == RankObject::Street && out.is_empty() {
                    for u in self.store.list_units().await? {
                        if u.kind == UnitKind::Street {
                            out.push(plain(&u.type_key, &u.name));
                        }
                    }
                }
            }
            RankObject::Department => {
                for u in self.store.list_units().await? {
                    out.push(plain(&u.id.to_string(), &u.name));
                }
            }
            RankObject::RoadChief => {
                let people: HashMap<PersonId, String> = self
                    .store
                    .list_people()
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p.display_name))
                    .collect();
                let mut chiefs: BTreeMap<PersonId, (Vec<String>, u32)> = BTreeMap::new();
                for a in self.store.road_chiefs(None).await? {
                    let every = a
                        .level
                        .parse::<RoadChiefLevel>()
                        .map_or(1, |l| l.patrol_every_days());
                    let e = chiefs.entry(a.person_id).or_insert((Vec::new(), every));
                    e.0.push(a.segment_id);
                    e.1 = e.1.min(every);
                }
                for (pid, (segments, every)) in chiefs {
                    out.push(Subject {
                        id: pid.to_string(),
                        name: people.get(&pid).cloned().unwrap_or_else(|| pid.to_string()),
                        sources: segments,
                        patrol_every_days: Some(every),
                    });
                }
            }
            RankObject::Inspector
            | RankObject::Operator
            | RankObject::Supervisor
            | RankObject::Dispatcher => {
                let role = match object {
                    RankObject::Inspector => Role::Inspector,
                    RankObject::Operator => Role::Operator,
                    RankObject::Supervisor => Role::Supervisor,
                    _ => Role::Dispatcher,
                };
                for p in self.store.list_people().await? {
                    if p.role == role {
                        out.push(plain(&p.id.to_string(), &p.display_name));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Scores of every subject for one period.
    async fn score_period(
        &self,
        object: RankObject,
        subjects: &[Subject],
        period: Period,
        cfg: &EvaluationConfig,
    ) -> Result<Vec<Scored>, ServiceError> {
        let (from, to) = period.keys();
        let mut by_object: HashMap<String, Totals> = HashMap::new();
        for (id, m, v) in self
            .read_store()
            .eval_sums(object.counter_kind(), from, to)
            .await?
        {
            *by_object.entry(id).or_default().entry(m).or_insert(0) += v;
        }
        // Cases not yet due (`is_due`), left out of the closure and on-time denominators.
        let open = match object.counter_kind() {
            ObjectKind::Street | ObjectKind::Community | ObjectKind::Grid | ObjectKind::Segment => {
                Some((metric::TO_CLOSE, metric::CLOSED))
            }
            ObjectKind::Department => Some((metric::TO_HANDLE, metric::HANDLED)),
            ObjectKind::Person => None,
        };
        if let Some((m, done)) = open {
            let now = self.now();
            for (id, deadline) in self
                .read_store()
                .eval_open_cases(object.counter_kind(), m, done, from, to)
                .await?
            {
                if !is_due(false, deadline, now) {
                    *by_object
                        .entry(id)
                        .or_default()
                        .entry(metric::NOT_YET_DUE.to_owned())
                        .or_insert(0) += 1;
                }
            }
        }
        let patrols = if object == RankObject::RoadChief {
            self.patrol_days(period).await?
        } else {
            HashMap::new()
        };
        let mut out = Vec::with_capacity(subjects.len());
        for s in subjects {
            let mut t = Totals::new();
            for src in &s.sources {
                if let Some(o) = by_object.get(src) {
                    for (m, v) in o {
                        *t.entry(m.clone()).or_insert(0) += v;
                    }
                }
            }
            let figures: Option<PatrolFigures> = s.patrol_every_days.map(|every| {
                // A patrol counts for the chief only when it covered (or checked in on) one
                // of their segments; a no-GPS patrol never does (issue 21).
                let days: Vec<NaiveDate> = patrols
                    .get(&s.id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[])
                    .iter()
                    .filter(|(_, p)| p.counts_for(&s.sources))
                    .map(|(d, _)| *d)
                    .collect();
                patrol_figures(every, period.from, period.to, &days)
            });
            let ev = indicators(object, &t, figures, cfg);
            let score = composite(object, &ev, cfg);
            out.push(Scored {
                score,
                cases: ev.cases,
                indicators: ev.indicators,
            });
        }
        Ok(out)
    }

    /// Local days with a patrol, per road chief, in the period.
    async fn patrol_days(
        &self,
        period: Period,
    ) -> Result<HashMap<String, Vec<(NaiveDate, Patrol)>>, ServiceError> {
        let tz = self.calendar().tz();
        let start = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        let (Some(from), Some(to)) = (start(period.from), start(period.to + Duration::days(1)))
        else {
            return Ok(HashMap::new());
        };
        let mut out: HashMap<String, Vec<(NaiveDate, Patrol)>> = HashMap::new();
        for p in self.store.patrols(from, to).await? {
            let day = p.started_at.with_timezone(&tz).date_naive();
            out.entry(p.person_id.to_string())
                .or_default()
                .push((day, p));
        }
        Ok(out)
    }

    /// The stored unit-grid layer as shapes, parsed on first use and kept (the territory
    /// only changes through `cityloop territory import`, which the server is restarted for).
    async fn grid_shapes(&self) -> Result<Arc<Vec<GridShape>>, ServiceError> {
        let shapes = self
            .grid_shapes
            .get_or_try_init(|| async {
                let Some(text) = self.store.get_layer("grids").await? else {
                    return Ok::<_, ServiceError>(Arc::new(Vec::new()));
                };
                let layer: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    ServiceError::Internal(anyhow::anyhow!("stored grid layer: {e}"))
                })?;
                let features = layer["features"].as_array().cloned().unwrap_or_default();
                Ok(Arc::new(
                    features
                        .into_iter()
                        .filter_map(|f| {
                            let code = f["properties"]["code"].as_str()?.to_owned();
                            Some(GridShape {
                                schematic: f["properties"]["schematic"].as_bool().unwrap_or(false),
                                geometry: f.get("geometry")?.clone(),
                                code,
                            })
                        })
                        .collect(),
                ))
            })
            .await?;
        Ok(shapes.clone())
    }

    /// Cases registered in each unit grid (单元网格) in `period`, with the grids' shapes;
    /// grids without a case are left out.
    pub async fn grid_heat(&self, period: Period) -> Result<GridHeat, ServiceError> {
        let (from, to) = period.keys();
        let mut counts: HashMap<String, i64> = HashMap::new();
        for (id, m, v) in self
            .read_store()
            .eval_sums(ObjectKind::Grid, from, to)
            .await?
        {
            if m == cityloop_domain::evaluation::metric::REGISTERED {
                *counts.entry(id).or_default() += v;
            }
        }
        counts.retain(|_, n| *n > 0);
        let shapes = if counts.is_empty() {
            Arc::new(Vec::new())
        } else {
            self.grid_shapes().await?
        };
        let cells: Vec<(GridShape, i64)> = shapes
            .iter()
            .filter_map(|g| counts.get(&g.code).map(|n| (g.clone(), *n)))
            .collect();
        Ok(GridHeat {
            max: cells.iter().map(|(_, n)| *n).max().unwrap_or(0),
            cells,
        })
    }

    /// The league table of `object` for `period`, with change from the previous period.
    pub async fn ranking(
        &self,
        object: RankObject,
        period: Period,
    ) -> Result<Ranking, ServiceError> {
        let cfg = self.evaluation_config().await?;
        let mut subjects = self.subjects(object).await?;
        // Objects with figures but unknown to the reference data still appear.
        if !matches!(object, RankObject::RoadChief) && object.counter_kind() != ObjectKind::Person {
            let known: BTreeSet<String> = subjects.iter().map(|s| s.id.clone()).collect();
            let (from, to) = period.keys();
            let mut extra = BTreeSet::new();
            for (id, _, _) in self
                .read_store()
                .eval_sums(object.counter_kind(), from, to)
                .await?
            {
                if !known.contains(&id) {
                    extra.insert(id);
                }
            }
            subjects.extend(extra.into_iter().map(|id| Subject {
                name: id.clone(),
                sources: vec![id.clone()],
                id,
                patrol_every_days: None,
            }));
        }
        let now = self.score_period(object, &subjects, period, &cfg).await?;
        let before = self
            .score_period(object, &subjects, period.previous(), &cfg)
            .await?;
        let ranks = rank(&now.iter().map(|x| x.score).collect::<Vec<_>>());
        let prev_ranks = rank(&before.iter().map(|x| x.score).collect::<Vec<_>>());
        let mut rows: Vec<RankingRow> = subjects
            .into_iter()
            .zip(now)
            .zip(before)
            .zip(ranks.into_iter().zip(prev_ranks))
            .map(|(((s, now), prev), (r, pr))| RankingRow {
                rank: r,
                id: s.id,
                name: s.name,
                score: now.score.map(round2),
                grade: now.score.map(|v| cfg.grade(v)),
                indicators: now
                    .indicators
                    .into_iter()
                    .map(|mut i| {
                        i.value = i.value.map(round2);
                        i
                    })
                    .collect(),
                previous_rank: pr,
                previous_score: prev.score.map(round2),
                // Blank against a period without data (score None), never a jump from 0.
                score_change: now.score.zip(prev.score).map(|(a, b)| round2(a - b)),
                rank_change: r.zip(pr).map(|(a, b)| i64::from(b) - i64::from(a)),
                honour: None,
                cases: now.cases,
                no_data: now.cases == 0,
                previous_no_data: prev.cases == 0,
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.rank.is_none(), a.rank, &a.name).cmp(&(b.rank.is_none(), b.rank, &b.name))
        });
        let inputs: Vec<HonourInput> = rows
            .iter()
            .map(|r| HonourInput {
                rank: r.rank,
                cases: r.cases,
                grade: r.grade,
            })
            .collect();
        for (r, h) in rows.iter_mut().zip(honours(&inputs, &cfg)) {
            r.honour = h.map(|h| h.as_str());
        }
        let weights = cfg
            .weights
            .get(object.as_str())
            .cloned()
            .unwrap_or_default();
        let weights_verified = WEIGHTS_PROVENANCE
            .iter()
            .any(|(o, v)| *o == object.as_str() && *v == "V")
            && cfg == EvaluationConfig::default();
        Ok(Ranking {
            object,
            object_zh: object.zh(),
            previous: period.previous(),
            title_zh: format!(
                "{}{}综合评价排名（{} 至 {}）",
                self.district.name,
                object.zh(),
                period.from,
                period.to
            ),
            period,
            weights,
            weights_verified,
            honour_min_cases: cfg.honour_min_cases,
            rows,
        })
    }

    /// The cases behind one figure of one object, as far as they are in `actor`'s read
    /// scope (a handler sees only their unit's cases, a road chief their street's).
    pub async fn ranking_cases(
        &self,
        actor: &cityloop_domain::model::Actor,
        object: RankObject,
        id: &str,
        indicator: &str,
        period: Period,
    ) -> Result<Vec<DrillCase>, ServiceError> {
        let metric = drill_metric(object, indicator).ok_or_else(|| {
            ServiceError::invalid(
                "indicator",
                format!("{object} has no case-backed indicator {indicator:?}"),
            )
        })?;
        let subjects = self.subjects(object).await?;
        let sources = subjects
            .into_iter()
            .find(|s| s.id == id)
            .map(|s| s.sources)
            .unwrap_or_else(|| vec![id.to_owned()]);
        let (from, to) = period.keys();
        let hits = self
            .read_store()
            .eval_cases(
                object.counter_kind(),
                &sources,
                metric,
                from,
                to,
                MAX_DRILL_ROWS,
            )
            .await?;
        let filter = CaseFilter {
            ids: hits.iter().map(|(c, _, _)| *c).collect(),
            ..CaseFilter::default()
        };
        if filter.ids.is_empty() {
            return Ok(Vec::new());
        }
        let cases: HashMap<CaseId, cityloop_domain::case::Case> = self
            .list_cases(
                actor,
                filter,
                Page {
                    after: None,
                    limit: MAX_DRILL_ROWS,
                },
            )
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        Ok(hits
            .into_iter()
            .filter_map(|(cid, day, value)| {
                let c = cases.get(&cid)?;
                Some(DrillCase {
                    id: cid,
                    number: c.number.as_str().to_owned(),
                    state: c.state.as_str().to_owned(),
                    source: c.source.as_str().to_owned(),
                    category: c.category.code.clone(),
                    street_code: c.routing.street_code.clone(),
                    created_at: c.created_at,
                    day,
                    value,
                })
            })
            .collect())
    }

    /// Records a road chief's patrol (the caller must be a road chief).
    pub async fn record_patrol(
        &self,
        person: &cityloop_domain::model::Person,
        input: PatrolInput,
    ) -> Result<Patrol, ServiceError> {
        if person.role != Role::RoadChief {
            return Err(ServiceError::Forbidden(
                "only road chiefs (路长) record patrols".into(),
            ));
        }
        if input.ended_at < input.started_at {
            return Err(ServiceError::invalid("ended_at", "is before started_at"));
        }
        if input.ended_at - input.started_at > Duration::hours(MAX_PATROL_HOURS) {
            return Err(ServiceError::invalid(
                "ended_at",
                format!("a patrol lasts at most {MAX_PATROL_HOURS} hours"),
            ));
        }
        if input.ended_at > self.now() + Duration::minutes(5) {
            return Err(ServiceError::invalid("ended_at", "is in the future"));
        }
        if input.segments.is_empty() && input.points.is_empty() {
            return Err(ServiceError::invalid(
                "segments",
                "give the segments checked in on, or GPS points",
            ));
        }
        if input.segments.len() > MAX_PATROL_SEGMENTS {
            return Err(ServiceError::invalid(
                "segments",
                format!("at most {MAX_PATROL_SEGMENTS}"),
            ));
        }
        if input.points.len() > MAX_PATROL_POINTS {
            return Err(ServiceError::invalid(
                "points",
                format!("at most {MAX_PATROL_POINTS}"),
            ));
        }
        for (i, [lon, lat]) in input.points.iter().enumerate() {
            if !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0) {
                return Err(ServiceError::invalid(
                    format!("points[{i}]"),
                    "must be [lon, lat] in WGS84",
                ));
            }
        }
        if let Some(t) = &self.territory {
            let known: BTreeSet<&str> = t.segment_ids().iter().map(String::as_str).collect();
            if let Some((i, s)) = input
                .segments
                .iter()
                .enumerate()
                .find(|(_, s)| !known.contains(s.as_str()))
            {
                return Err(ServiceError::invalid(
                    format!("segments[{i}]"),
                    format!("unknown segment {s:?}"),
                ));
            }
        }
        if input
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > 2000)
        {
            return Err(ServiceError::invalid(
                "note",
                "is longer than 2000 characters",
            ));
        }
        let patrol = Patrol {
            id: uuid::Uuid::now_v7(),
            person_id: person.id,
            started_at: input.started_at,
            ended_at: input.ended_at,
            segments: input.segments,
            points: input.points,
            note: input.note,
            kind: cityloop_domain::evaluation::PatrolKind::CheckIn,
            no_gps_reason: None,
        };
        self.store.add_patrol(&patrol).await?;
        Ok(patrol)
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
