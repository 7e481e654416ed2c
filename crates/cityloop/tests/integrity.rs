//! Tamper-evident history, backups and the WAL on the real binary: `cityloop verify` names
//! an edited or deleted event (after the append-only triggers are dropped) with a non-zero
//! exit and the admin console shows the result; `cityloop backup` taken while the server
//! writes restores with every case acknowledged before it started, and verifies; the
//! server's checkpoints keep the SQLite WAL bounded under load.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cityloop_store::Backend;
use common::{Server, TestDb, BIN};
use serde_json::{json, Value};

/// Runs `cityloop <args>`; returns (success, stdout + stderr).
fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("CITYLOOP_LOG", "warn")
        .output()
        .expect("run cityloop");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Reports a case and accepts it (two events); returns (id, number).
async fn case_with_two_events(s: &Server, inspector: &str, operator: &str) -> (String, String) {
    let (st, case) = s
        .post(
            inspector,
            "/api/v1/cases",
            json!({"source": "inspector", "category": "06010", "description": "德化街暴露垃圾",
                   "lat": 34.75, "lon": 113.66}),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let (st, after) = s
        .post(
            operator,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "accept"}),
        )
        .await;
    assert_eq!(st, 200, "{after}");
    (id, case["number"].as_str().unwrap().to_owned())
}

async fn drop_triggers(db: &TestDb) {
    let stmts: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER case_events_no_update",
            "DROP TRIGGER case_events_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER case_events_no_update ON case_events"],
    };
    for s in stmts {
        db.raw.execute(s).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_an_edited_and_a_deleted_event_and_the_console_shows_it() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn_env("demo", &db.url, &[("CITYLOOP_MAINTENANCE_EVERY", "1s")]);
        let (inspector, operator, admin) = (
            s.login("inspector").await,
            s.login("operator").await,
            s.login("admin").await,
        );
        let (_, _) = case_with_two_events(&s, &inspector, &operator).await;
        let (edited, edited_no) = case_with_two_events(&s, &inspector, &operator).await;
        let (deleted, deleted_no) = case_with_two_events(&s, &inspector, &operator).await;

        // An untouched database verifies clean, exit 0; the console shows it.
        let (ok, out) = cli(&["verify", "--db", &db.url]);
        assert!(ok, "{out}");
        assert!(out.contains("OK: every chain and root matches"), "{out}");
        let (st, view) = s.get(&admin, "/api/v1/admin/integrity").await;
        assert_eq!(st, 200, "{view}");
        assert_eq!(view["last_verify"]["report"]["ok"], true, "{view}");
        assert_eq!(view["last_verify"]["ran_by"], "cli");
        let (st, _) = s.get(&operator, "/api/v1/admin/integrity").await;
        assert_eq!(st, 403, "admins only");

        // The maintenance pass seals a root over them (first root: at once).
        let sealed = common::wait_until(Duration::from_secs(20), || {
            futures_like_block(s.get(&admin, "/api/v1/admin/integrity")).1["chain"]["last_root"]
                .is_object()
        });
        assert!(sealed, "the server sealed a root");

        drop_triggers(&db).await;
        db.raw
            .execute(&format!(
                "UPDATE case_events SET body = REPLACE(body, '德化街', '解放路') WHERE case_id = '{edited}' AND seq = 1"
            ))
            .await
            .unwrap();
        let (ok, out) = cli(&["verify", "--db", &db.url]);
        assert!(!ok, "a changed history exits non-zero: {out}");
        assert!(
            out.contains(&format!("case {edited_no} ({edited}), event 1")),
            "names the edited event: {out}"
        );
        let (_, view) = s.get(&admin, "/api/v1/admin/integrity").await;
        let report = &view["last_verify"]["report"];
        assert_eq!(report["ok"], false, "{view}");
        assert_eq!(report["problems"][0]["case_number"], edited_no.as_str());
        assert_eq!(report["problems"][0]["seq"], 1);
        assert_eq!(report["problems"][0]["kind"], "content_changed");

        // Deleting the last event of another case (and its view's version) is caught too.
        for sql in [
            format!("DELETE FROM case_events WHERE case_id = '{deleted}' AND seq = 2"),
            format!("UPDATE cases SET version = 1 WHERE id = '{deleted}'"),
        ] {
            db.raw.execute(&sql).await.unwrap();
        }
        let (ok, out) = cli(&["verify", "--db", &db.url]);
        assert!(!ok, "{out}");
        assert!(
            out.contains(&format!(
                "case {deleted_no} ({deleted}), event 2: the event was deleted"
            )),
            "names the deleted event: {out}"
        );
        // The console's button runs the same verification.
        let (st, run) = s
            .post(&admin, "/api/v1/admin/integrity/verify", json!({}))
            .await;
        assert_eq!(st, 200, "{run}");
        assert_eq!(run["ran_by"], "admin");
        assert!(
            run["report"]["problem_count"].as_u64().unwrap() >= 2,
            "{run}"
        );
    }
}

/// Blocks on a future from synchronous code inside a multi-thread runtime.
fn futures_like_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_restores_every_case_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db").display().to_string();
    let s = Server::spawn("demo", &db);
    let media = s.media.path().to_owned();
    let inspector = s.login("inspector").await;
    let photo = s.upload_photo(&inspector).await;

    // Writers keep reporting cases; each acknowledged id is kept with the time it was acked.
    let acked: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (http, base, token) = (s.http.clone(), s.base.clone(), inspector.clone());
        let (acked, stop, photo) = (acked.clone(), stop.clone(), photo.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 5000 {
                i += 1;
                let r = http
                    .post(format!("{base}/api/v1/cases"))
                    .bearer_auth(&token)
                    .json(&json!({"source": "inspector", "category": "06010",
                        "description": format!("writer {w} case {i}"), "media": [photo],
                        "lat": 34.75, "lon": 113.66}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(r.status(), 201);
                let v: Value = r.json().await.unwrap();
                let id = v["id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().push((Instant::now(), id));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let backup_dir = dir.path().join("backup");
    let started = Instant::now();
    let (ok, out) = tokio::task::spawn_blocking({
        let (db, to, media) = (
            db.clone(),
            backup_dir.display().to_string(),
            media.display().to_string(),
        );
        move || cli(&["backup", "--db", &db, "--to", &to, "--media-dir", &media])
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    // Keep writing a little after the backup, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let before: Vec<&String> = acked
        .iter()
        .filter(|(t, _)| *t < started)
        .map(|(_, id)| id)
        .collect();
    let during = acked.iter().filter(|(t, _)| *t >= started).count();
    assert!(
        before.len() > 20,
        "cases before the backup: {}",
        before.len()
    );
    eprintln!(
        "{} cases acked before the backup, {during} during/after",
        before.len()
    );
    drop(s);

    let restored_db = dir.path().join("restored.db").display().to_string();
    let restored_media = dir.path().join("restored-media");
    let (ok, out) = cli(&[
        "restore",
        "--from",
        &backup_dir.display().to_string(),
        "--db",
        &restored_db,
        "--media-dir",
        &restored_media.display().to_string(),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("OK: every chain and root matches"), "{out}");
    let (ok, out) = cli(&[
        "verify",
        "--db",
        &restored_db,
        "--media-dir",
        &restored_media.display().to_string(),
    ]);
    assert!(ok, "verify passes on the restored copy: {out}");
    // A restore never overwrites.
    let (ok, out) = cli(&[
        "restore",
        "--from",
        &backup_dir.display().to_string(),
        "--db",
        &restored_db,
    ]);
    assert!(!ok && out.contains("exists"), "{out}");

    let s = Server::spawn_env(
        "serve",
        &restored_db,
        &[("CITYLOOP_MEDIA_DIR", &restored_media.display().to_string())],
    );
    let sup = s.login("supervisor").await;
    for id in &before {
        let (st, case) = s.get(&sup, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(
            st, 200,
            "case {id} acknowledged before the backup is in the restore"
        );
        assert_eq!(case["events"].as_array().map(Vec::len), Some(1));
    }
    let r = s
        .http
        .get(s.url(&format!("/api/v1/attachments/{photo}")))
        .bearer_auth(&sup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the photo came back with the restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db").display().to_string();
    let (ok, out) = cli(&["migrate", "--db", &db]);
    assert!(ok, "{out}");
    let to = dir.path().join("bk");
    let (ok, out) = cli(&["backup", "--db", &db, "--to", &to.display().to_string()]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["backup", "--db", &db, "--to", &to.display().to_string()]);
    assert!(
        !ok && out.contains("exists"),
        "never over an existing backup: {out}"
    );
    let file = to.join("cityloop.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let target = dir.path().join("b.db");
    let (ok, out) = cli(&[
        "restore",
        "--from",
        &to.display().to_string(),
        "--db",
        &target.display().to_string(),
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("cityloop.db differs from the manifest"),
        "{out}"
    );
    assert!(!target.exists(), "nothing restored from a damaged backup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_postgres_points_to_pg_dump() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = cli(&[
        "backup",
        "--db",
        &db.url,
        "--to",
        &dir.path().join("x").display().to_string(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("pg_dump"), "{out}");
}

/// Writes (and reads) hard for a while with the maintenance pass every second; the WAL
/// file must stay under a bound the whole time and be emptied once writes stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_under_sustained_writes_and_reads() {
    const BOUND: u64 = 32 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let wal = dir.path().join("wal.db-wal");
    let s = Server::spawn_env(
        "demo",
        &db.display().to_string(),
        &[("CITYLOOP_MAINTENANCE_EVERY", "1s")],
    );
    let token = s.login("inspector").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (http, base, token, stop) =
            (s.http.clone(), s.base.clone(), token.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 100_000 {
                i += 1;
                if w % 2 == 0 {
                    let r = http
                        .post(format!("{base}/api/v1/cases"))
                        .bearer_auth(&token)
                        .json(&json!({"source": "inspector", "category": "06010",
                            "description": format!("writer {w} case {i} {}", "长描述".repeat(200)),
                            "lat": 34.75, "lon": 113.66}))
                        .send()
                        .await;
                    assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 201);
                } else {
                    // Readers keep snapshots open, which alone starves SQLite's own checkpoints.
                    let _ = http
                        .get(format!("{base}/api/v1/cases?limit=200"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .and_then(|r| r.error_for_status());
                }
            }
            i
        }));
    }
    let started = Instant::now();
    let mut max = 0;
    while started.elapsed() < Duration::from_secs(20) {
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        max = max.max(len);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut ops = 0;
    for t in tasks {
        ops += t.await.unwrap();
    }
    let db_size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    eprintln!("{ops} requests in 20 s; WAL peaked at {max} bytes; database {db_size} bytes");
    assert!(max < BOUND, "the WAL reached {max} bytes (bound {BOUND})");
    let emptied = common::wait_until(Duration::from_secs(10), || {
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0
    });
    assert!(emptied, "the WAL is truncated once writes stop");
}
