//! Sensor alarm rules (污染防治联动): from a device's readings to episodes, pure.
//!
//! A rule watches one metric of one device: the rolling mean over `window_secs` must stay
//! above `open_above` for `open_hold_secs` to open an episode, and below the lower
//! `clear_below` for `clear_hold_secs` to clear it (hysteresis: a dip under the open
//! threshold but above the clear threshold clears nothing). A new exceedance that starts
//! within `reopen_within_secs` of a clearing reopens the same episode (the same case);
//! later, it opens a new one. This follows ThingsBoard's alarm rules (condition held for a
//! duration, a clear condition, one active alarm per device and type).
//!
//! [`RuleState`] is a plain serialisable value: the store persists it after every
//! reading, so a restart in the middle of a hold continues the hold. Time is the device's
//! reading time, never a clock read here; a reading not later than the last one evaluated
//! is [`Outcome::Stale`] (an MQTT QoS 1 redelivery is therefore harmless).
//!
//! What this module does not do: parse JSON payloads, authenticate devices, store
//! anything or create cases (that is `cityloop-service`'s sensor intake).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{string_enum, CategoryCode, Priority};

/// A metric a device may report: its name on the wire, unit and physical range.
///
/// The ranges are sanity bounds of what a sensor can physically report (an invented
/// default, not a legal limit): a value outside is a faulty reading, dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub zh: &'static str,
    pub min: f64,
    pub max: f64,
}

/// Every metric the intake accepts.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "pm10",
        unit: "ug/m3",
        zh: "PM10",
        min: 0.0,
        max: 10_000.0,
    },
    MetricDef {
        name: "pm2_5",
        unit: "ug/m3",
        zh: "PM2.5",
        min: 0.0,
        max: 10_000.0,
    },
    MetricDef {
        name: "noise",
        unit: "dB(A)",
        zh: "噪声",
        min: 0.0,
        max: 200.0,
    },
    MetricDef {
        name: "cod",
        unit: "mg/L",
        zh: "化学需氧量",
        min: 0.0,
        max: 100_000.0,
    },
    MetricDef {
        name: "nh3_n",
        unit: "mg/L",
        zh: "氨氮",
        min: 0.0,
        max: 10_000.0,
    },
    MetricDef {
        name: "ph",
        unit: "pH",
        zh: "pH值",
        min: 0.0,
        max: 14.0,
    },
    MetricDef {
        name: "battery",
        unit: "%",
        zh: "电量",
        min: 0.0,
        max: 100.0,
    },
    MetricDef {
        name: "signal",
        unit: "dBm",
        zh: "信号强度",
        min: -150.0,
        max: 0.0,
    },
];

/// The metric of that wire name.
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

/// A device time may be at most this far ahead of the server's clock (clock skew).
pub const MAX_FUTURE_SECS: i64 = 300;
/// A device time may be at most this far behind the server's clock (readings buffered on
/// the device or the broker while the server was down). Invented default.
pub const MAX_PAST_SECS: i64 = 48 * 3600;

string_enum!(
    /// Why a payload or reading was dropped; each is counted and logged.
    DropReason {
        TooLarge = "too_large",
        NotJson = "not_json",
        BadShape = "bad_shape",
        UnknownDevice = "unknown_device",
        BadCredentials = "bad_credentials",
        WrongTopic = "wrong_topic",
        UnknownMetric = "unknown_metric",
        WrongUnit = "wrong_unit",
        NotFinite = "not_finite",
        OutOfRange = "out_of_range",
        TooFarFuture = "too_far_future",
        TooFarPast = "too_far_past",
        /// Well-formed, but the case it should open was refused (logged with the error).
        Refused = "refused",
    }
);

/// Checks one metric value against its definition: known metric, its unit (when the
/// device names one), a finite value within the physical range.
pub fn check_value(
    name: &str,
    unit: Option<&str>,
    value: f64,
) -> Result<&'static MetricDef, DropReason> {
    let def = metric(name).ok_or(DropReason::UnknownMetric)?;
    if unit.is_some_and(|u| u != def.unit) {
        return Err(DropReason::WrongUnit);
    }
    if !value.is_finite() {
        return Err(DropReason::NotFinite);
    }
    if value < def.min || value > def.max {
        return Err(DropReason::OutOfRange);
    }
    Ok(def)
}

/// Checks a device time against the server's clock ([`MAX_FUTURE_SECS`], [`MAX_PAST_SECS`]).
pub fn check_time(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), DropReason> {
    if at > now + Duration::seconds(MAX_FUTURE_SECS) {
        return Err(DropReason::TooFarFuture);
    }
    if at < now - Duration::seconds(MAX_PAST_SECS) {
        return Err(DropReason::TooFarPast);
    }
    Ok(())
}

string_enum!(
    /// What kind of place a site is.
    SiteKind {
        /// 工地: a building site with a permit and a contractor.
        BuildingSite = "building_site",
        /// 排污口: a sewage outfall.
        SewageOutfall = "sewage_outfall",
        /// 道路: a road section.
        RoadSection = "road_section",
        Other = "other",
    }
);

impl SiteKind {
    pub fn zh(self) -> &'static str {
        match self {
            SiteKind::BuildingSite => "工地",
            SiteKind::SewageOutfall => "排污口",
            SiteKind::RoadSection => "道路",
            SiteKind::Other => "其他",
        }
    }
}

/// A monitored place: a building site with its permit and contractor, a sewage outfall, a
/// road section. Written by admins (audited), or imported from CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Site {
    /// 1 to 64 characters of `A-Z a-z 0-9 - _`.
    pub id: String,
    pub kind: SiteKind,
    pub name: String,
    /// WGS84.
    pub lon: f64,
    pub lat: f64,
    #[serde(default)]
    pub street: Option<String>,
    /// The responsible party (建设单位/施工单位/排污单位).
    #[serde(default)]
    pub responsible_party: Option<String>,
    /// The code of the responsible unit (shown with the site; cases are routed like any).
    #[serde(default)]
    pub unit_code: Option<String>,
    /// 施工许可证号 (building sites).
    #[serde(default)]
    pub permit: Option<String>,
    /// 施工单位 (building sites).
    #[serde(default)]
    pub contractor: Option<String>,
    /// Demo data (演示): shown with that label.
    #[serde(default)]
    pub demo: bool,
}

/// A device on a site. Its secret is stored only as a hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    /// 1 to 64 characters of `A-Z a-z 0-9 - _`; the `<device>` of its MQTT topic.
    pub id: String,
    pub site_id: String,
    /// The `<district>` of its MQTT topic.
    pub district: String,
    /// What it is (扬尘监测仪, 水质探头, 噪声监测仪 …).
    pub kind: String,
    /// The metrics it reports (wire names of [`METRICS`]).
    pub metrics: Vec<String>,
    /// The MQTT username the broker's ACL gives it, if any.
    #[serde(default)]
    pub mqtt_username: Option<String>,
}

/// Longest id of a site or device.
pub const MAX_ID_CHARS: usize = 64;

/// Checks a site or device id (also an MQTT topic level: no `/`, `+`, `#`).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The MQTT topic a device publishes its readings on.
pub fn telemetry_topic(district: &str, device: &str) -> String {
    format!("cityloop/{district}/{device}/telemetry")
}

/// The (district, device) of a telemetry topic, if it has the scheme's shape.
pub fn parse_topic(topic: &str) -> Option<(&str, &str)> {
    let mut parts = topic.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("cityloop"), Some(d), Some(dev), Some("telemetry"), None)
            if valid_id(d) && valid_id(dev) =>
        {
            Some((d, dev))
        }
        _ => None,
    }
}

/// One alarm rule (district data, see `data/demo/sensor_rules.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRule {
    pub id: String,
    pub name_zh: String,
    pub metric: String,
    /// The site kinds the rule watches (empty: every kind).
    #[serde(default)]
    pub site_kinds: Vec<SiteKind>,
    /// The rolling mean is taken over this many seconds of readings.
    pub window_secs: i64,
    pub open_above: f64,
    pub open_hold_secs: i64,
    pub clear_below: f64,
    pub clear_hold_secs: i64,
    /// A new exceedance starting within this many seconds of a clearing reopens the
    /// episode (same case); later, a new episode (new case).
    pub reopen_within_secs: i64,
    pub category: CategoryCode,
    pub priority: Priority,
    /// Where the thresholds come from, or "invented default" and why.
    pub provenance: String,
}

/// A site's own thresholds or holds for one rule (None keeps the rule's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteOverride {
    pub site: String,
    pub rule: String,
    #[serde(default)]
    pub open_above: Option<f64>,
    #[serde(default)]
    pub clear_below: Option<f64>,
    #[serde(default)]
    pub open_hold_secs: Option<i64>,
    #[serde(default)]
    pub clear_hold_secs: Option<i64>,
}

/// The district's alarm rules and per-site overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// The data file's notice (where the figures come from).
    #[serde(default, rename = "_notice")]
    pub notice: String,
    pub rules: Vec<AlarmRule>,
    #[serde(default)]
    pub overrides: Vec<SiteOverride>,
    /// No data for this many seconds makes a device offline (设备离线).
    pub offline_after_secs: i64,
    /// The category of a 设备离线 maintenance case (None: no such cases).
    #[serde(default)]
    pub offline_category: Option<CategoryCode>,
}

/// A rule set that cannot work, naming the rule and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alarm rule {rule}: {field} {message}")]
pub struct RuleError {
    pub rule: String,
    pub field: &'static str,
    pub message: String,
}

/// The longest window or hold a rule may have (7 days).
pub const MAX_RULE_SECS: i64 = 7 * 24 * 3600;

impl AlarmRule {
    /// Checks that the rule can work: a known metric, positive window, holds in range,
    /// clear threshold not above the open threshold.
    pub fn validate(&self) -> Result<(), RuleError> {
        let err = |field, message: &str| RuleError {
            rule: self.id.clone(),
            field,
            message: message.into(),
        };
        if self.id.is_empty() || self.id.len() > 64 {
            return Err(err("id", "must be 1 to 64 characters"));
        }
        if metric(&self.metric).is_none() {
            return Err(err("metric", "is not a known metric"));
        }
        if !(1..=MAX_RULE_SECS).contains(&self.window_secs) {
            return Err(err("window_secs", "must be 1 s to 7 days"));
        }
        for (field, v) in [
            ("open_hold_secs", self.open_hold_secs),
            ("clear_hold_secs", self.clear_hold_secs),
            ("reopen_within_secs", self.reopen_within_secs),
        ] {
            if !(0..=MAX_RULE_SECS).contains(&v) {
                return Err(err(field, "must be 0 s to 7 days"));
            }
        }
        if !self.open_above.is_finite() || !self.clear_below.is_finite() {
            return Err(err("open_above", "thresholds must be finite numbers"));
        }
        if self.clear_below > self.open_above {
            return Err(err("clear_below", "must not be above open_above"));
        }
        Ok(())
    }

    fn with(&self, o: &SiteOverride) -> AlarmRule {
        let mut r = self.clone();
        r.open_above = o.open_above.unwrap_or(r.open_above);
        r.clear_below = o.clear_below.unwrap_or(r.clear_below);
        r.open_hold_secs = o.open_hold_secs.unwrap_or(r.open_hold_secs);
        r.clear_hold_secs = o.clear_hold_secs.unwrap_or(r.clear_hold_secs);
        r
    }
}

impl RuleSet {
    /// Parses and validates a rule set (JSON, the data file's format).
    pub fn from_json(text: &str) -> Result<RuleSet, RuleError> {
        let set: RuleSet = serde_json::from_str(text).map_err(|e| RuleError {
            rule: "(file)".into(),
            field: "json",
            message: e.to_string(),
        })?;
        set.validate()?;
        Ok(set)
    }

    /// Checks every rule, every rule with its overrides applied, unique ids and the
    /// offline time.
    pub fn validate(&self) -> Result<(), RuleError> {
        for (i, r) in self.rules.iter().enumerate() {
            r.validate()?;
            if self.rules[..i].iter().any(|o| o.id == r.id) {
                return Err(RuleError {
                    rule: r.id.clone(),
                    field: "id",
                    message: "is used twice".into(),
                });
            }
        }
        for o in &self.overrides {
            let rule = self
                .rules
                .iter()
                .find(|r| r.id == o.rule)
                .ok_or(RuleError {
                    rule: o.rule.clone(),
                    field: "rule",
                    message: format!("override for site {} names no rule", o.site),
                })?;
            rule.with(o).validate()?;
        }
        if !(1..=MAX_RULE_SECS).contains(&self.offline_after_secs) {
            return Err(RuleError {
                rule: "(set)".into(),
                field: "offline_after_secs",
                message: "must be 1 s to 7 days".into(),
            });
        }
        Ok(())
    }

    /// The rules watching `metric` at a site of that kind, with the site's overrides.
    pub fn effective(&self, site: &str, kind: SiteKind, metric: &str) -> Vec<AlarmRule> {
        self.rules
            .iter()
            .filter(|r| {
                r.metric == metric && (r.site_kinds.is_empty() || r.site_kinds.contains(&kind))
            })
            .map(|r| {
                match self
                    .overrides
                    .iter()
                    .find(|o| o.rule == r.id && o.site == site)
                {
                    Some(o) => r.with(o),
                    None => r.clone(),
                }
            })
            .collect()
    }
}

/// Running figures of an exceedance: what a case shows instead of one event per reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// The first reading over the threshold.
    pub started_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// The highest single reading.
    pub peak: f64,
    /// The highest rolling mean.
    pub peak_mean: f64,
    pub sum: f64,
    pub count: u64,
}

impl Tally {
    fn new(at: DateTime<Utc>, value: f64, mean: f64) -> Self {
        Tally {
            started_at: at,
            last_at: at,
            peak: value,
            peak_mean: mean,
            sum: value,
            count: 1,
        }
    }

    fn add(&mut self, at: DateTime<Utc>, value: f64, mean: f64) {
        self.last_at = at;
        self.peak = self.peak.max(value);
        self.peak_mean = self.peak_mean.max(mean);
        self.sum += value;
        self.count += 1;
    }

    fn merge(&mut self, other: &Tally) {
        self.last_at = self.last_at.max(other.last_at);
        self.peak = self.peak.max(other.peak);
        self.peak_mean = self.peak_mean.max(other.peak_mean);
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The mean of the readings counted.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// An episode: opened when an exceedance held, perhaps cleared and reopened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// When the hold completed and the episode opened.
    pub opened_at: DateTime<Utc>,
    /// Readings from the first exceedance on (including clearings and reopenings).
    pub tally: Tally,
    /// Seconds the rolling mean was in episode (open until cleared), summed over reopenings.
    pub exceedance_secs: i64,
    pub cleared_at: Option<DateTime<Utc>>,
    pub reopen_count: u32,
}

/// Where a rule stands for one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Below the threshold, or cleared.
    #[default]
    Idle,
    /// Over the threshold since the tally's start, hold not yet met.
    Pending { tally: Tally },
    /// An episode is open.
    Active,
    /// In an open episode, under the clear threshold since `since`.
    Clearing { since: DateTime<Utc> },
}

/// Sum and count of the readings in one slice of the rolling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the slice, seconds since the epoch.
    pub start: i64,
    pub sum: f64,
    pub count: u64,
}

/// The persisted state of one rule on one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// The rolling window in at most [`WINDOW_SLICES`] slices, oldest first.
    pub buckets: Vec<Bucket>,
    /// The last reading evaluated; earlier or equal readings are stale.
    pub last_at: Option<DateTime<Utc>>,
    pub phase: Phase,
    /// The current or last episode (kept after clearing, for a reopening).
    pub episode: Option<Episode>,
}

/// The rolling window is kept in this many slices (at least 1 s each), so the state stays
/// small whatever the reading rate: the mean is exact for windows up to this many seconds
/// and otherwise groups readings by slice.
pub const WINDOW_SLICES: i64 = 60;

/// What one reading did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not later than the last reading evaluated: ignored.
    Stale,
    /// Nothing to record (below, pending, or a running episode's figures updated).
    Quiet,
    /// A new episode: open a case.
    Opened(Episode),
    /// The cleared episode reopened within the window: record it on its case.
    Reopened(Episode),
    /// The episode cleared: record it on its case (which still needs handling and a check).
    Cleared(Episode),
}

impl RuleState {
    /// The rolling mean at the last reading, if any reading is in the window.
    pub fn mean(&self) -> Option<f64> {
        let (sum, count) = self
            .buckets
            .iter()
            .fold((0.0, 0u64), |(s, c), b| (s + b.sum, c + b.count));
        (count > 0).then(|| sum / count as f64)
    }

    /// Evaluates one reading of the rule's metric taken at `at`.
    pub fn observe(&mut self, rule: &AlarmRule, at: DateTime<Utc>, value: f64) -> Outcome {
        if self.last_at.is_some_and(|last| at <= last) {
            return Outcome::Stale;
        }
        self.last_at = Some(at);
        self.push(rule.window_secs, at.timestamp(), value);
        let mean = self.mean().unwrap_or(value);
        let over = mean > rule.open_above;
        let under_clear = mean < rule.clear_below;

        match std::mem::take(&mut self.phase) {
            Phase::Idle => {
                if over {
                    let tally = Tally::new(at, value, mean);
                    self.phase = Phase::Pending { tally };
                    return self.try_open(rule, at);
                }
                Outcome::Quiet
            }
            Phase::Pending { mut tally } => {
                if over {
                    tally.add(at, value, mean);
                    self.phase = Phase::Pending { tally };
                    self.try_open(rule, at)
                } else {
                    // A spike shorter than the hold: nothing happened.
                    Outcome::Quiet
                }
            }
            Phase::Active => {
                self.count_in_episode(at, value, mean);
                if under_clear {
                    self.phase = Phase::Clearing { since: at };
                    return self.try_clear(rule, at);
                }
                self.phase = Phase::Active;
                Outcome::Quiet
            }
            Phase::Clearing { since } => {
                self.count_in_episode(at, value, mean);
                if under_clear {
                    self.phase = Phase::Clearing { since };
                    self.try_clear(rule, at)
                } else {
                    // Back over the clear threshold before the clear hold: still open.
                    self.phase = Phase::Active;
                    Outcome::Quiet
                }
            }
        }
    }

    fn count_in_episode(&mut self, at: DateTime<Utc>, value: f64, mean: f64) {
        if let Some(ep) = self.episode.as_mut() {
            let prev = ep.tally.last_at;
            ep.tally.add(at, value, mean);
            ep.exceedance_secs += (at - prev).num_seconds().max(0);
        }
    }

    /// In Pending: opens (or reopens) when the hold is met.
    fn try_open(&mut self, rule: &AlarmRule, at: DateTime<Utc>) -> Outcome {
        let Phase::Pending { tally } = &self.phase else {
            return Outcome::Quiet;
        };
        if (at - tally.started_at).num_seconds() < rule.open_hold_secs {
            return Outcome::Quiet;
        }
        let tally = tally.clone();
        let held = (at - tally.started_at).num_seconds();
        self.phase = Phase::Active;
        let reopen = self
            .episode
            .as_ref()
            .and_then(|e| e.cleared_at)
            .is_some_and(|c| (tally.started_at - c).num_seconds() <= rule.reopen_within_secs);
        match self.episode.as_mut() {
            Some(ep) if reopen => {
                ep.tally.merge(&tally);
                ep.exceedance_secs += held;
                ep.cleared_at = None;
                ep.reopen_count += 1;
                Outcome::Reopened(ep.clone())
            }
            _ => {
                let ep = Episode {
                    opened_at: at,
                    tally,
                    exceedance_secs: held,
                    cleared_at: None,
                    reopen_count: 0,
                };
                self.episode = Some(ep.clone());
                Outcome::Opened(ep)
            }
        }
    }

    /// In Clearing: clears when the clear hold is met.
    fn try_clear(&mut self, rule: &AlarmRule, at: DateTime<Utc>) -> Outcome {
        let Phase::Clearing { since } = self.phase else {
            return Outcome::Quiet;
        };
        if (at - since).num_seconds() < rule.clear_hold_secs {
            return Outcome::Quiet;
        }
        self.phase = Phase::Idle;
        match self.episode.as_mut() {
            Some(ep) => {
                ep.cleared_at = Some(at);
                Outcome::Cleared(ep.clone())
            }
            None => Outcome::Quiet,
        }
    }

    fn push(&mut self, window_secs: i64, t: i64, value: f64) {
        let width = (window_secs / WINDOW_SLICES).max(1);
        let start = t.div_euclid(width) * width;
        match self.buckets.last_mut() {
            Some(b) if b.start == start => {
                b.sum += value;
                b.count += 1;
            }
            _ => self.buckets.push(Bucket {
                start,
                sum: value,
                count: 1,
            }),
        }
        // Keep the slices that start inside (t - window, t]: exact for 1 s slices,
        // otherwise the oldest readings of a slice leave up to one slice early.
        self.buckets.retain(|b| b.start > t - window_secs);
    }
}

/// A device is offline when its last reading is older than `offline_after_secs`.
pub fn is_offline(last_seen: DateTime<Utc>, now: DateTime<Utc>, offline_after_secs: i64) -> bool {
    (now - last_seen).num_seconds() >= offline_after_secs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CategoryKind, CodeStandard};

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap()
    }

    /// Window 60 s with one reading a minute: the rolling mean is the reading itself, so
    /// every sequence below can be checked by hand. Open over 150 held 300 s, clear under
    /// 100 held 120 s, reopen within 600 s.
    fn rule() -> AlarmRule {
        AlarmRule {
            id: "pm10_site".into(),
            name_zh: "工地扬尘".into(),
            metric: "pm10".into(),
            site_kinds: vec![SiteKind::BuildingSite],
            window_secs: 60,
            open_above: 150.0,
            open_hold_secs: 300,
            clear_below: 100.0,
            clear_hold_secs: 120,
            reopen_within_secs: 600,
            category: CategoryCode {
                standard: CodeStandard::CjT214,
                kind: CategoryKind::Event,
                code: "0302".into(),
            },
            priority: Priority::Normal,
            provenance: "test".into(),
        }
    }

    /// Feeds one reading a minute from minute `from`; returns the non-quiet outcomes with
    /// the minute they happened at.
    fn feed(s: &mut RuleState, r: &AlarmRule, from: i64, values: &[f64]) -> Vec<(i64, Outcome)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let minute = from + i as i64;
                match s.observe(r, t(minute * 60), *v) {
                    Outcome::Quiet => None,
                    o => Some((minute, o)),
                }
            })
            .collect()
    }

    #[test]
    fn short_spike_opens_nothing() {
        let (r, mut s) = (rule(), RuleState::default());
        // Over for minutes 1..=4 (held 180 s < 300 s), then back.
        let out = feed(
            &mut s,
            &r,
            0,
            &[80.0, 200.0, 300.0, 250.0, 200.0, 90.0, 80.0],
        );
        assert_eq!(out, vec![]);
        assert_eq!(s.phase, Phase::Idle);
        assert!(s.episode.is_none());
    }

    #[test]
    fn long_exceedance_opens_one_episode_with_its_peak_and_mean() {
        let (r, mut s) = (rule(), RuleState::default());
        // Over from minute 1; the hold (300 s) is met at minute 6; it stays over after.
        let out = feed(
            &mut s,
            &r,
            0,
            &[80.0, 160.0, 200.0, 400.0, 180.0, 170.0, 190.0, 300.0, 200.0],
        );
        assert_eq!(out.len(), 1, "{out:?}");
        let (minute, Outcome::Opened(ep)) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(*minute, 6);
        assert_eq!(ep.opened_at, t(360));
        assert_eq!(ep.tally.started_at, t(60));
        assert_eq!(ep.tally.peak, 400.0);
        // 160 + 200 + 400 + 180 + 170 + 190 = 1300 over 6 readings.
        assert_eq!(ep.tally.count, 6);
        assert!((ep.tally.mean() - 1300.0 / 6.0).abs() < 1e-9);
        assert_eq!(ep.exceedance_secs, 300);
        // The running figures keep counting without another outcome: minutes 7 and 8.
        let e = s.episode.as_ref().unwrap();
        assert_eq!(e.tally.count, 8);
        assert_eq!(e.exceedance_secs, 420);
    }

    #[test]
    fn dip_above_clear_threshold_does_not_clear() {
        let (r, mut s) = (rule(), RuleState::default());
        feed(&mut s, &r, 0, &[200.0; 7]);
        assert_eq!(s.phase, Phase::Active);
        // Under 150 but over 100 for 10 minutes: still open.
        let out = feed(&mut s, &r, 7, &[120.0; 10]);
        assert_eq!(out, vec![]);
        assert_eq!(s.phase, Phase::Active);
        // Under 100 for 60 s (< 120 s), then 110: still open, the clear hold restarts.
        let out = feed(&mut s, &r, 17, &[90.0, 90.0, 110.0, 90.0, 90.0]);
        assert_eq!(out, vec![]);
        assert!(matches!(s.phase, Phase::Clearing { since } if since == t(20 * 60)));
        // The third reading under 100 after 110 (minute 22) meets the 120 s hold.
        let out = feed(&mut s, &r, 22, &[90.0]);
        let [(22, Outcome::Cleared(ep))] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(ep.cleared_at, Some(t(22 * 60)));
        assert_eq!(s.phase, Phase::Idle);
    }

    #[test]
    fn clear_then_exceedance_within_window_reopens_the_same_episode() {
        let (r, mut s) = (rule(), RuleState::default());
        // Open at minute 5 (over from 0), clear under 100 from minute 10, cleared at 12.
        let mut seq = vec![200.0; 10];
        seq.extend([50.0; 3]);
        let out = feed(&mut s, &r, 0, &seq);
        assert!(
            matches!(
                out.as_slice(),
                [(5, Outcome::Opened(_)), (12, Outcome::Cleared(_))]
            ),
            "{out:?}"
        );
        // Over again from minute 20 (480 s after the clearing, within 600 s): the hold
        // is met at minute 25 and the same episode reopens.
        feed(&mut s, &r, 13, &[50.0; 7]);
        let out = feed(&mut s, &r, 20, &[300.0; 6]);
        let [(25, Outcome::Reopened(ep))] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(ep.opened_at, t(300), "the first opening stands");
        assert_eq!(ep.reopen_count, 1);
        assert_eq!(ep.cleared_at, None);
        assert_eq!(ep.tally.peak, 300.0);
    }

    #[test]
    fn exceedance_after_the_reopen_window_opens_a_new_episode() {
        let (r, mut s) = (rule(), RuleState::default());
        let mut seq = vec![200.0; 10];
        seq.extend([50.0; 3]);
        feed(&mut s, &r, 0, &seq);
        // Over again from minute 23: 660 s after the clearing at 12, past 600 s.
        feed(&mut s, &r, 13, &[50.0; 10]);
        let out = feed(&mut s, &r, 23, &[300.0; 6]);
        let [(28, Outcome::Opened(ep))] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(ep.opened_at, t(28 * 60));
        assert_eq!(ep.reopen_count, 0);
        assert_eq!(ep.tally.peak, 300.0);
    }

    #[test]
    fn persisted_state_continues_a_hold_after_a_round_trip() {
        let (r, mut s) = (rule(), RuleState::default());
        feed(&mut s, &r, 0, &[200.0; 3]);
        // The server stops here; the state was stored as JSON.
        let stored = serde_json::to_string(&s).unwrap();
        let mut back: RuleState = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, s);
        // Readings resume at minute 5: the hold started at minute 0 is met at once.
        let out = feed(&mut back, &r, 5, &[200.0]);
        assert!(
            matches!(out.as_slice(), [(5, Outcome::Opened(ep))] if ep.tally.started_at == t(0)),
            "{out:?}"
        );
    }

    #[test]
    fn redelivered_or_older_readings_are_stale() {
        let (r, mut s) = (rule(), RuleState::default());
        assert_eq!(s.observe(&r, t(60), 200.0), Outcome::Quiet);
        assert_eq!(s.observe(&r, t(60), 200.0), Outcome::Stale);
        assert_eq!(s.observe(&r, t(30), 200.0), Outcome::Stale);
        let Phase::Pending { tally } = &s.phase else {
            panic!()
        };
        assert_eq!(tally.count, 1);
    }

    #[test]
    fn rolling_mean_covers_the_window() {
        let mut r = rule();
        r.window_secs = 180;
        let mut s = RuleState::default();
        // Readings 100, 200, 300 at minutes 0..2: mean 200; then 0 at minute 3 drops the
        // first: (200 + 300 + 0) / 3.
        feed(&mut s, &r, 0, &[100.0, 200.0, 300.0]);
        assert_eq!(s.mean(), Some(200.0));
        feed(&mut s, &r, 3, &[0.0]);
        assert!((s.mean().unwrap() - 500.0 / 3.0).abs() < 1e-9);
        // A long window keeps at most WINDOW_SLICES (+1 partial) slices.
        r.window_secs = 3600;
        let mut s = RuleState::default();
        for i in 0..7200 {
            s.observe(&r, t(i), 10.0);
        }
        assert!(
            s.buckets.len() as i64 <= WINDOW_SLICES + 1,
            "{}",
            s.buckets.len()
        );
        assert_eq!(s.mean(), Some(10.0));
    }

    #[test]
    fn site_override_changes_only_that_site() {
        let set = RuleSet {
            rules: vec![rule()],
            overrides: vec![SiteOverride {
                site: "S1".into(),
                rule: "pm10_site".into(),
                open_above: Some(250.0),
                clear_below: None,
                open_hold_secs: None,
                clear_hold_secs: None,
            }],
            offline_after_secs: 900,
            ..RuleSet::default()
        };
        set.validate().unwrap();
        assert_eq!(
            set.effective("S1", SiteKind::BuildingSite, "pm10")[0].open_above,
            250.0
        );
        assert_eq!(
            set.effective("S2", SiteKind::BuildingSite, "pm10")[0].open_above,
            150.0
        );
        assert!(set
            .effective("S2", SiteKind::SewageOutfall, "pm10")
            .is_empty());
        assert!(set
            .effective("S2", SiteKind::BuildingSite, "noise")
            .is_empty());
    }

    #[test]
    fn rule_sets_that_cannot_work_are_refused_naming_the_field() {
        let mut bad = RuleSet {
            rules: vec![rule()],
            offline_after_secs: 900,
            ..RuleSet::default()
        };
        bad.rules[0].clear_below = 200.0;
        assert_eq!(bad.validate().unwrap_err().field, "clear_below");
        let mut bad = RuleSet {
            rules: vec![rule()],
            offline_after_secs: 900,
            ..RuleSet::default()
        };
        bad.overrides.push(SiteOverride {
            site: "S1".into(),
            rule: "pm10_site".into(),
            open_above: Some(50.0),
            clear_below: None,
            open_hold_secs: None,
            clear_hold_secs: None,
        });
        assert_eq!(bad.validate().unwrap_err().field, "clear_below");
        let mut bad = RuleSet {
            rules: vec![rule()],
            offline_after_secs: 900,
            ..RuleSet::default()
        };
        bad.rules[0].metric = "pm11".into();
        assert_eq!(bad.validate().unwrap_err().field, "metric");
    }

    #[test]
    fn shipped_demo_rules_parse_and_mark_their_provenance() {
        let set = RuleSet::from_json(include_str!("../../../data/demo/sensor_rules.json")).unwrap();
        assert!(!set.rules.is_empty());
        for r in &set.rules {
            let p = r.provenance.to_lowercase();
            assert!(p.contains("invented default"), "{}: {}", r.id, r.provenance);
        }
    }

    #[test]
    fn topics_follow_the_scheme_and_nothing_else() {
        assert_eq!(
            telemetry_topic("410103", "D-1"),
            "cityloop/410103/D-1/telemetry"
        );
        assert_eq!(
            parse_topic("cityloop/410103/D-1/telemetry"),
            Some(("410103", "D-1"))
        );
        assert_eq!(parse_topic("cityloop/410103/D-1/telemetry/x"), None);
        assert_eq!(parse_topic("cityloop/410103/D+1/telemetry"), None);
        assert_eq!(parse_topic("other/410103/D-1/telemetry"), None);
        assert!(!valid_id(""));
        assert!(!valid_id(&"x".repeat(65)));
    }

    #[test]
    fn bad_values_and_times_are_refused_with_their_reason() {
        assert_eq!(
            check_value("pm11", None, 1.0),
            Err(DropReason::UnknownMetric)
        );
        assert_eq!(
            check_value("pm10", Some("mg/m3"), 1.0).unwrap_err(),
            DropReason::WrongUnit
        );
        assert_eq!(
            check_value("pm10", None, f64::NAN).unwrap_err(),
            DropReason::NotFinite
        );
        assert_eq!(
            check_value("pm10", None, -1.0).unwrap_err(),
            DropReason::OutOfRange
        );
        assert!(check_value("pm10", Some("ug/m3"), 80.0).is_ok());
        let now = t(0);
        assert_eq!(
            check_time(t(MAX_FUTURE_SECS + 1), now),
            Err(DropReason::TooFarFuture)
        );
        assert_eq!(
            check_time(t(-MAX_PAST_SECS - 1), now),
            Err(DropReason::TooFarPast)
        );
        assert!(check_time(t(-60), now).is_ok());
        assert!(is_offline(t(0), t(900), 900));
        assert!(!is_offline(t(0), t(899), 900));
    }
}
