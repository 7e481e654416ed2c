//! Browser test of the leaders' view (issue 17 item 5): spawns `cityloop demo` WITH its
//! sample history on a fresh SQLite file and runs `node e2e/leaders.mjs BASE_URL` (headless
//! Chromium through playwright-core): at 1920×1080 every panel shows demo data, a reported
//! case shows in today's count within one refresh (`?refresh=5`), and with the network cut
//! the figures stay with a 网络中断 notice; 1440×900 and 390×844 have no sideways scroll.
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::time::Duration;

use common::{browser_or_skip, run_e2e, Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_view_works_in_a_browser() {
    let Some(chromium) = browser_or_skip("browser leaders test") else {
        return;
    };
    let db = TestDb::sqlite().await;
    // With the sample history: the one suite that wants it.
    let server = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_EMPTY", "false")]);
    run_e2e("leaders.mjs", &server.base, &chromium, &[], LIMIT).await;
}
