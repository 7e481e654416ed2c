//! Browser tests of the maps (issue 17): spawns `cityloop demo` on a fresh SQLite file and
//! runs `node e2e/maps.mjs BASE_URL` (headless Chromium through playwright-core): the public
//! page on a phone places a pin by address search and by locating, the console map draws
//! named roads with no tile source, and with a GCJ-02 tile source a click at a known GCJ-02
//! position stores the published WGS84 point (within 1 m).
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{browser_or_skip, run_e2e, workspace, Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

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
    let Some(chromium) = browser_or_skip("browser map tests") else {
        return;
    };
    let (gcj, wgs) = known_pair();
    let db = TestDb::sqlite().await;
    let server = Server::spawn("demo", &db.url);
    run_e2e(
        "maps.mjs",
        &server.base,
        &chromium,
        &[
            ("CITYLOOP_E2E_GCJ_LON", gcj[0].to_string()),
            ("CITYLOOP_E2E_GCJ_LAT", gcj[1].to_string()),
            ("CITYLOOP_E2E_WGS_LON", wgs[0].to_string()),
            ("CITYLOOP_E2E_WGS_LAT", wgs[1].to_string()),
        ],
        LIMIT,
    )
    .await;
}
