//! Browser test of co-handling (主办/协办, issue 20 item 4): spawns `cityloop demo` on a
//! fresh SQLite file and runs `node e2e/cohandle.mjs BASE_URL` (headless Chromium through
//! playwright-core): a dispatcher adds an assisting unit with its task on the case page,
//! the assisting unit's handler finds the case in its queue on a phone and reports back,
//! and the lead's handler sees the assisting unit's state and clock.
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::time::Duration;

use common::{browser_or_skip, run_e2e, Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_adds_an_assisting_unit_in_a_browser() {
    let Some(chromium) = browser_or_skip("browser co-handling test") else {
        return;
    };
    let db = TestDb::sqlite().await;
    let server = Server::spawn("demo", &db.url);
    run_e2e("cohandle.mjs", &server.base, &chromium, &[], LIMIT).await;
}
