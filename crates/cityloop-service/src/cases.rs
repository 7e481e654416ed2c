//! Case use cases: report (intake from any source), act (every workflow transition),
//! read one case with its timeline, list cases.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cityloop_domain::assign::{assign_unit, AssignRule};
use cityloop_domain::calendar::Light;
use cityloop_domain::case::{Case, Contact, Ctx, Event, FollowUp, Location, NewCase, Routing};
use cityloop_domain::cohandle::{open_part, open_units};
use cityloop_domain::ids::{CaseId, CaseNumber};
use cityloop_domain::model::{
    Actor, ActorRole, AreaGrade, Category, CategoryCode, Priority, Role, Source, UnitKind,
};
use cityloop_domain::privacy::ContactAccess;
use cityloop_domain::workflow::{allowed_actions, Action, Command, ReadScope};
use cityloop_store::{CaseFilter, Page};
use serde::Serialize;

use crate::{ServiceError, Services};

/// A report as it arrives from any channel, already parsed.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub source: Source,
    pub priority: Priority,
    pub category: CategoryCode,
    pub area_grade: Option<AreaGrade>,
    pub description: String,
    /// WGS84.
    pub lon: f64,
    pub lat: f64,
    pub address: Option<String>,
    pub reporter: Contact,
    pub media: Vec<String>,
    pub external_ref: Option<String>,
}

/// A case with everything a reader needs: timeline, deadline, light, legal next actions.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: Case,
    pub events: Vec<Event>,
    pub deadline: Option<DateTime<Utc>>,
    /// The deadline was computed on weekends only (a year without a holiday notice).
    pub deadline_weekends_only: bool,
    pub light: Option<Light>,
    pub allowed_actions: Vec<Action>,
    /// What the reader was given of the reporter's contact (see [`crate::privacy`]).
    pub contact_access: ContactAccess,
    /// The cases merged into this one (合并), directly or through a case merged into it,
    /// oldest first: their reporters are this case's reporters too (shaped for the reader).
    pub merged: Vec<MergedCase>,
}

/// A case merged into another (合并), as its master's detail lists it.
#[derive(Debug, Clone, Serialize)]
pub struct MergedCase {
    pub id: CaseId,
    pub number: CaseNumber,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub description: String,
    /// The reporter, shaped for the reader like the master's own.
    pub reporter: Contact,
    /// The case it was merged into (this master, or a case merged into it).
    pub merged_into: CaseId,
}

/// A bulk action (批量派遣, 批量督办) takes at most this many cases (a bigger list is a 422).
pub const MAX_BULK: usize = 100;

/// The actions that may be applied to many cases in one call.
pub const BULK_ACTIONS: &[Action] = &[Action::Dispatch, Action::Supervise];

/// A master lists at most this many merged cases (a bound, not a rule: duplicates of one
/// problem are a handful).
pub const MAX_MERGED: usize = 200;
/// Merges are followed this many levels deep (a case merged into a case merged into …).
pub const MAX_MERGE_DEPTH: usize = 8;

/// Idempotency scope of the staff API's case creation: `staff:<person id>`.
const STAFF_CREATE_SCOPE: &str = "staff:";
/// Idempotency scope of the staff API's actions: `staff-action:<person id>`.
const STAFF_ACTION_SCOPE: &str = "staff-action:";

/// An `Idempotency-Key` on the staff API is 1 to this many visible ASCII characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// A staff report's external reference (a 12345 ticket number) is 1 to this many
/// characters; unique per source (a second case with the same one is a 409).
pub const MAX_EXTERNAL_REF_CHARS: usize = 64;

/// A staff report's call time (`reporter.contacted_at`) may be this many minutes ahead of
/// the server's clock (another device's skew), no more.
pub const CONTACTED_AT_MAX_AHEAD_MINUTES: i64 = 5;

/// Checks what only the staff API carries: the external reference (trimmed; empty means
/// none) and the call time.
fn check_staff_fields(input: &mut ReportInput, now: DateTime<Utc>) -> Result<(), ServiceError> {
    if let Some(r) = input.external_ref.take() {
        let r = r.trim();
        if !r.is_empty() {
            if r.chars().count() > MAX_EXTERNAL_REF_CHARS || r.chars().any(char::is_control) {
                return Err(ServiceError::invalid(
                    "external_ref",
                    format!("1 to {MAX_EXTERNAL_REF_CHARS} characters, no control characters"),
                ));
            }
            input.external_ref = Some(r.to_owned());
        }
    }
    if let Some(at) = input.reporter.contacted_at {
        if at > now + chrono::Duration::minutes(CONTACTED_AT_MAX_AHEAD_MINUTES) {
            return Err(ServiceError::invalid(
                "reporter.contacted_at",
                "is in the future",
            ));
        }
    }
    Ok(())
}

/// Checks a client's `Idempotency-Key` (a 422 naming the header otherwise).
pub fn check_idempotency_key(key: &str) -> Result<&str, ServiceError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(key)
    } else {
        Err(ServiceError::invalid(
            "Idempotency-Key",
            format!("1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"),
        ))
    }
}

/// The person part of an idempotency scope (keys are per person).
fn person_scope(actor: &Actor) -> String {
    actor
        .person_id
        .map(|p| p.to_string())
        .unwrap_or_else(|| "system".into())
}

/// Why a keyed action did not append: it had been done (its first use), or an error.
enum ActError {
    Replayed(cityloop_store::KeyUse),
    Service(ServiceError),
}

impl From<ServiceError> for ActError {
    fn from(e: ServiceError) -> Self {
        ActError::Service(e)
    }
}

impl From<cityloop_store::StoreError> for ActError {
    fn from(e: cityloop_store::StoreError) -> Self {
        ActError::Service(e.into())
    }
}

impl From<cityloop_domain::workflow::TransitionError> for ActError {
    fn from(e: cityloop_domain::workflow::TransitionError) -> Self {
        ActError::Service(e.into())
    }
}

/// Which sources each role may report under.
fn may_report(actor: &Actor, source: Source) -> bool {
    match actor.role {
        ActorRole::Public => source == Source::Public,
        ActorRole::System => matches!(source, Source::Sensor | Source::Video),
        ActorRole::Staff(role) => match role {
            Role::Inspector => source == Source::Inspector,
            Role::RoadChief => source == Source::RoadChief,
            Role::Operator | Role::Supervisor => !matches!(
                source,
                Source::Inspector | Source::RoadChief | Source::Sensor | Source::Video
            ),
            Role::Admin | Role::Dispatcher | Role::Handler | Role::Enforcer => false,
        },
    }
}

impl Services {
    /// The district's category table, keyed by code.
    pub async fn categories(&self) -> Result<HashMap<CategoryCode, Category>, ServiceError> {
        Ok(self.cached().categories.clone())
    }

    /// Takes a report in: checks it, routes it, numbers it, stores it with its first event.
    pub async fn report_case(
        &self,
        actor: &Actor,
        input: ReportInput,
    ) -> Result<Case, ServiceError> {
        Ok(self.report_case_once(actor, input, None).await?.0)
    }

    /// [`Services::report_case`] with the client's idempotency key (the staff API's
    /// `Idempotency-Key`, scoped to the person): a repeat answers the first case (and
    /// `true`), and a write whose connection dropped is retried (see [`crate::retry`]).
    /// Without a key a lost connection answers [`ServiceError::Unavailable`].
    pub async fn report_case_once(
        &self,
        actor: &Actor,
        input: ReportInput,
        key: Option<&str>,
    ) -> Result<(Case, bool), ServiceError> {
        self.report_follow_up(actor, input, key, None).await
    }

    /// [`Services::report_case_once`] of a report that may follow up a closed case
    /// ("still not fixed"): the new case carries the link and is suggested to the unit that
    /// handled the first one.
    pub(crate) async fn report_follow_up(
        &self,
        actor: &Actor,
        input: ReportInput,
        key: Option<&str>,
        follows: Option<FollowUp>,
    ) -> Result<(Case, bool), ServiceError> {
        let key = key.map(check_idempotency_key).transpose()?;
        let scope = format!("{STAFF_CREATE_SCOPE}{}", person_scope(actor));
        if let Some(k) = key {
            // A repeat is answered before anything is checked again (the first answer
            // stands even if, say, the category was removed since).
            if let Some(id) = self
                .store
                .idempotency_key(&scope, k)
                .await?
                .map(|u| u.case_id)
            {
                return Ok((self.store.get_case(id).await?, true));
            }
        }
        let mut input = input;
        check_staff_fields(&mut input, self.now())?;
        let (mut case, mut event) = self.prepare_report(actor, input, follows).await?;
        self.check_attachment_refs("media", &case.media).await?;
        let deadline = case.deadline(&self.calendar());
        let prefix = self.number_prefix(&case);
        let idem = key.map(|k| (scope.as_str(), k));
        let mut retry = crate::retry::Retry::new(self.write_retry);
        let first = loop {
            match self
                .store
                .create_numbered_case(&prefix, &mut case, deadline, &mut event, idem)
                .await
            {
                Err(e) if idem.is_some() && retry.again(&e).await => continue,
                // The unique index on (source, external_ref) (migration 0016).
                Err(cityloop_store::StoreError::Conflict(m)) if m.contains("external_ref") => {
                    return Err(ServiceError::Duplicate {
                        field: "external_ref".into(),
                        message: format!(
                            "{} is already registered from source {}",
                            case.external_ref.as_deref().unwrap_or_default(),
                            case.source
                        ),
                    });
                }
                other => break other?,
            }
        };
        if let Some(id) = first {
            tracing::info!(case.id = %id, "staff report repeated (Idempotency-Key); answered with the first case");
            return Ok((self.store.get_case(id).await?, true));
        }
        tracing::info!(case.id = %case.id, case.number = %case.number, case.source = %case.source, "case reported");
        self.publish(&case, None, &event).await;
        Ok((case, false))
    }

    /// The case-number prefix of a case: district code and the local date of intake.
    pub(crate) fn number_prefix(&self, case: &Case) -> String {
        let local_date = case
            .created_at
            .with_timezone(&self.calendar().tz())
            .date_naive();
        CaseNumber::prefix(&self.district.code, local_date)
    }

    /// Everything of [`Services::report_case`] but the write: checks the report, routes
    /// it and builds the case with its first event. The number is a placeholder until the
    /// store assigns the real one in the creating transaction. Shared with the Open311
    /// intake, which writes through the idempotent store call instead.
    pub(crate) async fn prepare_report(
        &self,
        actor: &Actor,
        input: ReportInput,
        follows: Option<FollowUp>,
    ) -> Result<(Case, Event), ServiceError> {
        if !may_report(actor, input.source) {
            return Err(ServiceError::Forbidden(format!(
                "this account may not report cases with source {}",
                input.source
            )));
        }
        let cache = self.cached();
        let category = cache.categories.get(&input.category).ok_or_else(|| {
            ServiceError::invalid("category", format!("unknown category {}", input.category))
        })?;
        let mut routing = self
            .route(
                &input.category,
                &category.default_unit_type,
                input.lon,
                input.lat,
            )
            .await?;
        // "Still not fixed" goes back to the unit that closed it.
        if let Some(unit) = follows.as_ref().and_then(|f| f.unit_id) {
            routing.unit_id = Some(unit);
        }
        let now = self.now();
        let local_date = now.with_timezone(&self.calendar().tz()).date_naive();
        let new = NewCase {
            source: input.source,
            priority: input.priority,
            category: input.category,
            area_grade: input.area_grade.unwrap_or(AreaGrade::B),
            description: input.description,
            location: Location {
                lon: input.lon,
                lat: input.lat,
                address: input.address,
            },
            routing,
            reporter: input.reporter,
            media: input.media,
            external_ref: input.external_ref,
            follows,
        };
        Case::report(
            CaseId::new_v7(),
            CaseNumber::new(&self.district.code, local_date, 0),
            new,
            actor,
            Self::ctx(&cache, now),
        )
        .map_err(|e| ServiceError::invalid(e.field, e.problem))
    }

    /// Routes a point for a category: territory (when the district has one loaded) and the
    /// handling unit.
    pub async fn route(
        &self,
        category: &CategoryCode,
        default_unit_type: &str,
        lon: f64,
        lat: f64,
    ) -> Result<Routing, ServiceError> {
        let mut routing = self.locate(lon, lat);
        let cache = self.cached();
        let units = &cache.units;
        let default_unit = units
            .iter()
            .find(|u| u.code == self.district.default_unit_code)
            .or_else(|| units.iter().find(|u| u.kind == UnitKind::Command))
            .map(|u| u.id)
            .ok_or_else(|| {
                ServiceError::NotConfigured("the district has no default intake unit".into())
            })?;
        let rules: &[AssignRule] = &cache.assign_rules;
        // Outside the district nobody local owns the place: the default intake unit takes
        // it, and the routing says so (outside_district).
        let unit = if routing.outside_district {
            default_unit
        } else {
            assign_unit(
                category,
                default_unit_type,
                routing.street_code.as_deref(),
                units,
                rules,
                default_unit,
            )
            .0
        };
        routing.unit_id = Some(unit);
        Ok(routing)
    }

    /// The territorial part of routing.
    pub(crate) fn locate(&self, lon: f64, lat: f64) -> Routing {
        match &self.territory {
            Some(t) => t.locate(lon, lat),
            None => Routing::default(),
        }
    }

    /// The decision context on one snapshot of the calendar and limits.
    fn ctx(live: &crate::reference::Cache, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx {
            now,
            calendar: &live.calendar,
            limits: &live.limits,
        }
    }

    /// Performs one workflow action. `expected_version`, when given, must equal the
    /// case's current version (optimistic concurrency from the client's side).
    pub async fn act(
        &self,
        actor: &Actor,
        id: CaseId,
        action: Action,
        cmd: Command,
        expected_version: Option<i64>,
    ) -> Result<Case, ServiceError> {
        match self
            .act_inner(actor, id, action, cmd, expected_version, None)
            .await
        {
            Ok(case) => Ok(case),
            Err(ActError::Service(e)) => Err(e),
            Err(ActError::Replayed(_)) => Err(ServiceError::Internal(anyhow::anyhow!(
                "an action without a key was answered as a replay"
            ))),
        }
    }

    /// [`Services::act`] with the client's idempotency key (the staff API's
    /// `Idempotency-Key`, scoped to the person), answered as the case's detail right after
    /// the action. A repeat of the key answers the first result (the case as it was after
    /// that action; `true`) and writes nothing; a write whose connection dropped is
    /// retried. The key belongs to one case: using it on another is a conflict.
    pub async fn act_once(
        &self,
        actor: &Actor,
        id: CaseId,
        action: Action,
        cmd: Command,
        expected_version: Option<i64>,
        key: Option<&str>,
    ) -> Result<(CaseDetail, bool), ServiceError> {
        let key = key.map(check_idempotency_key).transpose()?;
        let scope = format!("{STAFF_ACTION_SCOPE}{}", person_scope(actor));
        if let Some(k) = key {
            if let Some(used) = self.store.idempotency_key(&scope, k).await? {
                return Ok((self.replayed_action(actor, id, used).await?, true));
            }
        }
        let idem = key.map(|k| (scope.as_str(), k));
        match self
            .act_inner(actor, id, action, cmd, expected_version, idem)
            .await
        {
            Ok(_) => Ok((self.case_detail_unchecked(actor, id).await?, false)),
            Err(ActError::Replayed(used)) => {
                tracing::info!(case.id = %id, "staff action repeated (Idempotency-Key); answered with the first result");
                Ok((self.replayed_action(actor, id, used).await?, true))
            }
            Err(ActError::Service(ServiceError::Conflict(m))) => {
                // The same request, run concurrently, may have committed meanwhile (the
                // state or version moved because of it): then it is a repeat.
                match key {
                    Some(k) => match self.store.idempotency_key(&scope, k).await? {
                        Some(used) => Ok((self.replayed_action(actor, id, used).await?, true)),
                        None => Err(ServiceError::Conflict(m)),
                    },
                    None => Err(ServiceError::Conflict(m)),
                }
            }
            Err(ActError::Service(e)) => Err(e),
        }
    }

    /// The detail a keyed action answered the first time: the case folded up to the event
    /// that action appended (found by actor and time, both stored with the key).
    async fn replayed_action(
        &self,
        actor: &Actor,
        id: CaseId,
        used: cityloop_store::KeyUse,
    ) -> Result<CaseDetail, ServiceError> {
        if used.case_id != id {
            return Err(ServiceError::Conflict(format!(
                "this Idempotency-Key was used for case {}, not {id}",
                used.case_id
            )));
        }
        let case = self.store.get_case(id).await?;
        self.check_can_see(actor, &case)?;
        let events = self.store.events(id).await?;
        let upto = events.iter().position(|e| {
            e.actor.person_id == actor.person_id
                && (e.at - used.at).num_microseconds().map(i64::abs) < Some(1_000)
        });
        let Some(upto) = upto else {
            // Cannot tell which event it was; the current case is the honest answer.
            return Ok(self.detail(actor, case, events));
        };
        let events = events[..=upto].to_vec();
        let then = Case::from_events(&events)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("fold failed: {e}")))?;
        Ok(self.detail(actor, then, events))
    }

    async fn act_inner(
        &self,
        actor: &Actor,
        id: CaseId,
        action: Action,
        cmd: Command,
        expected_version: Option<i64>,
        idem: Option<(&str, &str)>,
    ) -> Result<Case, ActError> {
        let case = self.store.get_case(id).await?;
        // Scope first, so nothing about another unit's case (not even its state) leaks.
        // A public actor reaches here only through `rate_case`, which proved by the case's
        // query code that it is the reporter; the state machine lets it answer a call-back
        // and nothing else.
        if actor.role != cityloop_domain::model::ActorRole::Public {
            self.check_can_see(actor, &case)?;
        }
        if let Some(v) = expected_version {
            if v != case.version {
                return Err(ServiceError::Conflict(format!(
                    "case {} is at version {}, not {v}",
                    case.number, case.version
                ))
                .into());
            }
        }
        let now = self.now();
        let live = self.cached();
        let mut cmd = cmd;
        // Set by the service from the new category's routing only, never by a client.
        cmd.routed_unit = None;
        // Role, state and fields first, so nothing else is looked up for a refused action.
        case.decide(action, &cmd, actor, Self::ctx(&live, now))?;
        // A staff void of a 12345 case is a 退回: only within the platform's limit.
        if action == Action::Void && actor.person_id.is_some() {
            self.check_hotline_return(&case).await?;
        }
        self.complete_command(actor, &case, action, &mut cmd)
            .await?;
        let event = case.decide(action, &cmd, actor, Self::ctx(&live, now))?;
        self.check_attachment_refs("attachments", &event.attachments)
            .await?;
        if let Some(unit) = event.unit_id {
            let u =
                self.store.get_unit(unit).await.map_err(|_| {
                    ServiceError::invalid("unit_id", format!("no unit with id {unit}"))
                })?;
            if !u.active {
                return Err(ServiceError::invalid("unit_id", "the unit is deactivated").into());
            }
        }
        if let Some(cat) = &event.category {
            if !self.cached().categories.contains_key(cat) {
                return Err(
                    ServiceError::invalid("category", format!("unknown category {cat}")).into(),
                );
            }
        }
        let mut next = case.clone();
        next.apply(&event)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("fold failed: {e}")))?;
        let deadline = next.deadline(&live.calendar);
        match idem {
            None => self.store.append_event(&next, deadline, &event).await?,
            Some((scope, key)) => {
                let mut retry = crate::retry::Retry::new(self.write_retry);
                let used = loop {
                    match self
                        .store
                        .append_event_once(&next, deadline, &event, scope, key)
                        .await
                    {
                        Err(e) if retry.again(&e).await => continue,
                        other => break other?,
                    }
                };
                if let Some(used) = used {
                    return Err(ActError::Replayed(used));
                }
            }
        }
        tracing::info!(case.id = %next.id, case.number = %next.number, action = %action, state = %next.state, "case transition");
        // A staff notice (inbox) would be raised here for `merge` (to the master's unit) and
        // `supervise` (to event.unit_id): the event carries case, actor, unit and reason.
        self.publish(&next, case.unit_id, &event).await;
        Ok(next)
    }

    /// One action on many cases (批量派遣, 批量督办): each case is its own action and event,
    /// checked and written on its own, so some may fail (their error is returned in their
    /// place) while the others succeed. At most [`MAX_BULK`] distinct cases; only the
    /// [`BULK_ACTIONS`].
    pub async fn bulk_act(
        &self,
        actor: &Actor,
        action: Action,
        ids: &[CaseId],
        cmd: Command,
    ) -> Result<Vec<(CaseId, Result<Case, ServiceError>)>, ServiceError> {
        if !BULK_ACTIONS.contains(&action) {
            return Err(ServiceError::invalid(
                "action",
                "a bulk action is dispatch or supervise",
            ));
        }
        if ids.is_empty() {
            return Err(ServiceError::invalid("case_ids", "name at least one case"));
        }
        if ids.len() > MAX_BULK {
            return Err(ServiceError::invalid(
                "case_ids",
                format!("at most {MAX_BULK} cases in one call ({} given)", ids.len()),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
            return Err(ServiceError::invalid(
                "case_ids",
                format!("case {dup} is listed twice"),
            ));
        }
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let r = self.act(actor, id, action, cmd.clone(), None).await;
            out.push((id, r));
        }
        Ok(out)
    }

    /// What an action needs beyond the client's command, checked against the store: the
    /// master of a merge (open, another case, in the reader's scope; 409 otherwise), the
    /// unit routing suggests for a registration's new category, and for a road chief's
    /// 督办 that the case lies on one of their segments.
    async fn complete_command(
        &self,
        actor: &Actor,
        case: &Case,
        action: Action,
        cmd: &mut Command,
    ) -> Result<(), ServiceError> {
        match action {
            Action::Merge => {
                let Some(m) = cmd.merge_into.as_mut() else {
                    return Ok(());
                };
                if m.case_id == case.id {
                    return Err(ServiceError::OutOfOrder {
                        field: "merge_into".into(),
                        message: format!("case {} cannot be merged into itself", case.number),
                    });
                }
                let master = match self.store.get_case(m.case_id).await {
                    Ok(c) => c,
                    Err(cityloop_store::StoreError::NotFound(_)) => {
                        return Err(ServiceError::invalid(
                            "merge_into",
                            format!("no case with id {}", m.case_id),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                };
                self.check_can_see(actor, &master)?;
                if master.state.is_terminal() {
                    return Err(ServiceError::OutOfOrder {
                        field: "merge_into".into(),
                        message: format!(
                            "case {} is {} ({}); a duplicate is merged only into an open case",
                            master.number,
                            master.state,
                            master.state.zh()
                        ),
                    });
                }
                m.number = master.number.clone();
                m.unit_id = master.unit_id;
            }
            Action::Register => {
                let Some(new) = cmd.category.clone().filter(|c| *c != case.category) else {
                    return Ok(());
                };
                let category = self.cached().categories.get(&new).cloned().ok_or_else(|| {
                    ServiceError::invalid("category", format!("unknown category {new}"))
                })?;
                let routing = self
                    .route(
                        &new,
                        &category.default_unit_type,
                        case.location.lon,
                        case.location.lat,
                    )
                    .await?;
                cmd.routed_unit = routing.unit_id;
            }
            Action::Supervise if actor.staff_role() == Some(Role::RoadChief) => {
                // The segment's current road chiefs (every level above the segment).
                let on_segment = match case.routing.segment_id.as_deref() {
                    Some(seg) => self
                        .store
                        .road_chiefs(Some(seg))
                        .await?
                        .iter()
                        .any(|a| Some(a.person_id) == actor.person_id),
                    None => false,
                };
                if !on_segment {
                    return Err(ServiceError::Forbidden(
                        "a road chief urges (督办) only cases on their own road segments".into(),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The cases merged into `master`, directly or through cases merged into it, oldest
    /// first within each level, shaped for the reader; bounded by [`MAX_MERGED`] and
    /// [`MAX_MERGE_DEPTH`].
    pub async fn merged_into(
        &self,
        actor: &Actor,
        master: CaseId,
    ) -> Result<Vec<MergedCase>, ServiceError> {
        let mut out = Vec::new();
        let mut level = vec![master];
        let mut seen = std::collections::HashSet::from([master]);
        for _ in 0..MAX_MERGE_DEPTH {
            if level.is_empty() || out.len() >= MAX_MERGED {
                break;
            }
            let left = (MAX_MERGED - out.len()) as i64;
            let found = self.store.cases_merged_into(&level, left).await?;
            level = Vec::new();
            for mut c in found {
                if !seen.insert(c.id) {
                    continue;
                }
                level.push(c.id);
                let into = c.merged_into.as_ref().map_or(master, |m| m.case_id);
                self.shape_case(actor, &mut c);
                out.push(MergedCase {
                    id: c.id,
                    number: c.number,
                    source: c.source,
                    created_at: c.created_at,
                    description: c.description,
                    reporter: c.reporter,
                    merged_into: into,
                });
            }
        }
        Ok(out)
    }

    /// The open (or last) case a merged case's report now lives on: its master, followed
    /// through masters that were merged themselves ([`MAX_MERGE_DEPTH`] levels at most).
    /// None for a case that was not merged.
    pub async fn master_of(&self, case: &Case) -> Result<Option<Case>, ServiceError> {
        let mut next = case.merged_into.as_ref().map(|m| m.case_id);
        let mut master = None;
        for _ in 0..MAX_MERGE_DEPTH {
            let Some(id) = next else { break };
            let c = match self.store.get_case(id).await {
                Ok(c) => c,
                Err(cityloop_store::StoreError::NotFound(_)) => break,
                Err(e) => return Err(e.into()),
            };
            next = c.merged_into.as_ref().map(|m| m.case_id);
            master = Some(c);
        }
        Ok(master)
    }

    /// One case with its timeline, as `actor` may see it.
    pub async fn case_detail(&self, actor: &Actor, id: CaseId) -> Result<CaseDetail, ServiceError> {
        let case = self.store.get_case(id).await?;
        self.check_can_see(actor, &case)?;
        let events = self.store.events(id).await?;
        let mut d = self.detail(actor, case, events);
        d.merged = self.merged_into(actor, id).await?;
        Ok(d)
    }

    /// One case with its timeline, without the visibility check (the caller just acted
    /// on it, which the state machine already scoped).
    pub async fn case_detail_unchecked(
        &self,
        actor: &Actor,
        id: CaseId,
    ) -> Result<CaseDetail, ServiceError> {
        let case = self.store.get_case(id).await?;
        let events = self.store.events(id).await?;
        let mut d = self.detail(actor, case, events);
        d.merged = self.merged_into(actor, id).await?;
        Ok(d)
    }

    /// Builds the detail view from a case and its events, shaped for the reader
    /// ([`Services::shape_case`]).
    pub fn detail(&self, actor: &Actor, mut case: Case, events: Vec<Event>) -> CaseDetail {
        let now = self.now();
        let calendar = self.calendar();
        let contact_access = self.shape_case(actor, &mut case);
        let light = case.light(&calendar, now);
        // 督办 is offered only once the light is yellow or red (the case refuses it before).
        let due = matches!(light, Some(Light::Yellow | Light::Red));
        CaseDetail {
            deadline: case.deadline(&calendar),
            deadline_weekends_only: case.deadline_weekends_only(&calendar),
            light,
            allowed_actions: match actor.staff_role() {
                // An assisting unit's handler (协办) acts on its own open part only.
                Some(Role::Handler)
                    if case.unit_id != actor.unit_id
                        && open_part(&case.assists, actor.unit_id).is_some() =>
                {
                    allowed_actions(case.state, Role::Handler)
                        .into_iter()
                        .filter(|a| matches!(a, Action::AssistReport | Action::AssistReturn))
                        .collect()
                }
                Some(role) if role != Role::Handler || case.unit_id == actor.unit_id => {
                    let any_open = !open_units(&case.assists).is_empty();
                    allowed_actions(case.state, role)
                        .into_iter()
                        .filter(|a| *a != Action::Supervise || due)
                        // The lead's handler reports its own part only (协办 report their
                        // own), and releases or extends an assisting part only while one is
                        // open.
                        .filter(|a| {
                            !(role == Role::Handler
                                && matches!(a, Action::AssistReport | Action::AssistReturn))
                        })
                        .filter(|a| {
                            any_open || !matches!(a, Action::AssistRelease | Action::AssistExtend)
                        })
                        .collect()
                }
                _ => Vec::new(),
            },
            contact_access,
            case,
            events,
            merged: Vec::new(),
        }
    }

    /// Scope ([`ReadScope`]): a handler sees only cases dispatched to their unit, a road
    /// chief of a street office only the cases located in that street.
    pub fn check_can_see(&self, actor: &Actor, case: &Case) -> Result<(), ServiceError> {
        if self.in_scope(actor, case)? {
            return Ok(());
        }
        Err(ServiceError::Forbidden(match actor.staff_role() {
            Some(Role::RoadChief) => "this case is not in your street".into(),
            _ => "this case is not dispatched to your unit".into(),
        }))
    }

    /// Lists cases within the actor's scope, each shaped for the reader.
    pub async fn list_cases(
        &self,
        actor: &Actor,
        mut filter: CaseFilter,
        page: Page,
    ) -> Result<Vec<Case>, ServiceError> {
        match self.read_scope(actor)? {
            ReadScope::All => {}
            ReadScope::Nothing => {
                return Err(ServiceError::Forbidden("handler without a unit".into()))
            }
            ReadScope::Unit(unit) => {
                if filter.unit_id.is_some_and(|u| u != unit) {
                    return Err(ServiceError::Forbidden(
                        "handlers see only their own unit's cases".into(),
                    ));
                }
                filter.unit_id = Some(unit);
                // Their queue also holds the cases they assist on (协办), while their
                // part is open.
                filter.assisting = true;
            }
            ReadScope::Street(street) => {
                if filter.street_code.as_ref().is_some_and(|s| *s != street) {
                    return Err(ServiceError::Forbidden(
                        "road chiefs see only their own street's cases".into(),
                    ));
                }
                filter.street_code = Some(street);
            }
        }
        let mut cases = self.store.list_cases(&filter, &page).await?;
        for c in &mut cases {
            self.shape_case(actor, c);
        }
        Ok(cases)
    }
}
