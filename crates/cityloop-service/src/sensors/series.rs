//! What the console shows of sensors (issue 19 items 5 and 6): a device's or a site's
//! readings over a time range in buckets (from the per-minute aggregates), the sites with
//! their devices, thresholds and cases, the devices by health, and the pruning of raw
//! readings after the retention.
//!
//! Limits (docs/API-DESIGN.md, "Sensor series"): a bucket is a whole number of minutes
//! from 1 minute to 31 days; a range is at most [`MAX_RANGE_DAYS`] days and
//! [`MAX_POINTS`] buckets; buckets start at `from` (floored to the minute), so a caller
//! wanting local days passes a local midnight. Raw readings are kept
//! [`DEFAULT_RAW_DAYS`] days unless the server is started with `--sensor-raw-days`
//! ([`MIN_RAW_DAYS`]..=[`MAX_RAW_DAYS`]); the minutes are kept for good.
//!
//! Sites, devices and series are readable by every staff role (they hold no personal
//! data); the cases listed on a site page are only those the reader may see.

use chrono::{DateTime, Utc};
use cityloop_domain::ids::CaseId;
use cityloop_domain::model::{Actor, CategoryCode};
use cityloop_domain::sensor::{self, AlarmRule, Site};
use cityloop_store::{DeviceRow, SensorLogRow, SeriesOf, SeriesPoint, SeriesQuery};
use serde::Serialize;

use crate::{ServiceError, Services};

/// Most buckets in one series.
pub const MAX_POINTS: i64 = 1440;
/// Longest range of one series.
pub const MAX_RANGE_DAYS: i64 = 400;
/// Largest bucket (31 days).
pub const MAX_BUCKET_SECS: i64 = 31 * 86_400;
/// Raw readings are kept this many days by default (an invented default: long enough to
/// look into a month's episodes reading by reading).
pub const DEFAULT_RAW_DAYS: i64 = 30;
/// Fewest days raw readings may be kept: more than the 48 h a device's time may lag
/// (`sensor::MAX_PAST_SECS`), so a redelivered reading always finds its raw row and is
/// never counted twice in its minute.
pub const MIN_RAW_DAYS: i64 = 3;
pub const MAX_RAW_DAYS: i64 = 3660;
/// Raw rows deleted per pruning transaction.
pub const PRUNE_BATCH: u32 = 5000;
/// Most cases on a site page.
pub const MAX_SITE_CASES: u32 = 50;

/// A series request as it arrives (the HTTP query).
#[derive(Debug, Clone)]
pub struct SeriesRequest {
    pub device: Option<String>,
    pub site: Option<String>,
    pub metric: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Seconds; a multiple of 60.
    pub bucket_secs: i64,
}

/// A rule's thresholds as a chart draws them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Threshold {
    pub rule_id: String,
    pub name_zh: String,
    pub window_secs: i64,
    /// Over this (rolling mean), held `open_hold_secs`, an episode opens.
    pub open_above: f64,
    pub open_hold_secs: i64,
    /// Under this, held `clear_hold_secs`, it clears.
    pub clear_below: f64,
    pub clear_hold_secs: i64,
    pub category: CategoryCode,
    pub provenance: String,
}

impl From<&AlarmRule> for Threshold {
    fn from(r: &AlarmRule) -> Self {
        Threshold {
            rule_id: r.id.clone(),
            name_zh: r.name_zh.clone(),
            window_secs: r.window_secs,
            open_above: r.open_above,
            open_hold_secs: r.open_hold_secs,
            clear_below: r.clear_below,
            clear_hold_secs: r.clear_hold_secs,
            category: r.category.clone(),
            provenance: r.provenance.clone(),
        }
    }
}

/// A series with what a chart needs beside it.
#[derive(Debug, Clone)]
pub struct Series {
    pub metric: String,
    pub unit: &'static str,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket_secs: i64,
    /// The site's rules on this metric (overrides applied).
    pub thresholds: Vec<Threshold>,
    /// Non-empty buckets, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// A device as the devices page lists it.
#[derive(Debug, Clone)]
pub struct DeviceHealth {
    pub row: DeviceRow,
    pub site_name: Option<String>,
    pub demo: bool,
    /// Silent for the rules' `offline_after_secs`, or with an open 设备离线 case.
    pub offline: bool,
}

/// A site in the sites list.
#[derive(Debug, Clone)]
pub struct SiteSummary {
    pub site: Site,
    pub devices: usize,
    pub offline: usize,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A case on a site page, with what sensors recorded on it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteCase {
    pub id: CaseId,
    pub number: String,
    pub state: String,
    pub category: CategoryCode,
    pub created_at: DateTime<Utc>,
    pub log: Vec<SensorLogRow>,
}

/// Everything a site page shows.
#[derive(Debug, Clone)]
pub struct SitePage {
    pub site: Site,
    pub devices: Vec<DeviceHealth>,
    /// Per metric its devices report, the rules watching it here.
    pub thresholds: Vec<(String, Vec<Threshold>)>,
    pub cases: Vec<SiteCase>,
}

fn floor_minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60) * 60
}

fn ceil_minute(t: DateTime<Utc>) -> i64 {
    let s = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    -((-s).div_euclid(60) * 60)
}

/// Checks a request's bounds and bucket; answers the store's query (without the owner
/// check). Pure, so the limits are unit-tested.
pub fn check_series(r: &SeriesRequest) -> Result<SeriesQuery, ServiceError> {
    let of = match (&r.device, &r.site) {
        (Some(d), None) => SeriesOf::Device(d.clone()),
        (None, Some(s)) => SeriesOf::Site(s.clone()),
        _ => {
            return Err(ServiceError::invalid(
                "device",
                "give exactly one of device and site",
            ))
        }
    };
    if sensor::metric(&r.metric).is_none() {
        let known: Vec<_> = sensor::METRICS.iter().map(|m| m.name).collect();
        return Err(ServiceError::invalid(
            "metric",
            format!("unknown metric (known: {})", known.join(", ")),
        ));
    }
    if r.bucket_secs < 60 || r.bucket_secs % 60 != 0 || r.bucket_secs > MAX_BUCKET_SECS {
        return Err(ServiceError::invalid(
            "bucket",
            format!("a whole number of minutes in seconds, 60 to {MAX_BUCKET_SECS}"),
        ));
    }
    let (from, to) = (floor_minute(r.from), ceil_minute(r.to));
    if to <= from {
        return Err(ServiceError::invalid("to", "must be later than from"));
    }
    if to - from > MAX_RANGE_DAYS * 86_400 {
        return Err(ServiceError::invalid(
            "from",
            format!("a range of at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let points = (to - from + r.bucket_secs - 1) / r.bucket_secs;
    if points > MAX_POINTS {
        return Err(ServiceError::invalid(
            "bucket",
            format!("{points} buckets; at most {MAX_POINTS}: take a larger bucket"),
        ));
    }
    Ok(SeriesQuery {
        of,
        metric: r.metric.clone(),
        from,
        to,
        bucket: r.bucket_secs,
    })
}

/// Devices in the order the devices page shows them: offline first (the longest silent
/// first), then never seen, then the rest by last seen, the latest first.
pub fn order_devices(list: &mut [DeviceHealth]) {
    list.sort_by(|a, b| {
        let rank = |d: &DeviceHealth| match (d.offline, d.row.last_seen_at) {
            (true, _) => 0,
            (false, None) => 1,
            (false, Some(_)) => 2,
        };
        rank(a)
            .cmp(&rank(b))
            .then_with(|| match rank(a) {
                0 => a.row.last_seen_at.cmp(&b.row.last_seen_at),
                _ => b.row.last_seen_at.cmp(&a.row.last_seen_at),
            })
            .then_with(|| a.row.device.id.cmp(&b.row.device.id))
    });
}

impl Services {
    /// A device's or a site's readings over a range, in buckets, with the thresholds.
    pub async fn sensor_series(
        &self,
        _actor: &Actor,
        r: SeriesRequest,
    ) -> Result<Series, ServiceError> {
        let q = check_series(&r)?;
        let site_id = match &q.of {
            SeriesOf::Device(d) => self
                .store
                .sensor_device(d)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("device {d}")))?
                .device
                .site_id
                .clone(),
            SeriesOf::Site(s) => s.clone(),
        };
        let site = self
            .store
            .sensor_site(&site_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("site {site_id}")))?;
        let thresholds = self
            .sensors
            .rules()
            .effective(&site.id, site.kind, &q.metric)
            .iter()
            .map(Threshold::from)
            .collect();
        let points = self.store.sensor_series(&q).await?;
        Ok(Series {
            unit: sensor::metric(&q.metric).map_or("", |d| d.unit),
            metric: q.metric,
            from: DateTime::from_timestamp(q.from, 0).unwrap_or(r.from),
            to: DateTime::from_timestamp(q.to, 0).unwrap_or(r.to),
            bucket_secs: q.bucket,
            thresholds,
            points,
        })
    }

    /// Every device with its health, in the devices page's order ([`order_devices`]).
    pub async fn sensor_device_health(
        &self,
        _actor: &Actor,
    ) -> Result<Vec<DeviceHealth>, ServiceError> {
        let sites = self.store.sensor_sites().await?;
        let now = self.now();
        let after = self.sensors.rules().offline_after_secs;
        let mut list: Vec<DeviceHealth> = self
            .store
            .sensor_devices()
            .await?
            .into_iter()
            .map(|row| {
                let site = sites.iter().find(|s| s.id == row.device.site_id);
                DeviceHealth {
                    offline: row.offline_case_id.is_some()
                        || row
                            .last_seen_at
                            .is_some_and(|t| sensor::is_offline(t, now, after)),
                    site_name: site.map(|s| s.name.clone()),
                    demo: site.is_some_and(|s| s.demo),
                    row,
                }
            })
            .collect();
        order_devices(&mut list);
        Ok(list)
    }

    /// The sites with their devices' counts.
    pub async fn sensor_site_list(&self, actor: &Actor) -> Result<Vec<SiteSummary>, ServiceError> {
        let devices = self.sensor_device_health(actor).await?;
        Ok(self
            .store
            .sensor_sites()
            .await?
            .into_iter()
            .map(|site| {
                let mine: Vec<_> = devices
                    .iter()
                    .filter(|d| d.row.device.site_id == site.id)
                    .collect();
                SiteSummary {
                    devices: mine.len(),
                    offline: mine.iter().filter(|d| d.offline).count(),
                    last_seen_at: mine.iter().filter_map(|d| d.row.last_seen_at).max(),
                    site,
                }
            })
            .collect())
    }

    /// One site: its devices, the thresholds on their metrics, and the cases sensors
    /// recorded on (those the reader may see, the latest first, at most [`MAX_SITE_CASES`]).
    pub async fn sensor_site_page(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<SitePage, ServiceError> {
        let site = self
            .store
            .sensor_site(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("site {id}")))?;
        let devices: Vec<DeviceHealth> = self
            .sensor_device_health(actor)
            .await?
            .into_iter()
            .filter(|d| d.row.device.site_id == site.id)
            .collect();
        let rules = self.sensors.rules();
        let mut metrics: Vec<String> = devices
            .iter()
            .flat_map(|d| d.row.device.metrics.iter().cloned())
            .collect();
        metrics.sort();
        metrics.dedup();
        let thresholds = metrics
            .into_iter()
            .map(|m| {
                let t = rules
                    .effective(&site.id, site.kind, &m)
                    .iter()
                    .map(Threshold::from)
                    .collect();
                (m, t)
            })
            .collect();
        let mut cases = Vec::new();
        for case_id in self
            .store
            .sensor_site_cases(&site.id, MAX_SITE_CASES)
            .await?
        {
            let case = self.store.get_case(case_id).await?;
            if self.check_can_see(actor, &case).is_err() {
                continue;
            }
            cases.push(SiteCase {
                id: case.id,
                number: case.number.to_string(),
                state: case.state.as_str().to_owned(),
                category: case.category.clone(),
                created_at: case.created_at,
                log: self.store.sensor_case_log(case_id).await?,
            });
        }
        Ok(SitePage {
            site,
            devices,
            thresholds,
            cases,
        })
    }

    /// Deletes raw readings older than the retention, a batch per transaction. Returns
    /// how many were deleted.
    pub async fn sensor_prune_pass(&self) -> Result<u64, ServiceError> {
        let before = self.now() - chrono::Duration::days(self.sensors.raw_days());
        let mut total = 0;
        loop {
            let n = self
                .store
                .sensor_prune_readings(before, PRUNE_BATCH)
                .await?;
            total += n;
            if n < u64::from(PRUNE_BATCH) {
                break;
            }
        }
        if total > 0 {
            tracing::info!(deleted = total, before = %before, "pruned raw sensor readings");
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn req(from: &str, to: &str, bucket: i64) -> SeriesRequest {
        SeriesRequest {
            device: Some("D1".into()),
            site: None,
            metric: "pm10".into(),
            from: t(from),
            to: t(to),
            bucket_secs: bucket,
        }
    }

    fn field(r: Result<SeriesQuery, ServiceError>) -> String {
        match r {
            Err(ServiceError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_range_is_floored_and_ceiled_to_the_minute_and_buckets_start_at_from() {
        let q = check_series(&req("2026-12-01T08:00:30Z", "2026-12-01T09:00:01Z", 300)).unwrap();
        assert_eq!(q.from, t("2026-12-01T08:00:00Z").timestamp());
        assert_eq!(q.to, t("2026-12-01T09:01:00Z").timestamp());
        assert_eq!(q.bucket, 300);
    }

    #[test]
    fn every_limit_of_a_series_names_its_field() {
        let a = "2026-12-01T00:00:00Z";
        assert_eq!(field(check_series(&req(a, a, 60))), "to");
        assert_eq!(
            field(check_series(&req(a, "2026-12-02T00:00:00Z", 90))),
            "bucket"
        );
        assert_eq!(
            field(check_series(&req(a, "2026-12-02T00:00:00Z", 0))),
            "bucket"
        );
        // 1441 one-minute buckets.
        assert_eq!(
            field(check_series(&req(a, "2026-12-02T00:01:00Z", 60))),
            "bucket"
        );
        assert!(check_series(&req(a, "2026-12-02T00:00:00Z", 60)).is_ok());
        assert_eq!(
            field(check_series(&req("2025-01-01T00:00:00Z", a, 86_400))),
            "from"
        );
        let mut r = req(a, "2026-12-02T00:00:00Z", 60);
        r.metric = "pm11".into();
        assert_eq!(field(check_series(&r)), "metric");
        r.metric = "pm10".into();
        r.site = Some("S1".into());
        assert_eq!(field(check_series(&r)), "device");
    }
}
