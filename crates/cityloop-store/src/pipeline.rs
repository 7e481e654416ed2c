//! The write path of cases, as one pipeline: a write is a [`Command`]; applying it yields
//! a [`Change`] (the case view after it and the events it adds); in the same transaction
//! every registered [`Projection`] consumes that change, in the fixed order of
//! [`PROJECTIONS`].
//!
//! ```text
//!  Store method ─▶ Command ─▶ executor ──────────────▶ apply (in one transaction / savepoint)
//!                             SQLite: group commit      │ idempotency key, case number,
//!                             PostgreSQL: one tx each   │ version check
//!                                                       ▼
//!                                                     Change { case, deadline, events, kind }
//!                                                       │
//!        ┌──────────────┬──────────────┬──────────────┬────┴─────────┬──────────────┬──────────────┐
//!        ▼              ▼              ▼              ▼              ▼              ▼              ▼
//!    CaseView        Events        Webhooks       Messages      EvalBuckets    SearchIndex   Notifications
//!    (cases row)  (case_events  (webhook_       (messages:     (eval_case_    (case_search)  (one row per
//!                  + chain link)  deliveries)    receipt, 回访)  counters,                    event × person
//!                                                               buckets)                     it reaches)
//! ```
//!
//! This module holds what the pipeline *is* (commands, outcomes, the projection list);
//! the SQL that applies a command and each projection is written once in `common.rs`
//! (`apply_command`, `project`) for both backends. Adding a projection is one
//! registration: a variant here, its place in [`PROJECTIONS`], and its arm in
//! `common.rs`'s `project` (the compiler asks for it), plus its arm in the conformance
//! test that compares every projection with a rebuild from events (the test matches on
//! [`Projection`] exhaustively, so a projection without a check does not compile).

use chrono::{DateTime, Utc};
use cityloop_domain::case::{Case, Event};
use cityloop_domain::ids::{CaseId, CaseNumber};

use crate::{CaseRecord, KeyUse};

/// One write of the case write path, owning its data (it may wait in the SQLite writer's
/// queue).
#[derive(Clone, Debug)]
pub enum Command {
    /// A new case (its number already assigned) and its first event.
    CreateCase {
        case: Case,
        deadline: Option<DateTime<Utc>>,
        event: Event,
    },
    /// A new case numbered in its own transaction from the scope `case:{prefix}`; with an
    /// idempotency key, a repeat answers the first case and uses no number.
    CreateNumberedCase {
        prefix: String,
        case: Case,
        deadline: Option<DateTime<Utc>>,
        event: Event,
        idempotency: Option<(String, String)>,
        /// A number taken before the transaction (PostgreSQL's number blocks); `None`
        /// takes the next one of `case_seq` inside the transaction (SQLite, gap-free).
        number: Option<i64>,
    },
    /// The next event of a case, guarded by the case version.
    AppendEvent {
        case: Case,
        deadline: Option<DateTime<Utc>>,
        event: Event,
    },
    /// [`Command::AppendEvent`] at most once per idempotency key.
    AppendEventOnce {
        case: Case,
        deadline: Option<DateTime<Utc>>,
        event: Event,
        scope: String,
        key: String,
    },
    /// Copied cases with their whole histories (`cityloop copy`, restore).
    ImportCases(Vec<CaseRecord>),
}

impl Command {
    /// The number of case rows the command writes (the SQLite writer's batch budget).
    pub fn weight(&self) -> usize {
        match self {
            Command::ImportCases(batch) => batch.len().max(1),
            _ => 1,
        }
    }
}

/// What a command answers its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written.
    Done,
    /// A numbered case was written with this number.
    Numbered(CaseNumber),
    /// The idempotency key had created this case already; nothing was written.
    Replayed(CaseId),
    /// The idempotency key was used already (by this first use); nothing was written.
    KeyUsed(KeyUse),
}

/// How a change came about (projections may treat them differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new case with its first event.
    Created,
    /// One more event of an existing case (the view's version is the previous one + 1).
    Appended,
    /// A copied case with its whole history: no webhooks (they fired at the source).
    Imported,
}

/// What a command wrote, as the projections see it.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// The case view after the events.
    pub case: &'a Case,
    pub deadline: Option<DateTime<Utc>>,
    /// The new events, in order.
    pub events: &'a [Event],
    pub kind: ChangeKind,
}

impl<'a> Change<'a> {
    /// The case's entire history when the change holds all of it (a new case, or a copied
    /// or imported one): projections then derive from it without reading events back.
    /// None for an appended event, whose earlier history is only in the store.
    pub fn whole_history(&self) -> Option<&'a [Event]> {
        match self.kind {
            ChangeKind::Created | ChangeKind::Imported => Some(self.events),
            ChangeKind::Appended => None,
        }
    }
}

/// A read model kept in the transaction of the events it derives from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Projection {
    /// The `cases` row (the folded view and its indexed columns).
    CaseView,
    /// The `case_events` rows and each one's history-chain link.
    Events,
    /// Webhook deliveries queued for the events (the outbox).
    WebhookOutbox,
    /// Messages to the reporter the events cause (the receipt, the 回访 invitation;
    /// `cityloop_domain::message::intents`), not for imported history.
    Messages,
    /// The case's evaluation counters and the day/month buckets (on PostgreSQL as delta
    /// rows that a background pass folds).
    EvalBuckets,
    /// The case's `case_search` row (number and phone digits, bigrams of its texts, the
    /// filter columns and the moment its light turns yellow); it reads the stored events,
    /// so it runs after them.
    SearchIndex,
    /// The inbox: the notices each event raises (`cityloop_domain::inbox::notices`),
    /// one `notifications` row per (event, person) it reaches (not for imported history).
    Notifications,
}

/// The registered projections, in the order they run. The case view comes first (the
/// events refer to its row and the version check lives there), the events second (the
/// later projections read them).
pub const PROJECTIONS: &[Projection] = &[
    Projection::CaseView,
    Projection::Events,
    Projection::WebhookOutbox,
    Projection::Messages,
    Projection::EvalBuckets,
    Projection::SearchIndex,
    Projection::Notifications,
];

impl Projection {
    /// A short name for logs and test messages.
    pub fn name(self) -> &'static str {
        match self {
            Projection::CaseView => "case view",
            Projection::Events => "events",
            Projection::WebhookOutbox => "webhook outbox",
            Projection::Messages => "message outbox",
            Projection::EvalBuckets => "evaluation buckets",
            Projection::SearchIndex => "search index",
            Projection::Notifications => "notifications",
        }
    }
}
