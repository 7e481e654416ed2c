//! Hand-computed expectations on a small fixed history (four cases, two months).
//!
//! Calendar: the embedded 2026 calendar (08:30–12:00, 13:30–17:30 Beijing time; National
//! Day 10-01..10-07; 10-10 a make-up working day). Limits: every stage 1 working hour,
//! handling 4 working hours.
//!
//! Case A (street S1/C1/G1, segment SEG1, inspector report by I1)
//!   09-30 16:00 report; 16:30 accept O1 (0.5h, on time); 17:00 register SUP (on time);
//!   17:20 dispatch D1 → U1 (on time); handling clock 4h from 17:20.
//!   10-08 13:40 report back: 10 min on 09-30 + 3.5h + 10 min on 10-08 = 3h50m ≤ 4h, on
//!   time across the holiday (13 800 s). 14:00 check_fail I2 (rework 1; fresh clock).
//!   15:00 suspend (1h used); 10-09 15:00 resume (7.5h paused); 17:30 report back:
//!   11h gross − 7.5h paused = 3.5h, on time (12 600 s). 10-10 (make-up day) 09:00
//!   check_pass I2 (30 min); 09:30 close SUP (on time). Closed on time.
//! Case B (street S1/C1/G2, segment SEG1, public report)
//!   11-02 09:00 report; 09:30 accept O1 → to_verify; 11:00 confirm I1 (1.5h, late);
//!   11:10 register SUP; 11:20 dispatch D1 → U2; 11:40 return by U2 (charged to D1);
//!   13:40 dispatch D2 → U1 (30 working min, on time); 14:00 request 1 working day;
//!   14:10 approved (allowed 11.5h); 11-03 16:00 report back: 9h50m, on time (35 400 s);
//!   16:30 check_fail I2; 11-04 15:00 report back: 6h > 4h, late (21 600 s);
//!   15:30 check_fail I2; 16:30 report back 1h (3 600 s); 17:00 check_pass I1;
//!   11-05 09:00 close SUP: exactly 1h, on time. Closed, not on time; rework 2.
//! Case C (street S2/C2/G3, segment SEG2, road-chief report)
//!   11-02 10:00 report; 12:30 accept O2 (2h, late); 13:40 register SUP; 14:00 dispatch
//!   D2 → U1; 14:30 suspend. Still 挂账: not in any region's 立案数.
//! Case D (street S2/C2/G3, no segment, inspector report by I1)
//!   11-03 09:00 report; 09:10 accept O1; 09:20 register SUP; 09:30 roll back D1;
//!   09:40 void O1. Registered then voided.

use chrono::{NaiveDate, TimeZone};

use super::*;
use crate::calendar::{LimitUnit, TimeLimit};
use crate::case::{Case, Contact, Ctx, Location, NewCase, Routing};
use crate::ids::{CaseId, CaseNumber, PersonId, UnitId};
use crate::limits::{LimitRule, LimitTable, Stage};
use crate::model::{Actor, ActorRole, AreaGrade, CategoryCode, Priority, Role};
use crate::workflow::{Command, Satisfaction};

fn limits() -> LimitTable {
    let hours = |amount| TimeLimit {
        amount,
        unit: LimitUnit::WorkingHours,
    };
    let rules = Stage::ALL
        .iter()
        .map(|&stage| LimitRule {
            category: None,
            grade: None,
            priority: None,
            stage,
            limit: hours(if stage == Stage::Handle { 4 } else { 1 }),
            source: "test".into(),
        })
        .collect();
    LimitTable::new(rules).unwrap()
}

struct People {
    i1: Actor,
    i2: Actor,
    o1: Actor,
    o2: Actor,
    sup: Actor,
    d1: Actor,
    d2: Actor,
    rc: Actor,
    u1: UnitId,
    u2: UnitId,
}

fn staff(role: Role, unit: Option<UnitId>) -> Actor {
    Actor {
        person_id: Some(PersonId::new_v7()),
        role: ActorRole::Staff(role),
        unit_id: unit,
    }
}

impl People {
    fn new() -> Self {
        People {
            i1: staff(Role::Inspector, None),
            i2: staff(Role::Inspector, None),
            o1: staff(Role::Operator, None),
            o2: staff(Role::Operator, None),
            sup: staff(Role::Supervisor, None),
            d1: staff(Role::Dispatcher, None),
            d2: staff(Role::Dispatcher, None),
            rc: staff(Role::RoadChief, None),
            u1: UnitId::new_v7(),
            u2: UnitId::new_v7(),
        }
    }
    fn handler(&self, u: UnitId) -> Actor {
        Actor {
            person_id: Some(PersonId::new_v7()),
            role: ActorRole::Staff(Role::Handler),
            unit_id: Some(u),
        }
    }
}

fn id(a: &Actor) -> String {
    a.person_id.unwrap().to_string()
}

/// Beijing local time "MM-DD HH:MM" in 2026.
fn bj(s: &str) -> DateTime<Utc> {
    let t = chrono::NaiveDateTime::parse_from_str(&format!("2026-{s}"), "%Y-%m-%d %H:%M").unwrap();
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&t)
        .unwrap()
        .with_timezone(&Utc)
}

struct Run {
    case: Case,
    events: Vec<Event>,
    cal: WorkCalendar,
    limits: LimitTable,
}

fn routing(street: &str, community: &str, grid: &str, segment: Option<&str>) -> Routing {
    Routing {
        street_code: Some(street.into()),
        community_code: Some(community.into()),
        grid_code: Some(grid.into()),
        segment_id: segment.map(Into::into),
        ..Routing::default()
    }
}

impl Run {
    fn report(at: &str, source: Source, by: &Actor, routing: Routing) -> Run {
        Self::report_from(at, source, by, routing, Contact::default())
    }

    fn report_from(
        at: &str,
        source: Source,
        by: &Actor,
        routing: Routing,
        reporter: Contact,
    ) -> Run {
        let cal = WorkCalendar::china_2026();
        let limits = limits();
        let new = NewCase {
            source,
            priority: Priority::Normal,
            category: CategoryCode::parse_service_code("06010").unwrap(),
            area_grade: AreaGrade::A,
            description: "暴露垃圾".into(),
            location: Location {
                lon: 113.64,
                lat: 34.75,
                address: None,
            },
            routing,
            reporter,
            media: vec![],
            external_ref: None,
            follows: None,
        };
        let ctx = Ctx {
            now: bj(at),
            calendar: &cal,
            limits: &limits,
        };
        let (case, ev) =
            Case::report(CaseId::new_v7(), CaseNumber("t".into()), new, by, ctx).unwrap();
        Run {
            case,
            events: vec![ev],
            cal,
            limits,
        }
    }

    fn act(&mut self, at: &str, action: Action, by: &Actor, cmd: Command) -> &mut Self {
        let ctx = Ctx {
            now: bj(at),
            calendar: &self.cal,
            limits: &self.limits,
        };
        let ev = self.case.decide(action, &cmd, by, ctx).unwrap();
        self.case.apply(&ev).unwrap();
        self.events.push(ev);
        self
    }

    fn go(&mut self, at: &str, action: Action, by: &Actor) -> &mut Self {
        let cmd = Command {
            reason: Some("原因".into()),
            note: Some("说明".into()),
            attachments: vec!["sha256:x".into()],
            ..Command::default()
        };
        self.act(at, action, by, cmd)
    }

    fn dispatch(&mut self, at: &str, by: &Actor, unit: UnitId) -> &mut Self {
        let cmd = Command {
            unit_id: Some(unit),
            ..Command::default()
        };
        self.act(at, Action::Dispatch, by, cmd)
    }

    fn facts(&self) -> CaseFacts {
        CaseFacts::from_events(&self.events, &self.cal)
    }
}

fn case_a(p: &People) -> Run {
    let h1 = p.handler(p.u1);
    let mut r = Run::report(
        "09-30 16:00",
        Source::Inspector,
        &p.i1,
        routing("S1", "C1", "G1", Some("SEG1")),
    );
    r.go("09-30 16:30", Action::Accept, &p.o1)
        .go("09-30 17:00", Action::Register, &p.sup)
        .dispatch("09-30 17:20", &p.d1, p.u1)
        .go("10-08 13:40", Action::ReportBack, &h1)
        .go("10-08 14:00", Action::CheckFail, &p.i2)
        .go("10-08 15:00", Action::Suspend, &p.sup)
        .go("10-09 15:00", Action::Resume, &p.sup)
        .go("10-09 17:30", Action::ReportBack, &h1)
        .go("10-10 09:00", Action::CheckPass, &p.i2)
        .go("10-10 09:30", Action::Close, &p.sup);
    r
}

fn case_b(p: &People) -> Run {
    let h1 = p.handler(p.u1);
    let h2 = p.handler(p.u2);
    let mut r = Run::report(
        "11-02 09:00",
        Source::Public,
        &Actor::public(),
        routing("S1", "C1", "G2", Some("SEG1")),
    );
    r.go("11-02 09:30", Action::Accept, &p.o1)
        .go("11-02 11:00", Action::Confirm, &p.i1)
        .go("11-02 11:10", Action::Register, &p.sup)
        .dispatch("11-02 11:20", &p.d1, p.u2)
        .go("11-02 11:40", Action::Return, &h2)
        .dispatch("11-02 13:40", &p.d2, p.u1);
    let ext = Command {
        reason: Some("需协调".into()),
        extension: Some(TimeLimit {
            amount: 1,
            unit: LimitUnit::WorkingDays,
        }),
        ..Command::default()
    };
    r.act("11-02 14:00", Action::RequestExtension, &h1, ext)
        .go("11-02 14:10", Action::ApproveExtension, &p.sup)
        .go("11-03 16:00", Action::ReportBack, &h1)
        .go("11-03 16:30", Action::CheckFail, &p.i2)
        .go("11-04 15:00", Action::ReportBack, &h1)
        .go("11-04 15:30", Action::CheckFail, &p.i2)
        .go("11-04 16:30", Action::ReportBack, &h1)
        .go("11-04 17:00", Action::CheckPass, &p.i1)
        .go("11-05 09:00", Action::Close, &p.sup);
    r
}

fn case_c(p: &People) -> Run {
    let mut r = Run::report(
        "11-02 10:00",
        Source::RoadChief,
        &p.rc,
        routing("S2", "C2", "G3", Some("SEG2")),
    );
    r.go("11-02 12:30", Action::Accept, &p.o2)
        .go("11-02 13:40", Action::Register, &p.sup)
        .dispatch("11-02 14:00", &p.d2, p.u1)
        .go("11-02 14:30", Action::Suspend, &p.sup);
    r
}

fn case_d(p: &People) -> Run {
    let mut r = Run::report(
        "11-03 09:00",
        Source::Inspector,
        &p.i1,
        routing("S2", "C2", "G3", None),
    );
    r.go("11-03 09:10", Action::Accept, &p.o1)
        .go("11-03 09:20", Action::Register, &p.sup)
        .go("11-03 09:30", Action::RollBack, &p.d1)
        .go("11-03 09:40", Action::Void, &p.o1);
    r
}

/// Totals per (kind, object) over all days.
fn totals(runs: &[&Run]) -> BTreeMap<(ObjectKind, String), Totals> {
    let mut m: BTreeMap<(ObjectKind, String), Totals> = BTreeMap::new();
    for r in runs {
        for c in r.facts().counters() {
            *m.entry((c.key.kind, c.key.object_id.clone()))
                .or_default()
                .entry(c.key.metric.clone())
                .or_insert(0) += c.value;
        }
    }
    m
}

fn value(ev: &Evaluation, key: &str) -> Option<f64> {
    ev.indicators.iter().find(|i| i.key == key).unwrap().value
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

struct Fixture {
    p: People,
    t: BTreeMap<(ObjectKind, String), Totals>,
    cfg: EvaluationConfig,
}

impl Fixture {
    fn new() -> Self {
        let p = People::new();
        let (a, b, c, d) = (case_a(&p), case_b(&p), case_c(&p), case_d(&p));
        let t = totals(&[&a, &b, &c, &d]);
        Fixture {
            p,
            t,
            cfg: EvaluationConfig::default(),
        }
    }
    fn eval(&self, object: RankObject, id: &str) -> (Evaluation, Option<f64>) {
        let t = self
            .t
            .get(&(object.counter_kind(), id.to_owned()))
            .cloned()
            .unwrap_or_default();
        let patrols = (object == RankObject::RoadChief).then_some(PatrolFigures {
            required: 30,
            done: 15,
        });
        let ev = indicators(object, &t, patrols, &self.cfg);
        let score = composite(object, &ev, &self.cfg);
        (ev, score)
    }
}

#[test]
fn on_time_counts_working_time_across_holidays_and_excludes_suspensions() {
    let p = People::new();
    let a = case_a(&p).facts();
    let u1 = &a.departments[&p.u1.to_string()];
    assert_eq!(u1.rounds, 2);
    assert!(
        u1.all_on_time,
        "3h50m across National Day, then 3.5h net of 7.5h suspended"
    );
    assert_eq!(u1.handle_secs, 13_800 + 12_600);
    assert!(a.closed && a.closed_on_time);
    assert_eq!(a.registered_day, Some(20_260_930));
    assert!(
        a.checks.iter().all(|c| c.on_time),
        "10-10 is a make-up working day"
    );
    let b = case_b(&p).facts();
    assert_eq!(
        b.departments[&p.u1.to_string()].handle_secs,
        35_400 + 21_600 + 3_600
    );
    assert!(
        b.closed && !b.closed_on_time,
        "the second round took 6h of 4h"
    );
    assert!(
        b.closes[0].on_time,
        "closing exactly at the deadline is on time"
    );
    assert!(!b.verifies[0].on_time, "1.5h to confirm against 1h");
}

#[test]
fn rework_counts_once_per_failed_check_and_returns_are_charged_to_the_dispatcher() {
    let p = People::new();
    let b = case_b(&p).facts();
    assert_eq!(b.rework, 2);
    assert_eq!(b.departments[&p.u1.to_string()].rework, 2);
    let u2 = &b.departments[&p.u2.to_string()];
    assert_eq!((u2.dispatched, u2.returned, u2.holds), (1, 1, false));
    let returned: Vec<_> = b
        .dispatches
        .iter()
        .map(|d| (d.person.clone(), d.returned))
        .collect();
    assert_eq!(
        returned,
        vec![(Some(id(&p.d1)), true), (Some(id(&p.d2)), false)]
    );
}

#[test]
fn region_indicators_and_scores_match_hand_computation() {
    let f = Fixture::new();
    let (s1, score) = f.eval(RankObject::Street, "S1");
    assert!(close(value(&s1, "registered"), 2.0));
    assert!(close(value(&s1, "public_rate"), 50.0));
    assert!(close(value(&s1, "closure_rate"), 100.0));
    assert!(close(value(&s1, "on_time_closure_rate"), 50.0));
    // (50×10 + 0×20 + 100×30 + 50×40) / 100
    assert!(close(score, 55.0));
    assert_eq!(f.cfg.grade(55.0), Grade::D);
    // S2: C is 挂账 (excluded), D registered then voided: 1 registered, nothing to close.
    let (s2, score) = f.eval(RankObject::Street, "S2");
    assert!(close(value(&s2, "registered"), 1.0));
    assert_eq!(value(&s2, "closure_rate"), None);
    // (100×10 + 0×20) / 30
    assert!(close(score, 100.0 / 3.0));
    assert_eq!(f.cfg.grade(100.0 / 3.0), Grade::E);
    let (g2, _) = f.eval(RankObject::Grid, "G2");
    assert!(close(value(&g2, "registered"), 1.0));
    let (c1, _) = f.eval(RankObject::Community, "C1");
    assert!(close(value(&c1, "closed_on_time"), 1.0));
}

#[test]
fn department_indicators_and_score_match_hand_computation() {
    let f = Fixture::new();
    let (u1, score) = f.eval(RankObject::Department, &f.p.u1.to_string());
    assert!(close(value(&u1, "to_handle"), 3.0));
    assert!(close(value(&u1, "handled"), 2.0));
    assert!(close(value(&u1, "handled_on_time"), 1.0));
    assert!(close(value(&u1, "overdue"), 1.0));
    assert!(close(value(&u1, "rework"), 3.0));
    assert!(close(value(&u1, "handling_rate"), 200.0 / 3.0));
    assert!(close(value(&u1, "on_time_handling_rate"), 100.0 / 3.0));
    assert!(close(value(&u1, "rework_rate"), 150.0));
    assert!(close(value(&u1, "mean_hours"), 87_000.0 / 7_200.0));
    // Bins 8 h (A: 7.33 h) and 17 h (B: 16.83 h); nearest rank ceil(0.9×2) = 2.
    assert!(close(value(&u1, "p90_hours"), 17.0));
    // (66.67×30 + 33.33×50 + 0×20) / 100
    assert!(close(score, 110.0 / 3.0));
    let (u2, score) = f.eval(RankObject::Department, &f.p.u2.to_string());
    assert!(close(value(&u2, "returned"), 1.0));
    assert!(close(value(&u2, "to_handle"), 0.0));
    assert_eq!(score, None);
}

#[test]
fn staff_indicators_and_scores_match_hand_computation() {
    let f = Fixture::new();
    let p = &f.p;
    let (d1, s_d1) = f.eval(RankObject::Dispatcher, &id(&p.d1));
    assert!(close(value(&d1, "dispatched"), 2.0));
    assert!(close(value(&d1, "returned"), 1.0));
    assert!(close(value(&d1, "accurate_dispatch_rate"), 50.0));
    assert!(close(s_d1, 60.0));
    let (d2, s_d2) = f.eval(RankObject::Dispatcher, &id(&p.d2));
    assert!(close(value(&d2, "accurate_dispatch_rate"), 100.0));
    assert!(close(value(&d2, "on_time_dispatch_rate"), 100.0));
    assert!(close(s_d2, 80.0));
    assert_eq!(rank(&[s_d1, s_d2, None]), vec![Some(2), Some(1), None]);

    let (i1, s) = f.eval(RankObject::Inspector, &id(&p.i1));
    assert!(close(value(&i1, "reported"), 2.0));
    assert!(close(value(&i1, "valid_rate"), 50.0));
    assert!(close(value(&i1, "on_time_verify_rate"), 0.0));
    assert!(close(value(&i1, "on_time_check_rate"), 100.0));
    // (50×40 + 0×20 + 100×20) / 80: 漏报率 has no data and its weight is dropped.
    assert!(close(s, 50.0));
    let (i2, s) = f.eval(RankObject::Inspector, &id(&p.i2));
    assert!(close(value(&i2, "checked"), 4.0));
    assert!(close(s, 100.0));

    let (o1, s) = f.eval(RankObject::Operator, &id(&p.o1));
    assert!(close(value(&o1, "accepted"), 3.0));
    assert!(close(value(&o1, "verify_sent_on_time_rate"), 100.0));
    assert!(close(s, 4000.0 / 65.0));
    let (o2, s) = f.eval(RankObject::Operator, &id(&p.o2));
    assert!(close(value(&o2, "on_time_accept_rate"), 0.0));
    assert!(close(s, 0.0));

    let (sup, s) = f.eval(RankObject::Supervisor, &id(&p.sup));
    assert!(close(value(&sup, "registered"), 4.0));
    assert!(close(value(&sup, "accurate_register_rate"), 75.0));
    assert!(close(value(&sup, "on_time_register_rate"), 100.0));
    assert!(close(value(&sup, "on_time_close_rate"), 100.0));
    assert!(close(s, 90.0));
    assert_eq!(f.cfg.grade(90.0), Grade::A);
}

#[test]
fn segment_and_road_chief_scorecards_match_hand_computation() {
    let f = Fixture::new();
    let (seg, s) = f.eval(RankObject::Segment, "SEG1");
    assert!(close(value(&seg, "registered"), 2.0));
    assert!(close(value(&seg, "missed"), 2.0));
    assert!(close(value(&seg, "public_complaints"), 1.0));
    assert!(close(value(&seg, "rework"), 3.0));
    assert!(close(s, 55.0));
    let (rc, s) = f.eval(RankObject::RoadChief, "SEG1");
    assert!(close(value(&rc, "patrol_rate"), 50.0));
    assert!(close(value(&rc, "missed_rate"), 100.0));
    // (50×30 + 100×20 + 50×30 + 0×20) / 100
    assert!(close(s, 50.0));
}

#[test]
fn suspending_drops_a_case_from_the_region_count_and_resuming_restores_it() {
    let p = People::new();
    let mut c = case_c(&p);
    let suspended = c.facts().counters();
    c.go("11-03 09:00", Action::Resume, &p.sup);
    let resumed = c.facts().counters();
    let d = diff(&suspended, &resumed);
    let reg: Vec<_> = d
        .iter()
        .filter(|x| x.key.metric == metric::REGISTERED)
        .map(|x| (x.key.kind, x.key.day, x.value))
        .collect();
    assert_eq!(reg.len(), 4, "street, community, grid, segment");
    assert!(reg.iter().all(|(_, day, v)| *day == 20_261_102 && *v == 1));
}

#[test]
fn the_sum_of_per_event_diffs_equals_the_counters_of_the_whole_history() {
    let p = People::new();
    let b = case_b(&p);
    let mut acc: Vec<Counter> = Vec::new();
    let mut prev: Vec<Counter> = Vec::new();
    for n in 1..=b.events.len() {
        let now = CaseFacts::from_events(&b.events[..n], &b.cal).counters();
        acc.extend(diff(&prev, &now));
        prev = now;
    }
    assert_eq!(sum_counters(&acc), sum_counters(&b.facts().counters()));
}

#[test]
fn grades_bands_and_ranks_follow_the_standard() {
    let cfg = EvaluationConfig::default();
    assert_eq!(cfg.grade(89.99), Grade::B);
    assert_eq!(cfg.grade(75.0), Grade::B);
    assert_eq!(cfg.grade(60.0), Grade::C);
    assert_eq!(cfg.grade(39.9), Grade::E);
    assert_eq!(cfg.accept_bands.score(2001), 100.0);
    assert_eq!(cfg.accept_bands.score(1201), 90.0);
    assert_eq!(cfg.accept_bands.score(100), 0.0);
    assert_eq!(
        rank(&[Some(50.0), Some(70.0), Some(50.0), None, Some(10.0)]),
        vec![Some(2), Some(1), Some(2), None, Some(4)]
    );
    let mut bad = cfg.clone();
    bad.grades = [60.0, 75.0, 40.0, 10.0];
    assert_eq!(bad.validate().unwrap_err().field, "grades");
    assert!(cfg.validate().is_ok());
    assert_eq!(
        day_key(&WorkCalendar::china_2026(), bj("11-02 00:30")),
        20_261_102
    );
    let _ = NaiveDate::from_ymd_opt(2026, 1, 1);
}

fn totals_of(items: &[(&str, i64)]) -> Totals {
    items.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn a_case_is_due_when_done_or_past_its_deadline_and_not_before() {
    let now = bj("11-20 10:00");
    assert!(is_due(true, None, now), "closed counts whatever its clock");
    assert!(is_due(true, Some(bj("11-21 10:00")), now));
    assert!(is_due(false, Some(bj("11-20 09:59")), now), "overdue");
    assert!(is_due(false, Some(now), now), "at the deadline");
    assert!(!is_due(false, Some(bj("11-20 10:01")), now), "not yet due");
    assert!(!is_due(false, None, now), "no running clock (挂账)");
}

/// Street S with 5 registered cases in the period: 1 closed on time, 1 closed late,
/// 1 open and overdue, 2 open before their deadlines (not yet due), 0 public.
/// 应结案数 = 5 − 2 = 3; 结案率 = 2/3; 按期结案率 = 1/3.
/// Score = (100×10 [监督举报率 0 %] + 0×20 [立案数 5 → band 0] + 66.67×30 + 33.33×40) / 100
///       = (1000 + 0 + 2000 + 1333.33) / 100 = 43.33.
#[test]
fn cases_not_yet_due_are_left_out_of_region_rates() {
    let cfg = EvaluationConfig::default();
    let t = totals_of(&[
        (metric::REGISTERED, 5),
        (metric::TO_CLOSE, 5),
        (metric::CLOSED, 2),
        (metric::CLOSED_ON_TIME, 1),
        (metric::NOT_YET_DUE, 2),
    ]);
    let ev = indicators(RankObject::Street, &t, None, &cfg);
    assert!(close(value(&ev, "to_close"), 3.0));
    assert!(close(value(&ev, "not_yet_due"), 2.0));
    assert!(close(value(&ev, "closure_rate"), 200.0 / 3.0));
    assert!(close(value(&ev, "on_time_closure_rate"), 100.0 / 3.0));
    assert!(close(composite(RankObject::Street, &ev, &cfg), 130.0 / 3.0));
    // Counted against them before the fix: 2/5 and 1/5.
    let mut before = t.clone();
    before.remove(metric::NOT_YET_DUE);
    let ev = indicators(RankObject::Street, &before, None, &cfg);
    assert!(close(value(&ev, "on_time_closure_rate"), 20.0));
    // All open and none due: no denominator, so the rates are blank, not 0 %.
    let t = totals_of(&[
        (metric::REGISTERED, 2),
        (metric::TO_CLOSE, 2),
        (metric::NOT_YET_DUE, 2),
    ]);
    let ev = indicators(RankObject::Segment, &t, None, &cfg);
    assert!(close(value(&ev, "to_close"), 0.0));
    assert_eq!(value(&ev, "on_time_closure_rate"), None);
    assert_eq!(value(&ev, "closure_rate"), None);
}

/// Department with 4 cases to handle: 2 reported back (1 on time), 1 in handling and
/// overdue, 1 in handling before its deadline. 应处置数 = 3; 处置率 = 2/3; 按期处置率 = 1/3;
/// 返工率 0/2 = 0 → component 100.
/// Score = (66.67×30 + 33.33×50 + 100×20) / 100 = (2000 + 1666.67 + 2000) / 100 = 56.67.
#[test]
fn cases_not_yet_due_are_left_out_of_department_rates() {
    let cfg = EvaluationConfig::default();
    let t = totals_of(&[
        (metric::DISPATCHED, 4),
        (metric::TO_HANDLE, 4),
        (metric::HANDLED, 2),
        (metric::HANDLED_ON_TIME, 1),
        (metric::NOT_YET_DUE, 1),
    ]);
    let ev = indicators(RankObject::Department, &t, None, &cfg);
    assert!(close(value(&ev, "to_handle"), 3.0));
    assert!(close(value(&ev, "not_yet_due"), 1.0));
    assert!(close(value(&ev, "handling_rate"), 200.0 / 3.0));
    assert!(close(value(&ev, "on_time_handling_rate"), 100.0 / 3.0));
    assert!(close(
        composite(RankObject::Department, &ev, &cfg),
        170.0 / 3.0
    ));
}

#[test]
fn an_object_without_cases_has_no_score_and_no_rank() {
    let cfg = EvaluationConfig::default();
    for object in RankObject::ALL {
        let ev = indicators(*object, &Totals::new(), None, &cfg);
        assert_eq!(ev.cases, 0, "{object}");
        assert_eq!(composite(*object, &ev, &cfg), None, "{object} 无数据");
    }
    // A road chief who patrolled but had no case on their roads: still 无数据.
    let ev = indicators(
        RankObject::RoadChief,
        &Totals::new(),
        Some(PatrolFigures {
            required: 30,
            done: 30,
        }),
        &cfg,
    );
    assert_eq!(composite(RankObject::RoadChief, &ev, &cfg), None);
    // Before the fix a street without cases scored 0 (立案数 band) and went on the 黑榜.
    let scores = [None, Some(55.0), None];
    assert_eq!(rank(&scores), vec![None, Some(1), None]);
}

fn row(rank: u32, cases: i64, grade: Grade) -> HonourInput {
    HonourInput {
        rank: Some(rank),
        cases,
        grade: Some(grade),
    }
}

#[test]
fn honours_need_the_minimum_of_cases_six_eligible_rows_and_a_fitting_grade() {
    let cfg = EvaluationConfig::default();
    assert_eq!(cfg.honour_min_cases, DEFAULT_HONOUR_MIN_CASES);
    use Honour::{Black as K, Red as R};
    // Eight ranked rows; the 2nd and 7th have 4 cases (< 5): six eligible remain.
    let rows = [
        row(1, 10, Grade::A),
        row(2, 4, Grade::A),
        row(3, 9, Grade::B),
        row(4, 5, Grade::C),
        row(5, 6, Grade::D),
        row(6, 7, Grade::D),
        row(7, 4, Grade::E),
        row(8, 8, Grade::E),
    ];
    assert_eq!(
        honours(&rows, &cfg),
        vec![
            Some(R),
            None,
            Some(R),
            Some(R),
            Some(K),
            Some(K),
            None,
            Some(K)
        ]
    );
    // Five eligible rows: no honours at all.
    let mut few = rows;
    few[0].cases = 1;
    assert_eq!(honours(&few, &cfg), vec![None; 8]);
    // Unranked (无数据) rows are never eligible, whatever their count.
    let mut unranked = rows;
    unranked[0].rank = None;
    assert_eq!(honours(&unranked, &cfg)[0], None);
    // An E grade is not praised, an A grade not blamed.
    let all_e: Vec<_> = (1..=6).map(|r| row(r, 9, Grade::E)).collect();
    assert_eq!(
        honours(&all_e, &cfg),
        vec![None, None, None, Some(K), Some(K), Some(K)]
    );
    let all_a: Vec<_> = (1..=6).map(|r| row(r, 9, Grade::A)).collect();
    assert_eq!(
        honours(&all_a, &cfg),
        vec![Some(R), Some(R), Some(R), None, None, None]
    );
    // A district may lower the minimum.
    let lenient = EvaluationConfig {
        honour_min_cases: 1,
        ..cfg.clone()
    };
    assert_eq!(honours(&few, &lenient)[0], Some(R));
    let mut bad = cfg;
    bad.honour_min_cases = -1;
    assert_eq!(bad.validate().unwrap_err().field, "honour_min_cases");
}

/// Two public cases with a phone in street S3 (segment SEG3), both handled by U3, on the
/// Monday 2026-11-09 (limits: every stage 1 working hour, handling 4):
///   E: 09:00 report; accept, confirm, register, dispatch → U3 by 09:40; 10:00 report back;
///      10:10 check_pass → 待回访 (due 11:10); 10:30 回访 不满意 → 重办 (handling again);
///      11:00 report back; 11:10 check_pass → 待回访, due 11:10 + 1 working hour = 13:40
///      (50 min before noon, 10 after 13:30); 13:00 未回访 refused (not due); 14:00 未回访
///      taken; 14:10 close.
///   F: 09:05 report; the same steps to 10:15 check_pass; 10:40 回访 满意; 11:00 close.
/// Street S3 and department U3: 回访数 3 (E twice, F once), reached 2 (未回访 is not),
/// satisfied 1 → 回访率 2/3, 满意率 1/2, 重办率 1/3; the redo is one rework of U3 and SEG3.
#[test]
fn callback_rates_match_hand_computation() {
    let p = People::new();
    let u3 = UnitId::new_v7();
    let h3 = p.handler(u3);
    let phone = Contact {
        phone: Some("13800138000".into()),
        ..Contact::default()
    };
    let answer = |s: Satisfaction, why: Option<&str>| Command {
        satisfaction: Some(s),
        reason: why.map(Into::into),
        ..Command::default()
    };
    let mut e = Run::report_from(
        "11-09 09:00",
        Source::Public,
        &Actor::public(),
        routing("S3", "C3", "G4", Some("SEG3")),
        phone.clone(),
    );
    e.go("11-09 09:10", Action::Accept, &p.o1)
        .go("11-09 09:20", Action::Confirm, &p.i1)
        .go("11-09 09:30", Action::Register, &p.sup)
        .dispatch("11-09 09:40", &p.d1, u3)
        .go("11-09 10:00", Action::ReportBack, &h3)
        .go("11-09 10:10", Action::CheckPass, &p.i1);
    assert_eq!(e.case.state, CaseState::ToCallback);
    e.act(
        "11-09 10:30",
        Action::Callback,
        &p.o1,
        answer(Satisfaction::Unsatisfied, Some("仍有垃圾")),
    );
    assert_eq!(e.case.state, CaseState::Handling);
    e.go("11-09 11:00", Action::ReportBack, &h3)
        .go("11-09 11:10", Action::CheckPass, &p.i1);
    assert_eq!(e.case.deadline(&e.cal), Some(bj("11-09 13:40")));
    let early = e.case.decide(
        Action::Callback,
        &answer(Satisfaction::Unreached, None),
        &p.o1,
        Ctx {
            now: bj("11-09 13:00"),
            calendar: &e.cal,
            limits: &e.limits,
        },
    );
    assert!(early.is_err(), "未回访 before the limit ran out");
    e.act(
        "11-09 14:00",
        Action::Callback,
        &p.o1,
        answer(Satisfaction::Unreached, None),
    )
    .go("11-09 14:10", Action::Close, &p.sup);
    assert_eq!(e.case.state, CaseState::Closed);

    let mut f = Run::report_from(
        "11-09 09:05",
        Source::Public,
        &Actor::public(),
        routing("S3", "C3", "G4", Some("SEG3")),
        phone,
    );
    f.go("11-09 09:10", Action::Accept, &p.o1)
        .go("11-09 09:20", Action::Confirm, &p.i1)
        .go("11-09 09:30", Action::Register, &p.sup)
        .dispatch("11-09 09:40", &p.d1, u3)
        .go("11-09 10:05", Action::ReportBack, &h3)
        .go("11-09 10:15", Action::CheckPass, &p.i1)
        .act(
            "11-09 10:40",
            Action::Callback,
            &p.o1,
            answer(Satisfaction::Satisfied, None),
        )
        .go("11-09 11:00", Action::Close, &p.sup);

    let t = totals(&[&e, &f]);
    let cfg = EvaluationConfig::default();
    for (object, id) in [
        (RankObject::Street, "S3".to_owned()),
        (RankObject::Segment, "SEG3".to_owned()),
        (RankObject::Department, u3.to_string()),
    ] {
        let totals = t
            .get(&(object.counter_kind(), id.clone()))
            .cloned()
            .unwrap_or_default();
        let ev = indicators(object, &totals, None, &cfg);
        assert_eq!(value(&ev, "callbacks"), Some(3.0), "{object:?}");
        assert!(
            close(value(&ev, "callback_rate"), 200.0 / 3.0),
            "{object:?}"
        );
        assert!(close(value(&ev, "satisfaction_rate"), 50.0), "{object:?}");
        assert!(close(value(&ev, "redo_rate"), 100.0 / 3.0), "{object:?}");
        if object != RankObject::Street {
            assert_eq!(value(&ev, "rework"), Some(1.0), "{object:?}");
        }
    }
    // A redo is not a failed check on the case itself.
    assert_eq!(e.case.rework_count, 0);
    assert_eq!(e.case.redo_count, 1);
    assert_eq!(Case::from_events(&e.events).unwrap(), e.case);
}

/// Case A (closed 10-10 09:30 by U1, street S1, segment SEG1) is reported still not fixed
/// on 10-20: the new case counts one recurrence against A's closure — U1, S1 and SEG1 on
/// 10-10, A's closing day — whatever becomes of the new case; a voided or long-closed case
/// cannot be followed up.
#[test]
fn a_still_not_fixed_report_counts_one_recurrence_against_the_first_closure() {
    let p = People::new();
    let a = case_a(&p);
    let follows =
        crate::case::FollowUp::of(&a.case, bj("10-20 10:00")).expect("closed 10 days ago");
    assert_eq!(follows.unit_id, Some(p.u1));
    assert_eq!(
        crate::case::FollowUp::of(&a.case, bj("11-10 09:31")),
        None,
        "31 days later"
    );
    assert_eq!(
        crate::case::FollowUp::of(&case_d(&p).case, bj("11-03 10:00")),
        None,
        "voided"
    );
    assert_eq!(
        crate::case::FollowUp::of(&case_c(&p).case, bj("11-03 10:00")),
        None,
        "open"
    );
    let mut g = Run::report_from(
        "10-20 10:00",
        Source::Public,
        &Actor::public(),
        routing("S1", "C1", "G1", Some("SEG1")),
        Contact::default(),
    );
    // The follow-up rides on the report; build it again with the link.
    let mut first = g.events[0].clone();
    if let Some(r) = first.report.as_deref_mut() {
        r.case.follows = Some(follows);
    }
    g.events = vec![first];
    g.case = Case::from_events(&g.events).unwrap();
    assert!(g.case.follows.is_some());
    let recurred: Vec<_> = g
        .facts()
        .counters()
        .into_iter()
        .filter(|c| c.key.metric == metric::RECURRED)
        .map(|c| (c.key.kind, c.key.object_id, c.key.day, c.value))
        .collect();
    assert_eq!(
        recurred,
        vec![
            (ObjectKind::Street, "S1".to_owned(), 20261010, 1),
            (ObjectKind::Community, "C1".to_owned(), 20261010, 1),
            (ObjectKind::Grid, "G1".to_owned(), 20261010, 1),
            (ObjectKind::Segment, "SEG1".to_owned(), 20261010, 1),
            (ObjectKind::Department, p.u1.to_string(), 20261010, 1),
        ]
    );
    let t = totals(&[&g]);
    let dept = t
        .get(&(ObjectKind::Department, p.u1.to_string()))
        .cloned()
        .unwrap_or_default();
    let ev = indicators(
        RankObject::Department,
        &dept,
        None,
        &EvaluationConfig::default(),
    );
    assert_eq!(value(&ev, "recurred"), Some(1.0));
}

#[test]
fn a_redispatch_moves_the_case_to_the_new_unit_and_is_charged_to_the_first_dispatch() {
    let p = People::new();
    let h1 = p.handler(p.u1);
    let mut r = Run::report(
        "11-02 09:00",
        Source::Inspector,
        &p.i1,
        routing("S1", "C1", "G1", Some("SEG1")),
    );
    r.go("11-02 09:10", Action::Accept, &p.o1)
        .go("11-02 09:20", Action::Register, &p.sup)
        .dispatch("11-02 09:30", &p.d1, p.u2);
    let to_u1 = Command {
        unit_id: Some(p.u1),
        reason: Some("属地调整".into()),
        ..Command::default()
    };
    r.act("11-02 10:00", Action::Redispatch, &p.d2, to_u1).go(
        "11-02 11:00",
        Action::ReportBack,
        &h1,
    );
    let f = r.facts();
    let u1 = &f.departments[&p.u1.to_string()];
    let u2 = &f.departments[&p.u2.to_string()];
    // The first unit no longer holds it (not its 应处置), and did not return it.
    assert!(!u2.holds);
    assert_eq!((u2.dispatched, u2.returned, u2.rounds), (1, 0, 0));
    // The new unit's clock started at the 改派: one working hour, on time.
    assert!(u1.holds);
    assert_eq!((u1.dispatched, u1.rounds), (1, 1));
    assert!(u1.all_on_time);
    assert_eq!(u1.handle_secs, 3_600);
    // 返派 counts against the dispatcher of the replaced dispatch (准确派遣率).
    let t = totals(&[&r]);
    let d1 = &t[&(ObjectKind::Person, id(&p.d1))];
    assert_eq!(d1.get(metric::DISP_RETURNED), Some(&1));
    let u2t = &t[&(ObjectKind::Department, p.u2.to_string())];
    assert_eq!(u2t.get(metric::TO_HANDLE), None);
    let u1t = &t[&(ObjectKind::Department, p.u1.to_string())];
    assert_eq!(u1t.get(metric::TO_HANDLE), Some(&1));
}

#[test]
fn supervise_counts_per_unit_on_the_day_it_was_urged_and_shows_as_an_indicator() {
    let p = People::new();
    let mut r = Run::report(
        "11-02 09:00",
        Source::Inspector,
        &p.i1,
        routing("S1", "C1", "G1", Some("SEG1")),
    );
    r.go("11-02 09:10", Action::Accept, &p.o1)
        .go("11-02 09:20", Action::Register, &p.sup)
        .dispatch("11-02 09:30", &p.d1, p.u1)
        // Handling limit 4 working hours: 11-03 is past it (red).
        .go("11-03 09:00", Action::Supervise, &p.sup)
        .go("11-04 09:00", Action::Supervise, &p.rc);
    let counters = r.facts().counters();
    let supervised: Vec<i32> = counters
        .iter()
        .filter(|c| c.key.metric == metric::SUPERVISED)
        .map(|c| {
            assert_eq!(c.key.kind, ObjectKind::Department);
            assert_eq!(c.key.object_id, p.u1.to_string());
            c.key.day
        })
        .collect();
    assert_eq!(supervised, vec![20261103, 20261104]);
    let t = totals(&[&r]);
    let ev = indicators(
        RankObject::Department,
        &t[&(ObjectKind::Department, p.u1.to_string())],
        None,
        &EvaluationConfig::default(),
    );
    assert_eq!(value(&ev, "supervised"), Some(2.0));
}

#[test]
fn not_true_is_a_verification_that_voids_and_merge_is_a_void() {
    let p = People::new();
    let mut r = Run::report(
        "11-02 09:00",
        Source::Public,
        &Actor::public(),
        routing("S1", "C1", "G1", None),
    );
    r.go("11-02 09:10", Action::Accept, &p.o1)
        .go("11-02 09:40", Action::NotTrue, &p.i1);
    let f = r.facts();
    assert!(f.voided);
    assert_eq!(f.verifies.len(), 1);
    assert!(f.verifies[0].on_time);
    assert_eq!(f.registered_day, None);
    let mut m = Run::report(
        "11-02 09:00",
        Source::Public,
        &Actor::public(),
        routing("S1", "C1", "G1", None),
    );
    let merge = Command {
        reason: Some("重复".into()),
        merge_into: Some(crate::case::MergeRef {
            case_id: CaseId::new_v7(),
            number: CaseNumber("m".into()),
            unit_id: None,
        }),
        ..Command::default()
    };
    m.act("11-02 09:10", Action::Merge, &p.o1, merge);
    assert!(m.facts().voided);
}
