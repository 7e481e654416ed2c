//! One behaviour-level suite for every store. Each test runs against SQLite and, when
//! `CITYLOOP_TEST_PG_URL` is set, against PostgreSQL, with a fresh database each time.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use cityloop_domain::calendar::{LimitUnit, TimeLimit, WorkCalendar};
use cityloop_domain::case::{Case, Contact, Ctx, Event, Location, NewCase, Routing};
use cityloop_domain::evaluation::ObjectKind;
use cityloop_domain::ids::{CaseId, CaseNumber, PersonId, UnitId};
use cityloop_domain::limits::{LimitRule, LimitTable, Stage};
use cityloop_domain::model::{
    Actor, ActorRole, AreaGrade, CategoryCode, Person, Priority, Role, Source, Unit, UnitKind,
};
use cityloop_domain::workflow::{Action, Command};
use cityloop_store::testing::TestDb;
use cityloop_store::{CaseFilter, CaseRecord, Page, Store, StoreError};

/// Runs a test body once per available backend.
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

struct Fixture {
    cal: WorkCalendar,
    limits: LimitTable,
    /// The unit `random_step` dispatches to half of the time (the pipeline test gives it
    /// handlers, so the notifications projection has someone to tell).
    unit: UnitId,
}

impl Fixture {
    fn new() -> Self {
        Self {
            cal: WorkCalendar::china_2026(),
            limits: limits(),
            unit: UnitId::new_v7(),
        }
    }

    fn ctx(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx {
            now,
            calendar: &self.cal,
            limits: &self.limits,
        }
    }

    fn report(&self, n: i64, now: DateTime<Utc>) -> (Case, Event) {
        let matter = CategoryCode::parse_service_code("06010").unwrap();
        self.report_as(n, now, Source::Inspector, matter)
    }

    fn report_as(
        &self,
        n: i64,
        now: DateTime<Utc>,
        source: Source,
        category: CategoryCode,
    ) -> (Case, Event) {
        let new = NewCase {
            source,
            priority: Priority::Normal,
            category,
            area_grade: AreaGrade::B,
            description: format!("德化街步行街暴露垃圾 #{n} — 「测试」🚮"),
            location: Location {
                lon: 113.66 + n as f64 * 1e-5,
                lat: 34.75,
                address: Some("二七区德化街".into()),
            },
            routing: Routing {
                street_code: Some("410103010".into()),
                street_name: Some("德化街街道".into()),
                ..Routing::default()
            },
            reporter: Contact {
                phone: Some("13800000000".into()),
                ..Contact::default()
            },
            media: vec![],
            external_ref: None,
            follows: None,
        };
        Case::report(
            CaseId::new_v7(),
            CaseNumber(format!("410103-20261126-{n:04}")),
            new,
            &inspector(),
            self.ctx(now),
        )
        .unwrap()
    }
}

fn inspector() -> Actor {
    Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(Role::Inspector),
        unit_id: None,
    }
}

fn operator() -> Actor {
    Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(Role::Operator),
        unit_id: None,
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

async fn create(store: &Arc<dyn Store>, fx: &Fixture, n: i64, now: DateTime<Utc>) -> Case {
    let (case, ev) = fx.report(n, now);
    store
        .create_case(&case, case.deadline(&fx.cal), &ev)
        .await
        .unwrap();
    case
}

async fn case_round_trips_with_chinese_text_and_utc_times(db: &TestDb) {
    let fx = Fixture::new();
    let now = Utc::now().trunc_subsecs(6);
    let case = create(&db.store, &fx, 1, now).await;
    let back = db.store.get_case(case.id).await.unwrap();
    assert_eq!(back, case);
    assert!(back.description.contains("「测试」🚮"));
    assert_eq!(back.created_at, now);
    let by_number = db
        .store
        .get_case_by_number(case.number.as_str())
        .await
        .unwrap();
    assert_eq!(by_number.id, case.id);
    let events = db.store.events(case.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].at, now);
    assert!(matches!(
        db.store.get_case(CaseId::new_v7()).await,
        Err(StoreError::NotFound(_))
    ));
}
store_test!(
    case_round_trips,
    case_round_trips_with_chinese_text_and_utc_times
);

async fn merged_cases_are_found_by_their_master_oldest_first(db: &TestDb) {
    let fx = Fixture::new();
    let master = create(&db.store, &fx, 1, t0()).await;
    let other = create(&db.store, &fx, 2, t0()).await;
    let mut merged = Vec::new();
    for n in 3..6 {
        let case = create(&db.store, &fx, n, t0() + Duration::minutes(n)).await;
        let cmd = Command {
            reason: Some("重复".into()),
            merge_into: Some(cityloop_domain::case::MergeRef {
                case_id: master.id,
                number: master.number.clone(),
                unit_id: None,
            }),
            ..Command::default()
        };
        let ev = case
            .decide(
                Action::Merge,
                &cmd,
                &operator(),
                fx.ctx(t0() + Duration::minutes(10)),
            )
            .unwrap();
        let mut next = case.clone();
        next.apply(&ev).unwrap();
        db.store.append_event(&next, None, &ev).await.unwrap();
        merged.push(next.id);
    }
    let found = db
        .store
        .cases_merged_into(&[master.id, other.id], 10)
        .await
        .unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), merged);
    assert!(found
        .iter()
        .all(|c| c.merged_into.as_ref().unwrap().case_id == master.id));
    assert_eq!(
        db.store
            .cases_merged_into(&[master.id], 2)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(db
        .store
        .cases_merged_into(&[other.id], 10)
        .await
        .unwrap()
        .is_empty());
    assert!(db
        .store
        .cases_merged_into(&[], 10)
        .await
        .unwrap()
        .is_empty());
}
store_test!(
    merged_into_master,
    merged_cases_are_found_by_their_master_oldest_first
);

async fn a_transition_and_its_event_commit_together_or_not_at_all(db: &TestDb) {
    let fx = Fixture::new();
    let case = create(&db.store, &fx, 1, t0()).await;
    let ev = case
        .decide(
            Action::Accept,
            &Command::default(),
            &operator(),
            fx.ctx(t0()),
        )
        .unwrap();
    let mut next = case.clone();
    next.apply(&ev).unwrap();

    // The view update passes the version check but the event collides with event 1:
    // the whole transaction must roll back, leaving the view as it was.
    let mut clash = ev.clone();
    clash.seq = 1;
    let err = db
        .store
        .append_event(&next, None, &clash)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(db.store.get_case(case.id).await.unwrap(), case);
    assert_eq!(db.store.events(case.id).await.unwrap().len(), 1);

    db.store.append_event(&next, None, &ev).await.unwrap();
    assert_eq!(db.store.get_case(case.id).await.unwrap(), next);
    let events = db.store.events(case.id).await.unwrap();
    assert_eq!(Case::from_events(&events).unwrap(), next);

    // A stale writer (same base version) is refused and changes nothing.
    let err = db.store.append_event(&next, None, &ev).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert_eq!(db.store.events(case.id).await.unwrap().len(), 2);
}
store_test!(
    transition_is_atomic,
    a_transition_and_its_event_commit_together_or_not_at_all
);

async fn of_concurrent_transitions_on_one_case_exactly_one_wins(db: &TestDb) {
    let fx = Arc::new(Fixture::new());
    let case = create(&db.store, &fx, 1, t0()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        let case = case.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let (action, cmd) = if i % 2 == 0 {
                (Action::Accept, Command::default())
            } else {
                (
                    Action::Void,
                    Command {
                        reason: Some(format!("重复 {i}")),
                        ..Command::default()
                    },
                )
            };
            let ev = case
                .decide(action, &cmd, &operator(), fx.ctx(t0()))
                .unwrap();
            let mut next = case.clone();
            next.apply(&ev).unwrap();
            store.append_event(&next, None, &ev).await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(wins, 1);
    let events = db.store.events(case.id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        Case::from_events(&events).unwrap(),
        db.store.get_case(case.id).await.unwrap()
    );
}
store_test!(
    concurrent_transitions,
    of_concurrent_transitions_on_one_case_exactly_one_wins
);

async fn case_number_sequence_is_unique_under_concurrency(db: &TestDb) {
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store.next_seq("case:410103-20261126").await
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (1..=40).collect::<Vec<i64>>());
    assert_eq!(db.store.next_seq("case:410103-20261127").await.unwrap(), 1);
}
store_test!(
    case_numbers_unique,
    case_number_sequence_is_unique_under_concurrency
);

async fn paging_is_stable_and_complete(db: &TestDb) {
    let fx = Fixture::new();
    // Several cases share a creation instant so the id tie-break matters.
    let mut ids = Vec::new();
    for n in 0..23 {
        let at = t0() + Duration::seconds(n / 3);
        ids.push(create(&db.store, &fx, n, at).await.id);
    }
    let mut seen = Vec::new();
    let mut page = Page {
        after: None,
        limit: 5,
    };
    loop {
        let rows = db
            .store
            .list_cases(&CaseFilter::default(), &page)
            .await
            .unwrap();
        if rows.is_empty() {
            break;
        }
        let last = rows.last().unwrap();
        page.after = Some(cityloop_store::Cursor {
            created_at: last.created_at,
            id: last.id,
        });
        seen.extend(rows.iter().map(|c| (c.created_at, c.id)));
    }
    assert_eq!(seen.len(), 23);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, no duplicates, no gaps");
    let filtered = db
        .store
        .list_cases(
            &CaseFilter {
                states: vec!["received".into()],
                street_code: Some("410103010".into()),
                created_from: Some(t0() + Duration::seconds(5)),
                ..CaseFilter::default()
            },
            &Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.len(), 8);
}
store_test!(paging_stable, paging_is_stable_and_complete);

async fn history_is_append_only_in_the_database_itself(db: &TestDb) {
    let fx = Fixture::new();
    let case = create(&db.store, &fx, 1, t0()).await;
    let upd = db
        .raw
        .execute(&format!(
            "UPDATE case_events SET kind = 'x' WHERE case_id = '{}'",
            case.id
        ))
        .await;
    assert!(upd.is_err(), "UPDATE on case_events must fail");
    let del = db.raw.execute("DELETE FROM case_events").await;
    assert!(del.is_err(), "DELETE on case_events must fail");
    assert_eq!(db.store.events(case.id).await.unwrap().len(), 1);
}
store_test!(append_only, history_is_append_only_in_the_database_itself);

async fn a_large_timeline_folds_to_the_stored_view(db: &TestDb) {
    let fx = Fixture::new();
    let mut case = create(&db.store, &fx, 1, t0()).await;
    let unit = UnitId::new_v7();
    let handler = Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(Role::Handler),
        unit_id: Some(unit),
    };
    let dispatcher = Actor {
        person_id: None,
        role: ActorRole::Staff(Role::Dispatcher),
        unit_id: None,
    };
    let mut now = t0();
    let mut step = |case: &mut Case, a: Action, actor: &Actor, cmd: Command| {
        now += Duration::minutes(3);
        let ev = case.decide(a, &cmd, actor, fx.ctx(now)).unwrap();
        case.apply(&ev).unwrap();
        (case.clone(), ev)
    };
    let mut pending = vec![
        step(&mut case, Action::Accept, &operator(), Command::default()),
        step(&mut case, Action::Register, &operator(), Command::default()),
    ];
    // 100 dispatch/return round trips: 200 more events.
    for i in 0..100 {
        pending.push(step(
            &mut case,
            Action::Dispatch,
            &dispatcher,
            Command {
                unit_id: Some(unit),
                ..Command::default()
            },
        ));
        pending.push(step(
            &mut case,
            Action::Return,
            &handler,
            Command {
                reason: Some(format!("第{i}次退回：非本单位职责")),
                ..Command::default()
            },
        ));
    }
    for (view, ev) in &pending {
        db.store.append_event(view, None, ev).await.unwrap();
    }
    let events = db.store.events(case.id).await.unwrap();
    assert_eq!(events.len(), 203);
    let stored = db.store.get_case(case.id).await.unwrap();
    assert_eq!(stored.return_count, 100);
    assert_eq!(Case::from_events(&events).unwrap(), stored);
}
store_test!(large_timeline, a_large_timeline_folds_to_the_stored_view);

async fn reference_data_people_and_sessions(db: &TestDb) {
    let unit = Unit {
        id: UnitId::new_v7(),
        code: "HW".into(),
        name: "区城管局环卫中心".into(),
        kind: UnitKind::Department,
        type_key: "城管局环卫".into(),
        active: true,
    };
    db.store.upsert_unit(&unit).await.unwrap();
    assert_eq!(db.store.get_unit(unit.id).await.unwrap(), unit);
    let p = Person {
        id: PersonId::new_v7(),
        username: "zhang.san".into(),
        display_name: "张三".into(),
        role: Role::Handler,
        unit_id: Some(unit.id),
        active: true,
    };
    db.store.create_person(&p, "hash").await.unwrap();
    let dup = Person {
        id: PersonId::new_v7(),
        ..p.clone()
    };
    assert!(matches!(
        db.store.create_person(&dup, "h").await,
        Err(StoreError::Conflict(_))
    ));
    let (back, hash) = db.store.person_by_username("zhang.san").await.unwrap();
    assert_eq!((back, hash.as_str()), (p.clone(), "hash"));
    let exp = t0() + Duration::hours(8);
    db.store
        .create_session("tok", p.id, t0(), exp)
        .await
        .unwrap();
    let s = db.store.session("tok").await.unwrap();
    assert_eq!((s.person.id, s.expires_at), (p.id, exp));
    db.store.delete_session("tok").await.unwrap();
    assert!(matches!(
        db.store.session("tok").await,
        Err(StoreError::NotFound(_))
    ));
    let v = serde_json::json!({"name": "二七区", "code": "410103"});
    db.store.put_setting("district", &v).await.unwrap();
    assert_eq!(db.store.get_setting("district").await.unwrap(), Some(v));
    assert_eq!(db.store.get_setting("nope").await.unwrap(), None);
}
store_test!(reference_data, reference_data_people_and_sessions);

async fn an_idempotency_key_creates_one_case_even_under_concurrent_retries(db: &TestDb) {
    let fx = Arc::new(Fixture::new());
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = db.store.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let (mut case, mut ev) = fx.report(100 + n, t0());
            let prior = store
                .create_numbered_case(
                    "p",
                    &mut case,
                    None,
                    &mut ev,
                    Some(("open311:app", "retry-1")),
                )
                .await
                .unwrap();
            prior.unwrap_or(case.id)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers with the same case");
    assert_eq!(db.store.count_cases().await.unwrap(), 1);
    // Another key, or the same key from another client, is a new case.
    let (mut case, mut ev) = fx.report(200, t0());
    assert_eq!(
        db.store
            .create_numbered_case(
                "p",
                &mut case,
                None,
                &mut ev,
                Some(("open311:other", "retry-1"))
            )
            .await
            .unwrap(),
        None
    );
}
store_test!(
    idempotent_intake,
    an_idempotency_key_creates_one_case_even_under_concurrent_retries
);

async fn api_keys_are_found_until_revoked(db: &TestDb) {
    db.store.add_api_key("h1", "市民App", t0()).await.unwrap();
    assert_eq!(
        db.store.api_key("h1").await.unwrap().as_deref(),
        Some("市民App")
    );
    assert_eq!(db.store.api_key("h2").await.unwrap(), None);
    db.store.revoke_api_key("h1", t0()).await.unwrap();
    assert_eq!(db.store.api_key("h1").await.unwrap(), None);
    assert!(matches!(
        db.store.revoke_api_key("h1", t0()).await,
        Err(StoreError::NotFound(_))
    ));
}
store_test!(api_keys, api_keys_are_found_until_revoked);

async fn numbering_in_the_creating_transaction_is_gapless_and_replays_use_no_number(db: &TestDb) {
    let fx = Arc::new(Fixture::new());
    let mut tasks = Vec::new();
    for n in 0..12 {
        let store = db.store.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let (mut case, mut ev) = fx.report(300 + n, t0());
            store
                .create_numbered_case("410103-20261126", &mut case, None, &mut ev, None)
                .await
                .unwrap();
            case.number.to_string()
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=12)
        .map(|i| format!("410103-20261126-{i:04}"))
        .collect();
    assert_eq!(numbers, expected);
    // The stored view and its first event carry the assigned number.
    let stored = db
        .store
        .get_case_by_number("410103-20261126-0005")
        .await
        .unwrap();
    let events = db.store.events(stored.id).await.unwrap();
    assert_eq!(Case::from_events(&events).unwrap(), stored);

    let (mut case, mut ev) = fx.report(400, t0());
    let first = case.id;
    assert_eq!(
        db.store
            .create_numbered_case(
                "410103-20261126",
                &mut case,
                None,
                &mut ev,
                Some(("c", "k"))
            )
            .await
            .unwrap(),
        None
    );
    let (mut again, mut ev2) = fx.report(401, t0());
    assert_eq!(
        db.store
            .create_numbered_case(
                "410103-20261126",
                &mut again,
                None,
                &mut ev2,
                Some(("c", "k"))
            )
            .await
            .unwrap(),
        Some(first)
    );
    let (mut next, mut ev3) = fx.report(402, t0());
    db.store
        .create_numbered_case("410103-20261126", &mut next, None, &mut ev3, None)
        .await
        .unwrap();
    assert_eq!(
        next.number.as_str(),
        "410103-20261126-0014",
        "the replay used no number"
    );
}
store_test!(
    numbering,
    numbering_in_the_creating_transaction_is_gapless_and_replays_use_no_number
);

fn attachment(sha: &str, at: DateTime<Utc>) -> cityloop_store::Attachment {
    cityloop_store::Attachment {
        id: uuid::Uuid::new_v4(),
        sha256: sha.repeat(64 / sha.len()),
        mime: "image/jpeg".into(),
        size: 1234,
        public_size: 1200,
        width: 640,
        height: 480,
        gps_lat: Some(34.7503),
        gps_lon: Some(113.6615),
        uploaded_by: None,
        channel: "public".into(),
        uploaded_at: at,
    }
}

async fn an_attachment_is_stored_once_per_content_hash(db: &TestDb) {
    let first = attachment("ab", t0());
    let (stored, new) = db.store.put_attachment(&first).await.unwrap();
    assert!(new);
    assert_eq!(stored, first, "every field round-trips");
    // The same content again (another id, later): the first row answers.
    let mut again = attachment("ab", t0() + Duration::minutes(1));
    again.gps_lat = None;
    let (stored, new) = db.store.put_attachment(&again).await.unwrap();
    assert!(!new);
    assert_eq!(stored, first);
    let other = attachment("cd", t0());
    db.store.put_attachment(&other).await.unwrap();
    assert_eq!(db.store.get_attachment(first.id).await.unwrap(), first);
    assert!(matches!(
        db.store.get_attachment(again.id).await,
        Err(StoreError::NotFound(_))
    ));
    let mut found = db
        .store
        .attachments(&[first.id, again.id, other.id])
        .await
        .unwrap();
    found.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    assert_eq!(found, vec![first.clone(), other]);
    assert!(db.store.attachments(&[]).await.unwrap().is_empty());
    let counts = db.store.counts().await.unwrap();
    assert!(counts.contains(&("attachments".into(), 2)));
    // `cityloop copy` carries the rows with the reference data.
    let snap = db.store.export_reference().await.unwrap();
    assert_eq!(snap.attachments.len(), 2);
    let target = TestDb::sqlite().await;
    target.store.import_reference(&snap).await.unwrap();
    assert_eq!(target.store.get_attachment(first.id).await.unwrap(), first);
}
store_test!(
    attachments_dedup,
    an_attachment_is_stored_once_per_content_hash
);

/// Migration 0017 (issue 16): a case view written before public and internal text were
/// separated loses its `public_note` (which mixed internal notes and void reasons into the
/// public view), and the case's events keep what they recorded.
async fn the_public_text_migration_strips_the_legacy_view_note_and_keeps_history(db: &TestDb) {
    let fx = Fixture::new();
    let case = create(&db.store, &fx, 1, t0()).await;
    let planted = match &db.raw {
        cityloop_store::testing::Raw::Sqlite(_) => format!(
            "UPDATE cases SET view = json_set(view, '$.public_note', '举报人多次恶意举报，内部备注') WHERE id = '{}'",
            case.id
        ),
        cityloop_store::testing::Raw::Postgres(_) => format!(
            "UPDATE cases SET view = jsonb_set(view::jsonb, '{{public_note}}', '\"举报人多次恶意举报，内部备注\"')::text WHERE id = '{}'",
            case.id
        ),
    };
    assert_eq!(db.raw.execute(&planted).await.unwrap(), 1);
    let dir = match &db.raw {
        cityloop_store::testing::Raw::Sqlite(_) => "sqlite",
        cityloop_store::testing::Raw::Postgres(_) => "postgres",
    };
    let migration = std::fs::read_to_string(format!(
        "{}/migrations/{dir}/0017_public_text.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let statement: String = migration
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        db.raw.execute(&statement).await.unwrap(),
        1,
        "one view fixed"
    );
    // Run again: nothing is left to fix.
    assert_eq!(db.raw.execute(&statement).await.unwrap(), 0);
    let stored = db.store.get_case(case.id).await.unwrap();
    assert_eq!(stored, case, "the view is otherwise unchanged");
    assert_eq!(db.store.events(case.id).await.unwrap().len(), 1);
}
store_test!(
    public_text_migration,
    the_public_text_migration_strips_the_legacy_view_note_and_keeps_history
);

async fn refreshed_deadlines_are_what_the_overdue_filter_reads(db: &TestDb) {
    let fx = Fixture::new();
    let a = create(&db.store, &fx, 1, t0()).await;
    let b = create(&db.store, &fx, 2, t0()).await;
    let overdue_at = |t: DateTime<Utc>| CaseFilter {
        deadline_before: Some(t),
        ..CaseFilter::default()
    };
    let page = Page {
        after: None,
        limit: 10,
    };
    let probe = t0() + Duration::hours(1);
    assert!(db
        .store
        .list_cases(&overdue_at(probe), &page)
        .await
        .unwrap()
        .is_empty());
    // A calendar change moved both deadlines earlier; b's version is stale (it changed
    // meanwhile), so only a is rewritten.
    let earlier = Some(t0() + Duration::minutes(30));
    let n = db
        .store
        .refresh_deadlines(&[(a.id, a.version, earlier), (b.id, b.version - 1, earlier)])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let listed: Vec<CaseId> = db
        .store
        .list_cases(&overdue_at(probe), &page)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![a.id]);
    assert_eq!(
        db.store.get_case(a.id).await.unwrap(),
        a,
        "the view is untouched"
    );
    assert_eq!(db.store.refresh_deadlines(&[]).await.unwrap(), 0);
}
store_test!(
    refresh_deadlines,
    refreshed_deadlines_are_what_the_overdue_filter_reads
);

async fn a_keyed_action_appends_once_and_a_repeat_returns_its_first_use(db: &TestDb) {
    let fx = Arc::new(Fixture::new());
    let case = create(&db.store, &fx, 1, t0()).await;
    let ev = case
        .decide(
            Action::Accept,
            &Command::default(),
            &operator(),
            fx.ctx(t0()),
        )
        .unwrap();
    let mut next = case.clone();
    next.apply(&ev).unwrap();
    // Concurrent duplicates of one keyed request (a client retrying while the first is
    // still in flight): one appends, every other answers with that first use.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = db.store.clone();
        let (next, ev) = (next.clone(), ev.clone());
        tasks.push(tokio::spawn(async move {
            store
                .append_event_once(&next, None, &ev, "staff-action:p1", "k-1")
                .await
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(None) => firsts += 1,
            Ok(Some(used)) => {
                assert_eq!(used.case_id, case.id);
                assert!((used.at - ev.at).num_milliseconds().abs() < 1, "{used:?}");
            }
            Err(e) => panic!("a duplicate must be answered as a repeat, got {e}"),
        }
    }
    assert_eq!(firsts, 1, "exactly one attempt appends");
    assert_eq!(db.store.events(case.id).await.unwrap().len(), 2);
    assert_eq!(db.store.get_case(case.id).await.unwrap(), next);
    let used = db
        .store
        .idempotency_key("staff-action:p1", "k-1")
        .await
        .unwrap()
        .expect("the key is recorded");
    assert_eq!(used.case_id, case.id);
    // Without a key, a stale repeat is a conflict as before; another person's same key is
    // their own.
    assert!(matches!(
        db.store.append_event(&next, None, &ev).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        db.store
            .idempotency_key("staff-action:p2", "k-1")
            .await
            .unwrap(),
        None
    );
}
store_test!(
    keyed_action_once,
    a_keyed_action_appends_once_and_a_repeat_returns_its_first_use
);

fn staff(role: Role, unit: Option<UnitId>) -> Actor {
    Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(role),
        unit_id: unit,
    }
}

/// Applies `steps` to `case` one event at a time, a minute apart from `at`.
async fn drive(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    mut case: Case,
    steps: Vec<(Action, Actor, Command)>,
    mut at: DateTime<Utc>,
) -> Case {
    for (action, actor, cmd) in steps {
        at += Duration::minutes(1);
        let ev = case.decide(action, &cmd, &actor, fx.ctx(at)).unwrap();
        case.apply(&ev).unwrap();
        store
            .append_event(&case, case.deadline(&fx.cal), &ev)
            .await
            .unwrap();
    }
    case
}

/// The two reads privacy and fair rankings add: which unit's cases name a photo (a
/// handler's scope for originals), and which open cases stand behind a figure with their
/// current deadline (rankings leave those not yet due out of the rates).
async fn unit_photos_and_open_cases_behind_a_figure_are_read_from_the_case_tables(db: &TestDb) {
    let fx = Fixture::new();
    let unit = UnitId::new_v7();
    let photo = uuid::Uuid::now_v7();
    let cmd = Command::default;
    let dispatch = Command {
        unit_id: Some(unit),
        ..Command::default()
    };
    let back = Command {
        note: Some("已清理".into()),
        attachments: vec![photo.to_string()],
        ..Command::default()
    };
    let to_handling = |d: Command| {
        vec![
            (Action::Accept, staff(Role::Operator, None), cmd()),
            (Action::Register, staff(Role::Operator, None), cmd()),
            (Action::Dispatch, staff(Role::Dispatcher, None), d),
        ]
    };
    // Case 1: reported back with the photo, then checked and closed.
    let c1 = create(&db.store, &fx, 1, t0()).await;
    let mut steps = to_handling(dispatch.clone());
    steps.push((Action::ReportBack, staff(Role::Handler, Some(unit)), back));
    let c1 = drive(&db.store, &fx, c1, steps, t0()).await;
    // Case 2: dispatched to the same unit, still handling.
    let c2 = create(&db.store, &fx, 2, t0()).await;
    let c2 = drive(&db.store, &fx, c2, to_handling(dispatch), t0()).await;
    let deadline2 = c2.deadline(&fx.cal);
    assert!(deadline2.is_some());

    let s = &db.store;
    assert!(s.unit_has_attachment(unit, photo).await.unwrap());
    assert!(!s
        .unit_has_attachment(UnitId::new_v7(), photo)
        .await
        .unwrap());
    assert!(!s
        .unit_has_attachment(unit, uuid::Uuid::now_v7())
        .await
        .unwrap());

    let (from, to) = (20_261_101, 20_261_130);
    let street = |mut v: Vec<(String, Option<DateTime<Utc>>)>| {
        v.sort();
        v
    };
    let open = s
        .eval_open_cases(ObjectKind::Street, "to_close", "closed", from, to)
        .await
        .unwrap();
    let mut want = vec![
        ("410103010".to_owned(), c1.deadline(&fx.cal)),
        ("410103010".to_owned(), deadline2),
    ];
    want.sort();
    assert_eq!(street(open), want, "both cases are open in the street");
    // The department has handled case 1 (a report-back): only case 2 is open for it.
    let dept = s
        .eval_open_cases(ObjectKind::Department, "to_handle", "handled", from, to)
        .await
        .unwrap();
    assert_eq!(dept, vec![(unit.to_string(), deadline2)]);
    // Another period holds nothing.
    assert!(s
        .eval_open_cases(
            ObjectKind::Street,
            "to_close",
            "closed",
            20_261_001,
            20_261_031
        )
        .await
        .unwrap()
        .is_empty());

    // Closed cases are no longer open.
    let at = t0() + Duration::minutes(30);
    drive(
        s,
        &fx,
        c1,
        vec![
            (Action::CheckPass, staff(Role::Inspector, None), cmd()),
            (Action::Close, staff(Role::Supervisor, None), cmd()),
        ],
        at,
    )
    .await;
    let open = s
        .eval_open_cases(ObjectKind::Street, "to_close", "closed", from, to)
        .await
        .unwrap();
    assert_eq!(open, vec![("410103010".to_owned(), deadline2)]);
}
store_test!(
    unit_photos_and_open_cases,
    unit_photos_and_open_cases_behind_a_figure_are_read_from_the_case_tables
);

/// The public Open311 list (migration 0010's `open311_code` column and indexes): exactly
/// the cases the service's own rules publish — not 12345 hotline, petition or leader
/// cases, not GB/T 47678.5 components — newest first, the same rows by offset and by
/// cursor, filtered by service_code and state.
async fn the_public_list_holds_exactly_the_published_cases(db: &TestDb) {
    use cityloop_domain::model::{CategoryKind, CodeStandard};
    use cityloop_store::{PublicCaseFilter, PublicStart};
    let fx = Fixture::new();
    let matter = CategoryCode::parse_service_code("06010").unwrap();
    let component =
        CategoryCode::parse(CodeStandard::Gb47678, CategoryKind::Component, "06010").unwrap();
    let legacy = CategoryCode::parse(CodeStandard::CjT214, CategoryKind::Event, "0101").unwrap();
    let mut expected = Vec::new();
    for n in 0..30_i64 {
        let (source, category) = match n % 6 {
            0 => (Source::Public, matter.clone()),
            1 => (Source::Hotline12345, matter.clone()),
            2 => (Source::Inspector, component.clone()),
            3 => (Source::Petition, matter.clone()),
            4 => (Source::Inspector, legacy.clone()),
            _ => (Source::Leader, matter.clone()),
        };
        let (case, ev) = fx.report_as(n, t0() + Duration::seconds(n / 2), source, category);
        db.store
            .create_case(&case, case.deadline(&fx.cal), &ev)
            .await
            .unwrap();
        let published = !matches!(
            source,
            Source::Hotline12345 | Source::Petition | Source::Leader
        ) && (case.category.standard != CodeStandard::Gb47678
            || case.category.kind == CategoryKind::Matter);
        if published {
            expected.push((case.created_at, case.id));
        }
    }
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(expected.len(), 10);
    let all = |f: PublicCaseFilter| {
        let store = db.store.clone();
        async move {
            store
                .list_public_cases(&f, &PublicStart::Offset(0), 1000)
                .await
                .unwrap()
                .iter()
                .map(|c| (c.created_at, c.id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(all(PublicCaseFilter::default()).await, expected);
    // Pages of 3 by offset and by cursor are the same rows.
    let mut by_cursor = Vec::new();
    let mut start = PublicStart::Offset(0);
    for page in 0.. {
        let f = PublicCaseFilter::default();
        let rows = db.store.list_public_cases(&f, &start, 3).await.unwrap();
        let by_offset = db
            .store
            .list_public_cases(&f, &PublicStart::Offset(page * 3), 3)
            .await
            .unwrap();
        assert_eq!(
            rows.iter().map(|c| c.id).collect::<Vec<_>>(),
            by_offset.iter().map(|c| c.id).collect::<Vec<_>>()
        );
        let Some(last) = rows.last() else { break };
        start = PublicStart::After(cityloop_store::Cursor {
            created_at: last.created_at,
            id: last.id,
        });
        by_cursor.extend(rows.iter().map(|c| (c.created_at, c.id)));
    }
    assert_eq!(by_cursor, expected);
    let legacy_only = all(PublicCaseFilter {
        service_codes: vec!["0101".into()],
        ..PublicCaseFilter::default()
    })
    .await;
    assert_eq!(legacy_only.len(), 5);
    let both = all(PublicCaseFilter {
        service_codes: vec!["0101".into(), "06010".into()],
        ..PublicCaseFilter::default()
    })
    .await;
    assert_eq!(both, expected);
    let none = all(PublicCaseFilter {
        states: vec!["closed".into()],
        ..PublicCaseFilter::default()
    })
    .await;
    assert!(none.is_empty());
    let later = all(PublicCaseFilter {
        created_from: Some(t0() + Duration::seconds(8)),
        ..PublicCaseFilter::default()
    })
    .await;
    assert_eq!(later, expected[..later.len()].to_vec());
    assert!(!later.is_empty() && later.len() < expected.len());
}
store_test!(
    public_list_published_only,
    the_public_list_holds_exactly_the_published_cases
);

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// The next event of `case` for a random legal action by a random allowed role, if the
/// domain accepts it.
fn random_step(
    fx: &Fixture,
    case: &Case,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> Option<(Case, Event)> {
    let legal: Vec<Action> = Action::ALL
        .iter()
        .copied()
        .filter(|a| a.rule().from.contains(&case.state))
        .collect();
    if legal.is_empty() {
        return None;
    }
    let action = legal[rng.below(legal.len())];
    let roles = action.rule().roles;
    let role = roles[rng.below(roles.len())];
    let actor = Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(role),
        unit_id: (role == Role::Handler).then_some(case.unit_id).flatten(),
    };
    let cmd = Command {
        note: Some("说明".into()),
        reason: Some("原因".into()),
        unit_id: Some(if rng.below(2) == 0 {
            fx.unit
        } else {
            UnitId::new_v7()
        }),
        extension: Some(TimeLimit {
            amount: 1,
            unit: LimitUnit::WorkingDays,
        }),
        attachments: vec!["sha256:x".into()],
        merge_into: (action == Action::Merge).then(|| cityloop_domain::case::MergeRef {
            case_id: CaseId::new_v7(),
            number: CaseNumber("410103-20261126-9999".into()),
            unit_id: None,
        }),
        ..Command::default()
    };
    let ev = case.decide(action, &cmd, &actor, fx.ctx(now)).ok()?;
    let mut next = case.clone();
    next.apply(&ev).ok()?;
    Some((next, ev))
}

/// A case with a short history built in memory, as `import_cases` receives it.
fn history(fx: &Fixture, n: i64, rng: &mut Rng, now: DateTime<Utc>) -> CaseRecord {
    let (mut case, first) = fx.report(n, now);
    let mut events = vec![first];
    for k in 0..rng.below(4) {
        let Some((next, ev)) = random_step(fx, &case, rng, now + Duration::minutes(k as i64 + 1))
        else {
            break;
        };
        case = next;
        events.push(ev);
    }
    CaseRecord {
        deadline: case.deadline(&fx.cal),
        case,
        events,
    }
}

/// Random rounds of concurrent write-path commands (creates, numbered and keyed creates,
/// appends, keyed appends, imports, and racing appends of which one must lose), then
/// every registered projection is compared with a rebuild from the stored events. The
/// `match` over `PROJECTIONS` is exhaustive: a new projection does not compile here until
/// it has its check.
async fn every_projection_equals_a_rebuild_from_events_after_random_commands(db: &TestDb) {
    use cityloop_domain::evaluation::{counters_of, sum_counters};
    use cityloop_store::pipeline::{Projection, PROJECTIONS};
    use std::collections::{BTreeSet, HashMap};

    let fx = Arc::new(Fixture::new());
    let sub = cityloop_store::WebhookSubscription {
        id: uuid::Uuid::now_v7(),
        url: "https://example.invalid/hook".into(),
        secret: "s".into(),
        event_types: cityloop_domain::webhook::EventType::ALL
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        active: true,
        description: "pipeline test".into(),
        created_at: t0(),
        updated_at: t0(),
    };
    let audit = cityloop_store::AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: t0(),
        actor_id: None,
        entity: "webhook".into(),
        entity_id: sub.id.to_string(),
        action: "create".into(),
        before: None,
        after: None,
    };
    db.store
        .admin_apply(
            &[cityloop_store::AdminOp::CreateWebhook(sub.clone())],
            &audit,
        )
        .await
        .unwrap();
    // People for the notifications projection: handlers of the dispatch unit (one of them
    // inactive), a handler elsewhere, and the district-wide desks.
    db.store
        .upsert_unit(&Unit {
            id: fx.unit,
            code: "HW".into(),
            name: "区城管局环卫中心".into(),
            kind: UnitKind::Department,
            type_key: "城管局环卫".into(),
            active: true,
        })
        .await
        .unwrap();
    let mut people = Vec::new();
    for (i, (role, unit, active)) in [
        (Role::Handler, Some(fx.unit), true),
        (Role::Handler, Some(fx.unit), true),
        (Role::Handler, Some(fx.unit), false),
        (Role::Handler, None, true),
        (Role::Dispatcher, None, true),
        (Role::Operator, None, true),
        (Role::Supervisor, None, true),
        (Role::Inspector, None, true),
    ]
    .into_iter()
    .enumerate()
    {
        let p = Person {
            id: PersonId::new_v7(),
            username: format!("p{i}"),
            display_name: format!("人员{i}"),
            role,
            unit_id: unit,
            active,
        };
        db.store.create_person(&p, "h").await.unwrap();
        people.push(p);
    }

    // Imported cases and how many events they came with (those fire no webhooks).
    let mut imported: HashMap<CaseId, i64> = HashMap::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut n = 1000;
    let mut now = t0();
    for seed in 1..=3u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for _round in 0..8 {
            now += Duration::minutes(rng.below(300) as i64);
            let mut tasks = Vec::new();
            for _ in 0..1 + rng.below(6) {
                n += 1;
                let store = db.store.clone();
                let choice = if cases.is_empty() {
                    rng.below(2)
                } else {
                    rng.below(6)
                };
                let key = format!("k{}", rng.below(4));
                match choice {
                    0 => {
                        // Every other one a public report: a receipt, and 回访 later.
                        let (case, ev) = if n % 2 == 0 {
                            let matter = CategoryCode::parse_service_code("06010").unwrap();
                            fx.report_as(n, now, Source::Public, matter)
                        } else {
                            fx.report(n, now)
                        };
                        let dl = case.deadline(&fx.cal);
                        tasks.push(tokio::spawn(async move {
                            store.create_case(&case, dl, &ev).await
                        }));
                    }
                    1 => {
                        let (mut case, mut ev) = fx.report(n, now);
                        let dl = case.deadline(&fx.cal);
                        let keyed = rng.below(2) == 0;
                        tasks.push(tokio::spawn(async move {
                            let idem = keyed.then_some(("create", key.as_str()));
                            store
                                .create_numbered_case(
                                    "410103-20261126",
                                    &mut case,
                                    dl,
                                    &mut ev,
                                    idem,
                                )
                                .await
                                .map(|_| ())
                        }));
                    }
                    4 => {
                        let rec = history(&fx, n, &mut rng, now);
                        imported.insert(rec.case.id, rec.events.len() as i64);
                        tasks.push(tokio::spawn(
                            async move { store.import_cases(&[rec]).await },
                        ));
                    }
                    c => {
                        let case = &cases[rng.below(cases.len())];
                        let Some((next, ev)) = random_step(&fx, case, &mut rng, now) else {
                            continue;
                        };
                        let dl = next.deadline(&fx.cal);
                        if c == 5 {
                            // A racing append from the same view: at most one of the two wins.
                            if let Some((other, ev2)) = random_step(&fx, case, &mut rng, now) {
                                let store = db.store.clone();
                                let dl2 = other.deadline(&fx.cal);
                                tasks.push(tokio::spawn(async move {
                                    store.append_event(&other, dl2, &ev2).await
                                }));
                            }
                        }
                        if c == 3 {
                            tasks.push(tokio::spawn(async move {
                                store
                                    .append_event_once(&next, dl, &ev, "act", &key)
                                    .await
                                    .map(|_| ())
                            }));
                        } else {
                            tasks.push(tokio::spawn(async move {
                                store.append_event(&next, dl, &ev).await
                            }));
                        }
                    }
                }
            }
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("unexpected store error: {e}"),
                }
            }
            // Read every case back: the next round starts from the stored views.
            let all = db.store.export_cases(None, 10_000).await.unwrap();
            cases = all.into_iter().map(|r| r.case).collect();
        }
    }

    // A walk that surely notifies (the random ones rarely get as far as a dispatch):
    // dispatched to the unit (its two active handlers), returned (the dispatcher), rolled
    // back (the operator).
    {
        let (mut case, ev) = fx.report(n + 1, now);
        db.store
            .create_case(&case, case.deadline(&fx.cal), &ev)
            .await
            .unwrap();
        for (action, role) in [
            (Action::Accept, Role::Operator),
            (Action::Register, Role::Operator),
            (Action::Dispatch, Role::Dispatcher),
            (Action::Return, Role::Handler),
            (Action::RollBack, Role::Dispatcher),
        ] {
            let actor = Actor {
                person_id: Some(PersonId::new_v7()),
                role: ActorRole::Staff(role),
                unit_id: (role == Role::Handler).then_some(fx.unit),
            };
            let cmd = Command {
                reason: Some("原因".into()),
                unit_id: Some(fx.unit),
                ..Command::default()
            };
            let ev = case
                .decide(action, &cmd, &actor, fx.ctx(now))
                .unwrap_or_else(|e| panic!("{action}: {e}"));
            let mut next = case.clone();
            next.apply(&ev).unwrap();
            db.store
                .append_event(&next, next.deadline(&fx.cal), &ev)
                .await
                .unwrap();
            case = next;
        }
    }

    let records = db.store.export_cases(None, 10_000).await.unwrap();
    assert!(
        records.len() > 20,
        "the run wrote cases ({})",
        records.len()
    );
    for p in PROJECTIONS {
        match p {
            Projection::CaseView => {
                for r in &records {
                    assert_eq!(
                        Case::from_events(&r.events).unwrap(),
                        r.case,
                        "{}",
                        p.name()
                    );
                }
            }
            Projection::Events => {
                let report = db.store.verify_chains().await.unwrap();
                assert!(report.ok, "{}: {:?}", p.name(), report.problems);
                let events: usize = records.iter().map(|r| r.events.len()).sum();
                assert_eq!(report.events, events as u64, "{}", p.name());
            }
            Projection::WebhookOutbox => {
                let mut want = BTreeSet::new();
                for r in &records {
                    let copied = imported.get(&r.case.id).copied().unwrap_or(0);
                    for (i, ev) in r.events.iter().enumerate().filter(|(_, e)| e.seq > copied) {
                        let view = Case::from_events(&r.events[..=i]).unwrap();
                        let id = format!("case:{}:{}", r.case.id, ev.seq);
                        let out = cityloop_domain::webhook::case_event(&view, ev, &id);
                        want.insert((
                            id,
                            out.event_type.as_str().to_owned(),
                            out.payload.to_string(),
                        ));
                    }
                }
                let got: BTreeSet<_> = db
                    .store
                    .webhook_deliveries(sub.id, None, 500)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| (d.event_id, d.event_type, d.payload))
                    .collect();
                assert!(want.len() < 500, "the check reads one page of deliveries");
                let extra: Vec<_> = got.difference(&want).collect();
                let missing: Vec<_> = want.difference(&got).collect();
                assert!(
                    extra.is_empty() && missing.is_empty(),
                    "{}: queued but not derived {extra:#?}, derived but not queued {missing:#?}",
                    p.name()
                );
            }
            Projection::Messages => {
                let mut want = BTreeSet::new();
                for r in &records {
                    let copied = imported.get(&r.case.id).copied().unwrap_or(0);
                    for (i, ev) in r.events.iter().enumerate().filter(|(_, e)| e.seq > copied) {
                        let view = Case::from_events(&r.events[..=i]).unwrap();
                        for m in cityloop_domain::message::intents(&view, ev) {
                            want.insert((
                                m.key,
                                m.purpose.as_str().to_owned(),
                                m.channel.as_str().to_owned(),
                                m.recipient,
                                Some(r.case.id),
                            ));
                        }
                    }
                }
                let got: BTreeSet<_> = db
                    .store
                    .list_messages(None, None, 500)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| (m.dedupe_key, m.purpose, m.channel, m.recipient, m.case_id))
                    .collect();
                assert!(want.len() < 500, "the check reads one page of messages");
                assert!(
                    want.iter().any(|m| m.1 == "receipt"),
                    "the run sent receipts"
                );
                let extra: Vec<_> = got.difference(&want).collect();
                let missing: Vec<_> = want.difference(&got).collect();
                assert!(
                    extra.is_empty() && missing.is_empty(),
                    "{}: queued but not derived {extra:#?}, derived but not queued {missing:#?}",
                    p.name()
                );
            }
            Projection::EvalBuckets => {
                let mut all = Vec::new();
                for r in &records {
                    all.extend(counters_of(&r.events, &fx.cal));
                }
                let want = sum_counters(&all);
                let got = sum_counters(&db.store.eval_buckets().await.unwrap());
                assert_eq!(got, want, "{}", p.name());
                db.store.eval_rebuild().await.unwrap();
                let rebuilt = sum_counters(&db.store.eval_buckets().await.unwrap());
                assert_eq!(rebuilt, want, "{} after eval_rebuild", p.name());
            }
            Projection::SearchIndex => {
                // Every case is found by its whole number in its current state, with its
                // current view.
                for r in &records {
                    let s = cityloop_store::search::CaseSearch {
                        number_rev: Some(
                            cityloop_domain::search::number_query(r.case.number.as_str()).unwrap(),
                        ),
                        states: vec![r.case.state.as_str().to_owned()],
                        now: r.case.updated_at,
                        limit: 5,
                        ..Default::default()
                    };
                    let hits = db.store.search_cases(&s).await.unwrap().cases;
                    assert_eq!(
                        hits,
                        vec![r.case.clone()],
                        "{}: {}",
                        p.name(),
                        r.case.number
                    );
                }
            }
            Projection::Notifications => {
                // Every notice of every (non-imported) event, resolved with the domain's
                // own rule against the people, equals the stored rows of every person.
                let mut want = BTreeSet::new();
                for r in &records {
                    let copied = imported.get(&r.case.id).copied().unwrap_or(0);
                    for (i, ev) in r.events.iter().enumerate().filter(|(_, e)| e.seq > copied) {
                        let view = Case::from_events(&r.events[..=i]).unwrap();
                        let mut told = std::collections::HashSet::new();
                        for n in cityloop_domain::inbox::notices(&view, ev) {
                            for person in people.iter().filter(|x| n.reaches(x)) {
                                if told.insert(person.id) {
                                    want.insert((
                                        person.id,
                                        r.case.id,
                                        ev.seq,
                                        n.kind.as_str().to_owned(),
                                        n.message.clone(),
                                        ev.at,
                                    ));
                                }
                            }
                        }
                    }
                }
                let mut got = BTreeSet::new();
                for person in &people {
                    let rows = db
                        .store
                        .notifications(person.id, cityloop_store::MAX_PAGE)
                        .await
                        .unwrap();
                    assert!(
                        rows.len() < cityloop_store::MAX_PAGE as usize,
                        "the check reads one page per person"
                    );
                    for n in rows {
                        let (Some(case), Some(seq)) = (n.case_id, n.event_seq) else {
                            panic!("{}: a row without its event: {n:?}", p.name());
                        };
                        assert!(n.read_at.is_none());
                        got.insert((n.person_id, case, seq, n.kind, n.message, n.created_at));
                    }
                }
                assert!(
                    want.len() >= 4,
                    "{}: the run raised notices ({})",
                    p.name(),
                    want.len()
                );
                let extra: Vec<_> = got.difference(&want).collect();
                let missing: Vec<_> = want.difference(&got).collect();
                assert!(
                    extra.is_empty() && missing.is_empty(),
                    "{}: stored but not derived {extra:#?}, derived but not stored {missing:#?}",
                    p.name()
                );
            }
        }
    }
}
store_test!(
    pipeline_projections_equal_a_rebuild,
    every_projection_equals_a_rebuild_from_events_after_random_commands
);

/// SQLite group commit: writes submitted together are committed in one transaction,
/// each in its own savepoint. The failing one (its case row is written, then its event
/// names a case that does not exist) is rolled back alone and answered its own error;
/// the others commit. Then 64 concurrent writers through the trait, one of them failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_rolls_back_only_the_failing_write_of_a_batch() {
    use cityloop_store::pipeline::{Command, Outcome};
    use cityloop_store::testing::Raw;
    let db = TestDb::sqlite().await;
    let Raw::Sqlite(store) = &db.raw else {
        panic!("TestDb::sqlite is a SQLite store");
    };
    let fx = Fixture::new();
    let (mut cmds, mut ids) = (Vec::new(), Vec::new());
    for n in 0..8 {
        let (case, mut ev) = fx.report(500 + n, t0());
        if n == 4 {
            ev.case_id = CaseId::new_v7();
        }
        ids.push(case.id);
        cmds.push(Command::CreateCase {
            deadline: case.deadline(&fx.cal),
            case,
            event: ev,
        });
    }
    let before = store.group_commit_stats();
    let answers = store.execute_all(cmds).await;
    let after = store.group_commit_stats();
    assert_eq!(
        after.commits - before.commits,
        1,
        "one commit for the batch"
    );
    assert_eq!(after.writes - before.writes, 8);
    for (n, (answer, id)) in answers.iter().zip(&ids).enumerate() {
        if n == 4 {
            assert!(answer.is_err(), "the failing write answers its own error");
            assert!(matches!(
                db.store.get_case(*id).await,
                Err(StoreError::NotFound(_))
            ));
        } else {
            assert_eq!(answer.as_ref().unwrap(), &Outcome::Done, "write {n}");
            db.store.get_case(*id).await.unwrap();
        }
    }
    assert_eq!(db.store.count_cases().await.unwrap(), 7);
    let counts: std::collections::HashMap<String, i64> =
        db.store.counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["case_events"], 7, "no event of the failed write");

    // A lone write on an idle store is its own commit.
    let before = store.group_commit_stats();
    create(&db.store, &fx, 600, t0()).await;
    let after = store.group_commit_stats();
    assert_eq!(
        (after.commits - before.commits, after.writes - before.writes),
        (1, 1)
    );

    // 64 concurrent writers; one reuses an existing case id and must get a conflict.
    let fx = Arc::new(fx);
    let taken = ids[0];
    let mut tasks = Vec::new();
    for n in 0..64 {
        let store = db.store.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let (mut case, mut ev) = fx.report(700 + n, t0());
            if n == 31 {
                case.id = taken;
                ev.case_id = taken;
            }
            store.create_case(&case, None, &ev).await.map(|()| case.id)
        }));
    }
    let mut ok = 0;
    for (n, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(id) => {
                db.store.get_case(id).await.unwrap();
                ok += 1;
            }
            Err(StoreError::Conflict(_)) => assert_eq!(n, 31),
            Err(e) => panic!("writer {n}: {e}"),
        }
    }
    assert_eq!(ok, 63);
    assert_eq!(db.store.count_cases().await.unwrap(), 7 + 1 + 63);
}

/// 64 concurrent intakes of the same street and day (the hot rows of a naive store: the
/// day's number and the street × day buckets): every number unique and, in one server
/// process where no write fails, consecutive; buckets exact against a recompute before
/// and after PostgreSQL's background fold; then 64 concurrent transitions, exact again.
async fn concurrent_intakes_of_one_street_and_day_number_uniquely_and_count_exactly(db: &TestDb) {
    use cityloop_domain::evaluation::{counters_of, sum_counters};
    use cityloop_store::testing::Raw;
    let fx = Arc::new(Fixture::new());
    let mut tasks = Vec::new();
    for n in 0..64 {
        let store = db.store.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let (mut case, mut ev) = fx.report(900 + n, t0());
            let dl = case.deadline(&fx.cal);
            store
                .create_numbered_case("410103-20261126", &mut case, dl, &mut ev, None)
                .await
                .unwrap();
            case
        }));
    }
    let mut cases = Vec::new();
    for t in tasks {
        cases.push(t.await.unwrap());
    }
    let mut numbers: Vec<String> = cases.iter().map(|c| c.number.to_string()).collect();
    numbers.sort();
    let want: Vec<String> = (1..=64)
        .map(|i| format!("410103-20261126-{i:04}"))
        .collect();
    assert_eq!(
        numbers, want,
        "unique, and consecutive while no write fails"
    );

    let exact = |label: &'static str| {
        let store = db.store.clone();
        let fx = fx.clone();
        async move {
            let mut all = Vec::new();
            for r in store.export_cases(None, 10_000).await.unwrap() {
                all.extend(counters_of(&r.events, &fx.cal));
            }
            let want = sum_counters(&all);
            assert!(!want.is_empty());
            let got = sum_counters(&store.eval_buckets().await.unwrap());
            assert_eq!(got, want, "{label}");
            let mut sums = std::collections::BTreeMap::new();
            for (id, m, v) in store
                .eval_sums(ObjectKind::Street, 20_261_101, 20_261_130)
                .await
                .unwrap()
            {
                *sums.entry((id, m)).or_insert(0i64) += v;
            }
            sums.retain(|_, v| *v != 0);
            let mut want_sums = std::collections::BTreeMap::new();
            for (k, v) in want.iter().filter(|(k, _)| k.kind == ObjectKind::Street) {
                *want_sums
                    .entry((k.object_id.clone(), k.metric.clone()))
                    .or_insert(0i64) += v;
            }
            want_sums.retain(|_, v| *v != 0);
            assert_eq!(sums, want_sums, "{label}: eval_sums");
        }
    };
    exact("after intake").await;
    if let Raw::Postgres(pg) = &db.raw {
        // The background pass may have folded some already; this folds the rest.
        pg.fold_eval_deltas().await.unwrap();
        exact("after the fold").await;
    }

    // Every case accepted at once: 64 concurrent transitions of one street and day.
    let mut tasks = Vec::new();
    for case in cases {
        let store = db.store.clone();
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let ev = case
                .decide(
                    Action::Accept,
                    &Command::default(),
                    &operator(),
                    fx.ctx(t0() + Duration::minutes(5)),
                )
                .unwrap();
            let mut next = case.clone();
            next.apply(&ev).unwrap();
            store
                .append_event(&next, next.deadline(&fx.cal), &ev)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    exact("after 64 transitions").await;
    if let Raw::Postgres(pg) = &db.raw {
        pg.fold_eval_deltas().await.unwrap();
        exact("after the second fold").await;
    }
}
store_test!(
    same_street_and_day_intake,
    concurrent_intakes_of_one_street_and_day_number_uniquely_and_count_exactly
);

/// Open cases at spread positions (a fixed pseudo-random sequence), for the cluster tests.
async fn spread_cases(store: &Arc<dyn Store>, fx: &Fixture, n: i64) -> Vec<Case> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 1_000_000) as f64 / 1_000_000.0
    };
    let now = t0();
    let mut out = Vec::new();
    for i in 0..n {
        let (mut case, ev) = fx.report(1000 + i, now);
        // The event does not carry the position; the case view does.
        case.location.lon = 113.60 + 0.1 * next();
        case.location.lat = 34.70 + 0.08 * next();
        store
            .create_case(&case, case.deadline(&fx.cal), &ev)
            .await
            .unwrap();
        out.push(case);
    }
    out
}

async fn cluster_counts_sum_to_the_cases_in_the_box_at_every_zoom(db: &TestDb) {
    let fx = Fixture::new();
    let cases = spread_cases(&db.store, &fx, 150).await;
    let state = cases[0].state.as_str().to_owned();
    let bbox = [113.62, 34.71, 113.69, 34.77];
    let inside = cases
        .iter()
        .filter(|c| {
            let (x, y) = (c.location.lon, c.location.lat);
            x >= bbox[0] && x <= bbox[2] && y >= bbox[1] && y <= bbox[3]
        })
        .count() as u64;
    assert!(inside > 30 && inside < 150, "{inside}");
    for zoom in 8..=19 {
        let cell = 64.0 * 360.0 / (256.0 * f64::from(1u32 << zoom));
        let f = cityloop_store::ClusterFilter {
            states: vec![state.clone()],
            bbox,
            cell: [cell, cell * 0.82],
            ..Default::default()
        };
        let clusters = db.store.case_clusters(&f, t0()).await.unwrap();
        let sum: u64 = clusters.iter().map(|c| c.count).sum();
        assert_eq!(sum, inside, "zoom {zoom}");
        let mut cells: Vec<_> = clusters.iter().map(|c| (c.gx, c.gy)).collect();
        cells.dedup();
        assert_eq!(
            cells.len(),
            clusters.len(),
            "one row per cell at zoom {zoom}"
        );
        for c in &clusters {
            // The mean position lies in the cell.
            let x0 = c.gx as f64 * cell - 180.0;
            let y0 = c.gy as f64 * cell * 0.82 - 90.0;
            assert!(
                c.lon >= x0 - 1e-9 && c.lon <= x0 + cell + 1e-9,
                "zoom {zoom}: {c:?}"
            );
            assert!(
                c.lat >= y0 - 1e-9 && c.lat <= y0 + cell * 0.82 + 1e-9,
                "zoom {zoom}: {c:?}"
            );
            assert!(c.overdue <= c.count);
        }
        if zoom == 8 {
            assert_eq!(clusters.len(), 1, "the whole box is one cell at zoom 8");
        }
    }
    // Another state, or a street nobody has, counts nothing.
    let none = cityloop_store::ClusterFilter {
        states: vec!["closed".into()],
        bbox,
        cell: [0.01, 0.01],
        ..Default::default()
    };
    assert!(db
        .store
        .case_clusters(&none, t0())
        .await
        .unwrap()
        .is_empty());
    let other_street = cityloop_store::ClusterFilter {
        states: vec![state],
        street_code: Some("410103999".into()),
        bbox,
        cell: [0.01, 0.01],
        ..Default::default()
    };
    assert!(db
        .store
        .case_clusters(&other_street, t0())
        .await
        .unwrap()
        .is_empty());
}
store_test!(
    case_clusters,
    cluster_counts_sum_to_the_cases_in_the_box_at_every_zoom
);

// ---- case search (issue 15; cityloop-store/src/search.rs) ----

use cityloop_store::search::{CaseSearch, SearchSort};

/// A search at `now` with `f` applied, 50 rows.
fn search_at(now: DateTime<Utc>, f: impl FnOnce(&mut CaseSearch)) -> CaseSearch {
    let mut s = CaseSearch {
        now,
        limit: 50,
        ..CaseSearch::default()
    };
    f(&mut s);
    s
}

/// Numbers of the cases a search finds, in its order.
async fn found(store: &Arc<dyn Store>, s: &CaseSearch) -> Vec<String> {
    store
        .search_cases(s)
        .await
        .unwrap()
        .cases
        .iter()
        .map(|c| c.number.as_str().rsplit('-').next().unwrap().to_owned())
        .collect()
}

/// Creates case `n` at `at` with `f` applied to its view.
async fn create_with(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    n: i64,
    at: DateTime<Utc>,
    f: impl FnOnce(&mut Case),
) -> Case {
    let (mut case, ev) = fx.report(n, at);
    f(&mut case);
    store
        .create_case(&case, case.deadline(&fx.cal), &ev)
        .await
        .unwrap();
    case
}

async fn search_finds_cases_by_each_key_and_filter(db: &TestDb) {
    let fx = Fixture::new();
    let s = &db.store;
    let unit = UnitId::new_v7();
    let a = create_with(s, &fx, 1, t0(), |c| {
        c.description = "大学路井盖破损，存在安全隐患".into();
        c.reporter.phone = Some("138 1234 5678".into());
        c.external_ref = Some("ZZ20261126001".into());
        c.location.address = Some("二七区大学路12号".into());
        c.routing.road_name = Some("大学路".into());
        c.routing.community_code = Some("410103010001".into());
        c.routing.grid_code = Some("410103010001001".into());
        c.routing.segment_id = Some("seg-daxue-1".into());
        c.source = Source::Hotline12345;
    })
    .await;
    let b = create_with(s, &fx, 2, t0() + Duration::minutes(1), |c| {
        c.description = "德化街占道经营，影响通行".into();
        c.reporter.phone = Some("+86 139-0000-1234".into());
        c.routing.street_code = Some("410103001".into());
        c.category = CategoryCode::parse_service_code("06020").unwrap_or(c.category.clone());
    })
    .await;
    // 井 and 盖 apart are not the word 井盖.
    create_with(s, &fx, 3, t0() + Duration::minutes(2), |c| {
        c.description = "井边有个盖子，路灯不亮".into();
        c.reporter.phone = None;
    })
    .await;
    // A note written later is searchable too.
    let (mut d, ev) = fx.report(4, t0() + Duration::minutes(3));
    d.description = "人行道".into();
    s.create_case(&d, d.deadline(&fx.cal), &ev).await.unwrap();
    let note = d
        .decide(
            Action::Accept,
            &Command {
                note: Some("现场发现积水".into()),
                ..Command::default()
            },
            &operator(),
            fx.ctx(t0() + Duration::minutes(4)),
        )
        .unwrap();
    d.apply(&note).unwrap();
    d.unit_id = Some(unit);
    s.append_event(&d, d.deadline(&fx.cal), &note)
        .await
        .unwrap();

    let now = t0() + Duration::minutes(5);
    let q = |text: &str| {
        let t = cityloop_domain::search::text_query(text).unwrap();
        search_at(now, move |s| s.text = Some(t))
    };
    assert_eq!(found(s, &q("井盖")).await, ["0001"]);
    assert_eq!(found(s, &q("占道")).await, ["0002"]);
    assert_eq!(found(s, &q("井盖破损")).await, ["0001"]);
    assert!(found(s, &q("井盖经营")).await.is_empty());
    assert_eq!(found(s, &q("路灯")).await, ["0003"]);
    assert_eq!(
        found(s, &q("大学路")).await,
        ["0001"],
        "address and road name"
    );
    assert_eq!(found(s, &q("积水")).await, ["0004"], "notes");
    assert_eq!(
        found(s, &q("德化街")).await.len(),
        3,
        "B by its description, C and D by the fixture address"
    );

    let phone = |p: &str| {
        let p = cityloop_domain::search::phone_query(p).unwrap();
        search_at(now, move |s| s.phone_rev = Some(p))
    };
    assert_eq!(found(s, &phone("5678")).await, ["0001"]);
    assert_eq!(found(s, &phone("13812345678")).await, ["0001"]);
    assert_eq!(found(s, &phone("1234")).await, ["0002"]);
    assert_eq!(
        found(s, &phone("13900001234")).await,
        ["0002"],
        "+86 and dashes"
    );
    assert_eq!(
        found(s, &phone("0000")).await,
        ["0004"],
        "the fixture's 13800000000"
    );
    assert!(found(s, &phone("9999")).await.is_empty());
    // The row keeps the stored phone; shaping for the reader is the service's job.
    let hit = s.search_cases(&phone("5678")).await.unwrap();
    assert_eq!(hit.cases[0].id, a.id);

    let number = |n: &str| {
        let n = cityloop_domain::search::number_query(n).unwrap();
        search_at(now, move |s| s.number_rev = Some(n))
    };
    assert_eq!(found(s, &number("0002")).await, ["0002"]);
    assert_eq!(found(s, &number("410103-20261126-0003")).await, ["0003"]);
    assert_eq!(found(s, &number("20261126-0004")).await, ["0004"]);
    assert!(found(s, &number("5555")).await.is_empty());

    let by = |f: fn(&mut CaseSearch)| search_at(now, f);
    assert_eq!(
        found(s, &by(|s| s.external_ref = Some("ZZ20261126001".into()))).await,
        ["0001"]
    );
    assert_eq!(
        found(s, &by(|s| s.street_code = Some("410103001".into()))).await,
        ["0002"]
    );
    assert_eq!(
        found(s, &by(|s| s.community_code = Some("410103010001".into()))).await,
        ["0001"]
    );
    assert_eq!(
        found(s, &by(|s| s.grid_code = Some("410103010001001".into()))).await,
        ["0001"]
    );
    assert_eq!(
        found(s, &by(|s| s.source = Some("hotline_12345".into()))).await,
        ["0001"]
    );
    let accepted = d.state.as_str().to_owned();
    assert_ne!(accepted, "received");
    assert_eq!(
        found(s, &search_at(now, |s| s.states = vec![accepted])).await,
        ["0004"]
    );
    assert_eq!(
        found(s, &search_at(now, |s| s.unit_id = Some(unit))).await,
        ["0004"]
    );
    let major = cityloop_store::search::major_code_of(&b.category);
    let code = b.category.code.clone();
    let n_major = found(s, &search_at(now, |s| s.major_code = Some(major))).await;
    assert!(n_major.contains(&"0002".to_owned()));
    let n_cat = found(s, &search_at(now, |s| s.category_code = Some(code))).await;
    assert!(n_cat.contains(&"0002".to_owned()));
    assert_eq!(
        found(
            s,
            &search_at(now, |s| {
                s.created_from = Some(t0() + Duration::minutes(1));
                s.created_to = Some(t0() + Duration::minutes(3));
            })
        )
        .await,
        ["0003", "0002"]
    );
    // Keys and filters combine.
    let t = cityloop_domain::search::text_query("德化街").unwrap();
    assert_eq!(
        found(
            s,
            &search_at(now, |s| {
                s.text = Some(t);
                s.street_code = Some("410103001".into());
            })
        )
        .await,
        ["0002"]
    );

    // Road chief: the cases on the segments they hold now.
    let chief = PersonId::new_v7();
    s.create_person(
        &Person {
            id: chief,
            username: "lu.zhang".into(),
            display_name: "路长".into(),
            role: Role::RoadChief,
            unit_id: None,
            active: true,
        },
        "hash",
    )
    .await
    .unwrap();
    s.assign_road_chiefs(&[("seg-daxue-1".into(), "一级".into(), chief)], t0())
        .await
        .unwrap();
    assert_eq!(
        found(s, &search_at(now, |s| s.road_chief = Some(chief))).await,
        ["0001"]
    );
}
store_test!(
    search_keys_and_filters,
    search_finds_cases_by_each_key_and_filter
);

async fn search_judges_light_and_overdue_and_sorts_by_deadline(db: &TestDb) {
    use cityloop_domain::calendar::Light;
    let fx = Fixture::new();
    let s = &db.store;
    let mut cases = Vec::new();
    for n in 1..=4 {
        cases.push(create(s, &fx, n, t0() + Duration::minutes(40 * n)).await);
    }
    // Closed cases have no clock: no light, never overdue, not in a deadline order.
    let (mut closed, ev) = fx.report(5, t0());
    closed.clock = None;
    s.create_case(&closed, None, &ev).await.unwrap();
    let tail = |c: &Case| c.number.as_str().rsplit('-').next().unwrap().to_owned();
    for now in [
        t0(),
        t0() + Duration::minutes(100),
        t0() + Duration::minutes(150),
        t0() + Duration::hours(5),
        t0() + Duration::days(3),
    ] {
        for l in [Light::Green, Light::Yellow, Light::Red] {
            let mut want: Vec<String> = cases
                .iter()
                .rev()
                .filter(|c| c.light(&fx.cal, now) == Some(l))
                .map(tail)
                .collect();
            want.dedup();
            let got = found(s, &search_at(now, |s| s.light = Some(l))).await;
            assert_eq!(got, want, "{l:?} at {now}");
        }
        let red: Vec<String> = cases
            .iter()
            .rev()
            .filter(|c| c.light(&fx.cal, now) == Some(Light::Red))
            .map(tail)
            .collect();
        assert_eq!(
            found(s, &search_at(now, |s| s.overdue = Some(true))).await,
            red
        );
        assert_eq!(
            found(s, &search_at(now, |s| s.overdue = Some(false)))
                .await
                .len(),
            5 - red.len()
        );
        // Longest overdue first = earliest deadline first, overdue cases only.
        let mut by_deadline: Vec<&Case> = cases.iter().collect();
        by_deadline.sort_by_key(|c| c.deadline(&fx.cal));
        let overdue: Vec<String> = by_deadline
            .iter()
            .filter(|c| c.light(&fx.cal, now) == Some(Light::Red))
            .map(|c| tail(c))
            .collect();
        assert_eq!(
            found(s, &search_at(now, |s| s.sort = SearchSort::Overdue)).await,
            overdue
        );
        assert_eq!(
            found(s, &search_at(now, |s| s.sort = SearchSort::Deadline)).await,
            by_deadline.iter().map(|c| tail(c)).collect::<Vec<_>>()
        );
    }
}
store_test!(
    search_light_and_deadline_order,
    search_judges_light_and_overdue_and_sorts_by_deadline
);

async fn search_pages_are_stable_while_cases_are_added(db: &TestDb) {
    let fx = Fixture::new();
    let s = &db.store;
    // Three cases share each creation instant: the sort key breaks the tie.
    let mut made = Vec::new();
    for n in 0..12 {
        made.push(create(s, &fx, n, t0() + Duration::seconds(n / 3)).await.id);
    }
    let mut extra = 0;
    for sort in [SearchSort::Reported, SearchSort::Deadline] {
        let mut seen = Vec::new();
        let mut search = search_at(t0(), |s| {
            s.limit = 5;
            s.sort = sort;
        });
        loop {
            let page = s.search_cases(&search).await.unwrap();
            seen.extend(page.cases.iter().map(|c| c.id));
            // Cases reported meanwhile are newer (and due later): they do not shift
            // the pages after the cursor.
            for _ in 0..2 {
                extra += 1;
                create(
                    s,
                    &fx,
                    100 + extra,
                    t0() + Duration::hours(1) + Duration::seconds(extra),
                )
                .await;
            }
            match page.next {
                Some(next) => search.after = Some(next),
                None => break,
            }
        }
        let original: Vec<_> = seen
            .iter()
            .filter(|id| made.contains(id))
            .copied()
            .collect();
        let mut unique = original.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12, "{sort:?}: every case once");
        assert_eq!(original.len(), 12, "{sort:?}: no duplicates");
        if sort == SearchSort::Reported {
            let mut newest_first = made.clone();
            newest_first.reverse();
            assert_eq!(
                seen, newest_first,
                "no case added meanwhile slips into a later page"
            );
        }
    }
}
store_test!(
    search_paging_stable,
    search_pages_are_stable_while_cases_are_added
);

async fn search_backfill_indexes_cases_without_an_index_row(db: &TestDb) {
    let fx = Fixture::new();
    let s = &db.store;
    for n in 1..=3 {
        create_with(s, &fx, n, t0() + Duration::minutes(n), |c| {
            c.description = format!("占道经营 {n}");
        })
        .await;
    }
    let t = cityloop_domain::search::text_query("占道").unwrap();
    let q = search_at(t0(), |s| s.text = Some(t));
    assert_eq!(found(s, &q).await.len(), 3);
    // As a database from before migration 0014: no index rows.
    db.raw.execute("DELETE FROM case_search").await.unwrap();
    assert!(found(s, &q).await.is_empty());
    assert_eq!(s.search_backfill().await.unwrap(), 3);
    assert_eq!(found(s, &q).await, ["0003", "0002", "0001"]);
    assert_eq!(s.search_backfill().await.unwrap(), 0);
}
store_test!(
    search_backfill,
    search_backfill_indexes_cases_without_an_index_row
);

// ---- sensor intake (migration 0019) ----

fn sensor_audit(entity: &str, id: &str) -> cityloop_store::AuditEntry {
    cityloop_store::AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: t0(),
        actor_id: None,
        entity: entity.into(),
        entity_id: id.into(),
        action: "create".into(),
        before: None,
        after: None,
    }
}

async fn sensor_sites_devices_rule_states_and_the_append_only_case_log(db: &TestDb) {
    use cityloop_domain::sensor::{Device, RuleState, Site, SiteKind};
    use cityloop_store::{AdminOp, RuleStateRow, SensorLogRow, SensorRecord};
    let fx = Fixture::new();
    let site = Site {
        id: "S1".into(),
        kind: SiteKind::BuildingSite,
        name: "测试工地".into(),
        lon: 113.66,
        lat: 34.75,
        street: None,
        responsible_party: Some("测试建设单位".into()),
        unit_code: None,
        permit: Some("P-1".into()),
        contractor: None,
        demo: true,
    };
    db.store
        .admin_apply(
            &[AdminOp::PutSensorSite(site.clone())],
            &sensor_audit("sensor_site", "S1"),
        )
        .await
        .unwrap();
    assert_eq!(
        db.store.sensor_site("S1").await.unwrap(),
        Some(site.clone())
    );
    assert_eq!(db.store.sensor_sites().await.unwrap(), vec![site]);
    let mut dev = Device {
        id: "D1".into(),
        site_id: "S1".into(),
        district: "410103".into(),
        kind: "扬尘监测仪".into(),
        metrics: vec!["pm10".into()],
        mqtt_username: None,
    };
    let put = |device: Device, secret_hash: Option<&str>| AdminOp::PutSensorDevice {
        device,
        secret_hash: secret_hash.map(str::to_owned),
    };
    db.store
        .admin_apply(
            &[put(dev.clone(), Some("h1"))],
            &sensor_audit("sensor_device", "D1"),
        )
        .await
        .unwrap();
    // Replacing the fields without a secret keeps the stored secret.
    dev.kind = "扬尘噪声一体机".into();
    db.store
        .admin_apply(
            &[put(dev.clone(), None)],
            &sensor_audit("sensor_device", "D1"),
        )
        .await
        .unwrap();
    let row = db.store.sensor_device("D1").await.unwrap().unwrap();
    assert_eq!(
        (row.device.clone(), row.secret_hash.as_str()),
        (dev.clone(), "h1")
    );
    assert_eq!(row.last_seen_at, None);
    // Without a secret, a device that does not exist is not created.
    let mut ghost = dev.clone();
    ghost.id = "D2".into();
    let err = db
        .store
        .admin_apply(&[put(ghost, None)], &sensor_audit("sensor_device", "D2"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(db.store.sensor_devices().await.unwrap().len(), 1);

    // An episode's case, found again by its external reference.
    let matter = CategoryCode::parse_service_code("08004").unwrap();
    let (mut case, ev) = fx.report_as(1, t0(), Source::Sensor, matter);
    case.external_ref = Some("sensor:D1:r1:100".into());
    db.store.create_case(&case, None, &ev).await.unwrap();
    assert_eq!(
        db.store
            .sensor_case_by_ref("sensor:D1:r1:100")
            .await
            .unwrap(),
        Some(case.id)
    );
    assert_eq!(
        db.store
            .sensor_case_by_ref("sensor:D1:r1:101")
            .await
            .unwrap(),
        None
    );

    let state = RuleState {
        last_at: Some(t0()),
        ..RuleState::default()
    };
    let log = SensorLogRow {
        id: uuid::Uuid::now_v7(),
        case_id: case.id,
        device_id: "D1".into(),
        rule_id: "r1".into(),
        at: t0(),
        kind: "opened".into(),
        summary: serde_json::json!({"peak": 400.0}),
    };
    let seen = t0() + Duration::minutes(1);
    db.store
        .sensor_record(&SensorRecord {
            device_id: "D1".into(),
            now: seen,
            seen: true,
            status: Some(serde_json::json!({"battery": 80.0})),
            states: vec![RuleStateRow {
                rule_id: "r1".into(),
                state: state.clone(),
                case_id: Some(case.id),
            }],
            log: vec![log.clone()],
            offline_case: Some(Some(case.id)),
            ..SensorRecord::default()
        })
        .await
        .unwrap();
    let states = db.store.sensor_rule_states("D1").await.unwrap();
    assert_eq!(
        states,
        vec![RuleStateRow {
            rule_id: "r1".into(),
            state,
            case_id: Some(case.id)
        }]
    );
    let row = db.store.sensor_device("D1").await.unwrap().unwrap();
    assert_eq!(row.last_seen_at, Some(seen));
    assert_eq!(row.last_status, Some(serde_json::json!({"battery": 80.0})));
    assert_eq!(row.offline_case_id, Some(case.id));
    // A reading without battery/signal keeps the last status; the offline case is cleared.
    db.store
        .sensor_record(&SensorRecord {
            device_id: "D1".into(),
            now: seen + Duration::minutes(1),
            seen: true,
            offline_case: Some(None),
            ..SensorRecord::default()
        })
        .await
        .unwrap();
    let row = db.store.sensor_device("D1").await.unwrap().unwrap();
    assert_eq!(row.last_status, Some(serde_json::json!({"battery": 80.0})));
    assert_eq!(row.offline_case_id, None);
    assert_eq!(db.store.sensor_case_log(case.id).await.unwrap(), vec![log]);
    // The log is append-only.
    assert!(db
        .raw
        .execute("UPDATE sensor_case_log SET kind = 'x'")
        .await
        .is_err());
    assert!(db.raw.execute("DELETE FROM sensor_case_log").await.is_err());
    // A reading of an unknown device writes nothing.
    let err = db
        .store
        .sensor_record(&SensorRecord {
            device_id: "NOPE".into(),
            now: seen,
            seen: true,
            ..SensorRecord::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

store_test!(
    sensor_sites_devices_rule_states_and_case_log_round_trip_on_both_stores,
    sensor_sites_devices_rule_states_and_the_append_only_case_log
);

/// Readings (migration 0027): each value is kept raw and added to its minute; a reading
/// stored again (an MQTT redelivery) is not counted twice; a series sums minutes into
/// buckets starting at `from` (a site's over all its devices); pruning drops raw rows
/// older than the cut and keeps the minutes.
async fn readings_aggregate_per_minute_once_and_pruning_keeps_the_minutes(db: &TestDb) {
    use cityloop_domain::sensor::{Device, Site, SiteKind};
    use cityloop_store::{AdminOp, ReadingValue, SensorRecord, SeriesOf, SeriesPoint, SeriesQuery};
    let site = Site {
        id: "S1".into(),
        kind: SiteKind::BuildingSite,
        name: "测试工地".into(),
        lon: 113.66,
        lat: 34.75,
        street: None,
        responsible_party: None,
        unit_code: None,
        permit: None,
        contractor: None,
        demo: false,
    };
    db.store
        .admin_apply(
            &[AdminOp::PutSensorSite(site)],
            &sensor_audit("sensor_site", "S1"),
        )
        .await
        .unwrap();
    for id in ["D1", "D2"] {
        let device = Device {
            id: id.into(),
            site_id: "S1".into(),
            district: "410103".into(),
            kind: "扬尘监测仪".into(),
            metrics: vec!["pm10".into()],
            mqtt_username: None,
        };
        db.store
            .admin_apply(
                &[AdminOp::PutSensorDevice {
                    device,
                    secret_hash: Some("h".into()),
                }],
                &sensor_audit("sensor_device", id),
            )
            .await
            .unwrap();
    }
    // t0() is on a whole minute.
    let base = t0().timestamp();
    let at = |s: i64| DateTime::from_timestamp(base + s, 0).unwrap();
    let record = |device: &str, s: i64, value: f64| SensorRecord {
        device_id: device.into(),
        now: at(s),
        seen: true,
        readings: vec![ReadingValue {
            metric: "pm10".into(),
            at: at(s),
            value,
        }],
        ..SensorRecord::default()
    };
    for (d, s, v) in [
        ("D1", 10, 10.0),
        ("D1", 20, 30.0),
        ("D1", 20, 30.0), // redelivered: counted once
        ("D1", 70, 50.0),
        ("D1", 130, 5.0),
        ("D2", 15, 100.0),
    ] {
        db.store.sensor_record(&record(d, s, v)).await.unwrap();
    }
    let q = |of: SeriesOf, bucket: i64| SeriesQuery {
        of,
        metric: "pm10".into(),
        from: base,
        to: base + 180,
        bucket,
    };
    let p = |start: i64, count: i64, min: f64, max: f64, mean: f64| SeriesPoint {
        start: base + start,
        count,
        min,
        max,
        mean,
    };
    let d1 = SeriesOf::Device("D1".into());
    assert_eq!(
        db.store.sensor_series(&q(d1.clone(), 60)).await.unwrap(),
        vec![
            p(0, 2, 10.0, 30.0, 20.0),
            p(60, 1, 50.0, 50.0, 50.0),
            p(120, 1, 5.0, 5.0, 5.0)
        ]
    );
    assert_eq!(
        db.store.sensor_series(&q(d1.clone(), 120)).await.unwrap(),
        vec![p(0, 3, 10.0, 50.0, 30.0), p(120, 1, 5.0, 5.0, 5.0)]
    );
    // Buckets start at `from`, not at the epoch: from = base + 60, bucket 120.
    let mut shifted = q(d1.clone(), 120);
    shifted.from = base + 60;
    assert_eq!(
        db.store.sensor_series(&shifted).await.unwrap(),
        vec![p(60, 2, 5.0, 50.0, 27.5)]
    );
    assert_eq!(
        db.store
            .sensor_series(&q(SeriesOf::Site("S1".into()), 60))
            .await
            .unwrap()[0],
        p(0, 3, 10.0, 100.0, 140.0 / 3.0)
    );
    assert_eq!(
        db.store
            .sensor_series(&q(SeriesOf::Site("S2".into()), 60))
            .await
            .unwrap(),
        vec![]
    );
    assert_eq!(
        db.store
            .sensor_raw_readings("D1", "pm10", at(0), at(180), 10)
            .await
            .unwrap(),
        vec![
            (at(10), 10.0),
            (at(20), 30.0),
            (at(70), 50.0),
            (at(130), 5.0)
        ]
    );
    // Prune everything before second 60 in batches of one: two rows of D1, one of D2.
    assert_eq!(db.store.sensor_prune_readings(at(60), 1).await.unwrap(), 1);
    assert_eq!(db.store.sensor_prune_readings(at(60), 10).await.unwrap(), 2);
    assert_eq!(db.store.sensor_prune_readings(at(60), 10).await.unwrap(), 0);
    assert_eq!(
        db.store
            .sensor_raw_readings("D1", "pm10", at(0), at(180), 10)
            .await
            .unwrap(),
        vec![(at(70), 50.0), (at(130), 5.0)]
    );
    assert_eq!(
        db.store.sensor_series(&q(d1, 60)).await.unwrap()[0],
        p(0, 2, 10.0, 30.0, 20.0),
        "the minutes outlive the raw rows"
    );
}

store_test!(
    readings_are_kept_raw_and_per_minute_and_pruned_on_both_stores,
    readings_aggregate_per_minute_once_and_pruning_keeps_the_minutes
);

/// Patrols on the ground (migration 0021): a batch is stored once per id (a retry is a
/// replay, other points under the same id differ), the point limit holds, a run ends once
/// and its end writes the rankings' `patrols` row in the same transaction.
async fn patrol_batches_are_idempotent_and_a_patrol_ends_once(db: &TestDb) {
    use cityloop_domain::evaluation::{Patrol, PatrolKind};
    use cityloop_store::{BatchOutcome, PatrolRefusal, PatrolRun};
    let s = &db.store;
    let chief = Person {
        id: PersonId::new_v7(),
        username: "luzhang.patrol".into(),
        display_name: "路长".into(),
        role: Role::RoadChief,
        unit_id: None,
        active: true,
    };
    s.create_person(&chief, "h").await.unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let run = PatrolRun {
        id: uuid::Uuid::now_v7(),
        person_id: chief.id,
        started_at: now,
        ended_at: None,
        points: 0,
        result: None,
    };
    s.start_patrol_run(&run).await.unwrap();
    assert_eq!(
        s.open_patrol_runs(chief.id).await.unwrap(),
        vec![run.clone()]
    );
    let add = |b: &'static str, n: i64, pts: &'static str| async move {
        s.add_patrol_batch(run.id, b, n, pts, 5, now).await.unwrap()
    };
    assert_eq!(add("a", 2, "[1,2]").await, Ok(BatchOutcome::Stored));
    assert_eq!(add("a", 2, "[1,2]").await, Ok(BatchOutcome::Replayed));
    assert_eq!(add("a", 2, "[9,9]").await, Ok(BatchOutcome::Differs));
    assert_eq!(add("b", 3, "[3,4,5]").await, Ok(BatchOutcome::Stored));
    // Six points would pass the limit of five: refused, nothing stored.
    assert_eq!(add("c", 1, "[6]").await, Err(PatrolRefusal::TooManyPoints));
    assert_eq!(s.patrol_run(run.id).await.unwrap().points, 5);
    assert_eq!(s.patrol_batches(run.id).await.unwrap().len(), 2);

    let record = Patrol {
        id: run.id,
        person_id: chief.id,
        started_at: now,
        ended_at: now + Duration::minutes(30),
        segments: vec!["LD1".into()],
        points: Vec::new(),
        note: None,
        kind: PatrolKind::Trail,
        no_gps_reason: None,
    };
    let end = now + Duration::minutes(30);
    assert_eq!(
        s.end_patrol_run(run.id, end, "{}", &record).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        s.end_patrol_run(run.id, end, "{}", &record).await.unwrap(),
        Err(PatrolRefusal::Ended)
    );
    assert_eq!(add("d", 1, "[7]").await, Err(PatrolRefusal::Ended));
    let ended = s.patrol_run(run.id).await.unwrap();
    assert_eq!(
        (ended.ended_at, ended.result.as_deref()),
        (Some(end), Some("{}"))
    );
    assert!(s.open_patrol_runs(chief.id).await.unwrap().is_empty());
    let recorded = s
        .patrols_of(chief.id, now - Duration::hours(1), now + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(recorded, vec![record]);
    assert!(matches!(
        s.patrol_run(uuid::Uuid::now_v7()).await,
        Err(StoreError::NotFound(_))
    ));
}
store_test!(
    patrol_batches_are_idempotent_and_a_patrol_ends_once_on_every_store,
    patrol_batches_are_idempotent_and_a_patrol_ends_once
);

// ---- parties and enforcement records (issue 20, `cityloop-store/src/enforce.rs`) ----

fn party(name: &str, code: Option<&str>, id_number: Option<&str>) -> cityloop_store::PartyRow {
    use cityloop_domain::party::PartyKind;
    cityloop_store::PartyRow {
        id: uuid::Uuid::now_v7(),
        kind: if code.is_some() {
            PartyKind::Organisation
        } else {
            PartyKind::Person
        },
        name: name.into(),
        credit_code: code.map(Into::into),
        id_number: id_number.map(Into::into),
        address: Some("二七区大学路".into()),
        created_at: t0(),
        created_by: Some(PersonId::new_v7()),
    }
}

fn enf_step(
    seq: u32,
    kind: cityloop_domain::enforce::StepKind,
    at: DateTime<Utc>,
) -> cityloop_domain::enforce::StepEvent {
    cityloop_domain::enforce::StepEvent {
        seq,
        kind,
        at,
        doc_no: Some(format!("二七城执〔2026〕{seq}号")),
        note: None,
        hearing_right: None,
        article: None,
        penalty: None,
        amount_yuan: None,
        corrects: None,
        attachments: vec!["0190f000-0000-7000-8000-000000000001".into()],
    }
}

async fn parties_links_and_enforcement_steps_round_trip_and_stay_in_order(db: &TestDb) {
    use cityloop_domain::enforce::{PenaltyKind, StepKind};
    use cityloop_store::{CasePartyLink, EnforcementStepRow};
    let fx = Fixture::new();
    let s = &db.store;
    let org = party("郑州某建筑工程有限公司", Some("91410103MA00000006"), None);
    let person = party("张三", None, Some("410103199001011234"));
    s.create_party(&org).await.unwrap();
    s.create_party(&person).await.unwrap();
    assert_eq!(s.get_party(org.id).await.unwrap(), org);
    assert_eq!(s.get_party(person.id).await.unwrap(), person);
    // A credit code is unique.
    let twin = party("另一家公司", Some("91410103MA00000006"), None);
    assert!(matches!(
        s.create_party(&twin).await,
        Err(StoreError::Conflict(_))
    ));
    // Search: part of the name, or the code's first characters (any case); `%` is literal.
    let names =
        |v: Vec<cityloop_store::PartyRow>| v.into_iter().map(|p| p.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.search_parties("建筑", 10).await.unwrap()),
        ["郑州某建筑工程有限公司"]
    );
    assert_eq!(
        names(s.search_parties("91410103ma", 10).await.unwrap()),
        ["郑州某建筑工程有限公司"]
    );
    assert!(s.search_parties("%", 10).await.unwrap().is_empty());

    // Links: the latest is current; a case relinked leaves the first party's cases.
    let c1 = create(s, &fx, 1, t0()).await;
    let c2 = create(s, &fx, 2, t0() + Duration::hours(1)).await;
    assert_eq!(s.case_party(c1.id).await.unwrap(), None);
    let link = |case: CaseId, seq, party_id| CasePartyLink {
        case_id: case,
        seq,
        party_id,
        at: t0() + Duration::hours(2),
        by: None,
    };
    s.link_case_party(&link(c1.id, 1, person.id)).await.unwrap();
    s.link_case_party(&link(c2.id, 1, org.id)).await.unwrap();
    // The same position twice is a conflict (two operators racing).
    assert!(matches!(
        s.link_case_party(&link(c1.id, 1, org.id)).await,
        Err(StoreError::Conflict(_))
    ));
    s.link_case_party(&link(c1.id, 2, org.id)).await.unwrap();
    assert_eq!(s.case_party(c1.id).await.unwrap().unwrap().party_id, org.id);
    let cases: Vec<CaseId> = s
        .party_cases(org.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert_eq!(cases, [c1.id, c2.id], "oldest first");
    assert_eq!(s.party_cases(org.id).await.unwrap()[0].1, c1.created_at);
    assert!(s.party_cases(person.id).await.unwrap().is_empty());

    // Steps: appended in order, read back by record then seq, one winner per position.
    let record = uuid::Uuid::now_v7();
    let row = |step| EnforcementStepRow {
        record_id: record,
        case_id: c1.id,
        party_id: org.id,
        unit_id: Some(UnitId::new_v7()),
        step,
        recorded_by: Some(PersonId::new_v7()),
        recorded_at: t0() + Duration::hours(3),
    };
    let mut on_spot = enf_step(1, StepKind::OnTheSpot, t0() + Duration::hours(3));
    on_spot.article = Some("msw-42".into());
    on_spot.penalty = Some(PenaltyKind::Fine);
    on_spot.amount_yuan = Some(200);
    on_spot.note = Some("当场处罚「测试」".into());
    let first = row(on_spot);
    s.append_enforcement_step(&first).await.unwrap();
    let second = row(enf_step(2, StepKind::Execute, t0() + Duration::hours(4)));
    s.append_enforcement_step(&second).await.unwrap();
    assert!(matches!(
        s.append_enforcement_step(&row(enf_step(
            2,
            StepKind::Close,
            t0() + Duration::hours(5)
        )))
        .await,
        Err(StoreError::Conflict(_))
    ));
    let back = s.enforcement_steps_of_case(c1.id).await.unwrap();
    assert_eq!(back, [first.clone(), second.clone()]);
    assert_eq!(
        s.enforcement_steps_of_party(org.id).await.unwrap(),
        [first, second]
    );
    assert!(s.enforcement_steps_of_case(c2.id).await.unwrap().is_empty());
    assert!(s
        .enforcement_steps_of_party(person.id)
        .await
        .unwrap()
        .is_empty());
}
store_test!(
    enforcement_round_trip,
    parties_links_and_enforcement_steps_round_trip_and_stay_in_order
);

async fn known_external_refs_names_only_the_stored_refs_of_that_source(db: &TestDb) {
    let fx = Fixture::new();
    let s = &db.store;
    let refs = |v: &[&str]| v.iter().map(|r| r.to_string()).collect::<Vec<_>>();
    let with = |source: Source, r: &'static str| {
        move |c: &mut Case| {
            c.source = source;
            c.external_ref = Some(r.into());
        }
    };
    create_with(s, &fx, 1, t0(), with(Source::Hotline12345, "GD1")).await;
    create_with(s, &fx, 2, t0(), with(Source::Inspector, "GD2")).await;
    // Public reports keep no per-source reference (migration 0016).
    create_with(s, &fx, 3, t0(), with(Source::Public, "GD3")).await;
    let asked = refs(&["GD1", "GD2", "GD3", "GD4"]);
    let mut known = s
        .known_external_refs(Source::Hotline12345, &asked)
        .await
        .unwrap();
    known.sort();
    assert_eq!(known, refs(&["GD1"]));
    assert_eq!(
        s.known_external_refs(Source::Inspector, &asked)
            .await
            .unwrap(),
        refs(&["GD2"])
    );
    assert!(s
        .known_external_refs(Source::Public, &asked)
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .known_external_refs(Source::Hotline12345, &[])
        .await
        .unwrap()
        .is_empty());
    // More references than one statement binds (500 per statement).
    let many: Vec<String> = (0..1200).map(|i| format!("GD{i}")).collect();
    let mut known = s
        .known_external_refs(Source::Hotline12345, &many)
        .await
        .unwrap();
    known.sort();
    assert_eq!(known, refs(&["GD1"]));
}
store_test!(
    known_external_refs,
    known_external_refs_names_only_the_stored_refs_of_that_source
);

store_test!(
    message_outbox_and_codes,
    a_public_report_queues_one_receipt_a_code_is_kept_until_sent_and_a_dead_message_is_resent
);

async fn a_public_report_queues_one_receipt_a_code_is_kept_until_sent_and_a_dead_message_is_resent(
    db: &TestDb,
) {
    use cityloop_domain::message::otp;
    use cityloop_store::messages::{status, AttemptOutcome};
    use cityloop_store::{MessageAttempt, NewMessage};
    let fx = Fixture::new();
    let now = t0();
    let matter = CategoryCode::parse_service_code("06010").unwrap();
    let (case, ev) = fx.report_as(1, now, Source::Public, matter);
    db.store
        .create_case(&case, case.deadline(&fx.cal), &ev)
        .await
        .unwrap();
    let rows = db
        .store
        .list_messages(None, Some(case.id), 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one receipt: {rows:?}");
    assert_eq!(
        (rows[0].purpose.as_str(), rows[0].channel.as_str()),
        ("receipt", "sms")
    );
    assert_eq!(rows[0].recipient, "13800000000");

    // A code and its message commit together; the code stays in the row until it is sent.
    let state = otp::issued(None, "hash".into(), now);
    let code = NewMessage {
        dedupe_key: "otp:1".into(),
        purpose: "code".into(),
        channel: "sms".into(),
        recipient: "13800000000".into(),
        case_id: None,
        params: serde_json::json!({"otp": "123456"}),
    };
    db.store
        .issue_otp("13800000000", &state, &code, now)
        .await
        .unwrap();
    assert_eq!(
        db.store.otp_state("13800000000").await.unwrap(),
        Some(state)
    );
    assert_eq!(db.store.otp_state("13900000000").await.unwrap(), None);

    // Claimed once (the lease hides it from a second worker).
    let due = db
        .store
        .claim_messages(now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert!(db
        .store
        .claim_messages(now, now + Duration::minutes(1), 10)
        .await
        .unwrap()
        .is_empty());
    let otp_row = due.iter().find(|m| m.purpose == "code").unwrap();
    assert_eq!(otp_row.params["otp"], "123456");
    let receipt = due.iter().find(|m| m.purpose == "receipt").unwrap();
    let attempt = |m: &cityloop_store::MessageRow, error: Option<&str>| MessageAttempt {
        id: m.id,
        attempts: m.attempts + 1,
        at: now,
        provider: "http".into(),
        body: "text ******".into(),
        error: error.map(str::to_owned),
    };
    db.store
        .finish_message(&attempt(otp_row, None), AttemptOutcome::Delivered)
        .await
        .unwrap();
    db.store
        .finish_message(
            &attempt(receipt, Some("gateway answered 500")),
            AttemptOutcome::Dead,
        )
        .await
        .unwrap();
    let all = db.store.list_messages(None, None, 10).await.unwrap();
    let sent = all.iter().find(|m| m.purpose == "code").unwrap();
    assert_eq!(sent.status, status::DELIVERED);
    assert_eq!(
        sent.params,
        serde_json::json!({}),
        "the code is gone once sent"
    );
    let dead = all.iter().find(|m| m.purpose == "receipt").unwrap();
    assert_eq!(
        (dead.status.as_str(), dead.failures, dead.attempts),
        (status::DEAD, 1, 1)
    );
    assert_eq!(dead.last_error.as_deref(), Some("gateway answered 500"));
    let health = db
        .store
        .outbox_health(now - Duration::hours(24))
        .await
        .unwrap();
    assert_eq!(
        (health.pending, health.failing, health.dead_recent),
        (0, 0, 1)
    );

    // Only a dead message is resent, never a code.
    assert!(matches!(
        db.store.resend_message(sent.id, now).await,
        Err(StoreError::Conflict(_))
    ));
    let again = db.store.resend_message(dead.id, now).await.unwrap();
    assert_eq!(
        (again.status.as_str(), again.failures),
        (status::PENDING, 0)
    );
    assert_eq!(
        db.store
            .claim_messages(now, now + Duration::minutes(1), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The phone index finds the case by the phone's reversed digits.
    let found = db
        .store
        .cases_by_phone_key(&cityloop_domain::search::reversed_digits("13800000000"), 10)
        .await
        .unwrap();
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [case.id]);
}

/// Co-handling (主办/协办): a unit's queue (`CaseFilter::assisting`) holds the cases it
/// assists on while its part is open, besides its own; a plain unit filter does not; an
/// assisting part reported back leaves the queue, and the stored view keeps the parts.
async fn assisting_queue_body(db: &TestDb) {
    let fx = Fixture::new();
    let (lead, helper) = (UnitId::new_v7(), UnitId::new_v7());
    let case = create(&db.store, &fx, 1, t0()).await;
    let other = create(&db.store, &fx, 2, t0()).await;
    let op = operator();
    let d = staff(Role::Dispatcher, None);
    let to = |u: UnitId, note: Option<&str>| Command {
        unit_id: Some(u),
        note: note.map(str::to_owned),
        ..Command::default()
    };
    let start = vec![
        (Action::Accept, op.clone(), Command::default()),
        (Action::Register, op.clone(), Command::default()),
        (Action::Dispatch, d.clone(), to(lead, None)),
    ];
    let mut steps = start.clone();
    steps.push((
        Action::AssistAdd,
        d.clone(),
        to(helper, Some("协助清运渣土")),
    ));
    let case = drive(&db.store, &fx, case, steps, t0()).await;
    drive(&db.store, &fx, other, start, t0()).await;
    let queue = |unit: UnitId, assisting: bool| {
        let store = db.store.clone();
        async move {
            let f = CaseFilter {
                unit_id: Some(unit),
                assisting,
                states: vec!["handling".into()],
                ..CaseFilter::default()
            };
            let mut ids: Vec<CaseId> = store
                .list_cases(
                    &f,
                    &Page {
                        after: None,
                        limit: 50,
                    },
                )
                .await
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(queue(helper, true).await, vec![case.id]);
    assert!(queue(helper, false).await.is_empty());
    assert_eq!(
        queue(lead, true).await.len(),
        2,
        "the lead's own cases stay"
    );
    let stored = db.store.get_case(case.id).await.unwrap();
    assert_eq!(stored.assists.len(), 1);
    assert_eq!(stored.assists[0].task, "协助清运渣土");
    let report = Command {
        note: Some("已清运".into()),
        ..Command::default()
    };
    let case = drive(
        &db.store,
        &fx,
        case,
        vec![(
            Action::AssistReport,
            staff(Role::Handler, Some(helper)),
            report,
        )],
        t0() + Duration::minutes(10),
    )
    .await;
    assert!(queue(helper, true).await.is_empty());
    let stored = db.store.get_case(case.id).await.unwrap();
    assert_eq!(stored, case);
    assert_eq!(
        stored.assists[0].state,
        cityloop_domain::cohandle::AssistState::Reported
    );
}
store_test!(
    an_assisting_units_queue_holds_the_case_while_its_part_is_open,
    assisting_queue_body
);
