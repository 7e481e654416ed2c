//! The demo's sample history (issue 17 item 6) on both stores: the same seed and clock give
//! the same history; the default history covers every state, source, street and light;
//! every case carries the demo marker and its events keep to the working calendar's order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::workflow::CaseState;
use cityloop_service::demo::load_demo;
use cityloop_service::demo_history::{HistoryOptions, HistorySummary, EXTERNAL_REF_PREFIX};
use cityloop_service::Services;
use cityloop_store::testing::TestDb;
use cityloop_store::CaseRecord;

/// Tuesday 2026-12-01 10:00 Beijing time.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap()
}

async fn generate(
    db: &TestDb,
    opts: HistoryOptions,
) -> (Services, HistorySummary, tempfile::TempDir) {
    load_demo(&db.store).await.unwrap();
    let media = tempfile::tempdir().unwrap();
    let at = now();
    let svc = Services::load(db.store.clone())
        .await
        .unwrap()
        .with_media_dir(media.path().to_path_buf())
        .with_clock(Arc::new(move || at));
    let sum = svc.generate_demo_history(opts).await.unwrap();
    (svc, sum, media)
}

/// A case's number, state and number of events.
type CaseShape = (String, String, usize);

async fn all_cases(db: &TestDb) -> Vec<CaseRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = db.store.export_cases(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.case.id);
        out.extend(page);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_and_clock_give_the_same_history_on_both_stores() {
    let opts = HistoryOptions {
        cases: 300,
        days: 60,
        seed: 7,
    };
    let mut seen: Vec<(HistorySummary, Vec<CaseShape>)> = Vec::new();
    for db in TestDb::all()
        .await
        .into_iter()
        .chain([TestDb::sqlite().await])
    {
        eprintln!("backend {:?}", db.store.backend());
        let (_svc, sum, _media) = generate(&db, opts).await;
        assert_eq!(sum.cases, 300);
        let mut cases: Vec<CaseShape> = all_cases(&db)
            .await
            .into_iter()
            .map(|r| {
                (
                    r.case.number.0.clone(),
                    r.case.state.as_str().to_owned(),
                    r.events.len(),
                )
            })
            .collect();
        cases.sort();
        seen.push((sum, cases));
    }
    for other in &seen[1..] {
        assert_eq!(other.0, seen[0].0, "same summary");
        assert_eq!(other.1, seen[0].1, "same numbers, states and event counts");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_history_covers_every_state_source_street_and_light() {
    let db = TestDb::sqlite().await;
    let started = std::time::Instant::now();
    let (svc, sum, _media) = generate(&db, HistoryOptions::default()).await;
    eprintln!(
        "generated {} cases, {} events in {:?}",
        sum.cases,
        sum.events,
        started.elapsed()
    );
    let cal = svc.calendar();
    let cases = all_cases(&db).await;
    assert_eq!(cases.len() as u64, sum.cases);
    let mut states = BTreeSet::new();
    let mut sources = BTreeSet::new();
    let mut streets = BTreeSet::new();
    let mut lights = BTreeMap::new();
    for r in &cases {
        let c = &r.case;
        assert!(
            c.external_ref
                .as_deref()
                .is_some_and(|e| e.starts_with(EXTERNAL_REF_PREFIX)),
            "{} carries the demo marker",
            c.number
        );
        assert!(c.description.starts_with("【演示】"));
        assert!(
            r.events.windows(2).all(|w| w[0].at <= w[1].at),
            "events in time order"
        );
        assert!(r.events.iter().all(|e| e.at <= now()), "nothing after now");
        states.insert(c.state);
        sources.insert(c.source.as_str().to_owned());
        if let Some(s) = &c.routing.street_code {
            streets.insert(s.clone());
        }
        if let Some(l) = c.light(&cal, now()) {
            *lights.entry(format!("{l:?}")).or_insert(0) += 1;
        }
        // Workflow steps by staff happen on working time (the report itself may not).
        for e in &r.events[1..] {
            assert!(
                cal.is_working_instant(e.at) || e.at == r.events[0].at,
                "{} event {} at {} is outside working time",
                c.number,
                e.seq,
                e.at
            );
        }
    }
    for s in [
        CaseState::Received,
        CaseState::ToVerify,
        CaseState::ToRegister,
        CaseState::ToDispatch,
        CaseState::Handling,
        CaseState::ExtensionPending,
        CaseState::Suspended,
        CaseState::ToCheck,
        CaseState::ToCallback,
        CaseState::ToClose,
        CaseState::Closed,
        CaseState::Voided,
    ] {
        assert!(states.contains(&s), "a case in state {s}: {states:?}");
    }
    for s in [
        "inspector",
        "public",
        "hotline_12345",
        "sensor",
        "video",
        "road_chief",
        "patrol",
        "leader",
        "media",
        "petition",
    ] {
        assert!(sources.contains(s), "a case from {s}");
    }
    let territory_streets = svc
        .cached()
        .units
        .iter()
        .filter(|u| u.kind == cityloop_domain::model::UnitKind::Street)
        .count();
    assert_eq!(streets.len(), territory_streets, "a case in every street");
    for l in [Light::Green, Light::Yellow, Light::Red] {
        assert!(
            lights.contains_key(&format!("{l:?}")),
            "a {l:?} case: {lights:?}"
        );
    }
    assert!(
        svc.demo_history().await.unwrap().is_some(),
        "the marker setting is written"
    );
}
