//! The live inbox (issue 15 item 5): which notices an event raises, and for whom.
//!
//! [`notices`] maps one stored event (with the case view after it) to the notices it
//! raises. It is ONE match over the event kinds, exhaustive over [`Action`]: an action
//! added to the rule table does not compile here until someone decides whether it tells
//! anybody. Recipients are an [`Audience`] (a person, or every active person of a role,
//! optionally within a unit); the store resolves it against the people table in the
//! event's transaction with [`Audience::includes`], the same rule a rebuild uses. The
//! actor is never told about their own action.
//!
//! Deadline escalations (yellow/red) are not events: the scheduler fires them
//! (`cityloop-service/src/escalate.rs`) and stores their notices with the escalation row;
//! they share the notice kinds here ([`NoticeKind::DeadlineYellow`], [`NoticeKind::DeadlineRed`]).

use crate::case::{Case, Event, EventKind};
use crate::ids::{CaseId, PersonId, UnitId};
use crate::model::{string_enum, Person, Role};
use crate::workflow::{Action, CaseState, Satisfaction};

string_enum!(
    /// What a notice is about (the `kind` of a stored notification).
    NoticeKind {
        /// 新派遣: a case was dispatched to the person's unit.
        Assigned = "assigned",
        /// 退回: a case came back to the person's desk (a handler's return to dispatch, a
        /// dispatcher's roll-back to registration).
        Returned = "returned",
        /// 返工/重办: a failed check or an unsatisfied reporter sent the case back to the unit.
        Rework = "rework",
        /// 延期申请: a handler asked for more time.
        ExtensionRequested = "extension_requested",
        /// 延期审批结果: the extension was approved or refused.
        ExtensionDecided = "extension_decided",
        /// 督办/催办: a yellow or red case of the unit was urged on.
        Supervised = "supervised",
        /// 合并: a duplicate report was merged into a case the unit is handling.
        Merged = "merged",
        /// 协办: the person's unit is asked to assist on a case, or the lead unit hears
        /// that an assisting unit reported back or returned its task (crate::cohandle).
        Assist = "assist",
        /// 黄灯预警: 80% of the stage's time limit is used (the deadline scheduler).
        DeadlineYellow = "deadline_yellow",
        /// 红灯超期: the stage is overdue (the deadline scheduler).
        DeadlineRed = "deadline_red",
    }
);

impl NoticeKind {
    /// The kind in the console's words.
    pub fn zh(self) -> &'static str {
        match self {
            NoticeKind::Assigned => "新派遣",
            NoticeKind::Returned => "退回",
            NoticeKind::Rework => "返工",
            NoticeKind::ExtensionRequested => "延期申请",
            NoticeKind::ExtensionDecided => "延期审批",
            NoticeKind::Supervised => "督办",
            NoticeKind::Merged => "合并",
            NoticeKind::Assist => "协办",
            NoticeKind::DeadlineYellow => "黄灯预警",
            NoticeKind::DeadlineRed => "红灯超期",
        }
    }
}

/// Who a notice is for, before the store resolves it to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// One person.
    Person(PersonId),
    /// Every active person of the role (district-wide roles: dispatchers, supervisors).
    Role(Role),
    /// Every active person of the role in the unit (a unit's handlers).
    UnitRole { unit: UnitId, role: Role },
}

impl Audience {
    /// Whether `person` is in the audience (inactive people are in none).
    pub fn includes(&self, person: &Person) -> bool {
        person.active
            && match *self {
                Audience::Person(id) => person.id == id,
                Audience::Role(role) => person.role == role,
                Audience::UnitRole { unit, role } => {
                    person.role == role && person.unit_id == Some(unit)
                }
            }
    }
}

/// One notice an event raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub audience: Vec<Audience>,
    /// Never told: the person who acted.
    pub except: Option<PersonId>,
    /// The line shown in the inbox (staff only; it may quote the internal reason).
    pub message: String,
    /// The case the notice takes its reader to, when it is not the event's own: a merge
    /// points the master's unit at the master, not at the voided duplicate.
    pub about: Option<CaseId>,
}

impl Notice {
    /// Whether `person` receives this notice.
    pub fn reaches(&self, person: &Person) -> bool {
        self.except != Some(person.id) && self.audience.iter().any(|a| a.includes(person))
    }
}

/// Characters of the description quoted in a message.
const EXCERPT_CHARS: usize = 24;
/// Characters of a reason quoted in a message.
const REASON_CHARS: usize = 60;

fn cut(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// The notices `event` raises; `case` is the view after it. Imported history raises
/// none (the caller does not ask: it was told where it happened).
pub fn notices(case: &Case, event: &Event) -> Vec<Notice> {
    let except = event.actor.person_id;
    let excerpt = cut(case.description.trim(), EXCERPT_CHARS);
    let reason = event
        .reason
        .as_deref()
        .map(|r| format!("：{}", cut(r.trim(), REASON_CHARS)))
        .unwrap_or_default();
    let unit_handlers = |unit: Option<UnitId>| -> Vec<Audience> {
        unit.map(|unit| Audience::UnitRole {
            unit,
            role: Role::Handler,
        })
        .into_iter()
        .collect()
    };
    let one = |kind: NoticeKind, audience: Vec<Audience>, message: String| {
        if audience.is_empty() {
            Vec::new()
        } else {
            vec![Notice {
                kind,
                audience,
                except,
                message,
                about: None,
            }]
        }
    };
    let EventKind::Act(action) = event.kind else {
        // A new report waits in the operators' queue; it raises no notice.
        return Vec::new();
    };
    // One arm per action.
    match action {
        Action::Redispatch => one(
            NoticeKind::Assigned,
            unit_handlers(event.unit_id.or(case.unit_id)),
            format!("改派：案件 {}「{}」{}", case.number, excerpt, reason),
        ),
        Action::Supervise => one(
            NoticeKind::Supervised,
            unit_handlers(case.unit_id),
            format!("案件 {} 被督办，请尽快办理{}", case.number, reason),
        ),
        // 合并 happens before any unit works on the duplicate; the master's unit, if it
        // holds the master, hears that one more reporter waits for its answer.
        Action::Merge => match &event.merge_into {
            Some(m) => one(
                NoticeKind::Merged,
                unit_handlers(m.unit_id),
                format!(
                    "案件 {} 并入一件重复反映（{}「{}」），办结后请一并答复",
                    m.number, case.number, excerpt
                ),
            )
            .into_iter()
            .map(|n| Notice {
                about: Some(m.case_id),
                ..n
            })
            .collect(),
            None => Vec::new(),
        },
        // 不属实 ends a case at verification, before any unit or desk waits on it: the
        // operators' queue drops it through `event: case`, the reporter reads the outcome
        // on the public page.
        Action::NotTrue => Vec::new(),
        Action::Dispatch => one(
            NoticeKind::Assigned,
            unit_handlers(event.unit_id.or(case.unit_id)),
            format!("新派遣：案件 {}「{}」", case.number, excerpt),
        ),
        Action::Return => one(
            NoticeKind::Returned,
            vec![Audience::Role(Role::Dispatcher)],
            format!("案件 {} 被处置单位退回，待重新派遣{}", case.number, reason),
        ),
        Action::RollBack => one(
            NoticeKind::Returned,
            vec![Audience::Role(Role::Operator)],
            format!("案件 {} 被回退，待重新立案{}", case.number, reason),
        ),
        Action::CheckFail => one(
            NoticeKind::Rework,
            unit_handlers(case.unit_id),
            format!("案件 {} 核查未通过，需返工{}", case.number, reason),
        ),
        Action::Callback => {
            let unsatisfied = event.satisfaction == Some(Satisfaction::Unsatisfied)
                && case.state == CaseState::Handling;
            if unsatisfied {
                one(
                    NoticeKind::Rework,
                    unit_handlers(case.unit_id),
                    format!("案件 {} 回访不满意，需重办", case.number),
                )
            } else {
                Vec::new()
            }
        }
        Action::RequestExtension => one(
            NoticeKind::ExtensionRequested,
            vec![
                Audience::Role(Role::Dispatcher),
                Audience::Role(Role::Supervisor),
            ],
            format!("案件 {} 申请延期，待审批{}", case.number, reason),
        ),
        Action::ApproveExtension => one(
            NoticeKind::ExtensionDecided,
            unit_handlers(case.unit_id),
            format!("案件 {} 延期申请已批准", case.number),
        ),
        Action::RefuseExtension => one(
            NoticeKind::ExtensionDecided,
            unit_handlers(case.unit_id),
            format!("案件 {} 延期申请未获批准{}", case.number, reason),
        ),
        // Co-handling: the assisting unit hears of its task and of its own extension; the
        // lead unit hears when an assisting part is reported back or returned.
        Action::AssistAdd => one(
            NoticeKind::Assist,
            unit_handlers(event.unit_id),
            format!(
                "协办：案件 {}「{}」，任务：{}",
                case.number,
                excerpt,
                cut(event.note.as_deref().unwrap_or("").trim(), REASON_CHARS)
            ),
        ),
        Action::AssistReport => one(
            NoticeKind::Assist,
            unit_handlers(case.unit_id),
            format!("案件 {} 的协办单位已反馈", case.number),
        ),
        Action::AssistReturn => one(
            NoticeKind::Assist,
            [
                unit_handlers(case.unit_id),
                vec![Audience::Role(Role::Dispatcher)],
            ]
            .concat(),
            format!("案件 {} 的协办单位退回了协办任务{}", case.number, reason),
        ),
        Action::AssistExtend => one(
            NoticeKind::ExtensionDecided,
            unit_handlers(event.unit_id),
            format!("案件 {} 的协办时限已延长", case.number),
        ),
        // The next desk sees these in its queue; nobody needs a notice.
        Action::AssistRelease
        | Action::Accept
        | Action::Confirm
        | Action::Register
        | Action::Void
        | Action::Suspend
        | Action::Resume
        | Action::ReportBack
        | Action::CheckPass
        | Action::Close => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    use crate::calendar::{LimitUnit, TimeLimit, WorkCalendar};
    use crate::case::{Contact, Ctx, Location, NewCase, Routing};
    use crate::ids::CaseNumber;
    use crate::limits::{LimitRule, LimitTable, Stage};
    use crate::model::{Actor, AreaGrade, CategoryCode, Priority, Source};
    use crate::workflow::Command;

    fn person(role: Role, unit: Option<UnitId>) -> Person {
        Person {
            id: PersonId::new_v7(),
            username: format!("u{}", uuid::Uuid::now_v7()),
            display_name: "某人".into(),
            role,
            unit_id: unit,
            active: true,
        }
    }

    fn actor(p: &Person) -> Actor {
        Actor::staff(p)
    }

    #[test]
    fn audience_takes_active_people_of_the_role_and_unit_only() {
        let unit = UnitId::new_v7();
        let h = person(Role::Handler, Some(unit));
        let other = person(Role::Handler, Some(UnitId::new_v7()));
        let mut gone = person(Role::Handler, Some(unit));
        gone.active = false;
        let a = Audience::UnitRole {
            unit,
            role: Role::Handler,
        };
        assert!(a.includes(&h));
        assert!(!a.includes(&other));
        assert!(!a.includes(&gone), "inactive people get nothing");
        assert!(Audience::Role(Role::Handler).includes(&other));
        assert!(Audience::Person(h.id).includes(&h));
        assert!(!Audience::Person(h.id).includes(&other));
    }

    fn limits() -> LimitTable {
        let rules = Stage::ALL
            .iter()
            .map(|&stage| LimitRule {
                category: None,
                grade: None,
                priority: None,
                stage,
                limit: TimeLimit {
                    amount: 1,
                    unit: LimitUnit::WorkingDays,
                },
                source: "test".into(),
            })
            .collect();
        LimitTable::new(rules).unwrap_or_else(|e| panic!("limits: {e}"))
    }

    #[test]
    fn dispatch_return_extension_and_failed_check_notify_the_next_desk_not_the_actor() {
        let cal = WorkCalendar::china_2026();
        let limits = limits();
        // Monday 2026-11-23 09:00 Beijing time.
        let now = Utc
            .with_ymd_and_hms(2026, 11, 23, 1, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("fixed time"));
        let ctx = Ctx {
            now,
            calendar: &cal,
            limits: &limits,
        };
        let unit = UnitId::new_v7();
        let dispatcher = person(Role::Dispatcher, None);
        let handler = person(Role::Handler, Some(unit));
        let inspector = person(Role::Inspector, None);
        let new = NewCase {
            source: Source::Inspector,
            priority: Priority::Normal,
            category: CategoryCode::parse_service_code("06010")
                .unwrap_or_else(|e| panic!("code: {e}")),
            area_grade: AreaGrade::A,
            description: "人行道上有暴露垃圾，影响通行，已持续两天以上，请尽快处理".into(),
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
        };
        let (mut case, first) = Case::report(
            CaseId::new_v7(),
            CaseNumber("410103-20261123-0001".into()),
            new,
            &actor(&inspector),
            ctx,
        )
        .unwrap_or_else(|e| panic!("report: {e}"));
        assert!(notices(&case, &first).is_empty(), "a report raises none");
        let step = |case: &mut Case, action: Action, by: &Person, cmd: Command| {
            let ev = case
                .decide(action, &cmd, &actor(by), ctx)
                .unwrap_or_else(|e| panic!("{action}: {e}"));
            case.apply(&ev).unwrap_or_else(|e| panic!("{action}: {e}"));
            notices(case, &ev)
        };
        let operator = person(Role::Operator, None);
        assert!(step(&mut case, Action::Accept, &operator, Command::default()).is_empty());
        assert!(step(&mut case, Action::Register, &operator, Command::default()).is_empty());
        assert_eq!(case.state, CaseState::ToDispatch);
        let n = step(
            &mut case,
            Action::Dispatch,
            &dispatcher,
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        );
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].kind, NoticeKind::Assigned);
        assert!(n[0].reaches(&handler));
        assert!(!n[0].reaches(&dispatcher));
        assert!(n[0].message.contains(case.number.as_str()));

        let n = step(
            &mut case,
            Action::Return,
            &handler,
            Command {
                reason: Some("不属于本单位职责".into()),
                ..Command::default()
            },
        );
        assert_eq!(n[0].kind, NoticeKind::Returned);
        assert!(n[0].reaches(&dispatcher));
        assert!(!n[0].reaches(&handler));
        assert!(n[0].message.contains("不属于本单位职责"));

        // A dispatcher who returns nothing to themselves: a second dispatcher is told,
        // the acting one not.
        step(
            &mut case,
            Action::Dispatch,
            &dispatcher,
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        );
        let n = step(
            &mut case,
            Action::RequestExtension,
            &handler,
            Command {
                reason: Some("材料未到".into()),
                extension: Some(TimeLimit {
                    amount: 1,
                    unit: LimitUnit::WorkingDays,
                }),
                ..Command::default()
            },
        );
        assert_eq!(n[0].kind, NoticeKind::ExtensionRequested);
        assert!(n[0].reaches(&dispatcher));
        let n = step(
            &mut case,
            Action::ApproveExtension,
            &dispatcher,
            Command::default(),
        );
        assert_eq!(n[0].kind, NoticeKind::ExtensionDecided);
        assert!(n[0].reaches(&handler));
        let n = step(
            &mut case,
            Action::ReportBack,
            &handler,
            Command {
                note: Some("已清理".into()),
                attachments: vec!["sha256:00".into()],
                ..Command::default()
            },
        );
        assert!(n.is_empty(), "report back: the inspectors' queue shows it");
        let n = step(
            &mut case,
            Action::CheckFail,
            &inspector,
            Command {
                reason: Some("仍有垃圾".into()),
                ..Command::default()
            },
        );
        assert_eq!(n[0].kind, NoticeKind::Rework);
        assert!(n[0].reaches(&handler));
        assert!(!n[0].reaches(&inspector));

        // 合并: a duplicate merged into the case the unit holds tells the unit's handlers
        // that one more reporter waits; a master no unit holds yet tells nobody.
        let duplicate = |n: &str| {
            let mut again = case.clone();
            again.id = CaseId::new_v7();
            again.number = CaseNumber(n.into());
            again.state = CaseState::Received;
            again.unit_id = None;
            again.clock = None;
            again
        };
        let merge = |master_unit: Option<UnitId>| Command {
            reason: Some("同一地点重复反映".into()),
            merge_into: Some(crate::case::MergeRef {
                case_id: case.id,
                number: case.number.clone(),
                unit_id: master_unit,
            }),
            ..Command::default()
        };
        let mut dup = duplicate("410103-20261123-0002");
        let n = step(&mut dup, Action::Merge, &operator, merge(case.unit_id));
        assert_eq!(dup.state, CaseState::Voided);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].kind, NoticeKind::Merged);
        assert!(n[0].reaches(&handler));
        assert!(!n[0].reaches(&operator));
        assert!(n[0].message.contains(case.number.as_str()));
        assert!(n[0].message.contains("410103-20261123-0002"));
        assert_eq!(n[0].about, Some(case.id), "the notice opens the master");
        let mut dup = duplicate("410103-20261123-0003");
        assert!(step(&mut dup, Action::Merge, &operator, merge(None)).is_empty());
    }

    #[test]
    fn a_long_reason_is_cut_in_the_message() {
        assert_eq!(cut("一二三", 2), "一二…");
        assert_eq!(cut("一二", 2), "一二");
    }
}
