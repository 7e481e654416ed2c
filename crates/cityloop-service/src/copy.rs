//! `cityloop copy`: moves a pilot's data from one store to another (typically the SQLite
//! file to PostgreSQL) and proves the copy complete: equal row counts per table and an
//! equal checksum over every case's event chain, computed independently on both sides.

use std::sync::Arc;

use cityloop_store::Store;
use sha2::{Digest, Sha256};

use crate::auth::hex;
use crate::ServiceError;

/// Cases moved per transaction.
pub const BATCH: u32 = 500;

/// What a copy moved and how it was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub counts: Vec<(String, i64)>,
    pub cases: i64,
    pub events: i64,
    /// SHA-256 over every case's id and event chain, in id order (the same on both sides).
    pub checksum: String,
}

/// The checksum of all event chains in a store, and the case and event counts it covered.
pub async fn chain_checksum(store: &dyn Store) -> Result<(String, i64, i64), ServiceError> {
    let mut all = Sha256::new();
    let (mut cases, mut events) = (0i64, 0i64);
    let mut after = None;
    loop {
        let batch = store.export_cases(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.case.id);
        for rec in &batch {
            let mut chain = Sha256::new();
            for ev in &rec.events {
                let body = serde_json::to_vec(ev).map_err(|e| ServiceError::Internal(e.into()))?;
                chain.update((body.len() as u64).to_le_bytes());
                chain.update(&body);
                events += 1;
            }
            all.update(rec.case.id.to_string().as_bytes());
            all.update(chain.finalize());
            cases += 1;
        }
    }
    Ok((hex(&all.finalize()), cases, events))
}

/// Copies everything from `from` into the empty store `to`, then verifies.
pub async fn copy(from: Arc<dyn Store>, to: Arc<dyn Store>) -> Result<CopyReport, ServiceError> {
    let target = to.counts().await?;
    if target.iter().any(|(t, n)| *n > 0 && t != "categories") {
        return Err(ServiceError::Conflict(
            "the target database is not empty; copy only into a freshly migrated database".into(),
        ));
    }
    let snap = from.export_reference().await?;
    to.import_reference(&snap).await?;
    let mut after = None;
    loop {
        let batch = from.export_cases(after, BATCH).await?;
        let Some(last) = batch.last() else { break };
        after = Some(last.case.id);
        to.import_cases(&batch).await?;
    }
    to.import_case_links(&snap).await?;

    let (from_counts, to_counts) = (from.counts().await?, to.counts().await?);
    if from_counts != to_counts {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "row counts differ after the copy: source {from_counts:?}, target {to_counts:?}"
        )));
    }
    let (a, cases, events) = chain_checksum(&*from).await?;
    let (b, _, _) = chain_checksum(&*to).await?;
    if a != b {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "event-chain checksums differ after the copy: source {a}, target {b}"
        )));
    }
    Ok(CopyReport {
        counts: to_counts,
        cases,
        events,
        checksum: a,
    })
}
