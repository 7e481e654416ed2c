//! The case aggregate. A case's current view is a fold over its immutable events:
//! [`Case::decide`] checks a command against the state machine and produces the event;
//! [`Case::apply`] evolves the view from an event. The store writes the event and the
//! evolved view in one transaction, and [`Case::from_events`] rebuilds the same view from
//! history (the tests pin that the two agree).
//!
//! Events carry the *results* of time computations (the stage clock after the event), so
//! replaying history never depends on today's calendar or limit table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Light, StageClock, TimeLimit, WorkCalendar};
use crate::cohandle::{open_part, Assist, AssistState, MAX_ASSISTS};
use crate::ids::{CaseId, CaseNumber, UnitId};
use crate::limits::{LimitTable, Stage};
use crate::model::{Actor, AreaGrade, CategoryCode, Priority, Source};
use crate::public::{PublicReason, PublicReply};
use crate::workflow::{
    check_with_source, Action, CaseState, Command, Satisfaction, Subject, TransitionError,
};

/// Limits on a report's free text.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_ADDRESS_CHARS: usize = 500;

/// Where the problem is, in WGS84.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
    pub address: Option<String>,
}

/// The territorial answer for the case's location, as the routing engine gave it at intake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Routing {
    pub street_code: Option<String>,
    pub street_name: Option<String>,
    pub community_code: Option<String>,
    pub grid_code: Option<String>,
    pub segment_id: Option<String>,
    pub road_name: Option<String>,
    pub segment_distance_m: Option<f64>,
    /// The unit routing suggests (territory leads, 以块为主; admin rules override).
    pub unit_id: Option<UnitId>,
    /// The point is outside the district; the case went to the default intake unit.
    pub outside_district: bool,
    /// The territory data behind this answer is schematic (示意数据).
    pub schematic: bool,
}

/// The reporter's contact details. Stored, never shown to the public.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    /// When the reporter called or came in (来电时间), as the operator entered it; staff
    /// channels only. Not personal data: shown to every staff reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted_at: Option<DateTime<Utc>>,
    /// The reporter asked to be called back (需要回访); staff channels only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<bool>,
}

/// A new report, parsed and routed, before it gets an id and a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    pub source: Source,
    pub priority: Priority,
    pub category: CategoryCode,
    pub area_grade: AreaGrade,
    pub description: String,
    pub location: Location,
    pub routing: Routing,
    pub reporter: Contact,
    /// Photo references or media URLs given with the report.
    pub media: Vec<String>,
    /// An external reference (a 12345 ticket number, an Open311 client's token).
    pub external_ref: Option<String>,
    /// The closed case this one says is still not fixed (a recurrence is a new case linked
    /// to the old one, design.md §4; it counts against the first closure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<FollowUp>,
}

/// How long after closing the citizen may say a case is still not fixed (issue 16's 30
/// days; a product default, not an official rule).
pub const STILL_NOT_FIXED_DAYS: i64 = 30;

/// The closed case a new report follows up, as it was when the report came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub case_id: CaseId,
    pub number: CaseNumber,
    /// The unit that handled (and closed) it: the recurrence counts against it.
    pub unit_id: Option<UnitId>,
    pub closed_at: DateTime<Utc>,
}

impl FollowUp {
    /// The link to `case`, if it is closed and closed at most [`STILL_NOT_FIXED_DAYS`]
    /// before `now`; `None` otherwise (voided, open, or too long ago).
    pub fn of(case: &Case, now: DateTime<Utc>) -> Option<FollowUp> {
        let closed_at = case.closed_at.filter(|_| case.state == CaseState::Closed)?;
        (now - closed_at <= chrono::Duration::days(STILL_NOT_FIXED_DAYS)).then(|| FollowUp {
            case_id: case.id,
            number: case.number.clone(),
            unit_id: case.unit_id,
            closed_at,
        })
    }
}

/// The master case a duplicate was merged into (合并), as it was at the merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRef {
    pub case_id: CaseId,
    pub number: CaseNumber,
    /// The master's handling unit at the merge (its handlers are told a reporter joined);
    /// absent in merges stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
}

/// A report that fails its own checks (before any state machine is involved).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ReportError {
    pub field: &'static str,
    pub problem: String,
}

impl NewCase {
    /// Checks the free-text and coordinate fields.
    pub fn validate(&self) -> Result<(), ReportError> {
        let err = |field, problem: &str| {
            Err(ReportError {
                field,
                problem: problem.to_owned(),
            })
        };
        if self.description.trim().is_empty() {
            return err("description", "is required");
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return err("description", "is longer than 4000 characters");
        }
        if !(self.location.lat.is_finite() && (-90.0..=90.0).contains(&self.location.lat)) {
            return err("lat", "must be a number from -90 to 90");
        }
        if !(self.location.lon.is_finite() && (-180.0..=180.0).contains(&self.location.lon)) {
            return err("long", "must be a number from -180 to 180");
        }
        if self
            .location
            .address
            .as_deref()
            .is_some_and(|a| a.chars().count() > MAX_ADDRESS_CHARS)
        {
            return err("address_string", "is longer than 500 characters");
        }
        Ok(())
    }
}

/// What happened in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventKind {
    /// The report that created the case (always event 1).
    Reported(ReportedTag),
    /// A workflow action.
    Act(Action),
}

/// The wire name of the creating event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedTag {
    Reported,
}

impl EventKind {
    pub const REPORTED: EventKind = EventKind::Reported(ReportedTag::Reported);

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Reported(_) => "reported",
            EventKind::Act(a) => a.as_str(),
        }
    }
}

/// An immutable history entry. Never edited, never deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub case_id: CaseId,
    /// 1 for the report, then +1 per event; equals the case version after it.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub actor: Actor,
    pub from_state: Option<CaseState>,
    pub to_state: CaseState,
    pub note: Option<String>,
    pub reason: Option<String>,
    pub unit_id: Option<UnitId>,
    pub extension: Option<TimeLimit>,
    pub attachments: Vec<String>,
    /// Set when the event reclassifies the case (register with a new category).
    pub category: Option<CategoryCode>,
    /// The stage clock after this event (None once the case is terminal).
    pub clock_after: Option<StageClock>,
    /// Written by versions before public and internal text were separated: it mixed
    /// staff notes into what citizens saw. Kept in history as written, never shown to the
    /// public and never written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_note: Option<String>,
    /// The reply staff wrote for the citizen with this step (答复市民), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_reply: Option<String>,
    /// On a void: the reason category the citizen is told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_reason: Option<PublicReason>,
    /// On a call-back: what the reporter said (回访结果).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// On a register that reclassifies: the category before it (`category` is the new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<CategoryCode>,
    /// On a register that sets the urgency: the new urgency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// On a register that reclassifies: the unit routing suggests for the new category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_unit: Option<UnitId>,
    /// On a re-dispatch (改派): the unit the case was taken from (`unit_id` is the new one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_unit: Option<UnitId>,
    /// On a merge (合并): the master case this one now is a duplicate of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_into: Option<MergeRef>,
    /// On an event that changes the assisting units (协办, [`crate::cohandle`]): the whole
    /// list after it, clocks included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assists_after: Option<Vec<Assist>>,
    /// The report itself, on the creating event only.
    pub report: Option<Box<ReportData>>,
}

/// The creating event's payload: the case number and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub number: CaseNumber,
    pub case: NewCase,
    /// Set on a case brought in from another system's records (`cityloop import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportMark>,
}

/// What marks an imported case: where it came from and what the source said about it.
/// Its history is synthesised (reported, registered, closed at the source's times), so
/// evaluation leaves it out unless `ranked` (the district's setting when it was imported).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportMark {
    /// The mapping's name (e.g. `boston311`, `12345-export`).
    pub mapping: String,
    /// The source row's line number in its file.
    pub line: u64,
    /// The source had no usable location (a placeholder such as Boston's City Hall
    /// default, or none): the case's point is a stand-in, not where the problem was.
    #[serde(default)]
    pub location_unknown: bool,
    /// Counted in rankings (setting `import_in_rankings` when the case was imported).
    #[serde(default)]
    pub ranked: bool,
    /// The source's own deadline (Boston `TARGET_DT`), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_deadline: Option<DateTime<Utc>>,
    /// The source's own on-time flag (Boston `OnTime_Status`), if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_on_time: Option<bool>,
    /// The unit the source names as handling the case (承办单位), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_unit: Option<String>,
    /// The source's satisfaction result (满意度), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<String>,
}

/// The time context of a decision: now, the district calendar and limit table.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub calendar: &'a WorkCalendar,
    pub limits: &'a LimitTable,
}

/// The current view of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub number: CaseNumber,
    pub state: CaseState,
    pub source: Source,
    pub priority: Priority,
    pub category: CategoryCode,
    pub area_grade: AreaGrade,
    pub description: String,
    pub location: Location,
    pub routing: Routing,
    pub reporter: Contact,
    pub media: Vec<String>,
    pub external_ref: Option<String>,
    /// The closed case this one follows up ("still not fixed").
    #[serde(default)]
    pub follows: Option<FollowUp>,
    /// The unit the case is dispatched to (None before dispatch and after a return).
    pub unit_id: Option<UnitId>,
    pub clock: Option<StageClock>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The seq of the last event: the optimistic-concurrency version.
    pub version: i64,
    pub rework_count: i64,
    pub return_count: i64,
    pub rollback_count: i64,
    pub extension_count: i64,
    pub pending_extension: Option<TimeLimit>,
    /// The operator's own reason for a void (internal).
    pub void_reason: Option<String>,
    /// The reason category the citizen is told for a void.
    #[serde(default)]
    pub public_reason: Option<PublicReason>,
    /// The replies written for the citizen (答复市民), oldest first.
    #[serde(default)]
    pub public_replies: Vec<PublicReply>,
    /// The latest call-back's result (回访结果), if the reporter was called back.
    #[serde(default)]
    pub satisfaction: Option<Satisfaction>,
    /// How often an unsatisfied call-back sent the case back to handling (重办).
    #[serde(default)]
    pub redo_count: i64,
    pub handled_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Set on a case brought in by `cityloop import` (see [`ImportMark`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<ImportMark>,
    /// The master case this one was merged into (合并); the case is voided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<MergeRef>,
    /// How often the case was urged on (督办/催办).
    #[serde(default)]
    pub supervise_count: i64,
    /// How often the case was re-dispatched to another unit (改派).
    #[serde(default)]
    pub redispatch_count: i64,
    /// The assisting units (协办) beside the lead unit `unit_id` (主办), in the order added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assists: Vec<Assist>,
}

/// History that does not fold into a case (a store bug or tampering, never user input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("history is empty")]
    Empty,
    #[error("event 1 is not a report")]
    NotAReport,
    #[error("event {seq} is out of order (expected {expected})")]
    OutOfOrder { seq: i64, expected: i64 },
    #[error("event {seq} starts from {from:?} but the case is {state}")]
    StateMismatch {
        seq: i64,
        from: Option<CaseState>,
        state: CaseState,
    },
}

impl Case {
    /// Opens a case from a report: state `received`, the accept clock running.
    pub fn report(
        id: CaseId,
        number: CaseNumber,
        new: NewCase,
        actor: &Actor,
        ctx: Ctx<'_>,
    ) -> Result<(Case, Event), ReportError> {
        new.validate()?;
        let clock = stage_clock(
            &new.category,
            new.area_grade,
            new.priority,
            Stage::Accept,
            ctx,
        );
        let event = Event {
            case_id: id,
            seq: 1,
            at: ctx.now,
            kind: EventKind::REPORTED,
            actor: actor.clone(),
            from_state: None,
            to_state: CaseState::Received,
            note: None,
            reason: None,
            unit_id: None,
            extension: None,
            attachments: new.media.clone(),
            category: None,
            clock_after: Some(clock),
            public_note: None,
            public_reply: None,
            public_reason: None,
            satisfaction: None,
            previous_category: None,
            priority: None,
            routed_unit: None,
            previous_unit: None,
            merge_into: None,
            assists_after: None,
            report: Some(Box::new(ReportData {
                number,
                case: new,
                imported: None,
            })),
        };
        let case = Case::from_events(std::slice::from_ref(&event)).map_err(|e| ReportError {
            field: "report",
            problem: e.to_string(),
        })?;
        Ok((case, event))
    }

    /// Checks `action` and returns the event it would append. Does not change `self`.
    pub fn decide(
        &self,
        action: Action,
        cmd: &Command,
        actor: &Actor,
        ctx: Ctx<'_>,
    ) -> Result<Event, TransitionError> {
        // An assisting unit's own actions are scoped to its open part, not to the lead.
        let scope_unit = match action {
            Action::AssistReport | Action::AssistReturn => {
                open_part(&self.assists, actor.unit_id).map(|a| a.unit_id)
            }
            _ => self.unit_id,
        };
        let to = check_with_source(
            action,
            self.state,
            actor,
            scope_unit,
            cmd,
            Some(self.subject()),
        )?;
        let assists_after = self.decide_assists(action, cmd, actor, ctx)?;
        if cmd.satisfaction == Some(Satisfaction::Unreached) {
            // 未回访 only once the call-back's time has run out (design.md §4).
            if let Some(due) = self.deadline(ctx.calendar).filter(|d| ctx.now < *d) {
                return Err(TransitionError::InvalidField {
                    field: "satisfaction",
                    problem: format!(
                        "unreached may be recorded only after the call-back time limit \
                         ({}) has run out; keep calling until then",
                        due.to_rfc3339()
                    ),
                });
            }
        }
        match action {
            Action::Redispatch if cmd.unit_id.is_some() && cmd.unit_id == self.unit_id => {
                return Err(TransitionError::InvalidField {
                    field: "unit_id",
                    problem: "the case is already with this unit; choose another".into(),
                });
            }
            Action::Merge
                if cmd
                    .merge_into
                    .as_ref()
                    .is_some_and(|m| m.case_id == self.id) =>
            {
                return Err(TransitionError::MergeIntoItself);
            }
            Action::Supervise => {
                let light = self.light(ctx.calendar, ctx.now);
                if !matches!(light, Some(Light::Yellow | Light::Red)) {
                    return Err(TransitionError::NotDue { action });
                }
            }
            _ => {}
        }
        let category = if action == Action::Register {
            cmd.category.clone().filter(|c| *c != self.category)
        } else {
            None
        };
        let priority = if action == Action::Register {
            cmd.priority.filter(|p| *p != self.priority)
        } else {
            None
        };
        let prio = priority.unwrap_or(self.priority);
        let cat = category.as_ref().unwrap_or(&self.category);
        let clock_after = match (action, Stage::of(to)) {
            (_, None) => None,
            (Action::Suspend, Some(_)) => self.clock.clone().map(|mut c| {
                c.pause(ctx.now);
                c
            }),
            (Action::Resume, Some(_)) => self.clock.clone().map(|mut c| {
                c.resume(ctx.calendar, ctx.now);
                c
            }),
            (Action::ApproveExtension, Some(_)) => self.clock.clone().map(|mut c| {
                if let Some(ext) = self.pending_extension {
                    c.extend(ext.duration(ctx.calendar));
                }
                c
            }),
            // Dispatch and rework start a fresh handling clock; any stage change starts
            // the new stage's clock.
            // A re-dispatch ends the first unit's clock and starts the new unit's.
            (Action::Dispatch | Action::CheckFail | Action::Redispatch, Some(stage)) => {
                Some(stage_clock(cat, self.area_grade, prio, stage, ctx))
            }
            (_, Some(stage)) if Stage::of(self.state) != Some(stage) => {
                Some(stage_clock(cat, self.area_grade, prio, stage, ctx))
            }
            (_, Some(_)) => self.clock.clone(),
        };
        let public_reply = cmd
            .public_reply
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let public_reason = match action {
            Action::Void => Some(cmd.public_reason.unwrap_or(PublicReason::Other)),
            Action::NotTrue => Some(PublicReason::NotFoundOnSite),
            Action::Merge => Some(PublicReason::Duplicate),
            _ => None,
        };
        Ok(Event {
            case_id: self.id,
            seq: self.version + 1,
            at: ctx.now,
            kind: EventKind::Act(action),
            actor: actor.clone(),
            from_state: Some(self.state),
            to_state: to,
            note: cmd.note.clone(),
            reason: cmd.reason.clone(),
            unit_id: match action {
                Action::Dispatch | Action::Redispatch => cmd.unit_id,
                // 督办 names the unit it urges (what a notice to that unit needs).
                Action::Supervise => self.unit_id,
                // Co-handling names the assisting unit the event concerns.
                Action::AssistAdd | Action::AssistRelease | Action::AssistExtend => cmd.unit_id,
                Action::AssistReport | Action::AssistReturn => scope_unit,
                _ => None,
            },
            extension: if matches!(action, Action::RequestExtension | Action::AssistExtend) {
                cmd.extension
            } else {
                None
            },
            attachments: cmd.attachments.clone(),
            clock_after,
            public_note: None,
            public_reply,
            public_reason,
            satisfaction: if action == Action::Callback {
                cmd.satisfaction
            } else {
                None
            },
            previous_category: category.as_ref().map(|_| self.category.clone()),
            routed_unit: if category.is_some() {
                cmd.routed_unit
            } else {
                None
            },
            category,
            priority,
            previous_unit: if action == Action::Redispatch {
                self.unit_id
            } else {
                None
            },
            merge_into: if action == Action::Merge {
                cmd.merge_into.clone()
            } else {
                None
            },
            assists_after,
            report: None,
        })
    }

    /// The co-handling rules of `action` ([`crate::cohandle`]): the assisting units after
    /// it, or None when it leaves them as they are. Runs after the rule table's check.
    fn decide_assists(
        &self,
        action: Action,
        cmd: &Command,
        actor: &Actor,
        ctx: Ctx<'_>,
    ) -> Result<Option<Vec<Assist>>, TransitionError> {
        let named = || {
            cmd.unit_id
                .and_then(|u| {
                    self.assists
                        .iter()
                        .position(|a| a.unit_id == u && a.state.is_open())
                })
                .ok_or_else(|| TransitionError::InvalidField {
                    field: "unit_id",
                    problem: "is not an assisting unit of this case whose part is open".into(),
                })
        };
        let is_assisting = |u: Option<UnitId>| {
            u.is_some_and(|u| {
                self.assists
                    .iter()
                    .any(|a| a.unit_id == u && a.state.occupies())
            })
        };
        let mut next = self.assists.clone();
        let text = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_owned);
        match action {
            Action::AssistAdd => {
                if cmd.unit_id.is_some() && cmd.unit_id == self.unit_id {
                    return Err(TransitionError::InvalidField {
                        field: "unit_id",
                        problem:
                            "is the lead unit (主办) of this case; a lead does not assist itself"
                                .into(),
                    });
                }
                if is_assisting(cmd.unit_id) {
                    return Err(TransitionError::AlreadyAssisting);
                }
                if self.assists.iter().filter(|a| a.state.occupies()).count() >= MAX_ASSISTS {
                    return Err(TransitionError::InvalidField {
                        field: "unit_id",
                        problem: format!("at most {MAX_ASSISTS} assisting units on one case"),
                    });
                }
                let (Some(unit), Some(task)) = (cmd.unit_id, text(&cmd.note)) else {
                    return Ok(None);
                };
                let mut clock = stage_clock(
                    &self.category,
                    self.area_grade,
                    self.priority,
                    Stage::Handle,
                    ctx,
                );
                if self.state == CaseState::Suspended {
                    clock.pause(ctx.now);
                }
                next.push(Assist {
                    unit_id: unit,
                    task,
                    state: AssistState::Open,
                    added_at: ctx.now,
                    clock,
                    ended_at: None,
                    outcome: None,
                    on_time: None,
                    extension_count: 0,
                });
            }
            Action::AssistReport | Action::AssistReturn => {
                let Some(i) = next
                    .iter()
                    .position(|a| Some(a.unit_id) == actor.unit_id && a.state.is_open())
                else {
                    return Err(TransitionError::OutOfScope { action });
                };
                let part = &mut next[i];
                if action == Action::AssistReport {
                    part.state = AssistState::Reported;
                    part.on_time =
                        Some(part.clock.elapsed(ctx.calendar, ctx.now) <= part.clock.allowed());
                    part.outcome = text(&cmd.note);
                } else {
                    part.state = AssistState::Returned;
                    part.outcome = text(&cmd.reason);
                }
                part.ended_at = Some(ctx.now);
            }
            Action::AssistRelease => {
                let i = named()?;
                let part = &mut next[i];
                part.state = AssistState::Released;
                part.outcome = text(&cmd.reason);
                part.ended_at = Some(ctx.now);
            }
            Action::AssistExtend => {
                let i = named()?;
                let part = &mut next[i];
                if let Some(ext) = cmd.extension {
                    part.clock.extend(ext.duration(ctx.calendar));
                }
                part.extension_count += 1;
            }
            Action::ReportBack => {
                let open = self.assists.iter().filter(|a| a.state.is_open()).count();
                if open > 0 {
                    return Err(TransitionError::AssistsOpen { open });
                }
                return Ok(None);
            }
            Action::Dispatch | Action::Redispatch if is_assisting(cmd.unit_id) => {
                return Err(TransitionError::InvalidField {
                    field: "unit_id",
                    problem: "assists on this case; release its part before making it the lead"
                        .into(),
                });
            }
            Action::Suspend | Action::Resume if self.assists.iter().any(|a| a.state.is_open()) => {
                for part in next.iter_mut().filter(|a| a.state.is_open()) {
                    if action == Action::Suspend {
                        part.clock.pause(ctx.now);
                    } else {
                        part.clock.resume(ctx.calendar, ctx.now);
                    }
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(next))
    }

    /// What the state machine needs of this case beyond its state.
    pub fn subject(&self) -> Subject {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        Subject {
            source: self.source,
            // Someone to call, who did not say at intake that they want no call-back.
            reachable: (given(&self.reporter.phone) || given(&self.reporter.email))
                && self.reporter.callback != Some(false),
        }
    }

    /// Evolves the view by one event.
    pub fn apply(&mut self, ev: &Event) -> Result<(), FoldError> {
        if ev.seq != self.version + 1 {
            return Err(FoldError::OutOfOrder {
                seq: ev.seq,
                expected: self.version + 1,
            });
        }
        if ev.from_state != Some(self.state) {
            return Err(FoldError::StateMismatch {
                seq: ev.seq,
                from: ev.from_state,
                state: self.state,
            });
        }
        let EventKind::Act(action) = ev.kind else {
            return Err(FoldError::OutOfOrder {
                seq: ev.seq,
                expected: self.version + 1,
            });
        };
        match action {
            Action::Dispatch => self.unit_id = ev.unit_id,
            Action::Return => {
                self.unit_id = None;
                self.return_count += 1;
            }
            Action::RollBack => self.rollback_count += 1,
            Action::CheckFail => self.rework_count += 1,
            Action::RequestExtension => self.pending_extension = ev.extension,
            Action::ApproveExtension => {
                self.extension_count += 1;
                self.pending_extension = None;
            }
            Action::RefuseExtension => self.pending_extension = None,
            Action::Void | Action::NotTrue => {
                self.void_reason = ev.reason.clone();
                self.public_reason = ev.public_reason;
            }
            Action::Merge => {
                self.void_reason = ev.reason.clone();
                self.public_reason = ev.public_reason;
                self.merged_into = ev.merge_into.clone();
            }
            Action::Redispatch => {
                self.unit_id = ev.unit_id;
                self.redispatch_count += 1;
            }
            Action::Supervise => self.supervise_count += 1,
            Action::ReportBack => self.handled_at = Some(ev.at),
            Action::Callback => {
                self.satisfaction = ev.satisfaction;
                if ev.satisfaction == Some(Satisfaction::Unsatisfied) {
                    self.redo_count += 1;
                }
            }
            Action::Close => self.closed_at = Some(ev.at),
            _ => {}
        }
        if let Some(c) = &ev.category {
            self.category = c.clone();
        }
        if let Some(p) = ev.priority {
            self.priority = p;
        }
        if let Some(u) = ev.routed_unit {
            self.routing.unit_id = Some(u);
        }
        if let Some(assists) = &ev.assists_after {
            self.assists = assists.clone();
        }
        if let Some(text) = &ev.public_reply {
            self.public_replies.push(PublicReply {
                at: ev.at,
                text: text.clone(),
            });
        }
        self.state = ev.to_state;
        self.clock = ev.clock_after.clone();
        self.version = ev.seq;
        self.updated_at = ev.at;
        Ok(())
    }

    /// Rebuilds the current view from the full history.
    pub fn from_events(events: &[Event]) -> Result<Case, FoldError> {
        let (first, rest) = events.split_first().ok_or(FoldError::Empty)?;
        let report = match (&first.kind, &first.report, first.seq) {
            (EventKind::Reported(_), Some(r), 1) => r,
            _ => return Err(FoldError::NotAReport),
        };
        let new = &report.case;
        let mut case = Case {
            id: first.case_id,
            number: report.number.clone(),
            state: first.to_state,
            source: new.source,
            priority: new.priority,
            category: new.category.clone(),
            area_grade: new.area_grade,
            description: new.description.clone(),
            location: new.location.clone(),
            routing: new.routing.clone(),
            reporter: new.reporter.clone(),
            media: new.media.clone(),
            external_ref: new.external_ref.clone(),
            follows: new.follows.clone(),
            unit_id: None,
            clock: first.clock_after.clone(),
            created_at: first.at,
            updated_at: first.at,
            version: 1,
            rework_count: 0,
            return_count: 0,
            rollback_count: 0,
            extension_count: 0,
            pending_extension: None,
            void_reason: None,
            public_reason: None,
            public_replies: Vec::new(),
            satisfaction: None,
            redo_count: 0,
            handled_at: None,
            closed_at: None,
            imported: report.imported.clone(),
            merged_into: None,
            supervise_count: 0,
            redispatch_count: 0,
            assists: Vec::new(),
        };
        for ev in rest {
            case.apply(ev)?;
        }
        Ok(case)
    }

    /// The current stage's deadline.
    pub fn deadline(&self, cal: &WorkCalendar) -> Option<DateTime<Utc>> {
        self.clock.as_ref().map(|c| c.deadline(cal))
    }

    /// Whether the deadline was computed on weekends only because it reaches into a year
    /// the calendar has no holiday notice for (false without a running clock).
    pub fn deadline_weekends_only(&self, cal: &WorkCalendar) -> bool {
        self.clock
            .as_ref()
            .is_some_and(|c| c.deadline_weekends_only(cal))
    }

    /// The deadline light now (None for closed and voided cases).
    pub fn light(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Option<Light> {
        self.clock.as_ref().map(|c| c.light(cal, now))
    }

    /// The stage whose clock runs.
    pub fn stage(&self) -> Option<Stage> {
        Stage::of(self.state)
    }
}

pub(crate) fn stage_clock(
    category: &CategoryCode,
    grade: AreaGrade,
    priority: Priority,
    stage: Stage,
    ctx: Ctx<'_>,
) -> StageClock {
    let rule = ctx.limits.lookup(category, grade, priority, stage);
    StageClock::start(
        rule.limit.mode(),
        ctx.now,
        rule.limit.duration(ctx.calendar),
    )
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::calendar::{LimitUnit, TimeMode};
    use crate::ids::PersonId;
    use crate::limits::LimitRule;
    use crate::model::{ActorRole, Role};

    fn limits() -> LimitTable {
        let mut rules: Vec<LimitRule> = Stage::ALL
            .iter()
            .map(|&stage| LimitRule {
                category: None,
                grade: None,
                priority: None,
                stage,
                limit: TimeLimit {
                    amount: 1,
                    unit: LimitUnit::WorkingHours,
                },
                source: "test".into(),
            })
            .collect();
        rules.push(LimitRule {
            category: Some(CategoryCode::parse_service_code("06010").unwrap()),
            grade: None,
            priority: None,
            stage: Stage::Handle,
            limit: TimeLimit {
                amount: 4,
                unit: LimitUnit::WorkingHours,
            },
            source: "test".into(),
        });
        LimitTable::new(rules).unwrap()
    }

    fn staff(role: Role, unit: Option<UnitId>) -> Actor {
        Actor {
            person_id: Some(PersonId::new_v7()),
            role: ActorRole::Staff(role),
            unit_id: unit,
        }
    }

    fn new_case(source: Source) -> NewCase {
        NewCase {
            source,
            priority: Priority::Normal,
            category: CategoryCode::parse_service_code("06010").unwrap(),
            area_grade: AreaGrade::A,
            description: "人行道上有暴露垃圾".into(),
            location: Location {
                lon: 113.64,
                lat: 34.75,
                address: Some("德化街".into()),
            },
            routing: Routing::default(),
            reporter: Contact::default(),
            media: vec![],
            external_ref: None,
            follows: None,
        }
    }

    struct Run {
        case: Case,
        events: Vec<Event>,
        now: DateTime<Utc>,
        cal: WorkCalendar,
        limits: LimitTable,
    }

    impl Run {
        fn new(source: Source) -> Self {
            Self::of(new_case(source))
        }

        fn of(new: NewCase) -> Self {
            let cal = WorkCalendar::china_2026();
            let limits = limits();
            // Monday 2026-11-23 09:00 Beijing time.
            let now = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
            let ctx = Ctx {
                now,
                calendar: &cal,
                limits: &limits,
            };
            let (case, ev) = Case::report(
                CaseId::new_v7(),
                CaseNumber("410103-20261123-0001".into()),
                new,
                &Actor::public(),
                ctx,
            )
            .unwrap();
            Self {
                case,
                events: vec![ev],
                now,
                cal,
                limits,
            }
        }

        fn act(
            &mut self,
            action: Action,
            actor: &Actor,
            cmd: Command,
        ) -> Result<(), TransitionError> {
            self.now += Duration::minutes(10);
            let ctx = Ctx {
                now: self.now,
                calendar: &self.cal,
                limits: &self.limits,
            };
            let ev = self.case.decide(action, &cmd, actor, ctx)?;
            self.case.apply(&ev).unwrap();
            self.events.push(ev);
            Ok(())
        }
    }

    fn reason(s: &str) -> Command {
        Command {
            reason: Some(s.into()),
            ..Command::default()
        }
    }

    #[test]
    fn the_full_loop_with_return_extension_and_rework_folds_back_to_the_same_view() {
        let unit = UnitId::new_v7();
        let other = UnitId::new_v7();
        let mut r = Run::new(Source::Public);
        r.act(
            Action::Accept,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::ToVerify);
        r.act(
            Action::Confirm,
            &staff(Role::Inspector, None),
            Command::default(),
        )
        .unwrap();
        r.act(
            Action::Register,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        let dispatcher = staff(Role::Dispatcher, None);
        let to = |u| Command {
            unit_id: Some(u),
            ..Command::default()
        };
        r.act(Action::Dispatch, &dispatcher, to(other)).unwrap();
        r.act(
            Action::Return,
            &staff(Role::Handler, Some(other)),
            reason("非本单位职责"),
        )
        .unwrap();
        assert_eq!(r.case.unit_id, None);
        r.act(Action::Dispatch, &dispatcher, to(unit)).unwrap();
        let handler = staff(Role::Handler, Some(unit));
        let before = r.case.deadline(&r.cal).unwrap();
        r.act(
            Action::RequestExtension,
            &handler,
            Command {
                reason: Some("需协调".into()),
                extension: Some(TimeLimit {
                    amount: 1,
                    unit: LimitUnit::WorkingDays,
                }),
                ..Command::default()
            },
        )
        .unwrap();
        r.act(
            Action::ApproveExtension,
            &staff(Role::Supervisor, None),
            Command::default(),
        )
        .unwrap();
        let after = r.case.deadline(&r.cal).unwrap();
        assert!(after > before, "an approved extension moves the deadline");
        let back = Command {
            note: Some("已清理".into()),
            attachments: vec!["sha256:after".into()],
            ..Command::default()
        };
        r.act(Action::ReportBack, &handler, back.clone()).unwrap();
        r.act(
            Action::CheckFail,
            &staff(Role::Inspector, None),
            reason("仍有残留"),
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::Handling);
        r.act(Action::ReportBack, &handler, back).unwrap();
        r.act(
            Action::CheckPass,
            &staff(Role::Inspector, None),
            Command::default(),
        )
        .unwrap();
        r.act(
            Action::Close,
            &staff(Role::Supervisor, None),
            Command::default(),
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::Closed);
        assert_eq!(r.case.rework_count, 1);
        assert_eq!(r.case.return_count, 1);
        assert_eq!(r.case.extension_count, 1);
        assert!(r.case.clock.is_none());
        assert_eq!(r.case.version, r.events.len() as i64);
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    /// A case accepted, confirmed, registered and dispatched to `unit`.
    fn dispatched(unit: UnitId) -> Run {
        let mut r = Run::new(Source::Public);
        let op = staff(Role::Operator, None);
        r.act(Action::Accept, &op, Command::default()).unwrap();
        r.act(
            Action::Confirm,
            &staff(Role::Inspector, None),
            Command::default(),
        )
        .unwrap();
        r.act(Action::Register, &op, Command::default()).unwrap();
        r.act(
            Action::Dispatch,
            &staff(Role::Dispatcher, None),
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        )
        .unwrap();
        r
    }

    #[test]
    fn not_true_voids_a_case_in_verification_with_the_reason_and_the_inspectors_photo() {
        let mut r = Run::new(Source::Public);
        r.act(
            Action::Accept,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        let inspector = staff(Role::Inspector, None);
        // The photo is required: the inspector proves what was (not) there.
        assert_eq!(
            r.act(Action::NotTrue, &inspector, reason("现场无垃圾")),
            Err(TransitionError::MissingField {
                action: Action::NotTrue,
                field: "attachments"
            })
        );
        r.act(
            Action::NotTrue,
            &inspector,
            Command {
                reason: Some("现场无垃圾".into()),
                attachments: vec!["sha256:onsite".into()],
                ..Command::default()
            },
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::Voided);
        assert_eq!(r.case.void_reason.as_deref(), Some("现场无垃圾"));
        assert_eq!(r.case.public_reason, Some(PublicReason::NotFoundOnSite));
        assert_eq!(r.events.last().unwrap().attachments, vec!["sha256:onsite"]);
        assert!(r.case.clock.is_none());
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn register_may_correct_the_category_rerouting_it_and_set_the_urgency() {
        let mut r = Run::new(Source::Inspector);
        let op = staff(Role::Operator, None);
        r.act(Action::Accept, &op, Command::default()).unwrap();
        let old = r.case.category.clone();
        let new_cat = CategoryCode::parse_service_code("06028").unwrap();
        let unit = UnitId::new_v7();
        r.act(
            Action::Register,
            &op,
            Command {
                category: Some(new_cat.clone()),
                priority: Some(Priority::Urgent),
                routed_unit: Some(unit),
                ..Command::default()
            },
        )
        .unwrap();
        let ev = r.events.last().unwrap();
        assert_eq!(ev.previous_category.as_ref(), Some(&old));
        assert_eq!(ev.category.as_ref(), Some(&new_cat));
        assert_eq!(ev.priority, Some(Priority::Urgent));
        assert_eq!(r.case.category, new_cat);
        assert_eq!(r.case.priority, Priority::Urgent);
        assert_eq!(r.case.routing.unit_id, Some(unit));
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
        // Without a change, nothing is recorded as changed.
        let mut same = Run::new(Source::Inspector);
        same.act(Action::Accept, &op, Command::default()).unwrap();
        let cat = same.case.category.clone();
        same.act(
            Action::Register,
            &op,
            Command {
                category: Some(cat),
                priority: Some(Priority::Normal),
                routed_unit: Some(unit),
                ..Command::default()
            },
        )
        .unwrap();
        let ev = same.events.last().unwrap();
        assert_eq!(
            (
                &ev.category,
                &ev.previous_category,
                ev.priority,
                ev.routed_unit
            ),
            (&None, &None, None, None)
        );
        // Only a registration sets the urgency.
        let got = same.act(
            Action::Dispatch,
            &staff(Role::Dispatcher, None),
            Command {
                unit_id: Some(unit),
                priority: Some(Priority::Urgent),
                ..Command::default()
            },
        );
        assert!(matches!(
            got,
            Err(TransitionError::InvalidField {
                field: "priority",
                ..
            })
        ));
    }

    #[test]
    fn redispatch_ends_the_first_units_clock_and_starts_the_new_units() {
        let first = UnitId::new_v7();
        let second = UnitId::new_v7();
        let mut r = dispatched(first);
        let dispatcher = staff(Role::Dispatcher, None);
        let started = r.case.clock.clone().unwrap().started_at;
        let to = |u| Command {
            unit_id: Some(u),
            reason: Some("属地调整".into()),
            ..Command::default()
        };
        // The same unit is no re-dispatch.
        assert!(matches!(
            r.act(Action::Redispatch, &dispatcher, to(first)),
            Err(TransitionError::InvalidField {
                field: "unit_id",
                ..
            })
        ));
        // A handler cannot move its case elsewhere (that is a return).
        assert!(matches!(
            r.act(
                Action::Redispatch,
                &staff(Role::Handler, Some(first)),
                to(second)
            ),
            Err(TransitionError::RoleNotAllowed { .. })
        ));
        r.act(Action::Redispatch, &dispatcher, to(second)).unwrap();
        let ev = r.events.last().unwrap();
        assert_eq!(ev.previous_unit, Some(first));
        assert_eq!(ev.unit_id, Some(second));
        assert_eq!(r.case.unit_id, Some(second));
        assert_eq!(r.case.state, CaseState::Handling);
        assert_eq!(r.case.redispatch_count, 1);
        let clock = r.case.clock.clone().unwrap();
        assert!(
            clock.started_at > started,
            "the new unit's clock starts at the 改派"
        );
        assert_eq!(clock.started_at, ev.at);
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn merge_voids_the_duplicate_linked_to_its_master_and_never_itself() {
        let mut r = Run::new(Source::Public);
        let op = staff(Role::Operator, None);
        let master = MergeRef {
            case_id: CaseId::new_v7(),
            number: CaseNumber("410103-20261123-0002".into()),
            unit_id: None,
        };
        let merge = |m: MergeRef| Command {
            merge_into: Some(m),
            reason: Some("同一处垃圾".into()),
            ..Command::default()
        };
        let itself = MergeRef {
            case_id: r.case.id,
            number: r.case.number.clone(),
            unit_id: None,
        };
        assert_eq!(
            r.act(Action::Merge, &op, merge(itself)),
            Err(TransitionError::MergeIntoItself)
        );
        r.act(Action::Merge, &op, merge(master.clone())).unwrap();
        assert_eq!(r.case.state, CaseState::Voided);
        assert_eq!(r.case.merged_into.as_ref(), Some(&master));
        assert_eq!(r.case.public_reason, Some(PublicReason::Duplicate));
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn supervise_needs_a_yellow_or_red_light_and_names_the_unit_it_urges() {
        let unit = UnitId::new_v7();
        let mut r = dispatched(unit);
        let sup = staff(Role::Supervisor, None);
        // Just dispatched: green.
        assert_eq!(
            r.act(Action::Supervise, &sup, reason("请加快")),
            Err(TransitionError::NotDue {
                action: Action::Supervise
            })
        );
        // The handle limit of 06010 is 4 working hours: past it the light is red.
        r.now += Duration::days(1);
        r.act(Action::Supervise, &sup, reason("已超期，请今日办结"))
            .unwrap();
        let ev = r.events.last().unwrap();
        assert_eq!(ev.unit_id, Some(unit));
        assert_eq!(ev.from_state, Some(CaseState::Handling));
        assert_eq!(ev.to_state, CaseState::Handling);
        assert_eq!(r.case.supervise_count, 1);
        assert_eq!(r.case.unit_id, Some(unit));
        // A road chief may urge too.
        r.act(
            Action::Supervise,
            &staff(Role::RoadChief, None),
            reason("路长催办"),
        )
        .unwrap();
        assert_eq!(r.case.supervise_count, 2);
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn an_unsatisfied_callback_is_a_redo_with_a_fresh_clock_and_unreached_waits_for_the_limit() {
        let unit = UnitId::new_v7();
        let mut new = new_case(Source::Hotline12345);
        new.reporter.phone = Some("13800138000".into());
        let mut r = Run::of(new);
        let op = staff(Role::Operator, None);
        let inspector = staff(Role::Inspector, None);
        let handler = staff(Role::Handler, Some(unit));
        r.act(Action::Accept, &op, Command::default()).unwrap();
        r.act(Action::Confirm, &inspector, Command::default())
            .unwrap();
        r.act(Action::Register, &op, Command::default()).unwrap();
        r.act(
            Action::Dispatch,
            &staff(Role::Dispatcher, None),
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        )
        .unwrap();
        let back = Command {
            note: Some("已清理".into()),
            attachments: vec!["sha256:after".into()],
            ..Command::default()
        };
        r.act(Action::ReportBack, &handler, back.clone()).unwrap();
        r.act(Action::CheckPass, &inspector, Command::default())
            .unwrap();
        assert_eq!(r.case.state, CaseState::ToCallback);
        assert_eq!(r.case.stage(), Some(Stage::Callback));
        let callback = |s: Satisfaction, why: Option<&str>| Command {
            satisfaction: Some(s),
            reason: why.map(str::to_owned),
            ..Command::default()
        };
        r.act(
            Action::Callback,
            &op,
            callback(Satisfaction::Unsatisfied, Some("垃圾又堆起来了")),
        )
        .unwrap();
        // 重办: back to the same unit's handling, on a fresh 4-hour clock started now.
        assert_eq!(r.case.state, CaseState::Handling);
        assert_eq!(r.case.unit_id, Some(unit));
        assert_eq!(r.case.redo_count, 1);
        assert_eq!(r.case.rework_count, 0, "a redo is not a failed check");
        assert_eq!(r.case.satisfaction, Some(Satisfaction::Unsatisfied));
        let clock = r.case.clock.clone().unwrap();
        assert_eq!(clock.limit_secs, 4 * 3600);
        assert_eq!(clock.elapsed(&r.cal, r.now), Duration::zero());
        r.act(Action::ReportBack, &handler, back).unwrap();
        r.act(Action::CheckPass, &inspector, Command::default())
            .unwrap();
        assert_eq!(r.case.state, CaseState::ToCallback);
        // Nobody answers: 未回访 is refused while the 1-working-hour call-back limit runs…
        let err = r
            .act(
                Action::Callback,
                &op,
                callback(Satisfaction::Unreached, None),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                TransitionError::InvalidField {
                    field: "satisfaction",
                    ..
                }
            ),
            "{err}"
        );
        // …and taken once it has run out.
        r.now += Duration::hours(1);
        r.act(
            Action::Callback,
            &op,
            callback(Satisfaction::Unreached, None),
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::ToClose);
        assert_eq!(r.case.satisfaction, Some(Satisfaction::Unreached));
        r.act(Action::Close, &op, Command::default()).unwrap();
        assert_eq!(r.case.state, CaseState::Closed);
        assert_eq!(r.events.last().unwrap().satisfaction, None);
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn suspension_stops_the_clock_and_resume_moves_the_deadline() {
        let unit = UnitId::new_v7();
        let mut r = Run::new(Source::Inspector);
        r.act(
            Action::Accept,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::ToRegister);
        r.act(
            Action::Register,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        r.act(
            Action::Dispatch,
            &staff(Role::Dispatcher, None),
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        )
        .unwrap();
        let clock = r.case.clock.clone().unwrap();
        assert_eq!(
            clock.limit_secs,
            4 * 3600,
            "the category's handling limit applies"
        );
        let deadline = r.case.deadline(&r.cal).unwrap();
        let sup = staff(Role::Supervisor, None);
        r.act(Action::Suspend, &sup, reason("待上级协调")).unwrap();
        let frozen = r.case.clock.clone().unwrap();
        let e1 = frozen.elapsed(&r.cal, r.now);
        let e2 = frozen.elapsed(&r.cal, r.now + Duration::hours(30));
        assert_eq!(e1, e2, "no time counts while suspended");
        r.now += Duration::hours(1);
        r.act(Action::Resume, &sup, Command::default()).unwrap();
        let moved = r.case.deadline(&r.cal).unwrap();
        assert!(moved > deadline);
        assert_eq!(
            r.case.clock.as_ref().map(|c| c.mode),
            Some(TimeMode::Working)
        );
    }

    #[test]
    fn a_void_keeps_its_reason_internal_and_tells_the_public_a_category() {
        let mut r = Run::new(Source::Public);
        r.act(
            Action::Void,
            &staff(Role::Operator, None),
            Command {
                public_reason: Some(PublicReason::Duplicate),
                ..reason("重复上报，内部备注")
            },
        )
        .unwrap();
        assert_eq!(r.case.state, CaseState::Voided);
        assert_eq!(r.case.void_reason.as_deref(), Some("重复上报，内部备注"));
        assert_eq!(r.case.public_reason, Some(PublicReason::Duplicate));
        assert!(r.case.public_replies.is_empty());
    }

    #[test]
    fn only_the_explicit_public_reply_reaches_the_public_replies() {
        let mut r = Run::new(Source::Inspector);
        let op = staff(Role::Operator, None);
        r.act(Action::Accept, &op, Command::default()).unwrap();
        r.act(
            Action::Register,
            &op,
            Command {
                note: Some("内部：请优先".into()),
                public_reply: Some("  您反映的问题已立案  ".into()),
                ..Command::default()
            },
        )
        .unwrap();
        assert_eq!(r.case.public_replies.len(), 1);
        assert_eq!(r.case.public_replies[0].text, "您反映的问题已立案");
        assert_eq!(r.case.public_replies[0].at, r.now);
        // A blank reply is no reply; a public reason outside a void is refused.
        let err = r
            .act(
                Action::RollBack,
                &staff(Role::Dispatcher, None),
                Command {
                    public_reason: Some(PublicReason::Other),
                    ..reason("类别错误")
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("public_reason"), "{err}");
    }

    #[test]
    fn a_legacy_public_note_in_history_is_never_folded_into_the_view() {
        let mut r = Run::new(Source::Public);
        let op = staff(Role::Operator, None);
        r.act(Action::Accept, &op, Command::default()).unwrap();
        let mut events = r.events.clone();
        events[1].public_note = Some("举报人多次恶意举报，内部备注".into());
        let folded = Case::from_events(&events).unwrap();
        let json = serde_json::to_string(&folded).unwrap();
        assert!(!json.contains("恶意举报"), "{json}");
    }

    #[test]
    fn an_invalid_report_names_its_field() {
        let cal = WorkCalendar::china_2026();
        let limits = limits();
        let ctx = Ctx {
            now: Utc::now(),
            calendar: &cal,
            limits: &limits,
        };
        let mut n = new_case(Source::Public);
        n.location.lat = 91.0;
        let e = Case::report(
            CaseId::new_v7(),
            CaseNumber("x".into()),
            n,
            &Actor::public(),
            ctx,
        )
        .unwrap_err();
        assert_eq!(e.field, "lat");
    }

    #[test]
    fn out_of_order_history_does_not_fold() {
        let mut r = Run::new(Source::Inspector);
        r.act(
            Action::Accept,
            &staff(Role::Operator, None),
            Command::default(),
        )
        .unwrap();
        let mut evs = r.events.clone();
        evs[1].seq = 5;
        assert!(matches!(
            Case::from_events(&evs),
            Err(FoldError::OutOfOrder { .. })
        ));
        assert_eq!(Case::from_events(&[]), Err(FoldError::Empty));
    }
}
