//! `cityloop bench verify` support on SQLite: writes a synthetic history of many cases
//! straight into `cases`, `case_events` and `case_event_chain` (far faster than running
//! each event through the workflow), with real hash links, so that `verify_chains` has a
//! large, valid history to recompute.
//!
//! Bodies are a pure function of (case index, seq) ([`synthetic_body`]), so the benchmark's
//! baseline can hash the very same bytes again without the database.

use chrono::{DateTime, Duration, Utc};
use cityloop_domain::chain::{event_hash, to_hex, EventRow, Hash, GENESIS};
use sqlx::QueryBuilder;

use crate::{Result, SqliteStore};

/// The id of synthetic case `i` (a fixed UUID layout, ordered by `i`).
pub fn synthetic_case_id(i: i64) -> String {
    format!("0190b0a0-0000-7000-8000-{i:012x}")
}

/// The time of event `seq` of case `i`.
pub fn synthetic_at(t0: DateTime<Utc>, i: i64, seq: i64) -> DateTime<Utc> {
    t0 + Duration::seconds(i * 60 + seq * 7)
}

/// A stored event row of realistic size (about 600 bytes, like a workflow action's body).
pub fn synthetic_body(case_id: &str, seq: i64, at: DateTime<Utc>) -> String {
    format!(
        r#"{{"case_id":"{case_id}","seq":{seq},"at":"{}","kind":"dispatch","actor":{{"person_id":"0190b0a0-0000-7000-8000-0000000000aa","role":"dispatcher","unit_id":null}},"from_state":"registered","to_state":"dispatched","note":"派遣至环卫部门处理，请按时限处置并上传处置后照片。Dispatched to the sanitation department.","reason":null,"unit_id":"0190b0a0-0000-7000-8000-0000000000bb","extension":null,"attachments":[],"category":null,"clock_after":{{"stage":"handle","started_at":"{}","limit":{{"working_hours":24}},"deadline":"{}","paused_since":null,"paused_secs":0,"extensions":[]}},"public_note":"已派遣至责任单位处置","report":null}}"#,
        cityloop_domain::chain::canonical_time(at),
        cityloop_domain::chain::canonical_time(at),
        cityloop_domain::chain::canonical_time(at + Duration::hours(24)),
    )
}

impl SqliteStore {
    /// Writes `cases` cases of `per_case` events each (with their links), `progress` called
    /// with the events written after each batch. Every `root_every` events a root is sealed.
    pub async fn bench_chain_generate(
        &self,
        cases: i64,
        per_case: i64,
        t0: DateTime<Utc>,
        root_every: i64,
        mut progress: impl FnMut(i64),
    ) -> Result<()> {
        use crate::chain::IntegrityStore;
        const CASES_PER_TX: i64 = 500;
        let mut written = 0i64;
        let mut since_root = 0i64;
        let mut i = 0i64;
        while i < cases {
            let end = (i + CASES_PER_TX).min(cases);
            let mut tx = self.writer.begin().await?;
            let mut q = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO cases (id, number, state, source, category_code, unit_id, street_code,
                   segment_id, lon, lat, deadline, created_at, updated_at, version, view) ",
            );
            q.push_values(i..end, |mut b, k| {
                let at = synthetic_at(t0, k, 1);
                b.push_bind(synthetic_case_id(k))
                    .push_bind(format!("BENCH-{k:09}"))
                    .push_bind("dispatched")
                    .push_bind("inspector")
                    .push_bind("06010")
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(113.66)
                    .push_bind(34.75)
                    .push_bind(None::<DateTime<Utc>>)
                    .push_bind(at)
                    .push_bind(at)
                    .push_bind(per_case)
                    .push_bind("{}");
            });
            q.build().execute(&mut *tx).await?;
            for k in i..end {
                let id = synthetic_case_id(k);
                let mut rows = Vec::with_capacity(per_case as usize);
                let mut prev: Hash = GENESIS;
                for seq in 1..=per_case {
                    let at = synthetic_at(t0, k, seq);
                    let body = synthetic_body(&id, seq, at);
                    let hash = event_hash(
                        &prev,
                        &EventRow {
                            case_id: &id,
                            seq,
                            at,
                            kind: "dispatch",
                            actor_id: None,
                            from_state: Some("registered"),
                            to_state: "dispatched",
                            body: &body,
                        },
                    );
                    rows.push((seq, at, body, prev, hash));
                    prev = hash;
                }
                let mut q = QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO case_events (case_id, seq, at, kind, actor_id, from_state, to_state, body) ",
                );
                q.push_values(&rows, |mut b, (seq, at, body, _, _)| {
                    b.push_bind(&id)
                        .push_bind(*seq)
                        .push_bind(*at)
                        .push_bind("dispatch")
                        .push_bind(None::<String>)
                        .push_bind("registered")
                        .push_bind("dispatched")
                        .push_bind(body);
                });
                q.build().execute(&mut *tx).await?;
                let mut q = QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO case_event_chain (case_id, seq, prev_hash, hash) ",
                );
                q.push_values(&rows, |mut b, (seq, _, _, prev, hash)| {
                    b.push_bind(&id)
                        .push_bind(*seq)
                        .push_bind(to_hex(prev))
                        .push_bind(to_hex(hash));
                });
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            let n = (end - i) * per_case;
            written += n;
            since_root += n;
            if since_root >= root_every {
                self.seal_root(Utc::now()).await?;
                since_root = 0;
            }
            progress(written);
            i = end;
        }
        if since_root > 0 {
            self.seal_root(Utc::now()).await?;
        }
        Ok(())
    }

    /// The read floor: every event row read in the order verification reads it, and nothing
    /// computed. Returns the rows and body bytes read.
    pub async fn bench_scan_events(&self) -> Result<(i64, i64)> {
        use sqlx::Row;
        let (mut after_case, mut after_seq) = (String::new(), 0i64);
        let (mut rows_read, mut bytes) = (0i64, 0i64);
        let mut tx = self.reader.begin().await?;
        loop {
            let rows = sqlx::query(
                "SELECT e.case_id, e.seq, e.at, e.kind, e.actor_id, e.from_state, e.to_state, e.body
                 FROM case_events e WHERE (e.case_id, e.seq) > ($1, $2)
                 ORDER BY e.case_id, e.seq LIMIT $3",
            )
            .bind(&after_case)
            .bind(after_seq)
            .bind(crate::chain::SCAN_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let Some(end) = rows.last() else { break };
            after_case = end.try_get("case_id")?;
            after_seq = end.try_get("seq")?;
            for r in &rows {
                let body: String = r.try_get("body")?;
                let _: DateTime<Utc> = r.try_get("at")?;
                bytes += body.len() as i64;
                rows_read += 1;
            }
        }
        tx.rollback().await?;
        Ok((rows_read, bytes))
    }
}
