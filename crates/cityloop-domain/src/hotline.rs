//! The 12345 hotline bridge, the pure part: a work order (工单) as the city platform
//! pushes it and how it is checked field by field, the district's bridge settings (the
//! 诉求类型 → category table, the intake point, the platform's limits, the outbound JSON
//! shapes), the platform's own deadline in natural days, and which case events go back to
//! the platform (签收, 退回, 办结; 阶段答复 is written by staff) with which fields.
//!
//! The wire format and every limit are documented in docs/API-DESIGN.md, "12345 bridge".

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::case::{Case, Event, EventKind};
use crate::model::{Priority, Source};
use crate::webhook::EventType;
use crate::workflow::Action;

/// Longest 工单号, in characters.
pub const MAX_TICKET_CHARS: usize = 64;
/// Longest 诉求内容 or 补充材料 text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest short field (caller, 诉求类型, address, reason), in characters.
pub const MAX_SHORT_CHARS: usize = 200;
/// Longest callback number, in characters.
pub const MAX_PHONE_CHARS: usize = 32;
/// Largest platform deadline, in natural days.
pub const MAX_DEADLINE_DAYS: u32 = 365;
/// Largest accepted request body of the inbound API, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How far a signed call's timestamp may be from the server's clock, in seconds.
pub const MAX_CLOCK_SKEW_S: i64 = 300;

/// A field of a work order or of the settings that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

fn bad(field: &str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// A work order (工单) as pushed by the platform, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// 工单号: unique on the platform; the case's external reference.
    pub ticket_no: String,
    /// 来电人.
    pub caller: Option<String>,
    /// 回访电话 / 联系电话.
    pub callback_phone: Option<String>,
    /// 来电时间.
    pub call_time: DateTime<Utc>,
    /// 诉求内容.
    pub content: String,
    /// 诉求类型, as the platform names it.
    pub kind: Option<String>,
    /// 事发地址.
    pub address: Option<String>,
    /// WGS84, when the platform has them (both or neither).
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// 办理时限: the platform's own limit in natural days.
    pub deadline_days: Option<u32>,
    pub urgency: Priority,
}

const ORDER_FIELDS: &[&str] = &[
    "ticket_no",
    "caller",
    "callback_phone",
    "call_time",
    "content",
    "kind",
    "address",
    "lon",
    "lat",
    "deadline_days",
    "urgency",
];

fn text(
    o: &Map<String, Value>,
    field: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, FieldError> {
    match o.get(field) {
        None | Some(Value::Null) if required => Err(bad(field, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                return if required {
                    Err(bad(field, "must not be empty"))
                } else {
                    Ok(None)
                };
            }
            if t.chars().count() > max {
                return Err(bad(field, format!("is longer than {max} characters")));
            }
            if t.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(bad(field, "contains control characters"));
            }
            Ok(Some(t.to_owned()))
        }
        Some(_) => Err(bad(field, "must be a string")),
    }
}

/// Parses a time: RFC 3339 with an offset, or `YYYY-MM-DD HH:MM:SS` (or with a `T`)
/// in the district's zone, as 12345 platforms write it.
pub fn parse_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s.trim(), fmt) {
            return tz
                .from_local_datetime(&n)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    None
}

fn coordinate(o: &Map<String, Value>, field: &str, limit: f64) -> Result<Option<f64>, FieldError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
            _ => Err(bad(field, format!("must be between -{limit} and {limit}"))),
        },
        Some(_) => Err(bad(field, "must be a number")),
    }
}

impl Order {
    /// Checks a pushed work order. `now` bounds the call time (not in the future beyond
    /// the allowed clock skew); local times are read in `tz`.
    pub fn parse(v: &Value, tz: Tz, now: DateTime<Utc>) -> Result<Order, FieldError> {
        let o = v
            .as_object()
            .ok_or_else(|| bad("body", "must be a JSON object"))?;
        if let Some(k) = o.keys().find(|k| !ORDER_FIELDS.contains(&k.as_str())) {
            return Err(bad(k, "is not a field of a work order"));
        }
        let ticket_no = text(o, "ticket_no", MAX_TICKET_CHARS, true)?.unwrap_or_default();
        if ticket_no.chars().any(char::is_whitespace) || ticket_no.contains('/') {
            return Err(bad("ticket_no", "must not contain spaces or '/'"));
        }
        let call_time = match o.get("call_time") {
            None | Some(Value::Null) => return Err(bad("call_time", "is required")),
            Some(Value::String(s)) => parse_time(s, tz).ok_or_else(|| {
                bad(
                    "call_time",
                    "is not a time (RFC 3339, or YYYY-MM-DD HH:MM:SS in the district's zone)",
                )
            })?,
            Some(_) => return Err(bad("call_time", "must be a string")),
        };
        if call_time > now + chrono::Duration::seconds(MAX_CLOCK_SKEW_S) {
            return Err(bad("call_time", "is in the future"));
        }
        let content = text(o, "content", MAX_TEXT_CHARS, true)?.unwrap_or_default();
        let callback_phone = text(o, "callback_phone", MAX_PHONE_CHARS, false)?;
        if let Some(p) = &callback_phone {
            if !p
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
                || !p.chars().any(|c| c.is_ascii_digit())
            {
                return Err(bad("callback_phone", "is not a phone number"));
            }
        }
        let lon = coordinate(o, "lon", 180.0)?;
        let lat = coordinate(o, "lat", 90.0)?;
        if lon.is_some() != lat.is_some() {
            let missing = if lon.is_none() { "lon" } else { "lat" };
            return Err(bad(missing, "lon and lat come together"));
        }
        let deadline_days = match o.get("deadline_days") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(d) if (1..=u64::from(MAX_DEADLINE_DAYS)).contains(&d) => {
                    Some(u32::try_from(d).unwrap_or(MAX_DEADLINE_DAYS))
                }
                _ => {
                    return Err(bad(
                        "deadline_days",
                        format!("must be a whole number from 1 to {MAX_DEADLINE_DAYS}"),
                    ))
                }
            },
            Some(_) => return Err(bad("deadline_days", "must be a number")),
        };
        let urgency = match o.get("urgency") {
            None | Some(Value::Null) => Priority::Normal,
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| bad("urgency", "must be normal or urgent"))?,
            Some(_) => return Err(bad("urgency", "must be normal or urgent")),
        };
        Ok(Order {
            ticket_no,
            caller: text(o, "caller", MAX_SHORT_CHARS, false)?,
            callback_phone,
            call_time,
            content,
            kind: text(o, "kind", MAX_SHORT_CHARS, false)?,
            address: text(o, "address", MAX_SHORT_CHARS, false)?,
            lon,
            lat,
            deadline_days,
            urgency,
        })
    }

    /// A digest of the order's content: a copy with the same fingerprint is a repeat,
    /// another one is a changed copy (an update).
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        crate::chain::to_hex(&Sha256::digest(canonical.as_bytes()).into())
    }

    /// The fields that differ from `before`, by wire name.
    pub fn changed_fields(&self, before: &Order) -> Vec<&'static str> {
        let a = serde_json::to_value(self).unwrap_or(Value::Null);
        let b = serde_json::to_value(before).unwrap_or(Value::Null);
        ORDER_FIELDS
            .iter()
            .copied()
            .filter(|f| a.get(f) != b.get(f))
            .collect()
    }
}

/// The platform's deadline: the end of the local day `days` natural days after the call
/// (a call on 1 December with 3 days ends at midnight closing 4 December).
pub fn platform_deadline(call_time: DateTime<Utc>, days: u32, tz: Tz) -> DateTime<Utc> {
    let local = call_time.with_timezone(&tz).date_naive();
    let last = local
        .checked_add_days(Days::new(u64::from(days) + 1))
        .unwrap_or(local);
    tz.from_local_datetime(&last.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(call_time)
}

/// The district's bridge settings (setting `hotline`). Every default here is an
/// invented default, to be set from the city platform's own rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineSettings {
    /// The shared secret the platform signs its calls with (HMAC-SHA256, like webhooks).
    pub inbound_secret: String,
    /// 诉求类型 → GB/T 47678.5 service code (`06010`).
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    /// The service code of an unmapped 诉求类型; the case is flagged for the operator
    /// to categorise at registration.
    pub fallback_category: String,
    /// Where a work order without coordinates (and no geocoder match) is placed, WGS84;
    /// the case is flagged as not placed.
    pub intake_lon: f64,
    pub intake_lat: f64,
    /// The platform's limit when a work order names none (natural days); invented default 15.
    #[serde(default = "default_deadline_days")]
    pub default_deadline_days: u32,
    /// How long after receipt the district may still send a work order back (退回), in
    /// hours; invented default 24.
    #[serde(default = "default_return_hours")]
    pub return_limit_hours: u32,
    /// The outbound JSON body per event type (`hotline.signed`, …): any JSON in which a
    /// string that is exactly `{{field}}` is replaced by that field's value. Without a
    /// shape the body is the plain field object.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub shapes: BTreeMap<String, Value>,
}

fn default_deadline_days() -> u32 {
    15
}

fn default_return_hours() -> u32 {
    24
}

/// The fields an outbound body may name.
pub const OUTBOUND_FIELDS: &[&str] = &[
    "type",
    "ticket_no",
    "case_id",
    "case_number",
    "at",
    "reason",
    "text",
    "reply",
    "satisfaction",
    "photos",
    "state",
];

impl HotlineSettings {
    /// Checks everything but whether the categories exist (the caller knows the list).
    pub fn check(&self) -> Result<(), FieldError> {
        crate::webhook::check_secret(&self.inbound_secret).map_err(|_| {
            bad(
                "inbound_secret",
                format!(
                    "must be {} to {} characters",
                    crate::webhook::MIN_SECRET_CHARS,
                    crate::webhook::MAX_SECRET_CHARS
                ),
            )
        })?;
        if !(self.intake_lon.is_finite() && self.intake_lon.abs() <= 180.0) {
            return Err(bad("intake_lon", "must be between -180 and 180"));
        }
        if !(self.intake_lat.is_finite() && self.intake_lat.abs() <= 90.0) {
            return Err(bad("intake_lat", "must be between -90 and 90"));
        }
        if !(1..=MAX_DEADLINE_DAYS).contains(&self.default_deadline_days) {
            return Err(bad(
                "default_deadline_days",
                format!("must be from 1 to {MAX_DEADLINE_DAYS}"),
            ));
        }
        if !(1..=24 * 30).contains(&self.return_limit_hours) {
            return Err(bad("return_limit_hours", "must be from 1 to 720"));
        }
        for (k, shape) in &self.shapes {
            let t: EventType = k
                .parse()
                .map_err(|_| bad(&format!("shapes.{k}"), "is not an outbound event type"))?;
            if outbound_type(t).is_none() {
                return Err(bad(&format!("shapes.{k}"), "is not a hotline.* event type"));
            }
            check_shape(shape).map_err(|p| bad(&format!("shapes.{k}"), p))?;
        }
        for k in self.categories.keys() {
            if k.trim().is_empty() || k.chars().count() > MAX_SHORT_CHARS {
                return Err(bad("categories", "a 诉求类型 is empty or too long"));
            }
        }
        Ok(())
    }

    /// The service code a 诉求类型 maps to, and whether it was mapped.
    pub fn category_for(&self, kind: Option<&str>) -> (&str, bool) {
        match kind.and_then(|k| self.categories.get(k)) {
            Some(c) => (c, true),
            None => (&self.fallback_category, false),
        }
    }
}

fn outbound_type(t: EventType) -> Option<EventType> {
    matches!(
        t,
        EventType::HotlineSigned
            | EventType::HotlineReturned
            | EventType::HotlineProgress
            | EventType::HotlineClosed
    )
    .then_some(t)
}

fn check_shape(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) => match placeholder(s) {
            Some(name) if !OUTBOUND_FIELDS.contains(&name) => {
                Err(format!("names an unknown field {{{{{name}}}}}"))
            }
            _ => Ok(()),
        },
        Value::Array(a) => a.iter().try_for_each(check_shape),
        Value::Object(o) => o.values().try_for_each(check_shape),
        _ => Ok(()),
    }
}

fn placeholder(s: &str) -> Option<&str> {
    s.strip_prefix("{{")?.strip_suffix("}}").map(str::trim)
}

/// Fills a shape: every string that is exactly `{{field}}` becomes the field's value
/// (null when the event has none); everything else is kept as written.
pub fn render(shape: &Value, fields: &Map<String, Value>) -> Value {
    match shape {
        Value::String(s) => match placeholder(s) {
            Some(name) => fields.get(name).cloned().unwrap_or(Value::Null),
            None => shape.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, fields)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), render(v, fields)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The body of an outbound call: the shape filled, or the fields themselves.
pub fn body(shape: Option<&Value>, fields: Map<String, Value>) -> Value {
    match shape {
        Some(s) => render(s, &fields),
        None => Value::Object(fields),
    }
}

fn base_fields(t: EventType, case: &Case, ticket: &str, at: DateTime<Utc>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(t.as_str()));
    m.insert("ticket_no".into(), json!(ticket));
    m.insert("case_id".into(), json!(case.id.to_string()));
    m.insert("case_number".into(), json!(case.number.as_str()));
    m.insert("at".into(), json!(at.to_rfc3339()));
    m.insert("state".into(), json!(case.state.as_str()));
    m
}

/// What a stored case event sends back to the platform, if anything (`case` is the view
/// after it): `accept` → 签收, a staff `void` → 退回 with its reason (a void by the bridge
/// itself, after the platform's 撤单, sends nothing back), `close` → 办结 with the last
/// reply written for the citizen, the photos of the last report-back and the 回访 result.
/// `history` is the case's events up to and including `event` when the close needs them.
pub fn outbound(
    case: &Case,
    event: &Event,
    history: &[Event],
) -> Option<(EventType, Map<String, Value>)> {
    if case.source != Source::Hotline12345 || case.imported.is_some() {
        return None;
    }
    let ticket = case.external_ref.as_deref()?;
    let EventKind::Act(action) = event.kind else {
        return None;
    };
    let t = match action {
        Action::Accept => EventType::HotlineSigned,
        Action::Void if event.actor.person_id.is_some() => EventType::HotlineReturned,
        Action::Close => EventType::HotlineClosed,
        _ => return None,
    };
    let mut m = base_fields(t, case, ticket, event.at);
    match t {
        EventType::HotlineReturned => {
            m.insert("reason".into(), json!(event.reason));
        }
        EventType::HotlineClosed => {
            let reply = case.public_replies.last().map(|r| r.text.clone());
            m.insert("reply".into(), json!(reply));
            m.insert(
                "satisfaction".into(),
                json!(case.satisfaction.map(|s| s.as_str())),
            );
            let photos = history
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Act(Action::ReportBack))
                .map(|e| e.attachments.clone())
                .unwrap_or_default();
            m.insert("photos".into(), json!(photos));
        }
        _ => {}
    }
    Some((t, m))
}

/// The fields of a staff interim reply (阶段答复).
pub fn progress(case: &Case, text: &str, at: DateTime<Utc>) -> Option<Map<String, Value>> {
    let ticket = case.external_ref.as_deref()?;
    let mut m = base_fields(EventType::HotlineProgress, case, ticket, at);
    m.insert("text".into(), json!(text));
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> Tz {
        chrono_tz::Asia::Shanghai
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T08:00:00Z".parse().unwrap()
    }

    fn good() -> Value {
        json!({
            "ticket_no": "GD20261201000123",
            "caller": "王先生",
            "callback_phone": "138 0013 8000",
            "call_time": "2026-12-01 09:30:00",
            "content": "建设路与长江路口井盖缺失，夜间很危险",
            "kind": "井盖缺失",
            "address": "建设路与长江路交叉口",
            "deadline_days": 3,
            "urgency": "urgent"
        })
    }

    #[test]
    fn a_local_call_time_is_read_in_the_district_zone() {
        let o = Order::parse(&good(), tz(), now()).unwrap();
        assert_eq!(
            o.call_time,
            "2026-12-01T01:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(o.urgency, Priority::Urgent);
        assert_eq!(o.deadline_days, Some(3));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("ticket_no", Value::Null, "ticket_no"),
            ("ticket_no", json!("  "), "ticket_no"),
            ("ticket_no", json!("a b"), "ticket_no"),
            ("call_time", json!("yesterday"), "call_time"),
            ("call_time", json!("2027-06-01 00:00:00"), "call_time"),
            ("call_time", json!(20261201), "call_time"),
            ("content", Value::Null, "content"),
            ("content", json!("长".repeat(MAX_TEXT_CHARS + 1)), "content"),
            ("callback_phone", json!("call me"), "callback_phone"),
            ("lon", json!(200.0), "lon"),
            ("lon", json!(113.6), "lat"),
            ("deadline_days", json!(0), "deadline_days"),
            ("deadline_days", json!(1.5), "deadline_days"),
            ("urgency", json!("very"), "urgency"),
            ("colour", json!("red"), "colour"),
        ];
        for (k, v, field) in cases {
            let mut b = good();
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
            let e = Order::parse(&b, tz(), now()).unwrap_err();
            assert_eq!(e.field, field, "{k}={v}: {e}");
        }
        assert_eq!(
            Order::parse(&json!([1]), tz(), now()).unwrap_err().field,
            "body"
        );
    }

    #[test]
    fn the_fingerprint_changes_with_the_content_only() {
        let a = Order::parse(&good(), tz(), now()).unwrap();
        let mut v = good();
        v["call_time"] = json!("2026-12-01T01:30:00Z");
        let same = Order::parse(&v, tz(), now()).unwrap();
        assert_eq!(a.fingerprint(), same.fingerprint());
        v["content"] = json!("井盖缺失，已有行人受伤");
        let changed = Order::parse(&v, tz(), now()).unwrap();
        assert_ne!(a.fingerprint(), changed.fingerprint());
        assert_eq!(changed.changed_fields(&a), vec!["content"]);
    }

    #[test]
    fn the_platform_deadline_ends_at_local_midnight_after_the_last_natural_day() {
        let call: DateTime<Utc> = "2026-12-01T15:30:00Z".parse().unwrap(); // 23:30 on 1 Dec local
        let d = platform_deadline(call, 3, tz());
        // End of 4 December, Beijing time.
        assert_eq!(d, "2026-12-04T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn a_shape_is_filled_and_unknown_placeholders_are_refused() {
        let shape = json!({"gdbh": "{{ticket_no}}", "nr": {"text": "{{reply}}", "fixed": "区城管"}, "list": ["{{photos}}"]});
        let mut f = Map::new();
        f.insert("ticket_no".into(), json!("GD1"));
        f.insert("photos".into(), json!(["a", "b"]));
        let out = render(&shape, &f);
        assert_eq!(
            out,
            json!({"gdbh": "GD1", "nr": {"text": null, "fixed": "区城管"}, "list": [["a", "b"]]})
        );
        assert!(check_shape(&json!({"x": "{{secret}}"})).is_err());
        assert!(check_shape(&shape).is_ok());
    }

    #[test]
    fn settings_name_the_bad_field() {
        let s = HotlineSettings {
            inbound_secret: "platform-secret-0123456789".into(),
            categories: BTreeMap::new(),
            fallback_category: "06010".into(),
            intake_lon: 113.6,
            intake_lat: 34.7,
            default_deadline_days: 15,
            return_limit_hours: 24,
            shapes: BTreeMap::new(),
        };
        assert!(s.check().is_ok());
        let mut b = s.clone();
        b.inbound_secret = "short".into();
        assert_eq!(b.check().unwrap_err().field, "inbound_secret");
        let mut b = s.clone();
        b.shapes.insert("case.created".into(), json!({}));
        assert_eq!(b.check().unwrap_err().field, "shapes.case.created");
        let mut b = s.clone();
        b.intake_lat = 91.0;
        assert_eq!(b.check().unwrap_err().field, "intake_lat");
        assert_eq!(s.category_for(Some("无此类型")), ("06010", false));
    }
}
