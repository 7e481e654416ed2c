//! `cityloop import` end to end, with the real binary on both stores: the whole Boston 311
//! file through the shipped mapping (counts by status equal a count made here from the
//! CSV, a re-run adds nothing), a GBK 12345 export through the shipped 12345 mapping (bad
//! rows refused with line and reason, `--dry-run` and `--all-or-nothing` write nothing),
//! an xlsx sheet, and files or mappings that cannot be used.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDateTime;
use common::{TestDb, BIN};

/// The Boston 311 file of `../shared` beside the repository.
fn boston() -> PathBuf {
    repo("../shared/data/workload/boston311_2015_jan-sep.csv.gz")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// `cityloop import …`: (exit code, stdout, stderr).
fn import(db: &str, file: &Path, mapping: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("import")
        .arg("--db")
        .arg(db)
        .arg(file)
        .arg("--mapping")
        .arg(mapping)
        .args(extra)
        .env("CITYLOOP_LOG", "warn")
        .output()
        .expect("run cityloop import");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn demo_db(db: &TestDb) {
    cityloop_service::demo::load_demo(&db.store)
        .await
        .expect("load the demo district");
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.raw.scalar(sql).await.expect(sql)
}

/// What the Boston file holds, counted here from the CSV without cityloop's code:
/// (closed rows, open rows, closed rows whose close time is before the open time,
/// accepted rows at the City Hall placeholder).
fn boston_expected() -> (i64, i64, i64, i64) {
    let mut gz = Vec::new();
    std::fs::File::open(boston())
        .unwrap()
        .read_to_end(&mut gz)
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (st, open, close, lat, lon) = (
        col("CASE_STATUS"),
        col("OPEN_DT"),
        col("CLOSED_DT"),
        col("LATITUDE"),
        col("LONGITUDE"),
    );
    let t = |s: &str| NaiveDateTime::parse_from_str(s, "%m/%d/%Y %I:%M:%S %p").unwrap();
    let (mut closed, mut opened, mut backwards, mut city_hall) = (0, 0, 0, 0);
    for r in rd.records() {
        let r = r.unwrap();
        let accepted = match &r[st] {
            "Closed" if t(&r[close]) < t(&r[open]) => {
                backwards += 1;
                false
            }
            "Closed" => {
                closed += 1;
                true
            }
            "Open" => {
                opened += 1;
                true
            }
            other => panic!("unexpected status {other}"),
        };
        if accepted && &r[lat] == "42.3594" && &r[lon] == "-71.0587" {
            city_hall += 1;
        }
    }
    (closed, opened, backwards, city_hall)
}

// One test per store, so that the two whole-file imports (each a `cityloop import`
// process) run side by side instead of one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_boston_file_imports_into_sqlite_with_counts_by_status_equal_to_the_csv_and_a_rerun_adds_nothing(
) {
    whole_boston_file(TestDb::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_boston_file_imports_into_postgres_with_counts_by_status_equal_to_the_csv_and_a_rerun_adds_nothing(
) {
    if let Some(db) = TestDb::postgres().await {
        whole_boston_file(db).await;
    }
}

async fn whole_boston_file(db: TestDb) {
    let (closed, open, backwards, city_hall) = boston_expected();
    assert!(
        closed > 70_000 && open > 10_000 && backwards > 0,
        "{closed} {open} {backwards}"
    );
    let mapping = repo("data/import/boston311.toml");
    {
        let started = std::time::Instant::now();
        eprintln!("backend {:?}", db.store.backend());
        demo_db(&db).await;
        let before = count(&db, "SELECT COUNT(*) FROM cases").await;
        let (code, out, err) = import(&db.url, &boston(), &mapping, &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases WHERE state = 'closed'").await,
            closed
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases WHERE state = 'received' AND number LIKE '410103-BOS-%'").await,
            open
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases").await,
            before + closed + open
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM cases WHERE view LIKE '%\"location_unknown\":true%'"
            )
            .await,
            city_hall
        );
        // Each refused row is printed with its line and reason.
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("refused line ")
                    && l.contains("CLOSED_DT: is before the report time"))
                .count() as i64,
            backwards.min(200),
            "{out}"
        );
        assert!(out.contains(&format!("{} refused", backwards)), "{out}");
        // Every imported case's history is three events (closed) or one (open).
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.number LIKE '410103-BOS-%'").await,
            3 * closed + open
        );
        // Not ranked (the setting is off): no evaluation counter for an imported case.
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM eval_case_counters k JOIN cases c ON c.id = k.case_id WHERE c.number LIKE '410103-BOS-%'").await,
            0
        );

        let (code, out, err) = import(&db.url, &boston(), &mapping, &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains("imported 0 new case(s)"), "{out}");
        assert!(
            out.contains(&format!("{} already present", closed + open)),
            "{out}"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases").await,
            before + closed + open
        );
        eprintln!(
            "backend {:?}: both imports took {:?}",
            db.store.backend(),
            started.elapsed()
        );
    }
}

const EXPORT_HEADER: &str = "工单编号,来电时间,来电人,联系电话,诉求内容,诉求类型,事发地址,承办单位,办结时间,办理结果,满意度";

/// A 12345 export: two good rows (lines 2, 3) and five bad ones (lines 4–8).
fn export_rows() -> String {
    [
        EXPORT_HEADER,
        "GD001,2026-03-02 09:15:00,张三,13800000001,人行道上有人占道经营,占道经营,大学路与陇海路交叉口,德化街街道,2026-03-03 10:00:00,已劝离,满意",
        "GD002,2026/03/02 10:20:00,李四,13800000002,夜间施工噪音,施工扰民,航海中路,城管局,,,",
        "GD003,2026-03-02 25:00:00,王五,13800000003,垃圾没人收,暴露垃圾,大学路,,,,",
        "GD004,2026-03-02 11:00:00,赵六,13800000004,小狗走丢了,宠物走失,大学路,,,,",
        "GD001,2026-03-02 12:00:00,张三,13800000001,又来了,占道经营,大学路,,,,",
        ",2026-03-02 13:00:00,钱七,13800000005,路灯不亮,路灯不亮,大学路,,,,",
        "GD005,2026-03-02 14:00:00,孙八,13800000006,道路坑洼,道路破损,大学路,,2026-03-01 09:00:00,已修复,满意",
    ]
    .join("\n")
        + "\n"
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gbk_12345_export_imports_its_good_rows_and_refuses_each_bad_one_with_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = export_rows();
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let file = write(dir.path(), "export-gbk.csv", &gbk);
    let mapping = repo("data/import/12345-export.toml");
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        demo_db(&db).await;
        let before = count(&db, "SELECT COUNT(*) FROM cases").await;

        // A dry run lists every refused row and writes nothing.
        let (code, out, err) = import(&db.url, &file, &mapping, &["--dry-run"]);
        assert_eq!(code, 0, "{out}\n{err}");
        for expected in [
            "refused line 4: 来电时间: \"2026-03-02 25:00:00\" is not a time",
            "refused line 5: 诉求类型: unknown category \"宠物走失\"",
            "refused line 6: 工单编号: \"GD001\" repeats line 2",
            "refused line 7: 工单编号: is empty",
            "refused line 8: 办结时间: is before the report time",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        assert!(out.contains("7 rows read (GBK): 2 accepted (closed 1, open 1), 5 refused; would import 2 new case(s)"), "{out}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM cases").await, before);

        // All or nothing: refusals, so nothing is written and the exit code says so.
        let (code, out, err) = import(&db.url, &file, &mapping, &["--all-or-nothing"]);
        assert_eq!(code, 1, "{out}\n{err}");
        assert!(
            err.contains("5 row(s) refused; --all-or-nothing wrote nothing"),
            "{err}"
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM cases").await, before);

        // The real import writes the two good rows, converted from GBK.
        let (code, out, err) = import(&db.url, &file, &mapping, &[]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM cases").await, before + 2);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases WHERE number = '410103-GD-GD001' AND state = 'closed' AND view LIKE '%占道经营%' AND view LIKE '%\"location_unknown\":true%'").await,
            1
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM cases WHERE number = '410103-GD-GD002' AND state = 'received' AND source = 'hotline_12345'").await,
            1
        );
        // The same file again adds nothing.
        let (code, out, _) = import(&db.url, &file, &mapping, &[]);
        assert_eq!(code, 0);
        assert!(
            out.contains("imported 0 new case(s), 2 already present"),
            "{out}"
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM cases").await, before + 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_export_with_date_cells_imports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in EXPORT_HEADER.split(',').enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let when = rust_xlsxwriter::ExcelDateTime::parse_from_str("2026-03-02 09:15:00").unwrap();
    let done = rust_xlsxwriter::ExcelDateTime::parse_from_str("2026-03-03 10:00:00").unwrap();
    ws.write_string(1, 0, "GDX1").unwrap();
    ws.write_datetime_with_format(1, 1, &when, &fmt).unwrap();
    ws.write_string(1, 4, "占道经营，影响通行").unwrap();
    ws.write_string(1, 5, "占道经营").unwrap();
    ws.write_string(1, 6, "大学路").unwrap();
    ws.write_datetime_with_format(1, 8, &done, &fmt).unwrap();
    ws.write_string(1, 9, "已处理").unwrap();
    ws.write_string(2, 0, "GDX2").unwrap();
    ws.write_string(2, 1, "2026-03-04 08:00:00").unwrap();
    ws.write_string(2, 4, "噪音").unwrap();
    ws.write_string(2, 5, "噪声扰民").unwrap();
    wb.save(&path).unwrap();
    let mapping = repo("data/import/12345-export.toml");
    let db = TestDb::sqlite().await;
    demo_db(&db).await;
    let (code, out, err) = import(&db.url, &path, &mapping, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("2 rows read (xlsx): 2 accepted (closed 1, open 1), 0 refused"),
        "{out}"
    );
    // 09:15 in Shanghai is 01:15 UTC.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM cases WHERE number = '410103-GD-GDX1' AND state = 'closed' AND created_at LIKE '2026-03-02T01:15:00%'").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_files_and_mappings_are_refused_by_name_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    demo_db(&db).await;
    let before = count(&db, "SELECT COUNT(*) FROM cases").await;
    let mapping = repo("data/import/12345-export.toml");

    let latin = write(dir.path(), "latin.csv", b"\xff\xfe\xff,\xff\n1,2\n");
    let (code, _, err) = import(&db.url, &latin, &mapping, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("neither UTF-8 nor GBK"), "{err}");

    let short = write(
        dir.path(),
        "short.csv",
        "工单编号,来电时间,诉求内容\nA,2026-03-02 09:00:00,x\n".as_bytes(),
    );
    let (code, _, err) = import(&db.url, &short, &mapping, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("mapping columns: the file has no column 办结时间, 事发地址"),
        "{err}"
    );

    let bad_mapping = write(
        dir.path(),
        "bad.toml",
        b"name = \"x\"\n[columns]\nexternal_ref = 1\n",
    );
    let (code, _, err) = import(&db.url, &short, &bad_mapping, &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("mapping") && err.contains("external_ref"),
        "{err}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM cases").await, before);
}
