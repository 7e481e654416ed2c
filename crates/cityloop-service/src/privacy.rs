//! Privacy by role, applied: the ONE place where a case (detail, list row, drill-down row)
//! and its photos are shaped for a staff reader, where a reader's case scope is worked out,
//! and where a full phone number is revealed and written to the audit log.
//!
//! The rules themselves are pure and live in `cityloop_domain::privacy` (role × field →
//! full / masked / hidden, with the district's overrides) and
//! `cityloop_domain::workflow::ReadScope` (which cases a role reads). This module only
//! looks up what they need (the reader's unit, the district's settings) and applies them.
//!
//! Reveal, not log-every-view: shaped views never carry a full phone number, even for
//! roles that may see it; the full number comes only from [`Services::reveal_phone`],
//! which writes its audit row (who, when, which case) before answering. Logging every
//! detail view instead would turn every read into a write and bury the few deliberate
//! look-ups among thousands of routine opens of the intake queue; with reveal, each audit
//! row is one person asking for one number, and the number is not left in list responses,
//! browser caches and proxies for people who did not need it.

use cityloop_domain::case::Case;
use cityloop_domain::ids::CaseId;
use cityloop_domain::model::{Actor, Person, Role, UnitKind};
use cityloop_domain::privacy::{
    may_fetch_originals, shape_contact, shape_gps, ContactAccess, PrivacySettings,
};
use cityloop_domain::workflow::ReadScope;
use cityloop_store::{AdminOp, Attachment, AuditEntry};
use serde::Serialize;

use crate::{ServiceError, Services};

/// Settings key of the district's privacy overrides.
pub const SETTING: &str = "privacy";
/// Audit-log entity of a reveal (`GET /api/v1/admin/audit?entity=case_contact`).
pub const AUDIT_ENTITY: &str = "case_contact";
/// Audit-log action of a reveal.
pub const AUDIT_REVEAL_PHONE: &str = "reveal_phone";

/// The reporter's full phone number, as revealed to one reader.
#[derive(Debug, Clone, Serialize)]
pub struct RevealedPhone {
    pub case_id: CaseId,
    pub number: String,
    pub phone: String,
    /// The audit row written for this view.
    pub audit_id: uuid::Uuid,
}

fn staff_role(actor: &Actor) -> Result<Role, ServiceError> {
    actor
        .staff_role()
        .ok_or_else(|| ServiceError::Forbidden("staff only".into()))
}

impl Services {
    /// The district's privacy settings as they are now.
    pub fn privacy_settings(&self) -> PrivacySettings {
        self.cached().privacy.clone()
    }

    /// Which cases `actor` may read (staff only).
    pub fn read_scope(&self, actor: &Actor) -> Result<ReadScope, ServiceError> {
        let role = staff_role(actor)?;
        let cache = self.cached();
        let street = actor.unit_id.and_then(|id| {
            cache
                .units
                .iter()
                .find(|u| u.id == id && u.kind == UnitKind::Street)
                .map(|u| u.type_key.clone())
        });
        Ok(ReadScope::of(role, actor.unit_id, street.as_deref()))
    }

    /// Whether `case` is in `actor`'s read scope.
    /// A unit that assists (or assisted) on a case (协办) reads it like its lead.
    pub fn in_scope(&self, actor: &Actor, case: &Case) -> Result<bool, ServiceError> {
        let scope = self.read_scope(actor)?;
        Ok(
            scope.admits(case.unit_id, case.routing.street_code.as_deref())
                || case
                    .assists
                    .iter()
                    .any(|a| matches!(scope, ReadScope::Unit(u) if u == a.unit_id)),
        )
    }

    /// Shapes a case for a staff reader: the reporter's contact as the policy allows
    /// (the phone at most masked). Returns what the reader was given.
    pub fn shape_case(&self, actor: &Actor, case: &mut Case) -> ContactAccess {
        let role = actor.staff_role().unwrap_or(Role::RoadChief);
        let (contact, access) = shape_contact(&case.reporter, role, &self.cached().privacy);
        case.reporter = contact;
        access
    }

    /// Shapes photo metadata for a staff reader: the EXIF GPS as the policy allows.
    /// Returns whether the reader may fetch originals (else links go to public copies).
    pub fn shape_attachments<'a>(
        &self,
        actor: &Actor,
        attachments: impl IntoIterator<Item = &'a mut Attachment>,
    ) -> bool {
        let role = actor.staff_role().unwrap_or(Role::RoadChief);
        let settings = self.cached().privacy.clone();
        for a in attachments {
            let gps = shape_gps(a.gps_lat.zip(a.gps_lon), role, &settings);
            a.gps_lat = gps.map(|g| g.0);
            a.gps_lon = gps.map(|g| g.1);
        }
        may_fetch_originals(role, &settings)
    }

    /// Checks that `actor` may fetch the original (EXIF included) of attachment `a`: the
    /// policy lets their role see photo GPS, and they uploaded it or it belongs to a case
    /// in their read scope.
    pub async fn check_original_access(
        &self,
        actor: &Actor,
        a: &Attachment,
    ) -> Result<(), ServiceError> {
        let role = staff_role(actor)?;
        if !may_fetch_originals(role, &self.cached().privacy) {
            return Err(ServiceError::Forbidden(format!(
                "the {role} role sees photos without their metadata: use /media/{}",
                a.id
            )));
        }
        if a.uploaded_by.is_some() && a.uploaded_by == actor.person_id {
            return Ok(());
        }
        let allowed = match self.read_scope(actor)? {
            ReadScope::All => true,
            ReadScope::Nothing => false,
            ReadScope::Unit(unit) => self.store.unit_has_attachment(unit, a.id).await?,
            // Road chiefs by default do not fetch originals; a district that lets them
            // still keeps them to photos they uploaded.
            ReadScope::Street(_) => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "this photo belongs to no case in your scope".into(),
            ))
        }
    }

    /// The reporter's full phone number of one case, for a reader whose role may reveal
    /// it; the view is written to the audit log (append-only) before the number is
    /// answered, so no full number leaves without its row.
    pub async fn reveal_phone(
        &self,
        person: &Person,
        id: CaseId,
    ) -> Result<RevealedPhone, ServiceError> {
        let actor = Actor::staff(person);
        let case = self.store.get_case(id).await?;
        self.check_can_see(&actor, &case)?;
        let mut shaped = case.clone();
        let access = self.shape_case(&actor, &mut shaped);
        let phone = case
            .reporter
            .phone
            .clone()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| {
                ServiceError::NotFound(format!("a phone number on case {}", case.number))
            })?;
        if !access.phone_revealable {
            return Err(ServiceError::Forbidden(format!(
                "the {} role may not see reporters' full phone numbers",
                person.role
            )));
        }
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor_id: Some(person.id),
            entity: AUDIT_ENTITY.to_owned(),
            entity_id: case.id.to_string(),
            action: AUDIT_REVEAL_PHONE.to_owned(),
            before: None,
            after: Some(serde_json::json!({
                "case_number": case.number.as_str(),
                "field": "reporter_phone",
                "role": person.role.as_str(),
            })),
        };
        self.store.admin_apply(&[], &audit).await?;
        tracing::info!(actor = %person.id, case.id = %case.id, "reporter phone revealed");
        Ok(RevealedPhone {
            case_id: case.id,
            number: case.number.as_str().to_owned(),
            phone,
            audit_id: audit.id,
        })
    }

    /// The privacy table in force (admin console).
    pub fn admin_privacy(&self, actor: &Person) -> Result<PrivacySettings, ServiceError> {
        crate::admin::require_admin(actor)?;
        Ok(self.privacy_settings())
    }

    /// Replaces the district's privacy overrides (an admin change, audited).
    pub async fn admin_put_privacy(
        &self,
        actor: &Person,
        settings: PrivacySettings,
    ) -> Result<PrivacySettings, ServiceError> {
        crate::admin::require_admin(actor)?;
        settings
            .validate()
            .map_err(|e| ServiceError::invalid(e.field, e.problem))?;
        let to_json = |v: &PrivacySettings| {
            serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
        };
        let before = to_json(&self.privacy_settings())?;
        let after = to_json(&settings)?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: SETTING.to_owned(),
                value: after.clone(),
            }],
            "privacy",
            "privacy".to_owned(),
            "update",
            Some(before),
            Some(after),
        )
        .await?;
        Ok(settings)
    }
}
