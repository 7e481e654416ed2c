//! `cityloop bench open311-list`: fills a store with many published and unpublished cases
//! (copies of one real Open311 report, `cityloop_store::listbench`) and times
//! `GET /open311/v2/requests` through the real service — the first page, deep pages by
//! `page`/`page_size` and by `cursor`, filtered pages — beside the query it replaced
//! (keyset batches of 500 over all cases, filtered in the application, stopping after
//! 50,000 rows read) in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::Utc;
use cityloop_domain::workflow::CaseState;
use cityloop_service::open311::{
    is_published, is_service_kind, Lang, PublicReport, PublicStatus, RequestQuery,
};
use cityloop_service::Services;
use cityloop_store::listbench::bench_case_id;
use cityloop_store::{CaseFilter, Cursor, Page, PublicCaseFilter, PublicStart, Store};

/// Runs per measurement; the first is reported apart (cold) from the median.
const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Where to run: a new SQLite file (default: in a temporary folder) and, when given, a
/// PostgreSQL URL naming an empty scratch database.
pub async fn run(sqlite: Option<std::path::PathBuf>, pg: Option<String>, cases: i64) -> Result<()> {
    if cases <= 0 {
        bail!("--cases must be positive");
    }
    let tmp = tempfile::tempdir()?;
    let path = sqlite.unwrap_or_else(|| tmp.path().join("open311-list.db"));
    if path.exists() {
        bail!("{} exists; name a new file", path.display());
    }
    let s = cityloop_store::SqliteStore::open(&path, true).await?;
    one(
        Arc::new(s.clone()),
        cases,
        |template, t0, step| async move {
            let started = Instant::now();
            s.bench_fill_cases(&template, cases, t0, step, |_| {})
                .await?;
            Ok(started.elapsed())
        },
    )
    .await?;
    if let Some(url) = pg {
        let p = cityloop_store::PgStore::connect(&url).await?;
        one(
            Arc::new(p.clone()),
            cases,
            |template, t0, step| async move {
                let started = Instant::now();
                p.bench_fill_cases(&template, cases, t0, step, |_| {})
                    .await?;
                Ok(started.elapsed())
            },
        )
        .await?;
    }
    Ok(())
}

async fn one<F, Fut>(store: Arc<dyn Store>, cases: i64, fill: F) -> Result<()>
where
    F: FnOnce(cityloop_domain::case::Case, chrono::DateTime<Utc>, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Duration>>,
{
    cityloop_service::demo::load_demo(&store).await?;
    let svc = Services::load(store.clone()).await?;
    // One real report through the public intake is the template of every copy.
    let client = svc
        .check_api_key(Some(cityloop_service::demo::DEMO_API_KEY), Lang::En)
        .await?;
    let report = PublicReport {
        service_code: "06010".into(),
        lat: Some(34.7466),
        long: Some(113.6401),
        description: Some("bench: 人行道破损 broken pavement".into()),
        address_string: Some("二七区 bench".into()),
        ..PublicReport::default()
    };
    let receipt = svc.report_public(&client, report, None, Lang::En).await?;
    let template = store
        .get_case_by_number(&receipt.service_request_id)
        .await?;
    // Spread over the 80 days before now, so all of them are in the default 90-day window
    // (the worst case: nothing is cut off by dates).
    let now = Utc::now();
    let span_ms = 80 * 24 * 3600 * 1000_i64;
    let step = (span_ms / cases).max(1);
    let t0 = now - chrono::Duration::milliseconds(step * cases);
    let took = fill(template.clone(), t0, step).await?;
    let published = cases - cases / 5;
    println!(
        "\ncityloop bench open311-list on {:?}: {cases} cases ({published} published) generated in {:.0} s; {RUNS} runs each, first run apart",
        store.backend(),
        took.as_secs_f64()
    );

    let q = |page: u32, page_size: u32| RequestQuery {
        page,
        page_size,
        ..RequestQuery::default()
    };
    // A cursor just after published case `i` (the newest is `cases - 1`).
    let cursor_at = |i: i64| -> Result<Cursor> {
        Ok(Cursor {
            created_at: t0 + chrono::Duration::milliseconds(i * step),
            id: bench_case_id(i)?,
        })
    };
    let deep = (cases / 1000).max(1);
    let mut runs: Vec<(String, RequestQuery)> = vec![
        (
            "first page, page_size=1000 (the default)".into(),
            q(1, 1000),
        ),
        ("first page, page_size=50".into(), q(1, 50)),
        ("page=63&page_size=1000 (issue 13)".into(), q(63, 1000)),
        (
            "page=101&page_size=1000 (deepest page allowed)".into(),
            q(101, 1000),
        ),
        (
            format!(
                "cursor after case {} (the middle), page_size=1000",
                cases / 2
            ),
            RequestQuery {
                cursor: Some(cursor_at(cases / 2)?),
                ..q(1, 1000)
            },
        ),
        (
            format!("cursor after case {deep} (the oldest 0.1 %), page_size=1000"),
            RequestQuery {
                cursor: Some(cursor_at(deep)?),
                ..q(1, 1000)
            },
        ),
        (
            "service_code=06010&status=open, first page".into(),
            RequestQuery {
                service_codes: vec!["06010".into()],
                statuses: vec![PublicStatus::Open],
                ..q(1, 1000)
            },
        ),
        (
            "service_code=06010&status=open, page=50".into(),
            RequestQuery {
                service_codes: vec!["06010".into()],
                statuses: vec![PublicStatus::Open],
                ..q(50, 1000)
            },
        ),
    ];
    for (label, query) in runs.drain(..) {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = svc.public_requests(query.clone(), Lang::Zh).await?;
            times.push(t.elapsed());
            n = page.requests.len();
        }
        println!(
            "  {label:<58} {n:>5} rows  first {:>8.1} ms  median {:>8.1} ms",
            ms(times[0]),
            ms(median(times))
        );
    }
    // The store's query alone (no rendering), as the service sends it for the default
    // window.
    let window = PublicCaseFilter {
        created_from: Some(svc.now() - chrono::Duration::days(90)),
        ..PublicCaseFilter::default()
    };
    let open: Vec<String> = CaseState::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str().to_owned())
        .collect();
    for (label, filter, start, limit) in [
        (
            "store only: first page, 1000 rows",
            window.clone(),
            PublicStart::Offset(0),
            1000,
        ),
        (
            "store only: first page, 50 rows",
            window.clone(),
            PublicStart::Offset(0),
            50,
        ),
        (
            "store only: OFFSET 62000, 1000 rows",
            window.clone(),
            PublicStart::Offset(62_000),
            1000,
        ),
        (
            "store only: OFFSET 100000, 1000 rows",
            window.clone(),
            PublicStart::Offset(100_000),
            1000,
        ),
        (
            "store only: cursor in the middle, 1000 rows",
            window.clone(),
            PublicStart::After(cursor_at(cases / 2)?),
            1000,
        ),
        (
            "store only: service_code+status=open, OFFSET 49000",
            PublicCaseFilter {
                service_codes: vec!["06010".into()],
                states: open.clone(),
                ..window.clone()
            },
            PublicStart::Offset(49_000),
            1000,
        ),
    ] {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            n = store.list_public_cases(&filter, &start, limit).await?.len();
            times.push(t.elapsed());
        }
        println!(
            "  {label:<58} {n:>5} rows  first {:>8.1} ms  median {:>8.1} ms",
            ms(times[0]),
            ms(median(times))
        );
    }
    // The replaced query: keyset batches over all cases, filtered here.
    for (label, page, page_size) in [
        ("old scan: first page, page_size=1000", 1_usize, 1000_usize),
        ("old scan: page=63&page_size=1000", 63, 1000),
    ] {
        let mut times = Vec::new();
        let mut n = 0;
        for _ in 0..RUNS.min(3) {
            let t = Instant::now();
            n = old_scan(&store, &svc, page, page_size).await?;
            times.push(t.elapsed());
        }
        println!(
            "  {label:<58} {n:>5} rows  first {:>8.1} ms  median {:>8.1} ms",
            ms(times[0]),
            ms(median(times))
        );
    }
    Ok(())
}

/// The list as it was read before migration 0010 (crates/cityloop-service/src/open311.rs
/// until this change): 500-row keyset batches of every case in the window, unpublished
/// ones skipped in memory, stopping after 50,000 rows read. Returns the rows found.
async fn old_scan(
    store: &Arc<dyn Store>,
    svc: &Services,
    page: usize,
    page_size: usize,
) -> Result<usize> {
    const MAX_SCAN: usize = 50_000;
    const SCAN_BATCH: u32 = 500;
    let filter = CaseFilter {
        created_from: Some(svc.now() - chrono::Duration::days(90)),
        ..CaseFilter::default()
    };
    let offset = (page - 1) * page_size;
    let (mut skipped, mut scanned, mut found) = (0, 0, 0);
    let mut after: Option<Cursor> = None;
    'scan: loop {
        let batch = store
            .list_cases(
                &filter,
                &Page {
                    after: after.clone(),
                    limit: SCAN_BATCH,
                },
            )
            .await?;
        let n = batch.len();
        for c in batch {
            scanned += 1;
            after = Some(Cursor {
                created_at: c.created_at,
                id: c.id,
            });
            if !(is_published(c.source) && is_service_kind(&c.category)) {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            found += 1;
            if found >= page_size {
                break 'scan;
            }
        }
        if n < SCAN_BATCH as usize || scanned >= MAX_SCAN {
            break;
        }
    }
    Ok(found)
}
