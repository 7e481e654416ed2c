//! `cityloop bench rankings`: generates a history of many cases on SQLite straight into the
//! case table and the evaluation day buckets, then times a month's league tables through
//! the real service beside the naive GROUP BY over the month's cases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use cityloop_domain::evaluation::RankObject;
use cityloop_service::evaluation::Period;
use cityloop_service::Services;
use cityloop_store::evalbench::BenchObjects;
use cityloop_store::{SqliteStore, Store};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

pub async fn run(db: Option<std::path::PathBuf>, cases: i64) -> Result<()> {
    if cases <= 0 {
        bail!("--cases must be positive");
    }
    let tmp = tempfile::tempdir()?;
    let path = db.unwrap_or_else(|| tmp.path().join("rankings.db"));
    if path.exists() {
        bail!("{} exists; name a new file", path.display());
    }
    let sqlite = SqliteStore::open(&path, true).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    cityloop_service::demo::load_demo(&store).await?;
    let svc = Services::load(store.clone()).await?;
    let Some(t) = svc.territory.clone() else {
        bail!("the demo territory did not load");
    };
    let ids =
        |kind: &str| -> Vec<String> { t.objects(kind).map(|(id, _)| id.to_owned()).collect() };
    let objs = BenchObjects {
        streets: ids("street"),
        communities: ids("community"),
        grids: ids("grid"),
        segments: ids("segment"),
        departments: store
            .list_units()
            .await?
            .into_iter()
            .map(|u| u.id.to_string())
            .collect(),
    };
    println!(
        "cityloop bench rankings: {cases} cases over 12 months on SQLite ({}), {} streets, {} communities, {} grids, {} segments, {} units",
        path.display(),
        objs.streets.len(),
        objs.communities.len(),
        objs.grids.len(),
        objs.segments.len(),
        objs.departments.len()
    );
    // 2025-12-01 00:00 Beijing time, twelve months.
    let t0 = Utc
        .with_ymd_and_hms(2025, 11, 30, 16, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let started = Instant::now();
    let mut next_report = 1_000_000;
    sqlite
        .bench_generate(cases, t0, chrono::Duration::days(365), &objs, |done| {
            if done >= next_report || done == cases {
                println!(
                    "  generated {done} cases ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
                next_report += 1_000_000;
            }
        })
        .await?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "generation: {:.0} s, database {:.2} GB",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e9
    );

    let (Some(from), Some(to)) = (
        NaiveDate::from_ymd_opt(2026, 10, 1),
        NaiveDate::from_ymd_opt(2026, 10, 31),
    ) else {
        bail!("dates");
    };
    let period = Period::new(from, to)?;
    println!("month 2026-10 (with the previous period for change), 5 runs each, first run cold:");
    for object in [
        RankObject::Street,
        RankObject::Community,
        RankObject::Department,
        RankObject::Segment,
        RankObject::RoadChief,
        RankObject::Grid,
    ] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let r = svc.ranking(object, period).await?;
            times.push(t.elapsed());
            rows = r.rows.len();
        }
        println!(
            "  ranking {:<11} {:>5} rows  first {:>8.1} ms  median {:>8.1} ms",
            object.as_str(),
            rows,
            times[0].as_secs_f64() * 1e3,
            median(times).as_secs_f64() * 1e3
        );
    }
    // The naive baseline: GROUP BY over the month's cases (Beijing month in UTC).
    let from_utc = Utc
        .with_ymd_and_hms(2026, 9, 30, 16, 0, 0)
        .single()
        .unwrap_or(t0);
    let to_utc = Utc
        .with_ymd_and_hms(2026, 10, 31, 16, 0, 0)
        .single()
        .unwrap_or(t0);
    let mut times = Vec::new();
    let mut naive = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        naive = sqlite.bench_naive_streets(from_utc, to_utc).await?;
        times.push(t.elapsed());
    }
    println!(
        "  naive GROUP BY over the month's cases (streets, counts only): first {:.1} ms  median {:.1} ms",
        times[0].as_secs_f64() * 1e3,
        median(times).as_secs_f64() * 1e3
    );
    // The two must agree on what both can count.
    let r = svc.ranking(RankObject::Street, period).await?;
    let from_buckets: i64 = r
        .rows
        .iter()
        .flat_map(|row| row.indicators.iter())
        .filter(|i| i.key == "registered")
        .filter_map(|i| i.value)
        .map(|v| v as i64)
        .sum();
    let from_cases: i64 = naive.iter().map(|(_, reg, _, _)| reg).sum();
    println!(
        "  registered in the month: buckets {from_buckets}, naive {from_cases} ({})",
        if from_buckets == from_cases {
            "equal"
        } else {
            "DIFFERENT"
        }
    );
    Ok(())
}
