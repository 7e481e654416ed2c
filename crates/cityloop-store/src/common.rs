//! The body of the [`Store`](crate::Store) implementation, written once and instantiated
//! for both backends by `sql_store!`. Every statement here must run unchanged on SQLite
//! and PostgreSQL: `$n` placeholders, ids and JSON as TEXT, times as bound
//! `DateTime<Utc>` values (TEXT in SQLite, TIMESTAMPTZ in PostgreSQL).
//!
//! The case write path is here too: `apply_command` and `project` are the SQL half of
//! the projection pipeline described in [`crate::pipeline`]; the backends' executors
//! (`SqliteStore::execute`, the group commit, and `PgStore::execute`) call them.
//!
//! A new query is added here, once; the shared conformance suite in `tests/` runs it on
//! both backends. A statement that cannot be written portably gets a method on the
//! backend struct (see `sqlite.rs` / `postgres.rs`) and is called from here.

/// The district calendar shared by a store's evaluation hook (`Store::set_eval_calendar`).
#[derive(Clone, Debug)]
pub(crate) struct EvalCalendar(
    std::sync::Arc<std::sync::RwLock<std::sync::Arc<cityloop_domain::calendar::WorkCalendar>>>,
);

impl Default for EvalCalendar {
    fn default() -> Self {
        EvalCalendar(std::sync::Arc::new(std::sync::RwLock::new(
            std::sync::Arc::new(cityloop_domain::calendar::WorkCalendar::china_2026()),
        )))
    }
}

impl EvalCalendar {
    pub(crate) fn get(&self) -> std::sync::Arc<cityloop_domain::calendar::WorkCalendar> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set(&self, cal: std::sync::Arc<cityloop_domain::calendar::WorkCalendar>) {
        match self.0.write() {
            Ok(mut g) => *g = cal,
            Err(poisoned) => *poisoned.into_inner() = cal,
        }
    }
}

/// What the write path of one store applies commands with (`apply_command`).
pub(crate) struct WriteCtx {
    /// The district calendar evaluation counters are derived with.
    pub(crate) calendar: std::sync::Arc<cityloop_domain::calendar::WorkCalendar>,
    /// Evaluation buckets as delta rows folded later (PostgreSQL: no hot rows) instead
    /// of direct updates of the shared bucket rows (SQLite's single writer).
    pub(crate) eval_deltas: bool,
}

macro_rules! sql_store {
    ($store:ty, $db:ty, $backend:expr) => {
        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use cityloop_domain::case::{Case, Event};
        use cityloop_domain::evaluation::ObjectKind;
        use cityloop_domain::ids::{CaseId, PersonId, UnitId};
        use cityloop_domain::model::{Category, Person, Unit};
        use sqlx::{QueryBuilder, Row};

        use crate::{
            Backend, CaseFilter, Page, Result, SessionInfo, Store, StoreError, MAX_PAGE,
        };

        fn decode_case(row: &<$db as sqlx::Database>::Row) -> Result<Case> {
            let view: String = row.try_get("view")?;
            Ok(serde_json::from_str(&view)?)
        }

        fn decode_assignment(row: &<$db as sqlx::Database>::Row) -> Result<crate::RoadChiefAssignment> {
            let pid: String = row.try_get("person_id")?;
            Ok(crate::RoadChiefAssignment {
                segment_id: row.try_get("segment_id")?,
                level: row.try_get("level")?,
                person_id: PersonId::parse(&pid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                valid_from: row.try_get("valid_from")?,
                valid_to: row.try_get("valid_to")?,
            })
        }

        fn decode_attachment(row: &<$db as sqlx::Database>::Row) -> Result<crate::Attachment> {
            let corrupt = |e: String| StoreError::Corrupt(e);
            let id: String = row.try_get("id")?;
            let by: Option<String> = row.try_get("uploaded_by")?;
            Ok(crate::Attachment {
                id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?,
                sha256: row.try_get("sha256")?,
                mime: row.try_get("mime")?,
                size: row.try_get("size")?,
                public_size: row.try_get("public_size")?,
                width: row.try_get("width")?,
                height: row.try_get("height")?,
                gps_lat: row.try_get("gps_lat")?,
                gps_lon: row.try_get("gps_lon")?,
                uploaded_by: by.map(|p| PersonId::parse(&p)).transpose().map_err(|e| corrupt(e.to_string()))?,
                channel: row.try_get("channel")?,
                uploaded_at: row.try_get("uploaded_at")?,
            })
        }

        const ATTACHMENT_COLUMNS: &str = "id, sha256, mime, size, public_size, width, height, gps_lat, gps_lon, uploaded_by, channel, uploaded_at";

        async fn insert_attachment<'e, E>(ex: E, a: &crate::Attachment) -> Result<u64>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let done = sqlx::query(
                "INSERT INTO attachments (id, sha256, mime, size, public_size, width, height,
                   gps_lat, gps_lon, uploaded_by, channel, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(a.id.to_string())
            .bind(&a.sha256)
            .bind(&a.mime)
            .bind(a.size)
            .bind(a.public_size)
            .bind(a.width)
            .bind(a.height)
            .bind(a.gps_lat)
            .bind(a.gps_lon)
            .bind(a.uploaded_by.map(|p| p.to_string()))
            .bind(&a.channel)
            .bind(a.uploaded_at)
            .execute(ex)
            .await?;
            Ok(done.rows_affected())
        }

        /// The columns [`decode_notification`] reads.
        const NOTIFICATION_COLUMNS: &str =
            "id, person_id, COALESCE(link_case_id, case_id) AS case_id, kind, message, created_at, read_at, event_seq";

        fn decode_notification(r: &<$db as sqlx::Database>::Row) -> Result<crate::Notification> {
            let corrupt = |e: String| StoreError::Corrupt(e);
            let id: String = r.try_get("id")?;
            let pid: String = r.try_get("person_id")?;
            let cid: Option<String> = r.try_get("case_id")?;
            Ok(crate::Notification {
                id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?,
                person_id: PersonId::parse(&pid).map_err(|e| corrupt(e.to_string()))?,
                case_id: cid
                    .map(|c| CaseId::parse(&c))
                    .transpose()
                    .map_err(|e| corrupt(e.to_string()))?,
                kind: r.try_get("kind")?,
                message: r.try_get("message")?,
                created_at: r.try_get("created_at")?,
                read_at: r.try_get("read_at")?,
                event_seq: r.try_get("event_seq")?,
            })
        }

        fn decode_person(row: &<$db as sqlx::Database>::Row) -> Result<Person> {
            let body: String = row.try_get("body")?;
            Ok(serde_json::from_str(&body)?)
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.reader).await?;
                Ok(())
            }

            async fn put_setting(&self, key: &str, value: &serde_json::Value) -> Result<()> {
                sqlx::query(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(key)
                .bind(value.to_string())
                .bind(Utc::now())
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn put_settings(&self, items: &[(String, serde_json::Value)]) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                let now = Utc::now();
                for (key, value) in items {
                    sqlx::query(
                        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    )
                    .bind(key)
                    .bind(value.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_setting(&self, key: &str) -> Result<Option<serde_json::Value>> {
                let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.reader)
                    .await?;
                match row {
                    None => Ok(None),
                    Some(r) => {
                        let s: String = r.try_get("value")?;
                        Ok(Some(serde_json::from_str(&s)?))
                    }
                }
            }

            async fn upsert_category(&self, c: &Category) -> Result<()> {
                sqlx::query(
                    "INSERT INTO categories (standard, kind, code, body) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (standard, kind, code) DO UPDATE SET body = excluded.body",
                )
                .bind(c.code.standard.as_str())
                .bind(c.code.kind.as_str())
                .bind(&c.code.code)
                .bind(serde_json::to_string(c)?)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn list_categories(&self) -> Result<Vec<Category>> {
                let rows = sqlx::query("SELECT body FROM categories ORDER BY standard, kind, code")
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let b: String = r.try_get("body")?;
                        Ok(serde_json::from_str(&b)?)
                    })
                    .collect()
            }

            async fn upsert_unit(&self, u: &Unit) -> Result<()> {
                sqlx::query(
                    "INSERT INTO units (id, code, kind, type_key, body) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET code = excluded.code, kind = excluded.kind,
                       type_key = excluded.type_key, body = excluded.body",
                )
                .bind(u.id.to_string())
                .bind(&u.code)
                .bind(u.kind.as_str())
                .bind(&u.type_key)
                .bind(serde_json::to_string(u)?)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn list_units(&self) -> Result<Vec<Unit>> {
                let rows = sqlx::query("SELECT body FROM units ORDER BY code")
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let b: String = r.try_get("body")?;
                        Ok(serde_json::from_str(&b)?)
                    })
                    .collect()
            }

            async fn get_unit(&self, id: UnitId) -> Result<Unit> {
                let row = sqlx::query("SELECT body FROM units WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("unit {id}")))?;
                let b: String = row.try_get("body")?;
                Ok(serde_json::from_str(&b)?)
            }

            async fn create_person(&self, p: &Person, password_hash: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO people (id, username, role, unit_id, password_hash, body)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(p.id.to_string())
                .bind(&p.username)
                .bind(p.role.as_str())
                .bind(p.unit_id.map(|u| u.to_string()))
                .bind(password_hash)
                .bind(serde_json::to_string(p)?)
                .execute(&self.writer)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        StoreError::Conflict(format!("username {:?} is taken", p.username))
                    }
                    other => other,
                })?;
                Ok(())
            }

            async fn set_password(&self, id: PersonId, password_hash: &str) -> Result<()> {
                let done = sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("person {id}")));
                }
                Ok(())
            }

            async fn person_by_username(&self, username: &str) -> Result<(Person, String)> {
                let row = sqlx::query("SELECT body, password_hash FROM people WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {username:?}")))?;
                Ok((decode_person(&row)?, row.try_get("password_hash")?))
            }

            async fn list_people(&self) -> Result<Vec<Person>> {
                let rows = sqlx::query("SELECT body FROM people ORDER BY username")
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter().map(decode_person).collect()
            }

            async fn create_session(
                &self,
                token_hash: &str,
                person: PersonId,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, person_id, created_at, expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(person.to_string())
                .bind(now)
                .bind(expires_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn session(&self, token_hash: &str) -> Result<SessionInfo> {
                let row = sqlx::query(
                    "SELECT p.body AS body, s.expires_at AS expires_at
                     FROM sessions s JOIN people p ON p.id = s.person_id
                     WHERE s.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.reader)
                .await?
                .ok_or_else(|| StoreError::NotFound("session".into()))?;
                Ok(SessionInfo {
                    person: decode_person(&row)?,
                    expires_at: row.try_get("expires_at")?,
                })
            }

            async fn delete_session(&self, token_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn put_layer(&self, name: &str, geojson: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO territory_layers (name, geojson, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET geojson = excluded.geojson, updated_at = excluded.updated_at",
                )
                .bind(name)
                .bind(geojson)
                .bind(Utc::now())
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn get_layer(&self, name: &str) -> Result<Option<String>> {
                let row = sqlx::query("SELECT geojson FROM territory_layers WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.reader)
                    .await?;
                Ok(match row {
                    Some(r) => Some(r.try_get("geojson")?),
                    None => None,
                })
            }

            async fn next_seq(&self, scope: &str) -> Result<i64> {
                let row = sqlx::query(
                    "INSERT INTO case_seq (scope, last) VALUES ($1, 1)
                     ON CONFLICT (scope) DO UPDATE SET last = case_seq.last + 1
                     RETURNING last",
                )
                .bind(scope)
                .fetch_one(&self.writer)
                .await?;
                Ok(row.try_get("last")?)
            }

            async fn create_case(
                &self,
                case: &Case,
                deadline: Option<DateTime<Utc>>,
                event: &Event,
            ) -> Result<()> {
                self.execute(crate::pipeline::Command::CreateCase {
                    case: case.clone(),
                    deadline,
                    event: event.clone(),
                })
                .await?;
                Ok(())
            }

            async fn append_event(
                &self,
                case: &Case,
                deadline: Option<DateTime<Utc>>,
                event: &Event,
            ) -> Result<()> {
                self.execute(crate::pipeline::Command::AppendEvent {
                    case: case.clone(),
                    deadline,
                    event: event.clone(),
                })
                .await?;
                Ok(())
            }

            async fn append_event_once(
                &self,
                case: &Case,
                deadline: Option<DateTime<Utc>>,
                event: &Event,
                scope: &str,
                key: &str,
            ) -> Result<Option<crate::KeyUse>> {
                let out = self
                    .execute(crate::pipeline::Command::AppendEventOnce {
                        case: case.clone(),
                        deadline,
                        event: event.clone(),
                        scope: scope.to_owned(),
                        key: key.to_owned(),
                    })
                    .await?;
                Ok(match out {
                    crate::pipeline::Outcome::KeyUsed(used) => Some(used),
                    _ => None,
                })
            }

            async fn idempotency_key(&self, scope: &str, key: &str) -> Result<Option<crate::KeyUse>> {
                key_use(&self.writer, scope, key).await
            }

            async fn get_case(&self, id: CaseId) -> Result<Case> {
                let row = sqlx::query("SELECT view FROM cases WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("case {id}")))?;
                decode_case(&row)
            }

            async fn get_case_by_number(&self, number: &str) -> Result<Case> {
                let row = sqlx::query("SELECT view FROM cases WHERE number = $1")
                    .bind(number)
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("case {number}")))?;
                decode_case(&row)
            }

            async fn cases_merged_into(&self, masters: &[CaseId], limit: i64) -> Result<Vec<Case>> {
                if masters.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT view FROM cases WHERE merged_into IS NOT NULL",
                );
                push_in(&mut q, "merged_into", masters.iter().map(|m| m.to_string()));
                q.push(" ORDER BY created_at, id LIMIT ").push_bind(limit);
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter().map(decode_case).collect()
            }

            async fn events(&self, id: CaseId) -> Result<Vec<Event>> {
                let rows = sqlx::query("SELECT body FROM case_events WHERE case_id = $1 ORDER BY seq")
                    .bind(id.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let b: String = r.try_get("body")?;
                        Ok(serde_json::from_str(&b)?)
                    })
                    .collect()
            }

            async fn list_cases(&self, f: &CaseFilter, page: &Page) -> Result<Vec<Case>> {
                let mut q = QueryBuilder::<$db>::new("SELECT view FROM cases WHERE 1 = 1");
                push_in(&mut q, "state", f.states.iter().cloned());
                push_in(&mut q, "id", f.ids.iter().map(|id| id.to_string()));
                match f.unit_id {
                    Some(u) if f.assisting => {
                        q.push(" AND (unit_id = ").push_bind(u.to_string());
                        q.push(" OR id IN (SELECT case_id FROM case_assists WHERE state = 'open' AND unit_id = ")
                            .push_bind(u.to_string())
                            .push("))");
                    }
                    Some(u) => {
                        q.push(" AND unit_id = ").push_bind(u.to_string());
                    }
                    None => {}
                }
                if let Some(s) = &f.street_code {
                    q.push(" AND street_code = ").push_bind(s.clone());
                }
                if let Some(s) = &f.segment_id {
                    q.push(" AND segment_id = ").push_bind(s.clone());
                }
                if let Some(s) = &f.category_code {
                    q.push(" AND category_code = ").push_bind(s.clone());
                }
                if let Some(s) = &f.source {
                    q.push(" AND source = ").push_bind(s.clone());
                }
                if let Some(t) = f.created_from {
                    q.push(" AND created_at >= ").push_bind(t);
                }
                if let Some(t) = f.created_to {
                    q.push(" AND created_at < ").push_bind(t);
                }
                if let Some(t) = f.updated_from {
                    q.push(" AND updated_at >= ").push_bind(t);
                }
                if let Some(t) = f.updated_to {
                    q.push(" AND updated_at < ").push_bind(t);
                }
                if let Some(t) = f.deadline_before {
                    q.push(" AND deadline < ").push_bind(t);
                }
                if let Some([x0, y0, x1, y1]) = f.bbox {
                    q.push(" AND lon >= ").push_bind(x0);
                    q.push(" AND lat >= ").push_bind(y0);
                    q.push(" AND lon <= ").push_bind(x1);
                    q.push(" AND lat <= ").push_bind(y1);
                }
                if let Some(c) = &page.after {
                    // A row value, so both databases seek the index to the cursor
                    // instead of filtering every newer row.
                    q.push(" AND (created_at, id) < (").push_bind(c.created_at);
                    q.push(", ").push_bind(c.id.to_string()).push(")");
                }
                let limit = i64::from(page.limit.clamp(1, MAX_PAGE));
                q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter().map(decode_case).collect()
            }

            async fn case_clusters(
                &self,
                f: &crate::ClusterFilter,
                now: DateTime<Utc>,
            ) -> Result<Vec<crate::CaseCluster>> {
                let [cx, cy] = f.cell;
                if !(cx.is_finite() && cy.is_finite() && cx > 0.0 && cy > 0.0) {
                    return Ok(Vec::new());
                }
                // floor() portably: SQLite's CAST truncates and PostgreSQL's rounds, and
                // neither is ever below the value after the correction. The cell sizes are
                // finite numbers, written as literals so each appears three times.
                let floor = |e: String| {
                    format!("(CAST({e} AS BIGINT) - CASE WHEN CAST({e} AS BIGINT) > {e} THEN 1 ELSE 0 END)")
                };
                let gx = floor(format!("((lon + 180.0) / {cx})"));
                let gy = floor(format!("((lat + 90.0) / {cy})"));
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {gx} AS gx, {gy} AS gy, COUNT(*) AS n, SUM(CASE WHEN deadline < "
                ));
                q.push_bind(now);
                q.push(
                    " THEN 1 ELSE 0 END) AS overdue, AVG(lon) AS mlon, AVG(lat) AS mlat, \
                     MIN(id) AS min_id FROM cases WHERE 1 = 1",
                );
                push_in(&mut q, "state", f.states.iter().cloned());
                if let Some(u) = f.unit_id {
                    q.push(" AND unit_id = ").push_bind(u.to_string());
                }
                if let Some(s) = &f.street_code {
                    q.push(" AND street_code = ").push_bind(s.clone());
                }
                let [x0, y0, x1, y1] = f.bbox;
                q.push(" AND lon >= ").push_bind(x0);
                q.push(" AND lon <= ").push_bind(x1);
                q.push(" AND lat >= ").push_bind(y0);
                q.push(" AND lat <= ").push_bind(y1);
                q.push(" GROUP BY gx, gy ORDER BY gx, gy");
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter()
                    .map(|r| {
                        let n: i64 = r.try_get("n")?;
                        let overdue: Option<i64> = r.try_get("overdue")?;
                        Ok(crate::CaseCluster {
                            gx: r.try_get("gx")?,
                            gy: r.try_get("gy")?,
                            count: u64::try_from(n).unwrap_or(0),
                            overdue: u64::try_from(overdue.unwrap_or(0)).unwrap_or(0),
                            lon: r.try_get("mlon")?,
                            lat: r.try_get("mlat")?,
                            min_id: r.try_get("min_id")?,
                        })
                    })
                    .collect()
            }

            async fn list_public_cases(
                &self,
                f: &crate::PublicCaseFilter,
                start: &crate::PublicStart,
                limit: u32,
            ) -> Result<Vec<Case>> {
                // `open311_code IS NOT NULL` verbatim: it selects the partial index.
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT view FROM cases WHERE open311_code IS NOT NULL",
                );
                match f.service_codes.as_slice() {
                    [] => {}
                    [one] => {
                        q.push(" AND open311_code = ").push_bind(one.clone());
                    }
                    many => push_in(&mut q, "open311_code", many.iter().cloned()),
                }
                push_in(&mut q, "state", f.states.iter().cloned());
                if let Some(t) = f.created_from {
                    q.push(" AND created_at >= ").push_bind(t);
                }
                if let Some(t) = f.created_to {
                    q.push(" AND created_at < ").push_bind(t);
                }
                if let Some(t) = f.updated_from {
                    q.push(" AND updated_at >= ").push_bind(t);
                }
                if let Some(t) = f.updated_to {
                    q.push(" AND updated_at < ").push_bind(t);
                }
                let offset = match start {
                    crate::PublicStart::Offset(n) => i64::try_from(*n).unwrap_or(i64::MAX),
                    crate::PublicStart::After(c) => {
                        q.push(" AND (created_at, id) < (").push_bind(c.created_at);
                        q.push(", ").push_bind(c.id.to_string()).push(")");
                        0
                    }
                };
                let limit = i64::from(limit.clamp(1, crate::MAX_PUBLIC_PAGE));
                q.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
                q.push(" OFFSET ").push_bind(offset);
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter().map(decode_case).collect()
            }

            async fn add_api_key(&self, key_hash: &str, name: &str, now: DateTime<Utc>) -> Result<()> {
                sqlx::query("INSERT INTO api_keys (key_hash, name, created_at) VALUES ($1, $2, $3)")
                    .bind(key_hash)
                    .bind(name)
                    .bind(now)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn api_key(&self, key_hash: &str) -> Result<Option<String>> {
                let row = sqlx::query(
                    "SELECT name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                )
                .bind(key_hash)
                .fetch_optional(&self.reader)
                .await?;
                Ok(match row {
                    Some(r) => Some(r.try_get("name")?),
                    None => None,
                })
            }

            async fn revoke_api_key(&self, key_hash: &str, now: DateTime<Utc>) -> Result<()> {
                let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(key_hash)
                    .execute(&self.writer)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound("api key".into()));
                }
                Ok(())
            }

            async fn put_attachment(&self, a: &crate::Attachment) -> Result<(crate::Attachment, bool)> {
                let inserted = insert_attachment(&self.writer, a).await? == 1;
                // Read back through the writer: the row may have been committed just now.
                let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE sha256 = $1"))
                    .bind(&a.sha256)
                    .fetch_one(&self.writer)
                    .await?;
                Ok((decode_attachment(&row)?, inserted))
            }

            async fn get_attachment(&self, id: uuid::Uuid) -> Result<crate::Attachment> {
                let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1"))
                    .bind(id.to_string())
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
                decode_attachment(&row)
            }

            async fn attachments(&self, ids: &[uuid::Uuid]) -> Result<Vec<crate::Attachment>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new(format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id IN ("));
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(id.to_string());
                }
                q.push(")");
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter().map(decode_attachment).collect()
            }

            async fn unit_has_attachment(&self, unit: UnitId, id: uuid::Uuid) -> Result<bool> {
                // Events are JSON text; an attachment id (a UUID) or its public URL appears
                // verbatim in the report's media or an event's attachments. The unit's
                // cases come from the cases_unit index, so only their events are read.
                let row = sqlx::query(
                    "SELECT 1 AS hit FROM cases c JOIN case_events e ON e.case_id = c.id
                     WHERE c.unit_id = $1 AND e.body LIKE $2 LIMIT 1",
                )
                .bind(unit.to_string())
                .bind(format!("%{id}%"))
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.is_some())
            }

            async fn export_reference(&self) -> Result<crate::ReferenceSnapshot> {
                let mut snap = crate::ReferenceSnapshot {
                    categories: self.list_categories().await?,
                    units: self.list_units().await?,
                    ..Default::default()
                };
                for r in sqlx::query("SELECT key, value FROM settings ORDER BY key").fetch_all(&self.reader).await? {
                    let v: String = r.try_get("value")?;
                    snap.settings.push((r.try_get("key")?, serde_json::from_str(&v)?));
                }
                for r in sqlx::query("SELECT body, password_hash FROM people ORDER BY username").fetch_all(&self.reader).await? {
                    snap.people.push((decode_person(&r)?, r.try_get("password_hash")?));
                }
                for r in sqlx::query("SELECT name, geojson FROM territory_layers ORDER BY name").fetch_all(&self.reader).await? {
                    snap.layers.push((r.try_get("name")?, r.try_get("geojson")?));
                }
                for r in sqlx::query("SELECT key_hash, name, created_at, revoked_at FROM api_keys ORDER BY key_hash").fetch_all(&self.reader).await? {
                    snap.api_keys.push(crate::ApiKeyRow {
                        key_hash: r.try_get("key_hash")?,
                        name: r.try_get("name")?,
                        created_at: r.try_get("created_at")?,
                        revoked_at: r.try_get("revoked_at")?,
                    });
                }
                for r in sqlx::query("SELECT scope, last FROM case_seq ORDER BY scope").fetch_all(&self.reader).await? {
                    snap.sequences.push((r.try_get("scope")?, r.try_get("last")?));
                }
                for r in sqlx::query("SELECT scope, key, case_id, created_at FROM idempotency ORDER BY scope, key").fetch_all(&self.reader).await? {
                    let id: String = r.try_get("case_id")?;
                    snap.idempotency.push(crate::IdempotencyRow {
                        scope: r.try_get("scope")?,
                        key: r.try_get("key")?,
                        case_id: CaseId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        created_at: r.try_get("created_at")?,
                    });
                }
                for r in sqlx::query("SELECT case_id, clock_key, level, fired_at FROM escalations ORDER BY case_id, clock_key, level").fetch_all(&self.reader).await? {
                    let id: String = r.try_get("case_id")?;
                    snap.escalations.push((
                        CaseId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        r.try_get("clock_key")?,
                        r.try_get("level")?,
                        r.try_get("fired_at")?,
                    ));
                }
                for p in &snap.people {
                    snap.notifications.extend(self.notifications(p.0.id, MAX_PAGE).await?);
                }
                for r in sqlx::query("SELECT segment_id, level, person_id, valid_from, valid_to FROM road_chief_assignments ORDER BY valid_from, segment_id, level").fetch_all(&self.reader).await? {
                    snap.road_chiefs.push(decode_assignment(&r)?);
                }
                for r in sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments ORDER BY uploaded_at, id")).fetch_all(&self.reader).await? {
                    snap.attachments.push(decode_attachment(&r)?);
                }
                let mut after: Option<crate::AuditCursor> = None;
                loop {
                    let page = audit_log_query(&self.reader, &crate::AuditFilter::default(), after.as_ref(), MAX_PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(crate::AuditCursor { at: last.at, id: last.id });
                    snap.audit.extend(page);
                }
                snap.audit.reverse();
                Ok(snap)
            }

            async fn import_reference(&self, snap: &crate::ReferenceSnapshot) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                for (k, v) in &snap.settings {
                    sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)")
                        .bind(k).bind(v.to_string()).bind(Utc::now())
                        .execute(&mut *tx).await?;
                }
                for c in &snap.categories {
                    sqlx::query("INSERT INTO categories (standard, kind, code, body) VALUES ($1, $2, $3, $4)")
                        .bind(c.code.standard.as_str()).bind(c.code.kind.as_str()).bind(&c.code.code)
                        .bind(serde_json::to_string(c)?)
                        .execute(&mut *tx).await?;
                }
                for u in &snap.units {
                    sqlx::query("INSERT INTO units (id, code, kind, type_key, body) VALUES ($1, $2, $3, $4, $5)")
                        .bind(u.id.to_string()).bind(&u.code).bind(u.kind.as_str()).bind(&u.type_key)
                        .bind(serde_json::to_string(u)?)
                        .execute(&mut *tx).await?;
                }
                for (p, hash) in &snap.people {
                    sqlx::query("INSERT INTO people (id, username, role, unit_id, password_hash, body) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(p.id.to_string()).bind(&p.username).bind(p.role.as_str())
                        .bind(p.unit_id.map(|u| u.to_string())).bind(hash).bind(serde_json::to_string(p)?)
                        .execute(&mut *tx).await?;
                }
                for (name, geojson) in &snap.layers {
                    sqlx::query("INSERT INTO territory_layers (name, geojson, updated_at) VALUES ($1, $2, $3)")
                        .bind(name).bind(geojson).bind(Utc::now())
                        .execute(&mut *tx).await?;
                }
                for k in &snap.api_keys {
                    sqlx::query("INSERT INTO api_keys (key_hash, name, created_at, revoked_at) VALUES ($1, $2, $3, $4)")
                        .bind(&k.key_hash).bind(&k.name).bind(k.created_at).bind(k.revoked_at)
                        .execute(&mut *tx).await?;
                }
                for a in &snap.attachments {
                    insert_attachment(&mut *tx, a).await?;
                }
                for a in &snap.road_chiefs {
                    sqlx::query("INSERT INTO road_chief_assignments (id, segment_id, level, person_id, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(uuid::Uuid::now_v7().to_string()).bind(&a.segment_id).bind(&a.level)
                        .bind(a.person_id.to_string()).bind(a.valid_from).bind(a.valid_to)
                        .execute(&mut *tx).await?;
                }
                for e in &snap.audit {
                    sqlx::query("INSERT INTO admin_audit (id, at, actor_id, entity, entity_id, action, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(e.id.to_string()).bind(e.at).bind(e.actor_id.map(|p| p.to_string()))
                        .bind(&e.entity).bind(&e.entity_id).bind(&e.action)
                        .bind(e.before.as_ref().map(|v| v.to_string())).bind(e.after.as_ref().map(|v| v.to_string()))
                        .execute(&mut *tx).await?;
                }
                for (scope, last) in &snap.sequences {
                    sqlx::query("INSERT INTO case_seq (scope, last) VALUES ($1, $2)")
                        .bind(scope).bind(*last)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn export_cases(&self, after: Option<CaseId>, limit: u32) -> Result<Vec<crate::CaseRecord>> {
                let rows = sqlx::query(
                    "SELECT id, view, deadline FROM cases WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after.map(|a| a.to_string()).unwrap_or_default())
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&self.reader)
                .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    let case = decode_case(r)?;
                    let events = self.events(case.id).await?;
                    out.push(crate::CaseRecord { deadline: r.try_get("deadline")?, case, events });
                }
                Ok(out)
            }

            async fn import_cases(&self, batch: &[crate::CaseRecord]) -> Result<()> {
                self.execute(crate::pipeline::Command::ImportCases(batch.to_vec())).await?;
                Ok(())
            }

            async fn known_external_refs(
                &self,
                source: cityloop_domain::model::Source,
                refs: &[String],
            ) -> Result<Vec<String>> {
                let mut out = Vec::new();
                // Bounded statements: at most 500 placeholders each.
                for chunk in refs.chunks(500) {
                    let list = (2..chunk.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                    let sql = format!(
                        "SELECT external_ref FROM cases WHERE source = $1 AND external_ref IN ({list})"
                    );
                    let mut q = sqlx::query(&sql).bind(source.as_str());
                    for r in chunk {
                        q = q.bind(r);
                    }
                    for row in q.fetch_all(&self.reader).await? {
                        out.push(row.try_get::<String, _>("external_ref")?);
                    }
                }
                Ok(out)
            }

            async fn import_case_links(&self, snap: &crate::ReferenceSnapshot) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                for r in &snap.idempotency {
                    sqlx::query("INSERT INTO idempotency (scope, key, case_id, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&r.scope).bind(&r.key).bind(r.case_id.to_string()).bind(r.created_at)
                        .execute(&mut *tx).await?;
                }
                for (case_id, clock_key, level, at) in &snap.escalations {
                    sqlx::query("INSERT INTO escalations (case_id, clock_key, level, fired_at) VALUES ($1, $2, $3, $4)")
                        .bind(case_id.to_string()).bind(clock_key).bind(level).bind(*at)
                        .execute(&mut *tx).await?;
                }
                for n in &snap.notifications {
                    sqlx::query("INSERT INTO notifications (id, person_id, case_id, kind, message, created_at, read_at, event_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(n.id.to_string()).bind(n.person_id.to_string()).bind(n.case_id.map(|c| c.to_string()))
                        .bind(&n.kind).bind(&n.message).bind(n.created_at).bind(n.read_at).bind(n.event_seq)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn counts(&self) -> Result<Vec<(String, i64)>> {
                let mut out = Vec::new();
                for t in ["settings", "categories", "units", "people", "territory_layers", "api_keys", "case_seq", "cases", "case_events", "idempotency", "escalations", "notifications", "road_chief_assignments", "attachments", "admin_audit"] {
                    let r = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {t}")).fetch_one(&self.reader).await?;
                    out.push((t.to_owned(), r.try_get("n")?));
                }
                Ok(out)
            }

            async fn fire_escalation(
                &self,
                case_id: CaseId,
                clock_key: &str,
                level: &str,
                now: DateTime<Utc>,
                notifications: &[crate::Notification],
            ) -> Result<bool> {
                let mut tx = self.writer.begin().await?;
                let done = sqlx::query(
                    "INSERT INTO escalations (case_id, clock_key, level, fired_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (case_id, clock_key, level) DO NOTHING",
                )
                .bind(case_id.to_string())
                .bind(clock_key)
                .bind(level)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                enqueue_escalation(&mut tx, case_id, clock_key, level, now).await?;
                for n in notifications {
                    sqlx::query(
                        "INSERT INTO notifications (id, person_id, case_id, kind, message, created_at, read_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(n.id.to_string())
                    .bind(n.person_id.to_string())
                    .bind(n.case_id.map(|c| c.to_string()))
                    .bind(&n.kind)
                    .bind(&n.message)
                    .bind(n.created_at)
                    .bind(n.read_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn notifications(&self, person: PersonId, limit: u32) -> Result<Vec<crate::Notification>> {
                let rows = sqlx::query(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                     WHERE person_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(person.to_string())
                .bind(i64::from(limit.clamp(1, MAX_PAGE)))
                .fetch_all(&self.reader)
                .await?;
                rows.iter().map(decode_notification).collect()
            }

            async fn inbox(&self, person: PersonId, offset: u32, limit: u32) -> Result<Vec<crate::Notification>> {
                let rows = sqlx::query(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                     WHERE person_id = $1
                     ORDER BY CASE WHEN read_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id DESC
                     LIMIT $2 OFFSET $3"
                ))
                .bind(person.to_string())
                .bind(i64::from(limit.clamp(1, crate::MAX_INBOX_PAGE)))
                .bind(i64::from(offset))
                .fetch_all(&self.reader)
                .await?;
                rows.iter().map(decode_notification).collect()
            }

            async fn unread_count(&self, person: PersonId) -> Result<i64> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM notifications WHERE person_id = $1 AND read_at IS NULL",
                )
                .bind(person.to_string())
                .fetch_one(&self.reader)
                .await?;
                Ok(row.try_get("n")?)
            }

            async fn mark_read(
                &self,
                person: PersonId,
                id: Option<uuid::Uuid>,
                now: DateTime<Utc>,
            ) -> Result<u64> {
                let done = match id {
                    Some(id) => sqlx::query(
                        "UPDATE notifications SET read_at = $1
                         WHERE person_id = $2 AND id = $3 AND read_at IS NULL",
                    )
                    .bind(now)
                    .bind(person.to_string())
                    .bind(id.to_string())
                    .execute(&self.writer)
                    .await?,
                    None => sqlx::query(
                        "UPDATE notifications SET read_at = $1 WHERE person_id = $2 AND read_at IS NULL",
                    )
                    .bind(now)
                    .bind(person.to_string())
                    .execute(&self.writer)
                    .await?,
                };
                Ok(done.rows_affected())
            }

            async fn has_notification(&self, person: PersonId, id: uuid::Uuid) -> Result<bool> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM notifications WHERE person_id = $1 AND id = $2",
                )
                .bind(person.to_string())
                .bind(id.to_string())
                .fetch_one(&self.writer)
                .await?;
                let n: i64 = row.try_get("n")?;
                Ok(n > 0)
            }

            async fn event_notifications(&self, case_id: CaseId, seq: i64) -> Result<Vec<crate::Notification>> {
                // The writer pool: the push runs right after the commit, before a replica
                // or a SQLite reader connection may have seen it.
                let rows = sqlx::query(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                     WHERE notifications.case_id = $1 AND event_seq = $2 ORDER BY person_id"
                ))
                .bind(case_id.to_string())
                .bind(seq)
                .fetch_all(&self.writer)
                .await?;
                rows.iter().map(decode_notification).collect()
            }

            async fn assign_road_chiefs(
                &self,
                assignments: &[(String, String, PersonId)],
                now: DateTime<Utc>,
            ) -> Result<()> {
                let mut tx = self.writer.begin().await?;
                for (segment, level, person) in assignments {
                    assign_road_chief_in(&mut tx, segment, level, *person, now).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn road_chiefs(&self, segment: Option<&str>) -> Result<Vec<crate::RoadChiefAssignment>> {
                let rows = match segment {
                    Some(seg) => sqlx::query(
                        "SELECT segment_id, level, person_id, valid_from, valid_to FROM road_chief_assignments
                         WHERE segment_id = $1 AND valid_to IS NULL ORDER BY level",
                    )
                    .bind(seg)
                    .fetch_all(&self.reader)
                    .await?,
                    None => sqlx::query(
                        "SELECT segment_id, level, person_id, valid_from, valid_to FROM road_chief_assignments
                         WHERE valid_to IS NULL ORDER BY segment_id, level",
                    )
                    .fetch_all(&self.reader)
                    .await?,
                };
                rows.iter().map(decode_assignment).collect()
            }

            async fn road_chief_history(&self, segment: &str) -> Result<Vec<crate::RoadChiefAssignment>> {
                let rows = sqlx::query(
                    "SELECT segment_id, level, person_id, valid_from, valid_to FROM road_chief_assignments
                     WHERE segment_id = $1 ORDER BY valid_from, level",
                )
                .bind(segment)
                .fetch_all(&self.reader)
                .await?;
                rows.iter().map(decode_assignment).collect()
            }

            async fn create_numbered_case(
                &self,
                prefix: &str,
                case: &mut Case,
                deadline: Option<DateTime<Utc>>,
                event: &mut Event,
                idempotency: Option<(&str, &str)>,
            ) -> Result<Option<CaseId>> {
                let out = self
                    .execute(crate::pipeline::Command::CreateNumberedCase {
                        prefix: prefix.to_owned(),
                        case: case.clone(),
                        deadline,
                        event: event.clone(),
                        idempotency: idempotency.map(|(s, k)| (s.to_owned(), k.to_owned())),
                        number: None,
                    })
                    .await?;
                match out {
                    crate::pipeline::Outcome::Replayed(id) => Ok(Some(id)),
                    crate::pipeline::Outcome::Numbered(number) => {
                        if let Some(report) = event.report.as_mut() {
                            report.number = number.clone();
                        }
                        case.number = number;
                        Ok(None)
                    }
                    other => Err(StoreError::Corrupt(format!(
                        "a numbered creation answered {other:?}"
                    ))),
                }
            }

            async fn admin_apply(&self, ops: &[crate::AdminOp], audit: &crate::AuditEntry) -> Result<()> {
                admin_apply_tx(&self.writer, ops, audit).await
            }

            async fn audit_log(
                &self,
                filter: &crate::AuditFilter,
                after: Option<&crate::AuditCursor>,
                limit: u32,
            ) -> Result<Vec<crate::AuditEntry>> {
                audit_log_query(&self.reader, filter, after, limit).await
            }

            async fn person(&self, id: PersonId) -> Result<Person> {
                let row = sqlx::query("SELECT body FROM people WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&self.reader)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("person {id}")))?;
                decode_person(&row)
            }

            async fn open_cases_of_unit(&self, unit: UnitId) -> Result<i64> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM cases WHERE unit_id = $1 AND state NOT IN ('closed', 'voided')",
                )
                .bind(unit.to_string())
                .fetch_one(&self.reader)
                .await?;
                Ok(row.try_get("n")?)
            }

            async fn list_api_keys(&self) -> Result<Vec<crate::ApiKeyRow>> {
                let rows = sqlx::query(
                    "SELECT key_hash, name, created_at, revoked_at FROM api_keys ORDER BY created_at DESC, key_hash",
                )
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(crate::ApiKeyRow {
                            key_hash: r.try_get("key_hash")?,
                            name: r.try_get("name")?,
                            created_at: r.try_get("created_at")?,
                            revoked_at: r.try_get("revoked_at")?,
                        })
                    })
                    .collect()
            }

            async fn refresh_deadlines(
                &self,
                rows: &[(CaseId, i64, Option<DateTime<Utc>>)],
            ) -> Result<u64> {
                let mut tx = self.writer.begin().await?;
                let mut changed = 0;
                for (id, version, deadline) in rows {
                    changed += sqlx::query(
                        "UPDATE cases SET deadline = $1 WHERE id = $2 AND version = $3",
                    )
                    .bind(*deadline)
                    .bind(id.to_string())
                    .bind(*version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(changed)
            }

            async fn count_cases(&self) -> Result<i64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM cases")
                    .fetch_one(&self.reader)
                    .await?;
                Ok(row.try_get("n")?)
            }

            fn set_eval_calendar(&self, cal: std::sync::Arc<cityloop_domain::calendar::WorkCalendar>) {
                self.eval_calendar.set(cal);
            }

            async fn eval_sums(&self, kind: ObjectKind, from_day: i32, to_day: i32) -> Result<Vec<(String, String, i64)>> {
                // Whole months from the month totals, the days before and after from the day
                // buckets (`crate::month_split`), and the deltas not yet folded (PostgreSQL)
                // over the whole range, all in one statement (one snapshot: exact).
                let (head_to, months, tail_from) = crate::month_split(from_day, to_day);
                let rows = sqlx::query(
                    "SELECT object_id, metric, CAST(SUM(v) AS BIGINT) AS v FROM (
                       SELECT object_id, metric, value AS v FROM eval_buckets
                       WHERE object_kind = $1 AND ((day >= $2 AND day <= $3) OR (day >= $4 AND day <= $5))
                       UNION ALL
                       SELECT object_id, metric, value AS v FROM eval_buckets_month
                       WHERE object_kind = $1 AND month >= $6 AND month <= $7
                       UNION ALL
                       SELECT object_id, metric, value AS v FROM eval_bucket_deltas
                       WHERE object_kind = $1 AND day >= $2 AND day <= $5
                     ) AS parts
                     GROUP BY object_id, metric",
                )
                .bind(kind.as_str())
                .bind(from_day)
                .bind(head_to)
                .bind(tail_from)
                .bind(to_day)
                .bind(months.0)
                .bind(months.1)
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("object_id")?, r.try_get("metric")?, r.try_get("v")?)))
                    .collect()
            }

            async fn eval_cases(
                &self,
                kind: ObjectKind,
                object_ids: &[String],
                metric: &str,
                from_day: i32,
                to_day: i32,
                limit: u32,
            ) -> Result<Vec<(CaseId, i32, i64)>> {
                if object_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT case_id, day, value FROM eval_case_counters WHERE object_kind = ",
                );
                q.push_bind(kind.as_str());
                q.push(" AND metric = ").push_bind(metric);
                q.push(" AND day >= ").push_bind(from_day);
                q.push(" AND day <= ").push_bind(to_day);
                q.push(" AND object_id IN (");
                let mut sep = q.separated(", ");
                for id in object_ids {
                    sep.push_bind(id.clone());
                }
                q.push(") ORDER BY day DESC, case_id LIMIT ");
                q.push_bind(i64::from(limit.clamp(1, MAX_PAGE)));
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter()
                    .map(|r| {
                        let id: String = r.try_get("case_id")?;
                        let id = CaseId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        Ok((id, r.try_get("day")?, r.try_get("value")?))
                    })
                    .collect()
            }

            async fn eval_open_cases(
                &self,
                kind: ObjectKind,
                metric: &str,
                done_metric: &str,
                from_day: i32,
                to_day: i32,
            ) -> Result<Vec<(String, Option<DateTime<Utc>>)>> {
                // From the open cases (cases_state index), then each one's counters by
                // primary key: the closed history is never read.
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT c.object_id AS object_id, k.deadline AS deadline
                     FROM cases k JOIN eval_case_counters c ON c.case_id = k.id
                     WHERE k.state IN (",
                );
                let mut sep = q.separated(", ");
                for s in cityloop_domain::workflow::CaseState::ALL.iter().filter(|s| !s.is_terminal()) {
                    sep.push_bind(s.as_str());
                }
                q.push(") AND c.object_kind = ").push_bind(kind.as_str());
                q.push(" AND c.metric = ").push_bind(metric.to_owned());
                q.push(" AND c.day >= ").push_bind(from_day);
                q.push(" AND c.day <= ").push_bind(to_day);
                q.push(
                    " AND NOT EXISTS (SELECT 1 FROM eval_case_counters d WHERE d.case_id = c.case_id
                       AND d.object_kind = c.object_kind AND d.object_id = c.object_id AND d.metric = ",
                )
                .push_bind(done_metric.to_owned());
                q.push(")");
                let rows = q.build().fetch_all(&self.reader).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("object_id")?, r.try_get("deadline")?)))
                    .collect()
            }

            async fn eval_buckets(&self) -> Result<Vec<cityloop_domain::evaluation::Counter>> {
                let rows = sqlx::query(
                    "SELECT object_kind, day, object_id, metric, CAST(SUM(value) AS BIGINT) AS value FROM (
                       SELECT object_kind, day, object_id, metric, value FROM eval_buckets
                       UNION ALL
                       SELECT object_kind, day, object_id, metric, value FROM eval_bucket_deltas
                     ) AS parts
                     GROUP BY object_kind, day, object_id, metric HAVING SUM(value) <> 0
                     ORDER BY object_kind, day, object_id, metric",
                )
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(cityloop_domain::evaluation::Counter {
                            key: decode_counter_key(r)?,
                            value: r.try_get("value")?,
                        })
                    })
                    .collect()
            }

            async fn eval_rebuild(&self) -> Result<u64> {
                let cal = self.eval_calendar.get();
                let mut tx = self.writer.begin().await?;
                sqlx::query("DELETE FROM eval_buckets").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM eval_buckets_month").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM eval_case_counters").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM eval_bucket_deltas").execute(&mut *tx).await?;
                let ids = sqlx::query("SELECT id FROM cases ORDER BY id").fetch_all(&mut *tx).await?;
                let mut n = 0u64;
                for r in &ids {
                    let id: String = r.try_get("id")?;
                    let id = CaseId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    eval_refresh(&mut tx, &cal, false, id, None).await?;
                    n += 1;
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn add_patrol(&self, p: &cityloop_domain::evaluation::Patrol) -> Result<()> {
                sqlx::query(
                    "INSERT INTO patrols (id, person_id, started_at, ended_at, body) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(p.id.to_string())
                .bind(p.person_id.to_string())
                .bind(p.started_at)
                .bind(p.ended_at)
                .bind(serde_json::to_string(p)?)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn patrols(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<cityloop_domain::evaluation::Patrol>> {
                let rows = sqlx::query(
                    "SELECT body FROM patrols WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at, id",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&self.reader)
                .await?;
                rows.iter()
                    .map(|r| {
                        let b: String = r.try_get("body")?;
                        Ok(serde_json::from_str(&b)?)
                    })
                    .collect()
            }
        }

        fn decode_counter_key(r: &<$db as sqlx::Database>::Row) -> Result<cityloop_domain::evaluation::CounterKey> {
            let kind: String = r.try_get("object_kind")?;
            Ok(cityloop_domain::evaluation::CounterKey {
                day: r.try_get("day")?,
                kind: kind.parse::<ObjectKind>().map_err(|e| StoreError::Corrupt(e.to_string()))?,
                object_id: r.try_get("object_id")?,
                metric: r.try_get("metric")?,
            })
        }

        /// Re-derives one case's evaluation counters from its whole history (inside the
        /// transaction that just wrote an event) and applies the difference to the day
        /// buckets, so buckets always equal the sum over cases of their counters.
        async fn eval_refresh(
            tx: &mut sqlx::Transaction<'_, $db>,
            cal: &cityloop_domain::calendar::WorkCalendar,
            deltas: bool,
            case_id: CaseId,
            whole: Option<&[Event]>,
        ) -> Result<()> {
            use cityloop_domain::evaluation::{counters_of, sum_counters};
            let id = case_id.to_string();
            // `whole`: the change holds the case's entire history (a new or imported case),
            // so nothing needs reading back and no earlier counters exist.
            let (new, old_rows) = match whole {
                Some(events) => (sum_counters(&counters_of(events, cal)), Vec::new()),
                None => {
                    let rows = sqlx::query("SELECT body FROM case_events WHERE case_id = $1 ORDER BY seq")
                        .bind(&id)
                        .fetch_all(&mut **tx)
                        .await?;
                    let events = rows
                        .iter()
                        .map(|r| {
                            let b: String = r.try_get("body")?;
                            Ok(serde_json::from_str::<Event>(&b)?)
                        })
                        .collect::<Result<Vec<Event>>>()?;
                    let old_rows = sqlx::query(
                        "SELECT object_kind, object_id, metric, day, value FROM eval_case_counters WHERE case_id = $1",
                    )
                    .bind(&id)
                    .fetch_all(&mut **tx)
                    .await?;
                    (sum_counters(&counters_of(&events, cal)), old_rows)
                }
            };
            let mut delta = new.clone();
            for r in &old_rows {
                let v: i64 = r.try_get("value")?;
                *delta.entry(decode_counter_key(r)?).or_insert(0) -= v;
            }
            delta.retain(|_, v| *v != 0);
            for (k, v) in &delta {
                if deltas {
                    // No shared row: the background fold adds it to the buckets.
                    sqlx::query(
                        "INSERT INTO eval_bucket_deltas (object_kind, day, object_id, metric, value)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(k.kind.as_str())
                    .bind(k.day)
                    .bind(&k.object_id)
                    .bind(&k.metric)
                    .bind(*v)
                    .execute(&mut **tx)
                    .await?;
                } else {
                sqlx::query(
                    "INSERT INTO eval_buckets (object_kind, day, object_id, metric, value) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (object_kind, day, object_id, metric) DO UPDATE SET value = eval_buckets.value + excluded.value",
                )
                .bind(k.kind.as_str())
                .bind(k.day)
                .bind(&k.object_id)
                .bind(&k.metric)
                .bind(*v)
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO eval_buckets_month (object_kind, month, object_id, metric, value) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (object_kind, month, object_id, metric) DO UPDATE SET value = eval_buckets_month.value + excluded.value",
                )
                .bind(k.kind.as_str())
                .bind(k.day / 100)
                .bind(&k.object_id)
                .bind(&k.metric)
                .bind(*v)
                .execute(&mut **tx)
                .await?;
                }
                match new.get(k) {
                    Some(n) => {
                        sqlx::query(
                            "INSERT INTO eval_case_counters (case_id, object_kind, object_id, metric, day, value)
                             VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT (case_id, object_kind, object_id, metric, day) DO UPDATE SET value = excluded.value",
                        )
                        .bind(&id)
                        .bind(k.kind.as_str())
                        .bind(&k.object_id)
                        .bind(&k.metric)
                        .bind(k.day)
                        .bind(*n)
                        .execute(&mut **tx)
                        .await?;
                    }
                    None => {
                        sqlx::query(
                            "DELETE FROM eval_case_counters WHERE case_id = $1 AND object_kind = $2
                               AND object_id = $3 AND metric = $4 AND day = $5",
                        )
                        .bind(&id)
                        .bind(k.kind.as_str())
                        .bind(&k.object_id)
                        .bind(&k.metric)
                        .bind(k.day)
                        .execute(&mut **tx)
                        .await?;
                    }
                }
            }
            Ok(())
        }

        crate::admin::admin_sql!($db);

        /// The case an idempotency key created, if it was used.
        async fn idempotent_case<'e, E>(ex: E, scope: &str, key: &str) -> Result<Option<CaseId>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query("SELECT case_id FROM idempotency WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .fetch_optional(ex)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let id: String = r.try_get("case_id")?;
                    CaseId::parse(&id)
                        .map(Some)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                }
            }
        }

        /// Applies one write-path command inside `tx` (the caller's transaction, or the
        /// savepoint of one write in a SQLite group commit): the command's own checks
        /// (idempotency key, case number), then every registered projection
        /// (`crate::pipeline::PROJECTIONS`) in order. On an error nothing of the command
        /// may be committed: the caller rolls `tx` back.
        pub(crate) async fn apply_command(
            tx: &mut sqlx::Transaction<'_, $db>,
            ctx: &crate::common::WriteCtx,
            cmd: &crate::pipeline::Command,
        ) -> Result<crate::pipeline::Outcome> {
            use crate::pipeline::{Change, ChangeKind, Command, Outcome};
            match cmd {
                Command::CreateCase { case, deadline, event } => {
                    let change = Change {
                        case,
                        deadline: *deadline,
                        events: std::slice::from_ref(event),
                        kind: ChangeKind::Created,
                    };
                    run_projections(tx, ctx, &change).await?;
                    Ok(Outcome::Done)
                }
                Command::CreateNumberedCase { prefix, case, deadline, event, idempotency, number } => {
                    if let Some((scope, key)) = idempotency {
                        if let Some(id) = idempotent_case(&mut **tx, scope, key).await? {
                            return Ok(Outcome::Replayed(id));
                        }
                    }
                    // Everything from the number on in a savepoint: a lost race for the
                    // key rolls back the number too (gap-free where `case_seq` is used).
                    let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
                    let n = match number {
                        Some(n) => *n,
                        None => take_number_in(&mut sp, prefix).await?,
                    };
                    let assigned = cityloop_domain::ids::CaseNumber::with_prefix(prefix, n);
                    let mut case = case.clone();
                    case.number = assigned.clone();
                    let mut event = event.clone();
                    if let Some(report) = event.report.as_mut() {
                        report.number = assigned.clone();
                    }
                    let change = Change {
                        case: &case,
                        deadline: *deadline,
                        events: std::slice::from_ref(&event),
                        kind: ChangeKind::Created,
                    };
                    run_projections(&mut sp, ctx, &change).await?;
                    if let Some((scope, key)) = idempotency {
                        let claimed = claim_key(&mut sp, scope, key, case.id, case.created_at).await;
                        if let Err(StoreError::Conflict(_)) = claimed {
                            // A concurrent retry won the key; answer with its case.
                            sp.rollback().await?;
                            return match idempotent_case(&mut **tx, scope, key).await? {
                                Some(id) => Ok(Outcome::Replayed(id)),
                                None => Err(StoreError::Conflict(format!("idempotency key {key:?} is being used"))),
                            };
                        }
                        claimed?;
                    }
                    sp.commit().await?;
                    Ok(Outcome::Numbered(assigned))
                }
                Command::AppendEvent { case, deadline, event } => {
                    let change = Change {
                        case,
                        deadline: *deadline,
                        events: std::slice::from_ref(event),
                        kind: ChangeKind::Appended,
                    };
                    run_projections(tx, ctx, &change).await?;
                    Ok(Outcome::Done)
                }
                Command::AppendEventOnce { case, deadline, event, scope, key } => {
                    if let Some(used) = key_use(&mut **tx, scope, key).await? {
                        return Ok(Outcome::KeyUsed(used));
                    }
                    let change = Change {
                        case,
                        deadline: *deadline,
                        events: std::slice::from_ref(event),
                        kind: ChangeKind::Appended,
                    };
                    let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
                    let appended = run_projections(&mut sp, ctx, &change).await;
                    if let Err(StoreError::Conflict(_)) = &appended {
                        // A concurrent request with the same key may have won the version.
                        sp.rollback().await?;
                        if let Some(used) = key_use(&mut **tx, scope, key).await? {
                            return Ok(Outcome::KeyUsed(used));
                        }
                        return appended.map(|()| Outcome::Done);
                    }
                    appended?;
                    let claimed = claim_key(&mut sp, scope, key, case.id, event.at).await;
                    if let Err(StoreError::Conflict(_)) = claimed {
                        sp.rollback().await?;
                        return match key_use(&mut **tx, scope, key).await? {
                            Some(used) => Ok(Outcome::KeyUsed(used)),
                            None => Err(StoreError::Conflict(format!("idempotency key {key:?} is being used"))),
                        };
                    }
                    claimed?;
                    sp.commit().await?;
                    Ok(Outcome::Done)
                }
                Command::ImportCases(batch) => {
                    for rec in batch {
                        let change = Change {
                            case: &rec.case,
                            deadline: rec.deadline,
                            events: &rec.events,
                            kind: ChangeKind::Imported,
                        };
                        run_projections(tx, ctx, &change).await?;
                    }
                    Ok(Outcome::Done)
                }
            }
        }

        /// Runs every registered projection on one change, in the registered order.
        async fn run_projections(
            tx: &mut sqlx::Transaction<'_, $db>,
            ctx: &crate::common::WriteCtx,
            change: &crate::pipeline::Change<'_>,
        ) -> Result<()> {
            for p in crate::pipeline::PROJECTIONS {
                project(tx, ctx, *p, change).await?;
            }
            Ok(())
        }

        /// One projection consuming one change: the single place each read model of the
        /// write path is written.
        async fn project(
            tx: &mut sqlx::Transaction<'_, $db>,
            ctx: &crate::common::WriteCtx,
            projection: crate::pipeline::Projection,
            change: &crate::pipeline::Change<'_>,
        ) -> Result<()> {
            use crate::pipeline::{ChangeKind, Projection};
            match projection {
                Projection::CaseView => case_view_in(tx, change).await,
                Projection::Events => {
                    // Each event's chain link carries the previous one's hash within the change.
                    let mut prev = None;
                    for event in change.events {
                        prev = Some(insert_event(tx, event, prev).await?);
                    }
                    Ok(())
                }
                Projection::WebhookOutbox => {
                    // A copied history fired its webhooks where it was written.
                    if change.kind != ChangeKind::Imported {
                        for event in change.events {
                            enqueue_case_event(tx, change.case, event).await?;
                        }
                    }
                    Ok(())
                }
                Projection::Messages => {
                    // A copied history sent its messages where it was written.
                    if change.kind != ChangeKind::Imported {
                        for event in change.events {
                            enqueue_case_messages(tx, change.case, event).await?;
                        }
                    }
                    Ok(())
                }
                Projection::EvalBuckets => {
                    eval_refresh(tx, &ctx.calendar, ctx.eval_deltas, change.case.id, change.whole_history()).await
                }
                Projection::SearchIndex => {
                    search_index_in(tx, &ctx.calendar, change.case, change.whole_history()).await
                }
                Projection::Notifications => {
                    // A copied history told its people where it was written.
                    if change.kind != ChangeKind::Imported {
                        for event in change.events {
                            notify_in(tx, change.case, event).await?;
                        }
                    }
                    Ok(())
                }
            }
        }

        /// The notifications projection: the notices `event` raises
        /// (`cityloop_domain::inbox::notices`, `case` the view after it) resolved to the
        /// active people they reach, one row per (event, person), in the event's
        /// transaction. Only the roles an audience names are read.
        async fn notify_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            case: &Case,
            event: &Event,
        ) -> Result<()> {
            use cityloop_domain::inbox::Audience;
            let notices = cityloop_domain::inbox::notices(case, event);
            if notices.is_empty() {
                return Ok(());
            }
            let mut roles: Vec<&'static str> = Vec::new();
            let mut anyone = false;
            for a in notices.iter().flat_map(|n| n.audience.iter()) {
                match a {
                    Audience::Person(_) => anyone = true,
                    Audience::Role(r) | Audience::UnitRole { role: r, .. } => roles.push(r.as_str()),
                }
            }
            roles.sort_unstable();
            roles.dedup();
            let mut people = Vec::new();
            if anyone {
                for r in sqlx::query("SELECT body FROM people").fetch_all(&mut **tx).await? {
                    people.push(decode_person(&r)?);
                }
            } else {
                for role in roles {
                    for r in sqlx::query("SELECT body FROM people WHERE role = $1")
                        .bind(role)
                        .fetch_all(&mut **tx)
                        .await?
                    {
                        people.push(decode_person(&r)?);
                    }
                }
            }
            let mut told = std::collections::HashSet::new();
            for notice in &notices {
                for p in people.iter().filter(|p| notice.reaches(p)) {
                    if !told.insert(p.id) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO notifications (id, person_id, case_id, kind, message, created_at, read_at, event_seq, link_case_id)
                         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
                    )
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(p.id.to_string())
                    .bind(case.id.to_string())
                    .bind(notice.kind.as_str())
                    .bind(&notice.message)
                    .bind(event.at)
                    .bind(event.seq)
                    .bind(notice.about.map(|c| c.to_string()))
                    .execute(&mut **tx)
                    .await?;
                }
            }
            Ok(())
        }

        /// The case-view projection: a new case's row, or the version-checked update of an
        /// existing one (optimistic concurrency: a stale version is a conflict).
        async fn case_view_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            change: &crate::pipeline::Change<'_>,
        ) -> Result<()> {
            let case = change.case;
            if change.kind != crate::pipeline::ChangeKind::Appended {
                insert_case(tx, case, change.deadline).await?;
                return case_assists_in(tx, case).await;
            }
            let done = sqlx::query(
                "UPDATE cases SET state = $1, category_code = $2, unit_id = $3, deadline = $4,
                   updated_at = $5, version = $6, view = $7
                 WHERE id = $8 AND version = $9",
            )
            .bind(case.state.as_str())
            .bind(&case.category.code)
            .bind(case.unit_id.map(|u| u.to_string()))
            .bind(change.deadline)
            .bind(case.updated_at)
            .bind(case.version)
            .bind(serde_json::to_string(case)?)
            .bind(case.id.to_string())
            .bind(case.version - 1)
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "case {} changed since version {}",
                    case.number,
                    case.version - 1
                )));
            }
            case_assists_in(tx, case).await
        }

        /// The case's assisting units (协办) as rows, one per unit with the state of its
        /// latest part, rewritten with the case view (a derived view like `cases`).
        async fn case_assists_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            case: &Case,
        ) -> Result<()> {
            if case.assists.is_empty() {
                return Ok(());
            }
            sqlx::query("DELETE FROM case_assists WHERE case_id = $1")
                .bind(case.id.to_string())
                .execute(&mut **tx)
                .await?;
            let mut latest: Vec<&cityloop_domain::cohandle::Assist> = Vec::new();
            for a in &case.assists {
                match latest.iter_mut().find(|l| l.unit_id == a.unit_id) {
                    Some(l) => *l = a,
                    None => latest.push(a),
                }
            }
            for a in latest {
                sqlx::query("INSERT INTO case_assists (case_id, unit_id, state) VALUES ($1, $2, $3)")
                    .bind(case.id.to_string())
                    .bind(a.unit_id.to_string())
                    .bind(a.state.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        /// The next number of the scope `case:{prefix}` from `case_seq`, in the caller's
        /// transaction (so a rolled-back write gives its number back).
        async fn take_number_in(tx: &mut sqlx::Transaction<'_, $db>, prefix: &str) -> Result<i64> {
            let row = sqlx::query(
                "INSERT INTO case_seq (scope, last) VALUES ($1, 1)
                 ON CONFLICT (scope) DO UPDATE SET last = case_seq.last + 1
                 RETURNING last",
            )
            .bind(format!("case:{prefix}"))
            .fetch_one(&mut **tx)
            .await?;
            Ok(row.try_get("last")?)
        }

        /// Records the first use of an idempotency key (a conflict if it is used).
        async fn claim_key(
            tx: &mut sqlx::Transaction<'_, $db>,
            scope: &str,
            key: &str,
            case_id: CaseId,
            at: DateTime<Utc>,
        ) -> Result<()> {
            sqlx::query("INSERT INTO idempotency (scope, key, case_id, created_at) VALUES ($1, $2, $3, $4)")
                .bind(scope)
                .bind(key)
                .bind(case_id.to_string())
                .bind(at)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// The first use of an idempotency key, if it was used.
        async fn key_use<'e, E>(ex: E, scope: &str, key: &str) -> Result<Option<crate::KeyUse>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let row = sqlx::query("SELECT case_id, created_at FROM idempotency WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .fetch_optional(ex)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => {
                    let id: String = r.try_get("case_id")?;
                    Ok(Some(crate::KeyUse {
                        case_id: CaseId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        at: r.try_get("created_at")?,
                    }))
                }
            }
        }

        async fn insert_case(
            tx: &mut sqlx::Transaction<'_, $db>,
            case: &Case,
            deadline: Option<DateTime<Utc>>,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO cases (id, number, state, source, category_code, unit_id, street_code,
                   segment_id, lon, lat, deadline, created_at, updated_at, version, view)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(case.id.to_string())
            .bind(case.number.as_str())
            .bind(case.state.as_str())
            .bind(case.source.as_str())
            .bind(&case.category.code)
            .bind(case.unit_id.map(|u| u.to_string()))
            .bind(case.routing.street_code.as_deref())
            .bind(case.routing.segment_id.as_deref())
            .bind(case.location.lon)
            .bind(case.location.lat)
            .bind(deadline)
            .bind(case.created_at)
            .bind(case.updated_at)
            .bind(case.version)
            .bind(serde_json::to_string(case)?)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Appends ` AND <column> IN (<values>)` to a query; nothing for no values.
        fn push_in(
            q: &mut QueryBuilder<'_, $db>,
            column: &str,
            values: impl IntoIterator<Item = String>,
        ) {
            let mut values = values.into_iter().peekable();
            if values.peek().is_none() {
                return;
            }
            q.push(" AND ").push(column).push(" IN (");
            let mut sep = q.separated(", ");
            for v in values {
                sep.push_bind(v);
            }
            q.push(")");
        }

        /// Inserts one event and its chain link; returns the event's hash. `prev`: the
        /// previous event's hash when the caller just linked it.
        async fn insert_event(
            tx: &mut sqlx::Transaction<'_, $db>,
            event: &Event,
            prev: Option<cityloop_domain::chain::Hash>,
        ) -> Result<cityloop_domain::chain::Hash> {
            let row = sqlx::query(
                "INSERT INTO case_events (case_id, seq, at, kind, actor_id, from_state, to_state, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING case_id, seq, at, kind, actor_id, from_state, to_state, body",
            )
            .bind(event.case_id.to_string())
            .bind(event.seq)
            .bind(event.at)
            .bind(event.kind.as_str())
            .bind(event.actor.person_id.map(|p| p.to_string()))
            .bind(event.from_state.map(|s| s.as_str()))
            .bind(event.to_state.as_str())
            .bind(serde_json::to_string(event)?)
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "event {} of case {} already exists",
                    event.seq, event.case_id
                )),
                other => other,
            })?;
            // The event's hash link (tamper-evident history), in the same transaction.
            link(tx, &row, prev).await
        }
    };
}

pub(crate) use sql_store;
