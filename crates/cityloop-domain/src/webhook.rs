//! Outgoing webhooks, the pure part: the documented event types, the JSON payload each
//! event carries (never the reporter's contact details), the retry schedule and the
//! validation of a subscription's fields.
//!
//! The store writes a payload into its outbox in the same transaction as the event that
//! triggers it; the service's delivery worker signs and POSTs it (docs/API-DESIGN.md,
//! "Webhooks").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::case::{Case, Event, EventKind};
use crate::escalation::Level;
use crate::model::{string_enum, ActorRole};

string_enum!(
    /// What a subscription can ask for. Each stored event produces at most one of these.
    EventType {
        /// A case was reported (any source).
        CaseCreated = "case.created",
        /// A workflow action moved a case (every action of design.md §7).
        CaseStateChanged = "case.state_changed",
        /// A deadline light turned yellow (80% of the stage's limit used).
        EscalationYellow = "escalation.yellow",
        /// A stage went overdue (red).
        EscalationRed = "escalation.red",
        /// 12345 bridge: the district received (签收) a hotline work order (`accept`).
        HotlineSigned = "hotline.signed",
        /// 12345 bridge: the district sent a work order back (退回, not ours; `void` by staff).
        HotlineReturned = "hotline.returned",
        /// 12345 bridge: an interim reply (阶段答复) written by staff.
        HotlineProgress = "hotline.progress",
        /// 12345 bridge: the work order is done (办结; `close`).
        HotlineClosed = "hotline.closed",
    }
);

/// Shortest and longest secret, in characters.
pub const MIN_SECRET_CHARS: usize = 16;
pub const MAX_SECRET_CHARS: usize = 256;
/// Longest subscription URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most retries a schedule may list.
pub const MAX_RETRIES: usize = 20;

/// One event ready for the outbox: its type and its JSON body (without the delivery id,
/// which is per subscription and travels in a header).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub event_type: EventType,
    pub payload: Value,
}

fn case_summary(case: &Case) -> Value {
    json!({
        "id": case.id.to_string(),
        "number": case.number.as_str(),
        "state": case.state.as_str(),
        "source": case.source.as_str(),
        "category": case.category.code,
        "unit_id": case.unit_id.map(|u| u.to_string()),
        "street_code": case.routing.street_code,
        "segment_id": case.routing.segment_id,
        "version": case.version,
    })
}

fn actor_role(role: ActorRole) -> String {
    match role {
        ActorRole::Staff(r) => r.as_str().to_owned(),
        ActorRole::System => "system".into(),
        ActorRole::Public => "public".into(),
    }
}

/// The webhook a stored case event produces: `case.created` for the report,
/// `case.state_changed` for every action. `case` is the view after the event.
pub fn case_event(case: &Case, event: &Event, event_id: &str) -> OutboxEvent {
    let event_type = match event.kind {
        EventKind::Reported(_) => EventType::CaseCreated,
        EventKind::Act(_) => EventType::CaseStateChanged,
    };
    OutboxEvent {
        event_type,
        payload: json!({
            "event_id": event_id,
            "type": event_type.as_str(),
            "occurred_at": event.at,
            "case": case_summary(case),
            "event": {
                "seq": event.seq,
                "action": event.kind.as_str(),
                "from_state": event.from_state.map(|s| s.as_str()),
                "to_state": event.to_state.as_str(),
                "actor": {
                    "person_id": event.actor.person_id.map(|p| p.to_string()),
                    "role": actor_role(event.actor.role),
                },
                "unit_id": event.unit_id.map(|u| u.to_string()),
                "reason": event.reason,
            },
        }),
    }
}

/// The webhook an escalation produces. `deadline` is the stage's current deadline.
pub fn escalation_event(
    case: &Case,
    level: Level,
    clock_key: &str,
    deadline: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
    event_id: &str,
) -> OutboxEvent {
    let event_type = match level {
        Level::Yellow => EventType::EscalationYellow,
        Level::Red => EventType::EscalationRed,
    };
    OutboxEvent {
        event_type,
        payload: json!({
            "event_id": event_id,
            "type": event_type.as_str(),
            "occurred_at": at,
            "case": case_summary(case),
            "escalation": {
                "level": level.as_str(),
                "stage": case.stage().map(|s| s.as_str()),
                "clock_key": clock_key,
                "deadline": deadline,
            },
        }),
    }
}

/// The default retry schedule: the waits after the 1st, 2nd, … failed attempt. After the
/// last one fails the delivery becomes a dead letter.
pub fn default_backoff() -> Vec<Duration> {
    [60, 5 * 60, 30 * 60, 2 * 3600, 12 * 3600]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

/// Parses a schedule such as `1m,5m,30m,2h,12h` (units `ms`, `s`, `m`, `h`; an empty
/// string means "no retries").
pub fn parse_backoff(s: &str) -> Result<Vec<Duration>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let out = s
        .split(',')
        .map(|p| parse_duration(p.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if out.len() > MAX_RETRIES {
        return Err(format!("at most {MAX_RETRIES} retries"));
    }
    Ok(out)
}

/// Parses one duration: a whole number followed by `ms`, `s`, `m` or `h`.
pub fn parse_duration(p: &str) -> Result<Duration, String> {
    let split = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
    let (num, unit) = p.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{p:?}: a whole number then ms, s, m or h"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{p:?}: a whole number then ms, s, m or h")),
    };
    if d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{p:?}: at most a week"));
    }
    Ok(d)
}

/// After `failures` failed attempts in a row, how long to wait before the next one;
/// `None` when the schedule is exhausted (dead letter).
pub fn next_retry(schedule: &[Duration], failures: u32) -> Option<Duration> {
    let i = usize::try_from(failures).ok()?.checked_sub(1)?;
    schedule.get(i).copied()
}

/// Why a subscription field is refused: the field's name and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidSubscription {
    pub field: &'static str,
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> InvalidSubscription {
    InvalidSubscription {
        field,
        problem: problem.into(),
    }
}

/// Checks a secret's length and characters (printable ASCII, no spaces, so that it can
/// be pasted into a receiver's configuration unchanged).
pub fn check_secret(secret: &str) -> Result<(), InvalidSubscription> {
    let n = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) {
        return Err(invalid(
            "secret",
            format!("{MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters"),
        ));
    }
    if !secret.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "secret",
            "printable ASCII characters without spaces",
        ));
    }
    Ok(())
}

/// Parses and de-duplicates a list of event type names; at least one.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>, InvalidSubscription> {
    if names.is_empty() {
        return Err(invalid("event_types", "name at least one event type"));
    }
    let mut out = Vec::new();
    for n in names {
        let t: EventType = n
            .parse()
            .map_err(|e: crate::model::UnknownValue| invalid("event_types", e.to_string()))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.sort();
    Ok(out)
}

/// Checks a description's length.
pub fn check_description(d: &str) -> Result<(), InvalidSubscription> {
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(
            "description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Whether a webhook may be delivered to `ip`: only globally routable unicast addresses.
/// Refused (blind SSRF into the operator's own network): unspecified, loopback,
/// private (RFC 1918), shared/CGNAT (100.64/10), link-local, the IETF-protocol and
/// documentation/benchmark blocks, multicast, reserved and broadcast addresses; for IPv6
/// also unique-local (fc00::/7), link- and site-local, multicast, everything outside the
/// global unicast block 2000::/3 (NAT64 64:ff9b::/96 included), the 6to4 and Teredo
/// blocks (they tunnel to an IPv4 address of anyone's choosing) and documentation
/// ranges. An IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible address is judged as
/// the IPv4 address it carries. Sources: the IANA IPv4 and IPv6 Special-Purpose Address
/// Registries (RFC 6890).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Only global unicast 2000::/3 (this excludes ::, ::1, IPv4-compatible ::/96,
    // 64:ff9b::/96, 100::/64, fc00::/7, fe80::/10, fec0::/10 and ff00::/8).
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // 2001::/23 is the IETF protocol block (Teredo 2001::/32 in it), 2001:db8::/32 and
    // 3fff::/20 are documentation, 2002::/16 is 6to4.
    let ietf_or_doc = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    let refused = ietf_or_doc || s[0] == 0x2002 || (s[0] == 0x3fff && s[1] < 0x1000);
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_routable_unicast_addresses_take_webhooks() {
        for ok in [
            "8.8.8.8",
            "1.1.1.1",
            "223.5.5.5",
            "172.32.0.1",
            "100.128.0.1",
            "2400:3200::1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_address(ok.parse().unwrap()), "{ok} is public");
        }
        for bad in [
            "0.0.0.0",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "100::1",
        ] {
            assert!(!is_public_address(bad.parse().unwrap()), "{bad} is refused");
        }
    }

    #[test]
    fn the_default_schedule_retries_five_times_then_gives_up() {
        let s = default_backoff();
        assert_eq!(next_retry(&s, 0), None, "no failure, no retry");
        assert_eq!(next_retry(&s, 1), Some(Duration::from_secs(60)));
        assert_eq!(next_retry(&s, 5), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(next_retry(&s, 6), None, "dead letter after the 6th attempt");
    }

    #[test]
    fn schedules_parse_with_units_and_refuse_nonsense() {
        assert_eq!(
            parse_backoff("1m, 5m,30m,2h,12h").unwrap(),
            default_backoff()
        );
        assert_eq!(
            parse_backoff("150ms,2s").unwrap(),
            vec![Duration::from_millis(150), Duration::from_secs(2)]
        );
        assert_eq!(parse_backoff("").unwrap(), vec![]);
        for bad in ["1", "m", "5d", "-1s", "1.5s", "200h"] {
            assert!(parse_backoff(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types_are_known_deduplicated_and_never_empty() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_event_types(&names(&[
                "escalation.red",
                "case.created",
                "escalation.red"
            ]))
            .unwrap(),
            vec![EventType::CaseCreated, EventType::EscalationRed]
        );
        assert_eq!(parse_event_types(&[]).unwrap_err().field, "event_types");
        assert_eq!(
            parse_event_types(&names(&["case.deleted"]))
                .unwrap_err()
                .field,
            "event_types"
        );
    }

    #[test]
    fn secrets_must_be_long_printable_and_bounded() {
        assert!(check_secret("0123456789abcdef").is_ok());
        assert!(check_secret("short").is_err());
        assert!(check_secret("0123456789abcdef ").is_err());
        assert!(check_secret(&"x".repeat(257)).is_err());
    }
}
