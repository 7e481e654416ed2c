//! Browser test of the 12345 work order on the case page (issue 18): spawns an empty
//! `cityloop demo` on a fresh SQLite file and runs `node e2e/hotline.mjs BASE_URL`
//! (headless Chromium through playwright-core): a signed work order pushed as the city
//! platform would shows its 工单号, the platform's natural-day deadline and the unmapped
//! request type on an operator's case page, an empty 阶段答复 is refused at the field, a
//! written one joins the exchanges, and the phone has no sideways scroll.
//!
//! Needs what tests/browser.rs needs; SKIPPED unless all is there, or fails when
//! `CITYLOOP_REQUIRE_BROWSER=1`.

mod common;

use std::time::Duration;

use common::{browser_or_skip, run_e2e, Server, TestDb};

const LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_shows_on_the_case_page_in_a_browser() {
    let Some(chromium) = browser_or_skip("browser hotline test") else {
        return;
    };
    let db = TestDb::sqlite().await;
    let server = Server::spawn("demo", &db.url);
    run_e2e("hotline.mjs", &server.base, &chromium, &[], LIMIT).await;
}
