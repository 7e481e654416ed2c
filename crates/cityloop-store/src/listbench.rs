//! `cityloop bench open311-list` support on both stores: fills the `cases` table with many
//! copies of one real case (new id, number, state, source and times in the stored view
//! and its columns), in a few set-based INSERTs, far faster than the workflow.
//!
//! Case `i` (from 0) is created at `t0 + i × step_ms`; its id is
//! [`bench_case_id`]`(i)`; 3 of 10 are open (`handling`), the rest `closed`; 1 of 5 is a
//! 12345 hotline case (never published through Open311).

use chrono::{DateTime, Utc};
use cityloop_domain::case::Case;
use cityloop_domain::ids::CaseId;

use crate::{PgStore, Result, SqliteStore, StoreError};

/// Rows written per transaction.
const BATCH: i64 = 200_000;

/// The id of generated case `i`.
pub fn bench_case_id(i: i64) -> Result<CaseId> {
    CaseId::parse(&format!("00000000-0000-4000-8000-{i:012}"))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    /// Writes `n` copies of `template` (see the module comment), then `ANALYZE`.
    pub async fn bench_fill_cases(
        &self,
        template: &Case,
        n: i64,
        t0: DateTime<Utc>,
        step_ms: i64,
        mut progress: impl FnMut(i64),
    ) -> Result<()> {
        let view = serde_json::to_string(template)?;
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n) - 1;
            let mut tx = self.writer.begin().await?;
            sqlx::query(
                "WITH RECURSIVE k(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM k WHERE i < $2),
                 g AS (SELECT i,
                   printf('00000000-0000-4000-8000-%012d', i) AS id,
                   printf('L-%d', i) AS number,
                   CASE WHEN i % 10 < 7 THEN 'closed' ELSE 'handling' END AS state,
                   CASE WHEN i % 5 = 4 THEN 'hotline_12345' ELSE 'public' END AS source,
                   strftime('%Y-%m-%dT%H:%M:%f+00:00', ($3 + i * $4) / 1000.0, 'unixepoch') AS t
                   FROM k)
                 INSERT INTO cases (id, number, state, source, category_code, unit_id, street_code,
                   segment_id, lon, lat, deadline, created_at, updated_at, version, view)
                 SELECT id, number, state, source, $5, NULL, NULL, NULL, $6, $7, NULL, t, t, 1,
                   json_set($8, '$.id', id, '$.number', number, '$.state', state,
                            '$.source', source, '$.created_at', t, '$.updated_at', t)
                 FROM g",
            )
            .bind(start)
            .bind(end)
            .bind(t0.timestamp_millis())
            .bind(step_ms)
            .bind(&template.category.code)
            .bind(template.location.lon)
            .bind(template.location.lat)
            .bind(&view)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            start = end + 1;
            progress(start);
        }
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        Ok(())
    }
}

impl PgStore {
    /// Writes `n` copies of `template` (see the module comment), then `ANALYZE cases`.
    pub async fn bench_fill_cases(
        &self,
        template: &Case,
        n: i64,
        t0: DateTime<Utc>,
        step_ms: i64,
        mut progress: impl FnMut(i64),
    ) -> Result<()> {
        let view = serde_json::to_string(template)?;
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n) - 1;
            let mut tx = self.writer.begin().await?;
            sqlx::query(
                "WITH g AS (SELECT i,
                   '00000000-0000-4000-8000-' || lpad(i::text, 12, '0') AS id,
                   'L-' || i AS number,
                   CASE WHEN i % 10 < 7 THEN 'closed' ELSE 'handling' END AS state,
                   CASE WHEN i % 5 = 4 THEN 'hotline_12345' ELSE 'public' END AS source,
                   $3::timestamptz + i * $4 * interval '1 millisecond' AS t
                   FROM generate_series($1::bigint, $2::bigint) AS i)
                 INSERT INTO cases (id, number, state, source, category_code, unit_id, street_code,
                   segment_id, lon, lat, deadline, created_at, updated_at, version, view)
                 SELECT id, number, state, source, $5, NULL, NULL, NULL, $6, $7, NULL, t, t, 1,
                   ($8::jsonb || jsonb_build_object('id', id, 'number', number, 'state', state,
                     'source', source,
                     'created_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                     'updated_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))::text
                 FROM g",
            )
            .bind(start)
            .bind(end)
            .bind(t0)
            .bind(step_ms as f64)
            .bind(&template.category.code)
            .bind(template.location.lon)
            .bind(template.location.lat)
            .bind(&view)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            start = end + 1;
            progress(start);
        }
        sqlx::query("ANALYZE cases").execute(&self.writer).await?;
        Ok(())
    }
}

impl SqliteStore {
    /// Moves every case to a pseudo-random position inside `bbox` ([w, s, e, n]), for the
    /// map benchmark (`cityloop bench map`).
    pub async fn bench_spread_cases(&self, bbox: [f64; 4]) -> Result<()> {
        sqlx::query(
            "UPDATE cases SET lon = $1 + (abs(random()) % 1000000) / 1000000.0 * $3,
                              lat = $2 + (abs(random()) % 1000000) / 1000000.0 * $4",
        )
        .bind(bbox[0])
        .bind(bbox[1])
        .bind(bbox[2] - bbox[0])
        .bind(bbox[3] - bbox[1])
        .execute(&self.writer)
        .await?;
        sqlx::query("ANALYZE").execute(&self.writer).await?;
        Ok(())
    }
}

impl PgStore {
    /// Moves every case to a pseudo-random position inside `bbox` ([w, s, e, n]), for the
    /// map benchmark (`cityloop bench map`).
    pub async fn bench_spread_cases(&self, bbox: [f64; 4]) -> Result<()> {
        sqlx::query("UPDATE cases SET lon = $1 + random() * $3, lat = $2 + random() * $4")
            .bind(bbox[0])
            .bind(bbox[1])
            .bind(bbox[2] - bbox[0])
            .bind(bbox[3] - bbox[1])
            .execute(&self.writer)
            .await?;
        sqlx::query("VACUUM ANALYZE cases")
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
