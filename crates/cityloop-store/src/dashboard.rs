//! The leaders' view (领导驾驶舱, issue 17 item 5): the few indexed reads its figures are
//! made of, and the block reservation of case numbers that the demo history uses.
//!
//! Every read is bounded by time or by a small limit, never a scan of all events:
//! - reports: `case_search`'s primary key is the report time in microseconds, so the
//!   window's reports are a rowid range (times only; sources and categories grouped in
//!   SQL over their own, shorter, ranges);
//! - registrations, closures and rework: the `case_events_kind_at` index (migration 0024)
//!   gives the window's `register`, `close`, `check_fail` and `callback` events; a closure's
//!   "on time" is the case's own `closed_on_time` evaluation counter (the rankings'
//!   definition), read by the counters' primary key;
//! - overdue now: the partial `cases_deadline` index, open states only.
//!
//! Windows, days and rates are decided by `cityloop_domain::dashboard` from these rows;
//! this module only reads. [`DashboardStore`] is a supertrait of [`Store`](crate::Store),
//! implemented for both backends by `sql_dashboard!`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// What the dashboard reads, for one request.
#[derive(Debug, Clone)]
pub struct DashboardQuery {
    /// Start of the earliest window (reports and events from here on are returned).
    pub from: DateTime<Utc>,
    /// The request's instant (nothing after it is counted).
    pub now: DateTime<Utc>,
    /// Start of the sources' window (this month).
    pub sources_from: DateTime<Utc>,
    /// Start of the categories' window (this week).
    pub categories_from: DateTime<Utc>,
    /// How many overdue cases to list (most overdue first).
    pub overdue_limit: u32,
}

/// One workflow event the dashboard counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardEvent {
    /// `register`, `close`, `check_fail` or `callback`.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The state the event led to (a `callback` to `handling` is a 重办).
    pub to_state: String,
    /// For a `close`: the case's `closed_on_time` counter, None when the case has no
    /// region counters (no street).
    pub on_time: Option<bool>,
}

/// An open case past its deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct OverdueRow {
    pub id: String,
    pub number: String,
    pub state: String,
    pub category_code: String,
    pub unit_id: Option<String>,
    pub street_code: Option<String>,
    pub deadline: DateTime<Utc>,
}

/// The rows of one dashboard request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardRows {
    /// Report times from `from` to `now`, in microseconds since the epoch, ascending.
    pub reported_us: Vec<i64>,
    pub events: Vec<DashboardEvent>,
    /// Reports since `sources_from` per source, largest first.
    pub sources: Vec<(String, i64)>,
    /// Reports since `categories_from` per category code, largest first (at most 10).
    pub categories: Vec<(String, i64)>,
    /// Open cases (not suspended) past their deadline now.
    pub overdue_count: i64,
    /// Of those, the ones whose deadline passed since `day_from` (see [`DashboardStore::dashboard_rows`]).
    pub overdue_since_today: i64,
    /// The most overdue, at most `overdue_limit`.
    pub overdue: Vec<OverdueRow>,
}

/// The states whose clock runs and can be overdue (suspended stops the clock; closed and
/// voided have none).
pub const RUNNING_STATES: &[&str] = &[
    "received",
    "to_verify",
    "to_register",
    "to_dispatch",
    "handling",
    "extension_pending",
    "to_check",
    "to_callback",
    "to_close",
];

/// The dashboard's reads. Every `Store` is one.
#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// The rows of one dashboard request; `day_from` is the start of today (for the
    /// overdue cases whose deadline passed today).
    async fn dashboard_rows(
        &self,
        q: &DashboardQuery,
        day_from: DateTime<Utc>,
    ) -> Result<DashboardRows>;
    /// Reserves `n` consecutive case numbers of the scope `case:{prefix}` in one committed
    /// statement and returns the first (the demo history numbers a day's cases at once;
    /// later reports of that day continue after them).
    async fn reserve_case_numbers(&self, prefix: &str, n: i64) -> Result<i64>;
}

macro_rules! sql_dashboard {
    ($store:ty, $db:ty) => {
        mod dashboard_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::{QueryBuilder, Row};

            use crate::dashboard::{
                DashboardEvent, DashboardQuery, DashboardRows, DashboardStore, OverdueRow,
                RUNNING_STATES,
            };
            use crate::Result;
            #[allow(unused_imports)]
            use super::*;

            fn push_running(q: &mut QueryBuilder<'_, $db>) {
                q.push(" AND state IN (");
                let mut sep = q.separated(", ");
                for s in RUNNING_STATES {
                    sep.push_bind(*s);
                }
                q.push(")");
            }

            #[async_trait]
            impl DashboardStore for $store {
                async fn dashboard_rows(
                    &self,
                    q: &DashboardQuery,
                    day_from: DateTime<Utc>,
                ) -> Result<DashboardRows> {
                    let us = |t: DateTime<Utc>| t.timestamp_micros();
                    let mut out = DashboardRows::default();
                    // Reports: a rowid range of case_search (sort_key = report time in µs).
                    for r in sqlx::query(
                        "SELECT sort_key FROM case_search WHERE sort_key >= $1 AND sort_key <= $2 ORDER BY sort_key",
                    )
                    .bind(us(q.from))
                    .bind(us(q.now))
                    .fetch_all(&self.reader)
                    .await?
                    {
                        out.reported_us.push(r.try_get("sort_key")?);
                    }
                    for (from, limit, column, target) in [
                        (q.sources_from, 100_i64, "source", 0),
                        (q.categories_from, 10_i64, "category_code", 1),
                    ] {
                        let rows = sqlx::query(&format!(
                            "SELECT {column} AS k, COUNT(*) AS n FROM case_search
                             WHERE sort_key >= $1 AND sort_key <= $2
                             GROUP BY {column} ORDER BY n DESC, k LIMIT $3"
                        ))
                        .bind(us(from))
                        .bind(us(q.now))
                        .bind(limit)
                        .fetch_all(&self.reader)
                        .await?;
                        let list = if target == 0 { &mut out.sources } else { &mut out.categories };
                        for r in rows {
                            list.push((r.try_get("k")?, r.try_get("n")?));
                        }
                    }
                    // Events: the (kind, at) index, one range per kind.
                    let rows = sqlx::query(
                        "SELECT e.kind AS kind, e.at AS at, e.to_state AS to_state,
                                CASE WHEN e.kind = 'close' THEN
                                  (SELECT MAX(CASE WHEN c.metric = 'closed_on_time' THEN c.value ELSE 0 END)
                                          - 1 + MAX(CASE WHEN c.metric = 'closed' THEN 1 ELSE 0 END)
                                   FROM eval_case_counters c
                                   WHERE c.case_id = e.case_id AND c.object_kind = 'street'
                                     AND c.metric IN ('closed', 'closed_on_time'))
                                END AS on_time
                         FROM case_events e
                         WHERE e.kind IN ('register', 'close', 'check_fail', 'callback')
                           AND e.at >= $1 AND e.at <= $2
                         ORDER BY e.at",
                    )
                    .bind(q.from)
                    .bind(q.now)
                    .fetch_all(&self.reader)
                    .await?;
                    for r in rows {
                        // on_time: 1 on time, 0 late, -1 no street counters (or NULL).
                        let on_time: Option<i64> = r.try_get("on_time")?;
                        out.events.push(DashboardEvent {
                            kind: r.try_get("kind")?,
                            at: r.try_get("at")?,
                            to_state: r.try_get("to_state")?,
                            on_time: match on_time {
                                Some(1) => Some(true),
                                Some(0) => Some(false),
                                _ => None,
                            },
                        });
                    }
                    // Overdue now: the partial deadline index, running states only.
                    let mut c = QueryBuilder::<$db>::new(
                        "SELECT COUNT(*) AS n, SUM(CASE WHEN deadline >= ",
                    );
                    c.push_bind(day_from);
                    c.push(" THEN 1 ELSE 0 END) AS today FROM cases WHERE deadline IS NOT NULL AND deadline < ");
                    c.push_bind(q.now);
                    push_running(&mut c);
                    let row = c.build().fetch_one(&self.reader).await?;
                    out.overdue_count = row.try_get("n")?;
                    out.overdue_since_today = row.try_get::<Option<i64>, _>("today")?.unwrap_or(0);
                    let mut l = QueryBuilder::<$db>::new(
                        "SELECT id, number, state, category_code, unit_id, street_code, deadline
                         FROM cases WHERE deadline IS NOT NULL AND deadline < ",
                    );
                    l.push_bind(q.now);
                    push_running(&mut l);
                    l.push(" ORDER BY deadline, id LIMIT ");
                    l.push_bind(i64::from(q.overdue_limit));
                    for r in l.build().fetch_all(&self.reader).await? {
                        out.overdue.push(OverdueRow {
                            id: r.try_get("id")?,
                            number: r.try_get("number")?,
                            state: r.try_get("state")?,
                            category_code: r.try_get("category_code")?,
                            unit_id: r.try_get("unit_id")?,
                            street_code: r.try_get("street_code")?,
                            deadline: r.try_get("deadline")?,
                        });
                    }
                    Ok(out)
                }

                async fn reserve_case_numbers(&self, prefix: &str, n: i64) -> Result<i64> {
                    let row = sqlx::query(
                        "INSERT INTO case_seq (scope, last) VALUES ($1, $2)
                         ON CONFLICT (scope) DO UPDATE SET last = case_seq.last + $2
                         RETURNING last",
                    )
                    .bind(format!("case:{prefix}"))
                    .bind(n)
                    .fetch_one(&self.writer)
                    .await?;
                    let last: i64 = row.try_get("last")?;
                    Ok(last - n + 1)
                }
            }
        }
    };
}

pub(crate) use sql_dashboard;
