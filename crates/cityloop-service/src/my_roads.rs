//! 我的路段 (My roads, issue 21 item 1): the segments the signed-in road chief holds, each
//! with its open cases by light (overdue first), the patrol status of the most demanding
//! level they hold on it (`cityloop_domain::patrol::status`: done / due / overdue), and the
//! segment's chiefs at every level. A 总路长 holds the district's segments, a 一级 or 二级
//! road chief their street's: the answer is exactly their current assignments.
//!
//! Limits: the open cases come from one search of at most [`MAX_OPEN_CASES`] cases (the
//! search's own cap), most urgent deadline first; each segment lists at most
//! [`MAX_CASES_PER_SEGMENT`] of them (the counts by light cover every case read), and
//! `open_cases_truncated` says when the search was cut. A patrol counts for a segment when
//! its trail credited that segment; a no-GPS patrol credits none (it is counted apart in
//! `no_gps_patrols`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::evaluation::PatrolKind;
use cityloop_domain::ids::PersonId;
use cityloop_domain::model::{Actor, Person, RoadChiefLevel, Role};
use cityloop_domain::patrol::{self as clock, PatrolStatus};
use cityloop_domain::workflow::CaseState;
use serde::Serialize;

use crate::search::SearchRequest;
use crate::{ServiceError, Services};

/// Most open cases read for one answer (the search's page cap).
pub const MAX_OPEN_CASES: u32 = 200;
/// Most open cases listed under one segment.
pub const MAX_CASES_PER_SEGMENT: usize = 20;
/// How far back patrols are read: two of the longest windows (half a month) and a margin.
const PATROL_LOOKBACK_DAYS: i64 = 64;

/// One chief of a segment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentChief {
    /// `district`, `first`, `second`.
    pub level: String,
    pub level_zh: &'static str,
    pub person_id: PersonId,
    pub name: String,
    /// True for the signed-in person.
    pub me: bool,
}

/// The patrol status of a segment for the signed-in chief.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentPatrol {
    /// The level whose clock applies (the most demanding one held on the segment).
    pub level: String,
    /// `done`, `due`, `overdue` (never overdue for a window that ended before the chief
    /// took the segment).
    pub status: String,
    pub status_zh: &'static str,
    /// The current window (local days), when the level owes one now.
    pub window_from: Option<NaiveDate>,
    pub window_due: Option<NaiveDate>,
    /// When the chief's last patrol crediting this segment started.
    pub last_patrol_at: Option<DateTime<Utc>>,
}

/// Open cases of a segment by deadline light.
#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct LightCounts {
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
    /// Open cases without a running clock (waiting for acceptance, suspended …).
    pub no_clock: u32,
    pub total: u32,
}

/// One open case of a segment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentCase {
    pub id: String,
    pub number: String,
    pub state: CaseState,
    pub state_zh: &'static str,
    pub light: Option<Light>,
    pub deadline: Option<DateTime<Utc>>,
    pub description: String,
}

/// One of my segments.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyRoad {
    pub segment_id: String,
    pub road_name: String,
    pub street_code: Option<String>,
    pub street_name: Option<String>,
    /// The levels the signed-in chief holds on it.
    pub levels: Vec<String>,
    /// WGS84 `[lon, lat]` vertices (empty when the territory lacks the segment).
    #[schema(value_type = Vec<Vec<f64>>)]
    pub line: Vec<[f64; 2]>,
    /// Every current chief of the segment, 总路长 first.
    pub chiefs: Vec<SegmentChief>,
    pub patrol: SegmentPatrol,
    pub open: LightCounts,
    /// Open cases, red first, then by deadline.
    pub cases: Vec<SegmentCase>,
}

/// The answer of `GET /api/v1/me/roads`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyRoads {
    /// `district` for a 总路长, `street` otherwise (`none` without assignments).
    pub scope: String,
    /// The levels held, most senior first.
    pub levels: Vec<String>,
    /// Segments: overdue patrols and red cases first, then by road name.
    pub segments: Vec<MyRoad>,
    /// True when more open cases exist than one answer reads.
    pub open_cases_truncated: bool,
    /// The chief's no-GPS patrols in the lookback (they credit no segment).
    pub no_gps_patrols: u32,
}

fn level_rank(l: &str) -> u8 {
    match l {
        "district" => 0,
        "first" => 1,
        _ => 2,
    }
}

fn light_rank(l: Option<Light>) -> u8 {
    match l {
        Some(Light::Red) => 0,
        Some(Light::Yellow) => 1,
        Some(Light::Green) => 2,
        None => 3,
    }
}

impl Services {
    /// The signed-in road chief's segments (road chiefs only).
    pub async fn my_roads(&self, person: &Person, actor: &Actor) -> Result<MyRoads, ServiceError> {
        if person.role != Role::RoadChief {
            return Err(ServiceError::Forbidden(
                "only road chiefs (路长) have road segments".into(),
            ));
        }
        let all = self.store.road_chiefs(None).await?;
        let mut mine: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // When the chief took each segment (the earliest current assignment): a window
        // that ended before it was not theirs to meet.
        let mut since: HashMap<String, DateTime<Utc>> = HashMap::new();
        for a in all.iter().filter(|a| a.person_id == person.id) {
            mine.entry(a.segment_id.clone())
                .or_default()
                .push(a.level.clone());
            let e = since.entry(a.segment_id.clone()).or_insert(a.valid_from);
            *e = (*e).min(a.valid_from);
        }
        let people: HashMap<PersonId, Person> = self
            .store
            .list_people()
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let cal = self.calendar();
        let tz = cal.tz();
        let now = self.now();
        let today = now.with_timezone(&tz).date_naive();

        // My patrols: local days crediting each segment, and the last start.
        let mut days: HashMap<String, Vec<NaiveDate>> = HashMap::new();
        let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
        let mut no_gps = 0u32;
        let patrols = self
            .store
            .patrols(
                now - Duration::days(PATROL_LOOKBACK_DAYS),
                now + Duration::days(1),
            )
            .await?;
        for p in patrols.iter().filter(|p| p.person_id == person.id) {
            if p.kind == PatrolKind::NoGps {
                no_gps += 1;
                continue;
            }
            let day = p.started_at.with_timezone(&tz).date_naive();
            for s in &p.segments {
                if mine.contains_key(s.as_str()) {
                    days.entry(s.clone()).or_default().push(day);
                    let e = last.entry(s.clone()).or_insert(p.started_at);
                    *e = (*e).max(p.started_at);
                }
            }
        }

        // Open cases on my segments, in my read scope.
        let open_states: Vec<&str> = CaseState::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .map(|s| s.as_str())
            .collect();
        let req = SearchRequest {
            road_chief: Some(person.id.to_string()),
            sort: Some("deadline".into()),
            limit: Some(MAX_OPEN_CASES),
            ..Default::default()
        };
        let page = if mine.is_empty() {
            None
        } else {
            let mut search = self.search_of(actor, &req)?;
            search.states = open_states.iter().map(|s| (*s).to_owned()).collect();
            let mut page = self.store.search_cases(&search).await?;
            for c in &mut page.cases {
                self.shape_case(actor, c);
            }
            Some(page)
        };
        let truncated = page.as_ref().is_some_and(|p| p.next.is_some());
        let mut cases: HashMap<String, Vec<SegmentCase>> = HashMap::new();
        let mut counts: HashMap<String, LightCounts> = HashMap::new();
        for c in page.map(|p| p.cases).unwrap_or_default() {
            let Some(seg) = c.routing.segment_id.clone() else {
                continue;
            };
            let light = c.light(&cal, now);
            let n = counts.entry(seg.clone()).or_default();
            n.total += 1;
            match light {
                Some(Light::Red) => n.red += 1,
                Some(Light::Yellow) => n.yellow += 1,
                Some(Light::Green) => n.green += 1,
                None => n.no_clock += 1,
            }
            cases.entry(seg).or_default().push(SegmentCase {
                id: c.id.to_string(),
                number: c.number.to_string(),
                state: c.state,
                state_zh: c.state.zh(),
                light,
                deadline: c.deadline(&cal),
                description: c.description.chars().take(80).collect(),
            });
        }

        let mut held_levels: Vec<String> = Vec::new();
        let mut segments = Vec::with_capacity(mine.len());
        for (seg, mut levels) in mine {
            levels.sort_by_key(|l| level_rank(l));
            for l in &levels {
                if !held_levels.contains(l) {
                    held_levels.push(l.clone());
                }
            }
            let info = self.territory.as_ref().and_then(|t| t.segment(&seg));
            let street_code = info.and_then(|i| i.street_code.clone());
            let street_name = street_code.as_deref().and_then(|c| {
                self.territory
                    .as_ref()
                    .and_then(|t| t.street_name(c))
                    .map(str::to_owned)
            });
            let mut chiefs: Vec<SegmentChief> = all
                .iter()
                .filter(|a| a.segment_id == seg)
                .filter_map(|a| {
                    let level: RoadChiefLevel = a.level.parse().ok()?;
                    let p = people.get(&a.person_id)?;
                    Some(SegmentChief {
                        level: level.as_str().to_owned(),
                        level_zh: level.zh(),
                        person_id: p.id,
                        name: p.display_name.clone(),
                        me: p.id == person.id,
                    })
                })
                .collect();
            chiefs.sort_by_key(|c| level_rank(&c.level));
            // The most demanding level held decides the clock (二级 daily before 一级 weekly).
            let level = levels
                .iter()
                .filter_map(|l| l.parse::<RoadChiefLevel>().ok())
                .min_by_key(|l| l.patrol_every_days())
                .unwrap_or(RoadChiefLevel::Second);
            let my_days = days.get(seg.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let (mut status, window) = clock::status(level, &cal, today, my_days);
            if status == PatrolStatus::Overdue {
                let assigned = since.get(&seg).map(|t| t.with_timezone(&tz).date_naive());
                let previous_due = window.and_then(|w| {
                    (1..=PATROL_LOOKBACK_DAYS)
                        .map(|k| w.from - Duration::days(k))
                        .find_map(|d| clock::window_of(level, &cal, d))
                        .map(|p| p.due)
                });
                if let (Some(a), Some(due)) = (assigned, previous_due) {
                    if due < a {
                        status = PatrolStatus::Due;
                    }
                }
            }
            let mut list = cases.remove(&seg).unwrap_or_default();
            list.sort_by(|a, b| {
                light_rank(a.light)
                    .cmp(&light_rank(b.light))
                    .then(a.deadline.cmp(&b.deadline))
            });
            list.truncate(MAX_CASES_PER_SEGMENT);
            segments.push(MyRoad {
                road_name: info.map(|i| i.road_name.clone()).unwrap_or_default(),
                street_code,
                street_name,
                levels,
                line: info.map(|i| i.line.clone()).unwrap_or_default(),
                chiefs,
                patrol: SegmentPatrol {
                    level: level.as_str().to_owned(),
                    status: match status {
                        PatrolStatus::Done => "done",
                        PatrolStatus::Due => "due",
                        PatrolStatus::Overdue => "overdue",
                    }
                    .to_owned(),
                    status_zh: status.zh(),
                    window_from: window.map(|w| w.from),
                    window_due: window.map(|w| w.due),
                    last_patrol_at: last.get(seg.as_str()).copied(),
                },
                open: counts.remove(&seg).unwrap_or_default(),
                cases: list,
                segment_id: seg,
            });
        }
        segments.sort_by(|a, b| {
            let urgency = |r: &MyRoad| {
                (
                    match r.patrol.status.as_str() {
                        "overdue" => 0u8,
                        "due" => 1,
                        _ => 2,
                    },
                    std::cmp::Reverse(r.open.red),
                )
            };
            urgency(a)
                .cmp(&urgency(b))
                .then_with(|| a.road_name.cmp(&b.road_name))
                .then_with(|| a.segment_id.cmp(&b.segment_id))
        });
        held_levels.sort_by_key(|l| level_rank(l));
        let scope = match held_levels.first().map(String::as_str) {
            Some("district") => "district",
            Some(_) => "street",
            None => "none",
        };
        Ok(MyRoads {
            scope: scope.to_owned(),
            levels: held_levels,
            segments,
            open_cases_truncated: truncated,
            no_gps_patrols: no_gps,
        })
    }
}
