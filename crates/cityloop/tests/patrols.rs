//! Patrols on the ground over HTTP against the real binary on every store (issue 21): a
//! trail walked along one demo road, uploaded in three batches (out of order, one retried),
//! credits exactly that road; ending twice is refused; a no-GPS patrol counts separately;
//! unbelievable points are dropped and counted; the rankings read the trail.

mod common;

use chrono::{Duration, Utc};
use cityloop_geo::metric::{distance_m, metres_per_degree};
use common::{Server, TestDb};
use serde_json::{json, Value};

macro_rules! http_test {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let server = Server::spawn("demo", &db.url);
                $body(&server).await;
            }
        }
    };
}

async fn put(s: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .put(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A demo road segment 400–1200 m long: its id and vertices.
fn demo_road() -> (String, Vec<(f64, f64)>) {
    let roads: Value = serde_json::from_str(cityloop_geo::demo::ERQI_ROADS).unwrap();
    for f in roads["features"].as_array().unwrap() {
        let pts: Vec<(f64, f64)> = f["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        let len: f64 = pts.windows(2).map(|w| distance_m(w[0], w[1])).sum();
        if (400.0..1200.0).contains(&len) {
            return (f["properties"]["id"].as_str().unwrap().to_owned(), pts);
        }
    }
    panic!("no demo road of 400–1200 m");
}

/// Positions every ~10 m along the line, 4 m to its north, one every 3 s ending a minute ago.
fn walk_along(line: &[(f64, f64)]) -> Vec<Value> {
    let mut pos = Vec::new();
    for w in line.windows(2) {
        let n = (distance_m(w[0], w[1]) / 10.0).ceil().max(1.0) as usize;
        for k in 0..n {
            let u = k as f64 / n as f64;
            pos.push((
                w[0].0 + u * (w[1].0 - w[0].0),
                w[0].1 + u * (w[1].1 - w[0].1),
            ));
        }
    }
    pos.push(*line.last().unwrap());
    let ky = metres_per_degree(line[0].1).1;
    let start = Utc::now() - Duration::seconds(60 + 3 * pos.len() as i64);
    pos.iter()
        .enumerate()
        .map(|(k, (lon, lat))| {
            json!({
                "t": (start + Duration::seconds(3 * k as i64)).to_rfc3339(),
                "lon": lon, "lat": lat + 4.0 / ky, "accuracy_m": 6.0
            })
        })
        .collect()
}

/// The code of a street office unit (its road chiefs are `roadchief1-<code>`, `roadchief2-<code>`).
async fn street_unit(s: &Server) -> String {
    let (_, units) = s.get(&s.login("operator").await, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "street")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Road chiefs whose ranking for today (Beijing time) shows one patrol done.
async fn chiefs_who_patrolled_today(s: &Server) -> usize {
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    let (st, table) = s
        .get(
            &s.login("supervisor").await,
            &format!("/api/v1/rankings?object=road_chief&from={today}&to={today}"),
        )
        .await;
    assert_eq!(st, 200, "{table}");
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| {
            row["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["key"] == "patrols_done" && i["value"] == json!(1.0))
        })
        .count()
}

async fn a_trail_in_three_batches_credits_exactly_the_walked_road(s: &Server) {
    let chief = s.login("roadchief-district").await;
    let (st, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    assert_eq!(st, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    // Starting again while it runs answers the same patrol (a lost answer, retried).
    let (st, again) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    assert_eq!(
        (st, &again["id"], &again["resumed"]),
        (200, &run["id"], &json!(true))
    );

    let (road, line) = demo_road();
    let pts = walk_along(&line);
    let third = pts.len() / 3;
    let batches = [&pts[..third], &pts[third..2 * third], &pts[2 * third..]];
    let url = |b: &str| format!("/api/v1/patrols/{id}/points/{b}");
    // Out of order: the last batch first.
    for (b, p) in [("b3", batches[2]), ("b1", batches[0]), ("b2", batches[1])] {
        let (st, v) = put(s, &chief, &url(b), json!({ "points": p })).await;
        assert_eq!((st, &v["stored"]), (200, &json!(true)), "{b}: {v}");
    }
    // The connection dropped after b2 was stored: the phone sends it again.
    let (st, v) = put(s, &chief, &url("b2"), json!({ "points": batches[1] })).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["stored"], false);
    assert_eq!(v["points_total"], pts.len());
    // The same batch id with other points is refused.
    let (st, v) = put(s, &chief, &url("b2"), json!({ "points": batches[0] })).await;
    assert_eq!(st, 409, "{v}");
    // A bad batch id names the field.
    let (st, v) = put(s, &chief, &url("b%20x"), json!({ "points": batches[0] })).await;
    assert_eq!((st, &v["error"]["field"]), (422, &json!("batch")), "{v}");

    let (st, end) = s
        .post(
            &chief,
            &format!("/api/v1/patrols/{id}/end"),
            json!({"note": "日常巡查"}),
        )
        .await;
    assert_eq!(st, 200, "{end}");
    let r = &end["result"];
    assert_eq!(r["kind"], "trail");
    assert_eq!(
        r["points_received"],
        pts.len(),
        "the retried batch counts once"
    );
    assert_eq!(r["points_kept"], pts.len());
    assert_eq!(r["credited"], json!([road]), "{r}");
    let own = r["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["segment_id"] == road.as_str())
        .unwrap();
    assert!(own["share"].as_f64().unwrap() > 0.99, "{own}");
    // Ending twice, or adding points after the end, is refused.
    let (st, v) = s
        .post(&chief, &format!("/api/v1/patrols/{id}/end"), json!({}))
        .await;
    assert_eq!(st, 409, "{v}");
    let (st, _) = put(s, &chief, &url("b4"), json!({ "points": batches[0] })).await;
    assert_eq!(st, 409);
    // Another road chief does not see it; a non-chief may not patrol.
    let other = s
        .login(&format!("roadchief2-{}", street_unit(s).await))
        .await;
    let (st, _) = s.get(&other, &format!("/api/v1/patrols/{id}")).await;
    assert_eq!(st, 404);
    let (st, _) = s
        .post(
            &s.login("inspector").await,
            "/api/v1/patrols/start",
            json!({}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, v) = s.get(&chief, &format!("/api/v1/patrols/{id}")).await;
    assert_eq!((st, &v["result"]["credited"]), (200, &json!([road])));

    // The rankings read the trail: the district chief patrolled once.
    assert_eq!(chiefs_who_patrolled_today(s).await, 1);
}

async fn a_patrol_without_gps_needs_a_reason_and_credits_nothing(s: &Server) {
    let chief = s.login("roadchief-district").await;
    let (_, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let end = format!("/api/v1/patrols/{id}/end");
    let (st, v) = s.post(&chief, &end, json!({})).await;
    assert_eq!(
        (st, &v["error"]["field"]),
        (422, &json!("no_gps_reason")),
        "{v}"
    );
    let (st, v) = s
        .post(&chief, &end, json!({"no_gps_reason": "手机定位故障"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["kind"], "no_gps");
    assert_eq!(v["result"]["credited"], json!([]));
    assert_eq!(
        chiefs_who_patrolled_today(s).await,
        0,
        "a no-GPS patrol is not a patrol done"
    );
}

async fn unbelievable_points_are_dropped_and_counted(s: &Server) {
    let chief = s.login("roadchief-district").await;
    let (_, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let (_, line) = demo_road();
    let mut pts = walk_along(&line);
    let last = pts.last().unwrap().clone();
    // The jump below must be faster than 120 km/h: over 167 m in 5 s.
    assert!(distance_m(line[0], *line.last().unwrap()) > 200.0);
    // Back to the road's start (400 m or more) in 5 s, an hour in the future, and far outside
    // the district (Beijing).
    let t = |secs: i64| (Utc::now() + Duration::seconds(secs)).to_rfc3339();
    pts.push(json!({"t": t(-55), "lon": line[0].0, "lat": line[0].1}));
    pts.push(json!({"t": t(3600), "lon": last["lon"], "lat": last["lat"]}));
    pts.push(json!({"t": t(-50), "lon": 116.4, "lat": 39.9}));
    let (st, v) = put(
        s,
        &chief,
        &format!("/api/v1/patrols/{id}/points/a"),
        json!({"points": pts}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .post(&chief, &format!("/api/v1/patrols/{id}/end"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let d = &v["result"]["dropped"];
    assert_eq!(
        (
            d["jump"].as_i64(),
            d["future"].as_i64(),
            d["outside"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{d}"
    );
    assert_eq!(v["result"]["points_kept"], pts.len() - 3);
    // Too many points in one batch names the field.
    let (_, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let many: Vec<Value> = (0..1001).map(|_| pts[0].clone()).collect();
    let (st, v) = put(
        s,
        &chief,
        &format!("/api/v1/patrols/{id}/points/big"),
        json!({"points": many}),
    )
    .await;
    assert_eq!((st, &v["error"]["field"]), (422, &json!("points")), "{v}");
}

http_test!(
    a_patrol_uploaded_in_three_batches_one_retried_covers_exactly_the_walked_road,
    a_trail_in_three_batches_credits_exactly_the_walked_road
);
http_test!(
    a_no_gps_patrol_needs_a_reason_and_credits_no_segment,
    a_patrol_without_gps_needs_a_reason_and_credits_nothing
);
http_test!(
    jumps_future_and_outside_points_are_dropped_and_counted,
    unbelievable_points_are_dropped_and_counted
);

async fn gaps_list_the_segments_of_a_deactivated_chief(s: &Server) {
    let admin = s.login("admin").await;
    let (st, before) = s.get(&admin, "/api/v1/admin/road-chief-gaps").await;
    assert_eq!(st, 200, "{before}");
    assert_eq!(before["inactive_holders"], json!([]), "the demo has none");
    // The demo's 总路长 holds every segment of the district by design: no limit applies.
    assert_eq!(before["over_limit"], json!([]), "{}", before["over_limit"]);
    let chief_name = format!("roadchief2-{}", street_unit(s).await);
    let chief = s.login(&chief_name).await;
    let (_, me) = s.get(&chief, "/api/v1/me").await;
    let (st, v) = s
        .http
        .delete(s.url(&format!(
            "/api/v1/admin/people/{}",
            me["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(st, 200, "{v:?}");
    let (st, after) = s.get(&admin, "/api/v1/admin/road-chief-gaps").await;
    assert_eq!(st, 200, "{after}");
    let holders = after["inactive_holders"].as_array().unwrap();
    assert_eq!(holders.len(), 1, "{after}");
    assert_eq!(holders[0]["person_id"], me["id"]);
    // Each of their segments now misses its 二级 chief.
    let held: Vec<String> = holders[0]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().trim_end_matches(":second").to_owned())
        .collect();
    assert!(!held.is_empty());
    for seg in &held {
        let m = after["missing"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["segment_id"] == seg.as_str())
            .unwrap_or_else(|| panic!("{seg} listed as missing"));
        assert!(
            m["missing_levels"]
                .as_array()
                .unwrap()
                .contains(&json!("second")),
            "{m}"
        );
    }
    let (st, _) = s.get(&chief, "/api/v1/admin/road-chief-gaps").await;
    assert!(st == 401 || st == 403, "{st}");
}

http_test!(
    gaps_list_a_segment_whose_chief_was_deactivated,
    gaps_list_the_segments_of_a_deactivated_chief
);
