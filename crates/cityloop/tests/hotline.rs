//! The 12345 bridge over the real server on every store, with a local HTTP server in the
//! test standing in for the city platform: a work order pushed twice is one case (a
//! changed copy is an update of it), 签收 and 办结 reach the platform once each (a 500 from
//! it is retried with the same delivery id), 撤单 voids the case, and bad input (missing
//! 工单号, a bad time, no signature) is refused naming the field before anything is written.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use cityloop_service::webhooks::{headers, sign, verify};
use common::{Server, TestDb};
use serde_json::{json, Value};

const INBOUND: &str = "platform-to-district-0123456789";
const OUTBOUND: &str = "district-to-platform-0123456789";

/// (event type, delivery id, body, answered status) of each call received.
type Calls = Arc<Mutex<Vec<(String, String, Value, u16)>>>;

#[derive(Clone, Default)]
struct Platform {
    /// (event type, delivery id, body, answered status)
    calls: Calls,
    /// How many of the first calls answer 500.
    fail_first: Arc<AtomicUsize>,
}

async fn platform_hook(State(p): State<Platform>, h: HeaderMap, body: Bytes) -> StatusCode {
    let get = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let signed = verify(
        OUTBOUND,
        &get(headers::TIMESTAMP),
        &body,
        &get(headers::SIGNATURE),
    );
    let status = if !signed {
        StatusCode::UNAUTHORIZED
    } else if p
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    p.calls.lock().unwrap().push((
        get(headers::EVENT),
        get(headers::DELIVERY),
        v,
        status.as_u16(),
    ));
    status
}

async fn platform() -> (String, Platform) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/12345", l.local_addr().unwrap());
    let p = Platform::default();
    let app = axum::Router::new()
        .route("/12345", axum::routing::post(platform_hook))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, p)
}

/// A signed call from the platform.
async fn call(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let ts = chrono::Utc::now().timestamp();
    let r = s
        .http
        .post(s.url(path))
        .header("content-type", "application/json")
        .header(headers::TIMESTAMP, ts.to_string())
        .header(headers::SIGNATURE, sign(INBOUND, ts, &raw))
        .body(raw)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn act(s: &Server, token: &str, id: &str, body: Value) -> Value {
    let (st, case) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body.clone())
        .await;
    assert_eq!(st, 200, "{body} -> {case}");
    case
}

fn order(ticket: &str) -> Value {
    json!({
        "ticket_no": ticket,
        "caller": "王先生",
        "callback_phone": "13800138000",
        "call_time": "2026-03-02 09:30:00",
        "content": "建设路与长江路口井盖缺失，夜间很危险",
        "kind": "井盖缺失",
        "address": "建设路与长江路交叉口",
        "deadline_days": 3,
        "urgency": "urgent"
    })
}

async fn configure(s: &Server, url: &str) {
    let admin = s.login("admin").await;
    let r = s
        .http
        .put(s.url("/api/v1/admin/hotline"))
        .bearer_auth(&admin)
        .json(&json!({
            "inbound_secret": INBOUND,
            "categories": {"井盖缺失": "01001"},
            "fallback_category": "06010",
            "intake_lon": 113.64,
            "intake_lat": 34.75,
            "shapes": {"hotline.closed": {"gdbh": "{{ticket_no}}", "bljg": "{{reply}}", "hfjg": "{{satisfaction}}", "zp": "{{photos}}"}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let (st, hook) = s
        .post(
            &admin,
            "/api/v1/admin/webhooks",
            json!({"url": url, "secret": OUTBOUND, "description": "12345热线平台",
                   "event_types": ["hotline.signed", "hotline.returned", "hotline.progress", "hotline.closed"]}),
        )
        .await;
    assert_eq!(st, 201, "{hook}");
}

fn calls_of(p: &Platform, event: &str) -> Vec<(String, Value, u16)> {
    p.calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0 == event)
        .map(|c| (c.1.clone(), c.2.clone(), c.3))
        .collect()
}

async fn wait_delivered(p: &Platform, event: &str) {
    let ok = common::wait_for(Duration::from_secs(20), || {
        calls_of(p, event).iter().any(|c| c.2 == 200)
    })
    .await;
    assert!(ok, "{event} never delivered: {:?}", p.calls.lock().unwrap());
}

const FAST: [(&str, &str); 4] = [
    ("CITYLOOP_WEBHOOK_BACKOFF", "200ms,200ms,200ms"),
    ("CITYLOOP_WEBHOOK_POLL", "100ms"),
    ("CITYLOOP_WEBHOOK_TIMEOUT", "2s"),
    // The stand-in platform listens on 127.0.0.1.
    ("CITYLOOP_WEBHOOK_ALLOW_PRIVATE", "true"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_pushed_twice_is_one_case_and_signed_and_closed_reach_the_platform_once_each()
{
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env("demo", &db.url, &FAST);
        let (url, p) = platform().await;
        // The platform's first answer is a 500: the 签收 is retried.
        p.fail_first.store(1, Ordering::SeqCst);
        configure(&s, &url).await;

        let (st, first) = call(&s, "/api/v1/hotline/orders", &order("GD2026030200001")).await;
        assert_eq!(st, 201, "{first}");
        assert_eq!(first["outcome"], "created");
        assert_eq!(first["category_mapped"], true);
        let id = first["case_id"].as_str().unwrap().to_owned();
        // 3 natural days after a call on 2 March (Beijing): the end of 5 March.
        assert_eq!(first["platform_deadline"], "2026-03-05T16:00:00Z");
        let (st, again) = call(&s, "/api/v1/hotline/orders", &order("GD2026030200001")).await;
        assert_eq!(
            (st, again["outcome"].as_str()),
            (200, Some("repeated")),
            "{again}"
        );
        assert_eq!(again["case_id"], first["case_id"]);
        let mut changed = order("GD2026030200001");
        changed["content"] = json!("建设路与长江路口井盖缺失，已有行人摔倒");
        let (st, upd) = call(&s, "/api/v1/hotline/orders", &changed).await;
        assert_eq!(
            (st, upd["outcome"].as_str()),
            (200, Some("updated")),
            "{upd}"
        );
        assert_eq!(upd["case_id"], first["case_id"]);
        assert_eq!(upd["changed"], json!(["content"]));

        let staff = s.staff().await;
        let (st, case) = s.get(&staff.operator, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(st, 200);
        assert_eq!(case["source"], "hotline_12345");
        assert_eq!(case["external_ref"], "GD2026030200001");
        assert_eq!(case["priority"], "urgent");

        // 签收.
        act(&s, &staff.operator, &id, json!({"action": "accept"})).await;
        wait_delivered(&p, "hotline.signed").await;
        let signed = calls_of(&p, "hotline.signed");
        assert_eq!(signed.len(), 2, "one 500, then the retry: {signed:?}");
        assert_eq!(signed[0].2, 500);
        assert_eq!(signed[0].0, signed[1].0, "the retry is the same delivery");
        assert_eq!(signed[1].1["ticket_no"], "GD2026030200001");

        // An interim reply (阶段答复) and the rest of the loop to 办结.
        let (st, _) = s
            .post(
                &staff.operator,
                &format!("/api/v1/cases/{id}/hotline/progress"),
                json!({"text": "已派人员前往现场核实"}),
            )
            .await;
        assert_eq!(st, 202);
        act(&s, &staff.inspector, &id, json!({"action": "confirm"})).await;
        act(&s, &staff.operator, &id, json!({"action": "register"})).await;
        act(
            &s,
            &staff.dispatcher,
            &id,
            json!({"action": "dispatch", "unit_id": staff.hw}),
        )
        .await;
        act(
            &s,
            &staff.handler,
            &id,
            json!({"action": "report_back", "note": "已补装井盖", "attachments": [staff.photo]}),
        )
        .await;
        act(&s, &staff.inspector, &id, json!({"action": "check_pass"})).await;
        act(
            &s,
            &staff.operator,
            &id,
            json!({"action": "callback", "satisfaction": "satisfied"}),
        )
        .await;
        act(
            &s,
            &staff.supervisor,
            &id,
            json!({"action": "close", "public_reply": "井盖已补装，感谢您的反映"}),
        )
        .await;
        wait_delivered(&p, "hotline.closed").await;
        wait_delivered(&p, "hotline.progress").await;
        // Nothing more arrives: once each.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let closed = calls_of(&p, "hotline.closed");
        assert_eq!(closed.len(), 1, "{closed:?}");
        assert_eq!(
            closed[0].1,
            json!({"gdbh": "GD2026030200001", "bljg": "井盖已补装，感谢您的反映",
                   "hfjg": "satisfied", "zp": [staff.photo]})
        );
        assert_eq!(calls_of(&p, "hotline.signed").len(), 2);
        assert_eq!(calls_of(&p, "hotline.progress").len(), 1);

        // The case's bridge view: the log and every call with its delivery status.
        let (st, view) = s
            .get(&staff.operator, &format!("/api/v1/cases/{id}/hotline"))
            .await;
        assert_eq!(st, 200, "{view}");
        let kinds: Vec<&str> = view["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["received", "updated", "progress"]);
        let out: Vec<(&str, &str)> = view["outbound"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["event_type"].as_str().unwrap(),
                    d["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            out,
            vec![
                ("hotline.signed", "delivered"),
                ("hotline.progress", "delivered"),
                ("hotline.closed", "delivered")
            ]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_order_voids_its_case_and_bad_input_names_the_field() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env("demo", &db.url, &FAST);
        let (url, p) = platform().await;
        // Before an admin sets the bridge up no call can be authenticated: a 401 that
        // says so (not a 5xx the platform would retry), and nothing is written.
        let (st, e) = call(&s, "/api/v1/hotline/orders", &order("GD-EARLY")).await;
        assert_eq!(st, 401, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("inbound secret"),
            "{e}"
        );
        configure(&s, &url).await;

        // Bad input: nothing is written.
        let mut no_ticket = order("x");
        no_ticket.as_object_mut().unwrap().remove("ticket_no");
        let mut bad_time = order("GD-BAD-TIME");
        bad_time["call_time"] = json!("上周三");
        for (body, field) in [(no_ticket, "ticket_no"), (bad_time, "call_time")] {
            let (st, e) = call(&s, "/api/v1/hotline/orders", &body).await;
            assert_eq!(st, 422, "{body}: {e}");
            assert_eq!(e["error"]["field"], field, "{e}");
        }
        let r = s
            .http
            .post(s.url("/api/v1/hotline/orders"))
            .json(&order("GD-UNSIGNED"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let (st, _) = call(&s, "/api/v1/hotline/orders", &order("GD-BAD-TIME")).await;
        assert_eq!(st, 201, "the refused copy left nothing behind");

        // An unmapped 诉求类型 lands on the fallback, flagged for the operator.
        let mut other = order("GD2026030200002");
        other["kind"] = json!("其他");
        let (st, made) = call(&s, "/api/v1/hotline/orders", &other).await;
        assert_eq!(st, 201, "{made}");
        assert_eq!(made["category_mapped"], false);
        let id = made["case_id"].as_str().unwrap().to_owned();

        let (st, e) = call(
            &s,
            "/api/v1/hotline/orders/GD-NONE/withdraw",
            &json!({"reason": "市民撤诉"}),
        )
        .await;
        assert_eq!(st, 404, "{e}");
        let (st, w) = call(
            &s,
            "/api/v1/hotline/orders/GD2026030200002/withdraw",
            &json!({"reason": "市民已自行解决"}),
        )
        .await;
        assert_eq!(st, 200, "{w}");
        assert_eq!(
            (w["voided"].as_bool(), w["state"].as_str()),
            (Some(true), Some("voided"))
        );
        let (st, again) = call(
            &s,
            "/api/v1/hotline/orders/GD2026030200002/withdraw",
            &json!({}),
        )
        .await;
        assert_eq!((st, again["voided"].as_bool()), (200, Some(false)));
        let (st, e) = call(
            &s,
            "/api/v1/hotline/orders/GD2026030200002/supplement",
            &json!({"text": 5}),
        )
        .await;
        assert_eq!((st, e["error"]["field"].as_str()), (422, Some("text")));

        let operator = s.login("operator").await;
        let (_, case) = s.get(&operator, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(case["state"], "voided");
        // A withdrawal is the platform's own: no 退回 goes back.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(calls_of(&p, "hotline.returned").is_empty());
    }
}
