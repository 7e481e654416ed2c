//! Outgoing webhooks against each store, delivered over real HTTP to receivers started
//! inside the test (axum on a random port), with the service's clock driven by the test:
//! signatures verify with the secret, failures are retried on the schedule and end as a
//! dead letter that can be redelivered, a receiver that was down gets each delivery once,
//! and a red escalation sends exactly one webhook across a restart.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use cityloop_domain::case::Contact;
use cityloop_domain::model::{Actor, ActorRole, CategoryCode, Priority, Role, Source};
use cityloop_domain::workflow::{Action, Command};
use cityloop_service::cases::ReportInput;
use cityloop_service::demo::load_demo;
use cityloop_service::webhooks::{headers, verify, WebhookConfig, WebhookInput, WebhookSender};
use cityloop_service::{ServiceError, Services};
use cityloop_store::testing::TestDb;
use cityloop_store::webhooks::status;
use serde_json::Value;

const SECRET: &str = "s3cret-for-tests-0123";

fn clock(at: Arc<Mutex<DateTime<Utc>>>) -> cityloop_service::Clock {
    Arc::new(move || *at.lock().unwrap())
}

fn staff(role: Role) -> Actor {
    Actor {
        person_id: None,
        role: ActorRole::Staff(role),
        unit_id: None,
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    headers: HashMap<String, String>,
    body: Bytes,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on a real socket: answers 500 to the first `fail_first` requests,
/// then 204, and records every request it answered.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    failed: Arc<AtomicUsize>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Receiver, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (Self::serve(listener, fail_first), addr)
    }

    fn serve(listener: tokio::net::TcpListener, fail_first: usize) -> Receiver {
        let r = Receiver {
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
            ..Receiver::default()
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, h: HeaderMap, body: Bytes) -> StatusCode {
    if r.failed.load(Ordering::SeqCst) < r.fail_first.load(Ordering::SeqCst) {
        r.failed.fetch_add(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let headers = h
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    r.got.lock().unwrap().push(Got { headers, body });
    StatusCode::NO_CONTENT
}

fn sender(backoff: &[i64]) -> WebhookSender {
    WebhookSender::new(WebhookConfig {
        backoff: backoff
            .iter()
            .map(|m| StdDuration::from_secs(*m as u64 * 60))
            .collect(),
        timeout: StdDuration::from_secs(5),
        batch: 50,
        // The receivers of these tests listen on 127.0.0.1.
        allow_private: true,
    })
    .unwrap()
}

struct World {
    svc: Services,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl World {
    async fn new(db: &TestDb) -> World {
        load_demo(&db.store).await.unwrap();
        // Monday 2026-11-23 09:00 Beijing time.
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap(),
        ));
        let svc = Services::load(db.store.clone())
            .await
            .unwrap()
            .with_clock(clock(now.clone()))
            .with_webhook_allow_private(true);
        World { svc, now }
    }

    fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    async fn subscribe(&self, addr: SocketAddr, types: &[&str]) -> uuid::Uuid {
        self.svc
            .create_webhook(
                &staff(Role::Admin),
                WebhookInput {
                    url: Some(format!("http://{addr}/hook")),
                    secret: Some(SECRET.into()),
                    event_types: Some(types.iter().map(|s| s.to_string()).collect()),
                    ..WebhookInput::default()
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn report(&self, source: Source) -> cityloop_domain::case::Case {
        let role = if source == Source::Inspector {
            Role::Inspector
        } else {
            Role::Operator
        };
        self.svc
            .report_case(
                &staff(role),
                ReportInput {
                    source,
                    priority: Priority::Normal,
                    category: CategoryCode::parse_service_code("06010").unwrap(),
                    area_grade: None,
                    description: "德化街暴露垃圾".into(),
                    lon: 113.64,
                    lat: 34.73,
                    address: None,
                    reporter: Contact {
                        name: Some("李女士".into()),
                        phone: Some("13800000000".into()),
                        ..Contact::default()
                    },
                    media: vec![],
                    external_ref: None,
                },
            )
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_with_the_secret_and_carry_no_contact_details() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let w = World::new(&db).await;
        let (rx, addr) = Receiver::start(0).await;
        let sub = w
            .subscribe(addr, &["case.created", "case.state_changed"])
            .await;
        let case = w.report(Source::Hotline12345).await;
        w.svc
            .act(
                &staff(Role::Operator),
                case.id,
                Action::Accept,
                Command::default(),
                Some(1),
            )
            .await
            .unwrap();
        let pass = w.svc.deliver_webhooks(&sender(&[1])).await.unwrap();
        assert_eq!(pass.delivered, 2, "{pass:?}");
        let got = rx.got();
        assert_eq!(got.len(), 2);
        let ids: Vec<String> = w
            .svc
            .store
            .webhook_deliveries(sub, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id.to_string())
            .collect();
        for g in &got {
            let ts = g.header(headers::TIMESTAMP);
            let sig = g.header(headers::SIGNATURE);
            assert!(verify(SECRET, ts, &g.body, sig), "signature verifies");
            assert!(!verify("another-secret-0123456", ts, &g.body, sig));
            assert!(!verify(SECRET, ts, b"{\"forged\":true}", sig));
            assert_eq!(
                ts.parse::<i64>().unwrap(),
                w.svc.now().timestamp(),
                "timestamp is the send time"
            );
            assert!(ids.contains(&g.header(headers::DELIVERY).to_owned()));
            assert_eq!(g.header("content-type"), "application/json");
            let body = g.json();
            assert_eq!(body["type"], g.header(headers::EVENT));
            assert_eq!(body["case"]["number"], case.number.as_str());
            let text = String::from_utf8_lossy(&g.body);
            assert!(
                !text.contains("13800000000") && !text.contains("李女士"),
                "{text}"
            );
        }
        // Deliveries run concurrently: order is not guaranteed (receivers use `event.seq`).
        let of = |t: &str| got.iter().map(Got::json).find(|b| b["type"] == t).unwrap();
        assert_eq!(of("case.created")["case"]["state"], "received");
        let changed = of("case.state_changed");
        assert_eq!(changed["type"], "case.state_changed");
        assert_eq!(changed["event"]["action"], "accept");
        assert_eq!(changed["event"]["from_state"], "received");
        assert_eq!(changed["event"]["to_state"], "to_verify");
        assert_eq!(changed["event"]["actor"]["role"], "operator");
        // Only admins manage subscriptions.
        let e = w
            .svc
            .list_webhooks(&staff(Role::Supervisor))
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");
        // An inactive subscription gets no new deliveries.
        w.svc
            .update_webhook(
                &staff(Role::Admin),
                sub,
                WebhookInput {
                    active: Some(false),
                    ..WebhookInput::default()
                },
            )
            .await
            .unwrap();
        w.report(Source::Inspector).await;
        assert_eq!(
            w.svc
                .store
                .webhook_deliveries(sub, None, 10)
                .await
                .unwrap()
                .len(),
            2
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_retries_on_schedule_then_a_dead_letter_that_can_be_redelivered() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let w = World::new(&db).await;
        // Recovers after two failures: delivered on the third attempt.
        let (flaky, flaky_addr) = Receiver::start(2).await;
        // Fails more often than the schedule allows.
        let (down, down_addr) = Receiver::start(3).await;
        let flaky_sub = w.subscribe(flaky_addr, &["case.created"]).await;
        let down_sub = w.subscribe(down_addr, &["case.created"]).await;
        w.report(Source::Inspector).await;
        let s = sender(&[1, 5]);

        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!((p.delivered, p.retried, p.dead), (0, 2, 0));
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!(p, Default::default(), "nothing is due before the backoff");
        w.advance(Duration::seconds(59));
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!(p, Default::default(), "the first retry waits a minute");
        w.advance(Duration::seconds(1));
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!((p.delivered, p.retried, p.dead), (0, 2, 0));
        w.advance(Duration::minutes(5));
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!((p.delivered, p.retried, p.dead), (1, 0, 1));
        w.advance(Duration::hours(24));
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!(p, Default::default(), "delivered and dead are final");

        assert_eq!(flaky.got().len(), 1);
        let d = w
            .svc
            .store
            .webhook_deliveries(flaky_sub, None, 10)
            .await
            .unwrap();
        assert_eq!(d[0].status, status::DELIVERED);
        let codes: Vec<_> = w
            .svc
            .store
            .webhook_attempts(d[0].id)
            .await
            .unwrap()
            .iter()
            .map(|a| a.status_code)
            .collect();
        assert_eq!(codes, [Some(500), Some(500), Some(204)]);

        let records = w
            .svc
            .webhook_deliveries(&staff(Role::Admin), down_sub, Some("dead"), 10)
            .await
            .unwrap();
        assert_eq!(records.len(), 1, "one dead letter");
        let dead = &records[0];
        assert_eq!(dead.attempts.len(), 3, "1 + two retries");
        assert!(dead.attempts.iter().all(|a| a.status_code == Some(500)));
        assert!(down.got().is_empty());
        // Only dead letters are redelivered.
        let e = w
            .svc
            .redeliver_webhook(&staff(Role::Admin), flaky_sub, d[0].id)
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Conflict(_)), "{e}");
        // The receiver is fixed; the dead letter goes again with the same delivery id.
        w.svc
            .redeliver_webhook(&staff(Role::Admin), down_sub, dead.delivery.id)
            .await
            .unwrap();
        down.fail_first.store(0, Ordering::SeqCst);
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!(p.delivered, 1);
        let got = down.got();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].header(headers::DELIVERY),
            dead.delivery.id.to_string()
        );
        let after = w
            .svc
            .webhook_deliveries(&staff(Role::Admin), down_sub, None, 10)
            .await
            .unwrap();
        assert_eq!(after[0].delivery.status, status::DELIVERED);
        assert_eq!(
            after[0].attempts.len(),
            4,
            "history kept across the redelivery"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_then_up_gets_each_delivery_exactly_once() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let w = World::new(&db).await;
        // Reserve a port, then close it: connections are refused until the receiver starts.
        let addr = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        w.subscribe(addr, &["case.created"]).await;
        for _ in 0..3 {
            w.report(Source::Inspector).await;
        }
        let s = sender(&[1, 5, 30]);
        let p = w.svc.deliver_webhooks(&s).await.unwrap();
        assert_eq!((p.delivered, p.retried), (0, 3), "the receiver is down");
        let rx = Receiver::serve(tokio::net::TcpListener::bind(addr).await.unwrap(), 0);
        for _ in 0..4 {
            w.advance(Duration::minutes(31));
            w.svc.deliver_webhooks(&s).await.unwrap();
        }
        let got = rx.got();
        let mut ids: Vec<&str> = got.iter().map(|g| g.header(headers::DELIVERY)).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "each delivery id once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_escalation_sends_exactly_one_webhook_across_a_restart() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let w = World::new(&db).await;
        let (rx, addr) = Receiver::start(0).await;
        w.subscribe(addr, &["escalation.red"]).await;
        let case = w.report(Source::Inspector).await;
        let s = sender(&[1]);
        // The accept limit is 1 working hour; the next day the case is red.
        w.advance(Duration::days(1));
        assert_eq!(w.svc.escalate_due().await.unwrap(), 2, "yellow and red");
        assert_eq!(w.svc.escalate_due().await.unwrap(), 0);
        // A restart before the worker ran: the outbox survived, nothing fires again.
        let restarted = Services::load(db.store.clone())
            .await
            .unwrap()
            .with_clock(clock(w.now.clone()))
            .with_webhook_allow_private(true);
        assert_eq!(restarted.escalate_due().await.unwrap(), 0);
        let p = restarted.deliver_webhooks(&s).await.unwrap();
        assert_eq!(p.delivered, 1);
        w.advance(Duration::hours(1));
        assert_eq!(restarted.escalate_due().await.unwrap(), 0);
        assert_eq!(
            w.svc.deliver_webhooks(&s).await.unwrap(),
            Default::default()
        );
        assert_eq!(
            restarted.deliver_webhooks(&s).await.unwrap(),
            Default::default()
        );
        let got = rx.got();
        assert_eq!(got.len(), 1, "exactly one red webhook");
        let body = got[0].json();
        assert_eq!(body["type"], "escalation.red");
        assert_eq!(body["escalation"]["level"], "red");
        assert_eq!(body["escalation"]["stage"], "accept");
        assert_eq!(body["case"]["id"], case.id.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_losing_transition_queues_no_webhook() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let w = World::new(&db).await;
        let (_rx, addr) = Receiver::start(0).await;
        let sub = w.subscribe(addr, &["case.state_changed"]).await;
        let case = w.report(Source::Inspector).await;
        let operator = staff(Role::Operator);
        let accept = || {
            w.svc.act(
                &operator,
                case.id,
                Action::Accept,
                Command::default(),
                Some(1),
            )
        };
        let (a, b, c, d) = tokio::join!(accept(), accept(), accept(), accept());
        let wins = [&a, &b, &c, &d].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{a:?} {b:?} {c:?} {d:?}");
        let e = w
            .svc
            .act(
                &staff(Role::Inspector),
                case.id,
                Action::Register,
                Command::default(),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");
        let queued = w.svc.store.webhook_deliveries(sub, None, 50).await.unwrap();
        assert_eq!(queued.len(), 1, "one committed transition, one delivery");
        assert_eq!(queued[0].event_id, format!("case:{}:2", case.id));
    }
}
