//! `cityloop bench import`: `cityloop import` of a records file (default: the Boston 311
//! file through its shipped mapping) into a fresh demo database, SQLite and (with `--pg`)
//! PostgreSQL, beside the baseline measured in the same run on the same file: the
//! checking pass alone (read, decode, map, route; nothing written, as `--dry-run`).
//! Rows per second of each, their ratio, and the process's peak resident memory during
//! each phase (`VmHWM` after resetting it through `/proc/self/clear_refs`; Linux only).
//! With `--generate N` a 12345 export of N generated rows is measured the same way, so
//! the peak memory of a small and a large file can be compared (flat in the file size).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cityloop_service::import::{parse_mapping, ImportOptions, ImportSummary};
use cityloop_service::Services;
use cityloop_store::Store;

#[derive(clap::Args)]
pub struct Args {
    /// The records file.
    #[arg(
        long,
        default_value = "../shared/data/workload/boston311_2015_jan-sep.csv.gz"
    )]
    file: PathBuf,
    /// Its mapping.
    #[arg(long, default_value = "data/import/boston311.toml")]
    mapping: PathBuf,
    /// PostgreSQL URL of an empty scratch database to measure on as well.
    #[arg(long)]
    pg: Option<String>,
    /// Also measure a generated 12345 export of this many rows (through
    /// data/import/12345-export.toml); 0 to skip.
    #[arg(long, default_value_t = 0)]
    generate: u64,
}

fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}

async fn phase(
    svc: &Services,
    file: &Path,
    mapping: &str,
    dry_run: bool,
) -> Result<(f64, u64, ImportSummary)> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting VmHWM")?;
    let t = Instant::now();
    let opts = ImportOptions {
        dry_run,
        all_or_nothing: false,
    };
    let sum = svc
        .import_file(file, parse_mapping(mapping)?, opts, None)
        .await?;
    let secs = t.elapsed().as_secs_f64();
    Ok((secs, status_kib("VmHWM:")?, sum))
}

async fn measure(name: &str, store: Arc<dyn Store>, file: &Path, mapping: &str) -> Result<()> {
    cityloop_service::demo::load_demo(&store).await?;
    let svc = Services::load(store).await?;
    let (base_s, base_kib, base) = phase(&svc, file, mapping, true).await?;
    let (s, kib, sum) = phase(&svc, file, mapping, false).await?;
    let rate = |rows: u64, secs: f64| rows as f64 / secs.max(1e-9);
    println!(
        "  {name:<10} check only (baseline): {:>9.0} rows/s, peak RSS {:>5} MiB  ({} rows, {:.1} s)",
        rate(base.rows, base_s),
        base_kib / 1024,
        base.rows,
        base_s
    );
    println!(
        "  {name:<10} import:                {:>9.0} rows/s, peak RSS {:>5} MiB  ({} new cases, {} refused, {:.1} s) = {:.2}× the baseline's time per row",
        rate(sum.rows, s),
        kib / 1024,
        sum.written,
        sum.refused,
        s,
        s / base_s.max(1e-9)
    );
    Ok(())
}

/// A 12345 export of `rows` generated rows (8 of 10 closed), UTF-8.
fn generate(path: &Path, rows: u64) -> Result<()> {
    let types = [
        "占道经营",
        "噪声扰民",
        "暴露垃圾",
        "道路破损",
        "路灯不亮",
        "机动车乱停放",
    ];
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "工单编号,来电时间,来电人,联系电话,诉求内容,诉求类型,事发地址,承办单位,办结时间,办理结果,满意度")?;
    for i in 0..rows {
        let day = 1 + (i / 4000) % 28;
        let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
        let t = types[(i % types.len() as u64) as usize];
        let closed = if i % 10 < 8 {
            format!("2025-03-{:02} {:02}:{:02}:{:02}", day.min(27) + 1, h, m, s)
        } else {
            String::new()
        };
        writeln!(
            w,
            "GB{i:08},2025-03-{day:02} {h:02}:{m:02}:{s:02},市民{i},1380000{:04},{t}（生成数据 #{i}）,{t},大学路{}号,德化街街道,{closed},已处理,满意",
            i % 10_000,
            i % 300
        )?;
    }
    w.flush()?;
    Ok(())
}

pub async fn run(args: Args) -> Result<()> {
    let mapping = std::fs::read_to_string(&args.mapping)
        .with_context(|| format!("cannot read {}", args.mapping.display()))?;
    let tmp = tempfile::tempdir()?;
    let mut files = vec![(args.file.clone(), mapping.clone())];
    if args.generate > 0 {
        let m = std::fs::read_to_string("data/import/12345-export.toml")
            .context("cannot read data/import/12345-export.toml (run from the repository)")?;
        let path = tmp.path().join("generated-12345.csv");
        generate(&path, args.generate)?;
        files.push((path, m));
    }
    for (i, (file, mapping)) in files.iter().enumerate() {
        println!("cityloop bench import: {}", file.display());
        let db = tmp.path().join(format!("import-{i}.db"));
        let sqlite: Arc<dyn Store> = Arc::new(cityloop_store::SqliteStore::open(&db, true).await?);
        measure("SQLite", sqlite, file, mapping).await?;
        if let Some(pg) = &args.pg {
            if i > 0 {
                println!("  PostgreSQL: skipped for the second file (the scratch database holds the first)");
                continue;
            }
            let store = cityloop_store::open(pg, true).await?;
            measure("PostgreSQL", store, file, mapping).await?;
        }
    }
    Ok(())
}
