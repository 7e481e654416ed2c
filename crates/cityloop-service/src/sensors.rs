//! The sensor intake (污染防治联动, issue 19): sites and devices (admin, audited), the
//! payload check shared by MQTT and `POST /api/v1/telemetry`, the alarm rules' evaluation
//! and the cases episodes open, and the offline pass (设备离线).
//!
//! A payload is JSON, at most [`MAX_PAYLOAD_BYTES`]:
//! `{"device": "D1", "at": "2026-12-01T08:00:00Z", "metrics": {"pm10": {"value": 180.5,
//! "unit": "ug/m3"}, "battery": {"value": 87}}}` (`device` optional; it must name the
//! topic's or the authenticated device). A bad payload is dropped whole, counted by reason
//! ([`Intake::dropped`]) and logged; it never opens a case.
//!
//! The readings of one device are evaluated one at a time (a lock per device shard): the
//! rule states are read, the domain's [`RuleState::observe`] decides, a case is opened
//! through [`Services::report_case`] (the normal intake path and pipeline; its
//! `external_ref` is `sensor:<device>:<rule>:<start>`, so a replay after a crash finds the
//! case it opened instead of opening a second), and then the states, the device's last
//! seen time and the case's sensor log are written in one transaction.
//!
//! The MQTT subscriber is in [`mqtt`].

pub mod demo;
pub mod mqtt;
pub mod series;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use cityloop_domain::ids::CaseId;
use cityloop_domain::model::{Actor, CategoryCode, Person, Priority, Source};
use cityloop_domain::sensor::{
    self, check_time, check_value, Device, DropReason, Episode, Outcome, RuleSet, RuleState, Site,
    SiteKind,
};
use cityloop_store::{
    AdminOp, DeviceRow, ReadingValue, RuleStateRow, SensorLogRow, SensorRecord, Store,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::admin::require_admin;
use crate::cases::ReportInput;
use crate::{ServiceError, Services};

/// Largest payload accepted (MQTT message or HTTP body).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most metrics in one payload.
pub const MAX_METRICS: usize = 32;
/// The setting holding the district's alarm rules (else the shipped default).
pub const SETTING_RULES: &str = "sensor_rules";
/// The shipped default rules: every threshold is marked an invented default or cited.
pub const DEFAULT_RULES: &str = include_str!("../../../data/demo/sensor_rules.json");
/// Longest name or free-text field of a site or device.
pub const MAX_TEXT_CHARS: usize = 200;
/// Most rows in one CSV import.
pub const MAX_IMPORT_ROWS: usize = 5000;

const LOCK_SHARDS: usize = 64;

/// How the MQTT connection is doing, for `/healthz`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BrokerState {
    /// No broker configured (`--mqtt-url` not given).
    #[default]
    Disabled,
    Connecting,
    Connected,
    /// The broker is away; reconnecting with backoff.
    Down,
}

/// The intake's shared state: rules, counters, broker health, per-device locks.
pub struct Intake {
    rules: RwLock<Arc<RuleSet>>,
    dropped: Mutex<BTreeMap<DropReason, u64>>,
    accepted: AtomicU64,
    broker: Mutex<(BrokerState, Option<String>)>,
    locks: Vec<tokio::sync::Mutex<()>>,
    /// How many days raw readings are kept ([`series::DEFAULT_RAW_DAYS`]).
    raw_days: std::sync::atomic::AtomicI64,
}

impl Default for Intake {
    fn default() -> Self {
        Intake::with_rules(default_rules())
    }
}

/// The shipped rules (they are checked by a test, so this does not fail).
fn default_rules() -> RuleSet {
    RuleSet::from_json(DEFAULT_RULES).unwrap_or_default()
}

impl Intake {
    pub fn with_rules(rules: RuleSet) -> Self {
        Intake {
            rules: RwLock::new(Arc::new(rules)),
            dropped: Mutex::default(),
            accepted: AtomicU64::new(0),
            broker: Mutex::default(),
            locks: (0..LOCK_SHARDS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            raw_days: std::sync::atomic::AtomicI64::new(series::DEFAULT_RAW_DAYS),
        }
    }

    /// Loads the district's rules from the store (the shipped default when none are set).
    pub async fn load(store: &dyn Store) -> Result<Self, ServiceError> {
        let rules = match store.get_setting(SETTING_RULES).await? {
            Some(v) => RuleSet::from_json(&v.to_string()).map_err(|e| {
                ServiceError::NotConfigured(format!("setting {SETTING_RULES}: {e}"))
            })?,
            None => default_rules(),
        };
        Ok(Intake::with_rules(rules))
    }

    /// Sets how many days raw readings are kept (the server's `--sensor-raw-days`);
    /// refused below [`series::MIN_RAW_DAYS`].
    pub fn set_raw_days(&self, days: i64) -> Result<(), String> {
        if !(series::MIN_RAW_DAYS..=series::MAX_RAW_DAYS).contains(&days) {
            return Err(format!(
                "{days}: from {} to {} days (raw readings must outlive the {} h a device may lag)",
                series::MIN_RAW_DAYS,
                series::MAX_RAW_DAYS,
                sensor::MAX_PAST_SECS / 3600
            ));
        }
        self.raw_days.store(days, Ordering::Relaxed);
        Ok(())
    }

    pub fn raw_days(&self) -> i64 {
        self.raw_days.load(Ordering::Relaxed)
    }

    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_rules(&self, rules: RuleSet) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    /// Counts a dropped payload.
    pub fn count_drop(&self, reason: DropReason) {
        *self
            .dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// Dropped payloads by reason since start.
    pub fn dropped(&self) -> BTreeMap<DropReason, u64> {
        self.dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn set_broker(&self, state: BrokerState, error: Option<String>) {
        *self.broker.lock().unwrap_or_else(|p| p.into_inner()) = (state, error);
    }

    pub fn broker(&self) -> (BrokerState, Option<String>) {
        self.broker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What `/healthz` shows of the intake.
    pub fn health(&self) -> IntakeHealth {
        let (broker, last_error) = self.broker();
        let status = match broker {
            BrokerState::Disabled | BrokerState::Connected => "ok",
            BrokerState::Connecting | BrokerState::Down => "degraded",
        };
        IntakeHealth {
            status,
            broker,
            last_error,
            accepted: self.accepted(),
            dropped: self
                .dropped()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
        }
    }

    fn lock_for(&self, device: &str) -> &tokio::sync::Mutex<()> {
        let h = device.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.locks[h % LOCK_SHARDS]
    }
}

/// The intake part of `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeHealth {
    /// `ok`, or `degraded` while the configured broker is away.
    pub status: &'static str,
    pub broker: BrokerState,
    pub last_error: Option<String>,
    pub accepted: u64,
    pub dropped: BTreeMap<String, u64>,
}

/// A payload that was dropped: the reason (counted) and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {field}: {detail}")]
pub struct Dropped {
    pub reason: DropReason,
    pub field: String,
    pub detail: String,
}

fn drop_(reason: DropReason, field: impl Into<String>, detail: impl Into<String>) -> Dropped {
    Dropped {
        reason,
        field: field.into(),
        detail: detail.into(),
    }
}

/// Where a payload came from.
#[derive(Debug, Clone, Copy)]
pub enum Channel<'a> {
    /// An MQTT message on `topic` (the broker authenticated the publisher; its ACL should
    /// let a device write only its own topic).
    Mqtt { topic: &'a str },
    /// `POST /api/v1/telemetry` with the device's id and secret.
    Http { device: &'a str, secret: &'a str },
}

/// What an accepted payload did.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Accepted {
    pub device: String,
    pub opened: Vec<CaseId>,
    pub reopened: Vec<CaseId>,
    pub cleared: Vec<CaseId>,
    /// The device's 设备离线 case it closed the gap of (data returned).
    pub back_online: Option<CaseId>,
}

/// The result of an intake call: accepted, dropped (counted), or a store failure (the
/// MQTT subscriber leaves such a message unacknowledged so the broker redelivers it).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Dropped(#[from] Dropped),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    #[serde(default)]
    device: Option<String>,
    at: DateTime<Utc>,
    metrics: BTreeMap<String, MetricValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricValue {
    /// A number; the strings "NaN", "Infinity", "-Infinity" are refused as not finite.
    value: serde_json::Value,
    #[serde(default)]
    unit: Option<String>,
}

/// A checked payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub device: String,
    pub at: DateTime<Utc>,
    pub values: Vec<(String, f64)>,
}

/// Checks a payload's size, JSON, shape, metrics and time (not the device).
pub fn parse_payload(
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<(Option<String>, Reading), Dropped> {
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(drop_(
            DropReason::TooLarge,
            "payload",
            format!("{} bytes, more than {MAX_PAYLOAD_BYTES}", bytes.len()),
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| drop_(DropReason::NotJson, "payload", e.to_string()))?;
    let p: Payload = serde_json::from_value(json)
        .map_err(|e| drop_(DropReason::BadShape, "payload", e.to_string()))?;
    if p.metrics.is_empty() || p.metrics.len() > MAX_METRICS {
        return Err(drop_(
            DropReason::BadShape,
            "metrics",
            format!("1 to {MAX_METRICS} metrics"),
        ));
    }
    check_time(p.at, now).map_err(|r| {
        drop_(
            r,
            "at",
            format!("device time {} against server time {now}", p.at),
        )
    })?;
    let mut values = Vec::with_capacity(p.metrics.len());
    for (name, m) in &p.metrics {
        let field = format!("metrics.{}", name.chars().take(64).collect::<String>());
        let v = match &m.value {
            serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            serde_json::Value::String(s)
                if matches!(
                    s.as_str(),
                    "NaN" | "Infinity" | "-Infinity" | "nan" | "inf" | "-inf"
                ) =>
            {
                f64::NAN
            }
            _ => return Err(drop_(DropReason::BadShape, field, "value must be a number")),
        };
        check_value(name, m.unit.as_deref(), v).map_err(|r| {
            let detail = match sensor::metric(name) {
                Some(d) => format!(
                    "{v} {:?}; expected {} from {} to {}",
                    m.unit, d.unit, d.min, d.max
                ),
                None => "not a known metric".to_owned(),
            };
            drop_(r, field.clone(), detail)
        })?;
        values.push((name.clone(), v));
    }
    Ok((
        p.device,
        Reading {
            device: String::new(),
            at: p.at,
            values,
        },
    ))
}

/// SHA-256 (hex) of a device secret.
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A site as an admin enters it.
#[derive(Debug, Clone, Deserialize)]
pub struct SiteInput {
    pub id: String,
    pub kind: SiteKind,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    pub street: Option<String>,
    pub responsible_party: Option<String>,
    pub unit_code: Option<String>,
    pub permit: Option<String>,
    pub contractor: Option<String>,
    pub demo: bool,
}

/// A device as an admin enters it.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceInput {
    pub id: String,
    pub site_id: String,
    /// The `<district>` of its topic; the district's code unless given.
    pub district: Option<String>,
    pub kind: String,
    pub metrics: Vec<String>,
    pub mqtt_username: Option<String>,
}

/// A device just registered, with its secret (shown this once).
#[derive(Debug, Clone, Serialize)]
pub struct NewDevice {
    pub device: Device,
    pub secret: String,
    pub topic: String,
}

fn opt_text(field: &str, v: Option<String>) -> Result<Option<String>, ServiceError> {
    match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > MAX_TEXT_CHARS || s.chars().any(char::is_control) => {
            Err(ServiceError::invalid(
                field,
                format!("at most {MAX_TEXT_CHARS} characters, no control characters"),
            ))
        }
        other => Ok(other),
    }
}

fn req_text(field: &str, v: String) -> Result<String, ServiceError> {
    opt_text(field, Some(v))?.ok_or_else(|| ServiceError::invalid(field, "must not be empty"))
}

fn check_id(field: &str, id: &str) -> Result<(), ServiceError> {
    if sensor::valid_id(id) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            field,
            format!(
                "1 to {} characters of A-Z a-z 0-9 - _",
                sensor::MAX_ID_CHARS
            ),
        ))
    }
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
}

fn new_secret() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 24];
    rand_core::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Services {
    // ---- admin: sites, devices, rules ----

    /// Creates or replaces a site (audited).
    pub async fn admin_put_site(
        &self,
        actor: &Person,
        input: SiteInput,
    ) -> Result<Site, ServiceError> {
        require_admin(actor)?;
        check_id("id", &input.id)?;
        if !(-180.0..=180.0).contains(&input.lon) || !(-90.0..=90.0).contains(&input.lat) {
            return Err(ServiceError::invalid(
                "lon",
                "lon -180..180 and lat -90..90 (WGS84)",
            ));
        }
        let site = Site {
            id: input.id,
            kind: input.kind,
            name: req_text("name", input.name)?,
            lon: input.lon,
            lat: input.lat,
            street: opt_text("street", input.street)?,
            responsible_party: opt_text("responsible_party", input.responsible_party)?,
            unit_code: opt_text("unit_code", input.unit_code)?,
            permit: opt_text("permit", input.permit)?,
            contractor: opt_text("contractor", input.contractor)?,
            demo: input.demo,
        };
        let before = self.store.sensor_site(&site.id).await?;
        let action = if before.is_some() { "update" } else { "create" };
        let before = before.map(|b| json(&b)).transpose()?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutSensorSite(site.clone())],
            "sensor_site",
            site.id.clone(),
            action,
            before,
            Some(json(&site)?),
        )
        .await?;
        Ok(site)
    }

    fn check_device(&self, input: DeviceInput) -> Result<Device, ServiceError> {
        check_id("id", &input.id)?;
        check_id("site_id", &input.site_id)?;
        let district = input.district.unwrap_or_else(|| self.district.code.clone());
        check_id("district", &district)?;
        if input.metrics.is_empty() || input.metrics.len() > MAX_METRICS {
            return Err(ServiceError::invalid(
                "metrics",
                format!("1 to {MAX_METRICS} metrics"),
            ));
        }
        for m in &input.metrics {
            if sensor::metric(m).is_none() {
                let known: Vec<_> = sensor::METRICS.iter().map(|m| m.name).collect();
                return Err(ServiceError::invalid(
                    "metrics",
                    format!("unknown metric {m:?} (known: {})", known.join(", ")),
                ));
            }
        }
        Ok(Device {
            id: input.id,
            site_id: input.site_id,
            district,
            kind: req_text("kind", input.kind)?,
            metrics: input.metrics,
            mqtt_username: opt_text("mqtt_username", input.mqtt_username)?,
        })
    }

    /// Registers a device with a new secret (shown once), or replaces one's fields and
    /// issues it a new secret (audited; the secret is never in the audit row).
    pub async fn admin_put_device(
        &self,
        actor: &Person,
        input: DeviceInput,
    ) -> Result<NewDevice, ServiceError> {
        require_admin(actor)?;
        let device = self.check_device(input)?;
        if self.store.sensor_site(&device.site_id).await?.is_none() {
            return Err(ServiceError::invalid(
                "site_id",
                format!("no site {:?}", device.site_id),
            ));
        }
        let before = self.store.sensor_device(&device.id).await?;
        let action = if before.is_some() { "update" } else { "create" };
        let before = before.map(|b| json(&b.device)).transpose()?;
        let secret = new_secret();
        self.admin_commit(
            actor,
            vec![AdminOp::PutSensorDevice {
                device: device.clone(),
                secret_hash: Some(secret_hash(&secret)),
            }],
            "sensor_device",
            device.id.clone(),
            action,
            before,
            Some(json(&device)?),
        )
        .await?;
        let topic = sensor::telemetry_topic(&device.district, &device.id);
        Ok(NewDevice {
            device,
            secret,
            topic,
        })
    }

    pub async fn admin_sites(&self, actor: &Person) -> Result<Vec<Site>, ServiceError> {
        require_admin(actor)?;
        Ok(self.store.sensor_sites().await?)
    }

    /// Devices by last seen (never seen first, then the longest silent).
    pub async fn admin_devices(&self, actor: &Person) -> Result<Vec<DeviceRow>, ServiceError> {
        require_admin(actor)?;
        let mut d = self.store.sensor_devices().await?;
        d.sort_by_key(|r| r.last_seen_at);
        Ok(d)
    }

    /// Replaces the district's alarm rules (audited as the setting `sensor_rules`).
    pub async fn admin_put_sensor_rules(
        &self,
        actor: &Person,
        rules: RuleSet,
    ) -> Result<(), ServiceError> {
        require_admin(actor)?;
        rules.validate().map_err(|e| {
            ServiceError::invalid(format!("rules.{}.{}", e.rule, e.field), e.message)
        })?;
        let cache = self.cached();
        for r in &rules.rules {
            if !cache.categories.contains_key(&r.category) {
                return Err(ServiceError::invalid(
                    format!("rules.{}.category", r.id),
                    format!("unknown category {}", r.category),
                ));
            }
        }
        let value = json(&rules)?;
        let before = json(&*self.sensors.rules())?;
        self.admin_commit(
            actor,
            vec![AdminOp::PutSetting {
                key: SETTING_RULES.into(),
                value: value.clone(),
            }],
            "sensor_rules",
            SETTING_RULES.into(),
            "update",
            Some(before),
            Some(value),
        )
        .await?;
        self.sensors.set_rules(rules);
        Ok(())
    }

    /// Imports sites and devices from CSV (header row; one row per device, its site's
    /// columns repeated): `site_id,site_kind,site_name,lon,lat,street,responsible_party,
    /// unit_code,permit,contractor,device_id,device_kind,metrics` (metrics separated by
    /// `;`). Every row is checked before anything is written; each site and device is one
    /// audited change. Returns the new devices with their secrets.
    pub async fn admin_import_sensors_csv(
        &self,
        actor: &Person,
        csv_text: &str,
    ) -> Result<Vec<NewDevice>, ServiceError> {
        require_admin(actor)?;
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(csv_text.as_bytes());
        let mut rows: Vec<(SiteInput, DeviceInput)> = Vec::new();
        for (i, rec) in rdr.deserialize::<CsvRow>().enumerate() {
            let line = i + 2;
            let r =
                rec.map_err(|e| ServiceError::invalid(format!("csv.line{line}"), e.to_string()))?;
            if rows.len() >= MAX_IMPORT_ROWS {
                return Err(ServiceError::invalid(
                    "csv",
                    format!("at most {MAX_IMPORT_ROWS} rows"),
                ));
            }
            let site = SiteInput {
                id: r.site_id,
                kind: r
                    .site_kind
                    .parse()
                    .map_err(|e: cityloop_domain::model::UnknownValue| {
                        ServiceError::invalid(format!("csv.line{line}.site_kind"), e.to_string())
                    })?,
                name: r.site_name,
                lon: r.lon,
                lat: r.lat,
                street: r.street,
                responsible_party: r.responsible_party,
                unit_code: r.unit_code,
                permit: r.permit,
                contractor: r.contractor,
                demo: false,
            };
            let dev = DeviceInput {
                id: r.device_id,
                site_id: site.id.clone(),
                district: None,
                kind: r.device_kind,
                metrics: r
                    .metrics
                    .split(';')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect(),
                mqtt_username: None,
            };
            self.check_device(dev.clone())
                .map_err(|e| prefix_field(e, &format!("csv.line{line}.")))?;
            check_id(&format!("csv.line{line}.site_id"), &site.id)?;
            rows.push((site, dev));
        }
        let mut out = Vec::new();
        let mut done_sites = std::collections::HashSet::new();
        for (site, dev) in rows {
            if done_sites.insert(site.id.clone()) {
                self.admin_put_site(actor, site).await?;
            }
            out.push(self.admin_put_device(actor, dev).await?);
        }
        Ok(out)
    }

    /// A case's sensor log (opened, reopened, cleared, offline, online), oldest first.
    pub async fn case_sensor_log(&self, case: CaseId) -> Result<Vec<SensorLogRow>, ServiceError> {
        Ok(self.store.sensor_case_log(case).await?)
    }

    // ---- intake ----

    /// Takes one payload in. A drop is counted and logged here.
    pub async fn ingest(&self, ch: Channel<'_>, bytes: &[u8]) -> Result<Accepted, IngestError> {
        match self.ingest_inner(ch, bytes).await {
            Err(IngestError::Dropped(d)) => {
                self.sensors.count_drop(d.reason);
                tracing::warn!(sensor.reason = d.reason.as_str(), field = %d.field, "dropped sensor payload: {d}");
                Err(IngestError::Dropped(d))
            }
            other => other,
        }
    }

    async fn ingest_inner(&self, ch: Channel<'_>, bytes: &[u8]) -> Result<Accepted, IngestError> {
        let now = self.now();
        let (named, mut reading) = parse_payload(bytes, now)?;
        let device_id = match ch {
            Channel::Mqtt { topic } => {
                let (_, dev) = sensor::parse_topic(topic).ok_or_else(|| {
                    drop_(
                        DropReason::WrongTopic,
                        "topic",
                        "not cityloop/<district>/<device>/telemetry",
                    )
                })?;
                dev.to_owned()
            }
            Channel::Http { device, .. } => device.to_owned(),
        };
        if named.as_ref().is_some_and(|n| *n != device_id) {
            return Err(drop_(
                DropReason::WrongTopic,
                "device",
                "names another device than the topic or credentials",
            )
            .into());
        }
        let row = self
            .store
            .sensor_device(&device_id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| drop_(DropReason::UnknownDevice, "device", "no such device"))?;
        match ch {
            Channel::Mqtt { topic } => {
                let district = sensor::parse_topic(topic).map(|t| t.0).unwrap_or_default();
                if district != row.device.district {
                    return Err(drop_(
                        DropReason::WrongTopic,
                        "topic",
                        "the device belongs to another district",
                    )
                    .into());
                }
            }
            Channel::Http { secret, .. } => {
                if secret_hash(secret) != row.secret_hash {
                    return Err(drop_(
                        DropReason::BadCredentials,
                        "Authorization",
                        "wrong device secret",
                    )
                    .into());
                }
            }
        }
        reading.device = device_id;
        Ok(self.evaluate(row, reading, now).await?)
    }

    /// Runs the rules over a checked reading and writes what it changed.
    async fn evaluate(
        &self,
        row: DeviceRow,
        reading: Reading,
        now: DateTime<Utc>,
    ) -> Result<Accepted, ServiceError> {
        let _guard = self.sensors.lock_for(&reading.device).lock().await;
        let device = &row.device;
        let site = self
            .store
            .sensor_site(&device.site_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("site {}", device.site_id)))?;
        let rules = self.sensors.rules();
        let mut states: BTreeMap<String, RuleStateRow> = self
            .store
            .sensor_rule_states(&device.id)
            .await?
            .into_iter()
            .map(|s| (s.rule_id.clone(), s))
            .collect();
        let mut acc = Accepted {
            device: device.id.clone(),
            ..Accepted::default()
        };
        let mut rec = SensorRecord {
            device_id: device.id.clone(),
            now,
            seen: true,
            status: status_of(&reading),
            readings: reading
                .values
                .iter()
                .map(|(metric, value)| ReadingValue {
                    metric: metric.clone(),
                    at: reading.at,
                    value: *value,
                })
                .collect(),
            received_at: Some(now),
            ..SensorRecord::default()
        };
        let mut changed = Vec::new();
        for (metric, value) in &reading.values {
            for rule in rules.effective(&site.id, site.kind, metric) {
                let st = states
                    .entry(rule.id.clone())
                    .or_insert_with(|| RuleStateRow {
                        rule_id: rule.id.clone(),
                        state: RuleState::default(),
                        case_id: None,
                    });
                let outcome = st.state.observe(&rule, reading.at, *value);
                if outcome == Outcome::Stale {
                    continue;
                }
                changed.push(rule.id.clone());
                let (kind, ep) = match &outcome {
                    Outcome::Opened(ep) => {
                        let case = self.open_episode_case(&site, device, &rule, ep).await?;
                        st.case_id = Some(case);
                        acc.opened.push(case);
                        ("opened", ep)
                    }
                    Outcome::Reopened(ep) => {
                        acc.reopened.extend(st.case_id);
                        ("reopened", ep)
                    }
                    Outcome::Cleared(ep) => {
                        acc.cleared.extend(st.case_id);
                        ("cleared", ep)
                    }
                    Outcome::Stale | Outcome::Quiet => continue,
                };
                if let Some(case_id) = st.case_id {
                    rec.log.push(SensorLogRow {
                        id: uuid::Uuid::now_v7(),
                        case_id,
                        device_id: device.id.clone(),
                        rule_id: rule.id.clone(),
                        at: reading.at,
                        kind: kind.into(),
                        summary: episode_summary(ep, &rule),
                    });
                    tracing::info!(case.id = %case_id, device = %device.id, rule = %rule.id, kind, "sensor episode {kind}");
                }
            }
        }
        rec.states = states
            .into_values()
            .filter(|s| changed.contains(&s.rule_id))
            .collect();
        if let Some(case_id) = row.offline_case_id {
            rec.offline_case = Some(None);
            rec.log.push(SensorLogRow {
                id: uuid::Uuid::now_v7(),
                case_id,
                device_id: device.id.clone(),
                rule_id: "offline".into(),
                at: now,
                kind: "online".into(),
                summary: serde_json::json!({ "last_seen_at": row.last_seen_at, "back_at": now }),
            });
            acc.back_online = Some(case_id);
        }
        self.store.sensor_record(&rec).await?;
        self.sensors.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(acc)
    }

    /// Opens the case of a new episode through the normal intake path (routing, number,
    /// pipeline), or finds the one a replay already opened (same `external_ref`).
    async fn open_episode_case(
        &self,
        site: &Site,
        device: &Device,
        rule: &sensor::AlarmRule,
        ep: &Episode,
    ) -> Result<CaseId, ServiceError> {
        let def = sensor::metric(&rule.metric);
        let unit = def.map_or("", |d| d.unit);
        let external_ref = format!(
            "sensor:{}:{}:{}",
            device.id,
            rule.id,
            ep.tally.started_at.timestamp()
        );
        let description = format!(
            "传感器告警:{}。{}「{}」,设备 {}。{}滑动均值高于 {} {unit},持续 {} 分钟;峰值 {:.1} {unit},均值 {:.1} {unit}。",
            rule.name_zh,
            site.kind.zh(),
            site.name,
            device.id,
            def.map_or(rule.metric.as_str(), |d| d.zh),
            rule.open_above,
            ep.exceedance_secs / 60,
            ep.tally.peak,
            ep.tally.mean(),
        );
        self.report_sensor_case(
            site,
            device,
            rule.category.clone(),
            rule.priority,
            description,
            external_ref,
        )
        .await
    }

    async fn report_sensor_case(
        &self,
        site: &Site,
        device: &Device,
        category: CategoryCode,
        priority: Priority,
        description: String,
        external_ref: String,
    ) -> Result<CaseId, ServiceError> {
        if let Some(id) = self.store.sensor_case_by_ref(&external_ref).await? {
            return Ok(id);
        }
        let input = ReportInput {
            source: Source::Sensor,
            priority,
            category,
            area_grade: None,
            description,
            lon: site.lon,
            lat: site.lat,
            address: Some(site.name.clone()),
            reporter: cityloop_domain::case::Contact {
                device_id: Some(device.id.clone()),
                ..Default::default()
            },
            media: vec![],
            external_ref: Some(external_ref),
        };
        Ok(self.report_case(&Actor::system(), input).await?.id)
    }

    /// The offline pass: every device silent for the rules' `offline_after_secs` without
    /// an open 设备离线 case gets one (category `offline_category`). Returns the cases opened.
    pub async fn sensor_offline_pass(&self) -> Result<Vec<CaseId>, ServiceError> {
        let now = self.now();
        let rules = self.sensors.rules();
        let mut opened = Vec::new();
        for row in self.store.sensor_devices().await? {
            let Some(last) = row.last_seen_at else {
                continue;
            };
            if row.offline_case_id.is_some()
                || !sensor::is_offline(last, now, rules.offline_after_secs)
            {
                continue;
            }
            let _guard = self.sensors.lock_for(&row.device.id).lock().await;
            // Re-read under the lock: a reading may have arrived meanwhile.
            let Some(row) = self.store.sensor_device(&row.device.id).await? else {
                continue;
            };
            let Some(last) = row.last_seen_at else {
                continue;
            };
            if row.offline_case_id.is_some()
                || !sensor::is_offline(last, now, rules.offline_after_secs)
            {
                continue;
            }
            let Some(site) = self.store.sensor_site(&row.device.site_id).await? else {
                continue;
            };
            let description = format!(
                "设备离线:{}「{}」的{}(设备 {})自 {} 起无数据,超过 {} 分钟。请设备权属单位检修。",
                site.kind.zh(),
                site.name,
                row.device.kind,
                row.device.id,
                last.with_timezone(&self.calendar().tz())
                    .format("%Y-%m-%d %H:%M"),
                rules.offline_after_secs / 60,
            );
            let external_ref = format!("sensor-offline:{}:{}", row.device.id, last.timestamp());
            let Some(category) = rules.offline_category.clone() else {
                continue;
            };
            let case = self
                .report_sensor_case(
                    &site,
                    &row.device,
                    category,
                    Priority::Normal,
                    description,
                    external_ref,
                )
                .await?;
            self.store
                .sensor_record(&SensorRecord {
                    device_id: row.device.id.clone(),
                    now,
                    offline_case: Some(Some(case)),
                    log: vec![SensorLogRow {
                        id: uuid::Uuid::now_v7(),
                        case_id: case,
                        device_id: row.device.id.clone(),
                        rule_id: "offline".into(),
                        at: now,
                        kind: "offline".into(),
                        summary: serde_json::json!({ "last_seen_at": last, "offline_after_secs": rules.offline_after_secs }),
                    }],
                    ..SensorRecord::default()
                })
                .await?;
            tracing::info!(case.id = %case, device = %row.device.id, "device offline case opened");
            opened.push(case);
        }
        Ok(opened)
    }
}

fn prefix_field(e: ServiceError, prefix: &str) -> ServiceError {
    match e {
        ServiceError::Invalid { field, message } => ServiceError::Invalid {
            field: format!("{prefix}{field}"),
            message,
        },
        other => other,
    }
}

/// Battery and signal figures of a reading, kept as the device's last status.
fn status_of(r: &Reading) -> Option<serde_json::Value> {
    let m: serde_json::Map<String, serde_json::Value> = r
        .values
        .iter()
        .filter(|(k, _)| k == "battery" || k == "signal")
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    (!m.is_empty()).then_some(serde_json::Value::Object(m))
}

/// The figures a case shows of its episode.
fn episode_summary(ep: &Episode, rule: &sensor::AlarmRule) -> serde_json::Value {
    serde_json::json!({
        "metric": rule.metric,
        "unit": sensor::metric(&rule.metric).map(|d| d.unit),
        "threshold": rule.open_above,
        "clear_below": rule.clear_below,
        "started_at": ep.tally.started_at,
        "opened_at": ep.opened_at,
        "cleared_at": ep.cleared_at,
        "last_at": ep.tally.last_at,
        "peak": ep.tally.peak,
        "peak_mean": ep.tally.peak_mean,
        "mean": ep.tally.mean(),
        "readings": ep.tally.count,
        "exceedance_secs": ep.exceedance_secs,
        "reopen_count": ep.reopen_count,
    })
}

#[derive(Debug, Deserialize)]
struct CsvRow {
    site_id: String,
    site_kind: String,
    site_name: String,
    lon: f64,
    lat: f64,
    #[serde(default)]
    street: Option<String>,
    #[serde(default)]
    responsible_party: Option<String>,
    #[serde(default)]
    unit_code: Option<String>,
    #[serde(default)]
    permit: Option<String>,
    #[serde(default)]
    contractor: Option<String>,
    device_id: String,
    device_kind: String,
    metrics: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    fn reason(bytes: &[u8]) -> DropReason {
        parse_payload(bytes, now()).unwrap_err().reason
    }

    #[test]
    fn every_bad_payload_is_refused_with_its_reason() {
        let at = now().to_rfc3339();
        assert_eq!(
            reason(&vec![b' '; MAX_PAYLOAD_BYTES + 1]),
            DropReason::TooLarge
        );
        assert_eq!(reason(b"pm10=3"), DropReason::NotJson);
        assert_eq!(reason(br#"{"at": 3}"#), DropReason::BadShape);
        let p = |m: &str| format!(r#"{{"at":"{at}","metrics":{{{m}}}}}"#);
        assert_eq!(
            reason(p(r#""pm11":{"value":1}"#).as_bytes()),
            DropReason::UnknownMetric
        );
        assert_eq!(
            reason(p(r#""pm10":{"value":"NaN"}"#).as_bytes()),
            DropReason::NotFinite
        );
        assert_eq!(
            reason(p(r#""pm10":{"value":-5}"#).as_bytes()),
            DropReason::OutOfRange
        );
        assert_eq!(
            reason(p(r#""pm10":{"value":5,"unit":"mg/m3"}"#).as_bytes()),
            DropReason::WrongUnit
        );
        let future = (now() + chrono::Duration::hours(1)).to_rfc3339();
        let body = format!(r#"{{"at":"{future}","metrics":{{"pm10":{{"value":5}}}}}}"#);
        assert_eq!(reason(body.as_bytes()), DropReason::TooFarFuture);
        let (dev, r) = parse_payload(
            p(r#""pm10":{"value":80.5,"unit":"ug/m3"},"battery":{"value":90}"#).as_bytes(),
            now(),
        )
        .unwrap();
        assert_eq!(dev, None);
        assert_eq!(
            r.values,
            vec![("battery".to_owned(), 90.0), ("pm10".to_owned(), 80.5)]
        );
        assert_eq!(status_of(&r), Some(serde_json::json!({"battery": 90.0})));
    }

    #[test]
    fn shipped_rules_load() {
        let r = default_rules();
        assert!(r.rules.iter().any(|r| r.metric == "pm10"));
    }
}
