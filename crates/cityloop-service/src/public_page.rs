//! The public page's own Open311 API key.
//!
//! The citizens' page (web/index.html) posts reports through Open311 like any client, so
//! it needs a key; that key is necessarily public (anyone can read the page's traffic).
//! It is therefore a key of its own, never the demo key or a partner's: the server keeps
//! it in plain text in the settings (`public_page_key`), registered like every key by
//! its hash, and hands it out at `GET /api/v1/public/config`. The page reads it from
//! there at start-up (and again when a POST says the key is not valid), so an admin can
//! rotate it at any time without breaking the page: the new key is registered, the old
//! one revoked and the setting replaced in one audited transaction, and the old key
//! stops working at once.
//!
//! The key is made when the server starts if there is none (audited as a system action).

use chrono::{DateTime, Utc};
use cityloop_domain::model::Person;
use cityloop_store::{AdminOp, AuditEntry};
use serde::{Deserialize, Serialize};

use crate::open311::new_api_key;
use crate::{reference, ServiceError, Services};

/// Settings key of the page's key.
pub const SETTING: &str = "public_page_key";
/// The client name the page's key is registered under.
pub const CLIENT_NAME: &str = "公众页面 public page";

/// The stored setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicPageKey {
    pub key: String,
    pub key_hash: String,
    pub issued_at: DateTime<Utc>,
}

/// What the audit log and the admin see of a page key (its id, never the key).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicPageKeyView {
    /// The key's id in the API-key list (its SHA-256).
    pub id: String,
    pub issued_at: DateTime<Utc>,
}

impl From<&PublicPageKey> for PublicPageKeyView {
    fn from(k: &PublicPageKey) -> Self {
        Self {
            id: k.key_hash.clone(),
            issued_at: k.issued_at,
        }
    }
}

fn fresh(now: DateTime<Utc>) -> PublicPageKey {
    let (key, key_hash) = new_api_key();
    PublicPageKey {
        key,
        key_hash,
        issued_at: now,
    }
}

fn setting_value(k: &PublicPageKey) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(k).map_err(|e| ServiceError::Internal(e.into()))
}

impl Services {
    async fn stored_page_key(&self) -> Result<Option<PublicPageKey>, ServiceError> {
        reference::get_setting(&*self.store, SETTING).await
    }

    /// Makes the page's key when there is none (or the stored one was revoked as an
    /// ordinary key); returns the live key. Called at server start.
    pub async fn ensure_public_page_key(&self) -> Result<PublicPageKey, ServiceError> {
        if let Some(k) = self.stored_page_key().await? {
            if self.store.api_key(&k.key_hash).await?.is_some() {
                return Ok(k);
            }
        }
        let k = fresh(self.now());
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor_id: None,
            entity: SETTING.into(),
            entity_id: SETTING.into(),
            action: "create".into(),
            before: None,
            after: Some(serde_json::to_value(PublicPageKeyView::from(&k)).unwrap_or_default()),
        };
        self.store
            .admin_apply(
                &[
                    AdminOp::AddApiKey {
                        key_hash: k.key_hash.clone(),
                        name: CLIENT_NAME.into(),
                    },
                    AdminOp::PutSetting {
                        key: SETTING.into(),
                        value: setting_value(&k)?,
                    },
                ],
                &audit,
            )
            .await?;
        tracing::info!(key.id = %k.key_hash, "public page key issued");
        Ok(k)
    }

    /// The key the public page uses now.
    pub async fn public_page_key(&self) -> Result<String, ServiceError> {
        match self.stored_page_key().await? {
            Some(k) => Ok(k.key),
            None => Ok(self.ensure_public_page_key().await?.key),
        }
    }

    /// Replaces the page's key: the new one works at once, the old one stops working.
    pub async fn admin_rotate_public_page_key(
        &self,
        actor: &Person,
    ) -> Result<PublicPageKeyView, ServiceError> {
        crate::admin::require_admin(actor)?;
        let old = self.stored_page_key().await?;
        let new = fresh(self.now());
        let mut ops = vec![AdminOp::AddApiKey {
            key_hash: new.key_hash.clone(),
            name: CLIENT_NAME.into(),
        }];
        if let Some(o) = &old {
            if self.store.api_key(&o.key_hash).await?.is_some() {
                ops.push(AdminOp::RevokeApiKey {
                    key_hash: o.key_hash.clone(),
                });
            }
        }
        ops.push(AdminOp::PutSetting {
            key: SETTING.into(),
            value: setting_value(&new)?,
        });
        let view = PublicPageKeyView::from(&new);
        let json = |v: &PublicPageKeyView| {
            serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
        };
        self.admin_commit(
            actor,
            ops,
            SETTING,
            SETTING.to_owned(),
            "rotate",
            old.as_ref()
                .map(PublicPageKeyView::from)
                .as_ref()
                .map(json)
                .transpose()?,
            Some(json(&view)?),
        )
        .await?;
        Ok(view)
    }
}

/// The page's key is only ever looked up by hash, like every key.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::open311::key_hash;

    #[test]
    fn a_fresh_page_key_is_registered_by_its_hash() {
        let k = fresh(Utc::now());
        assert_eq!(k.key_hash, key_hash(&k.key));
        assert!(k.key.starts_with("c311_"));
    }
}
