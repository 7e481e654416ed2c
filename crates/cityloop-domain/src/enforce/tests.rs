//! Tests of the enforcement procedure: transitions, required fields, penalty ranges and
//! the statutory clocks, with deadlines computed by hand in the comments.

use chrono::TimeZone;

use super::*;

/// 2026-03-DD HH:MM in Asia/Shanghai (UTC+8). March 2026 has no public holiday; the 2nd
/// is a Monday.
fn cst(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(2026, 3, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn article() -> LawArticle {
    LawArticle {
        code: "test-1".into(),
        law: "测试条例".into(),
        article: "第一条".into(),
        forbids: "测试".into(),
        warning: true,
        person_fine: Some(FineRange {
            min_yuan: 50,
            max_yuan: 200,
        }),
        org_fine: Some(FineRange {
            min_yuan: 1000,
            max_yuan: 10000,
        }),
        source: "test fixture".into(),
        status: UNVERIFIED.into(),
    }
}

struct Run {
    cal: WorkCalendar,
    art: LawArticle,
    party: PartyKind,
    record: Option<Record>,
}

impl Run {
    fn new(party: PartyKind) -> Run {
        Run {
            cal: WorkCalendar::china_2026(),
            art: article(),
            party,
            record: None,
        }
    }

    fn try_step(&self, step: Step, now: DateTime<Utc>) -> Result<StepEvent, StepError> {
        let ctx = StepContext {
            now,
            cal: &self.cal,
            party: self.party,
            article: step
                .article
                .as_deref()
                .filter(|c| *c == self.art.code)
                .map(|_| &self.art),
        };
        decide(self.record.as_ref(), &step, &ctx)
    }

    fn step(&mut self, step: Step) -> &Record {
        let at = step.at.unwrap();
        let ev = self.try_step(step, at).unwrap();
        match &mut self.record {
            None => self.record = Record::from_steps(&[ev]),
            Some(r) => r.apply(&ev),
        }
        self.record.as_ref().unwrap()
    }
}

fn step(kind: StepKind, at: DateTime<Utc>, doc: &str) -> Step {
    Step {
        kind: Some(kind),
        at: Some(at),
        doc_no: (!doc.is_empty()).then(|| doc.to_owned()),
        ..Step::default()
    }
}

fn fine(kind: StepKind, at: DateTime<Utc>, doc: &str, amount: i64) -> Step {
    Step {
        article: Some("test-1".into()),
        penalty: Some(PenaltyKind::Fine),
        amount_yuan: Some(amount),
        ..step(kind, at, doc)
    }
}

#[test]
fn every_limit_kind_has_one_rule() {
    for k in LimitKind::ALL {
        assert_eq!(LIMITS.iter().filter(|r| r.kind == *k).count(), 1, "{k}");
    }
}

#[test]
fn the_general_procedure_runs_file_to_close_in_order() {
    let mut r = Run::new(PartyKind::Organisation);
    r.step(step(StepKind::File, cst(2, 10, 0), "二七城执立〔2026〕1号"));
    r.step(step(StepKind::Investigate, cst(2, 11, 0), "询问笔录1"));
    let notify = Step {
        hearing_right: Some(false),
        ..step(StepKind::Notify, cst(3, 9, 0), "告知书1")
    };
    r.step(notify);
    r.step(Step {
        note: Some("当事人称已整改".into()),
        ..step(StepKind::Statement, cst(3, 10, 0), "")
    });
    let rec = r.step(fine(StepKind::Decide, cst(4, 9, 0), "决定书1", 5000));
    assert_eq!(rec.state, ProcState::Decided);
    assert_eq!(rec.amount_yuan, Some(5000));
    assert_eq!(rec.article.as_deref(), Some("test-1"));
    r.step(step(StepKind::Serve, cst(5, 9, 0), "送达回证1"));
    r.step(step(StepKind::Execute, cst(6, 9, 0), "票据1"));
    let rec = r.step(step(StepKind::Close, cst(9, 9, 0), "结案1"));
    assert_eq!(rec.state, ProcState::Closed);
    assert!(rec.is_penalty());
    assert_eq!(rec.steps.len(), 8);
    assert_eq!(rec.doc_no(1), Some("二七城执立〔2026〕1号"));
    // Folding the stored steps gives the same record.
    assert_eq!(Record::from_steps(&rec.steps).as_ref(), Some(rec));
}

#[test]
fn a_step_out_of_order_is_refused_as_a_conflict_naming_the_kind() {
    let mut r = Run::new(PartyKind::Person);
    let e = r
        .try_step(
            fine(StepKind::Decide, cst(2, 9, 0), "决定书", 100),
            cst(2, 9, 0),
        )
        .unwrap_err();
    assert!(e.out_of_order);
    assert_eq!(e.field, "kind");
    r.step(step(StepKind::File, cst(2, 10, 0), "立案1"));
    // No decision straight after filing: investigation and notice come first.
    let e = r
        .try_step(
            fine(StepKind::Decide, cst(2, 11, 0), "决定书", 100),
            cst(2, 11, 0),
        )
        .unwrap_err();
    assert!(e.out_of_order, "{e}");
    assert!(e.problem.contains("investigate"), "{e}");
    // A second file on an open record is out of order too.
    let e = r
        .try_step(step(StepKind::File, cst(2, 11, 0), "立案2"), cst(2, 11, 0))
        .unwrap_err();
    assert!(e.out_of_order);
}

#[test]
fn required_fields_are_named() {
    let mut r = Run::new(PartyKind::Person);
    let e = r
        .try_step(step(StepKind::File, cst(2, 10, 0), ""), cst(2, 10, 0))
        .unwrap_err();
    assert_eq!((e.field, e.out_of_order), ("doc_no", false));
    let e = r
        .try_step(step(StepKind::File, cst(2, 10, 0), "x"), cst(2, 9, 0))
        .unwrap_err();
    assert_eq!(e.field, "at", "a step in the future of now");
    r.step(step(StepKind::File, cst(2, 10, 0), "立案1"));
    r.step(step(StepKind::Investigate, cst(2, 11, 0), "笔录"));
    let e = r
        .try_step(
            step(StepKind::Notify, cst(2, 12, 0), "告知书"),
            cst(2, 12, 0),
        )
        .unwrap_err();
    assert_eq!(e.field, "hearing_right");
    let e = r
        .try_step(step(StepKind::Drop, cst(2, 12, 0), ""), cst(2, 12, 0))
        .unwrap_err();
    assert_eq!(e.field, "note");
    let e = r
        .try_step(
            step(StepKind::Investigate, cst(2, 10, 30), "笔录2"),
            cst(2, 12, 0),
        )
        .unwrap_err();
    assert_eq!(e.field, "at", "before the previous step");
}

#[test]
fn a_decision_without_legal_basis_or_outside_the_range_is_refused_naming_the_field() {
    let mut r = Run::new(PartyKind::Person);
    r.step(step(StepKind::File, cst(2, 10, 0), "立案1"));
    r.step(step(StepKind::Investigate, cst(2, 11, 0), "笔录"));
    r.step(Step {
        hearing_right: Some(false),
        ..step(StepKind::Notify, cst(2, 12, 0), "告知书")
    });
    let now = cst(3, 9, 0);
    let no_basis = Step {
        article: None,
        ..fine(StepKind::Decide, now, "决定书", 100)
    };
    assert_eq!(r.try_step(no_basis, now).unwrap_err().field, "article");
    let unknown = Step {
        article: Some("nope".into()),
        ..fine(StepKind::Decide, now, "决定书", 100)
    };
    assert_eq!(r.try_step(unknown, now).unwrap_err().field, "article");
    // A person: 50–200 yuan. 201 and 49 are out, 50 and 200 are in.
    for (amount, ok) in [(49, false), (50, true), (200, true), (201, false)] {
        let res = r.try_step(fine(StepKind::Decide, now, "决定书", amount), now);
        assert_eq!(res.is_ok(), ok, "{amount}: {res:?}");
        if let Err(e) = res {
            assert_eq!(e.field, "amount_yuan");
        }
    }
    let no_amount = Step {
        amount_yuan: None,
        ..fine(StepKind::Decide, now, "决定书", 0)
    };
    assert_eq!(r.try_step(no_amount, now).unwrap_err().field, "amount_yuan");
    let warning = Step {
        penalty: Some(PenaltyKind::Warning),
        amount_yuan: None,
        ..fine(StepKind::Decide, now, "决定书", 0)
    };
    let ev = r.try_step(warning, now).unwrap();
    assert_eq!(ev.amount_yuan, None);
}

#[test]
fn an_on_the_spot_fine_is_capped_by_party_kind_and_served_at_once() {
    // The article allows an organisation 1000–10000; on the spot at most 3000.
    let mut r = Run::new(PartyKind::Organisation);
    let now = cst(2, 10, 0);
    let e = r
        .try_step(fine(StepKind::OnTheSpot, now, "当场1", 3001), now)
        .unwrap_err();
    assert_eq!(e.field, "amount_yuan");
    assert!(e.problem.contains("3000"), "{e}");
    let rec = r.step(fine(StepKind::OnTheSpot, now, "当场1", 3000));
    assert_eq!(rec.procedure, Procedure::OnTheSpot);
    assert_eq!(rec.state, ProcState::Served);
    assert_eq!((rec.decided_at, rec.served_at), (Some(now), Some(now)));
    // No notice or hearing on the spot: next is execution.
    assert_eq!(next_kinds(Some(rec), rec.state), vec![StepKind::Execute]);
    // A person: at most 200 on the spot (the article's own maximum is also 200).
    let p = Run::new(PartyKind::Person);
    assert!(p
        .try_step(fine(StepKind::OnTheSpot, now, "当场2", 200), now)
        .is_ok());
    assert_eq!(
        p.try_step(fine(StepKind::OnTheSpot, now, "当场2", 201), now)
            .unwrap_err()
            .field,
        "amount_yuan"
    );
}

#[test]
fn a_correction_is_a_new_step_that_changes_the_amount_and_document_number() {
    let mut r = Run::new(PartyKind::Organisation);
    r.step(fine(StepKind::OnTheSpot, cst(2, 10, 0), "当场1", 2000));
    let corr = Step {
        corrects: Some(1),
        note: Some("金额笔误".into()),
        article: Some("test-1".into()),
        amount_yuan: Some(1500),
        doc_no: Some("当场1-更正".into()),
        ..step(StepKind::Correct, cst(2, 11, 0), "")
    };
    let rec = r.step(corr);
    assert_eq!(rec.amount_yuan, Some(1500));
    assert_eq!(rec.doc_no(1), Some("当场1-更正"));
    assert_eq!(rec.steps.len(), 2, "the original step stays");
    assert_eq!(rec.steps[0].amount_yuan, Some(2000));
    assert_eq!(rec.state, ProcState::Served, "a correction moves nothing");
    // A corrected amount is checked like the original: 5000 is over the on-the-spot cap.
    let over = Step {
        corrects: Some(1),
        note: Some("x".into()),
        article: Some("test-1".into()),
        amount_yuan: Some(5000),
        ..step(StepKind::Correct, cst(2, 12, 0), "")
    };
    assert_eq!(
        r.try_step(over, cst(2, 12, 0)).unwrap_err().field,
        "amount_yuan"
    );
    let of_correction = Step {
        corrects: Some(2),
        note: Some("x".into()),
        doc_no: Some("y".into()),
        ..step(StepKind::Correct, cst(2, 12, 0), "")
    };
    assert_eq!(
        r.try_step(of_correction, cst(2, 12, 0)).unwrap_err().field,
        "corrects"
    );
}

#[test]
fn the_decision_clock_runs_ninety_natural_days_to_the_end_of_the_last_day() {
    let mut r = Run::new(PartyKind::Person);
    // Filed Monday 2 March 10:00. 2 March + 90 days = 31 May (29 + 30 + 31); the limit
    // ends at the end of 31 May, 2026-05-31 24:00 CST = 2026-05-31T16:00:00Z.
    let rec = r.step(step(StepKind::File, cst(2, 10, 0), "立案1")).clone();
    let c = clocks(&rec, &r.cal, cst(2, 10, 0));
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].kind, LimitKind::Decide);
    assert_eq!(c[0].limit, "90自然日");
    assert_eq!(
        c[0].deadline,
        Utc.with_ymd_and_hms(2026, 5, 31, 16, 0, 0).unwrap()
    );
    assert_eq!(c[0].light, Light::Green);
    // 80% of the allowed time (90 days 14 hours = 2174 h; 80% = 1739.2 h after filing):
    // 1739 h after filing is still green, 1740 h is yellow; after the deadline red.
    let at = |h: i64| cst(2, 10, 0) + Duration::hours(h);
    assert_eq!(clocks(&rec, &r.cal, at(1739))[0].light, Light::Green);
    assert_eq!(clocks(&rec, &r.cal, at(1740))[0].light, Light::Yellow);
    assert_eq!(clocks(&rec, &r.cal, at(2174))[0].light, Light::Yellow);
    assert_eq!(clocks(&rec, &r.cal, at(2175))[0].light, Light::Red);
}

#[test]
fn the_hearing_window_is_five_working_days_and_a_decision_waits_for_it() {
    let mut r = Run::new(PartyKind::Organisation);
    r.step(step(StepKind::File, cst(2, 9, 0), "立案1"));
    r.step(step(StepKind::Investigate, cst(2, 9, 30), "笔录"));
    r.step(Step {
        hearing_right: Some(true),
        ..step(StepKind::Notify, cst(2, 10, 0), "告知书")
    });
    // Working day 08:30–12:00, 13:30–17:30 = 7.5 h; 5 days = 37.5 h from Mon 10:00:
    // Mon 6 h, Tue 7.5 (13.5), Wed (21), Thu (28.5), Fri (36), Mon 9th 1.5 h → 10:00.
    let rec = r.record.clone().unwrap();
    let c = clocks(&rec, &r.cal, cst(2, 10, 0));
    let w = c
        .iter()
        .find(|c| c.kind == LimitKind::HearingRequest)
        .unwrap();
    assert_eq!(w.deadline, cst(9, 10, 0));
    assert_eq!(w.limit, "5工作日");
    // A decision inside the window is out of order; just after it, it is accepted.
    let e = r
        .try_step(
            fine(StepKind::Decide, cst(9, 10, 0), "决定书", 2000),
            cst(9, 10, 0),
        )
        .unwrap_err();
    assert!(e.out_of_order, "{e}");
    assert!(r
        .try_step(
            fine(StepKind::Decide, cst(9, 10, 1), "决定书", 2000),
            cst(9, 10, 1)
        )
        .is_ok());
    // A hearing asked after the window is refused naming `at`.
    let late = step(StepKind::RequestHearing, cst(9, 11, 0), "");
    assert_eq!(r.try_step(late, cst(9, 11, 0)).unwrap_err().field, "at");
    // Asked in time: the record waits for the hearing before any decision.
    r.step(step(StepKind::RequestHearing, cst(6, 11, 0), ""));
    let e = r
        .try_step(
            fine(StepKind::Decide, cst(10, 9, 0), "决定书", 2000),
            cst(10, 9, 0),
        )
        .unwrap_err();
    assert!(e.out_of_order);
    r.step(step(StepKind::HoldHearing, cst(10, 9, 0), "听证笔录"));
    let rec = r.step(fine(StepKind::Decide, cst(10, 10, 0), "决定书", 2000));
    assert_eq!(rec.state, ProcState::Decided);
}

#[test]
fn the_service_clock_is_seven_working_days_and_payment_fifteen_natural_days() {
    let mut r = Run::new(PartyKind::Person);
    r.step(step(StepKind::File, cst(2, 9, 0), "立案1"));
    r.step(step(StepKind::Investigate, cst(2, 9, 10), "笔录"));
    r.step(Step {
        hearing_right: Some(false),
        ..step(StepKind::Notify, cst(2, 9, 20), "告知书")
    });
    let rec = r
        .step(fine(StepKind::Decide, cst(2, 10, 0), "决定书", 100))
        .clone();
    // 7 × 7.5 h = 52.5 h from Mon 2nd 10:00: Mon 6, Tue 13.5, Wed 21, Thu 28.5, Fri 36,
    // Mon 9th 43.5, Tue 10th 51, Wed 11th 1.5 h → 10:00.
    let cal = WorkCalendar::china_2026();
    let serve = |rec: &Record, now| {
        clocks(rec, &cal, now)
            .into_iter()
            .find(|c| c.kind == LimitKind::Serve)
            .unwrap()
    };
    assert_eq!(serve(&rec, cst(2, 10, 0)).deadline, cst(11, 10, 0));
    assert_eq!(serve(&rec, cst(11, 10, 1)).light, Light::Red);
    // Served on Wed 11th at 15:00: late (red at done_at); the fine is due by the end of
    // 11 + 15 = 26 March, 24:00 CST = 2026-03-26T16:00Z.
    let rec = r
        .step(step(StepKind::Serve, cst(11, 15, 0), "送达回证"))
        .clone();
    let s = serve(&rec, cst(12, 9, 0));
    assert_eq!((s.done_at, s.light), (Some(cst(11, 15, 0)), Light::Red));
    let pay = clocks(&rec, &cal, cst(12, 9, 0))
        .into_iter()
        .find(|c| c.kind == LimitKind::Pay)
        .unwrap();
    assert_eq!(
        pay.deadline,
        Utc.with_ymd_and_hms(2026, 3, 26, 16, 0, 0).unwrap()
    );
    assert_eq!(pay.light, Light::Green);
}
