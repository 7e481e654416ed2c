//! The sensor series API on the real server, both stores (issue 19 item 6): readings sent
//! through the device-authenticated HTTP intake come back from `GET /api/v1/sensors/series`
//! as the hand-computed per-bucket count, min, max and mean, a repeated reading counts
//! once, a site sums its devices, and every bad parameter is a 422 naming its field. The
//! site page and the devices list read the same data for any staff role.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

const LAT: f64 = 34.7503;
const LON: f64 = 113.6615;

async fn device(s: &Server, admin: &str, id: &str) -> String {
    let (st, dev) = s
        .post(
            admin,
            "/api/v1/admin/sensor-devices",
            json!({"id": id, "site_id": "S1", "kind": "扬尘监测仪", "metrics": ["pm10", "battery"]}),
        )
        .await;
    assert_eq!(st, 201, "{dev}");
    dev["secret"].as_str().unwrap().to_owned()
}

async fn send(s: &Server, dev: &str, secret: &str, at: i64, pm10: f64) {
    let at = chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .to_rfc3339();
    let r = s
        .http
        .post(s.url("/api/v1/telemetry"))
        .bearer_auth(format!("{dev}:{secret}"))
        .json(&json!({"at": at, "metrics": {"pm10": {"value": pm10, "unit": "ug/m3"}, "battery": {"value": 77}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn points(v: &Value) -> Vec<(i64, i64, f64, f64, f64)> {
    v["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|p| {
            (
                p["start"].as_i64().unwrap(),
                p["count"].as_i64().unwrap(),
                p["min"].as_f64().unwrap(),
                p["max"].as_f64().unwrap(),
                p["mean"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_api_answers_hand_computed_bucket_aggregates_and_names_every_bad_parameter() {
    for db in TestDb::all().await {
        let s = Server::spawn("demo", &db.url);
        let admin = s.login("admin").await;
        let (st, site) = s
            .post(
                &admin,
                "/api/v1/admin/sensor-sites",
                json!({"id": "S1", "kind": "building_site", "name": "测试工地", "lon": LON, "lat": LAT,
                       "responsible_party": "测试建设公司"}),
            )
            .await;
        assert_eq!(st, 200, "{site}");
        let k1 = device(&s, &admin, "D1").await;
        let k2 = device(&s, &admin, "D2").await;
        // Two hours ago, on a whole hour: within the 48 h a device may lag.
        let base = (chrono::Utc::now().timestamp() - 7200) / 3600 * 3600;
        send(&s, "D1", &k1, base + 10, 10.0).await;
        send(&s, "D1", &k1, base + 20, 30.0).await;
        send(&s, "D1", &k1, base + 20, 30.0).await; // the same reading again: once
        send(&s, "D1", &k1, base + 70, 50.0).await;
        send(&s, "D1", &k1, base + 130, 5.0).await;
        send(&s, "D2", &k2, base + 15, 100.0).await;

        let series = |q: String| {
            let s = &s;
            let admin = admin.clone();
            async move { s.get(&admin, &format!("/api/v1/sensors/series?{q}")).await }
        };
        let range = format!("from={}&to={}", iso(base), iso(base + 180));
        let (st, v) = series(format!("device=D1&metric=pm10&{range}&bucket=60")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(
            points(&v),
            [
                (base, 2, 10.0, 30.0, 20.0),
                (base + 60, 1, 50.0, 50.0, 50.0),
                (base + 120, 1, 5.0, 5.0, 5.0)
            ]
        );
        assert_eq!(v["unit"], "ug/m3");
        // The building site's PM10 rule, drawn on the chart: open over 150, clear under 120.
        assert_eq!(v["thresholds"][0]["open_above"], 150.0, "{v}");
        assert_eq!(v["thresholds"][0]["clear_below"], 120.0, "{v}");
        let (_, v) = series(format!("device=D1&metric=pm10&{range}&bucket=120")).await;
        assert_eq!(
            points(&v),
            [(base, 3, 10.0, 50.0, 30.0), (base + 120, 1, 5.0, 5.0, 5.0)]
        );
        let (_, v) = series(format!("site=S1&metric=pm10&{range}&bucket=60")).await;
        assert_eq!(points(&v)[0], (base, 3, 10.0, 100.0, 140.0 / 3.0));
        let (_, v) = series(format!("device=D1&metric=battery&{range}&bucket=180")).await;
        assert_eq!(points(&v), [(base, 4, 77.0, 77.0, 77.0)]);

        // Every bad parameter names its field.
        for (q, field, status) in [
            (format!("metric=pm10&{range}&bucket=60"), "device", 422),
            (
                format!("device=D1&site=S1&metric=pm10&{range}&bucket=60"),
                "device",
                422,
            ),
            (
                format!("device=D1&metric=pm11&{range}&bucket=60"),
                "metric",
                422,
            ),
            (
                format!("device=D1&metric=pm10&{range}&bucket=90"),
                "bucket",
                422,
            ),
            (
                format!(
                    "device=D1&metric=pm10&from={}&to={}&bucket=60",
                    iso(base),
                    iso(base + 86_460)
                ),
                "bucket",
                422,
            ),
            (
                format!(
                    "device=D1&metric=pm10&from={}&to={}&bucket=60",
                    iso(base),
                    iso(base)
                ),
                "to",
                422,
            ),
            (
                format!(
                    "device=D1&metric=pm10&from=yesterday&to={}&bucket=60",
                    iso(base)
                ),
                "from",
                422,
            ),
        ] {
            let (st, v) = series(q.clone()).await;
            assert_eq!(st, status, "{q}: {v}");
            assert_eq!(v["error"]["field"], field, "{q}: {v}");
        }
        let (st, v) = series(format!("device=NOPE&metric=pm10&{range}&bucket=60")).await;
        assert_eq!(st, 404, "{v}");

        // Any staff role reads the site page and the devices by health.
        let op = s.login("operator").await;
        let (st, page) = s.get(&op, "/api/v1/sensors/sites/S1").await;
        assert_eq!(st, 200, "{page}");
        assert_eq!(page["site"]["responsible_party"], "测试建设公司");
        assert_eq!(page["devices"].as_array().unwrap().len(), 2);
        assert_eq!(page["devices"][0]["last_status"]["battery"], 77.0);
        assert_eq!(page["thresholds"][1]["metric"], "pm10", "{page}");
        let (st, list) = s.get(&op, "/api/v1/sensors/devices").await;
        assert_eq!(st, 200, "{list}");
        // This test's two devices beside the demo district's two 演示 ones; never a secret.
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["device"]["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"D1") && ids.contains(&"D2"), "{list}");
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["secret_hash"].is_null()));
        let (st, _) = s.get(&op, "/api/v1/sensors/sites/NOPE").await;
        assert_eq!(st, 404);
    }
}
