//! Co-handling (主办/协办, issue 20 item 4): a case held by a lead unit (主办, the case's
//! `unit_id`) may get assisting units (协办), each with its own task text and its own
//! handling clock.
//!
//! Co-handling is no side table: it is five actions of the one rule table
//! ([`crate::workflow::RULES`]), written as ordinary case events, and the assisting units
//! are part of the case view ([`crate::case::Case::assists`]), folded from those events.
//! Every event that changes the assisting units carries the whole list after it
//! ([`crate::case::Event::assists_after`]), clocks included, the way every event carries
//! the lead's clock after it: replaying history never depends on today's calendar.
//!
//! The rules (checked by [`crate::case::Case::decide`]):
//! - `assist_add` (dispatcher, supervisor; the case in handling or awaiting an extension):
//!   `unit_id` and the task text `note`; the assisting unit's handling clock starts (the
//!   handling limit of the case's category, grade and urgency). The lead unit cannot also
//!   assist (422 `unit_id`); a unit already assisting (open or reported) is refused (409
//!   `unit_id`); at most [`MAX_ASSISTS`] units assist at once (422 `unit_id`).
//! - `assist_report` (a handler of an open assisting unit): reports back *to the lead*
//!   (`note`); the clock stops and whether it was in time is recorded with it.
//! - `assist_return` (a handler of an open assisting unit, with a `reason`): the task is not
//!   the unit's; it ends (the dispatcher may add another unit).
//! - `assist_release` (dispatcher, supervisor, or the lead unit's handler, with `unit_id`
//!   and a `reason`): the assisting unit's help is no longer needed.
//! - `assist_extend` (dispatcher, supervisor, with `unit_id`, `extension` and a `reason`):
//!   the assisting unit's own clock gets longer; the lead's clock does not move.
//! - the lead's `report_back` is refused while an assisting unit is open (409 `assists`);
//!   `suspend` pauses the open assisting clocks with the lead's and `resume` restarts them.
//!
//! Evaluation ([`crate::evaluation`]) counts each assisting unit for its own part
//! (`assists`, `assists_reported`, `assists_on_time`, `assists_overdue`, `assists_returned`),
//! dated at the day it was added; the lead's handling counters are unaffected by an
//! assistant's lateness.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Light, StageClock, WorkCalendar};
use crate::ids::UnitId;
use crate::model::string_enum;

/// At most this many assisting units open or reported on one case (a product bound, not
/// an official rule).
pub const MAX_ASSISTS: usize = 10;

string_enum!(
    /// Where an assisting unit's part stands.
    AssistState {
        /// 协办中: the task is open, its clock runs.
        Open = "open",
        /// 已反馈: reported back to the lead.
        Reported = "reported",
        /// 已退回: the assisting unit returned the task as not its own.
        Returned = "returned",
        /// 已解除: released by the dispatcher or the lead.
        Released = "released",
    }
);

impl AssistState {
    pub fn zh(self) -> &'static str {
        match self {
            AssistState::Open => "协办中",
            AssistState::Reported => "已反馈",
            AssistState::Returned => "已退回",
            AssistState::Released => "已解除",
        }
    }

    /// Whether the lead still waits for this part.
    pub fn is_open(self) -> bool {
        self == AssistState::Open
    }

    /// Whether the unit holds (or held and did) a part, so it may not be added again.
    pub fn occupies(self) -> bool {
        matches!(self, AssistState::Open | AssistState::Reported)
    }
}

/// One assisting unit's part of a case (协办任务).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assist {
    pub unit_id: UnitId,
    /// What the assisting unit is asked to do (协办任务).
    pub task: String,
    pub state: AssistState,
    pub added_at: DateTime<Utc>,
    /// Its own handling clock (stopped once reported, returned or released).
    pub clock: StageClock,
    /// When it reported back, returned or was released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The report's note, or the reason of a return or release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// On a report back: whether it came within the unit's own clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<bool>,
    /// Extensions granted to this unit (`assist_extend`).
    #[serde(default)]
    pub extension_count: i64,
}

impl Assist {
    /// The unit's own deadline.
    pub fn deadline(&self, cal: &WorkCalendar) -> DateTime<Utc> {
        self.clock.deadline(cal)
    }

    /// The light of the unit's own clock now (None once its part ended).
    pub fn light(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Option<Light> {
        self.state.is_open().then(|| self.clock.light(cal, now))
    }
}

/// The open assisting part of `unit` in `assists`, if any.
pub fn open_part(assists: &[Assist], unit: Option<UnitId>) -> Option<&Assist> {
    let unit = unit?;
    assists
        .iter()
        .find(|a| a.unit_id == unit && a.state.is_open())
}

/// The units whose part is still open (the lead waits for them).
pub fn open_units(assists: &[Assist]) -> Vec<UnitId> {
    assists
        .iter()
        .filter(|a| a.state.is_open())
        .map(|a| a.unit_id)
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::calendar::{LimitUnit, TimeLimit};
    use crate::case::{Case, Contact, Ctx, Event, Location, NewCase, Routing};
    use crate::evaluation::{metric, CaseFacts, ObjectKind};
    use crate::ids::{CaseId, CaseNumber, PersonId};
    use crate::limits::{LimitRule, LimitTable, Stage};
    use crate::model::{Actor, ActorRole, AreaGrade, CategoryCode, Priority, Role, Source};
    use crate::workflow::{Action, CaseState, Command, TransitionError};

    /// Every stage 1 working hour, handling 4 working hours (the calendar's working
    /// periods are 08:30–12:00 and 13:30–17:30 Beijing time).
    fn limits() -> LimitTable {
        let rules = Stage::ALL
            .iter()
            .map(|&stage| LimitRule {
                category: None,
                grade: None,
                priority: None,
                stage,
                limit: TimeLimit {
                    amount: if stage == Stage::Handle { 4 } else { 1 },
                    unit: LimitUnit::WorkingHours,
                },
                source: "test".into(),
            })
            .collect();
        LimitTable::new(rules).unwrap()
    }

    fn staff(role: Role, unit: Option<UnitId>) -> Actor {
        Actor {
            person_id: Some(PersonId::new_v7()),
            role: ActorRole::Staff(role),
            unit_id: unit,
        }
    }

    /// Beijing time on 2026-11-23 (a Monday) + `day` days.
    fn bj(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23 + day, h, m, 0).unwrap() - Duration::hours(8)
    }

    struct Run {
        case: Case,
        events: Vec<Event>,
        cal: WorkCalendar,
        limits: LimitTable,
        lead: UnitId,
        dispatcher: Actor,
    }

    impl Run {
        /// A case dispatched to `lead` at Monday 09:00 (lead's deadline 14:30).
        fn dispatched() -> Run {
            let cal = WorkCalendar::china_2026();
            let limits = limits();
            let new = NewCase {
                source: Source::Inspector,
                priority: Priority::Normal,
                category: CategoryCode::parse_service_code("06010").unwrap(),
                area_grade: AreaGrade::A,
                description: "工地扬尘，渣土车带泥上路".into(),
                location: Location {
                    lon: 113.64,
                    lat: 34.75,
                    address: None,
                },
                routing: Routing::default(),
                reporter: Contact::default(),
                media: vec![],
                external_ref: None,
                follows: None,
            };
            let ctx = Ctx {
                now: bj(0, 8, 30),
                calendar: &cal,
                limits: &limits,
            };
            let (case, ev) = Case::report(
                CaseId::new_v7(),
                CaseNumber("410103-20261123-0001".into()),
                new,
                &staff(Role::Inspector, None),
                ctx,
            )
            .unwrap();
            let mut r = Run {
                case,
                events: vec![ev],
                cal,
                limits,
                lead: UnitId::new_v7(),
                dispatcher: staff(Role::Dispatcher, None),
            };
            let op = staff(Role::Operator, None);
            r.at(bj(0, 8, 35), Action::Accept, &op, Command::default())
                .unwrap();
            r.at(bj(0, 8, 40), Action::Register, &op, Command::default())
                .unwrap();
            let d = r.dispatcher.clone();
            let lead = r.lead;
            r.at(bj(0, 9, 0), Action::Dispatch, &d, unit(lead, None, None))
                .unwrap();
            r
        }

        fn at(
            &mut self,
            now: DateTime<Utc>,
            action: Action,
            actor: &Actor,
            cmd: Command,
        ) -> Result<(), TransitionError> {
            let ctx = Ctx {
                now,
                calendar: &self.cal,
                limits: &self.limits,
            };
            let ev = self.case.decide(action, &cmd, actor, ctx)?;
            self.case.apply(&ev).unwrap();
            self.events.push(ev);
            Ok(())
        }

        fn part(&self, u: UnitId) -> &Assist {
            self.case
                .assists
                .iter()
                .rev()
                .find(|a| a.unit_id == u)
                .unwrap()
        }

        fn counter(&self, unit: UnitId, m: &str) -> i64 {
            CaseFacts::from_events(&self.events, &self.cal)
                .counters()
                .iter()
                .filter(|c| {
                    c.key.kind == ObjectKind::Department
                        && c.key.object_id == unit.to_string()
                        && c.key.metric == m
                })
                .map(|c| c.value)
                .sum()
        }
    }

    fn unit(u: UnitId, note: Option<&str>, reason: Option<&str>) -> Command {
        Command {
            unit_id: Some(u),
            note: note.map(str::to_owned),
            reason: reason.map(str::to_owned),
            ..Command::default()
        }
    }

    fn note(s: &str) -> Command {
        Command {
            note: Some(s.into()),
            ..Command::default()
        }
    }

    fn day() -> Option<TimeLimit> {
        Some(TimeLimit {
            amount: 1,
            unit: LimitUnit::WorkingDays,
        })
    }

    #[test]
    fn an_assisting_units_lateness_counts_against_it_and_not_against_the_lead() {
        let mut r = Run::dispatched();
        let (lead, a) = (r.lead, UnitId::new_v7());
        let d = r.dispatcher.clone();
        assert_eq!(r.case.deadline(&r.cal), Some(bj(0, 14, 30)));
        r.at(
            bj(0, 9, 10),
            Action::AssistAdd,
            &d,
            unit(a, Some("清扫道路泥土"), None),
        )
        .unwrap();
        // 09:10 + 4 working hours: 2 h 50 min to 12:00, 1 h 10 min from 13:30.
        assert_eq!(r.part(a).deadline(&r.cal), bj(0, 14, 40));
        assert_eq!(r.part(a).task, "清扫道路泥土");
        let lead_h = staff(Role::Handler, Some(lead));
        r.at(
            bj(0, 9, 20),
            Action::RequestExtension,
            &lead_h,
            Command {
                extension: day(),
                reason: Some("需协调渣土车辆".into()),
                ..Command::default()
            },
        )
        .unwrap();
        r.at(
            bj(0, 9, 30),
            Action::ApproveExtension,
            &d,
            Command::default(),
        )
        .unwrap();
        // The lead's deadline moves by one working day (8 h); the assistant's does not.
        assert_eq!(r.case.deadline(&r.cal), Some(bj(1, 14, 30)));
        assert_eq!(r.part(a).deadline(&r.cal), bj(0, 14, 40));
        // The assistant reports on Tuesday 09:00: 2 h 50 + 4 h + 30 min = 7 h 20 min > 4 h.
        let a_h = staff(Role::Handler, Some(a));
        r.at(bj(1, 9, 0), Action::AssistReport, &a_h, note("道路已冲洗"))
            .unwrap();
        assert_eq!(r.part(a).state, AssistState::Reported);
        assert_eq!(r.part(a).on_time, Some(false));
        assert_eq!(r.part(a).outcome.as_deref(), Some("道路已冲洗"));
        // Still before the lead's own (extended) deadline.
        let back = Command {
            note: Some("扬尘已控制".into()),
            attachments: vec!["photo-1".into()],
            ..Command::default()
        };
        r.at(bj(1, 9, 10), Action::ReportBack, &lead_h, back)
            .unwrap();
        assert_eq!(r.case.state, CaseState::ToCheck);
        assert_eq!(r.counter(a, metric::ASSISTS), 1);
        assert_eq!(r.counter(a, metric::ASSISTS_REPORTED), 1);
        assert_eq!(r.counter(a, metric::ASSISTS_ON_TIME), 0);
        assert_eq!(r.counter(a, metric::ASSISTS_OVERDUE), 1);
        assert_eq!(
            r.counter(a, metric::HANDLED),
            0,
            "assisting is not handling"
        );
        assert_eq!(r.counter(lead, metric::HANDLED_ON_TIME), 1);
        assert_eq!(r.counter(lead, metric::OVERDUE), 0);
        assert_eq!(r.counter(lead, metric::ASSISTS_OVERDUE), 0);
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }

    #[test]
    fn the_lead_reports_back_only_when_every_assisting_unit_reported_or_was_released() {
        let mut r = Run::dispatched();
        let (lead, a, b) = (r.lead, UnitId::new_v7(), UnitId::new_v7());
        let d = r.dispatcher.clone();
        r.at(
            bj(0, 9, 10),
            Action::AssistAdd,
            &d,
            unit(a, Some("封堵"), None),
        )
        .unwrap();
        r.at(
            bj(0, 9, 20),
            Action::AssistAdd,
            &d,
            unit(b, Some("清运"), None),
        )
        .unwrap();
        let lead_h = staff(Role::Handler, Some(lead));
        let back = || Command {
            note: Some("已处置".into()),
            attachments: vec!["p".into()],
            ..Command::default()
        };
        assert_eq!(
            r.at(bj(0, 10, 0), Action::ReportBack, &lead_h, back()),
            Err(TransitionError::AssistsOpen { open: 2 })
        );
        r.at(
            bj(0, 10, 10),
            Action::AssistReport,
            &staff(Role::Handler, Some(a)),
            note("已封堵"),
        )
        .unwrap();
        assert_eq!(r.part(a).on_time, Some(true));
        assert_eq!(
            r.at(bj(0, 10, 20), Action::ReportBack, &lead_h, back()),
            Err(TransitionError::AssistsOpen { open: 1 })
        );
        // A release needs its reason; the lead's own handler may release.
        assert!(matches!(
            r.at(
                bj(0, 10, 30),
                Action::AssistRelease,
                &lead_h,
                unit(b, None, None)
            ),
            Err(TransitionError::MissingField {
                field: "reason",
                ..
            })
        ));
        r.at(
            bj(0, 10, 30),
            Action::AssistRelease,
            &lead_h,
            unit(b, None, Some("主办已自行清运")),
        )
        .unwrap();
        assert_eq!(r.part(b).state, AssistState::Released);
        r.at(bj(0, 10, 40), Action::ReportBack, &lead_h, back())
            .unwrap();
        assert_eq!(r.case.state, CaseState::ToCheck);
        // A released part is not counted against the unit.
        assert_eq!(r.counter(b, metric::ASSISTS), 0);
        assert_eq!(r.counter(a, metric::ASSISTS_ON_TIME), 1);
    }

    #[test]
    fn a_unit_twice_on_one_case_and_the_lead_as_its_own_assistant_are_refused() {
        let mut r = Run::dispatched();
        let (lead, a) = (r.lead, UnitId::new_v7());
        let d = r.dispatcher.clone();
        r.at(
            bj(0, 9, 10),
            Action::AssistAdd,
            &d,
            unit(a, Some("协助"), None),
        )
        .unwrap();
        assert_eq!(
            r.at(
                bj(0, 9, 20),
                Action::AssistAdd,
                &d,
                unit(a, Some("再次"), None)
            ),
            Err(TransitionError::AlreadyAssisting)
        );
        assert!(matches!(
            r.at(
                bj(0, 9, 20),
                Action::AssistAdd,
                &d,
                unit(lead, Some("主办"), None)
            ),
            Err(TransitionError::InvalidField {
                field: "unit_id",
                ..
            })
        ));
        assert!(matches!(
            r.at(
                bj(0, 9, 20),
                Action::AssistAdd,
                &d,
                unit(UnitId::new_v7(), None, None)
            ),
            Err(TransitionError::MissingField { field: "note", .. })
        ));
        // The assisting unit cannot become the lead by a re-dispatch while it assists.
        assert!(matches!(
            r.at(
                bj(0, 9, 30),
                Action::Redispatch,
                &d,
                unit(a, None, Some("改派"))
            ),
            Err(TransitionError::InvalidField {
                field: "unit_id",
                ..
            })
        ));
        // Once it returned its task it may be asked again.
        let a_h = staff(Role::Handler, Some(a));
        r.at(
            bj(0, 9, 40),
            Action::AssistReturn,
            &a_h,
            Command {
                reason: Some("非本单位职责".into()),
                ..Command::default()
            },
        )
        .unwrap();
        assert_eq!(r.part(a).state, AssistState::Returned);
        r.at(
            bj(0, 9, 50),
            Action::AssistAdd,
            &d,
            unit(a, Some("协助清运"), None),
        )
        .unwrap();
        assert_eq!(r.case.assists.len(), 2);
        assert_eq!(r.part(a).state, AssistState::Open);
        assert_eq!(r.counter(a, metric::ASSISTS), 1);
        assert_eq!(r.counter(a, metric::ASSISTS_RETURNED), 1);
    }

    #[test]
    fn only_the_assisting_units_own_handlers_act_on_its_part() {
        let mut r = Run::dispatched();
        let (lead, a) = (r.lead, UnitId::new_v7());
        let d = r.dispatcher.clone();
        r.at(
            bj(0, 9, 10),
            Action::AssistAdd,
            &d,
            unit(a, Some("协助"), None),
        )
        .unwrap();
        let other = staff(Role::Handler, Some(UnitId::new_v7()));
        assert!(matches!(
            r.at(bj(0, 9, 20), Action::AssistReport, &other, note("x")),
            Err(TransitionError::OutOfScope { .. })
        ));
        // The lead's handler does not report the assistant's part …
        assert!(matches!(
            r.at(
                bj(0, 9, 20),
                Action::AssistReport,
                &staff(Role::Handler, Some(lead)),
                note("x")
            ),
            Err(TransitionError::OutOfScope { .. })
        ));
        // … and the assistant does not report back for the lead (nor return the case).
        let a_h = staff(Role::Handler, Some(a));
        let back = Command {
            note: Some("已处置".into()),
            attachments: vec!["p".into()],
            ..Command::default()
        };
        assert!(matches!(
            r.at(bj(0, 9, 20), Action::ReportBack, &a_h, back),
            Err(TransitionError::OutOfScope { .. })
        ));
        // An inspector has no co-handling action at all.
        assert!(matches!(
            r.at(
                bj(0, 9, 20),
                Action::AssistAdd,
                &staff(Role::Inspector, None),
                unit(a, Some("x"), None)
            ),
            Err(TransitionError::RoleNotAllowed { .. })
        ));
    }

    #[test]
    fn extensions_and_suspension_move_each_units_own_clock() {
        let mut r = Run::dispatched();
        let a = UnitId::new_v7();
        let d = r.dispatcher.clone();
        r.at(
            bj(0, 9, 10),
            Action::AssistAdd,
            &d,
            unit(a, Some("协助"), None),
        )
        .unwrap();
        let ext = Command {
            unit_id: Some(a),
            extension: day(),
            reason: Some("夜间作业".into()),
            ..Command::default()
        };
        r.at(bj(0, 9, 20), Action::AssistExtend, &d, ext.clone())
            .unwrap();
        // One working day (8 h) on the assistant's clock: Monday 14:40 → Tuesday 14:40.
        assert_eq!(r.part(a).deadline(&r.cal), bj(1, 14, 40));
        assert_eq!(r.part(a).extension_count, 1);
        assert_eq!(
            r.case.deadline(&r.cal),
            Some(bj(0, 14, 30)),
            "the lead's clock is its own"
        );
        assert!(matches!(
            r.at(
                bj(0, 9, 25),
                Action::AssistExtend,
                &d,
                Command {
                    unit_id: Some(UnitId::new_v7()),
                    ..ext
                }
            ),
            Err(TransitionError::InvalidField {
                field: "unit_id",
                ..
            })
        ));
        // 挂账 stops every open clock; resuming one working hour later moves both by 1 h.
        r.at(
            bj(0, 10, 0),
            Action::Suspend,
            &d,
            Command {
                reason: Some("等待审批".into()),
                ..Command::default()
            },
        )
        .unwrap();
        assert!(r.part(a).clock.is_paused());
        r.at(bj(0, 11, 0), Action::Resume, &d, Command::default())
            .unwrap();
        assert_eq!(r.part(a).deadline(&r.cal), bj(1, 15, 40));
        assert_eq!(r.case.deadline(&r.cal), Some(bj(0, 15, 30)));
        assert_eq!(Case::from_events(&r.events).unwrap(), r.case);
    }
}
