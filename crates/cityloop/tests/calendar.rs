//! Calendar coverage over HTTP and the CLI on the real binary, on every store: with the
//! server's clock set near the end of 2026 (the demo's `--clock-offset`), `/healthz`, the
//! admin API and the log warn that the calendar ends; a case whose deadline reaches into
//! 2027 is marked "weekends only"; an admin loads a 2027 notice (a TEST FIXTURE — the 2026
//! notice shifted by 53 weeks, not official data) and the warning and the mark go away; bad
//! notice documents are 422 naming the field; `cityloop calendar load` does the same from a
//! file, audited.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{Days, TimeZone, Utc};
use cityloop_domain::calendar::{Tz, WorkCalendar};
use common::{Server, TestDb, BIN};
use serde_json::{json, Value};

/// `CITYLOOP_DEMO_CLOCK_OFFSET` that puts the server's clock at `y-m-d h:00` Beijing time.
fn offset_to(y: i32, m: u32, d: u32, h: u32) -> String {
    let tz: Tz = "Asia/Shanghai".parse().unwrap();
    let target = tz
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc);
    format!("{}s", (target - Utc::now()).num_seconds())
}

/// TEST FIXTURE, not official data: the embedded 2026 notice shifted by 53 weeks (every
/// day keeps its weekday and lands in 2027). No 2027 notice ships with cityloop.
fn fixture_2027() -> Value {
    let real = WorkCalendar::china_2026().spec().years[0].clone();
    let shift = |d: chrono::NaiveDate| (d + Days::new(371)).to_string();
    json!({
        "year": 2027,
        "source": "TEST FIXTURE (not an official notice): the 2026 notice shifted 53 weeks into 2027",
        "holidays": real.holidays.iter().map(|h| json!({
            "name_zh": h.name_zh, "name_en": h.name_en,
            "start": shift(h.start), "end": shift(h.end),
        })).collect::<Vec<_>>(),
        "makeup_workdays": real.makeup_workdays.iter().map(|d| shift(*d)).collect::<Vec<_>>(),
    })
}

async fn call(
    s: &Server,
    method: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = s.http.request(m, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn healthz(s: &Server) -> Value {
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn new_case(s: &Server) -> String {
    let tok = s.login("inspector").await;
    let (st, case) = s
        .post(
            &tok,
            "/api/v1/cases",
            json!({"source": "inspector", "category": "06010",
                "description": "年末期限", "lat": 34.75, "lon": 113.66}),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn the_coverage_warning_shows_until_the_admin_loads_the_next_year(s: &Server) {
    // The clock is Thursday 2026-12-31 18:00 Beijing time (after hours), the last covered day.
    let h = healthz(s).await;
    let cal = &h["calendar"];
    assert_eq!(cal["years"], json!([2026]), "{h}");
    assert_eq!(cal["coverage_end"], "2026-12-31", "{h}");
    assert_eq!(cal["days_left"], 0, "{h}");
    assert_eq!(cal["warning_code"]["code"], "ending_soon", "{h}");
    assert!(cal["warning"].as_str().unwrap().contains("2027"), "{h}");

    // A fresh case's first stage (1 working hour) ends on Friday 2027-01-01: weekends only.
    let id = new_case(s).await;
    let sup = s.login("supervisor").await;
    let (_, case) = s.get(&sup, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(case["deadline_weekends_only"], true, "{case}");
    assert_eq!(case["deadline"], "2027-01-01T01:30:00Z", "{case}");
    let (_, list) = s.get(&sup, "/api/v1/cases").await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["deadline_weekends_only"], true, "{listed}");

    let admin = s.login("admin").await;
    let (st, years) = s.get(&admin, "/api/v1/admin/calendar/years").await;
    assert_eq!(st, 200, "{years}");
    assert_eq!(years["coverage"]["warning"]["code"], "ending_soon");
    assert_eq!(years["coverage"]["warning"]["next_year"], 2027);
    assert_eq!(years["years"][0]["year"], 2026);
    assert!(years["years"][0]["source"]
        .as_str()
        .unwrap()
        .contains("关于2026年部分节假日安排的通知"));

    // Only admins.
    let (st, _) = call(
        s,
        "POST",
        &sup,
        "/api/v1/admin/calendar/years",
        Some(fixture_2027()),
    )
    .await;
    assert_eq!(st, 403);

    let (st, loaded) = call(
        s,
        "POST",
        &admin,
        "/api/v1/admin/calendar/years",
        Some(fixture_2027()),
    )
    .await;
    assert_eq!(st, 200, "{loaded}");
    assert_eq!(loaded["year"], 2027);
    assert_eq!(loaded["replaced"], false);
    assert_eq!(loaded["coverage"]["warning"], Value::Null, "{loaded}");
    assert!(
        loaded["deadlines_refreshed"].as_u64() >= Some(1),
        "{loaded}"
    );

    let h = healthz(s).await;
    assert_eq!(h["calendar"]["years"], json!([2026, 2027]), "{h}");
    assert_eq!(h["calendar"]["coverage_end"], "2027-12-31", "{h}");
    assert_eq!(h["calendar"]["warning"], Value::Null, "{h}");
    let (_, case) = s.get(&sup, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(case["deadline_weekends_only"], false, "{case}");

    let (_, rows) = s
        .get(&admin, "/api/v1/admin/audit?entity=calendar&entity_id=2027")
        .await;
    let rows = rows["items"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "load_year");
    assert_eq!(rows[0]["before"], Value::Null);
    assert!(rows[0]["after"].to_string().contains("TEST FIXTURE"));
    assert!(rows[0]["actor_id"].is_string());

    // Loading the same year again replaces it; removing it brings the warning back.
    let (st, again) = call(
        s,
        "POST",
        &admin,
        "/api/v1/admin/calendar/years",
        Some(fixture_2027()),
    )
    .await;
    assert_eq!((st, &again["replaced"]), (200, &json!(true)), "{again}");
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        "/api/v1/admin/calendar/years/2027",
        None,
    )
    .await;
    assert_eq!(st, 204);
    assert_eq!(
        healthz(s).await["calendar"]["warning_code"]["code"],
        "ending_soon"
    );
    let (st, _) = call(
        s,
        "DELETE",
        &admin,
        "/api/v1/admin/calendar/years/2027",
        None,
    )
    .await;
    assert_eq!(st, 404);
    let actions: Vec<String> = s
        .get(&admin, "/api/v1/admin/audit?entity=calendar&entity_id=2027")
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["remove_year", "replace_year", "load_year"]);
}

async fn audited(s: &Server, admin: &str) -> usize {
    let (_, rows) = s.get(admin, "/api/v1/admin/audit?entity=calendar").await;
    rows["items"].as_array().unwrap().len()
}

async fn bad_notice_documents_are_422_naming_the_field(s: &Server) {
    let admin = s.login("admin").await;
    let audited_before = audited(s, &admin).await;
    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut doc = fixture_2027();
        edit(&mut doc);
        doc
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "year",
            bad(&|d| {
                d["year"] = json!(1899);
            }),
        ),
        (
            "source",
            bad(&|d| {
                d["source"] = json!("国务院办公厅关于2026年部分节假日安排的通知");
            }),
        ),
        (
            "holidays",
            bad(&|d| {
                d["holidays"] = json!([]);
            }),
        ),
        (
            "holidays[0].name_zh",
            bad(&|d| {
                d["holidays"][0]["name_zh"] = json!("  ");
            }),
        ),
        (
            "holidays[0].start",
            bad(&|d| {
                d["holidays"][0]["start"] = json!("2026-12-31");
            }),
        ),
        (
            "holidays[6].end",
            bad(&|d| {
                d["holidays"][6]["end"] = json!("2028-01-02");
            }),
        ),
        (
            "holidays[6].start",
            bad(&|d| {
                // 国庆节 (shifted: Oct 7-13) overlapping 中秋节 (shifted: Oct 1-3).
                d["holidays"][6]["start"] = json!("2027-10-03");
            }),
        ),
        (
            "makeup_workdays[0]",
            bad(&|d| {
                // A Monday.
                d["makeup_workdays"][0] = json!("2027-01-11");
            }),
        ),
        (
            "makeup_workdays[6]",
            bad(&|d| {
                d["makeup_workdays"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("2027-01-10"));
            }),
        ),
        (
            "makeup_workdays[6]",
            bad(&|d| {
                d["makeup_workdays"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("2026-12-26"));
            }),
        ),
        (
            "makeup_workdays[6]",
            bad(&|d| {
                // Saturday 2027-01-09, inside the shifted 元旦.
                d["makeup_workdays"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("2027-01-09"));
            }),
        ),
    ];
    for (field, doc) in cases {
        let (st, body) = call(s, "POST", &admin, "/api/v1/admin/calendar/years", Some(doc)).await;
        assert_eq!(st, 422, "{field}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    // Shape errors are named by the JSON extractor.
    let shape: Vec<(&str, Value)> = vec![
        (
            "holidays[1].start",
            bad(&|d| {
                d["holidays"][1]["start"] = json!("2027-02-30");
            }),
        ),
        (
            "source",
            bad(&|d| {
                d.as_object_mut().unwrap().remove("source");
            }),
        ),
    ];
    for (field, doc) in shape {
        let (st, body) = call(s, "POST", &admin, "/api/v1/admin/calendar/years", Some(doc)).await;
        assert_eq!(st, 422, "{field}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    // Nothing was loaded or audited.
    let (_, years) = s.get(&admin, "/api/v1/admin/calendar/years").await;
    assert_eq!(years["coverage"]["years"], json!([2026]));
    assert_eq!(audited(s, &admin).await, audited_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_admin_and_cases_warn_near_the_end_of_coverage_until_2027_is_loaded() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let offset = offset_to(2026, 12, 31, 18);
        let s = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_CLOCK_OFFSET", &offset)]);
        the_coverage_warning_shows_until_the_admin_loads_the_next_year(&s).await;
        bad_notice_documents_are_422_naming_the_field(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_has_no_warning_more_than_sixty_days_before_the_end() {
    let db = TestDb::sqlite().await;
    let offset = offset_to(2026, 10, 30, 12);
    let s = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_CLOCK_OFFSET", &offset)]);
    let h = healthz(&s).await;
    assert_eq!(h["calendar"]["days_left"], 62, "{h}");
    assert_eq!(h["calendar"]["warning"], Value::Null, "{h}");
    let offset = offset_to(2027, 1, 4, 12);
    drop(s);
    let s = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_CLOCK_OFFSET", &offset)]);
    let h = healthz(&s).await;
    assert_eq!(h["calendar"]["days_left"], -4, "{h}");
    assert_eq!(h["calendar"]["warning_code"]["code"], "uncovered", "{h}");
    assert_eq!(h["calendar"]["warning_code"]["year"], 2027, "{h}");
}

/// The scheduler logs the warning at its first pass (and once a day after).
#[test]
fn the_server_log_warns_that_the_calendar_coverage_ends() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db").display().to_string();
    let mut child = Command::new(BIN)
        .args(["demo", "--empty", "--db", &db, "--addr", "127.0.0.1:0"])
        .env("CITYLOOP_LOG", "warn")
        .env("CITYLOOP_MEDIA_DIR", dir.path().join("media"))
        .env("CITYLOOP_DEMO_CLOCK_OFFSET", offset_to(2026, 12, 20, 10))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("calendar coverage") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(120));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a calendar coverage warning in the log");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("2027"), "{line}");
    assert!(
        line.contains("days_left") && line.contains("Some(11)"),
        "{line}"
    );
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("CITYLOOP_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_load_on_the_command_line_validates_stores_and_audits_the_notice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cal.db").display().to_string();
    drop(Server::spawn("demo", &db));

    let bad = dir.path().join("bad.json");
    let mut doc = fixture_2027();
    doc["makeup_workdays"][0] = json!("2027-01-11");
    std::fs::write(&bad, doc.to_string()).unwrap();
    let (code, _, err) = cli(&["calendar", "load", "--db", &db, &bad.display().to_string()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("makeup_workdays[0]"), "{err}");
    assert!(err.contains("not a weekend day"), "{err}");

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, r#"{"year": 2027, "holidays": "soon"}"#).unwrap();
    let (code, _, err) = cli(&[
        "calendar",
        "load",
        "--db",
        &db,
        &garbage.display().to_string(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a year notice document"), "{err}");

    let (code, out, _) = cli(&["calendar", "status", "--db", &db]);
    assert_eq!(code, 0);
    assert!(out.contains("years covered: 2026"), "{out}");

    let good = dir.path().join("fixture-2027.json");
    std::fs::write(&good, fixture_2027().to_string()).unwrap();
    let (code, out, err) = cli(&["calendar", "load", "--db", &db, &good.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("loaded the notice for 2027"), "{out}");
    assert!(out.contains("years covered: 2026, 2027"), "{out}");

    let s = Server::spawn("demo", &db);
    let admin = s.login("admin").await;
    let (_, years) = s.get(&admin, "/api/v1/admin/calendar/years").await;
    assert_eq!(years["coverage"]["years"], json!([2026, 2027]), "{years}");
    let (_, rows) = s
        .get(&admin, "/api/v1/admin/audit?entity=calendar&entity_id=2027")
        .await;
    let rows = rows["items"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["action"], "load_year");
    assert_eq!(
        rows[0]["actor_id"],
        Value::Null,
        "the command line has no login"
    );
}
