//! `cityloop bench intake`: durable case-creation throughput and latency through the
//! real use case (routing, numbering, case row, event row, view) on a store, beside the
//! floor — single-row durable inserts of a row of the same size into the same database.
//!
//! Figures are printed, never asserted; see docs/benchmarks in the issue notes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cityloop_domain::case::Contact;
use cityloop_domain::model::{Actor, ActorRole, CategoryCode, Priority, Role, Source};
use cityloop_store::Store;

use crate::cases::ReportInput;
use crate::{ServiceError, Services};

/// One measured run.
#[derive(Debug, Clone)]
pub struct IntakeFigures {
    pub label: String,
    pub ops: usize,
    pub clients: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl IntakeFigures {
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for IntakeFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<44} {:>7} ops  {:>2} clients  {:>9.0} /s  p50 {:>8.3} ms  p99 {:>8.3} ms",
            self.label,
            self.ops,
            self.clients,
            self.per_second(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3
        )
    }
}

fn figures(
    label: String,
    clients: usize,
    elapsed: Duration,
    mut lat: Vec<Duration>,
) -> IntakeFigures {
    lat.sort_unstable();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    IntakeFigures {
        label,
        ops: lat.len(),
        clients,
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// Creates `ops` cases through `report_case` with `clients` concurrent callers.
pub async fn intake(
    svc: &Services,
    ops: usize,
    clients: usize,
) -> Result<IntakeFigures, ServiceError> {
    let actor = Actor {
        person_id: None,
        role: ActorRole::Staff(Role::Inspector),
        unit_id: None,
    };
    let category = CategoryCode::parse_service_code("06010")
        .map_err(|e| ServiceError::invalid("category", e.to_string()))?;
    let per_client = ops.div_ceil(clients.max(1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients.max(1) {
        let svc = svc.clone();
        let actor = actor.clone();
        let category = category.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let input = ReportInput {
                    source: Source::Inspector,
                    priority: Priority::Normal,
                    category: category.clone(),
                    area_grade: None,
                    description: format!("基准测试案件 client {c} #{i}：人行道暴露垃圾，需清运"),
                    lon: 113.60 + (i % 100) as f64 * 0.0005,
                    lat: 34.70 + (c % 10) as f64 * 0.003,
                    address: Some("二七区 基准测试地址".into()),
                    reporter: Contact::default(),
                    media: Vec::new(),
                    external_ref: None,
                };
                let t = Instant::now();
                svc.report_case(&actor, input).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, ServiceError>(lat)
        }));
    }
    let mut all = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.map_err(|e| ServiceError::Internal(e.into()))??);
    }
    let backend = format!("{:?}", svc.store.backend()).to_lowercase();
    Ok(figures(
        format!("case creation via report_case ({backend})"),
        clients,
        start.elapsed(),
        all,
    ))
}

/// The floor: one durable single-row INSERT per acknowledgement, rows of case size.
pub async fn raw_floor(
    store: &Arc<dyn Store>,
    ops: usize,
    clients: usize,
) -> Result<IntakeFigures, ServiceError> {
    let per_client = ops.div_ceil(clients.max(1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let payload = "x".repeat(1500);
    for c in 0..clients.max(1) {
        let store = store.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                store
                    .put_setting(
                        &format!("bench:{c}:{i}"),
                        &serde_json::Value::String(payload.clone()),
                    )
                    .await?;
                lat.push(t.elapsed());
            }
            Ok::<_, ServiceError>(lat)
        }));
    }
    let mut all = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.map_err(|e| ServiceError::Internal(e.into()))??);
    }
    let backend = format!("{:?}", store.backend()).to_lowercase();
    Ok(figures(
        format!("floor: 1-row durable INSERT ({backend})"),
        clients,
        start.elapsed(),
        all,
    ))
}

/// Rows written together per commit by [`batched_floor`].
pub const FLOOR_BATCH: usize = 256;

/// The batched floor: case-sized rows written [`FLOOR_BATCH`] to a commit by one client,
/// the database's throughput when rows share an fsync (what a group commit can approach).
pub async fn batched_floor(
    store: &Arc<dyn Store>,
    ops: usize,
) -> Result<IntakeFigures, ServiceError> {
    let payload = serde_json::Value::String("x".repeat(1500));
    let start = Instant::now();
    let mut lat = Vec::with_capacity(ops);
    let mut done = 0;
    while done < ops {
        let n = FLOOR_BATCH.min(ops - done);
        let items: Vec<(String, serde_json::Value)> = (done..done + n)
            .map(|i| (format!("bench-batch:{i}"), payload.clone()))
            .collect();
        let t = Instant::now();
        store.put_settings(&items).await?;
        // Every row of the batch waited for the same commit.
        lat.extend(std::iter::repeat_n(t.elapsed(), n));
        done += n;
    }
    let backend = format!("{:?}", store.backend()).to_lowercase();
    Ok(figures(
        format!("floor: {FLOOR_BATCH} rows per commit ({backend})"),
        1,
        start.elapsed(),
        lat,
    ))
}
