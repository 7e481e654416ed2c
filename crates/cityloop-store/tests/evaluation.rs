//! Evaluation buckets on both stores: after any sequence of transitions the day buckets
//! the store maintains in each event's transaction equal a full recompute from the event
//! history, and a rebuild reproduces them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use cityloop_domain::calendar::{LimitUnit, TimeLimit, WorkCalendar};
use cityloop_domain::case::{Case, Contact, Ctx, Location, NewCase, Routing};
use cityloop_domain::evaluation::{counters_of, sum_counters, CounterKey, ObjectKind, Patrol};
use cityloop_domain::ids::{CaseId, CaseNumber, PersonId, UnitId};
use cityloop_domain::limits::{LimitRule, LimitTable, Stage};
use cityloop_domain::model::{
    Actor, ActorRole, AreaGrade, CategoryCode, Person, Priority, Role, Source,
};
use cityloop_domain::workflow::{Action, Command};
use cityloop_store::testing::TestDb;
use cityloop_store::Store;
use proptest::prelude::*;

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
                    amount: if stage == Stage::Handle { 4 } else { 1 },
                    unit: LimitUnit::WorkingHours,
                },
                source: "test".into(),
            })
            .collect(),
    )
    .unwrap()
}

const SOURCES: [Source; 4] = [
    Source::Inspector,
    Source::Public,
    Source::RoadChief,
    Source::Hotline12345,
];

/// A small cast: two people per role, two units.
struct Cast {
    people: BTreeMap<Role, Vec<PersonId>>,
    units: [UnitId; 2],
}

impl Cast {
    fn new() -> Self {
        let mut people = BTreeMap::new();
        for r in Role::ALL {
            people.insert(*r, vec![PersonId::new_v7(), PersonId::new_v7()]);
        }
        Cast {
            people,
            units: [UnitId::new_v7(), UnitId::new_v7()],
        }
    }

    fn actor(&self, role: Role, pick: usize, unit: Option<UnitId>) -> Actor {
        Actor {
            person_id: Some(self.people[&role][pick % 2]),
            role: ActorRole::Staff(role),
            unit_id: unit,
        }
    }
}

fn new_case(i: usize) -> NewCase {
    NewCase {
        source: SOURCES[i % SOURCES.len()],
        priority: Priority::Normal,
        category: CategoryCode::parse_service_code("06010").unwrap(),
        area_grade: AreaGrade::A,
        description: format!("案件 {i}"),
        location: Location {
            lon: 113.64,
            lat: 34.75,
            address: None,
        },
        routing: Routing {
            street_code: Some(format!("S{}", i % 2)),
            community_code: Some(format!("C{}", i % 3)),
            grid_code: Some(format!("G{i}")),
            segment_id: i.is_multiple_of(2).then(|| format!("SEG{}", i % 4)),
            ..Routing::default()
        },
        reporter: Contact::default(),
        media: vec![],
        external_ref: None,
        follows: None,
    }
}

/// Runs `steps` = (case index, action choice, actor choice, minutes to advance) on a store.
async fn run(store: &Arc<dyn Store>, steps: &[(usize, usize, usize, i64)]) -> Vec<CaseId> {
    let cal = WorkCalendar::china_2026();
    let limits = limits();
    let cast = Cast::new();
    let mut now = Utc.with_ymd_and_hms(2026, 9, 29, 1, 0, 0).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for i in 0..4 {
        let ctx = Ctx {
            now,
            calendar: &cal,
            limits: &limits,
        };
        let reporter = cast.actor(Role::Inspector, i, None);
        let (case, ev) = Case::report(
            CaseId::new_v7(),
            CaseNumber(format!("410103-20260929-{i:04}")),
            new_case(i),
            &reporter,
            ctx,
        )
        .unwrap();
        store
            .create_case(&case, case.deadline(&cal), &ev)
            .await
            .unwrap();
        cases.push(case);
    }
    for &(ci, choice, who, minutes) in steps {
        now += Duration::minutes(minutes);
        let case = &cases[ci % cases.len()];
        let legal: Vec<Action> = Action::ALL
            .iter()
            .copied()
            .filter(|a| a.rule().from.contains(&case.state))
            .collect();
        if legal.is_empty() {
            continue;
        }
        let action = legal[choice % legal.len()];
        let role = action.rule().roles[who % action.rule().roles.len()];
        let unit = (role == Role::Handler).then_some(case.unit_id).flatten();
        let actor = cast.actor(role, who, unit);
        let cmd = Command {
            note: Some("说明".into()),
            reason: Some("原因".into()),
            unit_id: Some(cast.units[who % 2]),
            extension: Some(TimeLimit {
                amount: 1,
                unit: LimitUnit::WorkingDays,
            }),
            attachments: vec!["sha256:x".into()],
            category: None,
            merge_into: (action == Action::Merge).then(|| cityloop_domain::case::MergeRef {
                case_id: cases[(ci + 1) % cases.len()].id,
                number: cases[(ci + 1) % cases.len()].number.clone(),
                unit_id: None,
            }),
            ..Command::default()
        };
        let ctx = Ctx {
            now,
            calendar: &cal,
            limits: &limits,
        };
        let Ok(ev) = case.decide(action, &cmd, &actor, ctx) else {
            continue;
        };
        let mut next = case.clone();
        next.apply(&ev).unwrap();
        store
            .append_event(&next, next.deadline(&cal), &ev)
            .await
            .unwrap();
        cases[ci % 4] = next;
    }
    cases.iter().map(|c| c.id).collect()
}

async fn recompute(store: &Arc<dyn Store>, ids: &[CaseId]) -> BTreeMap<CounterKey, i64> {
    let cal = WorkCalendar::china_2026();
    let mut all = Vec::new();
    for id in ids {
        all.extend(counters_of(&store.events(*id).await.unwrap(), &cal));
    }
    sum_counters(&all)
}

async fn stored(store: &Arc<dyn Store>) -> BTreeMap<CounterKey, i64> {
    sum_counters(&store.eval_buckets().await.unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn incremental_buckets_equal_a_full_recompute_from_events(
        steps in prop::collection::vec((0usize..4, 0usize..8, 0usize..4, 0i64..900), 1..70)
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            for db in TestDb::all().await {
                let ids = run(&db.store, &steps).await;
                let expected = recompute(&db.store, &ids).await;
                let got = stored(&db.store).await;
                assert_eq!(got, expected, "backend {:?}", db.store.backend());
                sums_match_the_day_buckets(&db.store, &expected).await;
                assert_eq!(db.store.eval_rebuild().await.unwrap(), 4);
                assert_eq!(stored(&db.store).await, expected, "rebuild, backend {:?}", db.store.backend());
            }
        });
    }
}

/// `eval_sums` (whole months from the month totals, other days from the day buckets)
/// equals summing the recomputed day counters, for ranges of whole and partial months.
async fn sums_match_the_day_buckets(store: &Arc<dyn Store>, expected: &BTreeMap<CounterKey, i64>) {
    let days: Vec<i32> = expected.keys().map(|k| k.day).collect();
    let (Some(&lo), Some(&hi)) = (days.iter().min(), days.iter().max()) else {
        return;
    };
    let month_start = |d: i32| d / 100 * 100 + 1;
    let month_end = |d: i32| {
        let first = chrono::NaiveDate::from_ymd_opt(d / 10_000, (d / 100 % 100) as u32, 1).unwrap();
        let next = first.checked_add_months(chrono::Months::new(1)).unwrap();
        let last = next.pred_opt().unwrap();
        d / 100 * 100 + chrono::Datelike::day(&last) as i32
    };
    let ranges = [
        (lo, hi),
        (month_start(lo), month_end(hi)),
        (month_start(lo), hi),
        (lo + 1, hi),
        (month_start(hi), month_end(hi)),
        (month_start(lo), month_end(lo)),
    ];
    for kind in ObjectKind::ALL {
        for (from, to) in ranges {
            let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
            for (k, v) in expected {
                if k.kind == *kind && k.day >= from && k.day <= to {
                    *want
                        .entry((k.object_id.clone(), k.metric.clone()))
                        .or_default() += v;
                }
            }
            want.retain(|_, v| *v != 0);
            let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
            for (id, m, v) in store.eval_sums(*kind, from, to).await.unwrap() {
                *got.entry((id, m)).or_default() += v;
            }
            got.retain(|_, v| *v != 0);
            assert_eq!(
                got,
                want,
                "{kind:?} {from}..={to}, backend {:?}",
                store.backend()
            );
        }
    }
}

async fn sums_and_drill_down_read_the_buckets(db: &TestDb) {
    // A fixed walk: every case accepted, registered and dispatched.
    let steps: Vec<(usize, usize, usize, i64)> = (0..4)
        .flat_map(|i| [(i, 0, 0, 5), (i, 0, 0, 5), (i, 0, 0, 5), (i, 1, 0, 5)])
        .collect();
    let ids = run(&db.store, &steps).await;
    let all = recompute(&db.store, &ids).await;
    let expected: i64 = all
        .iter()
        .filter(|(k, _)| k.kind == ObjectKind::Street && k.metric == "registered")
        .map(|(_, v)| v)
        .sum();
    let sums = db
        .store
        .eval_sums(ObjectKind::Street, 20_260_901, 20_261_231)
        .await
        .unwrap();
    let got: i64 = sums
        .iter()
        .filter(|(_, m, _)| m == "registered")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(got, expected);
    assert!(got > 0, "the walk registers cases");
    let cases = db
        .store
        .eval_cases(
            ObjectKind::Street,
            &["S0".into(), "S1".into()],
            "registered",
            20_260_901,
            20_261_231,
            100,
        )
        .await
        .unwrap();
    assert_eq!(cases.len() as i64, got);
    let none = db
        .store
        .eval_sums(ObjectKind::Street, 20_270_101, 20_270_131)
        .await
        .unwrap();
    assert!(none.is_empty());
}

async fn patrols_round_trip_by_start_time(db: &TestDb) {
    let person = Person {
        id: PersonId::new_v7(),
        username: "luzhang".into(),
        display_name: "路长".into(),
        role: Role::RoadChief,
        unit_id: None,
        active: true,
    };
    db.store.create_person(&person, "x").await.unwrap();
    let t = |d: u32| -> DateTime<Utc> { Utc.with_ymd_and_hms(2026, 11, d, 1, 0, 0).unwrap() };
    for d in [2, 3, 20] {
        let p = Patrol {
            id: uuid::Uuid::now_v7(),
            person_id: person.id,
            started_at: t(d),
            ended_at: t(d) + Duration::hours(1),
            segments: vec!["SEG1".into()],
            points: vec![[113.64, 34.75]],
            note: Some("巡查".into()),
            kind: Default::default(),
            no_gps_reason: None,
        };
        db.store.add_patrol(&p).await.unwrap();
    }
    let got = db.store.patrols(t(1), t(15)).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].segments, vec!["SEG1".to_string()]);
}

macro_rules! store_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                super::$name(&db).await;
            }
        }
    };
}

mod on_every_store {
    use super::*;
    store_test!(sums_and_drill_down_read_the_buckets);
    store_test!(patrols_round_trip_by_start_time);
}
