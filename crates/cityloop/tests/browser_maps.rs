//! Browser tests of the maps (issue 17): spawns `cityloop demo` on a fresh SQLite file and
//! runs `node e2e/maps.mjs BASE_URL` (headless Chromium through playwright-core): the public
//! page on a phone places a pin by address search and by locating, the console map draws
//! named roads with no tile source, and with a GCJ-02 tile source a click at a known GCJ-02
//! position stores the published WGS84 point (within 1 m).
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first vertex of the 二七区 outline in GCJ-02 and in WGS84 (../shared/data/geo/):
/// `[lon, lat]` each.
fn known_pair() -> ([f64; 2], [f64; 2]) {
    let dir = match std::env::var_os("CITYLOOP_SHARED") {
        Some(p) => PathBuf::from(p),
        None => workspace().join("../shared"),
    };
    let first = |name: &str| -> [f64; 2] {
        let text = std::fs::read_to_string(dir.join("data/geo").join(name)).expect(name);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut c = &v["features"][0]["geometry"]["coordinates"];
        while c[0].is_array() {
            c = &c[0];
        }
        [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()]
    };
    (
        first("erqi_district.gcj02.geojson"),
        first("erqi_district.wgs84.geojson"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maps_work_in_a_browser() {
    let root = workspace();
    let chromium =
        std::env::var("CITYLOOP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && root.join("e2e/node_modules/playwright-core").is_dir()
        && Path::new(&chromium).exists();
    if !ready {
        assert!(
            std::env::var("CITYLOOP_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "CITYLOOP_REQUIRE_BROWSER=1 but node, e2e/node_modules or Chromium is missing"
        );
        eprintln!("SKIPPED browser map tests: node, e2e/node_modules or Chromium missing");
        return;
    }
    let (gcj, wgs) = known_pair();
    let db = TestDb::sqlite().await;
    let server = Server::spawn("demo", &db.url);
    let mut child = Command::new("node")
        .arg(root.join("e2e/maps.mjs"))
        .arg(&server.base)
        .current_dir(&root)
        .env("CITYLOOP_CHROMIUM", &chromium)
        .env("CITYLOOP_E2E_GCJ_LON", gcj[0].to_string())
        .env("CITYLOOP_E2E_GCJ_LAT", gcj[1].to_string())
        .env("CITYLOOP_E2E_WGS_LON", wgs[0].to_string())
        .env("CITYLOOP_E2E_WGS_LAT", wgs[1].to_string())
        .stdin(Stdio::null())
        .spawn()
        .expect("start node e2e/maps.mjs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("browser map tests took longer than {LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(server);
    assert!(status.success(), "browser map tests failed ({status})");
}
