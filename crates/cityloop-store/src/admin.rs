//! Admin writes and the audit log (migration 0006).
//!
//! An admin change is a list of [`AdminOp`]s applied with one [`AuditEntry`] in ONE
//! transaction ([`Store::admin_apply`](crate::Store::admin_apply)): the change and its
//! audit row commit together or not at all. `admin_audit` is append-only (database
//! triggers refuse UPDATE and DELETE), like `case_events`.
//!
//! The SQL lives in the `admin_sql!` macro, instantiated inside `sql_store!` for both
//! backends, so it is written once.

use chrono::{DateTime, Utc};
use cityloop_domain::ids::PersonId;
use cityloop_domain::model::{Person, Unit};
use serde::{Deserialize, Serialize};

/// One write of an admin change.
#[derive(Debug, Clone)]
pub enum AdminOp {
    /// Inserts or replaces a unit (a duplicate code is a conflict).
    PutUnit(Unit),
    /// Inserts a person (a duplicate username is a conflict).
    CreatePerson {
        person: Person,
        password_hash: String,
    },
    /// Replaces a person's role, unit, name and active flag (the username stays).
    UpdatePerson(Person),
    SetPassword {
        person: PersonId,
        password_hash: String,
    },
    /// Revokes every session of a person (after deactivation or a password reset).
    EndSessions(PersonId),
    /// Replaces a settings document (limit table, assignment rules, calendar).
    PutSetting {
        key: String,
        value: serde_json::Value,
    },
    /// Makes `person` the current road chief of (segment, level), closing the previous
    /// assignment at the audit entry's time.
    AssignRoadChief {
        segment_id: String,
        level: String,
        person: PersonId,
    },
    /// Closes the current assignment of (segment, level); not found if there is none.
    EndRoadChief {
        segment_id: String,
        level: String,
    },
    AddApiKey {
        key_hash: String,
        name: String,
    },
    /// Revokes a live key; not found if there is none.
    RevokeApiKey {
        key_hash: String,
    },
    /// Inserts a webhook subscription.
    CreateWebhook(crate::webhooks::WebhookSubscription),
    /// Replaces a live subscription's fields (not found when it does not exist or was
    /// deleted).
    UpdateWebhook(crate::webhooks::WebhookSubscription),
    /// Deletes a subscription: it stops receiving events and its pending deliveries are
    /// never sent; its delivery history stays.
    DeleteWebhook(uuid::Uuid),
    /// Inserts or replaces a sensor site.
    PutSensorSite(cityloop_domain::sensor::Site),
    /// Inserts or replaces a device; `secret_hash` None keeps the stored secret (not
    /// found when the device does not exist yet).
    PutSensorDevice {
        device: cityloop_domain::sensor::Device,
        secret_hash: Option<String>,
    },
}

/// One row of the admin audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    /// The admin who made the change (None for the system, e.g. a CLI without a login).
    pub actor_id: Option<PersonId>,
    /// What kind of thing changed: `unit`, `person`, `road_chief`, `time_limits`, …
    pub entity: String,
    pub entity_id: String,
    /// `create`, `update`, `deactivate`, `assign`, `revoke`, …
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// Narrows the audit log; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<PersonId>,
}

/// Keyset position in the audit log (newest first by `(at, id)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub at: DateTime<Utc>,
    pub id: uuid::Uuid,
}

/// The store's SQL for admin writes and the audit log, for one backend (`$db`). Expanded
/// inside `sql_store!`, which delegates the trait methods to these functions.
macro_rules! admin_sql {
    ($db:ty) => {
        /// Makes `person` the current road chief of (segment, level) from `now`, closing
        /// the previous assignment at the same instant (history is kept).
        async fn assign_road_chief_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            segment_id: &str,
            level: &str,
            person: PersonId,
            now: DateTime<Utc>,
        ) -> Result<()> {
            sqlx::query(
                "UPDATE road_chief_assignments SET valid_to = $1
                 WHERE segment_id = $2 AND level = $3 AND valid_to IS NULL",
            )
            .bind(now)
            .bind(segment_id)
            .bind(level)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO road_chief_assignments (id, segment_id, level, person_id, valid_from, valid_to)
                 VALUES ($1, $2, $3, $4, $5, NULL)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(segment_id)
            .bind(level)
            .bind(person.to_string())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn admin_apply_tx(
            pool: &sqlx::Pool<$db>,
            ops: &[crate::admin::AdminOp],
            audit: &crate::admin::AuditEntry,
        ) -> Result<()> {
            use crate::admin::AdminOp;
            let now = audit.at;
            let mut tx = pool.begin().await?;
            for op in ops {
                match op {
                    AdminOp::PutUnit(u) => {
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
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match StoreError::from(e) {
                            StoreError::Conflict(_) => {
                                StoreError::Conflict(format!("unit code {:?} is taken", u.code))
                            }
                            other => other,
                        })?;
                    }
                    AdminOp::CreatePerson { person: p, password_hash } => {
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
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| match StoreError::from(e) {
                            StoreError::Conflict(_) => {
                                StoreError::Conflict(format!("username {:?} is taken", p.username))
                            }
                            other => other,
                        })?;
                    }
                    AdminOp::UpdatePerson(p) => {
                        let done = sqlx::query(
                            "UPDATE people SET role = $1, unit_id = $2, body = $3 WHERE id = $4",
                        )
                        .bind(p.role.as_str())
                        .bind(p.unit_id.map(|u| u.to_string()))
                        .bind(serde_json::to_string(p)?)
                        .bind(p.id.to_string())
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("person {}", p.id)));
                        }
                    }
                    AdminOp::SetPassword { person, password_hash } => {
                        let done = sqlx::query("UPDATE people SET password_hash = $1 WHERE id = $2")
                            .bind(password_hash)
                            .bind(person.to_string())
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("person {person}")));
                        }
                    }
                    AdminOp::EndSessions(person) => {
                        sqlx::query("DELETE FROM sessions WHERE person_id = $1")
                            .bind(person.to_string())
                            .execute(&mut *tx)
                            .await?;
                    }
                    AdminOp::PutSetting { key, value } => {
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
                    AdminOp::AssignRoadChief { segment_id, level, person } => {
                        assign_road_chief_in(&mut tx, segment_id, level, *person, now).await?;
                    }
                    AdminOp::EndRoadChief { segment_id, level } => {
                        let done = sqlx::query(
                            "UPDATE road_chief_assignments SET valid_to = $1
                             WHERE segment_id = $2 AND level = $3 AND valid_to IS NULL",
                        )
                        .bind(now)
                        .bind(segment_id)
                        .bind(level)
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!(
                                "road chief of segment {segment_id} at level {level}"
                            )));
                        }
                    }
                    AdminOp::AddApiKey { key_hash, name } => {
                        sqlx::query("INSERT INTO api_keys (key_hash, name, created_at) VALUES ($1, $2, $3)")
                            .bind(key_hash)
                            .bind(name)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    AdminOp::CreateWebhook(sub) => {
                        sqlx::query(
                            "INSERT INTO webhook_subscriptions (id, url, secret, event_types, active,
                               description, created_at, updated_at, deleted_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
                        )
                        .bind(sub.id.to_string())
                        .bind(&sub.url)
                        .bind(&sub.secret)
                        .bind(serde_json::to_string(&sub.event_types)?)
                        .bind(sub.active)
                        .bind(&sub.description)
                        .bind(sub.created_at)
                        .bind(sub.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    AdminOp::UpdateWebhook(sub) => {
                        let done = sqlx::query(
                            "UPDATE webhook_subscriptions SET url = $1, secret = $2, event_types = $3,
                               active = $4, description = $5, updated_at = $6
                             WHERE id = $7 AND deleted_at IS NULL",
                        )
                        .bind(&sub.url)
                        .bind(&sub.secret)
                        .bind(serde_json::to_string(&sub.event_types)?)
                        .bind(sub.active)
                        .bind(&sub.description)
                        .bind(sub.updated_at)
                        .bind(sub.id.to_string())
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("webhook {}", sub.id)));
                        }
                    }
                    AdminOp::DeleteWebhook(id) => {
                        let done = sqlx::query(
                            "UPDATE webhook_subscriptions SET active = $1, deleted_at = $2, updated_at = $2
                             WHERE id = $3 AND deleted_at IS NULL",
                        )
                        .bind(false)
                        .bind(now)
                        .bind(id.to_string())
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("webhook {id}")));
                        }
                    }
                    AdminOp::PutSensorSite(site) => {
                        sqlx::query(
                            "INSERT INTO sensor_sites (id, kind, body, updated_at) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, body = excluded.body,
                               updated_at = excluded.updated_at",
                        )
                        .bind(&site.id)
                        .bind(site.kind.as_str())
                        .bind(serde_json::to_string(site)?)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    AdminOp::PutSensorDevice { device, secret_hash } => {
                        let body = serde_json::to_string(device)?;
                        let done = match secret_hash {
                            Some(hash) => sqlx::query(
                                "INSERT INTO sensor_devices (id, site_id, secret_hash, body, updated_at)
                                 VALUES ($1, $2, $3, $4, $5)
                                 ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id,
                                   secret_hash = excluded.secret_hash, body = excluded.body,
                                   updated_at = excluded.updated_at",
                            )
                            .bind(&device.id)
                            .bind(&device.site_id)
                            .bind(hash)
                            .bind(body)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?,
                            None => sqlx::query(
                                "UPDATE sensor_devices SET site_id = $1, body = $2, updated_at = $3
                                 WHERE id = $4",
                            )
                            .bind(&device.site_id)
                            .bind(body)
                            .bind(now)
                            .bind(&device.id)
                            .execute(&mut *tx)
                            .await?,
                        };
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound(format!("device {}", device.id)));
                        }
                    }
                    AdminOp::RevokeApiKey { key_hash } => {
                        let done = sqlx::query(
                            "UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL",
                        )
                        .bind(now)
                        .bind(key_hash)
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound("api key".into()));
                        }
                    }
                }
            }
            sqlx::query(
                "INSERT INTO admin_audit (id, at, actor_id, entity, entity_id, action, before, after)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(audit.id.to_string())
            .bind(audit.at)
            .bind(audit.actor_id.map(|p| p.to_string()))
            .bind(&audit.entity)
            .bind(&audit.entity_id)
            .bind(&audit.action)
            .bind(audit.before.as_ref().map(|v| v.to_string()))
            .bind(audit.after.as_ref().map(|v| v.to_string()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn audit_log_query(
            pool: &sqlx::Pool<$db>,
            f: &crate::admin::AuditFilter,
            after: Option<&crate::admin::AuditCursor>,
            limit: u32,
        ) -> Result<Vec<crate::admin::AuditEntry>> {
            let mut q = QueryBuilder::<$db>::new(
                "SELECT id, at, actor_id, entity, entity_id, action, before, after FROM admin_audit WHERE 1 = 1",
            );
            if let Some(e) = &f.entity {
                q.push(" AND entity = ").push_bind(e.clone());
            }
            if let Some(e) = &f.entity_id {
                q.push(" AND entity_id = ").push_bind(e.clone());
            }
            if let Some(a) = f.actor_id {
                q.push(" AND actor_id = ").push_bind(a.to_string());
            }
            if let Some(c) = after {
                q.push(" AND (at < ").push_bind(c.at);
                q.push(" OR (at = ").push_bind(c.at);
                q.push(" AND id < ").push_bind(c.id.to_string());
                q.push("))");
            }
            q.push(" ORDER BY at DESC, id DESC LIMIT ")
                .push_bind(i64::from(limit.clamp(1, MAX_PAGE)));
            let rows = q.build().fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let corrupt = |e: String| StoreError::Corrupt(e);
                    let id: String = r.try_get("id")?;
                    let actor: Option<String> = r.try_get("actor_id")?;
                    let json = |col: &str| -> Result<Option<serde_json::Value>> {
                        let s: Option<String> = r.try_get(col)?;
                        Ok(s.map(|s| serde_json::from_str(&s)).transpose()?)
                    };
                    Ok(crate::admin::AuditEntry {
                        id: uuid::Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?,
                        at: r.try_get("at")?,
                        actor_id: actor
                            .map(|a| PersonId::parse(&a))
                            .transpose()
                            .map_err(|e| corrupt(e.to_string()))?,
                        entity: r.try_get("entity")?,
                        entity_id: r.try_get("entity_id")?,
                        action: r.try_get("action")?,
                        before: json("before")?,
                        after: json("after")?,
                    })
                })
                .collect()
        }
    };
}

pub(crate) use admin_sql;
