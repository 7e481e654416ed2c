//! The 12345 bridge's use cases: the city platform pushes work orders (工单) and their
//! follow-ups (催办, 撤单, 补充材料), signed with the district's shared secret; the
//! district's answers (签收, 退回, 阶段答复, 办结) go back as signed calls through the one
//! webhook outbox (`hotline.*` event types: subscribe the platform's URL to them).
//!
//! A work order becomes one case: the 工单号 is the case's external reference, unique per
//! source (migration 0016), so the same order pushed twice, even concurrently, is one case.
//! The case is written by the one pipeline (whole, or not at all); the bridge's own row
//! (`hotline_orders`) is linked after it, and a push that finds the case without its row
//! (a crash between the two) links it then. A changed copy is logged as an update, with
//! the fields that changed; the case's own text stays as reported (staff see the update on
//! the bridge's log).
//!
//! The bridge acts as an operator without a person (`bridge_actor`): the case's report and
//! the void after a 撤单 carry no person id, which is also how a staff `void` (退回, with
//! a person) is told from a withdrawal.

use chrono::{DateTime, Utc};
use cityloop_domain::case::{Case, Contact};
use cityloop_domain::hotline::{self as hl, HotlineSettings, Order};
use cityloop_domain::ids::CaseId;
use cityloop_domain::model::{Actor, ActorRole, CategoryCode, Person, Role, Source};
use cityloop_domain::workflow::{Action, Command};
use cityloop_store::hotline::SETTING;
use cityloop_store::{HotlineLogEntry, HotlineOrderRow, WebhookDelivery};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cases::ReportInput;
use crate::error::ServiceError;
use crate::Services;

/// What became of a pushed work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderOutcome {
    /// A new case.
    Created,
    /// The same copy again: nothing written.
    Repeated,
    /// A changed copy: logged as an update of the same case.
    Updated,
}

/// The answer to a push.
#[derive(Debug, Clone)]
pub struct Received {
    pub case: Case,
    pub outcome: OrderOutcome,
    pub order: HotlineOrderRow,
    /// The fields a changed copy changed.
    pub changed: Vec<&'static str>,
}

/// A follow-up from the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// 催办: the platform urges the district on.
    Urge,
    /// 撤单: the platform withdraws the order; the case is voided where the workflow allows.
    Withdraw,
    /// 补充材料: more text from the caller or the platform.
    Supplement,
}

impl FollowUp {
    fn log_kind(self) -> &'static str {
        match self {
            FollowUp::Urge => "urged",
            FollowUp::Withdraw => "withdrawn",
            FollowUp::Supplement => "supplemented",
        }
    }
}

/// The answer to a follow-up.
#[derive(Debug, Clone)]
pub struct FollowUpDone {
    pub case: Case,
    /// 撤单 only: whether the case was voided (false when it had already gone past the
    /// states a void may start from, or was closed or voided already).
    pub voided: bool,
}

/// The bridge's view of a case: the order, its log and every outbound call.
#[derive(Debug, Clone)]
pub struct HotlineView {
    pub order: HotlineOrderRow,
    pub log: Vec<HotlineLogEntry>,
    pub deliveries: Vec<WebhookDelivery>,
}

/// The actor the bridge writes as: an operator without a person.
pub fn bridge_actor() -> Actor {
    Actor {
        person_id: None,
        role: ActorRole::Staff(Role::Operator),
        unit_id: None,
    }
}

fn invalid(e: hl::FieldError) -> ServiceError {
    ServiceError::invalid(e.field, e.problem)
}

fn log(ticket: &str, kind: &str, body: Value, at: DateTime<Utc>) -> HotlineLogEntry {
    HotlineLogEntry {
        id: Uuid::now_v7(),
        ticket_no: ticket.to_owned(),
        kind: kind.to_owned(),
        body,
        at,
    }
}

impl Services {
    /// The bridge's settings; `NotConfigured` until an admin stored them.
    pub async fn hotline_settings(&self) -> Result<HotlineSettings, ServiceError> {
        crate::reference::get_setting::<HotlineSettings>(&*self.store, SETTING)
            .await?
            .ok_or_else(|| ServiceError::NotConfigured("the 12345 bridge is not configured".into()))
    }

    /// The settings as an admin reads them: the secret is never shown.
    pub async fn admin_hotline_settings(
        &self,
        actor: &Person,
    ) -> Result<Option<HotlineSettings>, ServiceError> {
        crate::admin::require_admin(actor)?;
        Ok(
            crate::reference::get_setting::<HotlineSettings>(&*self.store, SETTING)
                .await?
                .map(|s| HotlineSettings {
                    inbound_secret: String::new(),
                    ..s
                }),
        )
    }

    /// Stores the bridge's settings (audited). Every mapped category and the fallback
    /// must be in the district's category table.
    pub async fn put_hotline_settings(
        &self,
        actor: &Person,
        settings: HotlineSettings,
    ) -> Result<(), ServiceError> {
        crate::admin::require_admin(actor)?;
        settings.check().map_err(invalid)?;
        let cats = self.cached();
        let known = |field: String, code: &str| -> Result<(), ServiceError> {
            let c = CategoryCode::parse_service_code(code)
                .map_err(|e| ServiceError::invalid(field.clone(), e.to_string()))?;
            if cats.categories.contains_key(&c) {
                Ok(())
            } else {
                Err(ServiceError::invalid(
                    field,
                    format!("{code} is not in the district's category list"),
                ))
            }
        };
        known("fallback_category".into(), &settings.fallback_category)?;
        for (k, v) in &settings.categories {
            known(format!("categories.{k}"), v)?;
        }
        let before = self.store.get_setting(SETTING).await?;
        let redact = |v: Value| match v {
            Value::Object(mut o) => {
                o.insert("inbound_secret".into(), json!("(hidden)"));
                Value::Object(o)
            }
            other => other,
        };
        let value =
            serde_json::to_value(&settings).map_err(|e| ServiceError::Internal(e.into()))?;
        self.admin_commit(
            actor,
            vec![cityloop_store::AdminOp::PutSetting {
                key: SETTING.to_owned(),
                value: value.clone(),
            }],
            "setting",
            SETTING.to_owned(),
            "update",
            before.map(redact),
            Some(redact(value)),
        )
        .await
    }

    /// Checks a platform call's signature (`X-Cityloop-Timestamp`, `X-Cityloop-Signature`:
    /// HMAC-SHA256 over `<timestamp>.<raw body>` with the shared secret, the webhook
    /// scheme) and that its timestamp is within [`hl::MAX_CLOCK_SKEW_S`] of the clock.
    pub async fn hotline_authenticate(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<HotlineSettings, ServiceError> {
        // Without settings there is no secret to check a call against: the caller cannot
        // be authenticated (401), which a platform treats as a credentials problem to fix,
        // not as an outage to retry.
        let settings = match self.hotline_settings().await {
            Err(ServiceError::NotConfigured(_)) => {
                return Err(ServiceError::Unauthorized(
                    "the 12345 bridge has no inbound secret yet: an admin sets it (PUT /api/v1/admin/hotline)".into(),
                ))
            }
            other => other?,
        };
        let (Some(ts), Some(sig)) = (timestamp, signature) else {
            return Err(ServiceError::Unauthorized(
                "sign the call: X-Cityloop-Timestamp and X-Cityloop-Signature".into(),
            ));
        };
        let skew_ok = ts
            .trim()
            .parse::<i64>()
            .is_ok_and(|t| (t - self.now().timestamp()).abs() <= hl::MAX_CLOCK_SKEW_S);
        if !skew_ok {
            return Err(ServiceError::Unauthorized(format!(
                "X-Cityloop-Timestamp must be Unix seconds within {} s of the server's clock",
                hl::MAX_CLOCK_SKEW_S
            )));
        }
        if !crate::webhooks::verify(&settings.inbound_secret, ts, body, sig) {
            return Err(ServiceError::Unauthorized("bad signature".into()));
        }
        Ok(settings)
    }

    /// A pushed work order: a new case, a repeat, or an update of the same case.
    pub async fn hotline_receive(
        &self,
        settings: &HotlineSettings,
        body: &Value,
    ) -> Result<Received, ServiceError> {
        let now = self.now();
        let tz = self.calendar().tz();
        let order = Order::parse(body, tz, now).map_err(invalid)?;
        if let Some(row) = self.store.hotline_order(&order.ticket_no).await? {
            return self.hotline_again(settings, row, order).await;
        }
        let case_id = match self.store.hotline_case_by_ticket(&order.ticket_no).await? {
            Some(id) => id,
            None => match self.hotline_create(settings, &order).await {
                Ok(id) => id,
                // Pushed concurrently: the other push created it.
                Err(ServiceError::Duplicate { field, .. }) if field == "external_ref" => self
                    .store
                    .hotline_case_by_ticket(&order.ticket_no)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Conflict(format!(
                            "work order {} is being received; try again",
                            order.ticket_no
                        ))
                    })?,
                Err(e) => return Err(e),
            },
        };
        let case = self.store.get_case(case_id).await?;
        let (_, mapped) = settings.category_for(order.kind.as_deref());
        let placed = order.lon.is_some()
            || case.location.lon != settings.intake_lon
            || case.location.lat != settings.intake_lat;
        let row = self.order_row(settings, &order, case_id, mapped, placed, now);
        let first = log(
            &order.ticket_no,
            "received",
            json!({"category_mapped": mapped, "placed": placed, "kind": order.kind}),
            now,
        );
        if self.store.link_hotline_order(&row, &first).await? {
            tracing::info!(case.id = %case_id, ticket = %order.ticket_no, "12345 work order received");
            return Ok(Received {
                case,
                outcome: OrderOutcome::Created,
                order: row,
                changed: Vec::new(),
            });
        }
        // Linked meanwhile by a concurrent push of the same order.
        let row = self
            .store
            .hotline_order(&order.ticket_no)
            .await?
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("hotline order vanished")))?;
        self.hotline_again(settings, row, order).await
    }

    fn order_row(
        &self,
        settings: &HotlineSettings,
        order: &Order,
        case_id: CaseId,
        mapped: bool,
        placed: bool,
        now: DateTime<Utc>,
    ) -> HotlineOrderRow {
        let days = order
            .deadline_days
            .unwrap_or(settings.default_deadline_days);
        HotlineOrderRow {
            ticket_no: order.ticket_no.clone(),
            case_id,
            fingerprint: order.fingerprint(),
            body: serde_json::to_value(order).unwrap_or(Value::Null),
            platform_deadline: Some(hl::platform_deadline(
                order.call_time,
                days,
                self.calendar().tz(),
            )),
            category_mapped: mapped,
            placed,
            withdrawn_at: None,
            received_at: now,
            updated_at: now,
        }
    }

    async fn hotline_again(
        &self,
        settings: &HotlineSettings,
        row: HotlineOrderRow,
        order: Order,
    ) -> Result<Received, ServiceError> {
        let case = self.store.get_case(row.case_id).await?;
        if row.fingerprint == order.fingerprint() {
            return Ok(Received {
                case,
                outcome: OrderOutcome::Repeated,
                order: row,
                changed: Vec::new(),
            });
        }
        let before: Option<Order> = serde_json::from_value(row.body.clone()).ok();
        let changed = before
            .as_ref()
            .map(|b| order.changed_fields(b))
            .unwrap_or_default();
        let now = self.now();
        let days = order
            .deadline_days
            .unwrap_or(settings.default_deadline_days);
        let updated = HotlineOrderRow {
            fingerprint: order.fingerprint(),
            body: serde_json::to_value(&order).unwrap_or(Value::Null),
            platform_deadline: Some(hl::platform_deadline(
                order.call_time,
                days,
                self.calendar().tz(),
            )),
            updated_at: now,
            ..row
        };
        let entry = log(
            &order.ticket_no,
            "updated",
            json!({"changed": changed, "before": before}),
            now,
        );
        self.store.update_hotline_order(&updated, &entry).await?;
        tracing::info!(case.id = %case.id, ticket = %order.ticket_no, ?changed, "12345 work order updated");
        Ok(Received {
            case,
            outcome: OrderOutcome::Updated,
            order: updated,
            changed,
        })
    }

    /// Writes the case of a new order (through the one pipeline, whole or not at all).
    async fn hotline_create(
        &self,
        settings: &HotlineSettings,
        order: &Order,
    ) -> Result<CaseId, ServiceError> {
        let (code, _) = settings.category_for(order.kind.as_deref());
        let category = CategoryCode::parse_service_code(code)
            .map_err(|e| ServiceError::NotConfigured(format!("hotline setting: {e}")))?;
        let (lon, lat) = match (order.lon, order.lat) {
            (Some(lon), Some(lat)) => (lon, lat),
            _ => order
                .address
                .as_deref()
                .and_then(|a| self.search_places(a, Some(1)).ok())
                .and_then(|p| p.into_iter().next())
                .map(|p| (p.lon, p.lat))
                .unwrap_or((settings.intake_lon, settings.intake_lat)),
        };
        let input = ReportInput {
            source: Source::Hotline12345,
            priority: order.urgency,
            category,
            area_grade: None,
            description: order.content.clone(),
            lon,
            lat,
            address: order.address.clone(),
            reporter: Contact {
                name: order.caller.clone(),
                email: None,
                phone: order.callback_phone.clone(),
                device_id: None,
                account_id: None,
                contacted_at: Some(order.call_time),
                callback: Some(order.callback_phone.is_some()),
            },
            media: Vec::new(),
            external_ref: Some(order.ticket_no.clone()),
        };
        Ok(self.report_case(&bridge_actor(), input).await?.id)
    }

    /// A follow-up (催办, 撤单, 补充材料) of a known order. `body` may carry `reason`
    /// (撤单) or `text` (补充材料, 催办), each at most [`hl::MAX_TEXT_CHARS`] characters.
    pub async fn hotline_follow_up(
        &self,
        ticket: &str,
        kind: FollowUp,
        body: &Value,
    ) -> Result<FollowUpDone, ServiceError> {
        let o = body
            .as_object()
            .ok_or_else(|| ServiceError::invalid("body", "must be a JSON object"))?;
        let allowed: &[&str] = match kind {
            FollowUp::Withdraw => &["reason"],
            FollowUp::Urge | FollowUp::Supplement => &["text"],
        };
        if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ServiceError::invalid(
                k.clone(),
                "is not a field of this call",
            ));
        }
        let field = allowed[0];
        let text = match o.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= hl::MAX_TEXT_CHARS => {
                Some(s.trim().to_owned()).filter(|s| !s.is_empty())
            }
            Some(Value::String(_)) => {
                return Err(ServiceError::invalid(
                    field,
                    format!("is longer than {} characters", hl::MAX_TEXT_CHARS),
                ))
            }
            Some(_) => return Err(ServiceError::invalid(field, "must be a string")),
        };
        if kind == FollowUp::Supplement && text.is_none() {
            return Err(ServiceError::invalid("text", "is required"));
        }
        let row = self
            .store
            .hotline_order(ticket)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("work order {ticket}")))?;
        let now = self.now();
        let entry = log(ticket, kind.log_kind(), json!({ field: text }), now);
        if kind != FollowUp::Withdraw {
            self.store.append_hotline_log(&entry).await?;
            let case = self.store.get_case(row.case_id).await?;
            tracing::info!(case.id = %case.id, ticket, kind = kind.log_kind(), "12345 follow-up");
            return Ok(FollowUpDone {
                case,
                voided: false,
            });
        }
        if row.withdrawn_at.is_some() {
            // A repeated 撤单 changes nothing.
            let case = self.store.get_case(row.case_id).await?;
            return Ok(FollowUpDone {
                case,
                voided: false,
            });
        }
        let withdrawn = HotlineOrderRow {
            withdrawn_at: Some(now),
            updated_at: now,
            ..row.clone()
        };
        self.store.update_hotline_order(&withdrawn, &entry).await?;
        let case = self.store.get_case(row.case_id).await?;
        let may_void = cityloop_domain::workflow::RULES
            .iter()
            .any(|r| r.action == Action::Void && r.from.contains(&case.state));
        if !may_void {
            tracing::warn!(case.id = %case.id, ticket, state = %case.state, "12345 撤单 of a case past the void states; logged for the operator");
            return Ok(FollowUpDone {
                case,
                voided: false,
            });
        }
        let reason = match &text {
            Some(t) => format!("12345撤单：{t}"),
            None => "12345撤单".to_owned(),
        };
        let cmd = Command {
            reason: Some(reason),
            ..Command::default()
        };
        let case = self
            .act(&bridge_actor(), row.case_id, Action::Void, cmd, None)
            .await?;
        tracing::info!(case.id = %case.id, ticket, "12345 work order withdrawn; case voided");
        Ok(FollowUpDone { case, voided: true })
    }

    /// A staff interim reply (阶段答复) on a hotline case, queued to the platform.
    pub async fn hotline_progress(
        &self,
        actor: &Actor,
        case_id: CaseId,
        text: &str,
    ) -> Result<HotlineLogEntry, ServiceError> {
        if !matches!(
            actor.role,
            ActorRole::Staff(Role::Operator | Role::Supervisor | Role::Dispatcher | Role::Handler)
        ) {
            return Err(ServiceError::Forbidden(
                "an interim reply is written by an operator, supervisor, dispatcher or handler"
                    .into(),
            ));
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > hl::MAX_TEXT_CHARS {
            return Err(ServiceError::invalid(
                "text",
                format!("1 to {} characters", hl::MAX_TEXT_CHARS),
            ));
        }
        let case = self.store.get_case(case_id).await?;
        self.check_can_see(actor, &case)?;
        let row = self
            .store
            .hotline_order_of_case(case_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("12345 work order of case {case_id}")))?;
        if case.state.is_terminal() {
            return Err(ServiceError::Conflict(format!(
                "case {} is {}; an interim reply is for an open case",
                case.number, case.state
            )));
        }
        let settings = self.hotline_settings().await.ok();
        let now = self.now();
        let fields = hl::progress(&case, text, now)
            .ok_or_else(|| ServiceError::Conflict("the case has no 工单号".into()))?;
        let shape = settings.as_ref().and_then(|s| {
            s.shapes
                .get(cityloop_domain::webhook::EventType::HotlineProgress.as_str())
        });
        let payload = hl::body(shape, fields);
        let entry = log(
            &row.ticket_no,
            "progress",
            json!({"text": text, "by": actor.person_id.map(|p| p.to_string())}),
            now,
        );
        self.store
            .hotline_progress(&entry, case_id, &payload)
            .await?;
        Ok(entry)
    }

    /// The bridge's view of a case, for staff who may read the case.
    pub async fn hotline_case(
        &self,
        actor: &Actor,
        case_id: CaseId,
    ) -> Result<HotlineView, ServiceError> {
        let case = self.store.get_case(case_id).await?;
        self.check_can_see(actor, &case)?;
        let order = self
            .store
            .hotline_order_of_case(case_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("12345 work order of case {case_id}")))?;
        let log = self.store.hotline_log(&order.ticket_no).await?;
        let deliveries = self.store.hotline_deliveries(case_id).await?;
        Ok(HotlineView {
            order,
            log,
            deliveries,
        })
    }

    /// A staff `void` of a hotline case is a 退回 to the platform: allowed only within the
    /// platform's return limit after receipt.
    pub(crate) async fn check_hotline_return(&self, case: &Case) -> Result<(), ServiceError> {
        if case.source != Source::Hotline12345 {
            return Ok(());
        }
        let (Some(row), Ok(settings)) = (
            self.store.hotline_order_of_case(case.id).await?,
            self.hotline_settings().await,
        ) else {
            return Ok(());
        };
        let limit =
            row.received_at + chrono::Duration::hours(i64::from(settings.return_limit_hours));
        if self.now() > limit {
            return Err(ServiceError::Conflict(format!(
                "the 12345 platform accepts a return (退回) within {} hours of receipt; it ended at {limit}",
                settings.return_limit_hours
            )));
        }
        Ok(())
    }
}
