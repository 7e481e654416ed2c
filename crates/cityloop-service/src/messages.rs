//! Messages that reach citizens (issue 16, items 3 and 6): the channels an admin
//! configures, the delivery worker, the admin's outbox view and notice, and the one-time
//! codes of "my reports".
//!
//! **One channel interface, three providers.** A message goes out by SMS or e-mail
//! ([`Channel`]); each channel has one provider, set by the admin (setting `messages`):
//! - `log` (the default, and the demo's): each message is one line appended to the
//!   message log file (`--message-log`, default `messages.log` beside the database);
//! - SMS `http`: a POST of a JSON body built from the admin's template (string values may
//!   hold `{phone}`, `{text}`, `{purpose}`, `{id}`) to the gateway's URL, with one auth
//!   header; a 2xx answer is delivered, anything else fails the attempt;
//! - e-mail `smtp`: lettre over SMTP (plain, STARTTLS or TLS, optional login);
//! - `off`: every attempt fails ("channel off"), so nothing pretends to be sent.
//!
//! Secrets (the gateway's auth header value, the SMTP password) are write-only: the
//! admin view says only whether one is set, and the audit row never holds them.
//!
//! **Delivery** has the webhook outbox's shape (claim with a lease, one attempt each,
//! the same `pending`/`delivered`/`dead` statuses and backoff schedule, default 1m, 5m,
//! 30m, 2h, 12h): at least once. Case messages are queued by the store's pipeline in
//! the event's transaction; a code's message in the transaction that stores its hash.
//! The text is rendered when sent (the query code needs the server's key, which the
//! store does not hold); a code is kept in the row only until it is sent or dead, and the
//! stored text masks it.
//!
//! **The admin notice**: the channels are `degraded` while a pending message has failed
//! its last attempt or a message died in the last 24 hours (`/healthz` field `messages`,
//! the console's banner), until the admin fixes the channel and sends the dead ones again.
//!
//! **One-time codes** (`cityloop_domain::message::otp`): 6 digits, valid 10 minutes,
//! stored as HMAC-SHA256 under the query-code key (never in clear), one use; 5 wrong tries
//! lock the phone for 15 minutes; sending is limited per phone and per client address
//! (`ratelimit`). The answer to "send me a code" is the same whether or not the phone has
//! reports, and the list only ever holds cases whose reporter phone is the phone proven.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use cityloop_domain::message::{self as msg, otp, Channel, Purpose};
use cityloop_domain::model::{Person, Source};
use cityloop_store::messages::status;
use cityloop_store::{
    AdminOp, AttemptOutcome, MessageAttempt, MessageRow, NewMessage, OutboxHealth,
};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use crate::admin::require_admin;
use crate::open311::{Lang, PublicStatus};
use crate::webhooks::DeliveryPass;
use crate::{reference, ServiceError, Services};

/// Settings key of the channels and templates.
pub const SETTING: &str = "messages";
/// How long a dead message keeps the channels `degraded` (invented default).
pub const DEAD_NOTICE_HOURS: i64 = 24;
/// Most cases "my reports" lists (invented default).
pub const MAX_MY_CASES: u32 = 100;

/// The channels and templates as stored (secrets included: the server needs them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MessageSettings {
    #[serde(default)]
    pub sms: SmsConfig,
    #[serde(default)]
    pub email: EmailConfig,
    /// Purpose (`receipt`, `callback`, `code`) → template; a missing one is the default.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

/// The SMS channel's provider.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum SmsConfig {
    #[default]
    Log,
    Off,
    Http(HttpSms),
}

/// An SMS gateway's HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpSms {
    pub url: String,
    /// The header that carries the credential (e.g. `Authorization`), if any.
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Its value: write-only.
    #[serde(default)]
    pub auth_value: Option<String>,
    /// The JSON body; string values may hold `{phone}`, `{text}`, `{purpose}`, `{id}`.
    pub body: serde_json::Value,
}

/// The e-mail channel's provider.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum EmailConfig {
    #[default]
    Log,
    Off,
    Smtp(SmtpConfig),
}

/// An SMTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Write-only.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, e.g. `城市管理 <noreply@example.cn>`.
    pub from: String,
}

/// The placeholders of the SMS gateway's body.
pub const BODY_PLACEHOLDERS: &[&str] = &["phone", "text", "purpose", "id"];

impl SmsConfig {
    fn provider(&self) -> &'static str {
        match self {
            SmsConfig::Log => "log",
            SmsConfig::Off => "off",
            SmsConfig::Http(_) => "http",
        }
    }
}

impl EmailConfig {
    fn provider(&self) -> &'static str {
        match self {
            EmailConfig::Log => "log",
            EmailConfig::Off => "off",
            EmailConfig::Smtp(_) => "smtp",
        }
    }
}

impl MessageSettings {
    /// The template of `purpose` (the admin's, else the default).
    pub fn template(&self, purpose: Purpose) -> &str {
        self.templates
            .get(purpose.as_str())
            .map(String::as_str)
            .unwrap_or(purpose.default_template())
    }

    /// The settings as an admin sees them: secrets replaced by whether one is set, every
    /// template filled in, and each purpose's placeholders.
    pub fn admin_view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        for (channel, secret) in [("sms", "auth_value"), ("email", "password")] {
            if let Some(o) = v.get_mut(channel).and_then(|c| c.as_object_mut()) {
                let set = o.remove(secret).is_some_and(|s| !s.is_null());
                o.insert(format!("{secret}_set"), serde_json::Value::Bool(set));
            }
        }
        let templates: serde_json::Map<String, serde_json::Value> = Purpose::ALL
            .iter()
            .map(|p| (p.as_str().to_owned(), self.template(*p).into()))
            .collect();
        let placeholders: serde_json::Map<String, serde_json::Value> = Purpose::ALL
            .iter()
            .map(|p| (p.as_str().to_owned(), serde_json::json!(p.placeholders())))
            .collect();
        if let Some(o) = v.as_object_mut() {
            o.insert("templates".into(), templates.into());
            o.insert("placeholders".into(), placeholders.into());
            o.insert(
                "body_placeholders".into(),
                serde_json::json!(BODY_PLACEHOLDERS),
            );
        }
        v
    }
}

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct MessageConfig {
    /// Waits after the 1st, 2nd, … failure; when exhausted the message is dead.
    pub backoff: Vec<Duration>,
    /// Per attempt.
    pub timeout: Duration,
    /// Messages claimed per pass.
    pub batch: u32,
    /// The `log` provider's file.
    pub log_path: PathBuf,
}

impl Default for MessageConfig {
    fn default() -> Self {
        Self {
            backoff: cityloop_domain::webhook::default_backoff(),
            timeout: Duration::from_secs(10),
            batch: 50,
            log_path: PathBuf::from("messages.log"),
        }
    }
}

/// The worker's HTTP client and settings.
#[derive(Debug, Clone)]
pub struct MessageSender {
    http: reqwest::Client,
    pub config: MessageConfig,
}

impl MessageSender {
    pub fn new(config: MessageConfig) -> Result<Self, ServiceError> {
        // The gateway is the admin's own choice (often on the operator's network), so
        // unlike webhooks its address is not restricted; no redirects, no proxy.
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("cityloop-messages/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("message client: {e}")))?;
        Ok(Self { http, config })
    }
}

/// The channels' state for `/healthz` and the console's banner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageHealth {
    /// `ok`, or `degraded` while messages fail (see the module comment).
    pub status: &'static str,
    pub sms: &'static str,
    pub email: &'static str,
    pub pending: i64,
    /// Pending messages whose last attempt failed.
    pub failing: i64,
    /// Messages that died in the last 24 hours.
    pub dead_recent: i64,
}

/// One row of the admin's outbox.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: Uuid,
    /// `receipt`, `callback` or `code`.
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    /// The phone or address, masked (the middle of a phone, the name of an address).
    pub recipient: String,
    /// The case's id (the console's case page) and number.
    pub case_id: Option<String>,
    pub case_number: Option<String>,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub failures: i64,
    pub next_attempt_at: DateTime<FixedOffset>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    /// The text as last sent (a code masked).
    pub body: Option<String>,
}

/// One case in "my reports".
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyCase {
    pub number: String,
    /// Opens the case page (`#/case/{code}` on the public page).
    pub query_code: Option<String>,
    /// `open` or `closed`.
    pub status: &'static str,
    /// The state in citizen words.
    pub status_text: String,
    pub service_name: String,
    pub address: Option<String>,
    /// The reporter's own words, cut to 60 characters (to tell similar reports apart).
    pub description: Option<String>,
    pub requested_datetime: DateTime<FixedOffset>,
}

/// What a code request answers (the same whether or not the phone has reports).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// The code's life in seconds.
    pub expires_in_s: i64,
}

/// The admin's input: the settings with secrets optional (missing keeps the stored one).
pub type SettingsInput = MessageSettings;

fn bad(field: &str, m: impl Into<String>) -> ServiceError {
    ServiceError::invalid(field, m)
}

/// Checks an SMS gateway body template: a JSON object whose strings use only the known
/// placeholders.
fn check_body(v: &serde_json::Value) -> Result<(), ServiceError> {
    fn walk(v: &serde_json::Value) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find('{') {
                    let after = &rest[i + 1..];
                    let Some(end) = after.find('}') else {
                        return Err("an unclosed { in a string value".into());
                    };
                    let name = &after[..end];
                    if !BODY_PLACEHOLDERS.contains(&name) {
                        return Err(format!(
                            "unknown placeholder {{{name}}}; allowed: {{phone}} {{text}} {{purpose}} {{id}}"
                        ));
                    }
                    rest = &after[end + 1..];
                }
                Ok(())
            }
            serde_json::Value::Array(a) => a.iter().try_for_each(walk),
            serde_json::Value::Object(o) => o.values().try_for_each(walk),
            _ => Ok(()),
        }
    }
    if !v.is_object() {
        return Err(bad("sms.body", "must be a JSON object"));
    }
    walk(v).map_err(|m| bad("sms.body", m))
}

/// Fills the gateway body's placeholders (in string values only, so the text is always
/// properly escaped JSON).
fn fill_body(v: &serde_json::Value, values: &BTreeMap<&str, String>) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(msg::render(s, values)),
        serde_json::Value::Array(a) => a.iter().map(|x| fill_body(x, values)).collect(),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, x)| (k.clone(), fill_body(x, values)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// Checks the admin's settings; the secrets the input leaves out are kept from `old`.
fn check_settings(
    mut new: MessageSettings,
    old: &MessageSettings,
) -> Result<MessageSettings, ServiceError> {
    if let SmsConfig::Http(h) = &mut new.sms {
        let u = reqwest::Url::parse(h.url.trim())
            .map_err(|e| bad("sms.url", format!("not a URL: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
            return Err(bad(
                "sms.url",
                "must be an http:// or https:// URL with a host",
            ));
        }
        h.url = u.to_string();
        if let Some(name) = &h.auth_header {
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| bad("sms.auth_header", "not a valid header name"))?;
        }
        if h.auth_value.is_none() {
            if let SmsConfig::Http(o) = &old.sms {
                h.auth_value = o.auth_value.clone();
            }
        }
        if let Some(v) = &h.auth_value {
            reqwest::header::HeaderValue::from_str(v)
                .map_err(|_| bad("sms.auth_value", "not a valid header value"))?;
        }
        check_body(&h.body)?;
    }
    if let EmailConfig::Smtp(s) = &mut new.email {
        if s.host.trim().is_empty() {
            return Err(bad("email.host", "is required"));
        }
        if s.port == 0 {
            return Err(bad("email.port", "must be 1 to 65535"));
        }
        if !matches!(s.security.as_str(), "none" | "starttls" | "tls") {
            return Err(bad("email.security", "one of none, starttls, tls"));
        }
        s.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| bad("email.from", format!("not an address: {e}")))?;
        if s.password.is_none() {
            if let EmailConfig::Smtp(o) = &old.email {
                s.password = o.password.clone();
            }
        }
    }
    for (key, text) in &new.templates {
        let field = format!("templates.{key}");
        let purpose =
            Purpose::parse(key).ok_or_else(|| bad(&field, "one of receipt, callback, code"))?;
        msg::check_template(purpose, text).map_err(|e| bad(&field, e.to_string()))?;
    }
    Ok(new)
}

/// The keyed hash a code is stored as.
fn code_hash(key: &[u8], phone: &str, code: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"otp:");
    mac.update(phone.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    crate::auth::hex(&mac.finalize().into_bytes())
}

/// A uniformly random 6-digit code.
fn new_code() -> String {
    // Rejection sampling: 4_294_000_000 is the largest multiple of 10^6 below 2^32.
    loop {
        let n = OsRng.next_u32();
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// A recipient as the outbox shows it: a phone's middle digits, an address's name hidden.
fn mask(recipient: &str) -> String {
    if let Some((_, domain)) = recipient.split_once('@') {
        let first: String = recipient.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = recipient.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

impl Services {
    /// The stored channels and templates (defaults when never set).
    pub async fn message_settings(&self) -> Result<MessageSettings, ServiceError> {
        Ok(reference::get_setting(&*self.store, SETTING)
            .await?
            .unwrap_or_default())
    }

    /// The channels and templates as an admin sees them (no secret).
    pub async fn admin_message_settings(
        &self,
        actor: &Person,
    ) -> Result<serde_json::Value, ServiceError> {
        require_admin(actor)?;
        Ok(self.message_settings().await?.admin_view())
    }

    /// Replaces the channels and templates (checked; an unknown placeholder is refused
    /// naming it), audited without secrets.
    pub async fn put_message_settings(
        &self,
        actor: &Person,
        input: SettingsInput,
    ) -> Result<serde_json::Value, ServiceError> {
        require_admin(actor)?;
        let old = self.message_settings().await?;
        let new = check_settings(input, &old)?;
        let value = serde_json::to_value(&new)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("settings: {e}")))?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: SETTING.to_owned(),
                value,
            }],
            "message_channels",
            SETTING.to_owned(),
            "update",
            Some(old.admin_view()),
            Some(new.admin_view()),
        )
        .await?;
        Ok(new.admin_view())
    }

    /// The outbox, newest first, optionally of one status.
    pub async fn message_outbox(
        &self,
        actor: &Person,
        status_filter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, ServiceError> {
        require_admin(actor)?;
        if let Some(s) = status_filter {
            if !status::ALL.contains(&s) {
                return Err(bad("status", format!("one of {}", status::ALL.join(", "))));
            }
        }
        let rows = self.store.list_messages(status_filter, None, limit).await?;
        let mut numbers: BTreeMap<cityloop_domain::ids::CaseId, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let case_number = match m.case_id {
                Some(id) => match numbers.get(&id) {
                    Some(n) => Some(n.clone()),
                    None => {
                        let n = self.store.get_case(id).await?.number.0;
                        numbers.insert(id, n.clone());
                        Some(n)
                    }
                },
                None => None,
            };
            out.push(OutboxEntry {
                id: m.id,
                purpose: m.purpose,
                channel: m.channel,
                recipient: mask(&m.recipient),
                case_id: m.case_id.map(|c| c.to_string()),
                case_number,
                status: m.status,
                attempts: m.attempts,
                failures: m.failures,
                next_attempt_at: self.local_time(m.next_attempt_at),
                created_at: self.local_time(m.created_at),
                updated_at: self.local_time(m.updated_at),
                last_error: m.last_error,
                provider: m.provider,
                body: m.body,
            });
        }
        Ok(out)
    }

    /// Sends a dead message again (not a code: the citizen asks for a new one).
    pub async fn resend_message(&self, actor: &Person, id: Uuid) -> Result<(), ServiceError> {
        require_admin(actor)?;
        self.store.resend_message(id, self.now()).await?;
        tracing::info!(audit = true, actor = %actor.id, message.id = %id, "dead message queued again");
        Ok(())
    }

    /// The channels' health (see the module comment).
    pub async fn message_health(&self) -> Result<MessageHealth, ServiceError> {
        let settings = self.message_settings().await?;
        let OutboxHealth {
            pending,
            failing,
            dead_recent,
        } = self
            .store
            .outbox_health(self.now() - chrono::Duration::hours(DEAD_NOTICE_HOURS))
            .await?;
        Ok(MessageHealth {
            status: if failing > 0 || dead_recent > 0 {
                "degraded"
            } else {
                "ok"
            },
            sms: settings.sms.provider(),
            email: settings.email.provider(),
            pending,
            failing,
            dead_recent,
        })
    }

    /// One pass of the message worker: claims the due messages and attempts each once.
    pub async fn deliver_messages(
        &self,
        sender: &MessageSender,
    ) -> Result<DeliveryPass, ServiceError> {
        let now = self.now();
        let lease = chrono::Duration::from_std(sender.config.timeout)
            .unwrap_or(chrono::Duration::seconds(60))
            + chrono::Duration::seconds(60);
        let due = self
            .store
            .claim_messages(now, now + lease, sender.config.batch)
            .await?;
        if due.is_empty() {
            return Ok(DeliveryPass::default());
        }
        let settings = self.message_settings().await?;
        let mut pass = DeliveryPass::default();
        // One at a time: the log file is appended in order and gateways limit rates.
        for m in due {
            match self.send_one(sender, &settings, m).await? {
                AttemptOutcome::Delivered => pass.delivered += 1,
                AttemptOutcome::Retry(_) => pass.retried += 1,
                AttemptOutcome::Dead => pass.dead += 1,
            }
        }
        Ok(pass)
    }

    /// The text of a message and the same with any code masked (what is stored).
    async fn render(
        &self,
        settings: &MessageSettings,
        m: &MessageRow,
    ) -> Result<(Purpose, String, String), String> {
        let purpose =
            Purpose::parse(&m.purpose).ok_or_else(|| format!("unknown purpose {}", m.purpose))?;
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        values.insert("district", self.district.name.clone());
        let template = settings.template(purpose);
        match purpose {
            Purpose::Code => {
                let code = m
                    .params
                    .get("otp")
                    .and_then(|c| c.as_str())
                    .ok_or("the code is no longer kept")?
                    .to_owned();
                values.insert("minutes", otp::TTL_MINUTES.to_string());
                let mut masked = values.clone();
                masked.insert("otp", "******".into());
                values.insert("otp", code);
                Ok((
                    purpose,
                    msg::render(template, &values),
                    msg::render(template, &masked),
                ))
            }
            Purpose::Receipt | Purpose::Callback => {
                let id = m.case_id.ok_or("a case message without a case")?;
                let case = self.store.get_case(id).await.map_err(|e| e.to_string())?;
                let code = self
                    .query_code(&case.number)
                    .await
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default();
                values.insert("number", case.number.0.clone());
                values.insert("query_code", code);
                let text = msg::render(template, &values);
                Ok((purpose, text.clone(), text))
            }
        }
    }

    async fn send_one(
        &self,
        sender: &MessageSender,
        settings: &MessageSettings,
        m: MessageRow,
    ) -> Result<AttemptOutcome, ServiceError> {
        let at = self.now();
        let started = Instant::now();
        let channel = Channel::parse(&m.channel);
        let (provider, body, error) = match (self.render(settings, &m).await, channel) {
            (Err(e), _) => ("-".to_owned(), String::new(), Some(e)),
            (_, None) => (
                "-".to_owned(),
                String::new(),
                Some(format!("unknown channel {}", m.channel)),
            ),
            (Ok((purpose, text, stored)), Some(channel)) => {
                let (provider, r) = self
                    .transmit(sender, settings, channel, purpose, &m, &text)
                    .await;
                (provider.to_owned(), stored, r.err())
            }
        };
        let outcome = if error.is_none() {
            AttemptOutcome::Delivered
        } else {
            let failures = u32::try_from(m.failures + 1).unwrap_or(u32::MAX);
            match cityloop_domain::webhook::next_retry(&sender.config.backoff, failures) {
                Some(wait) => AttemptOutcome::Retry(
                    self.now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(12)),
                ),
                None => AttemptOutcome::Dead,
            }
        };
        let attempt = MessageAttempt {
            id: m.id,
            attempts: m.attempts + 1,
            at,
            provider,
            body,
            error,
        };
        self.store.finish_message(&attempt, outcome).await?;
        let ms = started.elapsed().as_millis();
        match outcome {
            AttemptOutcome::Delivered => {
                tracing::info!(message.id = %m.id, purpose = %m.purpose, channel = %m.channel, provider = %attempt.provider, duration_ms = ms, "message sent")
            }
            AttemptOutcome::Retry(next) => {
                tracing::warn!(message.id = %m.id, channel = %m.channel, error = ?attempt.error, %next, "message failed; will retry")
            }
            AttemptOutcome::Dead => {
                tracing::warn!(message.id = %m.id, channel = %m.channel, error = ?attempt.error, "message failed; dead")
            }
        }
        Ok(outcome)
    }

    /// Hands one message to its channel's provider.
    async fn transmit(
        &self,
        sender: &MessageSender,
        settings: &MessageSettings,
        channel: Channel,
        purpose: Purpose,
        m: &MessageRow,
        text: &str,
    ) -> (&'static str, Result<(), String>) {
        match channel {
            Channel::Sms => match &settings.sms {
                SmsConfig::Off => ("off", Err("the SMS channel is off".into())),
                SmsConfig::Log => (
                    "log",
                    self.log_message(sender, channel, purpose, m, text).await,
                ),
                SmsConfig::Http(h) => ("http", send_http(sender, h, purpose, m, text).await),
            },
            Channel::Email => match &settings.email {
                EmailConfig::Off => ("off", Err("the e-mail channel is off".into())),
                EmailConfig::Log => (
                    "log",
                    self.log_message(sender, channel, purpose, m, text).await,
                ),
                EmailConfig::Smtp(s) => ("smtp", send_smtp(sender, s, purpose, m, text).await),
            },
        }
    }

    /// The `log` provider: one line per message, appended.
    async fn log_message(
        &self,
        sender: &MessageSender,
        channel: Channel,
        purpose: Purpose,
        m: &MessageRow,
        text: &str,
    ) -> Result<(), String> {
        use tokio::io::AsyncWriteExt;
        let path = &sender.config.log_path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let line = format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            self.local_time(self.now()).to_rfc3339(),
            channel.as_str(),
            m.recipient,
            purpose.as_str(),
            m.id,
            text.replace(['\n', '\r', '\t'], " ")
        );
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(line.as_bytes())
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        f.sync_data()
            .await
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    // ---- my reports ----

    /// Sends a one-time code to `phone` (by the SMS channel), if the phone is not locked
    /// and neither it nor `client` is past its rate.
    pub async fn request_my_code(
        &self,
        phone_input: &str,
        client: IpAddr,
        lang: Lang,
    ) -> Result<CodeSent, ServiceError> {
        let phone = msg::phone(phone_input).ok_or_else(|| {
            bad(
                "phone",
                lang.pick("请填写正确的手机号码", "please enter a valid phone number"),
            )
        })?;
        let now = self.now();
        let prev = self.store.otp_state(&phone).await?;
        if let Some(until) = otp::locked(prev.as_ref(), now) {
            return Err(ServiceError::RateLimited {
                retry_after_s: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
            });
        }
        self.admit_code(client, &phone)?;
        let key = self.query_code_key().await?;
        let code = new_code();
        let state = otp::issued(prev.as_ref(), code_hash(&key, &phone, &code), now);
        let message = NewMessage {
            dedupe_key: format!("otp:{}", Uuid::now_v7()),
            purpose: Purpose::Code.as_str().to_owned(),
            channel: Channel::Sms.as_str().to_owned(),
            recipient: phone.clone(),
            case_id: None,
            params: serde_json::json!({ "otp": code }),
        };
        self.store.issue_otp(&phone, &state, &message, now).await?;
        Ok(CodeSent {
            expires_in_s: otp::TTL_MINUTES * 60,
        })
    }

    /// The reports of `phone` once `code` proves it (the code is then used up).
    pub async fn my_cases(
        &self,
        phone_input: &str,
        code: &str,
        lang: Lang,
    ) -> Result<Vec<MyCase>, ServiceError> {
        let phone = msg::phone(phone_input).ok_or_else(|| {
            bad(
                "phone",
                lang.pick("请填写正确的手机号码", "please enter a valid phone number"),
            )
        })?;
        let code = code.trim();
        if code.len() != otp::DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                "code",
                lang.pick(
                    "请填写短信里的6位验证码",
                    "enter the 6-digit code from the message",
                ),
            ));
        }
        let now = self.now();
        let expired = || {
            bad(
                "code",
                lang.pick(
                    "验证码不正确或已过期，请重新获取",
                    "the code is wrong or has expired; ask for a new one",
                ),
            )
        };
        let Some(state) = self.store.otp_state(&phone).await? else {
            return Err(expired());
        };
        let key = self.query_code_key().await?;
        let (verdict, next) = otp::judge(&state, &code_hash(&key, &phone, code), now);
        if next != state {
            self.store.save_otp(&phone, &next, now).await?;
        }
        match verdict {
            otp::Verdict::Right => {}
            otp::Verdict::Wrong { left } => {
                return Err(bad(
                    "code",
                    match lang {
                        Lang::Zh => format!("验证码不正确，还可以再试{left}次"),
                        Lang::En => format!("the code is wrong; {left} tries left"),
                    },
                ))
            }
            otp::Verdict::Expired => return Err(expired()),
            otp::Verdict::Locked(until) | otp::Verdict::LockedNow(until) => {
                return Err(ServiceError::RateLimited {
                    retry_after_s: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
                })
            }
        }
        let reversed = cityloop_domain::search::reversed_digits(&phone);
        let cases = self
            .store
            .cases_by_phone_key(&reversed, MAX_MY_CASES)
            .await?;
        let units = self.unit_names().await?;
        let mut out = Vec::new();
        for case in cases {
            // The index matches by the last digits; only the whole number counts.
            let same = case.reporter.phone.as_deref().and_then(msg::phone) == Some(phone.clone());
            if !same || !matches!(case.source, Source::Public | Source::Hotline12345) {
                continue;
            }
            let state = self.public_state(&case, &units, lang);
            let service_name = self
                .cached()
                .categories
                .get(&case.category)
                .map(|c| lang.pick(&c.name_zh, &c.name_en).to_owned())
                .unwrap_or_else(|| case.category.code.clone());
            out.push(MyCase {
                query_code: self.query_code(&case.number).await?,
                number: case.number.0.clone(),
                status: PublicStatus::of(case.state).as_str(),
                status_text: state.wording,
                service_name,
                address: case.location.address.clone(),
                description: Some(case.description.chars().take(60).collect::<String>())
                    .filter(|d| !d.trim().is_empty()),
                requested_datetime: self.local_time(case.created_at),
            });
        }
        Ok(out)
    }
}

/// The SMS gateway: POST the filled body with the auth header; 2xx is delivered.
async fn send_http(
    sender: &MessageSender,
    h: &HttpSms,
    purpose: Purpose,
    m: &MessageRow,
    text: &str,
) -> Result<(), String> {
    let values = BTreeMap::from([
        ("phone", m.recipient.clone()),
        ("text", text.to_owned()),
        ("purpose", purpose.as_str().to_owned()),
        ("id", m.id.to_string()),
    ]);
    let body = fill_body(&h.body, &values);
    let mut req = sender.http.post(&h.url).json(&body);
    if let (Some(name), Some(value)) = (&h.auth_header, &h.auth_value) {
        req = req.header(name.trim(), value);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("gateway answered {}", r.status())),
        Err(e) if e.is_timeout() => Err(format!("timed out after {:?}", sender.config.timeout)),
        Err(e) => Err(crate::webhooks::error_chain(&e)),
    }
}

/// The SMTP provider.
async fn send_smtp(
    sender: &MessageSender,
    s: &SmtpConfig,
    purpose: Purpose,
    m: &MessageRow,
    text: &str,
) -> Result<(), String> {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let from: lettre::message::Mailbox = s.from.parse().map_err(|e| format!("from: {e}"))?;
    let to: lettre::message::Mailbox = m.recipient.parse().map_err(|e| format!("to: {e}"))?;
    let email = Message::builder()
        .from(from)
        .to(to)
        .subject(purpose.subject())
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_owned())
        .map_err(|e| format!("message: {e}"))?;
    let builder = match s.security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| e.to_string())?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| e.to_string())?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
    };
    let mut builder = builder.port(s.port).timeout(Some(sender.config.timeout));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    builder
        .build()
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| format!("smtp: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_in_the_admin_view() {
        let s = MessageSettings {
            sms: SmsConfig::Http(HttpSms {
                url: "https://sms.example.cn/send".into(),
                auth_header: Some("Authorization".into()),
                auth_value: Some("Bearer s3cret".into()),
                body: serde_json::json!({"to": "{phone}", "msg": "{text}"}),
            }),
            email: EmailConfig::Smtp(SmtpConfig {
                host: "smtp.example.cn".into(),
                port: 587,
                security: "starttls".into(),
                username: Some("u".into()),
                password: Some("pw-s3cret".into()),
                from: "城管 <noreply@example.cn>".into(),
            }),
            templates: BTreeMap::new(),
        };
        let v = s.admin_view().to_string();
        assert!(!v.contains("s3cret"), "{v}");
        assert!(v.contains("\"auth_value_set\":true") && v.contains("\"password_set\":true"));
    }

    #[test]
    fn a_missing_secret_keeps_the_stored_one_and_bad_fields_are_named() {
        let old = MessageSettings {
            sms: SmsConfig::Http(HttpSms {
                url: "https://sms.example.cn/send".into(),
                auth_header: Some("X-Key".into()),
                auth_value: Some("k".into()),
                body: serde_json::json!({"to": "{phone}"}),
            }),
            ..MessageSettings::default()
        };
        let mut new = old.clone();
        if let SmsConfig::Http(h) = &mut new.sms {
            h.auth_value = None;
        }
        assert_eq!(check_settings(new.clone(), &old).unwrap(), old);
        if let SmsConfig::Http(h) = &mut new.sms {
            h.body = serde_json::json!({"to": "{mobile}"});
        }
        let e = check_settings(new, &old).unwrap_err();
        assert!(
            matches!(&e, ServiceError::Invalid { field, message } if field == "sms.body" && message.contains("{mobile}")),
            "{e}"
        );
        let mut t = old.clone();
        t.templates
            .insert("receipt".into(), "编号{number}{foo}".into());
        let e = check_settings(t, &old).unwrap_err();
        assert!(
            matches!(&e, ServiceError::Invalid { field, message } if field == "templates.receipt" && message.contains("{foo}")),
            "{e}"
        );
    }

    #[test]
    fn the_gateway_body_is_filled_in_string_values_only() {
        let v = BTreeMap::from([("phone", "138".to_owned()), ("text", "a\"b".to_owned())]);
        let body = fill_body(
            &serde_json::json!({"to": ["{phone}"], "content": "{text}", "n": 1}),
            &v,
        );
        assert_eq!(
            body,
            serde_json::json!({"to": ["138"], "content": "a\"b", "n": 1})
        );
    }

    #[test]
    fn codes_are_six_digits_and_recipients_are_masked() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(mask("13800000001"), "138****0001");
        assert_eq!(mask("zhang@example.cn"), "z***@example.cn");
    }
}
