//! Admin use cases: units, people, roles, road-chief assignments, the time-limit table,
//! assignment rules (category × street → unit), the working calendar and Open311 API keys.
//!
//! Every call checks that the caller is an admin (403 otherwise), validates its input
//! naming the field at fault, writes the change together with one audit row in ONE store
//! transaction ([`Store::admin_apply`](cityloop_store::Store::admin_apply)), and then
//! reloads the cached reference data so routing, limits and the calendar take effect for
//! the next case without a restart. Units and people are deactivated, never deleted.

use chrono::{DateTime, Utc};
use cityloop_domain::assign::AssignRule;
use cityloop_domain::calendar::{CalendarSpec, TimeLimit, WorkCalendar};
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::limits::{LimitRule, LimitTable, LimitTableError};
use cityloop_domain::model::{Person, RoadChiefLevel, Role, Unit, UnitKind};
use cityloop_store::{
    AdminOp, ApiKeyRow, AuditCursor, AuditEntry, AuditFilter, RoadChiefAssignment, StoreError,
};
use serde::Serialize;

use crate::{keys, reference, ServiceError, Services};

/// Longest unit code.
pub const MAX_CODE_CHARS: usize = 32;
/// Longest name (units, people, type keys).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest limit-rule source note.
pub const MAX_SOURCE_CHARS: usize = 500;
/// Largest amount in a time limit (e.g. 1000工作时).
pub const MAX_LIMIT_AMOUNT: u32 = 1000;

/// A unit to create.
#[derive(Debug, Clone)]
pub struct UnitInput {
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    pub type_key: String,
}

/// Changes to a unit; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UnitPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<UnitKind>,
    pub type_key: Option<String>,
    pub active: Option<bool>,
}

/// A person to create (with the initial password, hashed with argon2).
#[derive(Debug, Clone)]
pub struct PersonInput {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_id: Option<UnitId>,
    pub password: String,
}

/// Changes to a person; `unit_id: Some(None)` removes the unit.
#[derive(Debug, Clone, Default)]
pub struct PersonPatch {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub unit_id: Option<Option<UnitId>>,
    pub active: Option<bool>,
}

/// A current or past road-chief assignment with the person's name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoadChiefView {
    pub segment_id: String,
    pub level: String,
    pub level_zh: &'static str,
    pub person_id: PersonId,
    pub person_name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// An API key as admins see it: never the key itself, only its hash as id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: r.key_hash,
            name: r.name,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A role with what it is for (roles are fixed by the workflow rule table).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleView {
    pub role: &'static str,
    pub name_zh: &'static str,
    pub needs_unit: bool,
}

/// Refuses anyone but an admin.
pub fn require_admin(p: &Person) -> Result<(), ServiceError> {
    if p.role == Role::Admin && p.active {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only an admin may use the admin API".into(),
        ))
    }
}

fn text(field: &str, v: &str, max: usize) -> Result<String, ServiceError> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ServiceError::invalid(
            field,
            format!("1 to {max} characters, not blank"),
        ));
    }
    Ok(t.to_owned())
}

fn unit_code(v: &str) -> Result<String, ServiceError> {
    let t = v.trim();
    let ok = !t.is_empty()
        && t.chars().count() <= MAX_CODE_CHARS
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
    if !ok {
        return Err(ServiceError::invalid(
            "code",
            format!("1 to {MAX_CODE_CHARS} characters: letters, digits, '_' or '-'"),
        ));
    }
    Ok(t.to_owned())
}

fn check_type_key(kind: UnitKind, key: &str) -> Result<(), ServiceError> {
    if kind == UnitKind::Street && !(key.len() == 9 && key.bytes().all(|b| b.is_ascii_digit())) {
        return Err(ServiceError::invalid(
            "type_key",
            "a street office's type key is its 9-digit street code",
        ));
    }
    Ok(())
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
}

/// The key of a limit rule as the audit log names it: `category|grade|priority|stage`.
pub fn limit_key(r: &LimitRule) -> String {
    format!(
        "{}|{}|{}|{}",
        r.category
            .as_ref()
            .map_or("*".to_owned(), |c| c.code.clone()),
        r.grade.map_or("*", |g| g.as_str()),
        r.priority.map_or("*", |p| p.as_str()),
        r.stage
    )
}

fn limit_table(rules: Vec<LimitRule>) -> Result<LimitTable, ServiceError> {
    LimitTable::new(rules).map_err(|e| match e {
        LimitTableError::MissingDefault(_) => ServiceError::Conflict(e.to_string()),
        LimitTableError::Duplicate { .. } => ServiceError::Conflict(e.to_string()),
    })
}

/// Checks a time limit's amount.
pub fn check_limit(limit: &TimeLimit) -> Result<(), ServiceError> {
    if limit.amount == 0 || limit.amount > MAX_LIMIT_AMOUNT {
        return Err(ServiceError::invalid(
            "limit",
            format!("an amount from 1 to {MAX_LIMIT_AMOUNT}"),
        ));
    }
    Ok(())
}

impl Services {
    /// Writes an admin change and its audit row in one transaction, then reloads the
    /// cached reference data.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn admin_commit(
        &self,
        actor: &Person,
        ops: Vec<AdminOp>,
        entity: &str,
        entity_id: String,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), ServiceError> {
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor_id: Some(actor.id),
            entity: entity.to_owned(),
            entity_id,
            action: action.to_owned(),
            before,
            after,
        };
        self.store.admin_apply(&ops, &audit).await?;
        tracing::info!(actor = %actor.id, entity, entity_id = %audit.entity_id, action, "admin change");
        self.reload_reference().await
    }

    // ---- units ----

    pub async fn admin_units(&self, actor: &Person) -> Result<Vec<Unit>, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.list_units().await?)
    }

    pub async fn admin_unit(&self, actor: &Person, id: UnitId) -> Result<Unit, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.get_unit(id).await?)
    }

    pub async fn admin_create_unit(
        &self,
        actor: &Person,
        input: UnitInput,
    ) -> Result<Unit, ServiceError> {
        require_admin(actor)?;
        let unit = Unit {
            id: UnitId::new_v7(),
            code: unit_code(&input.code)?,
            name: text("name", &input.name, MAX_NAME_CHARS)?,
            kind: input.kind,
            type_key: text("type_key", &input.type_key, MAX_NAME_CHARS)?,
            active: true,
        };
        check_type_key(unit.kind, &unit.type_key)?;
        let after = json(&unit)?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutUnit(unit.clone())],
            "unit",
            unit.id.to_string(),
            "create",
            None,
            Some(after),
        )
        .await?;
        Ok(unit)
    }

    /// Changes a unit. Deactivating one that still has open cases, or the district's
    /// default intake unit, is a conflict.
    pub async fn admin_update_unit(
        &self,
        actor: &Person,
        id: UnitId,
        patch: UnitPatch,
    ) -> Result<Unit, ServiceError> {
        require_admin(actor)?;
        let before = self.store.get_unit(id).await?;
        let mut unit = before.clone();
        if let Some(c) = &patch.code {
            unit.code = unit_code(c)?;
        }
        if let Some(n) = &patch.name {
            unit.name = text("name", n, MAX_NAME_CHARS)?;
        }
        if let Some(k) = patch.kind {
            unit.kind = k;
        }
        if let Some(t) = &patch.type_key {
            unit.type_key = text("type_key", t, MAX_NAME_CHARS)?;
        }
        check_type_key(unit.kind, &unit.type_key)?;
        let mut action = "update";
        if let Some(a) = patch.active {
            if before.active && !a {
                action = "deactivate";
                if before.code == self.district.default_unit_code {
                    return Err(ServiceError::Conflict(
                        "the district's default intake unit cannot be deactivated".into(),
                    ));
                }
                let open = self.store.open_cases_of_unit(id).await?;
                if open > 0 {
                    return Err(ServiceError::Conflict(format!(
                        "unit {} still has {open} open case(s); re-dispatch or close them first",
                        before.code
                    )));
                }
            } else if !before.active && a {
                action = "reactivate";
            }
            unit.active = a;
        }
        if before.code == self.district.default_unit_code && unit.code != before.code {
            return Err(ServiceError::Conflict(
                "the district's default intake unit keeps its code".into(),
            ));
        }
        if unit == before {
            return Ok(unit);
        }
        self.admin_commit(
            actor,
            vec![AdminOp::PutUnit(unit.clone())],
            "unit",
            id.to_string(),
            action,
            Some(json(&before)?),
            Some(json(&unit)?),
        )
        .await?;
        Ok(unit)
    }

    // ---- people and roles ----

    pub fn admin_roles(&self, actor: &Person) -> Result<Vec<RoleView>, ServiceError> {
        require_admin(actor)?;
        Ok(Role::ALL
            .iter()
            .map(|r| RoleView {
                role: r.as_str(),
                name_zh: r.zh(),
                needs_unit: *r == Role::Handler,
            })
            .collect())
    }

    pub async fn admin_people(&self, actor: &Person) -> Result<Vec<Person>, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.list_people().await?)
    }

    pub async fn admin_person(&self, actor: &Person, id: PersonId) -> Result<Person, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.person(id).await?)
    }

    async fn check_unit_for(&self, role: Role, unit: Option<UnitId>) -> Result<(), ServiceError> {
        match unit {
            Some(u) => match self.store.get_unit(u).await {
                Ok(unit) if unit.active => Ok(()),
                Ok(_) => Err(ServiceError::invalid("unit_id", "the unit is deactivated")),
                Err(StoreError::NotFound(_)) => Err(ServiceError::invalid(
                    "unit_id",
                    format!("no unit with id {u}"),
                )),
                Err(e) => Err(e.into()),
            },
            None if role == Role::Handler => Err(ServiceError::invalid(
                "unit_id",
                "a handler belongs to a unit",
            )),
            None => Ok(()),
        }
    }

    pub async fn admin_create_person(
        &self,
        actor: &Person,
        input: PersonInput,
    ) -> Result<Person, ServiceError> {
        require_admin(actor)?;
        crate::auth::validate_new_user(&crate::auth::NewUser {
            username: input.username.clone(),
            display_name: input.display_name.clone(),
            role: input.role,
            unit_id: input.unit_id,
            password: input.password.clone(),
        })?;
        let display_name = text("display_name", &input.display_name, MAX_NAME_CHARS)?;
        self.check_unit_for(input.role, input.unit_id).await?;
        let hash = crate::auth::hash_password(&input.password)?;
        let person = Person {
            id: PersonId::new_v7(),
            username: input.username,
            display_name,
            role: input.role,
            unit_id: input.unit_id,
            active: true,
        };
        self.admin_commit(
            actor,
            vec![AdminOp::CreatePerson {
                person: person.clone(),
                password_hash: hash,
            }],
            "person",
            person.id.to_string(),
            "create",
            None,
            Some(json(&person)?),
        )
        .await?;
        Ok(person)
    }

    /// Changes a person. An admin cannot deactivate themselves or drop their own admin
    /// role (that would lock the district out). Deactivation ends the person's sessions.
    pub async fn admin_update_person(
        &self,
        actor: &Person,
        id: PersonId,
        patch: PersonPatch,
    ) -> Result<Person, ServiceError> {
        require_admin(actor)?;
        let before = self.store.person(id).await?;
        let mut p = before.clone();
        if let Some(n) = &patch.display_name {
            p.display_name = text("display_name", n, MAX_NAME_CHARS)?;
        }
        if let Some(r) = patch.role {
            p.role = r;
        }
        if let Some(u) = patch.unit_id {
            p.unit_id = u;
        }
        if let Some(a) = patch.active {
            p.active = a;
        }
        if id == actor.id && (!p.active || p.role != Role::Admin) {
            return Err(ServiceError::Conflict(
                "you cannot deactivate yourself or remove your own admin role".into(),
            ));
        }
        if p.unit_id != before.unit_id || p.role != before.role {
            self.check_unit_for(p.role, p.unit_id).await?;
        }
        if p == before {
            return Ok(p);
        }
        let action = match (before.active, p.active) {
            (true, false) => "deactivate",
            (false, true) => "reactivate",
            _ => "update",
        };
        let mut ops = vec![AdminOp::UpdatePerson(p.clone())];
        if !p.active {
            ops.push(AdminOp::EndSessions(id));
        }
        self.admin_commit(
            actor,
            ops,
            "person",
            id.to_string(),
            action,
            Some(json(&before)?),
            Some(json(&p)?),
        )
        .await?;
        Ok(p)
    }

    /// Sets a new password (hashed with argon2) and ends the person's sessions.
    pub async fn admin_reset_password(
        &self,
        actor: &Person,
        id: PersonId,
        password: &str,
    ) -> Result<(), ServiceError> {
        require_admin(actor)?;
        if password.chars().count() < crate::auth::MIN_PASSWORD_CHARS || password.len() > 1024 {
            return Err(ServiceError::invalid(
                "password",
                format!("at least {} characters", crate::auth::MIN_PASSWORD_CHARS),
            ));
        }
        self.store.person(id).await?;
        let hash = crate::auth::hash_password(password)?;
        self.admin_commit(
            actor,
            vec![
                AdminOp::SetPassword {
                    person: id,
                    password_hash: hash,
                },
                AdminOp::EndSessions(id),
            ],
            "person",
            id.to_string(),
            "reset_password",
            None,
            None,
        )
        .await
    }

    // ---- road chiefs ----

    async fn road_chief_views(
        &self,
        rows: Vec<RoadChiefAssignment>,
    ) -> Result<Vec<RoadChiefView>, ServiceError> {
        let people = self.store.list_people().await?;
        Ok(rows
            .into_iter()
            .map(|a| {
                let level = a.level.parse::<RoadChiefLevel>().ok();
                RoadChiefView {
                    level_zh: level.map_or("", |l| l.zh()),
                    person_name: people
                        .iter()
                        .find(|p| p.id == a.person_id)
                        .map(|p| p.display_name.clone())
                        .unwrap_or_default(),
                    segment_id: a.segment_id,
                    level: a.level,
                    person_id: a.person_id,
                    valid_from: a.valid_from,
                    valid_to: a.valid_to,
                }
            })
            .collect())
    }

    /// Current assignments (of one segment, or all).
    pub async fn admin_road_chiefs(
        &self,
        actor: &Person,
        segment: Option<&str>,
    ) -> Result<Vec<RoadChiefView>, ServiceError> {
        require_admin(actor)?;
        let rows = self.store.road_chiefs(segment).await?;
        self.road_chief_views(rows).await
    }

    /// Every assignment of a segment, oldest first.
    pub async fn admin_road_chief_history(
        &self,
        actor: &Person,
        segment: &str,
    ) -> Result<Vec<RoadChiefView>, ServiceError> {
        require_admin(actor)?;
        let rows = self.store.road_chief_history(segment).await?;
        self.road_chief_views(rows).await
    }

    fn known_segment(&self, segment: &str) -> bool {
        self.territory
            .as_ref()
            .is_some_and(|t| t.segment_ids().iter().any(|s| s == segment))
    }

    /// Makes `person` the road chief of a segment at a level; the previous assignment is
    /// closed and kept as history.
    pub async fn admin_assign_road_chief(
        &self,
        actor: &Person,
        segment: &str,
        level: RoadChiefLevel,
        person: PersonId,
    ) -> Result<RoadChiefView, ServiceError> {
        require_admin(actor)?;
        if !self.known_segment(segment) {
            return Err(ServiceError::invalid(
                "segment_id",
                format!(
                    "no road segment {:?} in the territory",
                    segment.chars().take(64).collect::<String>()
                ),
            ));
        }
        let chief = match self.store.person(person).await {
            Ok(p) => p,
            Err(StoreError::NotFound(_)) => {
                return Err(ServiceError::invalid(
                    "person_id",
                    format!("no person with id {person}"),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if chief.role != Role::RoadChief || !chief.active {
            return Err(ServiceError::invalid(
                "person_id",
                "must be an active person with the role road_chief",
            ));
        }
        let current = self.store.road_chiefs(Some(segment)).await?;
        let before = current.iter().find(|a| a.level == level.as_str());
        if before.is_some_and(|a| a.person_id == person) {
            return Err(ServiceError::Conflict(format!(
                "{} is already the {} of segment {segment}",
                chief.display_name,
                level.zh()
            )));
        }
        let before_json = before.map(json).transpose()?;
        let after = serde_json::json!({
            "segment_id": segment, "level": level.as_str(), "person_id": person,
        });
        self.admin_commit(
            actor,
            vec![AdminOp::AssignRoadChief {
                segment_id: segment.to_owned(),
                level: level.as_str().to_owned(),
                person,
            }],
            "road_chief",
            format!("{segment}/{}", level.as_str()),
            "assign",
            before_json,
            Some(after),
        )
        .await?;
        let now = self.store.road_chiefs(Some(segment)).await?;
        let row = now
            .into_iter()
            .filter(|a| a.level == level.as_str())
            .collect::<Vec<_>>();
        self.road_chief_views(row)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("assignment not stored")))
    }

    /// Ends the current assignment of (segment, level) without a successor.
    pub async fn admin_end_road_chief(
        &self,
        actor: &Person,
        segment: &str,
        level: RoadChiefLevel,
    ) -> Result<(), ServiceError> {
        require_admin(actor)?;
        let current = self.store.road_chiefs(Some(segment)).await?;
        let before = current
            .iter()
            .find(|a| a.level == level.as_str())
            .ok_or_else(|| {
                ServiceError::NotFound(format!("road chief of segment {segment} at level {level}"))
            })?;
        self.admin_commit(
            actor,
            vec![AdminOp::EndRoadChief {
                segment_id: segment.to_owned(),
                level: level.as_str().to_owned(),
            }],
            "road_chief",
            format!("{segment}/{}", level.as_str()),
            "end",
            Some(json(before)?),
            None,
        )
        .await
    }

    // ---- time limits ----

    pub fn admin_limits(&self, actor: &Person) -> Result<Vec<LimitRule>, ServiceError> {
        require_admin(actor)?;
        Ok(self.limits().rules().to_vec())
    }

    fn check_rule(&self, r: &LimitRule) -> Result<(), ServiceError> {
        check_limit(&r.limit)?;
        if let Some(c) = &r.category {
            if !self.cached().categories.contains_key(c) {
                return Err(ServiceError::invalid(
                    "category",
                    format!("unknown category {c}"),
                ));
            }
        }
        if r.source.chars().count() > MAX_SOURCE_CHARS {
            return Err(ServiceError::invalid(
                "source",
                format!("at most {MAX_SOURCE_CHARS} characters"),
            ));
        }
        Ok(())
    }

    async fn put_limits(
        &self,
        actor: &Person,
        rules: Vec<LimitRule>,
        entity_id: String,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), ServiceError> {
        let table = limit_table(rules)?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: keys::LIMITS.to_owned(),
                value: json(table.rules())?,
            }],
            "time_limit",
            entity_id,
            action,
            before,
            after,
        )
        .await
    }

    /// Adds a rule, or replaces the limit of the rule with the same key.
    pub async fn admin_put_limit(
        &self,
        actor: &Person,
        rule: LimitRule,
    ) -> Result<LimitRule, ServiceError> {
        require_admin(actor)?;
        self.check_rule(&rule)?;
        let mut rules = self.limits().rules().to_vec();
        let key = limit_key(&rule);
        let before = rules.iter().position(|r| limit_key(r) == key);
        let (action, before_json) = match before {
            Some(i) => {
                let old = std::mem::replace(&mut rules[i], rule.clone());
                if old == rule {
                    return Ok(rule);
                }
                ("update", Some(json(&old)?))
            }
            None => {
                rules.push(rule.clone());
                ("create", None)
            }
        };
        self.put_limits(actor, rules, key, action, before_json, Some(json(&rule)?))
            .await?;
        Ok(rule)
    }

    /// Removes the rule with this key (`category|grade|priority|stage`). A stage's
    /// default rule cannot be removed (409).
    pub async fn admin_delete_limit(&self, actor: &Person, key: &str) -> Result<(), ServiceError> {
        require_admin(actor)?;
        let mut rules = self.limits().rules().to_vec();
        let i = rules
            .iter()
            .position(|r| limit_key(r) == key)
            .ok_or_else(|| ServiceError::NotFound(format!("time limit {key:?}")))?;
        let old = rules.remove(i);
        self.put_limits(
            actor,
            rules,
            key.to_owned(),
            "delete",
            Some(json(&old)?),
            None,
        )
        .await
    }

    // ---- assignment rules ----

    pub fn admin_assign_rules(&self, actor: &Person) -> Result<Vec<AssignRule>, ServiceError> {
        require_admin(actor)?;
        Ok(self.cached().assign_rules.clone())
    }

    /// Adds or replaces the rule for (category, street).
    pub async fn admin_put_assign_rule(
        &self,
        actor: &Person,
        rule: AssignRule,
    ) -> Result<AssignRule, ServiceError> {
        require_admin(actor)?;
        let cache = self.cached();
        if !cache.categories.contains_key(&rule.category) {
            return Err(ServiceError::invalid(
                "category",
                format!("unknown category {}", rule.category),
            ));
        }
        if let Some(s) = &rule.street_code {
            let known = cache
                .units
                .iter()
                .any(|u| u.kind == UnitKind::Street && &u.type_key == s);
            if !known {
                return Err(ServiceError::invalid(
                    "street_code",
                    "no street office has this street code",
                ));
            }
        }
        match cache.units.iter().find(|u| u.id == rule.unit_id) {
            Some(u) if u.active => {}
            Some(_) => return Err(ServiceError::invalid("unit_id", "the unit is deactivated")),
            None => {
                return Err(ServiceError::invalid(
                    "unit_id",
                    format!("no unit with id {}", rule.unit_id),
                ))
            }
        }
        let mut rules = cache.assign_rules.clone();
        let key = assign_key(&rule);
        let (action, before) = match rules.iter().position(|r| assign_key(r) == key) {
            Some(i) => {
                let old = std::mem::replace(&mut rules[i], rule.clone());
                ("update", Some(json(&old)?))
            }
            None => {
                rules.push(rule.clone());
                ("create", None)
            }
        };
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: reference::ASSIGN_RULES.to_owned(),
                value: json(&rules)?,
            }],
            "assign_rule",
            key,
            action,
            before,
            Some(json(&rule)?),
        )
        .await?;
        Ok(rule)
    }

    /// Removes the rule with this key (`category|street` with `*` for the whole district).
    pub async fn admin_delete_assign_rule(
        &self,
        actor: &Person,
        key: &str,
    ) -> Result<(), ServiceError> {
        require_admin(actor)?;
        let mut rules = self.cached().assign_rules.clone();
        let i = rules
            .iter()
            .position(|r| assign_key(r) == key)
            .ok_or_else(|| ServiceError::NotFound(format!("assignment rule {key:?}")))?;
        let old = rules.remove(i);
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: reference::ASSIGN_RULES.to_owned(),
                value: json(&rules)?,
            }],
            "assign_rule",
            key.to_owned(),
            "delete",
            Some(json(&old)?),
            None,
        )
        .await
    }

    // ---- calendar ----

    pub fn admin_calendar(&self, actor: &Person) -> Result<CalendarSpec, ServiceError> {
        require_admin(actor)?;
        Ok(self.calendar().spec().clone())
    }

    /// Replaces the working calendar (periods, weekend, holidays, 调休 make-up days).
    /// Existing cases keep the deadlines their events recorded; new clocks use it.
    pub async fn admin_put_calendar(
        &self,
        actor: &Person,
        spec: CalendarSpec,
    ) -> Result<CalendarSpec, ServiceError> {
        require_admin(actor)?;
        // Validated and upgraded (a document without `years` may still cover 2026).
        let spec = WorkCalendar::from_spec(&spec)
            .map_err(|e| ServiceError::invalid(e.field(), e.to_string()))?
            .spec()
            .clone();
        if spec.timezone != self.district.timezone {
            return Err(ServiceError::invalid(
                "timezone",
                format!(
                    "must be the district's time zone {}",
                    self.district.timezone
                ),
            ));
        }
        let before = self.calendar().spec().clone();
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: keys::CALENDAR.to_owned(),
                value: json(&spec)?,
            }],
            "calendar",
            "calendar".to_owned(),
            "update",
            Some(json(&before)?),
            Some(json(&spec)?),
        )
        .await?;
        self.refresh_open_deadlines().await?;
        Ok(spec)
    }

    // ---- API keys ----

    pub async fn admin_api_keys(&self, actor: &Person) -> Result<Vec<ApiKeyView>, ServiceError> {
        require_admin(actor)?;
        Ok(self
            .store
            .list_api_keys()
            .await?
            .into_iter()
            .map(ApiKeyView::from)
            .collect())
    }

    /// Issues a key; the plain key is returned this once, only its hash is stored.
    pub async fn admin_create_api_key(
        &self,
        actor: &Person,
        name: &str,
    ) -> Result<(ApiKeyView, String), ServiceError> {
        require_admin(actor)?;
        let name = text("name", name, crate::open311::MAX_CLIENT_NAME_CHARS)?;
        let (key, hash) = crate::open311::new_api_key();
        let view = ApiKeyView {
            id: hash.clone(),
            name: name.clone(),
            created_at: self.now(),
            revoked_at: None,
        };
        self.admin_commit(
            actor,
            vec![AdminOp::AddApiKey {
                key_hash: hash.clone(),
                name,
            }],
            "api_key",
            hash,
            "create",
            None,
            Some(json(&view)?),
        )
        .await?;
        Ok((view, key))
    }

    pub async fn admin_revoke_api_key(&self, actor: &Person, id: &str) -> Result<(), ServiceError> {
        require_admin(actor)?;
        let keys = self.store.list_api_keys().await?;
        let before = keys
            .into_iter()
            .find(|k| k.key_hash == id && k.revoked_at.is_none())
            .ok_or_else(|| ServiceError::NotFound("live api key".into()))?;
        self.admin_commit(
            actor,
            vec![AdminOp::RevokeApiKey {
                key_hash: id.to_owned(),
            }],
            "api_key",
            id.to_owned(),
            "revoke",
            Some(json(&ApiKeyView::from(before))?),
            None,
        )
        .await
    }

    // ---- audit ----

    pub async fn admin_audit(
        &self,
        actor: &Person,
        filter: &AuditFilter,
        after: Option<&AuditCursor>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.audit_log(filter, after, limit).await?)
    }
}

/// The key of an assignment rule: `category|street` (`*` for the whole district).
pub fn assign_key(r: &AssignRule) -> String {
    format!(
        "{}|{}",
        r.category.code,
        r.street_code.as_deref().unwrap_or("*")
    )
}
