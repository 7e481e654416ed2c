//! Browser test of the monitoring pages (issue 19): spawns `cityloop demo` on a fresh SQLite
//! file, sends the demo's sample episode with `cityloop sensors replay-demo --url`, and runs
//! `node e2e/sensors.mjs BASE_URL` (headless Chromium through playwright-core): both demo
//! sites labelled 演示, the building site's PM10 chart with its alarm and clear lines and the
//! episode's case, the devices by health, the chart on the case page, at 1440×900 and 390×844.
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::time::Duration;

use common::{browser_or_skip, run_e2e, Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_page_shows_the_demo_episode_chart_in_a_browser() {
    let Some(chromium) = browser_or_skip("browser sensors test") else {
        return;
    };
    let db = TestDb::sqlite().await;
    let server = Server::spawn("demo", &db.url);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cityloop"))
        .args(["sensors", "replay-demo", "--url", &server.base])
        .output()
        .expect("cityloop sensors replay-demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("sent 480 demo readings") && text.contains("cleared 1"),
        "{text}"
    );
    run_e2e("sensors.mjs", &server.base, &chromium, &[], LIMIT).await;
}
