//! The operator's commands for the history and the data: `cityloop verify`, `backup`,
//! `restore`, `bench verify`, and the server's maintenance loop (roots on schedule, WAL
//! checkpoints). Argument parsing and printing only; the work is in
//! `cityloop_service::{integrity, backup}`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cityloop_service::integrity::{self, RootPolicy};
use cityloop_service::Services;

/// `cityloop verify`
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: crate::DbArg,
    /// Also check that every attachment's files are in this folder (default: the media
    /// folder beside the SQLite file, when it exists).
    #[arg(long, env = "CITYLOOP_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,
    /// Print the whole report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// `cityloop backup`
#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: crate::DbArg,
    /// The backup folder to create (must not exist).
    #[arg(long)]
    pub to: PathBuf,
    /// The media folder to include (default: `attachments` beside the SQLite file).
    #[arg(long, env = "CITYLOOP_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,
}

/// `cityloop restore`
#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup folder made by `cityloop backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// The SQLite file to create (must not exist).
    #[arg(long)]
    pub db: PathBuf,
    /// Where to put the photos (default: `attachments` beside the database).
    #[arg(long)]
    pub media_dir: Option<PathBuf>,
}

/// The server's maintenance pass (docs/OPERATIONS.md, "Verify" and "WAL").
#[derive(clap::Args)]
pub struct MaintenanceArgs {
    /// How often the pass runs: seal a history root when one is due, then checkpoint and
    /// truncate the SQLite WAL (0 turns the pass off).
    #[arg(long, default_value = "10s", env = "CITYLOOP_MAINTENANCE_EVERY")]
    pub maintenance_every: String,
    /// Seal a root as soon as this many events are not covered by one.
    #[arg(long, default_value_t = 1000, env = "CITYLOOP_ROOT_EVERY_EVENTS")]
    pub root_every_events: i64,
    /// Or when the last root is this old (and an event is not covered).
    #[arg(long, default_value = "24h", env = "CITYLOOP_ROOT_MAX_AGE")]
    pub root_max_age: String,
}

impl MaintenanceArgs {
    /// The pass interval (None: off) and the root policy.
    pub fn parse(&self) -> Result<(Option<Duration>, RootPolicy)> {
        use cityloop_domain::webhook::parse_duration;
        let every = parse_duration(&self.maintenance_every)
            .map_err(|e| anyhow::anyhow!("--maintenance-every: {e}"))?;
        let max_age = parse_duration(&self.root_max_age)
            .map_err(|e| anyhow::anyhow!("--root-max-age: {e}"))?;
        if self.root_every_events < 1 {
            bail!("--root-every-events must be at least 1");
        }
        Ok((
            (!every.is_zero()).then_some(every),
            RootPolicy {
                every_events: self.root_every_events,
                max_age,
            },
        ))
    }
}

/// The maintenance loop of a server.
pub async fn maintenance(svc: Services, every: Duration, policy: RootPolicy) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match integrity::maintenance_pass(&*svc.store, &policy, svc.now()).await {
            Ok(p) => {
                if let Some(c) = p.checkpoint.filter(|c| c.busy != 0) {
                    tracing::debug!(
                        wal.frames = c.log_frames,
                        "WAL checkpoint could not finish (a reader); retrying next pass"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "maintenance pass failed; retrying next tick"),
        }
    }
}

fn sqlite_path(db: &str) -> Option<PathBuf> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        None
    } else {
        Some(PathBuf::from(db.strip_prefix("sqlite://").unwrap_or(db)))
    }
}

pub async fn verify(args: VerifyArgs) -> Result<()> {
    let store = crate::open(&args.db.db, false).await?;
    let media = args.media_dir.clone().or_else(|| {
        sqlite_path(&args.db.db).map(|_| cityloop_service::attachments::default_dir(&args.db.db))
    });
    let started = Instant::now();
    let run = integrity::verify(&*store, media.as_deref(), "cli").await?;
    let r = &run.report;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        println!(
            "verified {} events of {} cases and {} roots in {:.2} s ({} events after the last root)",
            r.events,
            r.cases,
            r.roots,
            started.elapsed().as_secs_f64(),
            r.unrooted
        );
        if let Some(root) = &r.last_root {
            println!(
                "last root {} sealed {} over {} events: {}",
                root.seq,
                root.sealed_at.to_rfc3339(),
                root.events,
                root.root
            );
        }
        for p in r.problems.iter().take(20) {
            println!("  BROKEN {p}");
        }
        if r.problem_count > 20 {
            println!(
                "  … {} more (--json lists up to 1000)",
                r.problem_count - 20
            );
        }
    }
    match r.first_problem() {
        None => {
            if !args.json {
                println!("OK: every chain and root matches");
            }
            Ok(())
        }
        Some(first) => bail!(
            "the history does not verify: {} problem(s); first: {first}",
            r.problem_count
        ),
    }
}

pub async fn backup(args: BackupArgs) -> Result<()> {
    let Some(_) = sqlite_path(&args.db.db) else {
        bail!(
            "cityloop backup copies SQLite databases only; back up PostgreSQL with `pg_dump -Fc` (or a base backup with WAL archiving) and copy the attachments folder after the dump (docs/OPERATIONS.md, \"Backups\")"
        );
    };
    let store = crate::open(&args.db.db, false).await?;
    let media = args
        .media_dir
        .clone()
        .unwrap_or_else(|| cityloop_service::attachments::default_dir(&args.db.db));
    let started = Instant::now();
    let m = cityloop_service::backup::backup(&*store, &media, &args.to)
        .await
        .with_context(|| format!("backing up {} to {}", args.db.db, args.to.display()))?;
    println!(
        "backup {}: database {} bytes (sha256 {}), {} attachment files, in {:.2} s",
        args.to.display(),
        m.database.size,
        m.database.sha256,
        m.attachments.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<()> {
    let media = args.media_dir.clone().unwrap_or_else(|| {
        cityloop_service::attachments::default_dir(&args.db.display().to_string())
    });
    let r = cityloop_service::backup::restore(&args.from, &args.db, &media)
        .await
        .with_context(|| format!("restoring {}", args.from.display()))?;
    let v = &r.verify.report;
    println!(
        "restored {} (taken {}) into {} and {} ({} files written); verified {} events of {} cases",
        args.from.display(),
        r.manifest.created_at.to_rfc3339(),
        args.db.display(),
        media.display(),
        r.files_written,
        v.events,
        v.cases
    );
    match v.first_problem() {
        None => {
            println!("OK: every chain and root matches");
            Ok(())
        }
        Some(first) => bail!(
            "the restored history does not verify: {} problem(s); first: {first}",
            v.problem_count
        ),
    }
}
