//! Messages that reach citizens (issue 16, items 3 and 6), the pure part: which case
//! events cause which message to whom ([`intents`]), the templates with their
//! placeholders (checked when an admin saves them, rendered when a message is sent), and
//! the one-time code's rules (expiry, wrong tries, lock).
//!
//! What is sent: the receipt of a public or hotline report (its number and query code),
//! the 回访 invitation when a case enters 待回访, and the verification code of "my
//! reports". Staff messages (new assignment, red escalation, 督办) are not built here:
//! their hook point is the same outbox, with a purpose of their own (docs/API-DESIGN.md,
//! "Messages").
//!
//! This module does no I/O and reads no clock: delivery, hashing and storage live in the
//! service and the store.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{Case, Event};
use crate::workflow::CaseState;

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The receipt of a report: number and query code.
    Receipt,
    /// The 回访 invitation: the case was handled, how satisfied is the reporter.
    Callback,
    /// The one-time code of "my reports".
    Code,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Receipt, Purpose::Callback, Purpose::Code];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Receipt => "receipt",
            Purpose::Callback => "callback",
            Purpose::Code => "code",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The placeholders a template of this purpose may use.
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Purpose::Receipt | Purpose::Callback => &["number", "query_code", "district"],
            Purpose::Code => &["otp", "minutes", "district"],
        }
    }

    /// The e-mail subject.
    pub fn subject(self) -> &'static str {
        match self {
            Purpose::Receipt => "您的反映已收到",
            Purpose::Callback => "请评价您反映的问题的处理结果",
            Purpose::Code => "查询验证码",
        }
    }

    /// The default template (invented wording).
    pub fn default_template(self) -> &'static str {
        match self {
            Purpose::Receipt => {
                "【{district}】您的反映已收到，编号{number}，查询码{query_code}。可凭查询码在公众页面查看处理进度。"
            }
            Purpose::Callback => {
                "【{district}】您反映的问题（编号{number}）已处理完毕，请凭查询码{query_code}在公众页面评价处理结果：满意、基本满意或不满意。"
            }
            Purpose::Code => {
                "【{district}】您的查询验证码是{otp}，{minutes}分钟内有效。如非本人操作，请忽略。"
            }
        }
    }
}

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Sms, Channel::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One message a case event causes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Intent {
    /// Unique per message: `case:<id>:<seq>:<purpose>:<channel>` (a replayed projection
    /// writes nothing twice).
    pub key: String,
    pub purpose: Purpose,
    pub channel: Channel,
    pub recipient: String,
}

/// The messages `event` causes; `case` is the view after it. A public or hotline report
/// with a phone or e-mail gets a receipt; a case entering 待回访 gets the invitation. An
/// anonymous report (no contact) gets nothing.
pub fn intents(case: &Case, event: &Event) -> Vec<Intent> {
    let purpose = if event.seq == 1 && case.source.needs_callback() {
        Purpose::Receipt
    } else if event.to_state == CaseState::ToCallback
        && event.from_state != Some(CaseState::ToCallback)
    {
        Purpose::Callback
    } else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let contacts = [
        (Channel::Sms, case.reporter.phone.as_deref().and_then(phone)),
        (
            Channel::Email,
            case.reporter
                .email
                .as_deref()
                .map(str::trim)
                .filter(|e| e.contains('@'))
                .map(str::to_owned),
        ),
    ];
    for (channel, to) in contacts {
        if let Some(recipient) = to {
            out.push(Intent {
                key: format!(
                    "case:{}:{}:{}:{}",
                    case.id,
                    event.seq,
                    purpose.as_str(),
                    channel.as_str()
                ),
                purpose,
                channel,
                recipient,
            });
        }
    }
    out
}

/// A phone number as messages and codes key it: its digits, a leading `+86`/`0086`
/// dropped; `None` unless 5 to 20 digits remain.
pub fn phone(s: &str) -> Option<String> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let digits = if s.trim_start().starts_with('+') {
        digits
            .strip_prefix("86")
            .map(str::to_owned)
            .unwrap_or(digits)
    } else if let Some(rest) = digits.strip_prefix("0086") {
        rest.to_owned()
    } else {
        digits
    };
    (5..=20).contains(&digits.len()).then_some(digits)
}

/// A template refused when saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{0}}}; allowed: {1}")]
    UnknownPlaceholder(String, String),
    #[error("an unclosed {{")]
    Unclosed,
    #[error("is empty")]
    Empty,
    #[error("at most 500 characters")]
    TooLong,
}

/// Longest template an admin may save (a long SMS is split by the gateway; invented
/// default).
pub const MAX_TEMPLATE_CHARS: usize = 500;

/// The `{name}` placeholders of a template, in order.
fn placeholders(template: &str) -> Result<Vec<&str>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or(TemplateError::Unclosed)?;
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Checks a template of `purpose`: not empty, not too long, only known placeholders.
pub fn check_template(purpose: Purpose, template: &str) -> Result<(), TemplateError> {
    if template.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    if template.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(TemplateError::TooLong);
    }
    let allowed = purpose.placeholders();
    for p in placeholders(template)? {
        if !allowed.contains(&p) {
            let names: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
            return Err(TemplateError::UnknownPlaceholder(
                p.to_owned(),
                names.join(" "),
            ));
        }
    }
    Ok(())
}

/// Fills a template's placeholders from `values`; a placeholder without a value is left
/// as it is (templates are checked when saved, so this only happens to a bad stored one).
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The one-time code's rules (issue 16's figures).
pub mod otp {
    use super::*;

    /// Digits of a code.
    pub const DIGITS: usize = 6;
    /// How long a code is good for.
    pub const TTL_MINUTES: i64 = 10;
    /// Wrong tries that lock the phone.
    pub const MAX_WRONG: i64 = 5;
    /// How long a lock lasts.
    pub const LOCK_MINUTES: i64 = 15;

    /// A phone's stored code state.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct State {
        /// The keyed hash of the code, or `None` once it was used.
        pub code_hash: Option<String>,
        pub expires_at: DateTime<Utc>,
        /// Wrong tries since the last lock ended or the code was sent.
        pub wrong: i64,
        pub locked_until: Option<DateTime<Utc>>,
    }

    /// What a try comes to.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Verdict {
        /// The code is right: it is used up.
        Right,
        /// Wrong; this many tries remain before the lock.
        Wrong { left: i64 },
        /// Wrong, and this try locked the phone until then.
        LockedNow(DateTime<Utc>),
        /// Locked already (no try counted).
        Locked(DateTime<Utc>),
        /// No code, or it expired or was used.
        Expired,
    }

    /// Whether a new code may be sent now (not while locked).
    pub fn locked(state: Option<&State>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        state.and_then(|s| s.locked_until).filter(|u| *u > now)
    }

    /// The state after a fresh code is sent (a lock in force stays; wrong tries carry
    /// over so a new code does not reset the count).
    pub fn issued(prev: Option<&State>, code_hash: String, now: DateTime<Utc>) -> State {
        let wrong = prev
            .filter(|p| p.locked_until.is_none_or(|u| u > now))
            .map_or(0, |p| p.wrong);
        State {
            code_hash: Some(code_hash),
            expires_at: now + Duration::minutes(TTL_MINUTES),
            wrong,
            locked_until: prev.and_then(|p| p.locked_until).filter(|u| *u > now),
        }
    }

    /// Judges a try with the keyed hash of what was typed; returns the verdict and the
    /// state to store.
    pub fn judge(state: &State, tried_hash: &str, now: DateTime<Utc>) -> (Verdict, State) {
        let mut next = state.clone();
        if let Some(until) = locked(Some(state), now) {
            return (Verdict::Locked(until), next);
        }
        if state.locked_until.is_some() {
            // A lock that ended starts a fresh count.
            next.locked_until = None;
            next.wrong = 0;
        }
        // Without a live code there is nothing to guess: an old code typed again does
        // not count as a wrong try.
        let Some(live) = state
            .code_hash
            .as_deref()
            .filter(|_| state.expires_at > now)
        else {
            return (Verdict::Expired, next);
        };
        if eq_constant_time(live, tried_hash) {
            next.code_hash = None;
            next.wrong = 0;
            return (Verdict::Right, next);
        }
        next.wrong += 1;
        if next.wrong >= MAX_WRONG {
            let until = now + Duration::minutes(LOCK_MINUTES);
            next.locked_until = Some(until);
            next.code_hash = None;
            return (Verdict::LockedNow(until), next);
        }
        let left = MAX_WRONG - next.wrong;
        (Verdict::Wrong { left }, next)
    }
}

/// Compares two strings in time that depends only on their lengths.
pub fn eq_constant_time(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::otp::*;
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn an_unknown_placeholder_is_named_and_known_ones_pass() {
        assert_eq!(
            check_template(Purpose::Receipt, "编号{number}，{phone}"),
            Err(TemplateError::UnknownPlaceholder(
                "phone".into(),
                "{number} {query_code} {district}".into()
            ))
        );
        assert!(check_template(Purpose::Receipt, "编号{number} 查询码{query_code}").is_ok());
        assert!(matches!(
            check_template(Purpose::Receipt, "验证码{otp}"),
            Err(TemplateError::UnknownPlaceholder(p, _)) if p == "otp"
        ));
        assert_eq!(
            check_template(Purpose::Code, "{otp"),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            check_template(Purpose::Code, "  "),
            Err(TemplateError::Empty)
        );
        for p in Purpose::ALL {
            assert!(check_template(p, p.default_template()).is_ok(), "{p:?}");
        }
    }

    #[test]
    fn render_fills_every_placeholder() {
        let v = BTreeMap::from([("otp", "123456".to_owned()), ("minutes", "10".into())]);
        assert_eq!(
            render("码{otp}，{minutes}分钟，{x}", &v),
            "码123456，10分钟，{x}"
        );
    }

    #[test]
    fn phones_are_keyed_by_their_digits_without_the_country_code() {
        assert_eq!(phone("138 0000 0001").as_deref(), Some("13800000001"));
        assert_eq!(phone("+86 138-0000-0001").as_deref(), Some("13800000001"));
        assert_eq!(phone("008613800000001").as_deref(), Some("13800000001"));
        assert_eq!(phone("12"), None);
    }

    #[test]
    fn a_code_expires_after_ten_minutes() {
        let s = issued(None, "h".into(), t(0));
        assert_eq!(judge(&s, "h", t(9)).0, Verdict::Right);
        assert_eq!(judge(&s, "h", t(10)).0, Verdict::Expired);
        // Used once, gone; typing it again is not a wrong try.
        let (_, used) = judge(&s, "h", t(1));
        let (v, after) = judge(&used, "h", t(2));
        assert_eq!((v, after.wrong), (Verdict::Expired, 0));
    }

    #[test]
    fn five_wrong_tries_lock_the_phone_for_fifteen_minutes() {
        let mut s = issued(None, "h".into(), t(0));
        for left in (1..MAX_WRONG).rev() {
            let (v, next) = judge(&s, "x", t(1));
            assert_eq!(v, Verdict::Wrong { left });
            s = next;
        }
        let (v, s) = judge(&s, "x", t(1));
        assert_eq!(v, Verdict::LockedNow(t(16)));
        // Even the right code is refused while locked, and a new code keeps the lock.
        assert_eq!(judge(&s, "h", t(2)).0, Verdict::Locked(t(16)));
        assert_eq!(locked(Some(&s), t(15)), Some(t(16)));
        let again = issued(Some(&s), "h2".into(), t(5));
        assert_eq!(again.locked_until, Some(t(16)));
        // After the lock a fresh code works and the count starts again.
        assert_eq!(locked(Some(&s), t(16)), None);
        let fresh = issued(Some(&s), "h3".into(), t(17));
        assert_eq!(fresh.wrong, 0);
        assert_eq!(judge(&fresh, "h3", t(18)).0, Verdict::Right);
    }
}
