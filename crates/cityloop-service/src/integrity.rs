//! Tamper-evident history, the use cases: verify every chain and root and keep the result,
//! seal roots on schedule, checkpoint the SQLite WAL, and the admin view of all three.
//!
//! The hashing itself is pure (`cityloop_domain::chain`); the links are written by the store
//! in each event's transaction. This module decides *when* a root is due (every N events or
//! after a maximum age, [`RootPolicy`]) and runs the server's periodic maintenance pass
//! ([`maintenance_pass`]). `cityloop verify`, `cityloop restore` and the admin console call
//! [`verify`].

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cityloop_domain::chain::{RootRow, VerifyReport};
use cityloop_domain::model::Person;
use cityloop_store::{ChainStatus, Checkpoint, Store, VerifyRun};
use serde::Serialize;

use crate::{ServiceError, Services};

/// When the server seals a root over the links recorded since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootPolicy {
    /// As soon as this many links are not yet covered by a root.
    pub every_events: i64,
    /// Or when the last root is this old (and at least one link is uncovered).
    pub max_age: Duration,
}

impl Default for RootPolicy {
    fn default() -> Self {
        RootPolicy {
            every_events: 1000,
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// Seals a root when `policy` says one is due; None when not due or nothing to cover.
pub async fn seal_due(
    store: &dyn Store,
    policy: &RootPolicy,
    now: DateTime<Utc>,
) -> Result<Option<RootRow>, ServiceError> {
    let st = store.chain_status().await?;
    if st.unrooted == 0 {
        return Ok(None);
    }
    let age_due = st.last_root.as_ref().is_none_or(|r| {
        (now - r.sealed_at)
            .to_std()
            .is_ok_and(|age| age >= policy.max_age)
    });
    if st.unrooted < policy.every_events && !age_due {
        return Ok(None);
    }
    let root = store.seal_root(now).await?;
    if let Some(r) = &root {
        // The log is a copy of every root outside the database (docs/OPERATIONS.md).
        tracing::info!(
            chain.root_seq = r.seq,
            chain.events = r.events,
            chain.root = %r.root,
            "Sealed history root {} over {} events: {}",
            r.seq,
            r.events,
            r.root
        );
    }
    Ok(root)
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenancePass {
    pub root: Option<RootRow>,
    pub checkpoint: Option<Checkpoint>,
}

/// The server's periodic pass: seal a root if one is due, then checkpoint the WAL.
pub async fn maintenance_pass(
    store: &dyn Store,
    policy: &RootPolicy,
    now: DateTime<Utc>,
) -> Result<MaintenancePass, ServiceError> {
    let root = seal_due(store, policy, now).await?;
    let checkpoint = store.wal_checkpoint().await?;
    Ok(MaintenancePass { root, checkpoint })
}

/// Recomputes every chain and root, checks that every attachment row has its two files in
/// `media_dir` (when given and present), and stores the result as run by `ran_by`.
pub async fn verify(
    store: &dyn Store,
    media_dir: Option<&Path>,
    ran_by: &str,
) -> Result<VerifyRun, ServiceError> {
    let started_at = Utc::now();
    let mut report = store.verify_chains().await?;
    if let Some(dir) = media_dir.filter(|d| d.is_dir()) {
        check_media(store, dir, &mut report).await?;
    }
    let run = VerifyRun {
        id: uuid::Uuid::now_v7(),
        started_at,
        finished_at: Utc::now(),
        ran_by: ran_by.to_owned(),
        report,
    };
    store.record_verify_run(&run).await?;
    Ok(run)
}

/// Adds a problem for every attachment whose original or public copy is missing.
async fn check_media(
    store: &dyn Store,
    dir: &Path,
    report: &mut VerifyReport,
) -> Result<(), ServiceError> {
    use cityloop_domain::chain::{Problem, ProblemKind, MAX_PROBLEMS};
    let rows = store.export_reference().await?.attachments;
    for a in rows {
        let missing: Vec<String> = crate::attachments::file_names(&a.sha256, &a.mime)
            .into_iter()
            .filter(|rel| !dir.join(rel).is_file())
            .collect();
        if missing.is_empty() {
            continue;
        }
        report.ok = false;
        report.problem_count += 1;
        if report.problems.len() < MAX_PROBLEMS {
            report.problems.push(Problem {
                kind: ProblemKind::EventMissing,
                case_id: None,
                case_number: None,
                seq: None,
                root: None,
                detail: format!(
                    "attachment {} ({}): file {} missing in {}",
                    a.id,
                    a.sha256,
                    missing.join(", "),
                    dir.display()
                ),
            });
        }
    }
    Ok(())
}

/// The admin console's integrity page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntegrityView {
    /// The newest verification (CLI, restore or console), if any ran.
    pub last_verify: Option<VerifyRun>,
    pub chain: ChainStatus,
}

impl Services {
    /// The last verification and the chain's state (admins only).
    pub async fn admin_integrity(&self, me: &Person) -> Result<IntegrityView, ServiceError> {
        crate::admin::require_admin(me)?;
        Ok(IntegrityView {
            last_verify: self.store.last_verify_run().await?,
            chain: self.store.chain_status().await?,
        })
    }

    /// Runs a verification now, as the console's button does (admins only).
    pub async fn admin_verify(&self, me: &Person) -> Result<VerifyRun, ServiceError> {
        crate::admin::require_admin(me)?;
        verify(&*self.store, Some(&self.media.dir), "admin").await
    }
}
