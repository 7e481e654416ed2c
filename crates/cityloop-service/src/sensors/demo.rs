//! The demo district's two schematic monitoring sites (演示, issue 19): a building site (工地)
//! with a PM10 monitor and a sewage outfall (排污口) with a water-quality probe, and the
//! sample episode `cityloop sensors replay-demo` sends through the HTTP intake.
//!
//! Everything here is invented demo data: names, permit number, contractor, places and
//! readings. Sites are marked `demo: true`, so every screen labels them 演示. The demo
//! devices' secret is the published [`DEMO_DEVICE_SECRET`] (like the demo's password
//! `demo`); only `cityloop demo` creates them.

use chrono::{DateTime, Duration, Utc};
use cityloop_domain::sensor::{Device, Site, SiteKind};
use cityloop_store::{AdminOp, AuditEntry, Store};

use crate::ServiceError;

/// The demo devices' secret (demo only, published in the README).
pub const DEMO_DEVICE_SECRET: &str = "demo-sensor";
/// The building site's PM10 monitor.
pub const DEMO_PM10_DEVICE: &str = "DEMO-PM10-01";
/// The outfall's water-quality probe.
pub const DEMO_WATER_DEVICE: &str = "DEMO-WQ-01";
/// Minutes of the sample replay (one reading a minute per device).
pub const REPLAY_MINUTES: i64 = 240;

fn sites() -> Vec<(Site, Device)> {
    vec![
        (
            Site {
                id: "DEMO-GD-01".into(),
                kind: SiteKind::BuildingSite,
                name: "演示工地(某住宅项目二期)".into(),
                lon: 113.6615,
                lat: 34.7503,
                street: None,
                responsible_party: Some("演示建设单位有限公司".into()),
                unit_code: Some("zj".into()),
                permit: Some("演示-410103202600001".into()),
                contractor: Some("演示建筑工程有限公司".into()),
                demo: true,
            },
            Device {
                id: DEMO_PM10_DEVICE.into(),
                site_id: "DEMO-GD-01".into(),
                district: "410103".into(),
                kind: "扬尘监测仪".into(),
                metrics: vec!["pm10".into(), "battery".into(), "signal".into()],
                mqtt_username: None,
            },
        ),
        (
            Site {
                id: "DEMO-PWK-01".into(),
                kind: SiteKind::SewageOutfall,
                name: "演示排污口(某河段雨污排口)".into(),
                lon: 113.6590,
                lat: 34.7470,
                street: None,
                responsible_party: Some("演示排污单位".into()),
                unit_code: Some("hb".into()),
                permit: None,
                contractor: None,
                demo: true,
            },
            Device {
                id: DEMO_WATER_DEVICE.into(),
                site_id: "DEMO-PWK-01".into(),
                district: "410103".into(),
                kind: "水质探头".into(),
                metrics: vec!["cod".into(), "ph".into(), "battery".into()],
                mqtt_username: None,
            },
        ),
    ]
}

/// Writes the demo sites and devices (each with its audit row, by the system).
pub async fn load_demo_sensors(store: &dyn Store, now: DateTime<Utc>) -> Result<(), ServiceError> {
    let hash = super::secret_hash(DEMO_DEVICE_SECRET);
    let audit = |entity: &str, id: &str| AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: now,
        actor_id: None,
        entity: entity.into(),
        entity_id: id.into(),
        action: "create".into(),
        before: None,
        after: None,
    };
    for (site, device) in sites() {
        let site_id = site.id.clone();
        store
            .admin_apply(
                &[AdminOp::PutSensorSite(site)],
                &audit("sensor_site", &site_id),
            )
            .await?;
        let device_id = device.id.clone();
        store
            .admin_apply(
                &[AdminOp::PutSensorDevice {
                    device,
                    secret_hash: Some(hash.clone()),
                }],
                &audit("sensor_device", &device_id),
            )
            .await?;
    }
    Ok(())
}

/// The PM10 value of minute `m` of the replay: about 80 for an hour, about 230 for
/// 90 minutes (the 1-hour mean passes 150 near minute 88 and the 30-minute hold opens
/// the episode near minute 118), then about 50 (the mean stays under 120 from minute
/// ~187, so it clears near minute 217). A small deterministic ripple keeps it lifelike.
pub fn demo_pm10(m: i64) -> f64 {
    let ripple = ((m * 37) % 11) as f64 - 5.0;
    let base = match m {
        0..=59 => 80.0,
        60..=150 => 230.0,
        _ => 50.0,
    };
    base + ripple
}

/// The replay's payloads, oldest first: `(device, JSON)`, one reading a minute for
/// [`REPLAY_MINUTES`] minutes ending at `end` (device times within the intake's 48 h).
pub fn demo_replay(end: DateTime<Utc>) -> Vec<(&'static str, String)> {
    let start = end - Duration::minutes(REPLAY_MINUTES);
    let mut out = Vec::new();
    for m in 0..REPLAY_MINUTES {
        let at = (start + Duration::minutes(m)).to_rfc3339();
        let battery = 95.0 - (m as f64) * 0.02;
        out.push((
            DEMO_PM10_DEVICE,
            serde_json::json!({"at": at, "metrics": {
                "pm10": {"value": demo_pm10(m), "unit": "ug/m3"},
                "battery": {"value": (battery * 10.0).round() / 10.0},
                "signal": {"value": -71 - (m % 5)}}})
            .to_string(),
        ));
        let cod = 28.0 + ((m * 13) % 7) as f64;
        out.push((
            DEMO_WATER_DEVICE,
            serde_json::json!({"at": at, "metrics": {
                "cod": {"value": cod, "unit": "mg/L"},
                "ph": {"value": 7.2 + ((m % 3) as f64) * 0.1},
                "battery": {"value": 64}}})
            .to_string(),
        ));
    }
    out
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub sent: usize,
    /// Case ids the episodes opened.
    pub opened: Vec<String>,
    pub cleared: usize,
}

/// Sends [`demo_replay`] to a running server's `POST /api/v1/telemetry`, in order.
pub async fn replay_over_http(url: &str, end: DateTime<Utc>) -> Result<ReplaySummary, String> {
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/v1/telemetry", url.trim_end_matches('/'));
    let mut out = ReplaySummary::default();
    for (device, body) in demo_replay(end) {
        let r = http
            .post(&endpoint)
            .bearer_auth(format!("{device}:{DEMO_DEVICE_SECRET}"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST {endpoint}: {e}"))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if status != reqwest::StatusCode::ACCEPTED {
            return Err(format!("{endpoint} answered {status}: {v}"));
        }
        out.sent += 1;
        for c in v["opened"].as_array().into_iter().flatten() {
            out.opened.push(c.as_str().unwrap_or_default().to_owned());
        }
        out.cleared += v["cleared"].as_array().map_or(0, Vec::len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cityloop_domain::sensor::RuleSet;

    /// The replay, run through the shipped rules, opens exactly one PM10 episode and
    /// clears it; the outfall stays quiet.
    #[test]
    fn the_demo_replay_opens_and_clears_one_pm10_episode_under_the_shipped_rules() {
        let rules = RuleSet::from_json(super::super::DEFAULT_RULES).unwrap();
        let end: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let (site, _) = &sites()[0];
        let rule = rules
            .effective(&site.id, site.kind, "pm10")
            .into_iter()
            .next()
            .unwrap();
        let mut st = cityloop_domain::sensor::RuleState::default();
        let mut kinds = Vec::new();
        for (dev, body) in demo_replay(end) {
            if dev != DEMO_PM10_DEVICE {
                continue;
            }
            let (_, r) = super::super::parse_payload(body.as_bytes(), end).unwrap();
            let v = r.values.iter().find(|(k, _)| k == "pm10").unwrap().1;
            match st.observe(&rule, r.at, v) {
                cityloop_domain::sensor::Outcome::Opened(_) => kinds.push("opened"),
                cityloop_domain::sensor::Outcome::Cleared(_) => kinds.push("cleared"),
                cityloop_domain::sensor::Outcome::Reopened(_) => kinds.push("reopened"),
                _ => {}
            }
        }
        assert_eq!(kinds, ["opened", "cleared"]);
    }
}
