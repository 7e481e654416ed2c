//! The case workflow state machine (urban-management-standard.md §4, design.md §4 and §7).
//!
//! One table, [`RULES`], says for every action which states it may start from, which
//! roles may perform it, where it goes and which fields it requires. Everything else in
//! the crate (the case aggregate, the tests, the HTTP layer's list of legal buttons) reads
//! this table; nothing re-states it.
//!
//! This module decides *whether* an action is legal. What it does to a case (clocks,
//! counters, the event written) lives in [`crate::case`].

use serde::{Deserialize, Serialize};

use crate::calendar::TimeLimit;
use crate::ids::UnitId;
use crate::model::{string_enum, Actor, ActorRole, CategoryCode, Role, Source};

string_enum!(
    /// The states of a case. Names are fixed by design.md §7.
    CaseState {
        /// 待受理: reported, not yet screened.
        Received = "received",
        /// 待核实: a public or hotline report waiting for an inspector's on-site confirmation.
        ToVerify = "to_verify",
        /// 待立案: waiting for registration.
        ToRegister = "to_register",
        /// 待派遣: registered, waiting for dispatch.
        ToDispatch = "to_dispatch",
        /// 处置中: the handling unit is working on it.
        Handling = "handling",
        /// 延期审批: an extension was asked for and awaits approval.
        ExtensionPending = "extension_pending",
        /// 挂账: suspended, clock stopped.
        Suspended = "suspended",
        /// 待核查: reported back, waiting for the on-site check.
        ToCheck = "to_check",
        /// 待回访: check passed on a public or hotline case; the reporter is to be called
        /// back (回访) before closing.
        ToCallback = "to_callback",
        /// 待结案: check passed (and, where due, the call-back done), waiting to be closed.
        ToClose = "to_close",
        /// 已结案 (terminal).
        Closed = "closed",
        /// 作废 (terminal).
        Voided = "voided",
    }
);

impl CaseState {
    pub fn zh(self) -> &'static str {
        match self {
            CaseState::Received => "待受理",
            CaseState::ToVerify => "待核实",
            CaseState::ToRegister => "待立案",
            CaseState::ToDispatch => "待派遣",
            CaseState::Handling => "处置中",
            CaseState::ExtensionPending => "延期审批",
            CaseState::Suspended => "挂账",
            CaseState::ToCheck => "待核查",
            CaseState::ToCallback => "待回访",
            CaseState::ToClose => "待结案",
            CaseState::Closed => "已结案",
            CaseState::Voided => "作废",
        }
    }

    /// Closed and voided cases never change again (a recurrence is a new case).
    pub fn is_terminal(self) -> bool {
        matches!(self, CaseState::Closed | CaseState::Voided)
    }

    /// The Open311 status: `closed` for terminal states, `open` otherwise.
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }
}

string_enum!(
    /// The actions that move a case. Names are fixed by design.md §7.
    Action {
        Accept = "accept",
        Confirm = "confirm",
        Register = "register",
        Void = "void",
        RollBack = "roll_back",
        Dispatch = "dispatch",
        Return = "return",
        RequestExtension = "request_extension",
        ApproveExtension = "approve_extension",
        RefuseExtension = "refuse_extension",
        Suspend = "suspend",
        Resume = "resume",
        ReportBack = "report_back",
        CheckPass = "check_pass",
        CheckFail = "check_fail",
        Callback = "callback",
        Close = "close",
        /// 核实不属实: the inspector found on site that the report is not true; the case
        /// closes as voided with the reason and the inspector's photo.
        NotTrue = "not_true",
        /// 改派: a case already with a unit is sent to another unit (the first unit's clock
        /// ends, the new unit's starts).
        Redispatch = "redispatch",
        /// 合并: the case is a duplicate of another open case (the master); it ends voided
        /// and linked to the master, which keeps its reporters.
        Merge = "merge",
        /// 督办/催办: a yellow or red case is urged on; the state does not change.
        Supervise = "supervise",
        /// 协办派遣: an assisting unit (协办) joins the lead unit with its own task and clock
        /// ([`crate::cohandle`]).
        AssistAdd = "assist_add",
        /// 协办反馈: an assisting unit reports its part back to the lead.
        AssistReport = "assist_report",
        /// 协办退回: an assisting unit returns its task as not its own.
        AssistReturn = "assist_return",
        /// 解除协办: an assisting unit's help is no longer needed.
        AssistRelease = "assist_release",
        /// 协办延期: an assisting unit's own clock is extended.
        AssistExtend = "assist_extend",
    }
);

string_enum!(
    /// What the reporter said when called back (回访结果). `Unreached` (未回访) is recorded
    /// only once the call-back's time limit has run out (design.md §4).
    Satisfaction {
        /// 满意
        Satisfied = "satisfied",
        /// 基本满意
        BasicallySatisfied = "basically_satisfied",
        /// 不满意: the case goes back to handling as 重办 with a fresh clock.
        Unsatisfied = "unsatisfied",
        /// 未回访: nobody answered within the call-back's time limit.
        Unreached = "unreached",
    }
);

impl Satisfaction {
    pub fn zh(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "满意",
            Satisfaction::BasicallySatisfied => "基本满意",
            Satisfaction::Unsatisfied => "不满意",
            Satisfaction::Unreached => "未回访",
        }
    }

    /// Whether the reporter answered (a rating counts for the satisfaction rate).
    pub fn answered(self) -> bool {
        self != Satisfaction::Unreached
    }
}

impl Action {
    pub fn zh(self) -> &'static str {
        match self {
            Action::Accept => "受理",
            Action::Confirm => "核实属实",
            Action::Register => "立案",
            Action::Void => "作废",
            Action::RollBack => "回退",
            Action::Dispatch => "派遣",
            Action::Return => "退回",
            Action::RequestExtension => "申请延期",
            Action::ApproveExtension => "批准延期",
            Action::RefuseExtension => "驳回延期",
            Action::Suspend => "挂账",
            Action::Resume => "解挂",
            Action::ReportBack => "处置反馈",
            Action::CheckPass => "核查通过",
            Action::CheckFail => "核查不通过(返工)",
            Action::Callback => "回访",
            Action::Close => "结案",
            Action::NotTrue => "核实不属实",
            Action::Redispatch => "改派",
            Action::Merge => "合并",
            Action::Supervise => "督办",
            Action::AssistAdd => "协办派遣",
            Action::AssistReport => "协办反馈",
            Action::AssistReturn => "协办退回",
            Action::AssistRelease => "解除协办",
            Action::AssistExtend => "协办延期",
        }
    }

    /// The legality rule of this action.
    pub fn rule(self) -> &'static Rule {
        // RULES is declared in Action::ALL order; the test below pins that.
        &RULES[self as usize]
    }
}

/// A field an action may require in its command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Note,
    Reason,
    UnitId,
    Extension,
    Attachments,
    Satisfaction,
    /// `merge`: the master case the duplicate is merged into.
    MergeInto,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Note => "note",
            Field::Reason => "reason",
            Field::UnitId => "unit_id",
            Field::Extension => "extension",
            Field::Attachments => "attachments",
            Field::Satisfaction => "satisfaction",
            Field::MergeInto => "merge_into",
        }
    }
}

/// Where an action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    To(CaseState),
    /// `accept`: to_verify for sources that need on-site confirmation, else to_register.
    ByVerification,
    /// `check_pass`: to_callback for cases whose reporter is to be called back, else
    /// to_close.
    ByCallback,
    /// `callback`: back to handling (重办) when the reporter is unsatisfied, else to_close.
    BySatisfaction,
    /// The state does not change (`supervise`: an event on the timeline only).
    Stay,
}

/// The legality rule of one action.
#[derive(Debug)]
pub struct Rule {
    pub action: Action,
    pub from: &'static [CaseState],
    pub roles: &'static [Role],
    pub target: Target,
    pub requires: &'static [Field],
}

use CaseState as S;
use Role as R;

/// Every transition of the machine. The order matches [`Action::ALL`].
pub const RULES: &[Rule] = &[
    Rule {
        action: Action::Accept,
        from: &[S::Received],
        roles: &[R::Operator, R::Supervisor],
        target: Target::ByVerification,
        requires: &[],
    },
    Rule {
        action: Action::Confirm,
        from: &[S::ToVerify],
        roles: &[R::Inspector],
        target: Target::To(S::ToRegister),
        requires: &[],
    },
    Rule {
        action: Action::Register,
        from: &[S::ToRegister],
        roles: &[R::Operator, R::Supervisor],
        target: Target::To(S::ToDispatch),
        requires: &[],
    },
    Rule {
        action: Action::Void,
        from: &[S::Received, S::ToVerify, S::ToRegister],
        roles: &[R::Operator, R::Supervisor],
        target: Target::To(S::Voided),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::RollBack,
        from: &[S::ToDispatch],
        roles: &[R::Dispatcher, R::Supervisor],
        target: Target::To(S::ToRegister),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::Dispatch,
        from: &[S::ToDispatch],
        roles: &[R::Dispatcher, R::Supervisor],
        target: Target::To(S::Handling),
        requires: &[Field::UnitId],
    },
    Rule {
        action: Action::Return,
        from: &[S::Handling],
        roles: &[R::Handler],
        target: Target::To(S::ToDispatch),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::RequestExtension,
        from: &[S::Handling],
        roles: &[R::Handler],
        target: Target::To(S::ExtensionPending),
        requires: &[Field::Extension, Field::Reason],
    },
    Rule {
        action: Action::ApproveExtension,
        from: &[S::ExtensionPending],
        roles: &[R::Supervisor, R::Dispatcher],
        target: Target::To(S::Handling),
        requires: &[],
    },
    Rule {
        action: Action::RefuseExtension,
        from: &[S::ExtensionPending],
        roles: &[R::Supervisor, R::Dispatcher],
        target: Target::To(S::Handling),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::Suspend,
        from: &[S::Handling],
        roles: &[R::Supervisor, R::Dispatcher],
        target: Target::To(S::Suspended),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::Resume,
        from: &[S::Suspended],
        roles: &[R::Supervisor, R::Dispatcher],
        target: Target::To(S::Handling),
        requires: &[],
    },
    Rule {
        action: Action::ReportBack,
        from: &[S::Handling],
        roles: &[R::Handler],
        target: Target::To(S::ToCheck),
        requires: &[Field::Note, Field::Attachments],
    },
    Rule {
        action: Action::CheckPass,
        from: &[S::ToCheck],
        roles: &[R::Inspector],
        target: Target::ByCallback,
        requires: &[],
    },
    Rule {
        action: Action::CheckFail,
        from: &[S::ToCheck],
        roles: &[R::Inspector],
        target: Target::To(S::Handling),
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::Callback,
        from: &[S::ToCallback],
        roles: &[R::Operator, R::Supervisor],
        target: Target::BySatisfaction,
        requires: &[Field::Satisfaction],
    },
    Rule {
        action: Action::Close,
        from: &[S::ToClose],
        roles: &[R::Supervisor, R::Operator],
        target: Target::To(S::Closed),
        requires: &[],
    },
    Rule {
        action: Action::NotTrue,
        from: &[S::ToVerify],
        roles: &[R::Inspector],
        target: Target::To(S::Voided),
        requires: &[Field::Reason, Field::Attachments],
    },
    Rule {
        action: Action::Redispatch,
        from: &[S::Handling],
        roles: &[R::Dispatcher, R::Supervisor],
        target: Target::To(S::Handling),
        requires: &[Field::UnitId, Field::Reason],
    },
    Rule {
        action: Action::Merge,
        // Before a unit works on it: a duplicate is found at intake, verification,
        // registration or dispatch (a case in handling is returned or re-dispatched).
        from: &[S::Received, S::ToVerify, S::ToRegister, S::ToDispatch],
        roles: &[R::Operator, R::Dispatcher, R::Supervisor],
        target: Target::To(S::Voided),
        requires: &[Field::MergeInto, Field::Reason],
    },
    Rule {
        action: Action::Supervise,
        // A unit holds the case and its clock runs (a suspended case's clock is stopped).
        // Whether the light is yellow or red is checked by the case (`Case::decide`).
        from: &[S::Handling, S::ExtensionPending],
        roles: &[R::Supervisor, R::RoadChief],
        target: Target::Stay,
        requires: &[Field::Reason],
    },
    // Co-handling (主办/协办, crate::cohandle): the case stays with its lead unit; which
    // assisting unit an action concerns and whether it is open is checked by the case.
    Rule {
        action: Action::AssistAdd,
        from: &[S::Handling, S::ExtensionPending],
        roles: &[R::Dispatcher, R::Supervisor],
        target: Target::Stay,
        requires: &[Field::UnitId, Field::Note],
    },
    Rule {
        action: Action::AssistReport,
        from: ASSIST_STATES,
        roles: &[R::Handler],
        target: Target::Stay,
        requires: &[Field::Note],
    },
    Rule {
        action: Action::AssistReturn,
        from: ASSIST_STATES,
        roles: &[R::Handler],
        target: Target::Stay,
        requires: &[Field::Reason],
    },
    Rule {
        action: Action::AssistRelease,
        from: ASSIST_STATES,
        roles: &[R::Dispatcher, R::Supervisor, R::Handler],
        target: Target::Stay,
        requires: &[Field::UnitId, Field::Reason],
    },
    Rule {
        action: Action::AssistExtend,
        from: ASSIST_STATES,
        roles: &[R::Dispatcher, R::Supervisor],
        target: Target::Stay,
        requires: &[Field::UnitId, Field::Extension, Field::Reason],
    },
];

/// The states in which an assisting unit's part can move: while the lead holds the case
/// (a lead's return to dispatch leaves the assisting parts as they are).
const ASSIST_STATES: &[CaseState] = &[
    S::Handling,
    S::ExtensionPending,
    S::Suspended,
    S::ToDispatch,
];

/// The actions the case's own reporter (a public actor) may take besides the staff of
/// the rule's roles: answering the call-back (回访) on the public page.
pub const REPORTER_ACTIONS: &[Action] = &[Action::Callback];

/// Limits on free-text fields (characters, not bytes).
pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_ATTACHMENTS: usize = 20;
pub const MAX_ATTACHMENT_REF_CHARS: usize = 128;

/// What a person asks the machine to do, already parsed at the edge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub note: Option<String>,
    pub reason: Option<String>,
    pub unit_id: Option<UnitId>,
    pub extension: Option<TimeLimit>,
    /// References (content hashes) of photos already uploaded.
    pub attachments: Vec<String>,
    /// On `register`: reclassify the case before registering it.
    pub category: Option<CategoryCode>,
    /// A reply written for the citizen (答复市民). The only text of an action the public
    /// ever sees; `note` and `reason` stay internal.
    pub public_reply: Option<String>,
    /// On `void`: the reason category the citizen is told (the `reason` stays internal).
    pub public_reason: Option<crate::public::PublicReason>,
    /// On `callback`: what the reporter said (回访结果).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<Satisfaction>,
    /// On `register`: the urgency the operator sets (紧急/一般); None keeps the case's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<crate::model::Priority>,
    /// On `merge`: the master case, as the service found it (open, not this case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_into: Option<crate::case::MergeRef>,
    /// On `register` with a new category: the unit routing suggests for it (re-routed by
    /// the service with the new category's default unit type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_unit: Option<UnitId>,
}

/// What the state machine needs to know of a case beyond its state: where it came from
/// (accept's target) and whether its reporter can be called back (check_pass's target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub source: Source,
    /// The reporter left a phone number or an e-mail address and did not decline a
    /// call-back (需要回访: no) at intake.
    pub reachable: bool,
}

impl Subject {
    /// Whether a passed check leads to a call-back (回访) before closing.
    pub fn needs_callback(self) -> bool {
        self.source.needs_callback() && self.reachable
    }
}

/// Why an action was refused. Each variant maps to one HTTP status at the edge:
/// role and scope → 403, state → 409, fields → 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("role {role} may not {action}")]
    RoleNotAllowed { action: Action, role: String },
    #[error("{action} is not possible in state {state}")]
    WrongState { action: Action, state: CaseState },
    #[error("this case is not dispatched to your unit")]
    OutOfScope { action: Action },
    #[error("{field} is required for {action}")]
    MissingField { action: Action, field: &'static str },
    #[error("{field}: {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    /// `merge` naming the case itself as its master (409 at the edge, naming `merge_into`).
    #[error("merge_into: a case cannot be merged into itself")]
    MergeIntoItself,
    /// `supervise` on a case whose light is green (or without a running clock).
    #[error("{action} is only for a case whose deadline light is yellow or red")]
    NotDue { action: Action },
    /// `assist_add` naming a unit already assisting on the case (409, naming `unit_id`).
    #[error("unit_id: this unit already assists on the case")]
    AlreadyAssisting,
    /// The lead's `report_back` while an assisting unit is open (409, naming `assists`).
    #[error("assists: {open} assisting unit(s) have not reported back or been released")]
    AssistsOpen { open: usize },
}

/// Checks an action against the rule table: role, then state, then scope, then fields.
/// `case_unit` is the unit the case is dispatched to (for the handler scope rule).
pub fn check(
    action: Action,
    state: CaseState,
    actor: &Actor,
    case_unit: Option<UnitId>,
    cmd: &Command,
) -> Result<CaseState, TransitionError> {
    check_with_source(action, state, actor, case_unit, cmd, None)
}

/// Like [`check`], with what is known of the case to resolve `accept`'s and
/// `check_pass`'s targets (without it: no verification, no call-back).
pub fn check_with_source(
    action: Action,
    state: CaseState,
    actor: &Actor,
    case_unit: Option<UnitId>,
    cmd: &Command,
    subject: Option<Subject>,
) -> Result<CaseState, TransitionError> {
    let rule = action.rule();
    let role = match actor.role {
        ActorRole::Staff(r) if rule.roles.contains(&r) => Some(r),
        // The reporter answers their own call-back on the public page (the service proves
        // who they are by the case's query code); they cannot declare themselves unreached.
        ActorRole::Public if REPORTER_ACTIONS.contains(&action) => {
            if cmd.satisfaction == Some(Satisfaction::Unreached) {
                return Err(TransitionError::InvalidField {
                    field: "satisfaction",
                    problem: "a reporter answers satisfied, basically_satisfied or unsatisfied"
                        .into(),
                });
            }
            None
        }
        ActorRole::Staff(r) => {
            return Err(TransitionError::RoleNotAllowed {
                action,
                role: r.as_str().to_owned(),
            })
        }
        ActorRole::System => {
            return Err(TransitionError::RoleNotAllowed {
                action,
                role: "system".into(),
            })
        }
        ActorRole::Public => {
            return Err(TransitionError::RoleNotAllowed {
                action,
                role: "public".into(),
            })
        }
    };
    if !rule.from.contains(&state) {
        return Err(TransitionError::WrongState { action, state });
    }
    if role == Some(Role::Handler) && (case_unit.is_none() || actor.unit_id != case_unit) {
        return Err(TransitionError::OutOfScope { action });
    }
    check_fields(action, rule.requires, cmd)?;
    Ok(match rule.target {
        Target::To(s) => s,
        Target::ByVerification => {
            if subject.is_some_and(|s| s.source.needs_verification()) {
                CaseState::ToVerify
            } else {
                CaseState::ToRegister
            }
        }
        Target::ByCallback => {
            if subject.is_some_and(Subject::needs_callback) {
                CaseState::ToCallback
            } else {
                CaseState::ToClose
            }
        }
        Target::BySatisfaction => match cmd.satisfaction {
            Some(Satisfaction::Unsatisfied) => CaseState::Handling,
            _ => CaseState::ToClose,
        },
        Target::Stay => state,
    })
}

fn check_fields(action: Action, requires: &[Field], cmd: &Command) -> Result<(), TransitionError> {
    for field in requires {
        let present = match field {
            Field::Note => cmd.note.as_deref().is_some_and(|s| !s.trim().is_empty()),
            Field::Reason => cmd.reason.as_deref().is_some_and(|s| !s.trim().is_empty()),
            Field::UnitId => cmd.unit_id.is_some(),
            Field::Extension => cmd.extension.is_some(),
            Field::Attachments => !cmd.attachments.is_empty(),
            Field::Satisfaction => cmd.satisfaction.is_some(),
            Field::MergeInto => cmd.merge_into.is_some(),
        };
        if !present {
            return Err(TransitionError::MissingField {
                action,
                field: field.as_str(),
            });
        }
    }
    check_len("note", cmd.note.as_deref(), MAX_NOTE_CHARS)?;
    check_len("reason", cmd.reason.as_deref(), MAX_REASON_CHARS)?;
    check_len(
        "public_reply",
        cmd.public_reply.as_deref(),
        crate::public::MAX_PUBLIC_REPLY_CHARS,
    )?;
    if cmd.satisfaction.is_some() && action != Action::Callback {
        return Err(TransitionError::InvalidField {
            field: "satisfaction",
            problem: "only a call-back takes a satisfaction".into(),
        });
    }
    // 重办 needs what the reporter said was still wrong.
    if cmd.satisfaction == Some(Satisfaction::Unsatisfied)
        && cmd.reason.as_deref().is_none_or(|s| s.trim().is_empty())
    {
        return Err(TransitionError::MissingField {
            action,
            field: Field::Reason.as_str(),
        });
    }
    if cmd.public_reason.is_some() && action != Action::Void {
        return Err(TransitionError::InvalidField {
            field: "public_reason",
            problem: "only a void takes a public reason".into(),
        });
    }
    if cmd.priority.is_some() && action != Action::Register {
        return Err(TransitionError::InvalidField {
            field: "priority",
            problem: "only a registration sets the urgency".into(),
        });
    }
    if cmd.merge_into.is_some() && action != Action::Merge {
        return Err(TransitionError::InvalidField {
            field: "merge_into",
            problem: "only a merge names a master case".into(),
        });
    }
    if cmd.attachments.len() > MAX_ATTACHMENTS {
        return Err(TransitionError::InvalidField {
            field: "attachments",
            problem: format!("at most {MAX_ATTACHMENTS} attachments"),
        });
    }
    if cmd
        .attachments
        .iter()
        .any(|a| a.trim().is_empty() || a.chars().count() > MAX_ATTACHMENT_REF_CHARS)
    {
        return Err(TransitionError::InvalidField {
            field: "attachments",
            problem: format!("each reference is 1 to {MAX_ATTACHMENT_REF_CHARS} characters"),
        });
    }
    if let Some(ext) = cmd.extension {
        if ext.amount == 0 {
            return Err(TransitionError::InvalidField {
                field: "extension",
                problem: "must be longer than zero".into(),
            });
        }
    }
    Ok(())
}

fn check_len(field: &'static str, v: Option<&str>, max: usize) -> Result<(), TransitionError> {
    if v.is_some_and(|s| s.chars().count() > max) {
        return Err(TransitionError::InvalidField {
            field,
            problem: format!("at most {max} characters"),
        });
    }
    Ok(())
}

/// Which cases a staff member may read (case detail, lists, rankings drill-down, photo
/// originals). The same rule the state machine applies to a handler's actions
/// ([`TransitionError::OutOfScope`]), extended to road chiefs (design.md §1: a road chief
/// sees every case on their roads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadScope {
    /// Every case of the district.
    All,
    /// Cases dispatched to this unit (handlers).
    Unit(UnitId),
    /// Cases located in this street office (a road chief of a street, by its street code).
    Street(String),
    /// No case (a handler without a unit).
    Nothing,
}

impl ReadScope {
    /// The scope of a staff role. `unit` is the person's unit with, for a street office,
    /// its street code: a handler reads their unit's cases, a road chief of a street
    /// office (一级/二级路长) the cases located in that street, a road chief without a
    /// street (总路长) and every other role every case.
    pub fn of(role: Role, unit: Option<UnitId>, unit_street: Option<&str>) -> ReadScope {
        match (role, unit, unit_street) {
            (Role::Handler, Some(u), _) => ReadScope::Unit(u),
            (Role::Handler, None, _) => ReadScope::Nothing,
            (Role::Enforcer, Some(u), _) => ReadScope::Unit(u),
            (Role::Enforcer, None, _) => ReadScope::Nothing,
            (Role::RoadChief, _, Some(street)) => ReadScope::Street(street.to_owned()),
            _ => ReadScope::All,
        }
    }

    /// Whether a case dispatched to `case_unit` and located in `case_street` is in scope.
    pub fn admits(&self, case_unit: Option<UnitId>, case_street: Option<&str>) -> bool {
        match self {
            ReadScope::All => true,
            ReadScope::Unit(u) => case_unit == Some(*u),
            ReadScope::Street(s) => case_street == Some(s.as_str()),
            ReadScope::Nothing => false,
        }
    }
}

/// The actions a role may take on a case in `state` (the buttons a UI should show).
/// Scope (a handler's own unit) is checked by [`check`], not here.
pub fn allowed_actions(state: CaseState, role: Role) -> Vec<Action> {
    RULES
        .iter()
        .filter(|r| r.from.contains(&state) && r.roles.contains(&role))
        .map(|r| r.action)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::LimitUnit;

    #[test]
    fn read_scope_follows_the_handler_rule_and_road_chiefs_streets() {
        let unit = UnitId::new_v7();
        let other = UnitId::new_v7();
        let h = ReadScope::of(Role::Handler, Some(unit), None);
        assert!(h.admits(Some(unit), Some("410103001")));
        assert!(!h.admits(Some(other), Some("410103001")));
        assert!(!h.admits(None, None));
        assert_eq!(ReadScope::of(Role::Handler, None, None), ReadScope::Nothing);
        let chief = ReadScope::of(Role::RoadChief, Some(unit), Some("410103001"));
        assert!(chief.admits(Some(other), Some("410103001")));
        assert!(!chief.admits(Some(unit), Some("410103002")));
        assert!(!chief.admits(Some(unit), None));
        assert_eq!(ReadScope::of(Role::RoadChief, None, None), ReadScope::All);
        for role in [
            Role::Admin,
            Role::Operator,
            Role::Dispatcher,
            Role::Inspector,
            Role::Supervisor,
        ] {
            assert_eq!(
                ReadScope::of(role, Some(unit), Some("410103001")),
                ReadScope::All
            );
        }
    }

    #[test]
    fn rules_are_listed_in_action_order() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(RULES[i].action, *a);
            assert_eq!(a.rule().action, *a);
        }
    }

    fn full_command(unit: UnitId) -> Command {
        Command {
            note: Some("处理完毕".into()),
            reason: Some("理由".into()),
            unit_id: Some(unit),
            extension: Some(TimeLimit {
                amount: 1,
                unit: LimitUnit::WorkingDays,
            }),
            attachments: vec!["sha256:abc".into()],
            category: None,
            public_reply: Some("已安排处理".into()),
            public_reason: None,
            satisfaction: None,
            priority: None,
            merge_into: None,
            routed_unit: None,
        }
    }

    fn master() -> crate::case::MergeRef {
        crate::case::MergeRef {
            case_id: crate::ids::CaseId::new_v7(),
            number: crate::ids::CaseNumber("410103-20261201-0001".into()),
            unit_id: None,
        }
    }

    /// A command with every field `action` may take (a satisfaction only on a call-back,
    /// a master case only on a merge).
    fn command_for(action: Action, unit: UnitId) -> Command {
        let mut cmd = full_command(unit);
        if action == Action::Callback {
            cmd.satisfaction = Some(Satisfaction::Satisfied);
        }
        if action == Action::Merge {
            cmd.merge_into = Some(master());
        }
        cmd
    }

    /// Every (state, action, role) triple, generated from the table: allowed triples
    /// succeed, every other one is refused with the error the precedence rule predicts.
    #[test]
    fn every_state_action_role_triple_is_allowed_or_refused_with_the_right_error() {
        let unit = UnitId::new_v7();
        let mut allowed = 0;
        for &state in CaseState::ALL {
            for &action in Action::ALL {
                let cmd = command_for(action, unit);
                for &role in Role::ALL {
                    let actor = Actor {
                        person_id: None,
                        role: ActorRole::Staff(role),
                        unit_id: Some(unit),
                    };
                    let rule = action.rule();
                    let got = check(action, state, &actor, Some(unit), &cmd);
                    if !rule.roles.contains(&role) {
                        assert!(
                            matches!(got, Err(TransitionError::RoleNotAllowed { .. })),
                            "{state} {action} {role}: {got:?}"
                        );
                    } else if !rule.from.contains(&state) {
                        assert_eq!(got, Err(TransitionError::WrongState { action, state }));
                    } else {
                        allowed += 1;
                        let to = got.unwrap_or_else(|e| panic!("{state} {action} {role}: {e}"));
                        match rule.target {
                            Target::To(t) => assert_eq!(to, t),
                            Target::Stay => assert_eq!(to, state),
                            _ => {}
                        }
                    }
                }
            }
        }
        // 21 actions; the number of (from-state, role) pairs in the table.
        let expected: usize = RULES.iter().map(|r| r.from.len() * r.roles.len()).sum();
        assert_eq!(allowed, expected);
    }

    #[test]
    fn the_loop_completions_are_rules_of_the_table() {
        let rule = |a: Action| {
            let r = a.rule();
            (
                r.from.to_vec(),
                r.roles.to_vec(),
                r.target,
                r.requires.to_vec(),
            )
        };
        assert_eq!(
            rule(Action::NotTrue),
            (
                vec![S::ToVerify],
                vec![R::Inspector],
                Target::To(S::Voided),
                vec![Field::Reason, Field::Attachments]
            )
        );
        assert_eq!(
            rule(Action::Redispatch),
            (
                vec![S::Handling],
                vec![R::Dispatcher, R::Supervisor],
                Target::To(S::Handling),
                vec![Field::UnitId, Field::Reason]
            )
        );
        assert_eq!(
            rule(Action::Merge),
            (
                vec![S::Received, S::ToVerify, S::ToRegister, S::ToDispatch],
                vec![R::Operator, R::Dispatcher, R::Supervisor],
                Target::To(S::Voided),
                vec![Field::MergeInto, Field::Reason]
            )
        );
        assert_eq!(
            rule(Action::Supervise),
            (
                vec![S::Handling, S::ExtensionPending],
                vec![R::Supervisor, R::RoadChief],
                Target::Stay,
                vec![Field::Reason]
            )
        );
        // The buttons follow: a dispatcher in handling sees 改派, a road chief 督办, an
        // inspector in verification both outcomes.
        assert!(allowed_actions(S::Handling, R::Dispatcher).contains(&Action::Redispatch));
        assert_eq!(
            allowed_actions(S::Handling, R::RoadChief),
            vec![Action::Supervise]
        );
        assert_eq!(
            allowed_actions(S::ToVerify, R::Inspector),
            vec![Action::Confirm, Action::NotTrue]
        );
        // A merge names its master; only a merge does.
        let op = staff(R::Operator);
        let no_master = Command {
            reason: Some("重复".into()),
            ..Command::default()
        };
        assert_eq!(
            check(Action::Merge, S::Received, &op, None, &no_master),
            Err(TransitionError::MissingField {
                action: Action::Merge,
                field: "merge_into"
            })
        );
        let stray = Command {
            reason: Some("理由".into()),
            merge_into: Some(master()),
            ..Command::default()
        };
        assert!(matches!(
            check(Action::Void, S::Received, &op, None, &stray),
            Err(TransitionError::InvalidField {
                field: "merge_into",
                ..
            })
        ));
    }

    #[test]
    fn terminal_states_allow_nothing() {
        for &role in Role::ALL {
            assert!(allowed_actions(CaseState::Closed, role).is_empty());
            assert!(allowed_actions(CaseState::Voided, role).is_empty());
        }
    }

    #[test]
    fn system_and_public_actors_cannot_move_a_case_except_the_reporter_answering_a_callback() {
        for &action in Action::ALL {
            for &state in CaseState::ALL {
                for actor in [Actor::system(), Actor::public()] {
                    let cmd = command_for(action, UnitId::new_v7());
                    let got = check(action, state, &actor, None, &cmd);
                    let reporter = actor.role == ActorRole::Public
                        && action == Action::Callback
                        && state == CaseState::ToCallback;
                    if reporter {
                        assert_eq!(got, Ok(CaseState::ToClose));
                    } else if actor.role == ActorRole::Public && action == Action::Callback {
                        assert_eq!(got, Err(TransitionError::WrongState { action, state }));
                    } else {
                        assert!(
                            matches!(got, Err(TransitionError::RoleNotAllowed { .. })),
                            "{state} {action} {actor:?}: {got:?}"
                        );
                    }
                }
            }
        }
        // The reporter cannot record that nobody answered.
        let unreached = Command {
            satisfaction: Some(Satisfaction::Unreached),
            ..Command::default()
        };
        assert!(matches!(
            check(
                Action::Callback,
                CaseState::ToCallback,
                &Actor::public(),
                None,
                &unreached
            ),
            Err(TransitionError::InvalidField {
                field: "satisfaction",
                ..
            })
        ));
    }

    #[test]
    fn accept_sends_public_reports_to_verification_and_inspector_reports_to_registration() {
        let op = Actor {
            person_id: None,
            role: ActorRole::Staff(Role::Operator),
            unit_id: None,
        };
        let c = Command::default();
        let f = |source| {
            let subject = Subject {
                source,
                reachable: true,
            };
            check_with_source(
                Action::Accept,
                CaseState::Received,
                &op,
                None,
                &c,
                Some(subject),
            )
        };
        assert_eq!(f(Source::Public), Ok(CaseState::ToVerify));
        assert_eq!(f(Source::Hotline12345), Ok(CaseState::ToVerify));
        assert_eq!(f(Source::Inspector), Ok(CaseState::ToRegister));
    }

    fn staff(role: Role) -> Actor {
        Actor {
            person_id: None,
            role: ActorRole::Staff(role),
            unit_id: None,
        }
    }

    #[test]
    fn a_passed_check_leads_to_a_callback_only_for_reachable_public_and_hotline_reporters() {
        let c = Command::default();
        let f = |source, reachable| {
            check_with_source(
                Action::CheckPass,
                CaseState::ToCheck,
                &staff(Role::Inspector),
                None,
                &c,
                Some(Subject { source, reachable }),
            )
        };
        assert_eq!(f(Source::Public, true), Ok(CaseState::ToCallback));
        assert_eq!(f(Source::Hotline12345, true), Ok(CaseState::ToCallback));
        // Nobody to call: an anonymous report closes without a call-back.
        assert_eq!(f(Source::Public, false), Ok(CaseState::ToClose));
        // Staff reports are not called back.
        assert_eq!(f(Source::Inspector, true), Ok(CaseState::ToClose));
        assert_eq!(f(Source::Sensor, true), Ok(CaseState::ToClose));
    }

    #[test]
    fn an_unsatisfied_callback_sends_the_case_back_to_handling_and_needs_a_reason() {
        let op = staff(Role::Operator);
        let cb = |satisfaction, reason: Option<&str>| {
            let cmd = Command {
                satisfaction: Some(satisfaction),
                reason: reason.map(str::to_owned),
                ..Command::default()
            };
            check(Action::Callback, CaseState::ToCallback, &op, None, &cmd)
        };
        assert_eq!(cb(Satisfaction::Satisfied, None), Ok(CaseState::ToClose));
        assert_eq!(
            cb(Satisfaction::BasicallySatisfied, None),
            Ok(CaseState::ToClose)
        );
        assert_eq!(cb(Satisfaction::Unreached, None), Ok(CaseState::ToClose));
        assert_eq!(
            cb(Satisfaction::Unsatisfied, Some("垃圾还在")),
            Ok(CaseState::Handling)
        );
        assert_eq!(
            cb(Satisfaction::Unsatisfied, Some("  ")),
            Err(TransitionError::MissingField {
                action: Action::Callback,
                field: "reason"
            })
        );
        // A callback without a result names the field.
        assert_eq!(
            check(
                Action::Callback,
                CaseState::ToCallback,
                &op,
                None,
                &Command::default()
            ),
            Err(TransitionError::MissingField {
                action: Action::Callback,
                field: "satisfaction"
            })
        );
    }

    #[test]
    fn a_satisfaction_on_any_other_action_is_an_invalid_field() {
        let cmd = Command {
            satisfaction: Some(Satisfaction::Satisfied),
            ..Command::default()
        };
        let got = check(
            Action::Close,
            CaseState::ToClose,
            &staff(Role::Operator),
            None,
            &cmd,
        );
        assert!(matches!(
            got,
            Err(TransitionError::InvalidField {
                field: "satisfaction",
                ..
            })
        ));
    }

    #[test]
    fn a_handler_of_another_unit_is_out_of_scope() {
        let h = Actor {
            person_id: None,
            role: ActorRole::Staff(Role::Handler),
            unit_id: Some(UnitId::new_v7()),
        };
        let cmd = full_command(UnitId::new_v7());
        let got = check(
            Action::ReportBack,
            CaseState::Handling,
            &h,
            Some(UnitId::new_v7()),
            &cmd,
        );
        assert_eq!(
            got,
            Err(TransitionError::OutOfScope {
                action: Action::ReportBack
            })
        );
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        let unit = UnitId::new_v7();
        for rule in RULES {
            for &field in rule.requires {
                let mut cmd = command_for(rule.action, unit);
                match field {
                    Field::Note => cmd.note = Some("  ".into()),
                    Field::Reason => cmd.reason = None,
                    Field::UnitId => cmd.unit_id = None,
                    Field::Extension => cmd.extension = None,
                    Field::Attachments => cmd.attachments.clear(),
                    Field::Satisfaction => cmd.satisfaction = None,
                    Field::MergeInto => cmd.merge_into = None,
                }
                let actor = Actor {
                    person_id: None,
                    role: ActorRole::Staff(rule.roles[0]),
                    unit_id: Some(unit),
                };
                let got = check(rule.action, rule.from[0], &actor, Some(unit), &cmd);
                assert_eq!(
                    got,
                    Err(TransitionError::MissingField {
                        action: rule.action,
                        field: field.as_str()
                    })
                );
            }
        }
    }

    #[test]
    fn overlong_reason_is_an_invalid_field() {
        let unit = UnitId::new_v7();
        let mut cmd = full_command(unit);
        cmd.reason = Some("长".repeat(MAX_REASON_CHARS + 1));
        let actor = Actor {
            person_id: None,
            role: ActorRole::Staff(Role::Operator),
            unit_id: None,
        };
        let got = check(Action::Void, CaseState::Received, &actor, None, &cmd);
        assert!(matches!(
            got,
            Err(TransitionError::InvalidField {
                field: "reason",
                ..
            })
        ));
    }
}
