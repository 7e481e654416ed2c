//! The tamper-evident history on both stores: every event is hash-linked in its own
//! transaction, roots seal the links, and `verify_chains` names an edited or deleted event
//! once the append-only triggers are out of the way (as an attacker with the database file
//! or a superuser would have them).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cityloop_domain::calendar::{LimitUnit, TimeLimit, WorkCalendar};
use cityloop_domain::case::{Case, Contact, Ctx, Location, NewCase, Routing};
use cityloop_domain::chain::ProblemKind;
use cityloop_domain::ids::{CaseId, CaseNumber, PersonId};
use cityloop_domain::limits::{LimitRule, LimitTable, Stage};
use cityloop_domain::model::{Actor, ActorRole, AreaGrade, CategoryCode, Priority, Role, Source};
use cityloop_domain::workflow::{Action, Command};
use cityloop_store::testing::TestDb;
use cityloop_store::{Backend, Store, StoreError, VerifyRun};

macro_rules! store_test {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                $body(&db).await;
            }
        }
    };
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn limits() -> LimitTable {
    LimitTable::new(
        Stage::ALL
            .iter()
            .map(|&stage| LimitRule {
                category: None,
                grade: None,
                priority: None,
                stage,
                limit: TimeLimit {
                    amount: 2,
                    unit: LimitUnit::WorkingHours,
                },
                source: "test".into(),
            })
            .collect(),
    )
    .unwrap()
}

fn actor(role: Role) -> Actor {
    Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(role),
        unit_id: None,
    }
}

/// Reports case `n` and runs `accept` and `void` on it: three events.
async fn case_with_three_events(store: &Arc<dyn Store>, n: i64) -> Case {
    let cal = WorkCalendar::china_2026();
    let limits = limits();
    let ctx = |now| Ctx {
        now,
        calendar: &cal,
        limits: &limits,
    };
    let new = NewCase {
        source: Source::Inspector,
        priority: Priority::Normal,
        category: CategoryCode::parse_service_code("06010").unwrap(),
        area_grade: AreaGrade::B,
        description: format!("德化街暴露垃圾 #{n}"),
        location: Location {
            lon: 113.66,
            lat: 34.75,
            address: None,
        },
        routing: Routing::default(),
        reporter: Contact::default(),
        media: vec![],
        external_ref: None,
        follows: None,
    };
    // Sub-microsecond parts on purpose: the hash must agree with what the database keeps.
    let at = t0() + Duration::nanoseconds(n * 1_000_123_457);
    let (mut case, ev) = Case::report(
        CaseId::new_v7(),
        CaseNumber(format!("410103-20261126-{n:04}")),
        new,
        &actor(Role::Inspector),
        ctx(at),
    )
    .unwrap();
    store.create_case(&case, None, &ev).await.unwrap();
    for (i, (action, cmd)) in [
        (Action::Accept, Command::default()),
        (
            Action::Void,
            Command {
                reason: Some("重复上报".into()),
                ..Command::default()
            },
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let now = at + Duration::minutes(i as i64 + 1);
        let ev = case
            .decide(action, &cmd, &actor(Role::Operator), ctx(now))
            .unwrap();
        case.apply(&ev).unwrap();
        store.append_event(&case, None, &ev).await.unwrap();
    }
    case
}

/// Drops the append-only triggers of `case_events` (what an attacker would do first).
async fn drop_event_triggers(db: &TestDb) {
    let stmts: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER case_events_no_update",
            "DROP TRIGGER case_events_no_delete",
            "DROP TRIGGER case_event_chain_no_update",
            "DROP TRIGGER case_event_chain_no_delete",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER case_events_no_update ON case_events",
            "DROP TRIGGER case_event_chain_no_update ON case_event_chain",
        ],
    };
    for s in stmts {
        db.raw.execute(s).await.unwrap();
    }
}

async fn an_untouched_history_verifies_clean_and_counts_what_it_covered(db: &TestDb) {
    for n in 1..=3 {
        case_with_three_events(&db.store, n).await;
    }
    let root = db.store.seal_root(t0()).await.unwrap().expect("a root");
    assert_eq!((root.seq, root.events), (1, 9));
    case_with_three_events(&db.store, 4).await;
    let r = db.store.verify_chains().await.unwrap();
    assert!(r.ok, "{:?}", r.problems);
    assert_eq!((r.cases, r.events, r.roots, r.unrooted), (4, 12, 1, 3));
    assert_eq!(r.last_root.unwrap().root, root.root);
}
store_test!(
    untouched_history_verifies_clean,
    an_untouched_history_verifies_clean_and_counts_what_it_covered
);

async fn an_edited_event_body_is_named_by_case_number_and_seq(db: &TestDb) {
    case_with_three_events(&db.store, 1).await;
    let case = case_with_three_events(&db.store, 2).await;
    db.store.seal_root(t0()).await.unwrap();
    drop_event_triggers(db).await;
    let edited = db
        .raw
        .execute(&format!(
            "UPDATE case_events SET body = REPLACE(body, '重复上报', '已处置') WHERE case_id = '{}' AND seq = 3",
            case.id
        ))
        .await
        .unwrap();
    assert_eq!(edited, 1);
    let r = db.store.verify_chains().await.unwrap();
    assert!(!r.ok);
    let first = r.first_problem().unwrap();
    assert_eq!(first.kind, ProblemKind::ContentChanged, "{first}");
    assert_eq!(first.case_number.as_deref(), Some("410103-20261126-0002"));
    assert_eq!(first.seq, Some(3));
    assert_eq!(
        r.problem_count, 1,
        "only the edited event: {:?}",
        r.problems
    );
}
store_test!(
    edited_event_body_is_named,
    an_edited_event_body_is_named_by_case_number_and_seq
);

async fn an_edited_column_is_named_with_what_differs(db: &TestDb) {
    let case = case_with_three_events(&db.store, 1).await;
    drop_event_triggers(db).await;
    db.raw
        .execute(&format!(
            "UPDATE case_events SET to_state = 'closed' WHERE case_id = '{}' AND seq = 2",
            case.id
        ))
        .await
        .unwrap();
    let r = db.store.verify_chains().await.unwrap();
    let first = r.first_problem().unwrap();
    assert_eq!(
        (first.kind, first.seq),
        (ProblemKind::ContentChanged, Some(2))
    );
    assert!(
        first.detail.contains("column to_state is \"closed\""),
        "{}",
        first.detail
    );
}
store_test!(
    edited_event_column_is_named,
    an_edited_column_is_named_with_what_differs
);

async fn a_deleted_event_is_caught_in_the_middle_and_at_the_end(db: &TestDb) {
    let a = case_with_three_events(&db.store, 1).await;
    let b = case_with_three_events(&db.store, 2).await;
    db.store.seal_root(t0()).await.unwrap();
    drop_event_triggers(db).await;
    // The middle event of case 1, its row only: the link names it, the gap too.
    db.raw
        .execute(&format!(
            "DELETE FROM case_events WHERE case_id = '{}' AND seq = 2",
            a.id
        ))
        .await
        .unwrap();
    // The last event of case 2 with its link, and the case view set back to match:
    // no gap, no version mismatch; only the root can tell.
    for sql in [
        format!(
            "DELETE FROM case_events WHERE case_id = '{}' AND seq = 3",
            b.id
        ),
        format!(
            "DELETE FROM case_event_chain WHERE case_id = '{}' AND seq = 3",
            b.id
        ),
        format!("UPDATE cases SET version = 2 WHERE id = '{}'", b.id),
    ] {
        assert_eq!(db.raw.execute(&sql).await.unwrap(), 1, "{sql}");
    }
    let r = db.store.verify_chains().await.unwrap();
    assert!(!r.ok);
    let named: Vec<_> = r
        .problems
        .iter()
        .map(|p| (p.kind, p.case_number.clone(), p.seq, p.root))
        .collect();
    let one = Some("410103-20261126-0001".to_owned());
    assert!(
        named.contains(&(ProblemKind::EventMissing, one.clone(), Some(2), None)),
        "{named:?}"
    );
    assert!(
        named.contains(&(ProblemKind::EventMissing, one, Some(3), None)),
        "the gap before event 3: {named:?}"
    );
    let root = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::RootMismatch)
        .expect("the root catches the removed last event");
    assert_eq!(root.root, Some(1));
    assert!(root.detail.contains("covered 6 events"), "{}", root.detail);
}
store_test!(
    deleted_event_is_caught,
    a_deleted_event_is_caught_in_the_middle_and_at_the_end
);

async fn a_deleted_last_event_before_any_root_is_caught_by_the_case_version(db: &TestDb) {
    let a = case_with_three_events(&db.store, 1).await;
    drop_event_triggers(db).await;
    for sql in [
        format!(
            "DELETE FROM case_events WHERE case_id = '{}' AND seq = 3",
            a.id
        ),
        format!(
            "DELETE FROM case_event_chain WHERE case_id = '{}' AND seq = 3",
            a.id
        ),
    ] {
        db.raw.execute(&sql).await.unwrap();
    }
    let r = db.store.verify_chains().await.unwrap();
    let first = r.first_problem().unwrap();
    assert_eq!(
        (first.kind, first.seq),
        (ProblemKind::HistoryShort, Some(3)),
        "{first}"
    );
}
store_test!(
    deleted_last_event_is_caught_by_version,
    a_deleted_last_event_before_any_root_is_caught_by_the_case_version
);

async fn roots_chain_to_each_other_and_cover_each_link_once(db: &TestDb) {
    assert_eq!(
        db.store.seal_root(t0()).await.unwrap(),
        None,
        "nothing to seal"
    );
    case_with_three_events(&db.store, 1).await;
    let r1 = db.store.seal_root(t0()).await.unwrap().unwrap();
    assert_eq!(db.store.seal_root(t0()).await.unwrap(), None);
    case_with_three_events(&db.store, 2).await;
    let status = db.store.chain_status().await.unwrap();
    assert_eq!(status.unrooted, 3);
    let r2 = db
        .store
        .seal_root(t0() + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r2.seq, r2.events), (2, 3));
    assert_eq!(r2.prev_root, r1.root);
    assert_eq!(r2.period_from, Some(r1.sealed_at));
    assert_eq!(db.store.chain_status().await.unwrap().unrooted, 0);
    assert!(db.store.verify_chains().await.unwrap().ok);
}
store_test!(
    roots_chain,
    roots_chain_to_each_other_and_cover_each_link_once
);

async fn links_and_roots_are_append_only(db: &TestDb) {
    case_with_three_events(&db.store, 1).await;
    // Assigning uncovered links to a root is the one change allowed.
    db.store.seal_root(t0()).await.unwrap().unwrap();
    for sql in [
        "UPDATE case_event_chain SET hash = 'x'",
        "UPDATE case_event_chain SET root_seq = 7",
        "DELETE FROM case_event_chain",
        "UPDATE chain_roots SET events = 1",
        "DELETE FROM chain_roots",
    ] {
        assert!(db.raw.execute(sql).await.is_err(), "{sql} must be refused");
    }
    assert!(db.store.verify_chains().await.unwrap().ok);
}
store_test!(links_and_roots_append_only, links_and_roots_are_append_only);

async fn history_from_before_the_chain_is_sealed_once_as_stored(db: &TestDb) {
    let a = case_with_three_events(&db.store, 1).await;
    let b = case_with_three_events(&db.store, 2).await;
    // Make it look like a database from before migration 0011: no links, roots or state.
    let stmts: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER case_event_chain_no_delete",
            "DROP TRIGGER chain_roots_no_delete",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER case_event_chain_no_update ON case_event_chain",
            "DROP TRIGGER chain_roots_no_update ON chain_roots",
        ],
    };
    for s in stmts {
        db.raw.execute(s).await.unwrap();
    }
    for s in [
        "DELETE FROM case_event_chain",
        "DELETE FROM chain_roots",
        "DELETE FROM chain_state",
    ] {
        db.raw.execute(s).await.unwrap();
    }
    let before = (
        db.store.events(a.id).await.unwrap(),
        db.store.events(b.id).await.unwrap(),
    );
    // Opening the store (start-up, `cityloop migrate`) seals the old history once.
    let reopened = cityloop_store::open(&db.url, false).await.unwrap();
    let status = reopened.chain_status().await.unwrap();
    assert_eq!(status.history_sealed_events, 6);
    assert_eq!(
        status.unrooted, 0,
        "a root covers the sealed history at once"
    );
    assert_eq!(status.last_root.as_ref().map(|r| r.events), Some(6));
    assert_eq!(
        reopened.seal_history(Utc::now()).await.unwrap(),
        0,
        "only once"
    );
    let after = (
        reopened.events(a.id).await.unwrap(),
        reopened.events(b.id).await.unwrap(),
    );
    assert_eq!(before, after, "sealing never rewrites an event");
    let r = reopened.verify_chains().await.unwrap();
    assert!(r.ok, "{:?}", r.problems);
    assert_eq!(r.events, 6);
    // New events link onto the sealed ones.
    let c = reopened.get_case(a.id).await.unwrap();
    assert_eq!(c.version, 3);
    case_with_three_events(&reopened, 3).await;
    assert!(reopened.verify_chains().await.unwrap().ok);
}
store_test!(
    old_history_is_sealed_once,
    history_from_before_the_chain_is_sealed_once_as_stored
);

async fn verify_runs_are_kept_and_the_newest_is_read_back(db: &TestDb) {
    assert_eq!(db.store.last_verify_run().await.unwrap(), None);
    case_with_three_events(&db.store, 1).await;
    let mut last = None;
    for i in 0..2 {
        let report = db.store.verify_chains().await.unwrap();
        let run = VerifyRun {
            id: uuid::Uuid::now_v7(),
            started_at: t0() + Duration::minutes(i),
            finished_at: t0() + Duration::minutes(i) + Duration::milliseconds(1500),
            ran_by: "cli".into(),
            report,
        };
        db.store.record_verify_run(&run).await.unwrap();
        last = Some(run);
    }
    assert_eq!(db.store.last_verify_run().await.unwrap(), last);
}
store_test!(
    verify_runs_are_kept,
    verify_runs_are_kept_and_the_newest_is_read_back
);

async fn a_snapshot_is_a_verifying_copy_on_sqlite_and_refused_on_postgres(db: &TestDb) {
    case_with_three_events(&db.store, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    match db.store.backend() {
        Backend::Sqlite => {
            db.store.snapshot_into(&path).await.unwrap();
            let copy = cityloop_store::open(path.to_str().unwrap(), false)
                .await
                .unwrap();
            assert_eq!(
                copy.counts().await.unwrap(),
                db.store.counts().await.unwrap()
            );
            assert!(copy.verify_chains().await.unwrap().ok);
            assert!(db.store.wal_checkpoint().await.unwrap().is_some());
        }
        Backend::Postgres => {
            let err = db.store.snapshot_into(&path).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Unavailable(m) if m.contains("pg_dump")),
                "{err}"
            );
            assert_eq!(db.store.wal_checkpoint().await.unwrap(), None);
        }
    }
}
store_test!(
    snapshot_copies_sqlite,
    a_snapshot_is_a_verifying_copy_on_sqlite_and_refused_on_postgres
);
