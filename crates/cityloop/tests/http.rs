//! HTTP integration tests over the real server binary, run against every store
//! (SQLite always; PostgreSQL when `CITYLOOP_TEST_PG_URL` is set).

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

/// Runs a test body against a demo server on each backend.
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

async fn report(s: &Server, token: &str, source: &str) -> Value {
    let (st, case) = s
        .post(
            token,
            "/api/v1/cases",
            json!({
                "source": source,
                "category": "06010",
                "description": "德化街步行街东侧人行道暴露垃圾",
                "lat": 34.7503, "lon": 113.6615,
                "address": "德化街与二七路交叉口",
                "reporter": {"name": "李女士", "phone": "13800000000"}
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    case
}

async fn act(s: &Server, token: &str, id: &str, body: Value) -> (u16, Value) {
    s.post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await
}

async fn unit_id(s: &Server, token: &str, code: &str) -> String {
    let (_, units) = s.get(token, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("unit {code}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn the_closed_loop_runs_over_http_and_the_timeline_records_every_step(s: &Server) {
    let hotline = s.login("operator").await;
    let inspector = s.login("inspector").await;
    let dispatcher = s.login("dispatcher").await;
    let supervisor = s.login("supervisor").await;
    let case = report(s, &hotline, "hotline_12345").await;
    let id = case["id"].as_str().unwrap();
    assert_eq!(case["state"], "received");
    assert!(case["number"].as_str().unwrap().starts_with("410103-"));

    let ok = |r: (u16, Value), state: &str| {
        assert_eq!(r.0, 200, "{}", r.1);
        assert_eq!(r.1["state"], state, "{}", r.1);
        r.1
    };
    ok(
        act(s, &hotline, id, json!({"action": "accept"})).await,
        "to_verify",
    );
    ok(
        act(
            s,
            &inspector,
            id,
            json!({"action": "confirm", "note": "现场属实"}),
        )
        .await,
        "to_register",
    );
    ok(
        act(s, &hotline, id, json!({"action": "register"})).await,
        "to_dispatch",
    );
    let zf = unit_id(s, &dispatcher, "zf").await;
    let hw = unit_id(s, &dispatcher, "hw").await;
    ok(
        act(
            s,
            &dispatcher,
            id,
            json!({"action": "dispatch", "unit_id": zf}),
        )
        .await,
        "handling",
    );
    let zf_handler = s.login("handler-zf").await;
    ok(
        act(
            s,
            &zf_handler,
            id,
            json!({"action": "return", "reason": "非本单位职责"}),
        )
        .await,
        "to_dispatch",
    );
    ok(
        act(
            s,
            &dispatcher,
            id,
            json!({"action": "dispatch", "unit_id": hw}),
        )
        .await,
        "handling",
    );
    let hw_handler = s.login("handler-hw").await;
    // Another unit's handler can neither act on nor see the case.
    let (st, _) = act(
        s,
        &zf_handler,
        id,
        json!({"action": "report_back", "note": "x", "attachments": ["a"]}),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = s.get(&zf_handler, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(st, 403);
    ok(
        act(
            s,
            &hw_handler,
            id,
            json!({"action": "request_extension", "extension": "1工作日", "reason": "需调运车辆"}),
        )
        .await,
        "extension_pending",
    );
    ok(
        act(s, &supervisor, id, json!({"action": "approve_extension"})).await,
        "handling",
    );
    let photo = s.upload_photo(&hw_handler).await;
    let back = json!({"action": "report_back", "note": "已清运", "attachments": [photo]});
    ok(act(s, &hw_handler, id, back.clone()).await, "to_check");
    ok(
        act(
            s,
            &inspector,
            id,
            json!({"action": "check_fail", "reason": "仍有残留"}),
        )
        .await,
        "handling",
    );
    ok(act(s, &hw_handler, id, back).await, "to_check");
    // The caller left a phone: called back (回访) before closing.
    ok(
        act(s, &inspector, id, json!({"action": "check_pass"})).await,
        "to_callback",
    );
    ok(
        act(
            s,
            &hotline,
            id,
            json!({"action": "callback", "satisfaction": "satisfied"}),
        )
        .await,
        "to_close",
    );
    let closed = ok(
        act(s, &supervisor, id, json!({"action": "close"})).await,
        "closed",
    );
    assert_eq!(closed["rework_count"], 1);
    assert_eq!(closed["return_count"], 1);
    assert_eq!(closed["extension_count"], 1);

    let (st, detail) = s.get(&supervisor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(st, 200);
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reported",
            "accept",
            "confirm",
            "register",
            "dispatch",
            "return",
            "dispatch",
            "request_extension",
            "approve_extension",
            "report_back",
            "check_fail",
            "report_back",
            "check_pass",
            "callback",
            "close"
        ]
    );
    assert_eq!(detail["version"], 15);
    assert_eq!(detail["allowed_actions"], json!([]));
}
http_test!(
    closed_loop,
    the_closed_loop_runs_over_http_and_the_timeline_records_every_step
);

async fn wrong_role_state_field_and_version_get_403_409_422_409(s: &Server) {
    let insp = s.login("inspector").await;
    let op = s.login("operator").await;
    let case = report(s, &insp, "inspector").await;
    let id = case["id"].as_str().unwrap();
    let (st, e) = act(s, &insp, id, json!({"action": "register"})).await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let (st, _) = act(s, &op, id, json!({"action": "close"})).await;
    assert_eq!(st, 409);
    let (st, e) = act(s, &op, id, json!({"action": "void"})).await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("reason")));
    let (st, e) = act(s, &op, id, json!({"action": "fly"})).await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("action")));
    let (st, _) = act(s, &op, id, json!({"action": "accept", "version": 7})).await;
    assert_eq!(st, 409);
    let (st, _) = act(s, &op, id, json!({"action": "accept", "version": 1})).await;
    assert_eq!(st, 200);
    let (st, _) = act(
        s,
        &op,
        "00000000-0000-0000-0000-000000000000",
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(st, 404);
    // Inspector reports go straight to registration.
    let (_, c) = s.get(&op, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(c["state"], "to_register");
}
http_test!(
    error_statuses,
    wrong_role_state_field_and_version_get_403_409_422_409
);

async fn bad_input_gets_a_clear_4xx_naming_the_field(s: &Server) {
    let insp = s.login("inspector").await;
    let post_raw = |body: &'static str, ctype: &'static str| {
        let http = s.http.clone();
        let url = s.url("/api/v1/cases");
        let tok = insp.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(tok)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, e) = post_raw("{not json", "application/json").await;
    assert_eq!((st, e["error"]["code"].as_str()), (400, Some("bad_json")));
    let (st, _) = post_raw("{}", "text/plain").await;
    assert_eq!(st, 415);
    let (st, e) = post_raw(
        r#"{"source":"inspector","category":"06010","description":"x","lon":113.6}"#,
        "application/json",
    )
    .await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("lat")));
    let (st, e) = post_raw(
        r#"{"source":"inspector","category":"06010","description":"x","lat":134.0,"lon":113.6}"#,
        "application/json",
    )
    .await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("lat")));
    let (st, e) = post_raw(
        r#"{"source":"inspector","category":"99999","description":"x","lat":34.7,"lon":113.6}"#,
        "application/json",
    )
    .await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("category")));
    let (st, e) = post_raw(
        r#"{"source":"inspector","category":"06010","description":"   ","lat":34.7,"lon":113.6}"#,
        "application/json",
    )
    .await;
    assert_eq!(
        (st, e["error"]["field"].as_str()),
        (422, Some("description"))
    );
    let (st, e) = post_raw(
        r#"{"source":"public","category":"06010","description":"x","lat":34.7,"lon":113.6}"#,
        "application/json",
    )
    .await;
    assert_eq!((st, e["error"]["code"].as_str()), (403, Some("forbidden")));
    // An oversized body is refused before it is read (by its declared length: the test
    // sends only the head, so the answer cannot race the upload into a broken pipe), in
    // the API's error envelope.
    let (st, body) = s.post_declared_length("/api/v1/cases", "application/json", 2 << 20);
    assert_eq!(st, 413, "{body}");
    let e: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}"));
    assert_eq!(e["error"]["code"], "body_too_large", "{body}");
    // Unknown endpoint, wrong method, no token, bad paging.
    let (st, e) = s.get(&insp, "/api/v1/nothing").await;
    assert_eq!((st, e["error"]["code"].as_str()), (404, Some("not_found")));
    let r = s.http.delete(s.url("/api/v1/cases")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = s.http.get(s.url("/api/v1/cases")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let (st, e) = s.get(&insp, "/api/v1/cases?limit=100000").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("limit")));
    let (st, e) = s.get(&insp, "/api/v1/cases?state=nope").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("state")));
    let (st, e) = s.get(&insp, "/api/v1/cases?bbox=1,2,3").await;
    assert_eq!((st, e["error"]["field"].as_str()), (422, Some("bbox")));
}
http_test!(bad_input, bad_input_gets_a_clear_4xx_naming_the_field);

async fn login_is_rate_limited_and_logout_revokes_the_token(s: &Server) {
    for _ in 0..5 {
        let r = s
            .http
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"username": "dispatcher", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": "dispatcher", "password": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let tok = s.login("supervisor").await;
    assert_eq!(s.get(&tok, "/api/v1/me").await.0, 200);
    let (st, _) = s.post(&tok, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(st, 204);
    assert_eq!(s.get(&tok, "/api/v1/me").await.0, 401);
}
http_test!(auth, login_is_rate_limited_and_logout_revokes_the_token);

async fn listing_pages_with_a_cursor_and_handlers_see_only_their_unit(s: &Server) {
    let insp = s.login("inspector").await;
    for _ in 0..7 {
        report(s, &insp, "inspector").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/cases?limit=3".to_owned();
    loop {
        let (st, page) = s.get(&insp, &path).await;
        assert_eq!(st, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/cases?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let hw = s.login("handler-hw").await;
    let (st, page) = s.get(&hw, "/api/v1/cases").await;
    assert_eq!(st, 200);
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        0,
        "nothing is dispatched to hw yet"
    );
}
http_test!(
    listing,
    listing_pages_with_a_cursor_and_handlers_see_only_their_unit
);

fn centroid_of(geojson: &str, name: Option<&str>) -> (f64, f64) {
    let v: Value = serde_json::from_str(geojson).unwrap();
    let f = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| name.is_none_or(|n| f["properties"]["name"] == n))
        .unwrap();
    let c = &f["properties"]["centroid"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

async fn the_route_api_answers_territory_unit_chiefs_and_duplicates(s: &Server) {
    let insp = s.login("inspector").await;
    // A point on a demo road: the middle of the first stretch of a segment in the middle
    // of the layer (away from the district's edge).
    let roads: Value =
        serde_json::from_str(include_str!("../../../data/demo/erqi/erqi_roads.geojson")).unwrap();
    let features = roads["features"].as_array().unwrap();
    let line = &features[features.len() / 2]["geometry"]["coordinates"];
    let (a, b) = (&line[0], &line[1]);
    let lon = (a[0].as_f64().unwrap() + b[0].as_f64().unwrap()) / 2.0;
    let lat = (a[1].as_f64().unwrap() + b[1].as_f64().unwrap()) / 2.0;
    let path = format!("/api/v1/route?lat={lat}&lon={lon}&service_code=06010");
    let (st, r) = s.get(&insp, &path).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["district"]["code"], "410103");
    assert_eq!(r["outside_district"], false);
    assert_eq!(r["schematic"], true, "the demo territory is schematic");
    assert!(r["street"]["code"].as_str().unwrap().starts_with("410103"));
    assert_eq!(r["grid_code"].as_str().unwrap().len(), 15);
    assert_eq!(r["unit"]["name"], "区城管局环卫中心");
    assert!(r["segment"]["distance_m"].as_f64().unwrap() < 1.0, "{r}");
    let levels: Vec<&str> = r["road_chiefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["district", "first", "second"],
        "one road chief per level"
    );
    assert_eq!(r["possible_duplicates"], json!([]));

    // A case there makes the next report a possible duplicate; the case stores its route.
    let (st, case) = s
        .post(
            &insp,
            "/api/v1/cases",
            json!({"source": "inspector", "category": "06010", "description": "暴露垃圾", "lat": lat, "lon": lon}),
        )
        .await;
    assert_eq!(st, 201);
    assert_eq!(case["routing"]["street_code"], r["street"]["code"]);
    assert_eq!(case["routing"]["grid_code"], r["grid_code"]);
    let (_, again) = s.get(&insp, &path).await;
    assert_eq!(again["possible_duplicates"][0]["number"], case["number"]);

    // 金水区 is outside: the answer says where it is, and the default intake unit takes it.
    let (lon, lat) = centroid_of(
        include_str!("../../../data/demo/erqi/zhengzhou_districts.wgs84.geojson"),
        Some("金水区"),
    );
    let (st, r) = s
        .get(
            &insp,
            &format!("/api/v1/route?lat={lat}&lon={lon}&service_code=06010"),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(r["outside_district"], true);
    assert_eq!(r["neighbour_district"]["name"], "金水区");
    assert_eq!(r["unit"]["default_intake"], true);

    // Bad coordinates are a 400 naming the field.
    for (q, field) in [
        ("lat=abc&lon=113.6&service_code=06010", "lat"),
        ("lat=95&lon=113.6&service_code=06010", "lat"),
        ("lat=34.7&lon=200&service_code=06010", "lon"),
        ("lat=34.7&service_code=06010", "lon"),
        ("lat=34.7&lon=113.6&service_code=06010&coord=utm", "coord"),
        ("lat=34.7&lon=113.6", "service_code"),
        ("lat=34.7&lon=113.6&service_code=0101", "service_code"),
    ] {
        let (st, e) = s.get(&insp, &format!("/api/v1/route?{q}")).await;
        assert_eq!(
            (st, e["error"]["field"].as_str()),
            (400, Some(field)),
            "{q}: {e}"
        );
    }
}
http_test!(
    route_api,
    the_route_api_answers_territory_unit_chiefs_and_duplicates
);

async fn gcj02_input_is_converted_before_routing(s: &Server) {
    let insp = s.login("inspector").await;
    // 太康路/民主路 (a 2021 road-collapse report, GCJ-02): in 二七区 only when converted.
    let (lon, lat) = (113.65819931030273, 34.7581676828755);
    let (_, as_gcj) = s
        .get(
            &insp,
            &format!("/api/v1/route?lat={lat}&lon={lon}&service_code=06010&coord=gcj02"),
        )
        .await;
    let (_, as_wgs) = s
        .get(
            &insp,
            &format!("/api/v1/route?lat={lat}&lon={lon}&service_code=06010"),
        )
        .await;
    assert!(
        (as_gcj["lon"].as_f64().unwrap() - lon).abs() > 0.004,
        "converted by ~560 m"
    );
    assert_eq!(as_gcj["district"]["code"], "410103", "{as_gcj}");
    assert_eq!(as_gcj["outside_district"], false);
    // Read as WGS84 by mistake, the same numbers land in 金水区.
    assert_eq!(as_wgs["outside_district"], true);
    assert_eq!(as_wgs["neighbour_district"]["name"], "金水区");
}
http_test!(gcj02, gcj02_input_is_converted_before_routing);

/// POST with an `Idempotency-Key`; status, whether it says it is a replay, and the body.
async fn post_keyed(
    s: &Server,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, bool, Value) {
    let r = s
        .http
        .post(s.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (st, replayed, r.json().await.unwrap_or(Value::Null))
}

async fn a_staff_idempotency_key_answers_a_repeat_with_the_first_result(s: &Server) {
    let ins = s.login("inspector").await;
    let op = s.login("operator").await;
    let body = json!({
        "source": "inspector", "category": "06010", "description": "重复提交测试",
        "lat": 34.7503, "lon": 113.6615
    });
    let (st, rep, first) = post_keyed(s, &ins, "/api/v1/cases", "create-1", body.clone()).await;
    assert_eq!((st, rep), (201, false), "{first}");
    let (st, rep, again) = post_keyed(s, &ins, "/api/v1/cases", "create-1", body.clone()).await;
    assert_eq!((st, rep), (201, true), "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["number"], first["number"]);
    // The key is the person's: another inspector's same key is a new case.
    let id = first["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/cases/{id}/actions");
    let (st, rep, accepted) = post_keyed(s, &op, &path, "act-1", json!({"action": "accept"})).await;
    assert_eq!((st, rep), (200, false), "{accepted}");
    // The repeat writes nothing and answers the case as it was right after the action,
    // even after a later action moved it on.
    let (st, _) = act(s, &op, &id, json!({"action": "register"})).await;
    assert_eq!(st, 200);
    let (st, rep, again) = post_keyed(s, &op, &path, "act-1", json!({"action": "accept"})).await;
    assert_eq!((st, rep), (200, true), "{again}");
    assert_eq!(again["version"], accepted["version"], "{again}");
    assert_eq!(again["state"], accepted["state"], "{again}");
    let (_, detail) = s.get(&op, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(detail["events"].as_array().unwrap().len(), 3, "{detail}");
    // The same key on another case is a conflict; a bad key names the header.
    let other = report(s, &ins, "inspector").await;
    let other_path = format!("/api/v1/cases/{}/actions", other["id"].as_str().unwrap());
    let (st, _, err) = post_keyed(s, &op, &other_path, "act-1", json!({"action": "accept"})).await;
    assert_eq!(st, 409, "{err}");
    let (st, _, err) = post_keyed(s, &ins, "/api/v1/cases", "has space", body).await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["field"], "Idempotency-Key", "{err}");
}
http_test!(
    staff_idempotency_key,
    a_staff_idempotency_key_answers_a_repeat_with_the_first_result
);
