//! PostgreSQL failover under load (issue 14, items 4–5): a three-node Patroni cluster
//! with a synchronous standby (`scripts/patroni-cluster`), cityloop reaching the leader
//! through HAProxy, concurrent Open311 intake with idempotency keys, and five times
//! `kill -9` of the leader's postmaster. After each kill Patroni promotes the synchronous
//! standby and cityloop reconnects by itself; at the end every acknowledged case is on the
//! leader exactly once and nothing else is, and the downtime clients saw is printed.
//!
//! Needs Debian's patroni, etcd-server, etcd-client and haproxy and PostgreSQL 15; without
//! them the test says SKIPPED, unless `CITYLOOP_REQUIRE_PG=1` (CI), where it fails.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const ROUNDS: usize = 5;
const WRITERS: usize = 8;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/patroni-cluster")
}

/// The tools the cluster needs, or the first one missing.
fn missing_tool() -> Option<String> {
    for tool in ["patroni", "patronictl", "etcd", "haproxy"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false);
        if !found {
            return Some(tool.into());
        }
    }
    let pg = Path::new(PG_BIN).join("postgres");
    (!pg.is_file()).then(|| pg.display().to_string())
}

/// A running cluster; stopped (every process it started, by pid) when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("pc")
            .tempdir_in("/tmp")
            .expect("cluster dir");
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/patroni-cluster");
        if !out.status.success() {
            // Stop whatever did start before failing.
            let _ = Command::new(script()).arg("stop").arg(dir.path()).output();
            panic!(
                "scripts/patroni-cluster start failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = std::fs::read_to_string(dir.path().join("cluster.env")).expect("cluster.env");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        Cluster { dir, env }
    }

    fn run(&self, cmd: &str) -> String {
        let out = Command::new(script())
            .arg(cmd)
            .arg(self.dir.path())
            .output()
            .expect("run scripts/patroni-cluster");
        assert!(
            out.status.success(),
            "scripts/patroni-cluster {cmd}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `postgres://…@haproxy/<db>`: the leader, whichever node it is.
    fn url(&self, db: &str) -> String {
        let base = &self.env["CLUSTER_URL"];
        format!("{}/{db}", base.rsplit_once('/').expect("url with a path").0)
    }

    /// Runs SQL on the leader with psql; rows as `|`-separated lines.
    fn psql(&self, db: &str, sql: &str) -> Vec<String> {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", &self.url(db), "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// What the writers saw.
#[derive(Default)]
struct Log {
    /// Idempotency key → the case number the server acknowledged.
    acked: HashMap<String, String>,
    /// When each acknowledgement arrived.
    ack_times: Vec<Instant>,
    /// Answers that were not 2xx (the client then retried the same key).
    unavailable: usize,
    transport_errors: usize,
    other: Vec<String>,
    /// The longest single request, first byte to answer (server-side retries included).
    slowest: Duration,
}

/// One client: reports with a fresh key each time; retries a key until it is answered
/// (a 503 or a dropped connection says nothing about whether it was stored).
async fn writer(s: Arc<Server>, n: usize, stop: Arc<AtomicBool>, log: Arc<Mutex<Log>>) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("client");
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("failover-w{n}-{i}");
        let desc = format!("故障切换测试 w{n} #{i}");
        loop {
            let started = Instant::now();
            let r = http
                .post(s.url("/open311/v2/requests.json"))
                .header("Idempotency-Key", &key)
                .form(&[
                    ("api_key", "demo-key"),
                    ("service_code", "01001"),
                    ("lat", "34.7238"),
                    ("long", "113.6395"),
                    ("description", desc.as_str()),
                    ("attribute[cover_state]", "missing"),
                    ("attribute[severity]", "urgent"),
                ])
                .send()
                .await;
            let took = started.elapsed();
            {
                let mut l = log.lock().expect("log");
                l.slowest = l.slowest.max(took);
            }
            let outcome = match r {
                Ok(r) if r.status().is_success() => {
                    let body: Value = r.json().await.expect("json answer");
                    Outcome::Acked(
                        body[0]["service_request_id"]
                            .as_str()
                            .expect("service_request_id")
                            .to_owned(),
                    )
                }
                Ok(r) if r.status().as_u16() == 503 => Outcome::Unavailable,
                Ok(r) => {
                    let st = r.status();
                    Outcome::Other(format!(
                        "{st} for {key}: {}",
                        r.text().await.unwrap_or_default()
                    ))
                }
                Err(_) => Outcome::Transport,
            };
            let retry = {
                let mut l = log.lock().expect("log");
                match outcome {
                    Outcome::Acked(id) => {
                        if let Some(prev) = l.acked.insert(key.clone(), id.clone()) {
                            assert_eq!(prev, id, "key {key} acknowledged as two cases");
                        }
                        l.ack_times.push(Instant::now());
                        false
                    }
                    Outcome::Unavailable => {
                        l.unavailable += 1;
                        true
                    }
                    Outcome::Transport => {
                        l.transport_errors += 1;
                        true
                    }
                    Outcome::Other(m) => {
                        l.other.push(m);
                        false
                    }
                }
            };
            if !retry {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

enum Outcome {
    Acked(String),
    Unavailable,
    Transport,
    Other(String),
}

/// The longest time without any acknowledgement in `[from, to]`.
fn longest_gap(times: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut inside: Vec<Instant> = times
        .iter()
        .copied()
        .filter(|t| *t >= from && *t <= to)
        .collect();
    inside.sort();
    let mut gap = Duration::ZERO;
    let mut last = from;
    for t in inside {
        gap = gap.max(t - last);
        last = t;
    }
    gap.max(to.saturating_duration_since(last))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_five_times_loses_and_doubles_no_acknowledged_case() {
    if let Some(tool) = missing_tool() {
        if std::env::var("CITYLOOP_REQUIRE_PG").as_deref() == Ok("1") {
            panic!("CITYLOOP_REQUIRE_PG=1 but {tool} is not installed (apt-get install patroni etcd-server etcd-client haproxy)");
        }
        eprintln!("SKIPPED failover test: {tool} is not installed (apt-get install patroni etcd-server etcd-client haproxy)");
        return;
    }
    let t0 = Instant::now();
    let cluster = Cluster::start();
    eprintln!("cluster up in {:.1?}", t0.elapsed());
    cluster.psql("postgres", "CREATE DATABASE cityloop");
    // The server's retry warnings during each failover would bury the test's own output.
    let server = Arc::new(Server::spawn_env(
        "demo",
        &cluster.url("cityloop"),
        &[
            ("CITYLOOP_LOG", "error"),
            // Thousands of reports from one test address: the intake limits would answer 429.
            ("CITYLOOP_OPEN311_RATE_PER_ADDRESS", "off"),
            ("CITYLOOP_OPEN311_RATE_PER_KEY", "off"),
        ],
    ));
    let before: usize = cluster.psql("cityloop", "SELECT count(*) FROM cases")[0]
        .parse()
        .expect("count");

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Log::default()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| tokio::spawn(writer(server.clone(), n, stop.clone(), log.clone())))
        .collect();

    let mut kills = Vec::new();
    for round in 1..=ROUNDS {
        cluster.run("wait");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let acked_before = log.lock().expect("log").acked.len();
        assert!(
            round == 1 || acked_before > 0,
            "no intake was acknowledged before round {round}"
        );
        let killed = cluster.run("kill-leader");
        let at = Instant::now();
        // Intake must resume by itself: acknowledgements after the kill.
        let deadline = at + Duration::from_secs(60);
        loop {
            let resumed = log
                .lock()
                .expect("log")
                .ack_times
                .iter()
                .filter(|t| **t > at + Duration::from_millis(10))
                .count();
            if resumed >= WRITERS {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: intake did not resume within 60 s after killing {killed}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let leader = cluster.run("leader");
        eprintln!("round {round}: killed {killed}; new leader {leader}");
        kills.push((round, killed, leader, at));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    let end = Instant::now();

    // Every acknowledged case is on the leader, once; and no case is there that no client
    // was answered for (each key was retried until answered).
    let log = log.lock().expect("log");
    assert!(log.other.is_empty(), "unexpected answers: {:?}", log.other);
    let rows = cluster.psql(
        "cityloop",
        "SELECT i.key, c.number FROM idempotency i JOIN cases c ON c.id = i.case_id
         WHERE i.scope LIKE 'open311:%' AND i.key LIKE 'key:failover-%'",
    );
    let stored: HashMap<String, String> = rows
        .iter()
        .filter_map(|r| r.split_once('|'))
        .map(|(k, n)| (k.trim_start_matches("key:").to_owned(), n.to_owned()))
        .collect();
    let mut lost = Vec::new();
    for (key, number) in &log.acked {
        match stored.get(key) {
            Some(n) if n == number => {}
            other => lost.push(format!("{key}: acknowledged {number}, stored {other:?}")),
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged cases lost or changed: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let numbers = cluster.psql("cityloop", "SELECT number FROM cases");
    let distinct: HashSet<&String> = numbers.iter().collect();
    assert_eq!(distinct.len(), numbers.len(), "a case number twice");
    assert_eq!(
        numbers.len(),
        before + log.acked.len(),
        "cases on the leader besides the {} acknowledged ones (a write stored twice?)",
        log.acked.len()
    );

    eprintln!(
        "failover: {} cases acknowledged by {WRITERS} clients over {ROUNDS} leader kills in {:.1?}; \
         every one on the leader once; clients saw {} × 503 and {} transport errors; slowest request {:.1?}",
        log.acked.len(),
        end - t0,
        log.unavailable,
        log.transport_errors,
        log.slowest
    );
    for (i, (round, killed, leader, at)) in kills.iter().enumerate() {
        let until = kills.get(i + 1).map_or(end, |k| k.3);
        let gap = longest_gap(&log.ack_times, *at, until);
        eprintln!("failover round {round}: kill -9 {killed} → leader {leader}: downtime seen by clients {gap:.1?} (longest time without an acknowledged case)");
    }
    drop(server);
}
