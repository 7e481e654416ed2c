//! Outgoing webhooks: subscriptions managed by admins, and the delivery worker.
//!
//! Case events and escalations put their deliveries into the store's outbox in their own
//! transactions; [`Services::deliver_webhooks`] is one pass of the worker: it claims the
//! due deliveries, POSTs each JSON body signed with HMAC-SHA256, and records the attempt.
//! A failed attempt is retried on the configured schedule (default 1m, 5m, 30m, 2h, 12h);
//! after the last retry fails the delivery is a dead letter, which an admin can
//! redeliver. Delivery is at least once: a receiver dedupes on `X-Cityloop-Delivery`.
//!
//! Receivers must be on the public internet (no blind SSRF into the operator's network):
//! a URL whose host is a loopback, private, link-local or other special address
//! ([`wh::is_public_address`]) or a `localhost` name is refused when saved (422 naming
//! `url`), and every delivery resolves the host itself, drops refused addresses and
//! connects only to an address it checked (no DNS-rebinding bypass; no proxy, no
//! redirects). The operator setting `--webhook-allow-private` (default off) lifts this,
//! for receivers on the operator's own network and for tests.
//!
//! Signature (docs/API-DESIGN.md, "Webhooks"): `X-Cityloop-Signature: sha256=<hex>` where
//! `<hex>` is HMAC-SHA256 with the subscription's secret over
//! `<X-Cityloop-Timestamp>.<raw body>`.

use std::time::{Duration, Instant};

use cityloop_domain::model::{Actor, ActorRole, Role};
use cityloop_domain::webhook::{self as wh, InvalidSubscription};
use cityloop_store::webhooks::status;
use cityloop_store::{
    AdminOp, AttemptOutcome, AuditEntry, DueDelivery, WebhookAttempt, WebhookDelivery,
    WebhookSubscription,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::{ServiceError, Services};

/// Header names of a delivery.
pub mod headers {
    pub const SIGNATURE: &str = "x-cityloop-signature";
    pub const TIMESTAMP: &str = "x-cityloop-timestamp";
    pub const DELIVERY: &str = "x-cityloop-delivery";
    pub const EVENT: &str = "x-cityloop-event";
}

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Waits after the 1st, 2nd, … failure; when exhausted the delivery is dead.
    pub backoff: Vec<Duration>,
    /// Per attempt (connect, send, answer).
    pub timeout: Duration,
    /// Deliveries claimed per pass.
    pub batch: u32,
    /// Deliver to private/loopback/special addresses too (`--webhook-allow-private`).
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            backoff: wh::default_backoff(),
            timeout: Duration::from_secs(10),
            batch: 50,
            allow_private: false,
        }
    }
}

/// The worker's HTTP client and settings.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    pub config: WebhookConfig,
}

impl WebhookSender {
    pub fn new(config: WebhookConfig) -> Result<Self, ServiceError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Connect only where the checked resolver says, never through a proxy.
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(CheckedResolver {
                allow_private: config.allow_private,
            }))
            .user_agent(concat!("cityloop-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("webhook client: {e}")))?;
        Ok(Self { http, config })
    }
}

/// Resolves a receiver's host and keeps only the addresses a webhook may go to; the
/// client connects to one of those, so a name that resolves differently later (DNS
/// rebinding) cannot reach a refused address.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<std::net::SocketAddr> = found
                .into_iter()
                .filter(|a| allow || wh::is_public_address(a.ip()))
                .collect();
            if usable.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = format!(
                    "refused: {host} resolves only to private or special addresses (--webhook-allow-private)"
                )
                .into();
                return Err(e);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The address a URL's host names literally (`http://10.0.0.1/`, `http://[::1]/`).
fn literal_ip(u: &reqwest::Url) -> Option<std::net::IpAddr> {
    let h = u.host_str()?;
    h.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Why a delivery to `url` is refused before connecting (a literal special address),
/// if it is.
fn refused_target(url: &str, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let u = reqwest::Url::parse(url).ok()?;
    let ip = literal_ip(&u)?;
    (!wh::is_public_address(ip))
        .then(|| format!("refused: {ip} is a private or special address (--webhook-allow-private)"))
}

/// `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret, timestamp);
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn mac(secret: &str, timestamp: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac
}

/// What a receiver does: checks `X-Cityloop-Signature` against the secret, the
/// timestamp header and the raw body, in constant time.
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    let Some(hex) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    if hex.len() != 64 {
        return false;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let Some(bytes) = bytes else { return false };
    let mut mac = mac(secret, ts);
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// Fields of a subscription as an admin sends them; on update, `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub active: Option<bool>,
    pub description: Option<String>,
}

/// A delivery with its attempts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRecord {
    pub delivery: WebhookDelivery,
    pub attempts: Vec<WebhookAttempt>,
}

/// What one worker pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

fn invalid(e: InvalidSubscription) -> ServiceError {
    ServiceError::invalid(e.field, e.problem)
}

/// Checks a receiver URL: absolute http or https with a host, no user:password part, at
/// most [`wh::MAX_URL_BYTES`]; unless `allow_private`, not a literal private or special
/// address nor a `localhost` name (names are checked again, resolved, at delivery).
pub fn check_url(url: &str, allow_private: bool) -> Result<String, ServiceError> {
    let bad = |m: &str| ServiceError::invalid("url", m);
    if url.len() > wh::MAX_URL_BYTES {
        return Err(bad(&format!("at most {} bytes", wh::MAX_URL_BYTES)));
    }
    let u = reqwest::Url::parse(url.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "must not carry a user name or password (the signature authenticates)",
        ));
    }
    if u.fragment().is_some() {
        return Err(bad("must not have a #fragment"));
    }
    if !allow_private {
        let host = u
            .host_str()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host == "localhost" || host.ends_with(".localhost") {
            return Err(bad(
                "must not name localhost (receivers must be public; see --webhook-allow-private)",
            ));
        }
        if let Some(ip) = literal_ip(&u) {
            if !wh::is_public_address(ip) {
                return Err(bad(&format!(
                    "{ip} is a loopback, private, link-local or other special address; receivers must be public (see --webhook-allow-private)"
                )));
            }
        }
    }
    Ok(u.to_string())
}

fn require_admin(actor: &Actor) -> Result<(), ServiceError> {
    match actor.role {
        ActorRole::Staff(Role::Admin) => Ok(()),
        _ => Err(ServiceError::Forbidden(
            "only an admin manages webhooks".into(),
        )),
    }
}

impl Services {
    /// Operator setting: accept (and deliver to) receivers on private or special
    /// addresses (`--webhook-allow-private`; default off).
    pub fn with_webhook_allow_private(mut self, allow: bool) -> Self {
        self.webhook_allow_private = allow;
        self
    }

    /// The audit row of a subscription change; the secret is never written to the log.
    fn webhook_audit(
        &self,
        actor: &Actor,
        id: Uuid,
        action: &str,
        before: Option<&WebhookSubscription>,
        after: Option<&WebhookSubscription>,
    ) -> AuditEntry {
        let redacted = |s: &WebhookSubscription| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "secret".into(),
                    serde_json::Value::String("(hidden)".into()),
                );
            }
            v
        };
        AuditEntry {
            id: Uuid::now_v7(),
            at: self.now(),
            actor_id: actor.person_id,
            entity: "webhook".into(),
            entity_id: id.to_string(),
            action: action.into(),
            before: before.map(redacted),
            after: after.map(redacted),
        }
    }

    /// Creates a subscription (url, secret and event_types required; active by default).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        input: WebhookInput,
    ) -> Result<WebhookSubscription, ServiceError> {
        require_admin(actor)?;
        let url = check_url(
            input
                .url
                .as_deref()
                .ok_or_else(|| ServiceError::invalid("url", "is required"))?,
            self.webhook_allow_private,
        )?;
        let secret = input
            .secret
            .ok_or_else(|| ServiceError::invalid("secret", "is required"))?;
        wh::check_secret(&secret).map_err(invalid)?;
        let types = wh::parse_event_types(
            input
                .event_types
                .as_deref()
                .ok_or_else(|| ServiceError::invalid("event_types", "is required"))?,
        )
        .map_err(invalid)?;
        let description = input.description.unwrap_or_default();
        wh::check_description(&description).map_err(invalid)?;
        let now = self.now();
        let sub = WebhookSubscription {
            id: Uuid::now_v7(),
            url,
            secret,
            event_types: types.iter().map(|t| t.as_str().to_owned()).collect(),
            active: input.active.unwrap_or(true),
            description,
            created_at: now,
            updated_at: now,
        };
        let audit = self.webhook_audit(actor, sub.id, "create", None, Some(&sub));
        self.store
            .admin_apply(&[AdminOp::CreateWebhook(sub.clone())], &audit)
            .await?;
        tracing::info!(actor = ?actor.person_id, webhook.id = %sub.id, url = %sub.url, "webhook created");
        Ok(sub)
    }

    /// Changes the fields given.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
        input: WebhookInput,
    ) -> Result<WebhookSubscription, ServiceError> {
        require_admin(actor)?;
        let mut sub = self.store.get_webhook(id).await?;
        let before = sub.clone();
        if let Some(url) = input.url {
            sub.url = check_url(&url, self.webhook_allow_private)?;
        }
        if let Some(secret) = input.secret {
            wh::check_secret(&secret).map_err(invalid)?;
            sub.secret = secret;
        }
        if let Some(types) = input.event_types {
            sub.event_types = wh::parse_event_types(&types)
                .map_err(invalid)?
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect();
        }
        if let Some(d) = input.description {
            wh::check_description(&d).map_err(invalid)?;
            sub.description = d;
        }
        if let Some(a) = input.active {
            sub.active = a;
        }
        sub.updated_at = self.now();
        let audit = self.webhook_audit(actor, sub.id, "update", Some(&before), Some(&sub));
        self.store
            .admin_apply(&[AdminOp::UpdateWebhook(sub.clone())], &audit)
            .await?;
        tracing::info!(actor = ?actor.person_id, webhook.id = %sub.id, "webhook updated");
        Ok(sub)
    }

    pub async fn delete_webhook(&self, actor: &Actor, id: Uuid) -> Result<(), ServiceError> {
        require_admin(actor)?;
        let before = self.store.get_webhook(id).await?;
        let audit = self.webhook_audit(actor, id, "delete", Some(&before), None);
        self.store
            .admin_apply(&[AdminOp::DeleteWebhook(id)], &audit)
            .await?;
        tracing::info!(actor = ?actor.person_id, webhook.id = %id, "webhook deleted");
        Ok(())
    }

    pub async fn get_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<WebhookSubscription, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.get_webhook(id).await?)
    }

    pub async fn list_webhooks(
        &self,
        actor: &Actor,
    ) -> Result<Vec<WebhookSubscription>, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.list_webhooks().await?)
    }

    /// A subscription's deliveries (newest first) with their attempts.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        id: Uuid,
        status_filter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, ServiceError> {
        require_admin(actor)?;
        if let Some(s) = status_filter {
            if !status::ALL.contains(&s) {
                return Err(ServiceError::invalid(
                    "status",
                    format!("one of {}", status::ALL.join(", ")),
                ));
            }
        }
        self.store.get_webhook(id).await?;
        let deliveries = self
            .store
            .webhook_deliveries(id, status_filter, limit)
            .await?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let attempts = self.store.webhook_attempts(d.id).await?;
            out.push(DeliveryRecord {
                delivery: d,
                attempts,
            });
        }
        Ok(out)
    }

    /// Queues a dead letter again with a fresh retry schedule (same delivery id).
    pub async fn redeliver_webhook(
        &self,
        actor: &Actor,
        id: Uuid,
        delivery: Uuid,
    ) -> Result<WebhookDelivery, ServiceError> {
        require_admin(actor)?;
        let d = self
            .store
            .redeliver_webhook(id, delivery, self.now())
            .await?;
        tracing::info!(audit = true, actor = ?actor.person_id, webhook.id = %id, delivery.id = %delivery, "dead letter redelivered");
        Ok(d)
    }

    /// One pass of the delivery worker: claims due deliveries and attempts each once,
    /// concurrently.
    pub async fn deliver_webhooks(
        &self,
        sender: &WebhookSender,
    ) -> Result<DeliveryPass, ServiceError> {
        let now = self.now();
        let lease = chrono::Duration::from_std(sender.config.timeout)
            .unwrap_or(chrono::Duration::seconds(60))
            + chrono::Duration::seconds(60);
        let due = self
            .store
            .claim_webhook_deliveries(now, now + lease, sender.config.batch)
            .await?;
        let mut set = tokio::task::JoinSet::new();
        for d in due {
            let svc = self.clone();
            let sender = sender.clone();
            set.spawn(async move { svc.attempt(&sender, d).await });
        }
        let mut pass = DeliveryPass::default();
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Ok(AttemptOutcome::Delivered)) => pass.delivered += 1,
                Ok(Ok(AttemptOutcome::Retry(_))) => pass.retried += 1,
                Ok(Ok(AttemptOutcome::Dead)) => pass.dead += 1,
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(ServiceError::Internal(anyhow::anyhow!(
                        "webhook attempt task: {e}"
                    )))
                }
            }
        }
        Ok(pass)
    }

    async fn attempt(
        &self,
        sender: &WebhookSender,
        due: DueDelivery,
    ) -> Result<AttemptOutcome, ServiceError> {
        let d = &due.delivery;
        let at = self.now();
        let ts = at.timestamp();
        let body = d.payload.clone().into_bytes();
        let started = Instant::now();
        let refused = refused_target(&due.url, sender.config.allow_private);
        let sent = match &refused {
            Some(_) => None,
            None => Some(
                sender
                    .http
                    .post(&due.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(headers::SIGNATURE, sign(&due.secret, ts, &body))
                    .header(headers::TIMESTAMP, ts.to_string())
                    .header(headers::DELIVERY, d.id.to_string())
                    .header(headers::EVENT, &d.event_type)
                    .body(body)
                    .send()
                    .await,
            ),
        };
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error) = match sent {
            None => (None, refused),
            Some(Ok(resp)) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
            Some(Ok(resp)) => (
                Some(resp.status().as_u16()),
                Some(format!("receiver answered {}", resp.status())),
            ),
            Some(Err(e)) => (
                None,
                Some(if e.is_timeout() {
                    format!("timed out after {:?}", sender.config.timeout)
                } else {
                    error_chain(&e)
                }),
            ),
        };
        let outcome = if error.is_none() {
            AttemptOutcome::Delivered
        } else {
            let failures = u32::try_from(d.failures + 1).unwrap_or(u32::MAX);
            match wh::next_retry(&sender.config.backoff, failures) {
                Some(wait) => AttemptOutcome::Retry(
                    self.now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(12)),
                ),
                None => AttemptOutcome::Dead,
            }
        };
        let attempt = WebhookAttempt {
            delivery_id: d.id,
            attempt: d.attempts + 1,
            at,
            status_code: status_code.map(i64::from),
            error,
            duration_ms,
        };
        self.store.finish_webhook_attempt(&attempt, outcome).await?;
        match outcome {
            AttemptOutcome::Delivered => {
                tracing::info!(delivery.id = %d.id, event = %d.event_type, attempt = attempt.attempt, "webhook delivered")
            }
            AttemptOutcome::Retry(next) => {
                tracing::warn!(delivery.id = %d.id, attempt = attempt.attempt, error = ?attempt.error, %next, "webhook failed; will retry")
            }
            AttemptOutcome::Dead => {
                tracing::warn!(delivery.id = %d.id, attempt = attempt.attempt, error = ?attempt.error, "webhook failed; dead letter")
            }
        }
        Ok(outcome)
    }
}

/// An error with its causes (reqwest hides the resolver's reason in a source).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !out.contains(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_secret_timestamp_and_body() {
        let sig = sign("0123456789abcdef", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 71, "{sig}");
        assert!(verify("0123456789abcdef", "1700000000", b"{\"a\":1}", &sig));
        assert!(!verify(
            "0123456789abcdeF",
            "1700000000",
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify(
            "0123456789abcdef",
            "1700000001",
            b"{\"a\":1}",
            &sig
        ));
        assert!(!verify(
            "0123456789abcdef",
            "1700000000",
            b"{\"a\":2}",
            &sig
        ));
        assert!(!verify(
            "0123456789abcdef",
            "1700000000",
            b"{\"a\":1}",
            "sha256=zz"
        ));
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"key", b"1.x", hashlib.sha256).hexdigest())'
        assert_eq!(
            sign("key", 1, b"x"),
            "sha256=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec"
        );
    }

    #[test]
    fn private_and_special_receivers_are_refused_unless_the_operator_allows_them() {
        for bad in [
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://api.localhost./x",
            "http://10.0.0.7/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let e = check_url(bad, false).unwrap_err();
            assert!(
                matches!(&e, ServiceError::Invalid { field, .. } if field == "url"),
                "{bad}: {e}"
            );
            assert!(
                check_url(bad, true).is_ok(),
                "{bad} allowed by the operator"
            );
            assert!(refused_target(bad, true).is_none());
        }
        assert!(refused_target("http://[::ffff:10.0.0.1]:80/", false).is_some());
        assert!(refused_target("https://hooks.example.cn/", false).is_none());
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let strict = CheckedResolver {
            allow_private: false,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err());
        let open = CheckedResolver {
            allow_private: true,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(open.resolve(name).await.is_ok());
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_no_credentials() {
        assert!(check_url("https://hooks.example.cn/cityloop", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/x?y=1", true).is_ok());
        for bad in [
            "ftp://example.cn/",
            "example.cn/hook",
            "http://user:pw@example.cn/",
            "https://example.cn/#frag",
            "javascript:alert(1)",
        ] {
            let e = check_url(bad, true).unwrap_err();
            assert!(
                matches!(&e, ServiceError::Invalid { field, .. } if field == "url"),
                "{bad}: {e}"
            );
        }
    }
}
