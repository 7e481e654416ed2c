//! `cityloop bench verify`: generates a history of many events with real hash links on
//! SQLite (straight into the tables), then times `cityloop verify`'s recomputation of every
//! chain and root beside two baselines over the same events: reading the rows alone, and
//! plain SHA-256 over the same canonical bytes in memory (no database).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use chrono::{TimeZone, Utc};
use cityloop_domain::chain::{canonical, EventRow, GENESIS};
use cityloop_store::chainbench::{synthetic_at, synthetic_body, synthetic_case_id};
use cityloop_store::{SqliteStore, Store};

#[derive(clap::Args)]
pub struct Args {
    /// SQLite file to generate into; default: a fresh file in a temporary folder.
    #[arg(long)]
    db: Option<std::path::PathBuf>,
    /// Events in the generated history.
    #[arg(long, default_value_t = 1_000_000)]
    events: i64,
    /// Events per case.
    #[arg(long, default_value_t = 10)]
    per_case: i64,
    /// Timed runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub async fn run(args: Args) -> Result<()> {
    if args.events <= 0 || args.per_case <= 0 || args.runs == 0 {
        bail!("--events, --per-case and --runs must be positive");
    }
    let tmp = tempfile::tempdir()?;
    let path = args.db.unwrap_or_else(|| tmp.path().join("verify.db"));
    if path.exists() {
        bail!("{} exists; name a new file", path.display());
    }
    let cases = (args.events + args.per_case - 1) / args.per_case;
    let events = cases * args.per_case;
    let sqlite = SqliteStore::open(&path, true).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    println!(
        "cityloop bench verify: {events} events ({cases} cases × {}) on SQLite ({})",
        args.per_case,
        path.display()
    );
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let started = Instant::now();
    let mut last_print = Instant::now();
    sqlite
        .bench_chain_generate(cases, args.per_case, t0, 100_000, |n| {
            if last_print.elapsed().as_secs() >= 10 {
                eprintln!("  generated {n} events");
                last_print = Instant::now();
            }
        })
        .await?;
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated in {:.1} s ({:.0} MB)",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );
    // Warm the page cache once, as a server's database would be.
    sqlite.bench_scan_events().await?;

    let mut scan = Vec::new();
    let mut bytes = 0;
    for _ in 0..args.runs {
        let t = Instant::now();
        let (n, b) = sqlite.bench_scan_events().await?;
        scan.push(t.elapsed().as_secs_f64());
        bytes = b;
        if n != events {
            bail!("read {n} rows, expected {events}");
        }
    }
    let mut plain = Vec::new();
    let mut hashed_bytes = 0usize;
    for _ in 0..args.runs {
        let t = Instant::now();
        hashed_bytes = 0;
        let mut sink = 0u8;
        for k in 0..cases {
            let id = synthetic_case_id(k);
            for seq in 1..=args.per_case {
                let at = synthetic_at(t0, k, seq);
                let body = synthetic_body(&id, seq, at);
                let bytes = canonical(
                    &GENESIS,
                    &EventRow {
                        case_id: &id,
                        seq,
                        at,
                        kind: "dispatch",
                        actor_id: None,
                        from_state: Some("registered"),
                        to_state: "dispatched",
                        body: &body,
                    },
                );
                hashed_bytes += bytes.len();
                sink ^= cityloop_domain::chain::sha256(&bytes)[0];
            }
        }
        plain.push(t.elapsed().as_secs_f64());
        std::hint::black_box(sink);
    }
    let mut full = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        let report = store.verify_chains().await?;
        full.push(t.elapsed().as_secs_f64());
        if !report.ok || report.events != events as u64 {
            bail!(
                "the generated history did not verify: {} events, first problem {:?}",
                report.events,
                report.first_problem()
            );
        }
    }
    let line = |name: &str, secs: f64| {
        println!(
            "{name:<58} {secs:>7.2} s  {:>10.0} events/s",
            events as f64 / secs
        )
    };
    println!(
        "{} runs each, median; {:.0} MB of bodies, {:.0} MB of canonical bytes",
        args.runs,
        bytes as f64 / 1e6,
        hashed_bytes as f64 / 1e6
    );
    line(
        "read floor: scan every event row (no hashing)",
        median(scan),
    );
    line(
        "baseline: plain SHA-256 of the same bytes (bodies rebuilt, no DB)",
        median(plain),
    );
    line("cityloop verify: every chain, link and root", median(full));
    Ok(())
}
