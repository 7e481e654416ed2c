//! Browser tests of the web UI: spawns `cityloop demo` on a fresh SQLite file and runs
//! `node e2e/run.mjs BASE_URL` (headless Debian Chromium through playwright-core), which
//! plays the citizen and every staff role through the closed loop and saves screenshots
//! to `test-artifacts/screenshots/`.
//!
//! Needs `node`, `e2e/node_modules` (`npm ci` in `e2e/`) and Chromium at `/usr/bin/chromium`
//! (or `CITYLOOP_CHROMIUM`). When one is missing the test says SKIPPED and passes, unless
//! `CITYLOOP_REQUIRE_BROWSER=1`, when it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cityloop_service::media::samples;
use common::{Server, TestDb};

/// The whole browser run may take this long before it is killed.
const LIMIT: Duration = Duration::from_secs(600);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is missing to run the browser tests, in words.
fn missing(root: &Path, chromium: &str) -> Vec<String> {
    let mut out = Vec::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        out.push("node is not on PATH (apt-get install nodejs)".to_owned());
    }
    if !root.join("e2e/node_modules/playwright-core").is_dir() {
        out.push("e2e/node_modules is missing (cd e2e && npm ci)".to_owned());
    }
    if !Path::new(chromium).exists() {
        out.push(format!("{chromium} is missing (apt-get install chromium)"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_works_in_a_browser() {
    let root = workspace();
    let chromium =
        std::env::var("CITYLOOP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let gaps = missing(&root, &chromium);
    if !gaps.is_empty() {
        let why = gaps.join("; ");
        assert!(
            std::env::var("CITYLOOP_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "CITYLOOP_REQUIRE_BROWSER=1 but the browser tests cannot run: {why}"
        );
        eprintln!("SKIPPED browser tests: {why}");
        return;
    }

    let db = TestDb::sqlite().await;
    // The log channel's file, where the 我的反映 scenario reads its one-time code.
    let messages = tempfile::tempdir().expect("message log folder");
    let message_log = messages.path().join("messages.log");
    let server = Server::spawn_env(
        "demo",
        &db.url,
        &[(
            "CITYLOOP_MESSAGE_LOG",
            message_log.to_str().expect("a UTF-8 temp path"),
        )],
    );
    // Real photo files for the pickers: a phone-like JPEG with EXIF GPS, a PNG, another
    // JPEG, and a text file named .jpg that the server must refuse.
    let photos = tempfile::tempdir().expect("photo folder");
    let files: [(&str, Vec<u8>); 4] = [
        (
            "before.jpg",
            samples::jpeg(480, 360, Some((34.7503, 113.6615))),
        ),
        ("after.png", samples::png(480, 360, None)),
        ("after2.jpg", samples::jpeg(360, 480, None)),
        ("not-a-photo.jpg", "这不是照片".repeat(40).into_bytes()),
    ];
    for (name, bytes) in files {
        std::fs::write(photos.path().join(name), bytes).expect("write a photo");
    }
    // The overdue board on a server whose clock runs ahead: cases reported at real time,
    // then the server restarted three days later (`--clock-offset`), so they are late.
    let late_db = TestDb::sqlite().await;
    {
        let early = Server::spawn("demo", &late_db.url);
        let (ins, op, dis) = (
            early.login("inspector").await,
            early.login("operator").await,
            early.login("dispatcher").await,
        );
        let spots = [
            ("06001", "二七广场附近私搭棚子", 34.7540, 113.6560),
            ("07001", "电线杆上贴满小广告", 34.7480, 113.6480),
            ("09001", "人行道有流动摊贩占道", 34.7400, 113.6550),
            ("03001", "公厕洗手池损坏", 34.7300, 113.6300),
        ];
        for (i, (category, description, lat, lon)) in spots.into_iter().enumerate() {
            let (st, c) = early
                .post(
                    &ins,
                    "/api/v1/cases",
                    serde_json::json!({"source": "inspector", "category": category,
                        "description": description, "lat": lat, "lon": lon}),
                )
                .await;
            assert_eq!(st, 201, "{c}");
            let act = |tok: &str, c: &serde_json::Value, body: serde_json::Value| {
                let mut body = body;
                body["version"] = c["version"].clone();
                let path = format!("/api/v1/cases/{}/actions", c["id"].as_str().unwrap_or(""));
                let tok = tok.to_owned();
                let early = &early;
                async move {
                    let (st, c) = early.post(&tok, &path, body).await;
                    assert_eq!(st, 200, "{c}");
                    c
                }
            };
            if i == 0 {
                continue; // left waiting for acceptance
            }
            let c = act(&op, &c, serde_json::json!({"action": "accept"})).await;
            if i == 1 {
                continue; // to register
            }
            let c = act(&op, &c, serde_json::json!({"action": "register"})).await;
            if i == 2 {
                continue; // to dispatch
            }
            let unit = c["suggested_unit"]["id"].clone();
            act(
                &dis,
                &c,
                serde_json::json!({"action": "dispatch", "unit_id": unit}),
            )
            .await;
        }
    }
    let late = Server::spawn_env(
        "demo",
        &late_db.url,
        // Its first scheduler pass waits: the live-inbox scenario runs it with SIGUSR1
        // while consoles are open and sees the escalations arrive.
        &[
            ("CITYLOOP_DEMO_CLOCK_OFFSET", "3d"),
            ("CITYLOOP_SCHEDULER_DELAY_SECS", "86400"),
        ],
    );

    let mut child = Command::new("node")
        .arg(root.join("e2e/run.mjs"))
        .arg(&server.base)
        .current_dir(&root)
        .env("CITYLOOP_CHROMIUM", &chromium)
        .env("CITYLOOP_E2E_PHOTOS", photos.path())
        .env("CITYLOOP_E2E_LATE_BASE", &late.base)
        .env("CITYLOOP_E2E_LATE_PID", late.child.id().to_string())
        .env("CITYLOOP_E2E_MESSAGE_LOG", &message_log)
        .stdin(Stdio::null())
        .spawn()
        .expect("start node e2e/run.mjs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("browser tests took longer than {LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(server);
    drop(late);
    assert!(
        status.success(),
        "browser tests failed ({status}); screenshots in test-artifacts/screenshots/"
    );
}
