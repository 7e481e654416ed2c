//! Enforcement records (执法记录): the administrative-penalty procedure of one case
//! against one party as a closed state machine, its statutory time limits as stage
//! clocks with lights, the legal basis (a row of the district's law-article table) and
//! the penalty checked against the article's range.
//!
//! The general procedure (普通程序): 立案 → 调查取证 → 告知 (陈述申辩; 听证 when the
//! party has the right and asks) → 决定 → 送达 → 执行 → 结案; a case may be dropped
//! (不予处罚/撤销立案) before a decision. The simplified procedure (简易程序, 当场处罚) is one
//! step that decides and hands over the decision on the spot, then 执行 → 结案.
//!
//! A record is a fold over its steps ([`Record::from_steps`]); steps are append-only and a
//! mistake is fixed by a `correct` step that names the step it corrects, never by editing.
//! Nothing here reads a clock or a table: the caller passes the instant, the calendar,
//! the party's kind and the article. The legal references in [`LIMITS`] and
//! [`ON_THE_SPOT_MAX_YUAN`] cite the 2021 行政处罚法; each says whether it was checked
//! against a published text (`verified`) or is quoted from memory (`未核实`).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Light, LimitUnit, StageClock, TimeLimit, TimeMode, WorkCalendar};
use crate::model::string_enum;
use crate::party::PartyKind;

string_enum!(
    /// Where a record stands.
    ProcState {
        /// 立案: the case is opened.
        Filed = "filed",
        /// 调查取证: evidence is being gathered.
        Investigating = "investigating",
        /// 告知: the party was told the facts, the basis and their rights (陈述申辩, 听证).
        Notified = "notified",
        /// 听证: the party asked for a hearing.
        Hearing = "hearing",
        /// 决定: the decision is made.
        Decided = "decided",
        /// 送达: the decision was delivered to the party.
        Served = "served",
        /// 执行: the penalty was carried out (a fine paid, a warning given).
        Executed = "executed",
        /// 结案: the record is closed.
        Closed = "closed",
    }
);

impl ProcState {
    pub fn zh(self) -> &'static str {
        match self {
            ProcState::Filed => "立案",
            ProcState::Investigating => "调查取证",
            ProcState::Notified => "告知",
            ProcState::Hearing => "听证",
            ProcState::Decided => "决定",
            ProcState::Served => "送达",
            ProcState::Executed => "执行",
            ProcState::Closed => "结案",
        }
    }
}

string_enum!(
    /// The two procedures.
    Procedure {
        /// 普通程序.
        General = "general",
        /// 简易程序 (当场处罚).
        OnTheSpot = "on_the_spot",
    }
);

string_enum!(
    /// One step of a record.
    StepKind {
        /// 立案 (opens a general record; document: 立案审批表).
        File = "file",
        /// 调查取证 (repeatable; document: 询问笔录, 勘验笔录 …).
        Investigate = "investigate",
        /// 告知 (document: 行政处罚告知书; says whether the party may ask for a hearing).
        Notify = "notify",
        /// 陈述申辩 received (repeatable while notified).
        Statement = "statement",
        /// The party asks for a hearing (听证申请).
        RequestHearing = "request_hearing",
        /// The hearing is held (document: 听证笔录).
        HoldHearing = "hold_hearing",
        /// 决定 (document: 行政处罚决定书; needs the legal basis and the penalty).
        Decide = "decide",
        /// 送达 (document: 送达回证).
        Serve = "serve",
        /// 执行 (document: 罚没款票据 or the record of execution).
        Execute = "execute",
        /// 结案 (document: 结案审批表).
        Close = "close",
        /// 不予处罚 / 撤销立案 before a decision (needs a reason; closes the record).
        Drop = "drop",
        /// 简易程序: decided and handed over on the spot (opens an on-the-spot record).
        OnTheSpot = "on_the_spot",
        /// Corrects an earlier step's document number or amount (needs a reason).
        Correct = "correct",
    }
);

string_enum!(
    /// The penalty of a decision.
    PenaltyKind {
        /// 警告.
        Warning = "warning",
        /// 罚款.
        Fine = "fine",
    }
);

/// A row of the district's law-article table (`data/law-articles.csv`): what an article
/// forbids and the penalties it allows, with its source and whether that source was
/// checked (`verified`) or not (`未核实`, shown wherever the article is shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LawArticle {
    /// The district's key for the row (`csr-34-1`).
    pub code: String,
    /// The law or regulation (《城市市容和环境卫生管理条例》).
    pub law: String,
    /// The article (第三十四条第一项).
    pub article: String,
    /// What it forbids, in short.
    pub forbids: String,
    /// Whether a warning is allowed.
    pub warning: bool,
    /// Fine range for a person; `None`: no fine for a person.
    pub person_fine: Option<FineRange>,
    /// Fine range for an organisation; `None`: no fine.
    pub org_fine: Option<FineRange>,
    /// Where the row comes from (law, issuing body, date, article).
    pub source: String,
    /// `verified` (checked against a published text) or `未核实`.
    pub status: String,
}

/// An inclusive range of fines in whole yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FineRange {
    pub min_yuan: i64,
    pub max_yuan: i64,
}

/// An article's status when its text was not checked against a published source.
pub const UNVERIFIED: &str = "未核实";

/// The largest amount of an on-the-spot fine, in yuan, per party kind: 行政处罚法 (2021)
/// 第五十一条, 对公民处二百元以下、对法人或者其他组织处三千元以下罚款或者警告 (未核实: quoted
/// from memory of the 2021 text, not checked against it here).
pub const ON_THE_SPOT_MAX_YUAN: [(PartyKind, i64); 2] =
    [(PartyKind::Person, 200), (PartyKind::Organisation, 3000)];

/// The largest amount of any fine the system accepts (a typing guard, not law).
pub const MAX_AMOUNT_YUAN: i64 = 100_000_000;

/// One step as submitted: the kind, when it happened, and the fields the kind needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub kind: Option<StepKind>,
    /// When the step happened (the document's date); never after "now".
    pub at: Option<DateTime<Utc>>,
    /// The document number (文书编号).
    pub doc_no: Option<String>,
    pub note: Option<String>,
    /// `notify`: whether the party has the right to a hearing (行政处罚法 第六十三条).
    pub hearing_right: Option<bool>,
    /// `decide`/`on_the_spot`: the legal basis (a law-article code).
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    /// `decide`/`on_the_spot`/`correct`: the fine in whole yuan.
    pub amount_yuan: Option<i64>,
    /// `correct`: the sequence number of the corrected step.
    pub corrects: Option<u32>,
    /// Attachment ids of the case (evidence photos, scanned documents).
    pub attachments: Vec<String>,
}

/// A stored step: its sequence number in the record (1, 2, …) and the checked step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEvent {
    pub seq: u32,
    pub kind: StepKind,
    pub at: DateTime<Utc>,
    pub doc_no: Option<String>,
    pub note: Option<String>,
    pub hearing_right: Option<bool>,
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    pub amount_yuan: Option<i64>,
    pub corrects: Option<u32>,
    pub attachments: Vec<String>,
}

/// Why a step was refused: the field, and whether the step is out of order (409) or its
/// content is wrong (422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct StepError {
    pub field: &'static str,
    pub problem: String,
    pub out_of_order: bool,
}

fn bad(field: &'static str, problem: impl Into<String>) -> StepError {
    StepError {
        field,
        problem: problem.into(),
        out_of_order: false,
    }
}

fn order(problem: impl Into<String>) -> StepError {
    StepError {
        field: "kind",
        problem: problem.into(),
        out_of_order: true,
    }
}

/// What a step is checked against besides the record.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    pub now: DateTime<Utc>,
    pub cal: &'a WorkCalendar,
    /// The kind of the party the record is against.
    pub party: PartyKind,
    /// The article named by the step's `article`, looked up by the caller; `None` when
    /// the step names none or an unknown one.
    pub article: Option<&'a LawArticle>,
}

/// The folded record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub procedure: Procedure,
    pub state: ProcState,
    pub filed_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub hearing_right: bool,
    pub hearing_requested: bool,
    pub hearing_held: bool,
    pub decided_at: Option<DateTime<Utc>>,
    pub served_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The legal basis of the decision.
    pub article: Option<String>,
    pub penalty: Option<PenaltyKind>,
    /// The fine, after corrections.
    pub amount_yuan: Option<i64>,
    /// Whether the record was dropped (不予处罚/撤销立案) rather than decided.
    pub dropped: bool,
    /// The steps, in order (corrections included).
    pub steps: Vec<StepEvent>,
}

const MAX_DOC_NO: usize = 64;
const MAX_NOTE: usize = 2000;
const MAX_ATTACHMENTS: usize = 20;

fn text(v: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>, StepError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(bad(field, format!("at most {max} characters"))),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn need<T: Clone>(v: &Option<T>, field: &'static str, what: &str) -> Result<T, StepError> {
    v.clone()
        .ok_or_else(|| bad(field, format!("required: {what}")))
}

/// Checks a penalty against an article and, for the simplified procedure, against the
/// on-the-spot limit. Fields named: `article`, `penalty`, `amount_yuan`.
pub fn check_penalty(
    article: Option<&LawArticle>,
    party: PartyKind,
    penalty: Option<PenaltyKind>,
    amount: Option<i64>,
    on_the_spot: bool,
) -> Result<(), StepError> {
    let a = article.ok_or_else(|| {
        bad(
            "article",
            "a decision needs its legal basis: a code of the law-article table",
        )
    })?;
    let penalty = need(&penalty, "penalty", "warning or fine")?;
    match penalty {
        PenaltyKind::Warning => {
            if !a.warning {
                return Err(bad(
                    "penalty",
                    format!("{} {} does not allow a warning", a.law, a.article),
                ));
            }
            if amount.is_some_and(|x| x != 0) {
                return Err(bad("amount_yuan", "a warning has no amount"));
            }
        }
        PenaltyKind::Fine => {
            let amount = need(&amount, "amount_yuan", "the fine in yuan")?;
            let range = match party {
                PartyKind::Person => a.person_fine,
                PartyKind::Organisation => a.org_fine,
            };
            let Some(FineRange {
                min_yuan: min,
                max_yuan: max,
            }) = range
            else {
                return Err(bad(
                    "penalty",
                    format!(
                        "{} {} allows no fine for a {}",
                        a.law,
                        a.article,
                        party.zh()
                    ),
                ));
            };
            if amount < min || amount > max {
                return Err(bad(
                    "amount_yuan",
                    format!(
                        "{amount} yuan is outside {} {}: {min} to {max} yuan for a {}",
                        a.law,
                        a.article,
                        party.zh()
                    ),
                ));
            }
            if on_the_spot {
                let limit = ON_THE_SPOT_MAX_YUAN
                    .iter()
                    .find(|(k, _)| *k == party)
                    .map_or(0, |(_, l)| *l);
                if amount > limit {
                    return Err(bad(
                        "amount_yuan",
                        format!(
                            "an on-the-spot fine for a {} is at most {limit} yuan (行政处罚法 第五十一条); use the general procedure",
                            party.zh()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks `step` against the record so far (`None`: no record yet) and returns the step
/// to store. Precedence: kind → order → time → fields → penalty.
pub fn decide(
    record: Option<&Record>,
    step: &Step,
    ctx: &StepContext<'_>,
) -> Result<StepEvent, StepError> {
    let kind = need(&step.kind, "kind", "the step")?;
    let at = need(&step.at, "at", "when the step happened")?;
    if at > ctx.now {
        return Err(bad("at", "is in the future"));
    }
    let doc_no = text(&step.doc_no, "doc_no", MAX_DOC_NO)?;
    let note = text(&step.note, "note", MAX_NOTE)?;
    if step.attachments.len() > MAX_ATTACHMENTS {
        return Err(bad(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} per step"),
        ));
    }
    if let Some(a) = step.amount_yuan {
        if !(0..=MAX_AMOUNT_YUAN).contains(&a) {
            return Err(bad(
                "amount_yuan",
                format!("must be 0 to {MAX_AMOUNT_YUAN}"),
            ));
        }
    }

    // Order: which kinds may follow the record's state.
    let state = record.map(|r| r.state);
    let allowed = match (state, kind) {
        (None, StepKind::File | StepKind::OnTheSpot) => true,
        (None, _) => false,
        (Some(_), StepKind::File | StepKind::OnTheSpot) => false,
        (Some(_), StepKind::Correct) => true,
        (Some(s), k) => next_kinds(record, s).contains(&k),
    };
    if !allowed {
        return Err(order(match state {
            None => format!("{kind} cannot open a record: start with file or on_the_spot"),
            Some(s) => format!(
                "{kind} is not possible in state {s} ({}); next: {}",
                s.zh(),
                next_kinds(record, s)
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    }
    if let Some(r) = record {
        let last = r.steps.last().map_or(r.filed_at, |s| s.at);
        if at < last && kind != StepKind::Correct {
            return Err(bad("at", "is before the record's previous step"));
        }
    }

    let needs_doc = !matches!(
        kind,
        StepKind::Statement | StepKind::RequestHearing | StepKind::Drop | StepKind::Correct
    );
    if needs_doc && doc_no.is_none() {
        return Err(bad("doc_no", format!("{kind} needs its document number")));
    }
    let mut ev = StepEvent {
        seq: record.map_or(1, |r| u32::try_from(r.steps.len() + 1).unwrap_or(u32::MAX)),
        kind,
        at,
        doc_no,
        note,
        hearing_right: None,
        article: None,
        penalty: None,
        amount_yuan: None,
        corrects: None,
        attachments: step.attachments.clone(),
    };
    match kind {
        StepKind::Notify => {
            ev.hearing_right = Some(need(
                &step.hearing_right,
                "hearing_right",
                "whether the party may ask for a hearing",
            )?);
        }
        StepKind::Statement | StepKind::Drop if ev.note.is_none() => {
            return Err(bad(
                "note",
                if kind == StepKind::Drop {
                    "required: why no penalty is imposed"
                } else {
                    "required: what the party stated"
                },
            ));
        }
        StepKind::RequestHearing => {
            let r = record.ok_or_else(|| order("no record"))?;
            if !r.hearing_right {
                return Err(order("the notice gave no right to a hearing"));
            }
            if let Some(w) = hearing_window(r, ctx.cal) {
                if at > w {
                    return Err(bad(
                        "at",
                        "the period to ask for a hearing had ended (行政处罚法 第六十四条: 5 days after the notice)",
                    ));
                }
            }
        }
        StepKind::Decide | StepKind::OnTheSpot => {
            check_penalty(
                ctx.article,
                ctx.party,
                step.penalty,
                step.amount_yuan,
                kind == StepKind::OnTheSpot,
            )?;
            if let (Some(r), StepKind::Decide) = (record, kind) {
                if r.hearing_right && !r.hearing_requested {
                    if let Some(w) = hearing_window(r, ctx.cal) {
                        if at <= w {
                            return Err(order(format!(
                                "the party may ask for a hearing until {w}: decide after that, or record the hearing first"
                            )));
                        }
                    }
                }
            }
            ev.article = ctx.article.map(|a| a.code.clone());
            ev.penalty = step.penalty;
            ev.amount_yuan = match step.penalty {
                Some(PenaltyKind::Fine) => step.amount_yuan,
                _ => None,
            };
        }
        StepKind::Correct => {
            let r = record.ok_or_else(|| order("no record"))?;
            let target = need(&step.corrects, "corrects", "the step to correct")?;
            let Some(t) = r.steps.iter().find(|s| s.seq == target) else {
                return Err(bad("corrects", format!("no step {target} in this record")));
            };
            if t.kind == StepKind::Correct {
                return Err(bad(
                    "corrects",
                    "correct the original step, not a correction",
                ));
            }
            if ev.note.is_none() {
                return Err(bad("note", "required: why the step is corrected"));
            }
            if ev.doc_no.is_none() && step.amount_yuan.is_none() {
                return Err(bad(
                    "doc_no",
                    "a correction gives a new document number or a new amount",
                ));
            }
            if let Some(amount) = step.amount_yuan {
                if !matches!(t.kind, StepKind::Decide | StepKind::OnTheSpot)
                    || t.penalty != Some(PenaltyKind::Fine)
                {
                    return Err(bad("amount_yuan", "only a fine decision has an amount"));
                }
                let article = ctx
                    .article
                    .filter(|a| Some(a.code.as_str()) == t.article.as_deref());
                check_penalty(
                    article,
                    ctx.party,
                    Some(PenaltyKind::Fine),
                    Some(amount),
                    t.kind == StepKind::OnTheSpot,
                )?;
                ev.amount_yuan = Some(amount);
            }
            ev.corrects = Some(target);
        }
        _ => {}
    }
    Ok(ev)
}

/// The kinds that may follow in `state` (corrections always may).
pub fn next_kinds(record: Option<&Record>, state: ProcState) -> Vec<StepKind> {
    use StepKind as K;
    match state {
        ProcState::Filed => vec![K::Investigate, K::Drop],
        ProcState::Investigating => vec![K::Investigate, K::Notify, K::Drop],
        ProcState::Notified => {
            let mut v = vec![K::Statement];
            if record.is_some_and(|r| r.hearing_right && !r.hearing_requested) {
                v.push(K::RequestHearing);
            }
            v.extend([K::Decide, K::Drop]);
            v
        }
        ProcState::Hearing if record.is_some_and(|r| r.hearing_held) => {
            vec![K::Decide, K::Drop]
        }
        ProcState::Hearing => vec![K::HoldHearing],
        ProcState::Decided => vec![K::Serve],
        ProcState::Served => vec![K::Execute],
        ProcState::Executed => vec![K::Close],
        ProcState::Closed => vec![],
    }
}

impl Record {
    /// Opens a record from its first step (`file` or `on_the_spot`).
    fn open(ev: &StepEvent) -> Option<Record> {
        let (procedure, state) = match ev.kind {
            StepKind::File => (Procedure::General, ProcState::Filed),
            StepKind::OnTheSpot => (Procedure::OnTheSpot, ProcState::Served),
            _ => return None,
        };
        let mut r = Record {
            procedure,
            state,
            filed_at: ev.at,
            notified_at: None,
            hearing_right: false,
            hearing_requested: false,
            hearing_held: false,
            decided_at: None,
            served_at: None,
            executed_at: None,
            closed_at: None,
            article: None,
            penalty: None,
            amount_yuan: None,
            dropped: false,
            steps: vec![ev.clone()],
        };
        if ev.kind == StepKind::OnTheSpot {
            r.decided_at = Some(ev.at);
            r.served_at = Some(ev.at);
            r.article.clone_from(&ev.article);
            r.penalty = ev.penalty;
            r.amount_yuan = ev.amount_yuan;
        }
        Some(r)
    }

    /// Applies a checked step.
    pub fn apply(&mut self, ev: &StepEvent) {
        use StepKind as K;
        match ev.kind {
            K::File | K::OnTheSpot => {}
            K::Investigate => self.state = ProcState::Investigating,
            K::Notify => {
                self.state = ProcState::Notified;
                self.notified_at = Some(ev.at);
                self.hearing_right = ev.hearing_right.unwrap_or(false);
            }
            K::Statement => {}
            K::RequestHearing => {
                self.state = ProcState::Hearing;
                self.hearing_requested = true;
            }
            K::HoldHearing => self.hearing_held = true,
            K::Decide => {
                self.state = ProcState::Decided;
                self.decided_at = Some(ev.at);
                self.article.clone_from(&ev.article);
                self.penalty = ev.penalty;
                self.amount_yuan = ev.amount_yuan;
            }
            K::Serve => {
                self.state = ProcState::Served;
                self.served_at = Some(ev.at);
            }
            K::Execute => {
                self.state = ProcState::Executed;
                self.executed_at = Some(ev.at);
            }
            K::Close => {
                self.state = ProcState::Closed;
                self.closed_at = Some(ev.at);
            }
            K::Drop => {
                self.state = ProcState::Closed;
                self.closed_at = Some(ev.at);
                self.dropped = true;
            }
            K::Correct => {
                if let Some(a) = ev.amount_yuan {
                    self.amount_yuan = Some(a);
                }
            }
        }
        self.steps.push(ev.clone());
    }

    /// Folds stored steps (in sequence order); `None` for an empty list or one that does
    /// not open with `file`/`on_the_spot`.
    pub fn from_steps(steps: &[StepEvent]) -> Option<Record> {
        let (first, rest) = steps.split_first()?;
        let mut r = Record::open(first)?;
        for ev in rest {
            r.apply(ev);
        }
        Some(r)
    }

    /// A step's document number after corrections.
    pub fn doc_no(&self, seq: u32) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|s| {
                (s.seq == seq && s.kind != StepKind::Correct)
                    || (s.corrects == Some(seq) && s.doc_no.is_some())
            })
            .and_then(|s| s.doc_no.as_deref())
    }

    /// Whether the record ends in a penalty (decided and not dropped).
    pub fn is_penalty(&self) -> bool {
        self.decided_at.is_some() && !self.dropped
    }
}

string_enum!(
    /// A statutory time limit of the procedure.
    LimitKind {
        /// 作出决定: within 90 days of 立案.
        Decide = "decide",
        /// 听证申请期: the party may ask for a hearing within 5 days of the notice.
        HearingRequest = "hearing_request",
        /// 送达: within 7 days of the decision when not handed over at once.
        Serve = "serve",
        /// 缴纳罚款: within 15 days of receiving the decision.
        Pay = "pay",
    }
);

/// A statutory limit: its length, its legal source, and whether that was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    pub kind: LimitKind,
    pub limit: TimeLimit,
    pub basis: &'static str,
    pub status: &'static str,
}

/// The limits. Day counts: 行政处罚法 第八十五条 says its 二日、三日、五日、七日 are working
/// days (工作日, 不含法定节假日); longer periods are natural days, ending at the end of
/// the last day in the district's zone (期间开始之日不计算在内).
pub const LIMITS: &[LimitRule] = &[
    LimitRule {
        kind: LimitKind::Decide,
        limit: TimeLimit {
            amount: 90,
            unit: LimitUnit::NaturalDays,
        },
        basis: "行政处罚法（2021修订）第六十条：自立案之日起九十日内作出行政处罚决定；法律、法规、规章另有规定的，从其规定",
        status: "verified",
    },
    LimitRule {
        kind: LimitKind::HearingRequest,
        limit: TimeLimit {
            amount: 5,
            unit: LimitUnit::WorkingDays,
        },
        basis: "行政处罚法（2021修订）第六十四条第一项：当事人要求听证的，应当在行政机关告知后五日内提出；第八十五条：五日指工作日",
        status: UNVERIFIED,
    },
    LimitRule {
        kind: LimitKind::Serve,
        limit: TimeLimit {
            amount: 7,
            unit: LimitUnit::WorkingDays,
        },
        basis: "行政处罚法（2021修订）第六十一条：当事人不在场的，应当在七日内送达；第八十五条：七日指工作日",
        status: UNVERIFIED,
    },
    LimitRule {
        kind: LimitKind::Pay,
        limit: TimeLimit {
            amount: 15,
            unit: LimitUnit::NaturalDays,
        },
        basis: "行政处罚法（2021修订）第六十七条：当事人应当自收到行政处罚决定书之日起十五日内缴纳罚款",
        status: UNVERIFIED,
    },
];

/// A running or finished statutory clock of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LimitClock {
    pub kind: LimitKind,
    /// `90自然日`, `7工作日`.
    pub limit: String,
    pub basis: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// When the limited act happened; `None` while the clock runs.
    pub done_at: Option<DateTime<Utc>>,
    /// The light now (running) or at `done_at` (finished).
    pub light: Light,
}

fn rule(kind: LimitKind) -> &'static LimitRule {
    // LIMITS has one row per kind (test `every_limit_kind_has_one_rule`).
    LIMITS.iter().find(|r| r.kind == kind).unwrap_or(&LIMITS[0])
}

/// The clock of a limit started at `start`: natural days end at the end of the last day
/// in the calendar's zone, working days are the calendar's working time.
pub fn limit_clock(rule: &LimitRule, cal: &WorkCalendar, start: DateTime<Utc>) -> StageClock {
    match rule.limit.mode() {
        TimeMode::Clock => {
            let tz = cal.tz();
            let local = start.with_timezone(&tz).date_naive();
            let last = local + Duration::days(i64::from(rule.limit.amount) + 1);
            let end = tz
                .from_local_datetime(&last.and_time(NaiveTime::MIN))
                .earliest()
                .map_or(start + rule.limit.duration(cal), |t| t.with_timezone(&Utc));
            StageClock::start(TimeMode::Clock, start, end - start)
        }
        TimeMode::Working => StageClock::start(TimeMode::Working, start, rule.limit.duration(cal)),
    }
}

fn hearing_window(r: &Record, cal: &WorkCalendar) -> Option<DateTime<Utc>> {
    let n = r.notified_at?;
    Some(limit_clock(rule(LimitKind::HearingRequest), cal, n).deadline(cal))
}

/// The statutory clocks that apply to a record, with their lights at `now`.
pub fn clocks(r: &Record, cal: &WorkCalendar, now: DateTime<Utc>) -> Vec<LimitClock> {
    let mut out = Vec::new();
    let mut push = |kind: LimitKind, start: DateTime<Utc>, done: Option<DateTime<Utc>>| {
        let rule = rule(kind);
        let clock = limit_clock(rule, cal, start);
        out.push(LimitClock {
            kind,
            limit: rule.limit.to_string(),
            basis: rule.basis.to_owned(),
            status: rule.status.to_owned(),
            started_at: start,
            deadline: clock.deadline(cal),
            done_at: done,
            light: clock.light(cal, done.unwrap_or(now)),
        });
    };
    if r.procedure == Procedure::General {
        let decided = r.decided_at.or(if r.dropped { r.closed_at } else { None });
        push(LimitKind::Decide, r.filed_at, decided);
        if let (Some(n), true) = (r.notified_at, r.hearing_right) {
            let asked = r
                .steps
                .iter()
                .find(|s| s.kind == StepKind::RequestHearing)
                .map(|s| s.at);
            // The window closes by itself: once it ends it is done, asked or not.
            let end = limit_clock(rule(LimitKind::HearingRequest), cal, n).deadline(cal);
            let done = asked.or(if now > end { Some(end) } else { None });
            push(LimitKind::HearingRequest, n, done);
        }
        if let Some(d) = r.decided_at {
            push(LimitKind::Serve, d, r.served_at);
        }
    }
    if let (Some(s), Some(PenaltyKind::Fine)) = (r.served_at, r.penalty) {
        push(LimitKind::Pay, s, r.executed_at);
    }
    out
}

#[cfg(test)]
mod tests;
