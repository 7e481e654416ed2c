//! The server's edge against the open internet, over the real binary on every store:
//! rate limits on Open311 intake and the public upload (429 with Retry-After, in each
//! API's own error shape), the trusted-proxy rule for `X-Forwarded-For`, the public
//! page's own rotatable key, the login throttle per (account, address), webhook
//! receivers refused on private addresses (when saved and when delivered), and the
//! connection limits of the serve loop (idle and header-read timeouts, the cap).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, TestDb};
use serde_json::{json, Value};

const V2: &str = "/open311/v2";

fn report_form(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("api_key", key.to_owned()),
        ("service_code", "06010".to_owned()),
        ("lat", "34.7503".to_owned()),
        ("long", "113.6615".to_owned()),
        ("description", "井盖缺失 edge test".to_owned()),
    ]
}

/// POSTs a report; `xff` sets `X-Forwarded-For`. Returns status, Retry-After, body.
async fn post_report(
    s: &Server,
    fmt: &str,
    key: &str,
    xff: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut rb = s
        .http
        .post(s.url(&format!("{V2}/requests.{fmt}")))
        .form(&report_form(key));
    if let Some(x) = xff {
        rb = rb.header("X-Forwarded-For", x);
    }
    let r = rb.send().await.unwrap();
    let st = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (st, retry, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open311_posts_are_limited_per_address_and_per_key_in_the_standards_error_shape() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env(
            "demo",
            &db.url,
            &[
                ("CITYLOOP_OPEN311_RATE_PER_ADDRESS", "3/1h"),
                ("CITYLOOP_OPEN311_RATE_PER_KEY", "off"),
            ],
        );
        for _ in 0..3 {
            let (st, _, body) = post_report(&s, "json", "demo-key", None).await;
            assert_eq!(st, 200, "{body}");
        }
        let (st, retry, body) = post_report(&s, "json", "demo-key", None).await;
        assert_eq!(st, 429, "{body}");
        let secs: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=1200).contains(&secs), "{secs}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v[0]["code"], 429, "{v}");
        assert!(v[0]["description"].as_str().unwrap().contains('s'), "{v}");
        // XML clients get the standard's XML errors document.
        let (st, retry, body) = post_report(&s, "xml", "demo-key", None).await;
        assert_eq!(st, 429);
        assert!(retry.is_some());
        assert!(
            body.contains("<errors>") && body.contains("<code>429</code>"),
            "{body}"
        );
        // Without trusted proxies a forwarded address is ignored: still the same client.
        let (st, _, _) = post_report(&s, "json", "demo-key", Some("203.0.113.50")).await;
        assert_eq!(
            st, 429,
            "X-Forwarded-For from an untrusted peer must not count"
        );
        // Reads are not limited.
        let r = s
            .http
            .get(s.url(&format!("{V2}/services.json")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        drop(s);

        // Per key: a second client application is not affected by the first's limit.
        let s = Server::spawn_env(
            "demo",
            &db.url,
            &[
                ("CITYLOOP_OPEN311_RATE_PER_ADDRESS", "off"),
                ("CITYLOOP_OPEN311_RATE_PER_KEY", "2/1h"),
            ],
        );
        for _ in 0..2 {
            assert_eq!(post_report(&s, "json", "demo-key", None).await.0, 200);
        }
        let (st, retry, _) = post_report(&s, "json", "demo-key", None).await;
        assert_eq!((st, retry.is_some()), (429, true));
        let page_key = public_key(&s).await;
        assert_eq!(post_report(&s, "json", &page_key, None).await.0, 200);
        // An invalid key is refused as such (403), never counted.
        assert_eq!(post_report(&s, "json", "no-such-key", None).await.0, 403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let db = TestDb::sqlite().await;
    let s = Server::spawn_env(
        "demo",
        &db.url,
        &[
            ("CITYLOOP_TRUSTED_PROXIES", "127.0.0.1/32, ::1"),
            ("CITYLOOP_OPEN311_RATE_PER_ADDRESS", "2/1h"),
            ("CITYLOOP_OPEN311_RATE_PER_KEY", "off"),
        ],
    );
    let a = Some("203.0.113.7");
    for _ in 0..2 {
        assert_eq!(post_report(&s, "json", "demo-key", a).await.0, 200);
    }
    assert_eq!(post_report(&s, "json", "demo-key", a).await.0, 429);
    // A client-supplied entry left of the proxy's own does not help the client.
    assert_eq!(
        post_report(&s, "json", "demo-key", Some("198.51.100.1, 203.0.113.7"))
            .await
            .0,
        429
    );
    assert_eq!(
        post_report(&s, "json", "demo-key", Some("203.0.113.8"))
            .await
            .0,
        200,
        "another client behind the same proxy"
    );
}

async fn upload(s: &Server, photo: Vec<u8>) -> (u16, Option<String>, Value) {
    let r = s
        .http
        .post(s.url("/api/v1/public/media"))
        .header("Content-Type", "image/jpeg")
        .body(photo)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (st, retry, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_upload_is_limited_per_address_in_the_api_envelope() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env(
            "demo",
            &db.url,
            &[("CITYLOOP_UPLOAD_RATE_PER_ADDRESS", "2/1h")],
        );
        let photo = cityloop_service::media::samples::jpeg(32, 24, None);
        for _ in 0..2 {
            let (st, _, body) = upload(&s, photo.clone()).await;
            assert!(st == 201 || st == 200, "{st} {body}");
        }
        let (st, retry, body) = upload(&s, photo.clone()).await;
        assert_eq!(st, 429, "{body}");
        assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        // Refused before the body is read: even an empty body gets the 429.
        let (st, _, _) = upload(&s, Vec::new()).await;
        assert_eq!(st, 429);
    }
}

async fn public_key(s: &Server) -> String {
    let r = s
        .http
        .get(s.url("/api/v1/public/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("cache-control").unwrap(),
        "no-store",
        "a rotated key must not be cached"
    );
    let v: Value = r.json().await.unwrap();
    v["open311_api_key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_page_has_its_own_key_that_an_admin_rotates_without_breaking_the_page() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let mut s = Server::spawn("demo", &db.url);
        // The page's script carries no key at all; it asks the server.
        let js = s
            .http
            .get(s.url("/assets/js/public.js"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            js.contains("/api/v1/public/config"),
            "the page reads its key"
        );
        assert!(!js.contains("demo-key"), "the demo key is not in the page");
        let old = public_key(&s).await;
        assert_ne!(old, "demo-key");
        assert_eq!(post_report(&s, "json", &old, None).await.0, 200);
        // Rotation: audited, the old key stops working at once, the new one works.
        let admin = s.login("admin").await;
        let sup = s.login("supervisor").await;
        let (st, _) = s
            .post(&sup, "/api/v1/admin/public-page-key/rotate", json!({}))
            .await;
        assert_eq!(st, 403, "only an admin rotates");
        let (st, view) = s
            .post(&admin, "/api/v1/admin/public-page-key/rotate", json!({}))
            .await;
        assert_eq!(st, 200, "{view}");
        let new = public_key(&s).await;
        assert_ne!(new, old);
        assert!(
            !view.to_string().contains(&new),
            "the answer names the key by id"
        );
        assert_eq!(post_report(&s, "json", &old, None).await.0, 403);
        assert_eq!(post_report(&s, "json", &new, None).await.0, 200);
        let (st, page) = s
            .get(
                &admin,
                "/api/v1/admin/audit?entity=public_page_key&limit=50",
            )
            .await;
        assert_eq!(st, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        let rotate = items
            .iter()
            .find(|r| r["action"] == "rotate")
            .unwrap_or_else(|| panic!("{page}"));
        assert!(rotate["actor_id"].is_string());
        assert!(
            !page.to_string().contains(&new),
            "no key text in the audit log"
        );
        // The key survives a restart (it is stored, not made per process).
        s.kill9();
        let s = Server::spawn("serve", &db.url);
        assert_eq!(public_key(&s).await, new);
    }
}

async fn login(s: &Server, user: &str, password: &str, xff: Option<&str>) -> u16 {
    let mut rb = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}));
    if let Some(x) = xff {
        rb = rb.header("X-Forwarded-For", x);
    }
    rb.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_for_one_account_never_lock_another_accounts_right_password_from_that_address() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        // 35 failures for the dispatcher and for usernames that do not exist, from one
        // address (an office, or every user behind one reverse proxy).
        for i in 0..35 {
            let user = if i % 2 == 0 {
                "dispatcher"
            } else {
                "nobody-here"
            };
            let st = login(&s, user, "wrong", None).await;
            assert!(st == 401 || st == 429, "{st}");
        }
        assert_eq!(
            login(&s, "supervisor", "demo", None).await,
            200,
            "another account's right password from the same address"
        );
        assert_eq!(
            login(&s, "dispatcher", "demo", None).await,
            429,
            "the guessed account is throttled from this address"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_throttle_uses_the_forwarded_address_only_from_a_trusted_proxy() {
    let db = TestDb::sqlite().await;
    let s = Server::spawn_env(
        "demo",
        &db.url,
        &[("CITYLOOP_TRUSTED_PROXIES", "127.0.0.1")],
    );
    for _ in 0..6 {
        login(&s, "dispatcher", "wrong", Some("203.0.113.20")).await;
    }
    assert_eq!(
        login(&s, "dispatcher", "demo", Some("203.0.113.20")).await,
        429
    );
    assert_eq!(
        login(&s, "dispatcher", "demo", Some("203.0.113.21")).await,
        200,
        "the same user from another client behind the proxy"
    );
    drop(s);
    // Without the setting the header is ignored: the socket peer is the client.
    let db = TestDb::sqlite().await;
    let s = Server::spawn("demo", &db.url);
    for i in 0..6 {
        login(&s, "dispatcher", "wrong", Some(&format!("203.0.113.{i}"))).await;
    }
    assert_eq!(
        login(&s, "dispatcher", "demo", Some("198.51.100.9")).await,
        429
    );
}

const SECRET: &str = "receiver-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_to_private_addresses_are_refused_when_saved_and_when_delivered() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        let admin = s.login("admin").await;
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.10/hook",
            "http://172.20.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[fe80::1]/hook",
            "http://[fd00::5]/hook",
            "http://224.0.0.1/",
        ] {
            let (st, e) = s
                .post(
                    &admin,
                    "/api/v1/admin/webhooks",
                    json!({"url": url, "secret": SECRET, "event_types": ["case.created"]}),
                )
                .await;
            assert_eq!(
                (st, e["error"]["field"].as_str()),
                (422, Some("url")),
                "{url}: {e}"
            );
        }
        let (st, sub) = s
            .post(
                &admin,
                "/api/v1/admin/webhooks",
                json!({"url": "https://hooks.example.cn/x", "secret": SECRET, "event_types": ["case.created"]}),
            )
            .await;
        assert_eq!(st, 201, "a public receiver is accepted: {sub}");
        let id = sub["id"].as_str().unwrap();
        let r = s
            .http
            .patch(s.url(&format!("/api/v1/admin/webhooks/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"url": "http://127.0.0.1/x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["field"], "url", "{e}");
        drop(s);

        // Saved while the operator allowed private receivers; delivered after the
        // setting is off again: each delivery checks the address it connects to, a
        // literal one and one a name resolves to.
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        {
            let hits = hits.clone();
            let app = axum::Router::new().fallback(move || {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { "ok" }
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        let mut s = Server::spawn_env(
            "serve",
            &db.url,
            &[
                ("CITYLOOP_WEBHOOK_ALLOW_PRIVATE", "true"),
                ("CITYLOOP_WEBHOOK_POLL", "1h"),
            ],
        );
        let admin = s.login("admin").await;
        let mut subs = Vec::new();
        for url in [
            format!("http://127.0.0.1:{port}/literal"),
            format!("http://localhost:{port}/by-name"),
        ] {
            let (st, sub) = s
                .post(
                    &admin,
                    "/api/v1/admin/webhooks",
                    json!({"url": url, "secret": SECRET, "event_types": ["case.created"]}),
                )
                .await;
            assert_eq!(st, 201, "{sub}");
            subs.push(sub["id"].as_str().unwrap().to_owned());
        }
        s.kill9();
        let s = Server::spawn_env(
            "serve",
            &db.url,
            &[
                ("CITYLOOP_WEBHOOK_POLL", "100ms"),
                ("CITYLOOP_WEBHOOK_BACKOFF", "1h"),
            ],
        );
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
        let admin = s.login("admin").await;
        for id in &subs {
            let path = format!("/api/v1/admin/webhooks/{id}/deliveries");
            let mut last = Value::Null;
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(30) {
                let (_, d) = s.get(&admin, &path).await;
                last = d;
                if last[0]["attempts"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let err = last[0]["attempts"][0]["error"].as_str().unwrap_or("");
            assert!(err.contains("refused"), "{id}: {last}");
        }
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing reached the private receiver"
        );
    }
}

// ---- connection limits ---------------------------------------------------------------

fn connect(s: &Server) -> TcpStream {
    let tcp = TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    tcp
}

/// Reads until the server closes the socket; true if it did (not a read timeout).
fn closed_by_server(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// A demo server on a fresh SQLite file (the folder lives as long as the server).
fn demo_on_sqlite(env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db").display().to_string();
    let s = Server::spawn_env("demo", &db, env);
    (dir, s)
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let (_dir, s) = demo_on_sqlite(&[
        ("CITYLOOP_IDLE_TIMEOUT", "1s"),
        ("CITYLOOP_HEADER_READ_TIMEOUT", "20s"),
    ]);
    // Never sends a byte.
    let mut silent = connect(&s);
    let t = Instant::now();
    assert!(closed_by_server(&mut silent), "closed, not left open");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    // Idle between keep-alive requests: the first request is answered, then closed.
    let mut tcp = connect(&s);
    let addr = s.base.trim_start_matches("http://").to_owned();
    tcp.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut first = [0u8; 12];
    tcp.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(closed_by_server(&mut tcp));
}

#[test]
fn a_trickled_header_is_closed_after_the_header_read_timeout() {
    let (_dir, s) = demo_on_sqlite(&[
        ("CITYLOOP_IDLE_TIMEOUT", "60s"),
        ("CITYLOOP_HEADER_READ_TIMEOUT", "1s"),
    ]);
    let mut tcp = connect(&s);
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let t = Instant::now();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").unwrap();
    let mut closed = false;
    let mut buf = [0u8; 256];
    // One byte every 200 ms, for at most 20 s.
    while t.elapsed() < Duration::from_secs(20) {
        if tcp.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        match tcp.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(closed, "the trickling client was cut off");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_idle_sockets_are_shed_for_a_fresh_client() {
    let (_dir, s) = demo_on_sqlite(&[
        ("CITYLOOP_MAX_CONNECTIONS", "4"),
        ("CITYLOOP_IDLE_TIMEOUT", "120s"),
        ("CITYLOOP_HEADER_READ_TIMEOUT", "120s"),
    ]);
    // Cap + 3 idle sockets, far from their idle timeout.
    let mut idle: Vec<TcpStream> = (0..7).map(|_| connect(&s)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "a fresh client is answered");
    // The idle sockets that made room were closed by the server.
    let mut shed = 0;
    for tcp in &mut idle {
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!(tcp.read(&mut b), Ok(0)) {
            shed += 1;
        }
    }
    assert!(shed >= 4, "{shed} of 7 idle sockets shed");
}
