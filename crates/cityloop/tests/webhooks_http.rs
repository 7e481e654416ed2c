//! Webhooks over the real server on every store: the admin API (403 for other roles, 422
//! naming the field, the secret never shown), an outbox that survives `kill -9` and is
//! delivered signed after the restart, and a dead letter listed and redelivered.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use cityloop_service::webhooks::{headers, verify};
use common::{Server, TestDb};
use serde_json::{json, Value};

const SECRET: &str = "receiver-secret-0123456789";
/// These tests deliver to a receiver on 127.0.0.1: the operator setting that allows
/// private receivers (default off; see tests/edge.rs for the refusals).
const ALLOW_PRIVATE: (&str, &str) = ("CITYLOOP_WEBHOOK_ALLOW_PRIVATE", "true");

type Log = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn ok_hook(State(log): State<Log>, h: HeaderMap, body: Bytes) -> StatusCode {
    log.lock().unwrap().push((h, body));
    StatusCode::OK
}

async fn failing_hook() -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

/// A receiver on `listener`: `/ok` records and answers 200, `/fail` answers 503.
fn receiver(listener: tokio::net::TcpListener) -> Log {
    let log = Log::default();
    let app = axum::Router::new()
        .route("/ok", axum::routing::post(ok_hook))
        .route("/fail", axum::routing::post(failing_hook))
        .with_state(log.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    log
}

async fn send(
    s: &Server,
    method: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = match method {
        "GET" => s.http.get(s.url(path)),
        "POST" => s.http.post(s.url(path)),
        "PATCH" => s.http.patch(s.url(path)),
        "DELETE" => s.http.delete(s.url(path)),
        other => panic!("{other}"),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or(Value::Null))
}

const HOOKS: &str = "/api/v1/admin/webhooks";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_validates_names_the_field_and_never_shows_the_secret() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env("demo", &db.url, &[ALLOW_PRIVATE]);
        let admin = s.login("admin").await;
        let sup = s.login("supervisor").await;
        let good = json!({
            "url": "https://hooks.example.cn/cityloop",
            "secret": SECRET,
            "event_types": ["escalation.red", "case.state_changed"],
            "description": "区数字城管平台"
        });
        let (st, _) = send(&s, "POST", &sup, HOOKS, Some(good.clone())).await;
        assert_eq!(st, 403, "a supervisor is not an admin");
        let (st, _) = send(&s, "GET", &sup, HOOKS, None).await;
        assert_eq!(st, 403);
        let r = s.http.get(s.url(HOOKS)).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let with = |k: &str, v: Value| {
            let mut b = good.clone();
            b[k] = v;
            b
        };
        let mut no_url = good.clone();
        no_url.as_object_mut().unwrap().remove("url");
        for (body, field) in [
            (with("url", json!("ftp://hooks.example.cn/")), "url"),
            (with("url", json!("not a url")), "url"),
            (with("url", json!("http://u:p@example.cn/")), "url"),
            (no_url, "url"),
            (with("secret", json!("short")), "secret"),
            (with("secret", json!("x".repeat(300))), "secret"),
            (with("event_types", json!([])), "event_types"),
            (with("event_types", json!(["case.eaten"])), "event_types"),
            (with("event_types", json!("case.created")), "event_types"),
            (with("active", json!("yes")), "active"),
            (with("description", json!("长".repeat(201))), "description"),
            (with("colour", json!("red")), "colour"),
        ] {
            let (st, e) = send(&s, "POST", &admin, HOOKS, Some(body.clone())).await;
            assert_eq!(st, 422, "{body}: {e}");
            assert_eq!(e["error"]["field"], field, "{body}: {e}");
        }
        let (st, created) = send(&s, "POST", &admin, HOOKS, Some(good.clone())).await;
        assert_eq!(st, 201, "{created}");
        assert!(created.get("secret").is_none(), "{created}");
        assert_eq!(created["active"], true);
        assert_eq!(
            created["event_types"],
            json!(["case.state_changed", "escalation.red"])
        );
        let id = created["id"].as_str().unwrap();
        let one = format!("{HOOKS}/{id}");
        let (st, e) = send(&s, "PATCH", &admin, &one, Some(json!({"secret": "tiny"}))).await;
        assert_eq!((st, e["error"]["field"].as_str()), (422, Some("secret")));
        let (st, v) = send(
            &s,
            "PATCH",
            &admin,
            &one,
            Some(json!({"active": false, "url": "http://127.0.0.1:9/x"})),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(
            (v["active"].as_bool(), v["url"].as_str()),
            (Some(false), Some("http://127.0.0.1:9/x"))
        );
        let (st, list) = send(&s, "GET", &admin, HOOKS, None).await;
        assert_eq!(st, 200);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert!(
            !list.to_string().contains(SECRET),
            "the secret is write-only"
        );
        let (st, d) = send(&s, "GET", &admin, &format!("{one}/deliveries"), None).await;
        assert_eq!((st, d), (200, json!([])));
        let (st, e) = send(
            &s,
            "GET",
            &admin,
            &format!("{one}/deliveries?status=lost"),
            None,
        )
        .await;
        assert_eq!((st, e["error"]["field"].as_str()), (422, Some("status")));
        let (st, e) = send(
            &s,
            "GET",
            &admin,
            &format!("{one}/deliveries?limit=0"),
            None,
        )
        .await;
        assert_eq!((st, e["error"]["field"].as_str()), (422, Some("limit")));
        let (st, _) = send(&s, "DELETE", &admin, &one, None).await;
        assert_eq!(st, 204);
        for (m, p) in [
            ("GET", one.clone()),
            ("DELETE", one.clone()),
            ("GET", format!("{HOOKS}/nope")),
        ] {
            let (st, _) = send(&s, m, &admin, &p, None).await;
            assert_eq!(st, 404, "{m} {p}");
        }
        // Each change is in the admin audit log, with the actor and without the secret.
        let (st, page) = s
            .get(&admin, "/api/v1/admin/audit?entity=webhook&limit=50")
            .await;
        assert_eq!(st, 200, "{page}");
        assert!(
            !page.to_string().contains(SECRET),
            "secret in the audit log"
        );
        let mut actions: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["action"].as_str().unwrap())
            .collect();
        actions.sort_unstable();
        assert_eq!(actions, ["create", "delete", "update"], "{page}");
        assert!(page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["actor_id"].is_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_webhook_survives_kill_9_and_a_dead_letter_can_be_redelivered() {
    let fast = [
        ("CITYLOOP_WEBHOOK_BACKOFF", "100ms,100ms"),
        ("CITYLOOP_WEBHOOK_POLL", "100ms"),
        ("CITYLOOP_WEBHOOK_TIMEOUT", "2s"),
        ALLOW_PRIVATE,
    ];
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        // The receiver's port is reserved, then closed: it is down at first.
        let addr: SocketAddr = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        // The first server's worker makes its first pass at start-up, then sleeps: the
        // delivery queued below is still pending, never attempted, when it is killed.
        let mut s = Server::spawn_env(
            "demo",
            &db.url,
            &[("CITYLOOP_WEBHOOK_POLL", "1h"), ALLOW_PRIVATE],
        );
        let admin = s.login("admin").await;
        let (st, sub) = send(
            &s,
            "POST",
            &admin,
            HOOKS,
            Some(json!({
                "url": format!("http://{addr}/ok"),
                "secret": SECRET,
                "event_types": ["case.created"],
            })),
        )
        .await;
        assert_eq!(st, 201, "{sub}");
        let sub_id = sub["id"].as_str().unwrap().to_owned();
        // A failing receiver too, for the dead letter.
        let (_, dead_sub) = send(
            &s,
            "POST",
            &admin,
            HOOKS,
            Some(json!({
                "url": format!("http://{addr}/fail"),
                "secret": SECRET,
                "event_types": ["case.created"],
            })),
        )
        .await;
        let dead_id = dead_sub["id"].as_str().unwrap().to_owned();
        let insp = s.login("inspector").await;
        let (st, case) = s
            .post(
                &insp,
                "/api/v1/cases",
                json!({"source": "inspector", "category": "06010", "description": "井盖缺失",
                       "lat": 34.7503, "lon": 113.6615}),
            )
            .await;
        assert_eq!(st, 201, "{case}");
        let (_, queued) = send(
            &s,
            "GET",
            &admin,
            &format!("{HOOKS}/{sub_id}/deliveries"),
            None,
        )
        .await;
        assert_eq!(queued[0]["status"], "pending", "{queued}");
        assert_eq!(queued[0]["attempts"], json!([]), "{queued}");
        s.kill9();
        drop(s);

        let log = receiver(tokio::net::TcpListener::bind(addr).await.unwrap());
        let s = Server::spawn_env("serve", &db.url, &fast);
        let admin = s.login("admin").await;
        assert!(
            common::wait_until(Duration::from_secs(30), || !log.lock().unwrap().is_empty()),
            "the queued webhook arrived after the restart"
        );
        // Let the worker run a few more passes: still exactly one delivery.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let got = log.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let (h, body) = &got[0];
        let hv = |n: &str| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(verify(
            SECRET,
            &hv(headers::TIMESTAMP),
            body,
            &hv(headers::SIGNATURE)
        ));
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(payload["type"], "case.created");
        assert_eq!(payload["case"]["id"], case["id"]);
        let (_, deliveries) = send(
            &s,
            "GET",
            &admin,
            &format!("{HOOKS}/{sub_id}/deliveries"),
            None,
        )
        .await;
        assert_eq!(deliveries[0]["status"], "delivered", "{deliveries}");
        assert_eq!(deliveries[0]["id"].as_str().unwrap(), hv(headers::DELIVERY));

        // The failing receiver: 1 attempt + 2 retries, then a dead letter.
        let dead_path = format!("{HOOKS}/{dead_id}/deliveries?status=dead");
        let mut dead = Value::Null;
        assert!(
            common::wait_until(Duration::from_secs(30), || {
                let (s2, a, p) = (&s, admin.clone(), dead_path.clone());
                dead = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current()
                        .block_on(async move { send(s2, "GET", &a, &p, None).await.1 })
                });
                dead.as_array().is_some_and(|a| a.len() == 1)
            }),
            "a dead letter"
        );
        let attempts = dead[0]["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 3, "{dead}");
        assert!(attempts.iter().all(|a| a["status_code"] == 503), "{dead}");
        let did = dead[0]["id"].as_str().unwrap();
        let redeliver = format!("{HOOKS}/{dead_id}/deliveries/{did}/redeliver");
        let (st, v) = send(&s, "POST", &admin, &redeliver, None).await;
        assert_eq!((st, v["status"].as_str()), (202, Some("pending")), "{v}");
        let (st, _) = send(
            &s,
            "POST",
            &admin,
            &format!("{HOOKS}/{sub_id}/deliveries/{did}/redeliver"),
            None,
        )
        .await;
        assert_eq!(st, 404, "a delivery of another subscription");
        let sup = s.login("supervisor").await;
        let (st, _) = send(&s, "POST", &sup, &redeliver, None).await;
        assert_eq!(st, 403);
    }
}
