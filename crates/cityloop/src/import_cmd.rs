//! `cityloop import FILE --mapping MAPPING.toml`: historical records into cases (the work
//! is `cityloop_service::import`); this file parses the arguments, draws the progress bar
//! on stderr and prints the summary and the refused rows.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use cityloop_service::import::{parse_mapping, ImportOptions, ImportSummary, Progress};
use cityloop_service::Services;

/// `cityloop import`
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub db: crate::DbArg,
    /// The records: CSV (UTF-8 or GBK, optionally gzip-compressed) or xlsx (first sheet).
    pub file: PathBuf,
    /// The mapping file (TOML; shipped ones are in data/import/, documented in docs/IMPORT.md).
    #[arg(long)]
    pub mapping: PathBuf,
    /// Check every row and print what would be imported and every refused row; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write nothing if any row is refused (the file is read twice).
    #[arg(long)]
    pub all_or_nothing: bool,
    /// Print at most this many refused rows (all are counted).
    #[arg(long, default_value_t = 200)]
    pub show_refused: usize,
}

pub async fn run(args: ImportArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.mapping)
        .with_context(|| format!("cannot read the mapping {}", args.mapping.display()))?;
    let mapping = parse_mapping(&text)?;
    let svc = Services::load(crate::open(&args.db.db, false).await?).await?;
    let total = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tick = bar.clone();
    let progress: Progress = Arc::new(move |bytes, rows| {
        tick.set_position(bytes);
        tick.set_message(format!("{rows} rows"));
    });
    let opts = ImportOptions {
        dry_run: args.dry_run,
        all_or_nothing: args.all_or_nothing,
    };
    let started = std::time::Instant::now();
    let sum = svc
        .import_file(&args.file, mapping, opts, Some(progress))
        .await;
    bar.finish_and_clear();
    let sum = sum?;
    print_summary(&sum, args.show_refused, started.elapsed());
    if sum.aborted {
        bail!(
            "{} row(s) refused; --all-or-nothing wrote nothing",
            sum.refused
        );
    }
    Ok(())
}

fn print_summary(sum: &ImportSummary, show: usize, took: std::time::Duration) {
    for r in sum.refusals.iter().take(show) {
        println!("refused {r}");
    }
    if sum.refused as usize > show.min(sum.refusals.len()) {
        println!(
            "… and {} more refused row(s)",
            sum.refused as usize - show.min(sum.refusals.len())
        );
    }
    let verb = if sum.dry_run || sum.aborted {
        "would import"
    } else {
        "imported"
    };
    let by: Vec<String> = sum
        .by_status
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "{} rows read ({}): {} accepted ({}), {} refused; {verb} {} new case(s), {} already present; {} with the location unknown; {:.1} s",
        sum.rows,
        sum.encoding,
        sum.accepted,
        by.join(", "),
        sum.refused,
        sum.written,
        sum.already_present,
        sum.location_unknown,
        took.as_secs_f64()
    );
}
