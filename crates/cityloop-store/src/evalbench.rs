//! `cityloop bench rankings` support on SQLite: writes a synthetic history of many cases
//! straight into the `cases` table and the evaluation day buckets (far faster than
//! running each case through the workflow), and runs the naive baseline — a GROUP BY over
//! the cases of the period — that the bucket sums are compared with.
//!
//! The synthetic model is a pure function of the case's index `i`, so the buckets written
//! here are exactly the sums of the generated cases' counters.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use cityloop_domain::evaluation::{hours_bin, metric};
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::{Result, SqliteStore};

/// The objects cases are spread over (ids as the territory and units name them).
#[derive(Debug, Clone, Default)]
pub struct BenchObjects {
    pub streets: Vec<String>,
    pub communities: Vec<String>,
    pub grids: Vec<String>,
    pub segments: Vec<String>,
    pub departments: Vec<String>,
}

/// One synthetic case's figures.
struct Synth {
    registered: bool,
    public: bool,
    closed: bool,
    on_time: bool,
    rework: i64,
    handle_secs: i64,
}

fn synth(i: i64) -> Synth {
    let registered = i % 10 != 9; // 9 of 10; the rest are 挂账 (suspended)
    let closed = i % 10 < 8;
    Synth {
        registered,
        public: registered && i % 5 == 0,
        closed,
        on_time: closed && i % 7 != 0,
        rework: i64::from(i % 11 == 0),
        handle_secs: (i % 20) * 1800,
    }
}

fn pick(v: &[String], i: i64) -> &str {
    let n = v.len().max(1) as i64;
    v.get((i % n) as usize).map_or("", String::as_str)
}

impl SqliteStore {
    /// Writes `n` cases created evenly from `t0` over `span`, and their day buckets.
    /// `progress` is called after each batch with the number of cases written.
    pub async fn bench_generate<'a>(
        &self,
        n: i64,
        t0: DateTime<Utc>,
        span: Duration,
        objs: &'a BenchObjects,
        mut progress: impl FnMut(i64),
    ) -> Result<()> {
        sqlx::query("CREATE TABLE IF NOT EXISTS bench_objects (kind TEXT NOT NULL, idx INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, idx))")
            .execute(&self.writer)
            .await?;
        sqlx::query("DELETE FROM bench_objects")
            .execute(&self.writer)
            .await?;
        for (kind, ids) in [
            ("street", &objs.streets),
            ("segment", &objs.segments),
            ("department", &objs.departments),
        ] {
            let mut tx = self.writer.begin().await?;
            for (k, id) in ids.iter().enumerate() {
                sqlx::query("INSERT INTO bench_objects (kind, idx, id) VALUES ($1, $2, $3)")
                    .bind(kind)
                    .bind(k as i64)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        let step_ms = (span.num_milliseconds() / n.max(1)).max(1);
        let t0_ms = t0.timestamp_millis();
        let tz = chrono::FixedOffset::east_opt(8 * 3600)
            .ok_or_else(|| crate::StoreError::Corrupt("UTC+8 offset".into()))?;
        const BATCH: i64 = 200_000;
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n) - 1;
            let mut tx = self.writer.begin().await?;
            sqlx::query(
                "WITH RECURSIVE k(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM k WHERE i < $2)
                 INSERT INTO cases (id, number, state, source, category_code, unit_id, street_code,
                   segment_id, lon, lat, deadline, created_at, updated_at, version, view)
                 SELECT printf('b%015d', i), printf('B-%d', i),
                   CASE WHEN i % 10 < 8 THEN 'closed' WHEN i % 10 = 8 THEN 'handling' ELSE 'suspended' END,
                   CASE WHEN i % 5 = 0 THEN 'public' ELSE 'inspector' END,
                   '06010',
                   (SELECT id FROM bench_objects WHERE kind = 'department' AND idx = i % $3),
                   (SELECT id FROM bench_objects WHERE kind = 'street' AND idx = i % $4),
                   (SELECT id FROM bench_objects WHERE kind = 'segment' AND idx = i % $5),
                   113.64, 34.75, NULL,
                   strftime('%Y-%m-%dT%H:%M:%f+00:00', ($6 + i * $7) / 1000.0, 'unixepoch'),
                   strftime('%Y-%m-%dT%H:%M:%f+00:00', ($6 + i * $7) / 1000.0, 'unixepoch'),
                   9, '{}'
                 FROM k",
            )
            .bind(start)
            .bind(end)
            .bind(objs.departments.len().max(1) as i64)
            .bind(objs.streets.len().max(1) as i64)
            .bind(objs.segments.len().max(1) as i64)
            .bind(t0_ms)
            .bind(step_ms)
            .execute(&mut *tx)
            .await?;
            // The same cases' counters, summed per day bucket.
            let mut acc: BTreeMap<(i32, &'static str, &'a str, String), i64> = BTreeMap::new();
            for i in start..=end {
                let at = DateTime::<Utc>::from_timestamp_millis(t0_ms + i * step_ms)
                    .unwrap_or(t0)
                    .with_timezone(&tz)
                    .date_naive();
                let day = chrono::Datelike::year(&at) * 10_000
                    + chrono::Datelike::month(&at) as i32 * 100
                    + chrono::Datelike::day(&at) as i32;
                let s = synth(i);
                let mut add = |kind: &'static str, id: &'a str, m: &str, v: i64| {
                    if v != 0 && !id.is_empty() {
                        *acc.entry((day, kind, id, m.to_owned())).or_insert(0) += v;
                    }
                };
                if s.registered {
                    for (kind, id) in [
                        ("street", pick(&objs.streets, i)),
                        ("community", pick(&objs.communities, i)),
                        ("grid", pick(&objs.grids, i)),
                        ("segment", pick(&objs.segments, i)),
                    ] {
                        add(kind, id, metric::REGISTERED, 1);
                        add(kind, id, metric::PUBLIC, i64::from(s.public));
                        add(kind, id, metric::TO_CLOSE, 1);
                        add(kind, id, metric::CLOSED, i64::from(s.closed));
                        add(kind, id, metric::CLOSED_ON_TIME, i64::from(s.on_time));
                        add(kind, id, metric::REWORK, s.rework);
                    }
                }
                let d = pick(&objs.departments, i);
                add("department", d, metric::DISPATCHED, 1);
                add("department", d, metric::TO_HANDLE, 1);
                if s.closed {
                    add("department", d, metric::HANDLED, 1);
                    add(
                        "department",
                        d,
                        metric::HANDLED_ON_TIME,
                        i64::from(s.on_time),
                    );
                    add("department", d, metric::OVERDUE, i64::from(!s.on_time));
                    add("department", d, metric::REWORK, s.rework);
                    add("department", d, metric::HANDLE_SECS, s.handle_secs);
                    let bin = format!("{}{}", metric::HBIN_PREFIX, hours_bin(s.handle_secs));
                    add("department", d, &bin, 1);
                }
            }
            let rows: Vec<_> = acc.into_iter().collect();
            for chunk in rows.chunks(500) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO eval_buckets (object_kind, day, object_id, metric, value) ",
                );
                q.push_values(chunk, |mut b, ((day, kind, id, m), v)| {
                    b.push_bind(*kind)
                        .push_bind(*day)
                        .push_bind(*id)
                        .push_bind(m.as_str())
                        .push_bind(*v);
                });
                q.push(
                    " ON CONFLICT (object_kind, day, object_id, metric)
                      DO UPDATE SET value = eval_buckets.value + excluded.value",
                );
                q.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            start = end + 1;
            progress(start);
        }
        // The month totals, as the store keeps them beside the day buckets.
        sqlx::query("DELETE FROM eval_buckets_month")
            .execute(&self.writer)
            .await?;
        sqlx::query(
            "INSERT INTO eval_buckets_month (object_kind, month, object_id, metric, value)
             SELECT object_kind, day / 100, object_id, metric, SUM(value) FROM eval_buckets
             GROUP BY object_kind, day / 100, object_id, metric",
        )
        .execute(&self.writer)
        .await?;
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        Ok(())
    }

    /// The naive baseline: per-street registered / public / closed counts straight from
    /// the cases created in `from..to` (GROUP BY over the cases table, its created_at
    /// index). It cannot even tell on-time closures (those need each case's events).
    pub async fn bench_naive_streets(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64, i64)>> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string();
        let rows = sqlx::query(
            "SELECT street_code,
                    SUM(state <> 'suspended') AS registered,
                    SUM(state <> 'suspended' AND source = 'public') AS public,
                    SUM(state = 'closed') AS closed
             FROM cases WHERE created_at >= $1 AND created_at < $2
             GROUP BY street_code",
        )
        .bind(fmt(from))
        .bind(fmt(to))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<Option<String>, _>("street_code")?
                        .unwrap_or_default(),
                    r.try_get("registered")?,
                    r.try_get("public")?,
                    r.try_get("closed")?,
                ))
            })
            .collect()
    }
}
