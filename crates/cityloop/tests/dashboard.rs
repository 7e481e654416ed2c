//! The leaders' view's figures (`GET /api/v1/dashboard`, issue 17 item 5) against counts
//! worked out by hand, on every store: three inspector reports today, two registered, one
//! closed on time after one failed check; then, read by a server whose clock runs a week
//! ahead, the two still open are overdue and listed most overdue first. Who may read it,
//! and the demo marker's absence on an empty demo, are pinned too.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

async fn act(s: &Server, token: &str, id: &str, body: Value, state: &str) {
    let (st, v) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body.clone())
        .await;
    assert_eq!(st, 200, "{}: {v}", body["action"]);
    assert_eq!(v["state"], state, "{}", body["action"]);
}

async fn report(s: &Server, token: &str, text: &str) -> String {
    let (st, v) = s
        .post(
            token,
            "/api/v1/cases",
            json!({"source": "inspector", "category": "06010", "description": text, "lat": 34.7503, "lon": 113.6615}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_figures_equal_the_hand_counted_ones_on_every_store() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        let c = s.staff().await;
        let sup = &c.supervisor;

        let (st, empty) = s.get(sup, "/api/v1/dashboard").await;
        assert_eq!(st, 200, "{empty}");
        assert_eq!(empty["today"]["reported"]["value"], 0);
        assert_eq!(
            empty["demo"],
            Value::Null,
            "an empty demo has no sample history"
        );
        assert_eq!(empty["trend"].as_array().unwrap().len(), 30);

        let a = report(&s, &c.inspector, "看板测试甲").await;
        let b = report(&s, &c.inspector, "看板测试乙").await;
        let _open = report(&s, &c.inspector, "看板测试丙").await;
        for id in [&a, &b] {
            act(
                &s,
                &c.operator,
                id,
                json!({"action": "accept"}),
                "to_register",
            )
            .await;
            act(
                &s,
                &c.operator,
                id,
                json!({"action": "register"}),
                "to_dispatch",
            )
            .await;
        }
        // A goes round the loop once with a failed check, then closes (on time: minutes).
        act(
            &s,
            &c.dispatcher,
            &a,
            json!({"action": "dispatch", "unit_id": c.hw}),
            "handling",
        )
        .await;
        let back = json!({"action": "report_back", "note": "已清运", "attachments": [c.photo]});
        act(&s, &c.handler, &a, back.clone(), "to_check").await;
        act(
            &s,
            &c.inspector,
            &a,
            json!({"action": "check_fail", "reason": "仍有残留"}),
            "handling",
        )
        .await;
        act(&s, &c.handler, &a, back, "to_check").await;
        act(
            &s,
            &c.inspector,
            &a,
            json!({"action": "check_pass"}),
            "to_close",
        )
        .await;
        act(&s, sup, &a, json!({"action": "close"}), "closed").await;

        let (st, d) = s.get(sup, "/api/v1/dashboard").await;
        assert_eq!(st, 200, "{d}");
        for (period, key, want) in [
            ("today", "reported", 3),
            ("today", "registered", 2),
            ("today", "closed", 1),
            ("today", "rework", 1),
            ("month", "reported", 3),
            ("month", "registered", 2),
            ("month", "closed", 1),
            ("month", "rework", 1),
        ] {
            assert_eq!(
                d[period][key]["value"], want,
                "{period} {key}: {}",
                d[period]
            );
            assert_eq!(d[period][key]["previous"], 0, "{period} {key} before");
        }
        assert_eq!(d["today"]["on_time_rate"]["value"], 1.0);
        assert_eq!(d["today"]["on_time_rate"]["closed"], 1);
        assert_eq!(d["today"]["on_time_rate"]["previous"], Value::Null);
        assert_eq!(d["overdue"]["count"], 0, "nothing is late yet");
        let last = &d["trend"][29];
        assert_eq!(
            (last["reported"].as_u64(), last["closed"].as_u64()),
            (Some(3), Some(1))
        );
        let cats = d["categories_week"].as_array().unwrap();
        assert_eq!(cats.len(), 1, "{cats:?}");
        assert_eq!(
            (cats[0]["key"].as_str(), cats[0]["count"].as_i64()),
            (Some("06010"), Some(3))
        );
        let inspector = d["sources_month"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["key"] == "inspector")
            .unwrap()
            .clone();
        assert_eq!(inspector["count"], 3);

        // Who may read it: the whole district's readers; a handler reads one unit only.
        let (st, _) = s.get(&c.handler, "/api/v1/dashboard").await;
        assert_eq!(st, 403);
        let r = s.http.get(s.url("/api/v1/dashboard")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        drop(s);

        // A week later the two open cases (one to_dispatch, one received) are overdue.
        let late = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_CLOCK_OFFSET", "7d")]);
        let sup = late.login("supervisor").await;
        let (st, d) = late.get(&sup, "/api/v1/dashboard").await;
        assert_eq!(st, 200, "{d}");
        assert_eq!(d["overdue"]["count"], 2, "{}", d["overdue"]);
        let listed = d["overdue"]["cases"].as_array().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(
            listed[0]["late_secs"].as_i64() >= listed[1]["late_secs"].as_i64(),
            "most overdue first: {listed:?}"
        );
        assert!(listed
            .iter()
            .all(|x| x["category_name"].as_str().is_some_and(|n| !n.is_empty())));
        assert_eq!(
            d["today"]["reported"]["value"], 0,
            "nothing reported on the later day"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_page_is_served_with_its_assets() {
    let db = TestDb::sqlite().await;
    let s = Server::spawn("demo", &db.url);
    for path in [
        "/leaders",
        "/assets/js/leaders.js",
        "/assets/css/leaders.css",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let html = s
        .http
        .get(s.url("/leaders"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("领导驾驶舱"));
}
