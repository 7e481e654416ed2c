//! The sensor intake against the real Mosquitto broker on 127.0.0.1:1883 (issue 19):
//! readings are published with `mosquitto_pub` (QoS 1) and the real server, on both
//! stores, turns them into cases. Every test uses its own district id (the topic's
//! `<district>` level) and client ids, so parallel tests never see each other's messages.
//! Device times are chosen by the test (one reading a "minute" in the past), so holds of
//! minutes take no waiting.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, TestDb};
use serde_json::{json, Value};

const BROKER: &str = "mqtt://127.0.0.1:1883";
/// The demo district's 二七区 point the other tests use.
const LAT: f64 = 34.7503;
const LON: f64 = 113.6615;

struct Rig {
    s: Server,
    admin: String,
    district: String,
    client_id: String,
    device: String,
    secret: String,
    /// Device time of "minute 0".
    base: chrono::DateTime<chrono::Utc>,
}

/// A fresh id part: the process, the clock and a counter.
fn uid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:x}{nanos:x}{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test rule: one reading a minute and a 60 s window make the rolling mean the reading
/// itself. Open over 150 held 300 s, clear under 100 held 120 s, reopen within 600 s.
fn rules(offline_after_secs: i64) -> Value {
    json!({
        "offline_after_secs": offline_after_secs,
        "offline_category": {"standard": "gb47678", "kind": "matter", "code": "03010"},
        "rules": [{
            "id": "pm10_test", "name_zh": "工地扬尘(测试)", "metric": "pm10",
            "site_kinds": ["building_site"], "window_secs": 60,
            "open_above": 150.0, "open_hold_secs": 300,
            "clear_below": 100.0, "clear_hold_secs": 120, "reopen_within_secs": 600,
            "category": {"standard": "gb47678", "kind": "matter", "code": "08004"},
            "priority": "normal", "provenance": "invented default for the test"
        }]
    })
}

fn env<'a>(district: &'a str, client_id: &'a str, broker: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CITYLOOP_MQTT_URL", broker),
        ("CITYLOOP_MQTT_CLIENT_ID", client_id),
        ("CITYLOOP_MQTT_DISTRICT", district),
        ("CITYLOOP_SENSOR_OFFLINE_CHECK", "200ms"),
    ]
}

async fn rig(db: &TestDb, offline_after_secs: i64) -> Rig {
    let district = format!("t{}", uid());
    let client_id = format!("cl-{}", uid());
    let s = Server::spawn_env("demo", &db.url, &env(&district, &client_id, BROKER));
    let admin = s.login("admin").await;
    let r = s
        .http
        .put(s.url("/api/v1/admin/sensor-rules"))
        .bearer_auth(&admin)
        .json(&rules(offline_after_secs))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (st, site) = s
        .post(
            &admin,
            "/api/v1/admin/sensor-sites",
            json!({"id": "S1", "kind": "building_site", "name": "测试工地", "lon": LON, "lat": LAT,
                   "permit": "410103202600001", "contractor": "测试建设公司", "unit_code": "ZJJ"}),
        )
        .await;
    assert_eq!(st, 200, "{site}");
    let device = format!("D{}", uid());
    let (st, dev) = s
        .post(
            &admin,
            "/api/v1/admin/sensor-devices",
            json!({"id": device, "site_id": "S1", "district": district, "kind": "扬尘监测仪",
                   "metrics": ["pm10", "battery"]}),
        )
        .await;
    assert_eq!(st, 201, "{dev}");
    assert_eq!(
        dev["topic"],
        format!("cityloop/{district}/{device}/telemetry")
    );
    let secret = dev["secret"].as_str().unwrap().to_owned();
    wait_broker(&s, "connected").await;
    Rig {
        s,
        admin,
        district,
        client_id,
        device,
        secret,
        base: chrono::SubsecRound::trunc_subsecs(
            chrono::Utc::now() - chrono::Duration::hours(6),
            0,
        ),
    }
}

async fn health(s: &Server) -> Value {
    s.http
        .get(s.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_broker(s: &Server, want: &str) {
    for _ in 0..200 {
        if health(s).await["sensors"]["broker"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("broker never {want}: {}", health(s).await);
}

/// Publishes one message at QoS 1 with its own client id.
fn publish(topic: &str, payload: &[u8]) {
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", "1883", "-q", "1", "-i"])
        .arg(format!("pub-{}", uid()))
        .args(["-t", topic, "-s"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub");
    child.stdin.take().unwrap().write_all(payload).unwrap();
    assert!(child.wait().unwrap().success(), "mosquitto_pub failed");
}

impl Rig {
    fn topic(&self) -> String {
        format!("cityloop/{}/{}/telemetry", self.district, self.device)
    }

    fn at(&self, minute: i64) -> String {
        (self.base + chrono::Duration::minutes(minute)).to_rfc3339()
    }

    fn reading(&self, minute: i64, pm10: f64) -> Vec<u8> {
        json!({"at": self.at(minute), "metrics": {"pm10": {"value": pm10, "unit": "ug/m3"}, "battery": {"value": 88}}})
            .to_string()
            .into_bytes()
    }

    /// Publishes one reading a minute from `from`.
    fn feed(&self, from: i64, values: &[f64]) {
        for (i, v) in values.iter().enumerate() {
            publish(&self.topic(), &self.reading(from + i as i64, *v));
        }
    }

    async fn intake(&self) -> Value {
        self.s
            .get(&self.admin, "/api/v1/admin/sensor-intake")
            .await
            .1
    }

    /// Waits until this process has settled `n` payloads (accepted or dropped).
    async fn settled(&self, n: u64) -> Value {
        for _ in 0..300 {
            let v = self.intake().await;
            let dropped: u64 = v["dropped"]
                .as_object()
                .map(|m| m.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            if v["accepted"].as_u64().unwrap_or(0) + dropped >= n {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("intake never settled {n}: {}", self.intake().await);
    }

    async fn sensor_cases(&self) -> Vec<Value> {
        let (st, v) = self.s.get(&self.admin, "/api/v1/cases?limit=100").await;
        assert_eq!(st, 200, "{v}");
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["source"] == "sensor")
            .cloned()
            .collect()
    }

    async fn log(&self, case: &str) -> Vec<Value> {
        let (st, v) = self
            .s
            .get(&self.admin, &format!("/api/v1/cases/{case}/sensor-log"))
            .await;
        assert_eq!(st, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}

fn kinds(log: &[Value]) -> Vec<String> {
    log.iter()
        .map(|l| l["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_spike_opens_nothing_a_long_exceedance_opens_one_routed_case_and_a_dip_above_clear_does_not_clear(
) {
    for db in TestDb::all().await {
        let r = rig(&db, 3600).await;
        // Over for minutes 1..=4 (240 s < the 300 s hold), then back under.
        r.feed(0, &[80.0, 200.0, 300.0, 250.0, 200.0, 90.0]);
        r.settled(6).await;
        assert_eq!(
            r.sensor_cases().await,
            Vec::<Value>::new(),
            "a spike opens nothing"
        );
        // Over from minute 10; the hold is met at minute 15 (peak 400 at minute 12).
        r.feed(10, &[160.0, 200.0, 400.0, 180.0, 170.0, 190.0]);
        r.settled(12).await;
        let cases = r.sensor_cases().await;
        assert_eq!(cases.len(), 1, "{cases:?}");
        let case = &cases[0];
        assert_eq!(case["category"]["code"], "08004");
        assert_eq!(case["lat"], LAT);
        // Routed like any case at the site's point: the unit the router names there.
        let (_, route) =
            r.s.get(
                &r.admin,
                &format!("/api/v1/route?lat={LAT}&lon={LON}&service_code=08004"),
            )
            .await;
        assert!(case["routing"]["unit_id"].is_string(), "{case}");
        assert_eq!(case["routing"]["unit_id"], route["unit"]["id"], "{route}");
        let id = case["id"].as_str().unwrap();
        let log = r.log(id).await;
        assert_eq!(kinds(&log), ["opened"]);
        assert_eq!(log[0]["summary"]["peak"], 400.0);
        assert_eq!(log[0]["summary"]["exceedance_secs"], 300);
        assert_eq!(log[0]["summary"]["readings"], 6);
        assert!(
            case["description"].as_str().unwrap().contains("峰值 400.0"),
            "{case}"
        );
        // Under 150 but over the clear threshold (100) for ten minutes: still open.
        r.feed(16, &[120.0; 10]);
        r.settled(22).await;
        assert_eq!(r.sensor_cases().await.len(), 1);
        assert_eq!(kinds(&r.log(id).await), ["opened"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clear_then_exceedance_within_the_window_reopens_the_same_case_and_after_it_opens_a_new_one(
) {
    for db in TestDb::all().await {
        let r = rig(&db, 3600).await;
        // Open at minute 5, under 100 from minute 10, cleared at minute 12.
        let mut seq = vec![200.0; 10];
        seq.extend([50.0; 3]);
        r.feed(0, &seq);
        // Over again from minute 20 (480 s after clearing, within 600 s): reopens at 25.
        r.feed(13, &[50.0; 7]);
        r.feed(20, &[300.0; 6]);
        r.settled(26).await;
        let cases = r.sensor_cases().await;
        assert_eq!(cases.len(), 1, "{cases:?}");
        let first = cases[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            kinds(&r.log(&first).await),
            ["opened", "cleared", "reopened"]
        );
        // The clearing did not close the case: it still needs handling and a check.
        assert_ne!(cases[0]["state"], "closed");
        // Clear at minute 28 (under 100 from 26), over again from minute 40 (720 s after
        // the clearing, past 600 s): a new case at minute 45.
        r.feed(26, &[50.0; 14]);
        r.feed(40, &[300.0; 6]);
        r.settled(46).await;
        let cases = r.sensor_cases().await;
        assert_eq!(cases.len(), 2, "{cases:?}");
        let second = cases.iter().find(|c| c["id"] != first.as_str()).unwrap();
        assert_eq!(
            kinds(&r.log(second["id"].as_str().unwrap()).await),
            ["opened"]
        );
        assert_eq!(
            kinds(&r.log(&first).await),
            ["opened", "cleared", "reopened", "cleared"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_published_while_the_server_is_killed_arrive_after_restart_and_complete_the_hold()
{
    for db in TestDb::all().await {
        let mut r = rig(&db, 3600).await;
        // Over from minute 0: the hold (300 s) is running when the server is killed.
        r.feed(0, &[200.0, 210.0, 220.0]);
        r.settled(3).await;
        assert!(r.sensor_cases().await.is_empty());
        r.s.kill9();
        // Published while nothing is subscribed: the broker keeps them in the session.
        r.feed(3, &[230.0, 240.0, 250.0]);
        let s = Server::spawn_env("serve", &db.url, &env(&r.district, &r.client_id, BROKER));
        r.admin = s.login("admin").await;
        r.s = s;
        // Redelivered readings (acknowledged or not before the kill) are stale: wait for
        // the case rather than for a count.
        for _ in 0..300 {
            if !r.sensor_cases().await.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let cases = r.sensor_cases().await;
        assert_eq!(cases.len(), 1, "{cases:?}");
        let log = r.log(cases[0]["id"].as_str().unwrap()).await;
        assert_eq!(kinds(&log), ["opened"]);
        // The hold started before the kill: six readings from minute 0, peak 250.
        assert_eq!(log[0]["summary"]["started_at"], json!(r.base));
        assert_eq!(log[0]["summary"]["readings"], 6);
        assert_eq!(log[0]["summary"]["peak"], 250.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_device_opens_one_offline_case_and_data_returning_records_it() {
    for db in TestDb::all().await {
        let r = rig(&db, 2).await;
        r.feed(0, &[50.0]);
        r.settled(1).await;
        let mut offline = Vec::new();
        for _ in 0..100 {
            offline = r.sensor_cases().await;
            if !offline.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(offline.len(), 1, "one 设备离线 case");
        assert_eq!(offline[0]["category"]["code"], "03010");
        assert!(offline[0]["description"]
            .as_str()
            .unwrap()
            .contains("设备离线"));
        // More offline passes (every 200 ms) open no second case.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(r.sensor_cases().await.len(), 1);
        let id = offline[0]["id"].as_str().unwrap().to_owned();
        let (_, devices) = r.s.get(&r.admin, "/api/v1/admin/sensor-devices").await;
        // The demo district's own 演示 devices are listed too: find this test's.
        let mine = devices
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device"]["id"] == r.device.as_str())
            .unwrap_or_else(|| panic!("{devices}"));
        assert_eq!(mine["offline_case_id"], id.as_str(), "{devices}");
        assert_eq!(mine["last_status"]["battery"], 88.0, "{devices}");
        // Data returns: recorded on the case, which stays open for a handler to confirm.
        r.feed(1, &[50.0]);
        r.settled(2).await;
        assert_eq!(kinds(&r.log(&id).await), ["offline", "online"]);
        let (_, case) = r.s.get(&r.admin, &format!("/api/v1/cases/{id}")).await;
        assert_ne!(case["state"], "closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_payload_is_dropped_with_its_reason_counted_and_intake_continues() {
    for db in TestDb::all().await {
        let r = rig(&db, 3600).await;
        let t = r.topic();
        let m = |metrics: Value| json!({"at": r.at(0), "metrics": metrics}).to_string();
        let far_future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let far_past = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
        let bad: Vec<(&str, String, Vec<u8>)> = vec![
            ("too_large", t.clone(), vec![b' '; 70 * 1024]),
            ("not_json", t.clone(), b"pm10=180".to_vec()),
            (
                "unknown_metric",
                t.clone(),
                m(json!({"pm11": {"value": 1}})).into_bytes(),
            ),
            (
                "not_finite",
                t.clone(),
                m(json!({"pm10": {"value": "NaN"}})).into_bytes(),
            ),
            (
                "out_of_range",
                t.clone(),
                m(json!({"pm10": {"value": -5}})).into_bytes(),
            ),
            (
                "wrong_unit",
                t.clone(),
                m(json!({"pm10": {"value": 5, "unit": "mg/m3"}})).into_bytes(),
            ),
            (
                "too_far_future",
                t.clone(),
                json!({"at": far_future, "metrics": {"pm10": {"value": 5}}})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "too_far_past",
                t.clone(),
                json!({"at": far_past, "metrics": {"pm10": {"value": 5}}})
                    .to_string()
                    .into_bytes(),
            ),
            // Another device's payload on this device's topic.
            (
                "wrong_topic",
                t.clone(),
                json!({"device": "OTHER", "at": r.at(0), "metrics": {"pm10": {"value": 5}}})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "unknown_device",
                format!("cityloop/{}/NOBODY/telemetry", r.district),
                r.reading(0, 5.0),
            ),
        ];
        for (_, topic, payload) in &bad {
            publish(topic, payload);
        }
        // Intake continues: a good reading after all of them is accepted.
        r.feed(1, &[80.0]);
        let v = r.settled(bad.len() as u64 + 1).await;
        assert_eq!(v["accepted"], 1, "{v}");
        for (reason, _, _) in &bad {
            assert_eq!(v["dropped"][reason], 1, "{reason}: {v}");
        }
        assert!(
            r.sensor_cases().await.is_empty(),
            "no bad payload opens a case"
        );
        assert_eq!(health(&r.s).await["sensors"]["status"], "ok");

        // The HTTP intake: the same checks, answered.
        let post = |auth: Option<String>, body: Vec<u8>| {
            let mut q = r.s.http.post(r.s.url("/api/v1/telemetry")).body(body);
            if let Some(a) = auth {
                q = q.header("Authorization", a);
            }
            async move {
                let resp = q.send().await.unwrap();
                (
                    resp.status().as_u16(),
                    resp.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let good = Some(format!("Bearer {}:{}", r.device, r.secret));
        let (st, body) = post(good.clone(), r.reading(2, 90.0)).await;
        assert_eq!(st, 202, "{body}");
        assert_eq!(body["device"], r.device.as_str());
        let (st, _) = post(
            Some(format!("Bearer {}:wrong", r.device)),
            r.reading(3, 90.0),
        )
        .await;
        assert_eq!(st, 401);
        let (st, _) = post(None, r.reading(3, 90.0)).await;
        assert_eq!(st, 401);
        let (st, body) = post(good.clone(), vec![b' '; 70 * 1024]).await;
        assert_eq!(st, 413, "{body}");
        let (st, body) = post(good.clone(), m(json!({"pm11": {"value": 1}})).into_bytes()).await;
        assert_eq!(st, 422, "{body}");
        assert_eq!(body["error"]["field"], "metrics.pm11", "{body}");
        let (st, body) = post(good, r.reading(3, -1.0)).await;
        assert_eq!(st, 422, "{body}");
        let v = r.intake().await;
        assert_eq!(v["accepted"], 2, "{v}");
        assert_eq!(v["dropped"]["bad_credentials"], 1, "{v}");
        assert_eq!(v["dropped"]["out_of_range"], 2, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_the_sensor_intake_is_degraded_while_the_broker_is_away_and_the_rest_serves() {
    let db = TestDb::sqlite().await;
    // A port with nothing listening: the broker is down at start-up.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let broker = format!("mqtt://127.0.0.1:{port}");
    let district = format!("t{}", uid());
    let client_id = format!("cl-{}", uid());
    let s = Server::spawn_env("demo", &db.url, &env(&district, &client_id, &broker));
    wait_broker(&s, "down").await;
    let h = health(&s).await;
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["sensors"]["status"], "degraded", "{h}");
    assert!(h["sensors"]["last_error"].is_string(), "{h}");
    let token = s.login("supervisor").await;
    let (st, _) = s.get(&token, "/api/v1/cases?limit=5").await;
    assert_eq!(st, 200, "everything else keeps serving");
}
