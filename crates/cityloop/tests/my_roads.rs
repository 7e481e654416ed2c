//! 我的路段 and the admin's road-chief tools over HTTP against the real binary on every
//! store (issue 21): a 二级 road chief sees exactly their street's segments, a case on one
//! of them under it, and the segment they walked marked patrolled while the others stay
//! due; the 总路长 sees the district; bulk assignment by street closes the previous
//! holders' rows (history kept), writes one audit row and names the field it refuses; the
//! gaps list a segment whose chief was deactivated.

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

async fn delete(s: &Server, token: &str, path: &str) -> (u16, Value) {
    let r = s
        .http
        .delete(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The first street office unit: its code and street code (`type_key`).
async fn street_unit(s: &Server) -> (String, String) {
    let (_, units) = s.get(&s.login("operator").await, "/api/v1/units").await;
    let u = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "street")
        .unwrap()
        .clone();
    (
        u["code"].as_str().unwrap().to_owned(),
        u["type_key"].as_str().unwrap().to_owned(),
    )
}

fn line_of(seg: &Value) -> Vec<(f64, f64)> {
    seg["line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
        .collect()
}

fn length_m(line: &[(f64, f64)]) -> f64 {
    line.windows(2).map(|w| distance_m(w[0], w[1])).sum()
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

async fn my_roads(s: &Server, token: &str) -> Value {
    let (st, v) = s.get(token, "/api/v1/me/roads").await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn a_second_level_chief_sees_their_street_a_case_on_it_and_the_walked_segment_patrolled(
    s: &Server,
) {
    let (unit_code, street) = street_unit(s).await;
    let chief = s.login(&format!("roadchief2-{unit_code}")).await;
    let mine = my_roads(s, &chief).await;
    assert_eq!(mine["scope"], "street", "{}", mine["scope"]);
    assert_eq!(mine["levels"], json!(["second"]));
    let segs = mine["segments"].as_array().unwrap().clone();
    assert!(!segs.is_empty());
    for seg in &segs {
        assert_eq!(seg["street_code"], street.as_str(), "{}", seg["segment_id"]);
        assert_eq!(seg["levels"], json!(["second"]));
        // Nobody has patrolled yet: every segment owes one, and none is overdue (the
        // windows before the demo assigned the chief were not theirs to meet).
        assert_eq!(seg["patrol"]["status"], "due", "{}", seg["patrol"]);
        assert_eq!(seg["patrol"]["level"], "second");
        assert!(seg["patrol"]["last_patrol_at"].is_null());
        // The chiefs of every level, the signed-in one marked.
        let levels: Vec<&str> = seg["chiefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["district", "first", "second"], "{}", seg["chiefs"]);
        assert_eq!(seg["chiefs"][2]["me"], true);
        assert_eq!(seg["chiefs"][0]["me"], false);
    }
    // The 总路长 holds the whole district: more segments, at the district level.
    let district = my_roads(s, &s.login("roadchief-district").await).await;
    assert_eq!(district["scope"], "district");
    assert!(district["segments"].as_array().unwrap().len() > segs.len());
    // Staff who are not road chiefs have no roads.
    let (st, _) = s.get(&s.login("inspector").await, "/api/v1/me/roads").await;
    assert_eq!(st, 403);

    // Walk one segment of 300–1500 m.
    let walked = segs
        .iter()
        .find(|g| (300.0..1500.0).contains(&length_m(&line_of(g))))
        .expect("a segment of 300–1500 m in the street")
        .clone();
    let seg_id = walked["segment_id"].as_str().unwrap().to_owned();
    let line = line_of(&walked);

    // A problem reported on the way lies on the segment and is listed under it.
    let mid = line[line.len() / 2];
    let (st, case) = s
        .post(
            &chief,
            "/api/v1/cases",
            json!({
                "source": "road_chief",
                "category": "06010",
                "description": "路面有暴露垃圾",
                "lat": mid.1, "lon": mid.0,
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");

    // The case page names the segment's road chiefs per level.
    let (st, detail) = s
        .get(
            &chief,
            &format!("/api/v1/cases/{}", case["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(st, 200, "{detail}");
    let levels: Vec<&str> = detail["road_chiefs"]
        .as_array()
        .expect("road_chiefs on the case detail")
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["district", "first", "second"],
        "{}",
        detail["road_chiefs"]
    );

    let (st, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    assert_eq!(st, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    let pts = walk_along(&line);
    let (st, v) = put(
        s,
        &chief,
        &format!("/api/v1/patrols/{id}/points/b1"),
        json!({ "points": pts }),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, end) = s
        .post(&chief, &format!("/api/v1/patrols/{id}/end"), json!({}))
        .await;
    assert_eq!(st, 200, "{end}");
    assert!(
        end["result"]["credited"]
            .as_array()
            .unwrap()
            .contains(&json!(seg_id)),
        "{}",
        end["result"]
    );
    let credited: Vec<String> = end["result"]["credited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();

    let after = my_roads(s, &chief).await;
    for seg in after["segments"].as_array().unwrap() {
        let sid = seg["segment_id"].as_str().unwrap();
        if credited.iter().any(|c| c == sid) {
            assert_eq!(seg["patrol"]["status"], "done", "{sid}: {}", seg["patrol"]);
            assert!(seg["patrol"]["last_patrol_at"].is_string());
        } else {
            assert_ne!(seg["patrol"]["status"], "done", "{sid} was not walked");
        }
    }
    let own = after["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["segment_id"] == seg_id.as_str())
        .unwrap();
    if case["routing"]["segment_id"] == seg_id.as_str() {
        assert!(
            own["open"]["total"].as_u64().unwrap() >= 1,
            "{}",
            own["open"]
        );
        assert!(
            own["cases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == case["id"]),
            "{}",
            own["cases"]
        );
    } else {
        // The router put the case on a crossing segment: it is listed under that one.
        let other = case["routing"]["segment_id"].as_str().unwrap();
        let row = after["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["segment_id"] == other)
            .unwrap();
        assert!(row["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == case["id"]));
    }
}

async fn bulk_assignment_by_street_keeps_history_is_audited_and_names_bad_fields(s: &Server) {
    let admin = s.login("admin").await;
    let (unit_code, street) = street_unit(s).await;
    let (_, unit_list) = s.get(&admin, "/api/v1/admin/units").await;
    let unit_id = unit_list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == unit_code.as_str())
        .unwrap()["id"]
        .clone();
    let (st, p) = s
        .post(
            &admin,
            "/api/v1/admin/people",
            json!({"username": "roadchief1-new", "display_name": "新一级路长", "role": "road_chief",
                   "unit_id": unit_id, "password": "a-long-password-1"}),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_str().unwrap().to_owned();

    // Refusals name the field.
    for (body, field) in [
        (json!({"level": "first", "person_id": pid}), "target"),
        (
            json!({"street": street, "road_name": "x", "level": "first", "person_id": pid}),
            "target",
        ),
        (
            json!({"road_name": "没有这条路", "level": "first", "person_id": pid}),
            "road_name",
        ),
        (
            json!({"street": "999999999", "level": "first", "person_id": pid}),
            "street",
        ),
        (
            json!({"segment_ids": ["no-such-segment"], "level": "first", "person_id": pid}),
            "segment_ids[0]",
        ),
        (
            json!({"street": street, "level": "boss", "person_id": pid}),
            "level",
        ),
        (
            json!({"street": street, "level": "first", "person_id": "nobody"}),
            "person_id",
        ),
    ] {
        let (st, v) = s
            .post(&admin, "/api/v1/admin/road-chiefs/bulk", body.clone())
            .await;
        assert_eq!(
            (st, &v["error"]["field"]),
            (422, &json!(field)),
            "{body}: {v}"
        );
    }
    // Non-admins are refused.
    let (st, _) = s
        .post(
            &s.login("roadchief-district").await,
            "/api/v1/admin/road-chiefs/bulk",
            json!({"street": street, "level": "first", "person_id": pid}),
        )
        .await;
    assert_eq!(st, 403);

    let (st, done) = s
        .post(
            &admin,
            "/api/v1/admin/road-chiefs/bulk",
            json!({"street": street, "level": "first", "person_id": pid}),
        )
        .await;
    assert_eq!(st, 200, "{done}");
    let assigned = done["assigned"].as_array().unwrap().clone();
    assert!(!assigned.is_empty());
    assert!(done["unchanged"].as_array().unwrap().is_empty());
    // Again: nothing changes.
    let (st, again) = s
        .post(
            &admin,
            "/api/v1/admin/road-chiefs/bulk",
            json!({"street": street, "level": "first", "person_id": pid}),
        )
        .await;
    assert_eq!(st, 200);
    assert!(again["assigned"].as_array().unwrap().is_empty());
    assert_eq!(again["unchanged"].as_array().unwrap().len(), assigned.len());

    // History: the previous 一级 holder's row is closed, the new one current.
    let seg = assigned[0].as_str().unwrap();
    let (st, hist) = s
        .get(&admin, &format!("/api/v1/admin/road-chiefs/{seg}/history"))
        .await;
    assert_eq!(st, 200);
    let firsts: Vec<&Value> = hist
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["level"] == "first")
        .collect();
    assert_eq!(firsts.len(), 2, "{hist}");
    assert!(firsts[0]["valid_to"].is_string());
    assert_eq!(firsts[1]["person_id"], pid.as_str());
    assert!(firsts[1]["valid_to"].is_null());
    // One audit row for the whole change.
    let (st, page) = s
        .get(
            &admin,
            "/api/v1/admin/audit?entity=road_chief&entity_id=bulk/first",
        )
        .await;
    assert_eq!(st, 200, "{page}");
    let rows = page["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!(rows[0]["action"], "assign_bulk");

    // The new chief sees exactly those segments as 我的路段.
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "roadchief1-new", "password": "a-long-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = my_roads(s, &token).await;
    assert_eq!(mine["segments"].as_array().unwrap().len(), assigned.len());

    // Deactivated, they still hold the segments: the gaps say so and count the level missing.
    let (st, v) = delete(s, &admin, &format!("/api/v1/admin/people/{pid}")).await;
    assert_eq!(st, 200, "{v}");
    let (st, gaps) = s.get(&admin, "/api/v1/admin/road-chief-gaps").await;
    assert_eq!(st, 200, "{gaps}");
    let holder = gaps["inactive_holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["person_id"] == pid.as_str())
        .expect("the deactivated chief is listed");
    assert_eq!(
        holder["assignments"].as_array().unwrap().len(),
        assigned.len()
    );
    let missing = gaps["missing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["segment_id"] == seg)
        .expect("the segment lacks its 一级 chief");
    assert_eq!(missing["missing_levels"], json!(["first"]));
}

/// A phone whose every position was unusable (here: all outside the district) ends the
/// patrol with a reason: recorded as a no-GPS patrol with the drops kept, crediting nothing.
async fn a_trail_of_only_dropped_points_ends_with_a_reason(s: &Server) {
    let chief = s.login("roadchief-district").await;
    let (_, run) = s.post(&chief, "/api/v1/patrols/start", json!({})).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let t = |secs: i64| (Utc::now() - Duration::seconds(secs)).to_rfc3339();
    let pts: Vec<Value> = (0..3)
        .map(|k| json!({"t": t(90 - 10 * k), "lon": 116.4 + 0.0001 * k as f64, "lat": 39.9, "accuracy_m": 5.0}))
        .collect();
    let (st, v) = put(
        s,
        &chief,
        &format!("/api/v1/patrols/{id}/points/x1"),
        json!({ "points": pts }),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let end = format!("/api/v1/patrols/{id}/end");
    let (st, v) = s.post(&chief, &end, json!({})).await;
    assert_eq!(
        (st, &v["error"]["field"]),
        (422, &json!("no_gps_reason")),
        "{v}"
    );
    let (st, v) = s
        .post(&chief, &end, json!({"no_gps_reason": "定位漂移到外地"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result"]["kind"], "no_gps");
    assert_eq!(v["result"]["points_received"], 3);
    assert_eq!(v["result"]["dropped"]["outside"], 3);
    assert_eq!(v["result"]["credited"], json!([]));
    let mine = my_roads(s, &chief).await;
    assert_eq!(mine["no_gps_patrols"], 1);
}

http_test!(
    a_trail_of_only_dropped_points_ends_with_a_reason_on_every_store,
    a_trail_of_only_dropped_points_ends_with_a_reason
);
http_test!(
    a_second_level_chief_sees_their_street_a_case_on_it_and_the_walked_segment_patrolled_on_every_store,
    a_second_level_chief_sees_their_street_a_case_on_it_and_the_walked_segment_patrolled
);
http_test!(
    bulk_assignment_by_street_keeps_history_is_audited_and_names_bad_fields_on_every_store,
    bulk_assignment_by_street_keeps_history_is_audited_and_names_bad_fields
);
