//! Messages that reach citizens over the real server on every store (issue 16, items 3
//! and 6): a local HTTP server stands in for the SMS gateway (it receives the JSON and
//! answers 200 or 500) — the receipt and the 回访 invitation arrive once each, a 500 is
//! retried, a permanent failure shows as dead in the admin outbox and turns the channels
//! `degraded`; a local SMTP sink receives the e-mail receipt; templates and secrets are
//! checked and hidden; and "my reports" by one-time code: a code for phone A lists A's
//! reports only, wrong codes count down and lock the phone after 5, codes are limited per
//! phone and expire after 10 minutes.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Server, TestDb};
use serde_json::{json, Value};

const V2: &str = "/open311/v2";
const SETTINGS: &str = "/api/v1/admin/messages/settings";

/// Fast retries: two retries 200 ms apart, then dead.
fn env(log: &str) -> Vec<(&str, &str)> {
    vec![
        ("CITYLOOP_MESSAGE_BACKOFF", "200ms,200ms"),
        ("CITYLOOP_MESSAGE_POLL", "100ms"),
        ("CITYLOOP_MESSAGE_LOG", log),
    ]
}

/// What the fake gateway saw: each request's auth header, body, and the status it gave.
#[derive(Default)]
struct Gateway {
    seen: Mutex<Vec<(Option<String>, Value, u16)>>,
    /// Answer 500 to this many requests first…
    fail_first: AtomicUsize,
    /// …or to every request while this is non-zero.
    fail_all: AtomicUsize,
}

impl Gateway {
    fn accepted(&self, needle: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b, st)| *st == 200 && b.to_string().contains(needle))
            .map(|(_, b, _)| b.clone())
            .collect()
    }

    fn tries(&self, needle: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b, _)| b.to_string().contains(needle))
            .count()
    }
}

async fn sms(State(g): State<Arc<Gateway>>, h: HeaderMap, body: axum::Json<Value>) -> StatusCode {
    let failing = g.fail_all.load(Ordering::SeqCst) > 0
        || g.fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let st = if failing { 500 } else { 200 };
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    g.seen.lock().unwrap().push((auth, body.0, st));
    StatusCode::from_u16(st).unwrap()
}

async fn gateway() -> (String, Arc<Gateway>) {
    let g = Arc::new(Gateway::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms/send", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/sms/send", axum::routing::post(sms))
        .with_state(g.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, g)
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
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn public_post(s: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = s.http.post(s.url(path)).json(&body).send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

/// Reports through Open311; returns (number, query code, id).
async fn report(s: &Server, key: &str, contact: (&str, &str)) -> (String, String, String) {
    let form = vec![
        ("api_key", "demo-key"),
        ("service_code", "06010"),
        ("lat", "34.7503"),
        ("long", "113.6615"),
        ("description", "德化街人行道暴露垃圾"),
        contact,
    ];
    let r = s
        .http
        .post(s.url(&format!("{V2}/requests.json")))
        .header("Idempotency-Key", key)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let number = v[0]["service_request_id"].as_str().unwrap().to_owned();
    let code = v[0]["query_code"].as_str().unwrap().to_owned();
    let token = s.login("supervisor").await;
    let (_, case) = s
        .get(&token, &format!("/api/v1/cases/by-number/{number}"))
        .await;
    (number, code, case["id"].as_str().unwrap().to_owned())
}

async fn act(s: &Server, token: &str, id: &str, body: Value) {
    let (st, case) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body.clone())
        .await;
    assert_eq!(st, 200, "{body} -> {case}");
}

/// Accept → … → check passed: the case waits for its 回访.
async fn to_callback(s: &Server, id: &str) {
    let st = s.staff().await;
    act(s, &st.operator, id, json!({"action": "accept"})).await;
    act(s, &st.inspector, id, json!({"action": "confirm"})).await;
    act(s, &st.operator, id, json!({"action": "register"})).await;
    act(
        s,
        &st.dispatcher,
        id,
        json!({"action": "dispatch", "unit_id": st.hw}),
    )
    .await;
    act(
        s,
        &st.handler,
        id,
        json!({"action": "report_back", "note": "已清理", "attachments": [st.photo]}),
    )
    .await;
    act(s, &st.inspector, id, json!({"action": "check_pass"})).await;
}

async fn gateway_receives_the_receipt_and_the_callback_once_retries_a_500_and_shows_a_dead_message(
    s: &Server,
    url: &str,
    g: &Gateway,
) {
    let admin = s.login("admin").await;
    let sup = s.login("supervisor").await;
    let channel = json!({"sms": {
        "provider": "http", "url": url,
        "auth_header": "Authorization", "auth_value": "Bearer gw-t0ken",
        "body": {"to": "{phone}", "content": "{text}", "ref": "{id}", "kind": "{purpose}"}
    }});
    // Only admins; the secret never comes back.
    let (st, _) = put(s, &sup, SETTINGS, channel.clone()).await;
    assert_eq!(st, 403);
    let (st, saved) = put(s, &admin, SETTINGS, channel.clone()).await;
    assert_eq!(st, 200, "{saved}");
    let (_, shown) = s.get(&admin, SETTINGS).await;
    assert!(!shown.to_string().contains("gw-t0ken"), "{shown}");
    assert_eq!(shown["sms"]["auth_value_set"], true);
    assert_eq!(shown["sms"]["provider"], "http");
    // Templates are checked when saved: an unknown placeholder is named.
    let mut bad = channel.clone();
    bad["templates"] = json!({"receipt": "编号{number}，电话{phone}"});
    let (st, err) = put(s, &admin, SETTINGS, bad).await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("templates.receipt")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("{phone}"),
        "{err}"
    );
    let mut bad = channel.clone();
    bad["sms"]["body"] = json!({"to": "{mobile}"});
    let (st, err) = put(s, &admin, SETTINGS, bad).await;
    assert_eq!(
        (st, err["error"]["field"].as_str()),
        (422, Some("sms.body")),
        "{err}"
    );
    // The secret left out is kept.
    let mut again = channel.clone();
    again["sms"].as_object_mut().unwrap().remove("auth_value");
    let (st, _) = put(s, &admin, SETTINGS, again).await;
    assert_eq!(st, 200);

    // The gateway fails the first attempt: the receipt is retried and arrives once.
    g.fail_first.store(1, Ordering::SeqCst);
    let (number, code, id) = report(s, "msg-1", ("phone", "13800000011")).await;
    assert!(
        common::wait_for(Duration::from_secs(10), || g.accepted(&number).len() == 1).await,
        "the receipt arrives"
    );
    assert!(g.tries(&number) >= 2, "the 500 was retried");
    let receipt = &g.accepted(&number)[0];
    assert_eq!(receipt["to"], "13800000011");
    assert_eq!(receipt["kind"], "receipt");
    let text = receipt["content"].as_str().unwrap();
    assert!(text.contains(&code) && text.contains("已收到"), "{text}");
    assert!(g
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|(auth, _, _)| auth.as_deref() == Some("Bearer gw-t0ken")));

    // 待回访: the invitation, once.
    to_callback(s, &id).await;
    assert!(
        common::wait_for(Duration::from_secs(10), || g.accepted(&number).len() == 2).await,
        "the invitation arrives"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got = g.accepted(&number);
    assert_eq!(got.len(), 2, "each message once: {got:?}");
    assert_eq!(got[1]["kind"], "callback");
    assert!(got[1]["content"].as_str().unwrap().contains("评价"));

    let (_, health) = s.get(&admin, "/healthz").await;
    assert_eq!(health["messages"]["status"], "ok", "{health}");
    assert_eq!(health["messages"]["sms"], "http");

    // A gateway that always fails: three attempts, then dead, shown to the admin, and the
    // channels are degraded.
    g.fail_all.store(1, Ordering::SeqCst);
    let (dead_number, _, _) = report(s, "msg-2", ("phone", "13800000012")).await;
    let mut dead = Value::Null;
    for _ in 0..100 {
        let (st, rows) = s
            .get(&admin, "/api/v1/admin/messages/outbox?status=dead")
            .await;
        assert_eq!(st, 200, "{rows}");
        if let Some(r) = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["case_number"] == json!(dead_number))
        {
            dead = r.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead["status"], "dead", "the failure is in the outbox");
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["recipient"], "138****0012");
    assert!(
        dead["last_error"].as_str().unwrap().contains("500"),
        "{dead}"
    );
    assert!(g.accepted(&dead_number).is_empty());
    let (_, health) = s.get(&admin, "/healthz").await;
    assert_eq!(health["messages"]["status"], "degraded", "{health}");
    assert_eq!(health["messages"]["dead_recent"], 1);

    // Fixed gateway, sent again: delivered.
    g.fail_all.store(0, Ordering::SeqCst);
    let (st, _) = s
        .post(
            &admin,
            &format!(
                "/api/v1/admin/messages/outbox/{}/resend",
                dead["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(st, 204);
    assert!(
        common::wait_for(Duration::from_secs(10), || g.accepted(&dead_number).len()
            == 1)
        .await,
        "sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_gateway_gets_each_message_once_with_retries_and_dead_letters_on_every_store() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("messages.log");
        let log = log.to_str().unwrap();
        let (url, g) = gateway().await;
        let s = Server::spawn_env("demo", &db.url, &env(log));
        gateway_receives_the_receipt_and_the_callback_once_retries_a_500_and_shows_a_dead_message(
            &s, &url, &g,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smtp_channel_delivers_the_e_mail_receipt_to_a_local_sink() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("messages.log");
        let (port, mails) = common::smtp_sink().await;
        let s = Server::spawn_env("demo", &db.url, &env(log.to_str().unwrap()));
        let admin = s.login("admin").await;
        let (st, saved) = put(
            &s,
            &admin,
            SETTINGS,
            json!({
                "email": {"provider": "smtp", "host": "127.0.0.1", "port": port,
                          "security": "none", "username": null, "password": "smtp-pw",
                          "from": "City Loop <noreply@cityloop.test>"},
                "templates": {"receipt": "Received: {number}, query code {query_code}"}
            }),
        )
        .await;
        assert_eq!(st, 200, "{saved}");
        assert!(!saved.to_string().contains("smtp-pw"));
        assert_eq!(saved["email"]["password_set"], true);
        let (number, code, _) = report(&s, "mail-1", ("email", "zhang.san@example.cn")).await;
        assert!(
            common::wait_for(Duration::from_secs(10), || !mails
                .lock()
                .unwrap()
                .is_empty())
            .await,
            "the sink got a mail"
        );
        let mail = mails.lock().unwrap()[0].clone();
        assert!(mail.from.contains("noreply@cityloop.test"), "{mail:?}");
        assert_eq!(mail.to.len(), 1);
        assert!(mail.to[0].contains("zhang.san@example.cn"), "{mail:?}");
        assert!(
            mail.data
                .contains(&format!("Received: {number}, query code {code}")),
            "{}",
            mail.data
        );
        // Subject: 您的反映已收到, encoded.
        assert!(mail.data.contains("Subject:"), "{}", mail.data);
        let (_, rows) = s
            .get(&admin, "/api/v1/admin/messages/outbox?status=delivered")
            .await;
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["case_number"] == json!(number))
            .cloned()
            .expect("the delivered row");
        assert_eq!(
            (row["channel"].as_str(), row["provider"].as_str()),
            (Some("email"), Some("smtp"))
        );
        assert_eq!(row["recipient"], "z***@example.cn");
    }
}

/// The codes the log channel wrote for `phone`, oldest first.
fn codes_in(log: &std::path::Path, phone: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() >= 6 && f[2] == phone && f[3] == "code"
        })
        .filter_map(|l| {
            let after = l.split("验证码是").nth(1)?;
            Some(after.chars().take(6).collect())
        })
        .collect()
}

async fn new_code(s: &Server, log: &std::path::Path, phone: &str) -> String {
    let before = codes_in(log, phone).len();
    let (st, v) = public_post(s, "/api/v1/public/my/code", json!({"phone": phone})).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["expires_in_s"], 600);
    assert!(
        common::wait_for(Duration::from_secs(10), || codes_in(log, phone).len()
            > before)
        .await,
        "the code reached the log channel"
    );
    codes_in(log, phone).pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_reports_need_the_phones_own_code_which_locks_after_five_wrong_tries_and_expires() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("messages.log");
        let s = Server::spawn_env("demo", &db.url, &env(log.to_str().unwrap()));
        let (a1, _, _) = report(&s, "my-a1", ("phone", "13900000001")).await;
        let (a2, _, _) = report(&s, "my-a2", ("phone", "139 0000 0001")).await;
        let (b1, _, _) = report(&s, "my-b1", ("phone", "13900000002")).await;
        // The code's wording reaches the channel; the stored text masks it.
        let code_a = new_code(&s, &log, "13900000001").await;
        assert_eq!(code_a.len(), 6);

        // A wrong code counts down; B's code never opens A's list and vice versa.
        let code_b = new_code(&s, &log, "13900000002").await;
        let wrong = if code_a == "000000" {
            "111111"
        } else {
            "000000"
        };
        let (st, err) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "13900000001", "code": wrong}),
        )
        .await;
        assert_eq!(
            (st, err["error"]["field"].as_str()),
            (422, Some("code")),
            "{err}"
        );
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("还可以再试4次"),
            "{err}"
        );
        if code_b != code_a {
            let (st, _) = public_post(
                &s,
                "/api/v1/public/my/cases",
                json!({"phone": "13900000001", "code": code_b}),
            )
            .await;
            assert_eq!(st, 422, "B's code is not A's");
        }
        let (st, list) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "+86 139-0000-0001", "code": code_a}),
        )
        .await;
        assert_eq!(st, 200, "{list}");
        let numbers: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["number"].as_str().unwrap())
            .collect();
        assert_eq!(
            numbers,
            [a2.as_str(), a1.as_str()],
            "A's reports, newest first"
        );
        assert!(!list.to_string().contains(&b1));
        assert_eq!(list[0]["status_text"], "已提交，等待受理");
        assert!(list[0]["query_code"]
            .as_str()
            .is_some_and(|c| c.len() >= 12));
        // A code is used once.
        let (st, _) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "13900000001", "code": code_a}),
        )
        .await;
        assert_eq!(st, 422, "used up");
        let (st, list_b) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "13900000002", "code": code_b}),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(list_b.as_array().unwrap().len(), 1);
        assert_eq!(list_b[0]["number"], json!(b1));

        // Five wrong tries lock the phone for 15 minutes: even the right code, and asking
        // for a new one, answer 429.
        let code_a = new_code(&s, &log, "13900000001").await;
        let wrong = if code_a == "000000" {
            "111111"
        } else {
            "000000"
        };
        for i in 1..=5 {
            let (st, err) = public_post(
                &s,
                "/api/v1/public/my/cases",
                json!({"phone": "13900000001", "code": wrong}),
            )
            .await;
            let want = if i < 5 { 422 } else { 429 };
            assert_eq!(st, want, "try {i}: {err}");
        }
        let (st, _) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "13900000001", "code": code_a}),
        )
        .await;
        assert_eq!(st, 429, "locked");
        let (st, _) = public_post(
            &s,
            "/api/v1/public/my/code",
            json!({"phone": "13900000001"}),
        )
        .await;
        assert_eq!(st, 429, "no new code while locked");

        // Sending is limited per phone: 3 codes in 10 minutes.
        for _ in 0..3 {
            let (st, _) = public_post(
                &s,
                "/api/v1/public/my/code",
                json!({"phone": "13900000003"}),
            )
            .await;
            assert_eq!(st, 202);
        }
        let r = s
            .http
            .post(s.url("/api/v1/public/my/code"))
            .json(&json!({"phone": "13900000003"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().get("retry-after").is_some());
        let (st, err) = public_post(&s, "/api/v1/public/my/code", json!({"phone": "12"})).await;
        assert_eq!((st, err["error"]["field"].as_str()), (422, Some("phone")));

        // The outbox never shows a code.
        let admin = s.login("admin").await;
        let (_, rows) = s.get(&admin, "/api/v1/admin/messages/outbox").await;
        let codes: Vec<&Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["purpose"] == "code" && r["status"] == "delivered")
            .collect();
        assert!(!codes.is_empty());
        for r in codes {
            assert!(r["body"].as_str().unwrap().contains("******"), "{r}");
        }
        assert!(!rows.to_string().contains(&code_a));

        // A code expires after 10 minutes: the same database, its clock 11 minutes on.
        let code_b = new_code(&s, &log, "13900000002").await;
        drop(s);
        let mut later = env(log.to_str().unwrap());
        later.push(("CITYLOOP_DEMO_CLOCK_OFFSET", "11m"));
        let s = Server::spawn_env("demo", &db.url, &later);
        let (st, err) = public_post(
            &s,
            "/api/v1/public/my/cases",
            json!({"phone": "13900000002", "code": code_b}),
        )
        .await;
        assert_eq!(
            (st, err["error"]["field"].as_str()),
            (422, Some("code")),
            "{err}"
        );
        assert!(
            err["error"]["message"].as_str().unwrap().contains("已过期"),
            "{err}"
        );
    }
}
