//! Performance evaluation (综合评价, urban-management-standard.md §6 and §7): what a case's
//! event history says about the regions, departments, road segments and staff it touched,
//! and how per-period totals become indicators, composite scores, grades and ranks.
//!
//! Two halves, both pure:
//! - [`CaseFacts::from_events`] folds one case's history into per-case facts (registered?
//!   closed on time? which department handled it, how long, how often reworked, who
//!   dispatched it and was that dispatch returned ...). [`CaseFacts::counters`] turns them
//!   into additive [`Counter`]s keyed by (local day, object, metric). The store keeps the
//!   sum of every case's counters per key up to date in the same transaction as each event
//!   (the difference between the counters before and after the event, [`diff`]), so a
//!   month's ranking is a sum over day buckets, never a scan of history.
//! - [`indicators`] turns one object's summed counters into the standard's indicators and
//!   a composite score with configurable weights ([`EvaluationConfig`]), [`Grade`]s A–E
//!   and [`rank`]s.
//!
//! Attribution (documented in docs/API-DESIGN.md): region and segment counters are dated at
//! the case's first registration (a cohort: of the cases registered in the period, how
//! many are closed, on time), department counters at the case's first dispatch to that
//! department, and staff counters at the day of the staff member's own action. "On time"
//! means the stage's working-time clock (limit plus approved extensions, suspensions not
//! counted) had not run out when the stage ended.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{StageClock, WorkCalendar};
use crate::case::{Event, EventKind};
use crate::model::{string_enum, Source};
use crate::workflow::{Action, CaseState, Satisfaction};

string_enum!(
    /// The kinds of object counters are kept for.
    ObjectKind {
        Street = "street",
        Community = "community",
        Grid = "grid",
        Segment = "segment",
        Department = "department",
        Person = "person",
    }
);

/// Metric names of the counters. Stable: they are stored.
pub mod metric {
    // Regions and segments (dated at first registration).
    pub const REGISTERED: &str = "registered";
    pub const PUBLIC: &str = "public";
    pub const TO_CLOSE: &str = "to_close";
    pub const CLOSED: &str = "closed";
    pub const CLOSED_ON_TIME: &str = "closed_on_time";
    pub const REWORK: &str = "rework";
    pub const SELF_FOUND: &str = "self_found";
    // Call-backs (回访), for regions, segments and the department that holds the case.
    /// Call-backs recorded (one per `callback` event, 未回访 included).
    pub const CALLBACKS: &str = "callbacks";
    /// Call-backs where the reporter answered.
    pub const CALLBACK_REACHED: &str = "callback_reached";
    /// Answers 满意 or 基本满意.
    pub const CALLBACK_SATISFIED: &str = "callback_satisfied";
    /// Answers 不满意: the case went back to handling as 重办.
    pub const REDO: &str = "redo";
    /// Recurrences ("still not fixed" within 30 days of closing): counted on the case that
    /// was closed — its department, street, community, grid and segment — on its closing
    /// day, by the new case's report.
    pub const RECURRED: &str = "recurred";
    // Departments (dated at first dispatch to the department).
    pub const DISPATCHED: &str = "dispatched";
    pub const RETURNED: &str = "returned";
    pub const TO_HANDLE: &str = "to_handle";
    pub const HANDLED: &str = "handled";
    pub const HANDLED_ON_TIME: &str = "handled_on_time";
    pub const OVERDUE: &str = "overdue";
    pub const HANDLE_SECS: &str = "handle_secs";
    /// Prefix of the handling-time histogram: `hbin:N` counts cases whose handling took
    /// more than N-1 and at most N hours (N = 0 for no time at all, capped at [`HBIN_MAX`]).
    pub const HBIN_PREFIX: &str = "hbin:";
    pub const HBIN_MAX: i64 = 100;
    // Co-handling (协办, crate::cohandle): an assisting unit's own parts, dated at the day
    // it was added; the lead unit's handling counters never see them.
    /// Assisting parts given to the unit, less those it returned or had released.
    pub const ASSISTS: &str = "assists";
    /// Assisting parts reported back to the lead.
    pub const ASSISTS_REPORTED: &str = "assists_reported";
    /// Reported back within the unit's own clock.
    pub const ASSISTS_ON_TIME: &str = "assists_on_time";
    /// Reported back after the unit's own clock ran out.
    pub const ASSISTS_OVERDUE: &str = "assists_overdue";
    /// Assisting parts the unit returned as not its own.
    pub const ASSISTS_RETURNED: &str = "assists_returned";
    // Staff (dated at the day of their action).
    pub const INSP_REPORTED: &str = "insp_reported";
    pub const INSP_VALID: &str = "insp_valid";
    pub const INSP_VERIFIED: &str = "insp_verified";
    pub const INSP_VERIFIED_ON_TIME: &str = "insp_verified_on_time";
    pub const INSP_CHECKED: &str = "insp_checked";
    pub const INSP_CHECKED_ON_TIME: &str = "insp_checked_on_time";
    pub const OP_ACCEPTED: &str = "op_accepted";
    pub const OP_ACCEPTED_ON_TIME: &str = "op_accepted_on_time";
    pub const OP_VERIFY_SENT: &str = "op_verify_sent";
    pub const OP_VERIFY_SENT_ON_TIME: &str = "op_verify_sent_on_time";
    pub const SUP_REGISTERED: &str = "sup_registered";
    pub const SUP_REGISTERED_ON_TIME: &str = "sup_registered_on_time";
    pub const SUP_REGISTERED_VOIDED: &str = "sup_registered_voided";
    pub const SUP_CLOSED: &str = "sup_closed";
    pub const SUP_CLOSED_ON_TIME: &str = "sup_closed_on_time";
    pub const DISP_DISPATCHED: &str = "disp_dispatched";
    pub const DISP_ON_TIME: &str = "disp_on_time";
    pub const DISP_RETURNED: &str = "disp_returned";
    /// 督办/催办 of a department (dated at the day of the 督办, charged to the unit holding
    /// the case then); shown as 被督办次数, not weighted in the composite.
    pub const SUPERVISED: &str = "supervised";
    // Read-time figures, never stored (they change with the clock, not with events).
    /// Of the object's `to_close` (regions, segments) or `to_handle` (departments) cases,
    /// those still open and not yet past their current deadline (or without a running
    /// clock): left out of the denominators of the on-time and closure/handling rates.
    pub const NOT_YET_DUE: &str = "not_yet_due";
}

/// A local calendar day as the integer `yyyymmdd` (how buckets are keyed).
pub fn day_key(cal: &WorkCalendar, at: DateTime<Utc>) -> i32 {
    let d = at.with_timezone(&cal.tz()).date_naive();
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

/// The key of one counter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CounterKey {
    pub day: i32,
    pub kind: ObjectKind,
    pub object_id: String,
    pub metric: String,
}

/// One additive counter contribution (or, from [`diff`], a change to one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub key: CounterKey,
    pub value: i64,
}

/// Sums contributions per key, dropping zeros.
pub fn sum_counters<'a>(items: impl IntoIterator<Item = &'a Counter>) -> BTreeMap<CounterKey, i64> {
    let mut m = BTreeMap::new();
    for c in items {
        *m.entry(c.key.clone()).or_insert(0) += c.value;
    }
    m.retain(|_, v| *v != 0);
    m
}

/// What changes in the buckets when a case's counters go from `old` to `new`.
pub fn diff(old: &[Counter], new: &[Counter]) -> Vec<Counter> {
    let mut m = sum_counters(new);
    for c in old {
        *m.entry(c.key.clone()).or_insert(0) -= c.value;
    }
    m.into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(key, value)| Counter { key, value })
        .collect()
}

/// One staff action that is timed and attributed to its actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAct {
    pub person: Option<String>,
    pub day: i32,
    pub on_time: bool,
}

/// A dispatch, charged to its dispatcher; `returned` when the department sent it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchAct {
    pub person: Option<String>,
    pub day: i32,
    pub on_time: bool,
    pub department: String,
    pub returned: bool,
}

/// A department's part in one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptPart {
    /// Day of the first dispatch to this department.
    pub day: i32,
    pub dispatched: i64,
    pub returned: i64,
    /// The department's last episode was not ended by a return: the case is its to handle.
    pub holds: bool,
    /// Report-backs by the department (one per handling round).
    pub rounds: i64,
    /// Every round ended within its clock.
    pub all_on_time: bool,
    /// Failed checks after its report-backs.
    pub rework: i64,
    /// Working time of its rounds (clock mode for clock-time limits), suspensions excluded.
    pub handle_secs: i64,
    /// Call-backs on its handling.
    pub callbacks: CallbackTally,
    /// Days (local `yyyymmdd`) of the 督办 it received while holding the case.
    #[serde(default)]
    pub supervised: Vec<i32>,
}

/// What the call-backs (回访) of a case said; additive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackTally {
    /// `callback` events.
    pub recorded: i64,
    /// The reporter answered.
    pub reached: i64,
    /// 满意 or 基本满意.
    pub satisfied: i64,
    /// 不满意 (重办).
    pub redo: i64,
}

impl CallbackTally {
    fn add(&mut self, s: Satisfaction) {
        self.recorded += 1;
        self.reached += i64::from(s.answered());
        self.satisfied += i64::from(matches!(
            s,
            Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
        ));
        self.redo += i64::from(s == Satisfaction::Unsatisfied);
    }
}

/// Everything evaluation needs to know about one case, derived from its history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseFacts {
    pub source: Option<Source>,
    pub state: Option<CaseState>,
    pub street: Option<String>,
    pub community: Option<String>,
    pub grid: Option<String>,
    pub segment: Option<String>,
    pub report_day: i32,
    /// Who reported it, when a staff member did.
    pub reported_by: Option<String>,
    /// Day of the first registration (立案), if registered.
    pub registered_day: Option<i32>,
    pub voided: bool,
    pub closed: bool,
    /// Closed, and every handling round ended within its clock.
    pub closed_on_time: bool,
    /// Failed checks (返工), one per `check_fail` event, and unsatisfied call-backs (重办).
    pub rework: i64,
    /// The case's call-backs (回访).
    pub callbacks: CallbackTally,
    /// The closed case this one follows up, with its closing day.
    pub follows: Option<(Option<String>, i32)>,
    pub accepts: Vec<(StaffAct, bool)>,
    pub verifies: Vec<StaffAct>,
    pub registers: Vec<StaffAct>,
    pub dispatches: Vec<DispatchAct>,
    pub checks: Vec<StaffAct>,
    pub closes: Vec<StaffAct>,
    pub departments: BTreeMap<String, DeptPart>,
    /// Each assisting unit's own parts (协办, crate::cohandle), by unit.
    #[serde(default)]
    pub assists: BTreeMap<String, AssistPart>,
}

/// One unit's assisting parts on a case (协办): counted for that unit alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistPart {
    /// Day (local `yyyymmdd`) the unit was first added as assisting.
    pub day: i32,
    /// Parts it was given and did not return nor had released (the denominator).
    pub parts: i64,
    /// Parts it reported back.
    pub reported: i64,
    /// Parts it reported back within its own clock.
    pub on_time: i64,
    /// Parts it returned as not its own.
    pub returned: i64,
}

/// Whether the stage timed by `clock` was within its allowed time at `at`. A stage with no
/// clock (never the case for a live stage) counts as on time.
fn within(clock: Option<&StageClock>, cal: &WorkCalendar, at: DateTime<Utc>) -> bool {
    clock.is_none_or(|c| c.elapsed(cal, at) <= c.allowed())
}

/// Public-sourced (not found by the district's own staff): counted in 监督举报率 and as
/// public complaints on a segment.
pub fn is_public_source(s: Source) -> bool {
    matches!(
        s,
        Source::Public | Source::Hotline12345 | Source::Media | Source::Petition
    )
}

impl CaseFacts {
    /// Folds a case's history (event 1 the report). An empty or malformed history gives
    /// empty facts (the fold of the case itself reports such histories as errors).
    pub fn from_events(events: &[Event], cal: &WorkCalendar) -> CaseFacts {
        let mut f = CaseFacts::default();
        let Some((first, rest)) = events.split_first() else {
            return f;
        };
        let Some(report) = first.report.as_deref() else {
            return f;
        };
        // Pre-system records count only where the district asked for them (FixMyStreet
        // users objected to league tables inflated by imported history).
        if report.imported.as_ref().is_some_and(|m| !m.ranked) {
            return f;
        }
        let person = |e: &Event| e.actor.person_id.map(|p| p.to_string());
        let r = &report.case.routing;
        f.source = Some(report.case.source);
        f.state = Some(first.to_state);
        f.street = r.street_code.clone();
        f.community = r.community_code.clone();
        f.grid = r.grid_code.clone();
        f.segment = r.segment_id.clone();
        f.report_day = day_key(cal, first.at);
        f.follows = report
            .case
            .follows
            .as_ref()
            .map(|u| (u.unit_id.map(|u| u.to_string()), day_key(cal, u.closed_at)));
        f.reported_by = person(first);
        let mut current: Option<String> = None;
        let mut all_rounds_on_time = true;
        let mut prev = first;
        for ev in rest {
            let clock = prev.clock_after.as_ref();
            let on_time = within(clock, cal, ev.at);
            let act = StaffAct {
                person: person(ev),
                day: day_key(cal, ev.at),
                on_time,
            };
            if let EventKind::Act(action) = ev.kind {
                match action {
                    Action::Accept => {
                        let to_verify = ev.to_state == CaseState::ToVerify;
                        f.accepts.push((act, to_verify));
                    }
                    Action::Confirm => f.verifies.push(act),
                    Action::Register => {
                        f.registered_day.get_or_insert(act.day);
                        f.registers.push(act);
                    }
                    Action::Void | Action::Merge => f.voided = true,
                    // 核实不属实: the verification was done (on time or not) and the case ends
                    // as voided; it was never registered, so no region counts it.
                    Action::NotTrue => {
                        f.verifies.push(act);
                        f.voided = true;
                    }
                    Action::Redispatch => {
                        // 改派 is a 返派: charged to the dispatcher of the dispatch it
                        // replaces (准确派遣率 = (应派遣 − 退回/返派)/应派遣, standard §6). The
                        // first unit's part ends (it no longer holds the case; it did not
                        // return it) and the new unit's starts with its own clock.
                        if let Some(d) = f.dispatches.last_mut() {
                            d.returned = true;
                        }
                        if let Some(part) = current.take().and_then(|u| f.departments.get_mut(&u)) {
                            part.holds = false;
                        }
                        if let Some(unit) = ev.unit_id.map(|u| u.to_string()) {
                            let part = f.departments.entry(unit.clone()).or_insert(DeptPart {
                                day: act.day,
                                all_on_time: true,
                                ..DeptPart::default()
                            });
                            part.dispatched += 1;
                            part.holds = true;
                            f.dispatches.push(DispatchAct {
                                person: act.person,
                                day: act.day,
                                on_time: true,
                                department: unit.clone(),
                                returned: false,
                            });
                            current = Some(unit);
                        }
                    }
                    Action::Supervise => {
                        let unit = ev.unit_id.map(|u| u.to_string()).or(current.clone());
                        if let Some(part) = unit.and_then(|u| f.departments.get_mut(&u)) {
                            part.supervised.push(act.day);
                        }
                    }
                    Action::Dispatch => {
                        if let Some(unit) = ev.unit_id.map(|u| u.to_string()) {
                            let part = f.departments.entry(unit.clone()).or_insert(DeptPart {
                                day: act.day,
                                all_on_time: true,
                                ..DeptPart::default()
                            });
                            part.dispatched += 1;
                            part.holds = true;
                            f.dispatches.push(DispatchAct {
                                person: act.person,
                                day: act.day,
                                on_time,
                                department: unit.clone(),
                                returned: false,
                            });
                            current = Some(unit);
                        }
                    }
                    Action::Return => {
                        // Charged to whoever made the dispatch being returned.
                        if let Some(d) = f.dispatches.last_mut() {
                            d.returned = true;
                        }
                        if let Some(part) = current.take().and_then(|u| f.departments.get_mut(&u)) {
                            part.returned += 1;
                            part.holds = false;
                        }
                    }
                    Action::ReportBack => {
                        all_rounds_on_time &= on_time;
                        let secs = clock.map_or(0, |c| c.elapsed(cal, ev.at).num_seconds());
                        if let Some(part) = current.as_ref().and_then(|u| f.departments.get_mut(u))
                        {
                            part.rounds += 1;
                            part.all_on_time &= on_time;
                            part.handle_secs += secs;
                        }
                    }
                    Action::CheckPass | Action::CheckFail => {
                        f.checks.push(act);
                        if action == Action::CheckFail {
                            f.rework += 1;
                            if let Some(part) =
                                current.as_ref().and_then(|u| f.departments.get_mut(u))
                            {
                                part.rework += 1;
                            }
                        }
                    }
                    Action::Callback => {
                        let s = ev.satisfaction.unwrap_or(Satisfaction::Unreached);
                        f.callbacks.add(s);
                        // 重办 counts as rework of the unit that handled it.
                        let redo = s == Satisfaction::Unsatisfied;
                        f.rework += i64::from(redo);
                        if let Some(part) = current.as_ref().and_then(|u| f.departments.get_mut(u))
                        {
                            part.callbacks.add(s);
                            part.rework += i64::from(redo);
                        }
                    }
                    Action::Close => {
                        f.closed = true;
                        f.closed_on_time = all_rounds_on_time;
                        f.closes.push(act);
                    }
                    Action::AssistAdd
                    | Action::AssistReport
                    | Action::AssistReturn
                    | Action::AssistRelease => {
                        if let (Some(unit), Some(after)) = (ev.unit_id, &ev.assists_after) {
                            // The part this event touched: the unit's latest in the list.
                            let part = after.iter().rev().find(|a| a.unit_id == unit);
                            let key = unit.to_string();
                            let p = f.assists.entry(key).or_insert(AssistPart {
                                day: act.day,
                                ..AssistPart::default()
                            });
                            match (action, part) {
                                (Action::AssistAdd, _) => p.parts += 1,
                                (Action::AssistReport, Some(a)) => {
                                    p.reported += 1;
                                    p.on_time += i64::from(a.on_time == Some(true));
                                }
                                (Action::AssistReturn, _) => {
                                    p.parts -= 1;
                                    p.returned += 1;
                                }
                                (Action::AssistRelease, _) => p.parts -= 1,
                                _ => {}
                            }
                        }
                    }
                    Action::AssistExtend
                    | Action::RollBack
                    | Action::RequestExtension
                    | Action::ApproveExtension
                    | Action::RefuseExtension
                    | Action::Suspend
                    | Action::Resume => {}
                }
            }
            f.state = Some(ev.to_state);
            prev = ev;
        }
        f
    }

    /// Registered and not suspended now (挂账 cases are excluded from 立案数).
    pub fn counts_as_registered(&self) -> bool {
        self.registered_day.is_some() && self.state != Some(CaseState::Suspended)
    }

    /// The case's additive contributions to the buckets.
    pub fn counters(&self) -> Vec<Counter> {
        use metric::*;
        let mut out = Vec::new();
        let mut push = |day: i32, kind: ObjectKind, id: &str, m: &str, value: i64| {
            if value != 0 {
                out.push(Counter {
                    key: CounterKey {
                        day,
                        kind,
                        object_id: id.to_owned(),
                        metric: m.to_owned(),
                    },
                    value,
                });
            }
        };
        if let (true, Some(day)) = (self.counts_as_registered(), self.registered_day) {
            let public = self.source.is_some_and(is_public_source);
            let self_found = self.source == Some(Source::RoadChief);
            let regions = [
                (ObjectKind::Street, &self.street),
                (ObjectKind::Community, &self.community),
                (ObjectKind::Grid, &self.grid),
                (ObjectKind::Segment, &self.segment),
            ];
            for (kind, id) in regions {
                let Some(id) = id.as_deref() else { continue };
                push(day, kind, id, REGISTERED, 1);
                push(day, kind, id, PUBLIC, i64::from(public));
                push(day, kind, id, TO_CLOSE, i64::from(!self.voided));
                push(day, kind, id, CLOSED, i64::from(self.closed));
                push(
                    day,
                    kind,
                    id,
                    CLOSED_ON_TIME,
                    i64::from(self.closed_on_time),
                );
                push(day, kind, id, REWORK, self.rework);
                push(day, kind, id, SELF_FOUND, i64::from(self_found));
                push_callbacks(&mut push, day, kind, id, self.callbacks);
            }
        }
        // A recurrence counts against the first closure, whatever becomes of the new case.
        if let Some((unit, day)) = &self.follows {
            let regions = [
                (ObjectKind::Street, &self.street),
                (ObjectKind::Community, &self.community),
                (ObjectKind::Grid, &self.grid),
                (ObjectKind::Segment, &self.segment),
                (ObjectKind::Department, unit),
            ];
            for (kind, id) in regions {
                if let Some(id) = id.as_deref() {
                    push(*day, kind, id, RECURRED, 1);
                }
            }
        }
        for (unit, p) in &self.departments {
            let k = ObjectKind::Department;
            push(p.day, k, unit, DISPATCHED, p.dispatched);
            push(p.day, k, unit, RETURNED, p.returned);
            for day in &p.supervised {
                push(*day, k, unit, SUPERVISED, 1);
            }
            if !p.holds {
                continue;
            }
            push(p.day, k, unit, TO_HANDLE, 1);
            if p.rounds > 0 {
                push(p.day, k, unit, HANDLED, 1);
                push(p.day, k, unit, HANDLED_ON_TIME, i64::from(p.all_on_time));
                push(p.day, k, unit, OVERDUE, i64::from(!p.all_on_time));
                push(p.day, k, unit, REWORK, p.rework);
                push(p.day, k, unit, HANDLE_SECS, p.handle_secs);
                let bin = hours_bin(p.handle_secs);
                push(p.day, k, unit, &format!("{HBIN_PREFIX}{bin}"), 1);
            }
            push_callbacks(&mut push, p.day, k, unit, p.callbacks);
        }
        for (unit, p) in &self.assists {
            let k = ObjectKind::Department;
            push(p.day, k, unit, ASSISTS, p.parts);
            push(p.day, k, unit, ASSISTS_REPORTED, p.reported);
            push(p.day, k, unit, ASSISTS_ON_TIME, p.on_time);
            push(p.day, k, unit, ASSISTS_OVERDUE, p.reported - p.on_time);
            push(p.day, k, unit, ASSISTS_RETURNED, p.returned);
        }
        let k = ObjectKind::Person;
        if let (Some(Source::Inspector), Some(p)) = (self.source, &self.reported_by) {
            push(self.report_day, k, p, INSP_REPORTED, 1);
            let valid = self.registered_day.is_some() && !self.voided;
            push(self.report_day, k, p, INSP_VALID, i64::from(valid));
        }
        let mut staff = |acts: &[StaffAct], done: &str, on_time: &str| {
            for a in acts {
                if let Some(p) = &a.person {
                    push(a.day, k, p, done, 1);
                    push(a.day, k, p, on_time, i64::from(a.on_time));
                }
            }
        };
        staff(&self.verifies, INSP_VERIFIED, INSP_VERIFIED_ON_TIME);
        staff(&self.checks, INSP_CHECKED, INSP_CHECKED_ON_TIME);
        staff(&self.registers, SUP_REGISTERED, SUP_REGISTERED_ON_TIME);
        staff(&self.closes, SUP_CLOSED, SUP_CLOSED_ON_TIME);
        let accepts: Vec<StaffAct> = self.accepts.iter().map(|(a, _)| a.clone()).collect();
        staff(&accepts, OP_ACCEPTED, OP_ACCEPTED_ON_TIME);
        let sent: Vec<StaffAct> = self
            .accepts
            .iter()
            .filter(|(_, to_verify)| *to_verify)
            .map(|(a, _)| a.clone())
            .collect();
        staff(&sent, OP_VERIFY_SENT, OP_VERIFY_SENT_ON_TIME);
        if self.voided {
            for a in &self.registers {
                if let Some(p) = &a.person {
                    push(a.day, k, p, SUP_REGISTERED_VOIDED, 1);
                }
            }
        }
        for d in &self.dispatches {
            if let Some(p) = &d.person {
                push(d.day, k, p, DISP_DISPATCHED, 1);
                push(d.day, k, p, DISP_ON_TIME, i64::from(d.on_time));
                push(d.day, k, p, DISP_RETURNED, i64::from(d.returned));
            }
        }
        out
    }
}

fn push_callbacks(
    push: &mut impl FnMut(i32, ObjectKind, &str, &str, i64),
    day: i32,
    kind: ObjectKind,
    id: &str,
    t: CallbackTally,
) {
    use metric::*;
    push(day, kind, id, CALLBACKS, t.recorded);
    push(day, kind, id, CALLBACK_REACHED, t.reached);
    push(day, kind, id, CALLBACK_SATISFIED, t.satisfied);
    push(day, kind, id, REDO, t.redo);
}

/// The call-back indicators (12345 practice's 回访率, 满意率, 重办率; urban-management-
/// standard.md §6 [U]) and the recurrences after closing: shown beside the standard's,
/// not weighted in the composite.
fn callback_indicators(t: &Totals) -> [Indicator; 5] {
    use metric::*;
    let recorded = get(t, CALLBACKS);
    let reached = get(t, CALLBACK_REACHED);
    [
        count("callbacks", "回访数", recorded),
        rate("callback_rate", "回访率", pct(reached, recorded)),
        rate(
            "satisfaction_rate",
            "满意率",
            pct(get(t, CALLBACK_SATISFIED), reached),
        ),
        rate("redo_rate", "重办率", pct(get(t, REDO), recorded)),
        count("recurred", "复发数(办结后仍未解决)", get(t, RECURRED)),
    ]
}

/// The histogram bin of a handling time: whole hours rounded up, capped.
pub fn hours_bin(secs: i64) -> i64 {
    let h = (secs.max(0) + 3599) / 3600;
    h.min(metric::HBIN_MAX)
}

/// The counters of a whole history (what the buckets must equal).
pub fn counters_of(events: &[Event], cal: &WorkCalendar) -> Vec<Counter> {
    CaseFacts::from_events(events, cal).counters()
}

/// A road chief's patrol (路长巡查): when, and which segments were checked in on or which
/// GPS points were recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patrol {
    pub id: uuid::Uuid,
    pub person_id: crate::ids::PersonId,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Segment ids checked in on.
    pub segments: Vec<String>,
    /// GPS track points `[lon, lat]` in WGS84.
    pub points: Vec<[f64; 2]>,
    pub note: Option<String>,
    /// How it was recorded; a no-GPS patrol counts separately, never for a segment.
    #[serde(default)]
    pub kind: PatrolKind,
    /// Why there is no trail (a no-GPS patrol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_gps_reason: Option<String>,
}

/// How a patrol was recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatrolKind {
    /// `POST /api/v1/patrols`: segments checked in on (and points, matched at record time).
    #[default]
    CheckIn,
    /// Started and ended on the phone; `segments` are the ones its trail covered.
    Trail,
    /// No trail (no GPS), with a reason: counted separately.
    NoGps,
}

impl Patrol {
    /// Whether the patrol counts for a road chief holding `segments`: not a no-GPS patrol,
    /// and it covered (or checked in on) one of them.
    pub fn counts_for(&self, segments: &[String]) -> bool {
        self.kind != PatrolKind::NoGps && self.segments.iter().any(|s| segments.contains(s))
    }
}

/// Patrol compliance over the local days `from..=to`: the range is cut into windows of
/// the level's frequency (1 day for 二级, 7 for 一级, 15 for 总路长, standard §7) counted
/// from `from`; a window is met when a patrol started in it. `done` counts met windows.
pub fn patrol_figures(
    every_days: u32,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    patrol_days: &[chrono::NaiveDate],
) -> PatrolFigures {
    let every = i64::from(every_days.max(1));
    let days = (to - from).num_days() + 1;
    if days <= 0 {
        return PatrolFigures::default();
    }
    let required = (days + every - 1) / every;
    let mut met = std::collections::BTreeSet::new();
    for d in patrol_days {
        let off = (*d - from).num_days();
        if (0..days).contains(&off) {
            met.insert(off / every);
        }
    }
    PatrolFigures {
        required,
        done: met.len() as i64,
    }
}

// ---------------------------------------------------------------------------------------
// Indicators, scores, grades, ranks.

string_enum!(
    /// What a ranking ranks (the `object` query parameter).
    RankObject {
        Street = "street",
        Community = "community",
        Grid = "grid",
        Department = "department",
        RoadChief = "road_chief",
        Segment = "segment",
        Inspector = "inspector",
        Operator = "operator",
        Supervisor = "supervisor",
        Dispatcher = "dispatcher",
    }
);

impl RankObject {
    pub fn zh(self) -> &'static str {
        match self {
            RankObject::Street => "街道",
            RankObject::Community => "社区",
            RankObject::Grid => "单元网格",
            RankObject::Department => "专业部门",
            RankObject::RoadChief => "路长",
            RankObject::Segment => "路段",
            RankObject::Inspector => "监督员",
            RankObject::Operator => "受理员",
            RankObject::Supervisor => "值班长",
            RankObject::Dispatcher => "派遣员",
        }
    }

    /// The kind of counter object the ranking reads.
    pub fn counter_kind(self) -> ObjectKind {
        match self {
            RankObject::Street => ObjectKind::Street,
            RankObject::Community => ObjectKind::Community,
            RankObject::Grid => ObjectKind::Grid,
            RankObject::Department => ObjectKind::Department,
            RankObject::RoadChief | RankObject::Segment => ObjectKind::Segment,
            RankObject::Inspector
            | RankObject::Operator
            | RankObject::Supervisor
            | RankObject::Dispatcher => ObjectKind::Person,
        }
    }
}

/// Unit of an indicator's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorUnit {
    Count,
    /// 0–100.
    Percent,
    Hours,
}

/// One indicator of one object. `value` is None when it cannot be computed (no
/// denominator, or no data source for it yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    pub key: &'static str,
    pub name_zh: &'static str,
    pub unit: IndicatorUnit,
    pub value: Option<f64>,
}

/// Patrol figures of a road chief in a period (from the patrol records).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PatrolFigures {
    pub required: i64,
    pub done: i64,
}

/// A count-to-score band table: the first `(min, score)` with `count >= min` wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bands(pub Vec<(i64, f64)>);

impl Bands {
    pub fn score(&self, n: i64) -> f64 {
        self.0
            .iter()
            .find(|(min, _)| n >= *min)
            .map_or(0.0, |(_, s)| *s)
    }
}

/// A composite score's weights, per component key, in percent.
pub type Weights = BTreeMap<String, f64>;

/// District configuration of the evaluation (stored as the `evaluation` setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationConfig {
    /// Weights per ranking object (`street`, `department`, ...) and component.
    pub weights: BTreeMap<String, Weights>,
    /// 受理数 score bands (standard §6).
    pub accept_bands: Bands,
    /// 派遣数 and region 立案数 score bands. [U] the standard names these banded scores
    /// without the bands we could read; the 受理数 bands are the default.
    pub count_bands: Bands,
    /// Minimum scores of grades A, B, C, D (below D's is E).
    pub grades: [f64; 4],
    /// Cases an object needs in the period to be put on the 红榜 or 黑榜 ([`honours`]).
    /// [U] invented default ([`DEFAULT_HONOUR_MIN_CASES`]): the standard names no minimum;
    /// a district sets its own in the `evaluation` setting.
    #[serde(default = "default_honour_min_cases")]
    pub honour_min_cases: i64,
}

/// Default of [`EvaluationConfig::honour_min_cases`]. [U] invented, not from the
/// standard: five cases, so that one or two lucky or unlucky cases cannot put an object
/// at either end of the honours.
pub const DEFAULT_HONOUR_MIN_CASES: i64 = 5;

fn default_honour_min_cases() -> i64 {
    DEFAULT_HONOUR_MIN_CASES
}

/// Which default weights the standard's text confirms ([V]) and which are ours ([U]).
pub const WEIGHTS_PROVENANCE: &[(&str, &str)] = &[
    ("inspector", "V"),
    ("operator", "V"),
    ("supervisor", "V"),
    ("dispatcher", "V"),
    ("street", "U"),
    ("community", "U"),
    ("grid", "U"),
    ("segment", "U"),
    ("department", "U"),
    ("road_chief", "U"),
];

fn weights(items: &[(&str, f64)]) -> Weights {
    items.iter().map(|(k, w)| ((*k).to_owned(), *w)).collect()
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        let region = weights(&[
            ("public_rate", 10.0),
            ("registered", 20.0),
            ("closure_rate", 30.0),
            ("on_time_closure_rate", 40.0),
        ]);
        let mut w = BTreeMap::new();
        for o in ["street", "community", "grid", "segment"] {
            w.insert(o.to_owned(), region.clone());
        }
        w.insert(
            "department".into(),
            weights(&[
                ("handling_rate", 30.0),
                ("on_time_handling_rate", 50.0),
                ("rework_rate", 20.0),
            ]),
        );
        w.insert(
            "road_chief".into(),
            weights(&[
                ("patrol_rate", 30.0),
                ("closure_rate", 20.0),
                ("on_time_closure_rate", 30.0),
                ("missed_rate", 20.0),
            ]),
        );
        w.insert(
            "inspector".into(),
            weights(&[
                ("valid_rate", 40.0),
                ("missed_rate", 20.0),
                ("on_time_verify_rate", 20.0),
                ("on_time_check_rate", 20.0),
            ]),
        );
        w.insert(
            "operator".into(),
            weights(&[
                ("accepted", 25.0),
                ("verify_sent_on_time_rate", 40.0),
                ("check_sent_on_time_rate", 35.0),
            ]),
        );
        w.insert(
            "supervisor".into(),
            weights(&[
                ("on_time_register_rate", 25.0),
                ("accurate_register_rate", 40.0),
                ("on_time_close_rate", 35.0),
            ]),
        );
        w.insert(
            "dispatcher".into(),
            weights(&[
                ("dispatched", 20.0),
                ("on_time_dispatch_rate", 40.0),
                ("accurate_dispatch_rate", 40.0),
            ]),
        );
        let accept = Bands(vec![
            (2001, 100.0),
            (1201, 90.0),
            (501, 75.0),
            (301, 60.0),
            (101, 40.0),
        ]);
        EvaluationConfig {
            weights: w,
            count_bands: accept.clone(),
            accept_bands: accept,
            grades: [90.0, 75.0, 60.0, 40.0],
            honour_min_cases: DEFAULT_HONOUR_MIN_CASES,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl EvaluationConfig {
    /// Weights must be finite and non-negative; grade thresholds descending.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (object, ws) in &self.weights {
            if object.parse::<RankObject>().is_err() {
                return Err(ConfigError {
                    field: format!("weights.{object}"),
                    problem: "is not a ranking object".into(),
                });
            }
            for (k, w) in ws {
                if !w.is_finite() || *w < 0.0 {
                    return Err(ConfigError {
                        field: format!("weights.{object}.{k}"),
                        problem: "must be a non-negative number".into(),
                    });
                }
            }
        }
        if !(0..=1_000_000).contains(&self.honour_min_cases) {
            return Err(ConfigError {
                field: "honour_min_cases".into(),
                problem: "must be a whole number from 0 to 1000000".into(),
            });
        }
        if !self.grades.windows(2).all(|p| p[0] >= p[1]) {
            return Err(ConfigError {
                field: "grades".into(),
                problem: "must be descending (A, B, C, D minimums)".into(),
            });
        }
        Ok(())
    }

    pub fn grade(&self, score: f64) -> Grade {
        let [a, b, c, d] = self.grades;
        if score >= a {
            Grade::A
        } else if score >= b {
            Grade::B
        } else if score >= c {
            Grade::C
        } else if score >= d {
            Grade::D
        } else {
            Grade::E
        }
    }
}

string_enum!(
    /// Grades (standard §6): A ≥ 90, B 75–89, C 60–74, D 40–59, E < 40.
    Grade {
        A = "A",
        B = "B",
        C = "C",
        D = "D",
        E = "E",
    }
);

/// Summed counters of one object over a period, by metric.
pub type Totals = BTreeMap<String, i64>;

fn get(t: &Totals, m: &str) -> i64 {
    t.get(m).copied().unwrap_or(0)
}

/// `num / den` in percent, None without a denominator.
pub fn pct(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 * 100.0 / den as f64)
}

/// The p-th percentile (nearest rank) of the handling-time histogram, in whole hours
/// (the upper edge of the bin it falls in).
pub fn histogram_percentile(t: &Totals, p: f64) -> Option<f64> {
    let mut bins: Vec<(i64, i64)> = t
        .iter()
        .filter_map(|(k, v)| {
            let b = k.strip_prefix(metric::HBIN_PREFIX)?.parse::<i64>().ok()?;
            Some((b, *v))
        })
        .collect();
    bins.sort_unstable();
    let n: i64 = bins.iter().map(|(_, v)| v).sum();
    if n <= 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as i64).clamp(1, n);
    let mut seen = 0;
    for (b, v) in bins {
        seen += v;
        if seen >= rank {
            return Some(b as f64);
        }
    }
    None
}

/// Indicators of one object and the components of its composite score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub indicators: Vec<Indicator>,
    /// (component key, its 0–100 score) — None when unavailable.
    pub components: Vec<(&'static str, Option<f64>)>,
    /// How many cases the object had in the period ([`case_count`]); 0 is 无数据: no
    /// score, no rank.
    pub cases: i64,
}

/// The cases an object had in the period, by what it is ranked on: regions, segments and
/// road chiefs the cases registered there, departments the cases dispatched to them,
/// inspectors the cases they reported, verified or checked, operators those they
/// accepted, supervisors those they registered or closed, dispatchers those they
/// dispatched.
pub fn case_count(object: RankObject, t: &Totals) -> i64 {
    use metric::*;
    match object {
        RankObject::Street
        | RankObject::Community
        | RankObject::Grid
        | RankObject::Segment
        | RankObject::RoadChief => get(t, REGISTERED),
        RankObject::Department => get(t, DISPATCHED),
        RankObject::Inspector => {
            get(t, INSP_REPORTED) + get(t, INSP_VERIFIED) + get(t, INSP_CHECKED)
        }
        RankObject::Operator => get(t, OP_ACCEPTED),
        RankObject::Supervisor => get(t, SUP_REGISTERED) + get(t, SUP_CLOSED),
        RankObject::Dispatcher => get(t, DISP_DISPATCHED),
    }
}

/// Whether a case counts against the closure and on-time rates of the objects it is
/// charged to (their 应结案数 / 应处置数). The rule:
/// - a case that is done for the object (closed, for regions, segments and road chiefs;
///   reported back at least once, for the department holding it) counts;
/// - a case still open counts once its current deadline (the deadline of the stage it is
///   in, working-time, with approved extensions) has passed at `now`, including exactly
///   at the deadline;
/// - a case still open before its deadline, or with no running clock (挂账 suspended,
///   or a stage without a limit), is *not yet due* and is left out of the denominator:
///   it cannot have been late yet. It counts again as soon as it is closed or overdue.
pub fn is_due(done: bool, deadline: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    done || deadline.is_some_and(|d| d <= now)
}

/// The denominator of closure and on-time rates: the cases that are due, i.e. `total`
/// minus those not yet due (never below the cases already done).
fn due(t: &Totals, total: i64, done: i64) -> i64 {
    (total - get(t, metric::NOT_YET_DUE)).max(done)
}

fn ind(
    key: &'static str,
    name_zh: &'static str,
    unit: IndicatorUnit,
    value: Option<f64>,
) -> Indicator {
    Indicator {
        key,
        name_zh,
        unit,
        value,
    }
}

fn count(key: &'static str, name_zh: &'static str, v: i64) -> Indicator {
    ind(key, name_zh, IndicatorUnit::Count, Some(v as f64))
}

fn rate(key: &'static str, name_zh: &'static str, v: Option<f64>) -> Indicator {
    ind(key, name_zh, IndicatorUnit::Percent, v)
}

/// "Lower is better" rates score as 100 − rate (never below 0).
fn inverse(v: Option<f64>) -> Option<f64> {
    v.map(|r| (100.0 - r).max(0.0))
}

/// The indicators of one object from its totals (and, for road chiefs, patrol figures).
pub fn indicators(
    object: RankObject,
    t: &Totals,
    patrols: Option<PatrolFigures>,
    cfg: &EvaluationConfig,
) -> Evaluation {
    use metric::*;
    match object {
        RankObject::Street | RankObject::Community | RankObject::Grid => {
            let registered = get(t, REGISTERED);
            let to_close = due(t, get(t, TO_CLOSE), get(t, CLOSED));
            let public_rate = pct(get(t, PUBLIC), registered);
            let closure = pct(get(t, CLOSED), to_close);
            let on_time = pct(get(t, CLOSED_ON_TIME), to_close);
            let mut indicators = vec![
                count("registered", "立案数", registered),
                count("public", "公众举报核实数", get(t, PUBLIC)),
                count("to_close", "应结案数", to_close),
                count("not_yet_due", "未到期数", get(t, TO_CLOSE) - to_close),
                count("closed", "结案数", get(t, CLOSED)),
                count("closed_on_time", "按期结案数", get(t, CLOSED_ON_TIME)),
                rate("public_rate", "监督举报率", public_rate),
                rate("closure_rate", "结案率", closure),
                rate("on_time_closure_rate", "按期结案率", on_time),
            ];
            indicators.extend(callback_indicators(t));
            Evaluation {
                cases: case_count(object, t),
                indicators,
                components: vec![
                    ("public_rate", inverse(public_rate)),
                    ("registered", Some(cfg.count_bands.score(registered))),
                    ("closure_rate", closure),
                    ("on_time_closure_rate", on_time),
                ],
            }
        }
        RankObject::Segment | RankObject::RoadChief => {
            let registered = get(t, REGISTERED);
            let to_close = due(t, get(t, TO_CLOSE), get(t, CLOSED));
            let self_found = get(t, SELF_FOUND);
            let missed = registered - self_found;
            let missed_rate = pct(missed, registered);
            let public_rate = pct(get(t, PUBLIC), registered);
            let closure = pct(get(t, CLOSED), to_close);
            let on_time = pct(get(t, CLOSED_ON_TIME), to_close);
            let mut indicators = vec![
                count("registered", "立案数", registered),
                count("self_found", "自查发现数", self_found),
                count("missed", "他人发现数(漏报)", missed),
                rate("missed_rate", "漏报率", missed_rate),
                count("public_complaints", "公众投诉数", get(t, PUBLIC)),
                count("to_close", "应结案数", to_close),
                count("not_yet_due", "未到期数", get(t, TO_CLOSE) - to_close),
                count("closed", "结案数", get(t, CLOSED)),
                rate("closure_rate", "结案率", closure),
                rate("on_time_closure_rate", "按期结案率", on_time),
                count("rework", "返工数", get(t, REWORK)),
            ];
            indicators.extend(callback_indicators(t));
            if object == RankObject::Segment {
                return Evaluation {
                    cases: case_count(object, t),
                    indicators,
                    components: vec![
                        ("public_rate", inverse(public_rate)),
                        ("registered", Some(cfg.count_bands.score(registered))),
                        ("closure_rate", closure),
                        ("on_time_closure_rate", on_time),
                    ],
                };
            }
            let p = patrols.unwrap_or_default();
            let patrol_rate = pct(p.done.min(p.required), p.required);
            indicators.insert(0, count("patrols_required", "应巡查次数", p.required));
            indicators.insert(1, count("patrols_done", "实际巡查次数", p.done));
            indicators.insert(2, rate("patrol_rate", "巡查达标率", patrol_rate));
            Evaluation {
                cases: case_count(object, t),
                indicators,
                components: vec![
                    ("patrol_rate", patrol_rate),
                    ("closure_rate", closure),
                    ("on_time_closure_rate", on_time),
                    ("missed_rate", inverse(missed_rate)),
                ],
            }
        }
        RankObject::Department => {
            let handled = get(t, HANDLED);
            let to_handle = due(t, get(t, TO_HANDLE), handled);
            let rework = get(t, REWORK);
            let handling = pct(handled, to_handle);
            let on_time = pct(get(t, HANDLED_ON_TIME), to_handle);
            let rework_rate = pct(rework, handled);
            let mean = (handled > 0).then(|| get(t, HANDLE_SECS) as f64 / handled as f64 / 3600.0);
            let mut indicators = vec![
                count("to_handle", "应处置数", to_handle),
                count("not_yet_due", "未到期数", get(t, TO_HANDLE) - to_handle),
                count("handled", "处置数", handled),
                count("handled_on_time", "按期处置数", get(t, HANDLED_ON_TIME)),
                count("overdue", "超期处置数", get(t, OVERDUE)),
                count("rework", "返工数", rework),
                count("returned", "退回数", get(t, RETURNED)),
                count("supervised", "被督办次数", get(t, SUPERVISED)),
                count("assists", "协办任务数", get(t, ASSISTS)),
                count("assists_on_time", "协办按时反馈数", get(t, ASSISTS_ON_TIME)),
                count("assists_overdue", "协办超时反馈数", get(t, ASSISTS_OVERDUE)),
                rate(
                    "assist_on_time_rate",
                    "协办按时反馈率",
                    pct(get(t, ASSISTS_ON_TIME), get(t, ASSISTS_REPORTED)),
                ),
                rate("handling_rate", "处置率", handling),
                rate("on_time_handling_rate", "按期处置率", on_time),
                rate("rework_rate", "返工率", rework_rate),
                ind(
                    "mean_hours",
                    "平均处置时长(工作时)",
                    IndicatorUnit::Hours,
                    mean,
                ),
                ind(
                    "p90_hours",
                    "90%处置时长(工作时)",
                    IndicatorUnit::Hours,
                    histogram_percentile(t, 0.9),
                ),
            ];
            indicators.extend(callback_indicators(t));
            Evaluation {
                cases: case_count(object, t),
                indicators,
                components: vec![
                    ("handling_rate", handling),
                    ("on_time_handling_rate", on_time),
                    ("rework_rate", inverse(rework_rate)),
                ],
            }
        }
        RankObject::Inspector => {
            let reported = get(t, INSP_REPORTED);
            let valid_rate = pct(get(t, INSP_VALID), reported);
            let verify = pct(get(t, INSP_VERIFIED_ON_TIME), get(t, INSP_VERIFIED));
            let check = pct(get(t, INSP_CHECKED_ON_TIME), get(t, INSP_CHECKED));
            Evaluation {
                cases: case_count(object, t),
                indicators: vec![
                    count("reported", "上报数", reported),
                    count("valid", "有效上报数", get(t, INSP_VALID)),
                    rate("valid_rate", "有效上报率", valid_rate),
                    count("verified", "核实数", get(t, INSP_VERIFIED)),
                    rate("on_time_verify_rate", "按时核实率", verify),
                    count("checked", "核查数", get(t, INSP_CHECKED)),
                    rate("on_time_check_rate", "按时核查率", check),
                    // No inspector-to-grid assignment exists yet to tell what was missed.
                    rate("missed_rate", "漏报率", None),
                ],
                components: vec![
                    ("valid_rate", valid_rate),
                    ("missed_rate", None),
                    ("on_time_verify_rate", verify),
                    ("on_time_check_rate", check),
                ],
            }
        }
        RankObject::Operator => {
            let accepted = get(t, OP_ACCEPTED);
            let sent = pct(get(t, OP_VERIFY_SENT_ON_TIME), get(t, OP_VERIFY_SENT));
            Evaluation {
                cases: case_count(object, t),
                indicators: vec![
                    count("accepted", "受理数", accepted),
                    rate(
                        "on_time_accept_rate",
                        "按时受理率",
                        pct(get(t, OP_ACCEPTED_ON_TIME), accepted),
                    ),
                    count("verify_sent", "核实派发数", get(t, OP_VERIFY_SENT)),
                    rate("verify_sent_on_time_rate", "核实按时派发率", sent),
                    // The workflow sends check tasks automatically on report-back.
                    rate("check_sent_on_time_rate", "核查按时派发率", None),
                ],
                components: vec![
                    ("accepted", Some(cfg.accept_bands.score(accepted))),
                    ("verify_sent_on_time_rate", sent),
                    ("check_sent_on_time_rate", None),
                ],
            }
        }
        RankObject::Supervisor => {
            let registered = get(t, SUP_REGISTERED);
            let on_time = pct(get(t, SUP_REGISTERED_ON_TIME), registered);
            let accurate = pct(registered - get(t, SUP_REGISTERED_VOIDED), registered);
            let close = pct(get(t, SUP_CLOSED_ON_TIME), get(t, SUP_CLOSED));
            Evaluation {
                cases: case_count(object, t),
                indicators: vec![
                    count("registered", "立案数", registered),
                    rate("on_time_register_rate", "按时立案率", on_time),
                    rate("accurate_register_rate", "准确立案率", accurate),
                    count("closed", "结案数", get(t, SUP_CLOSED)),
                    rate("on_time_close_rate", "按时结案率", close),
                ],
                components: vec![
                    ("on_time_register_rate", on_time),
                    ("accurate_register_rate", accurate),
                    ("on_time_close_rate", close),
                ],
            }
        }
        RankObject::Dispatcher => {
            let dispatched = get(t, DISP_DISPATCHED);
            let on_time = pct(get(t, DISP_ON_TIME), dispatched);
            let accurate = pct(dispatched - get(t, DISP_RETURNED), dispatched);
            Evaluation {
                cases: case_count(object, t),
                indicators: vec![
                    count("dispatched", "派遣数", dispatched),
                    count("returned", "被退回数", get(t, DISP_RETURNED)),
                    rate("on_time_dispatch_rate", "按时派遣率", on_time),
                    rate("accurate_dispatch_rate", "准确派遣率", accurate),
                ],
                components: vec![
                    ("dispatched", Some(cfg.count_bands.score(dispatched))),
                    ("on_time_dispatch_rate", on_time),
                    ("accurate_dispatch_rate", accurate),
                ],
            }
        }
    }
}

/// The composite score (0–100): the weighted mean of the available components, weights
/// renormalised over them. None when no weighted component is available, or when the
/// object had no case in the period (无数据: a street without cases is not "worst").
pub fn composite(object: RankObject, ev: &Evaluation, cfg: &EvaluationConfig) -> Option<f64> {
    if ev.cases <= 0 {
        return None;
    }
    let ws = cfg.weights.get(object.as_str())?;
    let mut sum = 0.0;
    let mut wsum = 0.0;
    for (key, score) in &ev.components {
        if let (Some(s), Some(w)) = (score, ws.get(*key)) {
            sum += s.clamp(0.0, 100.0) * w;
            wsum += w;
        }
    }
    (wsum > 0.0).then(|| sum / wsum)
}

/// Competition ranks (1, 2, 2, 4) by score, highest first; objects without a score get
/// no rank. Returns the ranks in the input order.
pub fn rank(scores: &[Option<f64>]) -> Vec<Option<u32>> {
    let mut order: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|s| (i, s)))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut out = vec![None; scores.len()];
    let mut prev: Option<(f64, u32)> = None;
    for (pos, (i, s)) in order.into_iter().enumerate() {
        let r = match prev {
            Some((ps, pr)) if (ps - s).abs() < 1e-9 => pr,
            _ => pos as u32 + 1,
        };
        out[i] = Some(r);
        prev = Some((s, r));
    }
    out
}

string_enum!(
    /// 红黑榜: the top and the bottom of a league table.
    Honour {
        Red = "red",
        Black = "black",
    }
);

/// How many rows of each end of a table make the red and the black list (红黑榜).
pub const HONOUR_ROWS: usize = 3;

/// One ranked row as [`honours`] needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HonourInput {
    pub rank: Option<u32>,
    pub cases: i64,
    pub grade: Option<Grade>,
}

/// The 红黑榜 of a table, in the input order. Only rows with a rank and at least
/// `cfg.honour_min_cases` cases are eligible; with at least `2 × HONOUR_ROWS` eligible
/// rows, the best [`HONOUR_ROWS`] are red and the worst black, by rank (ties in input
/// order). A red honour is never given to an E grade (不合格 is not praised) and a black
/// one never to an A grade.
pub fn honours(rows: &[HonourInput], cfg: &EvaluationConfig) -> Vec<Option<Honour>> {
    let mut eligible: Vec<(usize, u32)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.cases >= cfg.honour_min_cases.max(1))
        .filter_map(|(i, r)| r.rank.map(|k| (i, k)))
        .collect();
    eligible.sort_by_key(|&(i, k)| (k, i));
    let mut out = vec![None; rows.len()];
    let n = eligible.len();
    if n < 2 * HONOUR_ROWS {
        return out;
    }
    for (pos, &(i, _)) in eligible.iter().enumerate() {
        let grade = rows[i].grade;
        if pos < HONOUR_ROWS && grade != Some(Grade::E) {
            out[i] = Some(Honour::Red);
        } else if pos >= n - HONOUR_ROWS && grade != Some(Grade::A) {
            out[i] = Some(Honour::Black);
        }
    }
    out
}

#[cfg(test)]
mod tests;
