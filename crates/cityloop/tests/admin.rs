//! The admin API over HTTP on the real binary, against every store (SQLite always;
//! PostgreSQL when `CITYLOOP_TEST_PG_URL` is set): CRUD with field errors, 403 for
//! non-admins, audit rows with actor and before/after, and that changes to limits,
//! routing rules and road chiefs take effect for the next case without a restart.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

/// Runs a test body against a demo server on each backend (`<name>::on_every_store`).
macro_rules! http_test {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_every_store() {
                for db in super::TestDb::all().await {
                    eprintln!("backend {:?}", db.store.backend());
                    let server = super::Server::spawn("demo", &db.url);
                    super::$name(&server).await;
                }
            }
        }
    };
}

async fn call(
    s: &Server,
    method: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s.http.request(m, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn field_error(r: &(u16, Value), field: &str) {
    assert_eq!(r.0, 422, "{}", r.1);
    assert_eq!(r.1["error"]["field"], field, "{}", r.1);
}

async fn audit(s: &Server, token: &str, query: &str) -> Vec<Value> {
    let (st, page) = s.get(token, &format!("/api/v1/admin/audit?{query}")).await;
    assert_eq!(st, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn me(s: &Server, token: &str) -> Value {
    s.get(token, "/api/v1/me").await.1
}

async fn non_admins_are_refused_and_units_and_people_have_crud_with_field_errors_and_audit(
    s: &Server,
) {
    let admin = s.login("admin").await;
    let admin_id = me(s, &admin).await["id"].as_str().unwrap().to_owned();
    for user in [
        "dispatcher",
        "supervisor",
        "handler-hw",
        "roadchief-district",
    ] {
        let t = s.login(user).await;
        for path in [
            "/api/v1/admin/units",
            "/api/v1/admin/people",
            "/api/v1/admin/time-limits",
            "/api/v1/admin/audit",
        ] {
            let (st, body) = s.get(&t, path).await;
            assert_eq!(st, 403, "{user} GET {path}: {body}");
        }
        // 403 comes before the body is even looked at.
        let (st, _) = s.post(&t, "/api/v1/admin/units", json!({"bogus": 1})).await;
        assert_eq!(st, 403, "{user}");
    }

    // Units: create, validation naming the field, duplicate code 409, read, update.
    let base = json!({"code": "ld2", "name": "区园林绿化二队", "kind": "department", "type_key": "园林绿化"});
    let mut bad = base.clone();
    bad["code"] = json!("有 空格");
    field_error(&s.post(&admin, "/api/v1/admin/units", bad).await, "code");
    let mut bad = base.clone();
    bad["kind"] = json!("ministry");
    field_error(&s.post(&admin, "/api/v1/admin/units", bad).await, "kind");
    let mut bad = base.clone();
    bad["name"] = json!("  ");
    field_error(&s.post(&admin, "/api/v1/admin/units", bad).await, "name");
    let mut bad = base.clone();
    bad["kind"] = json!("street");
    field_error(
        &s.post(&admin, "/api/v1/admin/units", bad).await,
        "type_key",
    );
    field_error(
        &s.post(
            &admin,
            "/api/v1/admin/units",
            json!({"code": "x", "name": "x", "kind": "department"}),
        )
        .await,
        "type_key",
    );
    let (st, unit) = s.post(&admin, "/api/v1/admin/units", base.clone()).await;
    assert_eq!(st, 201, "{unit}");
    assert_eq!(unit["active"], true);
    let uid = unit["id"].as_str().unwrap().to_owned();
    let (st, dup) = s.post(&admin, "/api/v1/admin/units", base.clone()).await;
    assert_eq!(st, 409, "{dup}");
    let (st, _) = s
        .post(
            &admin,
            "/api/v1/admin/units",
            json!({"code": "hw", "name": "x", "kind": "department", "type_key": "x"}),
        )
        .await;
    assert_eq!(st, 409, "an existing demo code is a conflict too");
    let (st, got) = s.get(&admin, &format!("/api/v1/admin/units/{uid}")).await;
    assert_eq!((st, &got["code"]), (200, &json!("ld2")));
    let (st, _) = s
        .get(
            &admin,
            "/api/v1/admin/units/00000000-0000-7000-8000-000000000000",
        )
        .await;
    assert_eq!(st, 404);
    let (st, upd) = call(
        s,
        "PATCH",
        &admin,
        &format!("/api/v1/admin/units/{uid}"),
        Some(json!({"name": "区园林绿化第二队"})),
    )
    .await;
    assert_eq!(
        (st, &upd["name"]),
        (200, &json!("区园林绿化第二队")),
        "{upd}"
    );
    // The new unit shows in the list every staff member sees.
    let (_, units) = s.get(&admin, "/api/v1/units").await;
    assert!(units
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == uid.as_str()));

    // People: create with an initial password, validation, duplicate username, update,
    // reset password, deactivate.
    let person = json!({"username": "wang.wu", "display_name": "王五", "role": "handler", "unit_id": uid, "password": "initial-pass-1"});
    let mut bad = person.clone();
    bad["password"] = json!("short");
    field_error(
        &s.post(&admin, "/api/v1/admin/people", bad).await,
        "password",
    );
    let mut bad = person.clone();
    bad["role"] = json!("boss");
    field_error(&s.post(&admin, "/api/v1/admin/people", bad).await, "role");
    let mut bad = person.clone();
    bad["unit_id"] = Value::Null;
    field_error(
        &s.post(&admin, "/api/v1/admin/people", bad).await,
        "unit_id",
    );
    let mut bad = person.clone();
    bad["username"] = json!("王 五");
    field_error(
        &s.post(&admin, "/api/v1/admin/people", bad).await,
        "username",
    );
    let (st, p) = s.post(&admin, "/api/v1/admin/people", person.clone()).await;
    assert_eq!(st, 201, "{p}");
    assert!(p.get("password").is_none() && p.get("password_hash").is_none());
    let pid = p["id"].as_str().unwrap().to_owned();
    let (st, _) = s.post(&admin, "/api/v1/admin/people", person.clone()).await;
    assert_eq!(st, 409, "a duplicate username is a conflict");
    // The initial password works (argon2 through the normal login).
    let (st, login) = s
        .post(
            "",
            "/api/v1/auth/login",
            json!({"username": "wang.wu", "password": "initial-pass-1"}),
        )
        .await;
    assert_eq!(st, 200, "{login}");
    let wang = login["token"].as_str().unwrap().to_owned();
    let (st, upd) = call(
        s,
        "PATCH",
        &admin,
        &format!("/api/v1/admin/people/{pid}"),
        Some(json!({"display_name": "王五（环卫）", "role": "inspector", "unit_id": null})),
    )
    .await;
    assert_eq!(st, 200, "{upd}");
    assert_eq!(
        (&upd["role"], &upd["unit_id"]),
        (&json!("inspector"), &Value::Null)
    );
    field_error(
        &call(
            s,
            "PATCH",
            &admin,
            &format!("/api/v1/admin/people/{pid}"),
            Some(json!({"role": "handler"})),
        )
        .await,
        "unit_id",
    );
    field_error(
        &s.post(
            &admin,
            &format!("/api/v1/admin/people/{pid}/password"),
            json!({"password": "x"}),
        )
        .await,
        "password",
    );
    let (st, _) = s
        .post(
            &admin,
            &format!("/api/v1/admin/people/{pid}/password"),
            json!({"password": "second-pass-2"}),
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = s.get(&wang, "/api/v1/me").await;
    assert_eq!(st, 401, "a password reset ends the person's sessions");
    let (st, _) = s
        .post(
            "",
            "/api/v1/auth/login",
            json!({"username": "wang.wu", "password": "second-pass-2"}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, gone) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/people/{pid}"),
        None,
    )
    .await;
    assert_eq!((st, &gone["active"]), (200, &json!(false)), "{gone}");
    let (st, _) = s
        .post(
            "",
            "/api/v1/auth/login",
            json!({"username": "wang.wu", "password": "second-pass-2"}),
        )
        .await;
    assert_eq!(st, 401, "a deactivated person cannot log in");
    let (st, _) = call(
        s,
        "PATCH",
        &admin,
        &format!("/api/v1/admin/people/{admin_id}"),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(st, 409, "an admin cannot lock themselves out");

    // Roles are listed with what they need.
    let (st, roles) = s.get(&admin, "/api/v1/admin/roles").await;
    assert_eq!(st, 200);
    assert!(roles
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["role"] == "handler" && r["needs_unit"] == true));

    // A unit with an open case cannot be deactivated; an idle one can.
    let insp = s.login("inspector").await;
    let (st, case) = s.post(&insp, "/api/v1/cases", json!({"source": "inspector", "category": "06010", "description": "暴露垃圾", "lat": 34.7503, "lon": 113.6615})).await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    let op = s.login("operator").await;
    let dis = s.login("dispatcher").await;
    for (t, action) in [
        (&op, json!({"action": "accept"})),
        (&op, json!({"action": "register"})),
    ] {
        let (st, c) = s
            .post(t, &format!("/api/v1/cases/{id}/actions"), action)
            .await;
        assert_eq!(st, 200, "{c}");
    }
    let (_, units) = s.get(&admin, "/api/v1/admin/units").await;
    let hw = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "hw")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, c) = s
        .post(
            &dis,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "dispatch", "unit_id": hw}),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    let (st, e) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/units/{hw}"),
        None,
    )
    .await;
    assert_eq!(st, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("open case"),
        "{e}"
    );
    let (st, off) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/units/{uid}"),
        None,
    )
    .await;
    assert_eq!((st, &off["active"]), (200, &json!(false)), "{off}");

    // The audit log: every change with actor and before/after, filterable, paged.
    let rows = audit(s, &admin, &format!("entity=unit&entity_id={uid}")).await;
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["deactivate", "update", "create"], "newest first");
    assert!(rows.iter().all(|r| r["actor_id"] == admin_id.as_str()));
    assert_eq!(rows[1]["before"]["name"], "区园林绿化二队");
    assert_eq!(rows[1]["after"]["name"], "区园林绿化第二队");
    assert_eq!(rows[2]["before"], Value::Null);
    let people_rows = audit(s, &admin, &format!("entity=person&entity_id={pid}")).await;
    let actions: Vec<&str> = people_rows
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["deactivate", "reset_password", "update", "create"]
    );
    assert!(
        !people_rows.iter().any(|r| r.to_string().contains("argon2")),
        "no hash in the audit log"
    );
    let mine = audit(s, &admin, &format!("actor={admin_id}&limit=2")).await;
    assert_eq!(mine.len(), 2);
    let (_, page) = s
        .get(
            &admin,
            &format!("/api/v1/admin/audit?actor={admin_id}&limit=2"),
        )
        .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = s
        .get(
            &admin,
            &format!("/api/v1/admin/audit?actor={admin_id}&limit=2&cursor={cursor}"),
        )
        .await;
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
    assert_eq!(next["items"][0]["action"], "reset_password");
    let (st, _) = s.get(&admin, "/api/v1/admin/audit?limit=0").await;
    assert_eq!(st, 400);
    let (st, _) = s.get(&admin, "/api/v1/admin/audit?actor=nobody").await;
    assert_eq!(st, 400);
}
http_test!(non_admins_are_refused_and_units_and_people_have_crud_with_field_errors_and_audit);

async fn report(s: &Server, token: &str) -> Value {
    let (st, case) = s
        .post(token, "/api/v1/cases", json!({"source": "inspector", "category": "06010", "description": "德化街暴露垃圾", "lat": 34.7503, "lon": 113.6615}))
        .await;
    assert_eq!(st, 201, "{case}");
    case
}

fn deadline_hours(case: &Value) -> f64 {
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(case[k].as_str().unwrap()).unwrap();
    (t("deadline") - t("created_at")).num_seconds() as f64 / 3600.0
}

async fn a_changed_time_limit_or_routing_rule_applies_to_the_next_case_without_a_restart(
    s: &Server,
) {
    let admin = s.login("admin").await;
    let insp = s.login("inspector").await;
    let before = report(s, &insp).await;
    assert_eq!(before["stage"], "accept", "{before}");
    assert_ne!(deadline_hours(&before), 72.0);

    // Field errors name the field.
    let rule = json!({"category": "06010", "stage": "accept", "limit": "3自然日", "source": "test: 区城管委文件"});
    let mut bad = rule.clone();
    bad["limit"] = json!("soon");
    field_error(
        &s.post(&admin, "/api/v1/admin/time-limits", bad).await,
        "limit",
    );
    let mut bad = rule.clone();
    bad["limit"] = json!("0工作时");
    field_error(
        &s.post(&admin, "/api/v1/admin/time-limits", bad).await,
        "limit",
    );
    let mut bad = rule.clone();
    bad["stage"] = json!("lunch");
    field_error(
        &s.post(&admin, "/api/v1/admin/time-limits", bad).await,
        "stage",
    );
    let mut bad = rule.clone();
    bad["category"] = json!("99999");
    field_error(
        &s.post(&admin, "/api/v1/admin/time-limits", bad).await,
        "category",
    );
    let mut bad = rule.clone();
    bad["grade"] = json!("Z");
    field_error(
        &s.post(&admin, "/api/v1/admin/time-limits", bad).await,
        "grade",
    );

    let (st, saved) = s
        .post(&admin, "/api/v1/admin/time-limits", rule.clone())
        .await;
    assert_eq!(st, 200, "{saved}");
    assert_eq!(saved["key"], "06010|*|*|accept");
    let after = report(s, &insp).await;
    assert_eq!(
        deadline_hours(&after),
        72.0,
        "3 natural days from intake: {after}"
    );
    let (_, rules) = s.get(&admin, "/api/v1/admin/time-limits").await;
    assert!(rules
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["key"] == "06010|*|*|accept" && r["limit"] == "3自然日"));
    // A stage's default cannot be removed; the new rule can, and the old limit returns.
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        "/api/v1/admin/time-limits/*%7C*%7C*%7Caccept",
        None,
    )
    .await;
    assert_eq!(st, 409);
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        "/api/v1/admin/time-limits/06010%7C*%7C*%7Caccept",
        None,
    )
    .await;
    assert_eq!(st, 204);
    // The old working-time limit returns. Outside working hours its deadline is a fixed
    // moment (the next working period), so the span from intake shrinks by the seconds
    // between the two reports: compare within a few minutes, far from the 72 h rule.
    let restored = deadline_hours(&report(s, &insp).await);
    assert!(
        (restored - deadline_hours(&before)).abs() < 0.1,
        "{restored} h vs {} h",
        deadline_hours(&before)
    );
    let rows = audit(s, &admin, "entity=time_limit").await;
    assert_eq!(rows[0]["action"], "delete");
    assert_eq!(rows[1]["action"], "create");
    assert_eq!(rows[1]["after"]["limit"]["amount"], 3);

    // Routing: 06010 goes to 环卫 by its department type; a rule sends it to 市政.
    assert_eq!(
        before["suggested_unit"]["name"]
            .as_str()
            .or(before["unit"]["name"].as_str()),
        Some("区城管局环卫中心"),
        "{before}"
    );
    let (_, units) = s.get(&admin, "/api/v1/admin/units").await;
    let sz = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "sz")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    field_error(
        &s.post(
            &admin,
            "/api/v1/admin/assign-rules",
            json!({"category": "06010", "unit_id": "nope"}),
        )
        .await,
        "unit_id",
    );
    field_error(
        &s.post(
            &admin,
            "/api/v1/admin/assign-rules",
            json!({"category": "06010", "street_code": "999999999", "unit_id": sz}),
        )
        .await,
        "street_code",
    );
    let (st, r) = s
        .post(
            &admin,
            "/api/v1/admin/assign-rules",
            json!({"category": "06010", "unit_id": sz}),
        )
        .await;
    assert_eq!(st, 200, "{r}");
    let routed = report(s, &insp).await;
    assert_eq!(routed["suggested_unit"]["id"], sz.as_str(), "{routed}");
    assert_eq!(routed["routing"]["unit_id"], sz.as_str());
    let rows = audit(s, &admin, "entity=assign_rule").await;
    assert_eq!(rows[0]["entity_id"], "06010|*");
    assert_eq!(rows[0]["after"]["unit_id"], sz.as_str());
}
http_test!(a_changed_time_limit_or_routing_rule_applies_to_the_next_case_without_a_restart);

async fn a_road_chief_reassignment_shows_in_the_route_and_keeps_history(s: &Server) {
    let admin = s.login("admin").await;
    let insp = s.login("inspector").await;
    let roads: Value =
        serde_json::from_str(include_str!("../../../data/demo/erqi/erqi_roads.geojson")).unwrap();
    let features = roads["features"].as_array().unwrap();
    let line = &features[features.len() / 2]["geometry"]["coordinates"];
    let (a, b) = (&line[0], &line[1]);
    let lon = (a[0].as_f64().unwrap() + b[0].as_f64().unwrap()) / 2.0;
    let lat = (a[1].as_f64().unwrap() + b[1].as_f64().unwrap()) / 2.0;
    let path = format!("/api/v1/route?lat={lat}&lon={lon}&service_code=06010");
    let (_, r) = s.get(&insp, &path).await;
    let segment = r["segment"]["id"].as_str().unwrap().to_owned();
    let old = r["road_chiefs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["level"] == "second")
        .unwrap()
        .clone();

    let (st, p) = s.post(&admin, "/api/v1/admin/people", json!({"username": "zhao.liu", "display_name": "赵六（二级路长）", "role": "road_chief", "password": "road-chief-1"})).await;
    assert_eq!(st, 201, "{p}");
    let pid = p["id"].as_str().unwrap().to_owned();
    let body = json!({"segment_id": segment, "level": "second", "person_id": pid});
    let mut bad = body.clone();
    bad["segment_id"] = json!("no-such-segment");
    field_error(
        &s.post(&admin, "/api/v1/admin/road-chiefs", bad).await,
        "segment_id",
    );
    let mut bad = body.clone();
    bad["level"] = json!("third");
    field_error(
        &s.post(&admin, "/api/v1/admin/road-chiefs", bad).await,
        "level",
    );
    let mut bad = body.clone();
    bad["person_id"] = me(s, &insp).await["id"].clone();
    field_error(
        &s.post(&admin, "/api/v1/admin/road-chiefs", bad).await,
        "person_id",
    );
    let (st, assigned) = s
        .post(&admin, "/api/v1/admin/road-chiefs", body.clone())
        .await;
    assert_eq!(st, 200, "{assigned}");
    assert_eq!(assigned["person_name"], "赵六（二级路长）");
    let (st, _) = s
        .post(&admin, "/api/v1/admin/road-chiefs", body.clone())
        .await;
    assert_eq!(st, 409, "assigning the current chief again is a conflict");

    let (_, r) = s.get(&insp, &path).await;
    let now = r["road_chiefs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["level"] == "second")
        .unwrap()
        .clone();
    assert_eq!(now["id"], pid.as_str(), "{r}");
    assert_eq!(now["name"], "赵六（二级路长）");

    let (st, hist) = s
        .get(
            &admin,
            &format!("/api/v1/admin/road-chiefs/{segment}/history"),
        )
        .await;
    assert_eq!(st, 200);
    let second: Vec<&Value> = hist
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["level"] == "second")
        .collect();
    assert_eq!(second.len(), 2, "{hist}");
    assert_eq!(second[0]["person_id"], old["id"]);
    assert!(
        second[0]["valid_to"].is_string(),
        "the old assignment is closed"
    );
    assert_eq!(second[1]["person_id"], pid.as_str());
    assert!(second[1]["valid_to"].is_null());

    let rows = audit(
        s,
        &admin,
        &format!("entity=road_chief&entity_id={segment}/second"),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["before"]["person_id"], old["id"]);
    assert_eq!(rows[0]["after"]["person_id"], pid.as_str());

    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/road-chiefs/{segment}/second"),
        None,
    )
    .await;
    assert_eq!(st, 204);
    let (_, r) = s.get(&insp, &path).await;
    assert!(!r["road_chiefs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["level"] == "second"));
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/road-chiefs/{segment}/second"),
        None,
    )
    .await;
    assert_eq!(st, 404);
}
http_test!(a_road_chief_reassignment_shows_in_the_route_and_keeps_history);

async fn the_calendar_and_api_keys_are_validated_audited_and_take_effect(s: &Server) {
    let admin = s.login("admin").await;
    let (st, cal) = s.get(&admin, "/api/v1/admin/calendar").await;
    assert_eq!(st, 200);
    let mut bad = cal.clone();
    bad["periods"] = json!([{"start": "12:00", "end": "08:00"}]);
    field_error(
        &call(s, "PUT", &admin, "/api/v1/admin/calendar", Some(bad)).await,
        "periods",
    );
    let mut bad = cal.clone();
    bad["makeup_workdays"] = json!(["2026-10-01"]);
    field_error(
        &call(s, "PUT", &admin, "/api/v1/admin/calendar", Some(bad)).await,
        "makeup_workdays",
    );
    let mut bad = cal.clone();
    bad["weekend"] = json!(["Caturday"]);
    let r = call(s, "PUT", &admin, "/api/v1/admin/calendar", Some(bad)).await;
    assert_eq!(r.0, 422, "{}", r.1);
    assert!(
        r.1["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("weekend"),
        "{}",
        r.1
    );
    let mut good = cal.clone();
    good["holidays"].as_array_mut().unwrap().push(json!({"name_zh": "区庆", "name_en": "District day", "start": "2026-12-01", "end": "2026-12-01"}));
    let (st, saved) = call(s, "PUT", &admin, "/api/v1/admin/calendar", Some(good)).await;
    assert_eq!(st, 200, "{saved}");
    let (_, again) = s.get(&admin, "/api/v1/admin/calendar").await;
    assert!(again["holidays"].to_string().contains("区庆"));
    let rows = audit(s, &admin, "entity=calendar").await;
    assert_eq!(rows.len(), 1);
    assert!(!rows[0]["before"].to_string().contains("区庆"));
    assert!(rows[0]["after"].to_string().contains("区庆"));

    field_error(
        &s.post(&admin, "/api/v1/admin/api-keys", json!({"name": ""}))
            .await,
        "name",
    );
    let (st, k) = s
        .post(
            &admin,
            "/api/v1/admin/api-keys",
            json!({"name": "街道随手拍"}),
        )
        .await;
    assert_eq!(st, 201, "{k}");
    let key = k["key"].as_str().unwrap().to_owned();
    let id = k["id"].as_str().unwrap().to_owned();
    let (_, list) = s.get(&admin, "/api/v1/admin/api-keys").await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == id.as_str() && x.get("key").is_none()));
    // The key works on Open311 until it is revoked.
    let post = |key: String| async move {
        s.http
            .post(s.url("/open311/v2/requests.json"))
            .form(&[
                ("api_key", key.as_str()),
                ("service_code", "06010"),
                ("lat", "34.7503"),
                ("long", "113.6615"),
                ("description", "暴露垃圾"),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert!(post(key.clone()).await < 300);
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/api-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(st, 204);
    assert!(post(key.clone()).await >= 400);
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        &format!("/api/v1/admin/api-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(st, 404);
    let actions: Vec<String> = audit(s, &admin, "entity=api_key")
        .await
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["revoke", "create"]);
}
http_test!(the_calendar_and_api_keys_are_validated_audited_and_take_effect);
