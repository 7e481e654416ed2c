//! The staff API against its own OpenAPI document, fuzzed by schemathesis (PyPI) on the
//! real server over each store (issue 13, item 6): no 5xx, and no answer whose status,
//! content type or body the document does not describe. Bounded in time and examples
//! (about a minute and a half per store on two cores). Skipped, and says so, when
//! schemathesis is not installed, unless `CITYLOOP_REQUIRE_CLIENTS=1`.

mod common;

use common::{Server, TestDb};

/// Seconds schemathesis may spend per store (`--max-time`).
const MAX_TIME_S: u32 = 80;
/// Generated examples per operation at most (`--max-examples`).
const MAX_EXAMPLES: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_answer_the_document_does_not_describe() {
    let python = std::env::var("CITYLOOP_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var("CITYLOOP_REQUIRE_CLIENTS").is_ok_and(|v| v == "1");
    let probe = std::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "--version"])
        .output();
    let missing = match &probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).into_owned()),
        Err(e) => Some(format!("{python}: {e}")),
    };
    if let Some(why) = missing {
        let msg = format!(
            "schemathesis is not installed ({}); install with `python3 -m pip install schemathesis==4.32.5`",
            why.trim()
        );
        assert!(!required, "CITYLOOP_REQUIRE_CLIENTS=1: {msg}");
        eprintln!(
            "SKIPPED schemathesis_finds_no_5xx_and_no_answer_the_document_does_not_describe: {msg}"
        );
        return;
    }
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        let token = s.login("admin").await;
        let report = tempfile::tempdir().expect("report dir");
        let out = std::process::Command::new(&python)
            .args(["-m", "schemathesis.cli", "run"])
            .arg(s.url("/api/v1/openapi.json"))
            .args(["--url", &s.base])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", &MAX_EXAMPLES.to_string()])
            .args(["--max-time", &MAX_TIME_S.to_string()])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--workers", "2", "--seed", "311", "--no-shrink"])
            .args(["--request-timeout", "20"])
            .args(["--suppress-health-check", "all"])
            .args(["--warnings", "off"])
            // Logging out would revoke the token the rest of the run uses.
            .args(["--exclude-path", "/api/v1/auth/logout"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--report", "junit", "--report-dir"])
            .arg(report.path())
            .env("NO_COLOR", "1")
            // Its cache folder goes with the report, not into the source tree.
            .current_dir(report.path())
            .output()
            .expect("run schemathesis");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stdout}");
        assert!(
            out.status.success(),
            "schemathesis found problems on {:?}:\n{stdout}\n{stderr}",
            db.store.backend()
        );
    }
}
