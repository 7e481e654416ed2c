//! The CLI's errors are clear: a missing or corrupt database, a busy port, bad flags.

mod common;

use std::process::Command;

use common::{Server, BIN};

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("CITYLOOP_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_on_a_missing_file_says_how_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db").display().to_string();
    let (code, err) = run(&["serve", "--db", &db]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no database file") && err.contains("cityloop migrate"),
        "{err}"
    );
    assert!(
        !std::path::Path::new(&db).exists(),
        "serve must not create a database"
    );
}

#[test]
fn a_corrupt_database_file_is_reported_not_panicked_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let (code, err) = run(&["serve", "--db", &db.display().to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not a database") || err.contains("not a usable"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let (code, err) = run(&["migrate", "--db", "mysql://x"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown database scheme"), "{err}");
}

#[test]
fn migrate_then_serve_without_a_district_explains_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db").display().to_string();
    assert_eq!(run(&["migrate", "--db", &db]).0, 0);
    let (code, err) = run(&["serve", "--db", &db]);
    assert_eq!(code, 1);
    assert!(err.contains("no district profile"), "{err}");
}

#[test]
fn a_busy_port_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db").display().to_string();
    let server = Server::spawn("demo", &db);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let (code, err) = run(&["serve", "--db", &db, "--addr", &addr]);
    assert_eq!(code, 1);
    assert!(err.contains("already in use"), "{err}");
}

#[test]
fn bad_flags_are_usage_errors() {
    let (code, err) = run(&["serve", "--addr", "not-an-address"]);
    assert_eq!(code, 2);
    assert!(err.contains("--addr"), "{err}");
    let (code, _) = run(&["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn user_add_reads_the_password_from_stdin_and_refuses_weak_ones() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db").display().to_string();
    drop(Server::spawn("demo", &db));
    let add = |pw: &str| {
        let mut child = Command::new(BIN)
            .args([
                "user",
                "add",
                "--db",
                &db,
                "--username",
                "wang.wu",
                "--role",
                "operator",
            ])
            .env("CITYLOOP_LOG", "off")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{pw}").unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = add("short");
    assert_eq!(code, Some(1));
    assert!(err.contains("password"), "{err}");
    let (code, err) = add("a long enough secret");
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_a_pilot_to_another_store_and_verifies_counts_and_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("pilot.db").display().to_string();
    {
        let server = Server::spawn("demo", &src);
        let tok = server.login("inspector").await;
        let op = server.login("operator").await;
        for i in 0..5 {
            let (st, case) = server
                .post(
                    &tok,
                    "/api/v1/cases",
                    serde_json::json!({"source": "inspector", "category": "06010",
                        "description": format!("试点案件 {i}"), "lat": 34.75, "lon": 113.66}),
                )
                .await;
            assert_eq!(st, 201);
            let id = case["id"].as_str().unwrap();
            let (st, _) = server
                .post(
                    &op,
                    &format!("/api/v1/cases/{id}/actions"),
                    serde_json::json!({"action": "accept"}),
                )
                .await;
            assert_eq!(st, 200);
        }
        // One admin change, so the audit log has a row to carry over.
        let admin = server.login("admin").await;
        let (st, _) = server
            .post(
                &admin,
                "/api/v1/admin/api-keys",
                serde_json::json!({"name": "试点应用"}),
            )
            .await;
        assert_eq!(st, 201);
    }
    // Into PostgreSQL when available, else into another SQLite file.
    let pg = common::TestDb::postgres().await;
    let target = match &pg {
        Some(db) => db.url.clone(),
        None => dir.path().join("copy.db").display().to_string(),
    };
    let out = Command::new(BIN)
        .args(["copy", "--from", &src, "--to", &target])
        .env("CITYLOOP_LOG", "off")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("copied 5 cases with 10 events"), "{stdout}");
    // The copy serves: the same accounts log in and the cases are there.
    let server = Server::spawn("serve", &target);
    let sup = server.login("supervisor").await;
    let (_, list) = server.get(&sup, "/api/v1/cases").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    let admin = server.login("admin").await;
    let (_, audit) = server.get(&admin, "/api/v1/admin/audit").await;
    assert_eq!(audit["items"][0]["entity"], "api_key", "{audit}");
    // A second copy into the now non-empty target is refused.
    let again = Command::new(BIN)
        .args(["copy", "--from", &src, "--to", &target])
        .env("CITYLOOP_LOG", "off")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn territory_export_then_import_round_trips_and_a_bad_layer_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db").display().to_string();
    drop(Server::spawn("demo", &db));
    let out_dir = dir.path().join("layers");
    let out = Command::new(BIN)
        .args([
            "territory",
            "export",
            "--db",
            &db,
            "--dir",
            &out_dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let streets = out_dir.join("streets.geojson");
    let text = std::fs::read_to_string(&streets).unwrap();
    assert!(text.contains("德化街街道"));

    // Re-import what was exported: it validates and loads.
    let layer = |n: &str| out_dir.join(format!("{n}.geojson")).display().to_string();
    let out = Command::new(BIN)
        .args([
            "territory",
            "import",
            "--db",
            &db,
            "--district",
            &layer("district"),
            "--streets",
            &layer("streets"),
            "--communities",
            &layer("communities"),
            "--grids",
            &layer("grids"),
            "--roads",
            &layer("roads"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("15 streets"), "{stdout}");

    // A street layer with a broken ring is refused with the feature named; nothing changes.
    let broken = text.replacen("\"coordinates\":[[[", "\"coordinates\":[[[0,0],[", 1);
    let bad = dir.path().join("bad.geojson");
    std::fs::write(&bad, broken).unwrap();
    let (code, err) = run(&[
        "territory",
        "import",
        "--db",
        &db,
        "--streets",
        &bad.display().to_string(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(
        err.contains("410103"),
        "the message names the feature: {err}"
    );
    let after = Command::new(BIN)
        .args([
            "territory",
            "export",
            "--db",
            &db,
            "--dir",
            &out_dir.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(after.status.success());
    assert_eq!(std::fs::read_to_string(&streets).unwrap(), text);
}

/// `cityloop demo --clock-offset` (here through its environment variable) moves the demo's
/// clock: a fresh case is red and overdue when the server is restarted 30 days ahead, and
/// the scheduler escalates it to the supervisor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_clock_offset_makes_a_fresh_case_overdue_and_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clock.db").display().to_string();
    let id = {
        let server = Server::spawn("demo", &db);
        let tok = server.login("inspector").await;
        let (st, case) = server
            .post(
                &tok,
                "/api/v1/cases",
                serde_json::json!({"source": "inspector", "category": "06010",
                    "description": "时钟偏移演示", "lat": 34.75, "lon": 113.66}),
            )
            .await;
        assert_eq!(st, 201, "{case}");
        assert_ne!(case["light"], "red", "{case}");
        case["id"].as_str().unwrap().to_owned()
    };
    let server = Server::spawn_env(
        "demo",
        &db,
        &[
            ("CITYLOOP_DEMO_CLOCK_OFFSET", "30d"),
            ("CITYLOOP_SCHEDULER_SECS", "1"),
        ],
    );
    let sup = server.login("supervisor").await;
    let (st, case) = server.get(&sup, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(st, 200);
    assert_eq!(case["light"], "red", "{case}");
    let (_, list) = server.get(&sup, "/api/v1/cases?overdue=true").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str()),
        "{list}"
    );
    let escalated = common::wait_until(std::time::Duration::from_secs(20), || {
        let s = &server;
        let sup = sup.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let (_, notes) = s.get(&sup, "/api/v1/me/notifications").await;
                notes
                    .as_array()
                    .is_some_and(|n| n.iter().any(|x| x["case_id"] == id.as_str()))
            })
        })
    });
    assert!(escalated, "no escalation reached the supervisor");
}

#[test]
fn a_malformed_clock_offset_is_a_usage_error() {
    let (code, err) = run(&[
        "demo",
        "--clock-offset",
        "soon",
        "--db",
        "/nonexistent/x.db",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("clock-offset") || err.contains("expected a whole number"),
        "{err}"
    );
}
