//! Deadline escalation against each store: an overdue case escalates once, and a
//! restarted service (a new `Services` over the same database) does not fire it again.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use cityloop_domain::case::Contact;
use cityloop_domain::model::{Actor, ActorRole, CategoryCode, Priority, Role, Source};
use cityloop_service::cases::ReportInput;
use cityloop_service::demo::load_demo;
use cityloop_service::Services;
use cityloop_store::testing::TestDb;

fn clock(at: Arc<Mutex<DateTime<Utc>>>) -> cityloop_service::Clock {
    Arc::new(move || *at.lock().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_case_escalates_exactly_once_across_a_restart() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        load_demo(&db.store).await.unwrap();
        // Monday 2026-11-23 09:00 Beijing time.
        let now = Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap(),
        ));
        let svc = Services::load(db.store.clone())
            .await
            .unwrap()
            .with_clock(clock(now.clone()));
        let inspector = Actor {
            person_id: None,
            role: ActorRole::Staff(Role::Inspector),
            unit_id: None,
        };
        let case = svc
            .report_case(
                &inspector,
                ReportInput {
                    source: Source::Inspector,
                    priority: Priority::Normal,
                    category: CategoryCode::parse_service_code("06010").unwrap(),
                    area_grade: None,
                    description: "超期测试".into(),
                    lon: 113.64,
                    lat: 34.73,
                    address: None,
                    reporter: Contact::default(),
                    media: vec![],
                    external_ref: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            svc.escalate_due().await.unwrap(),
            0,
            "a fresh case is green"
        );
        // The accept limit is 1 working hour: 50 minutes in is yellow.
        *now.lock().unwrap() += Duration::minutes(50);
        assert_eq!(svc.escalate_due().await.unwrap(), 1);
        assert_eq!(svc.escalate_due().await.unwrap(), 0, "yellow fires once");
        // The next day it is red.
        *now.lock().unwrap() += Duration::days(1);
        assert_eq!(svc.escalate_due().await.unwrap(), 1);
        // A restart: a new service over the same store fires nothing again.
        let restarted = Services::load(db.store.clone())
            .await
            .unwrap()
            .with_clock(clock(now.clone()));
        assert_eq!(restarted.escalate_due().await.unwrap(), 0);
        let people = db.store.list_people().await.unwrap();
        let of = |name: &str| people.iter().find(|p| p.username == name).unwrap().id;
        let op = db.store.notifications(of("operator"), 50).await.unwrap();
        assert_eq!(op.len(), 1, "the operator was warned once (yellow)");
        assert_eq!(op[0].kind, "deadline_yellow");
        assert_eq!(op[0].case_id, Some(case.id));
        let sup = db.store.notifications(of("supervisor"), 50).await.unwrap();
        assert_eq!(sup.len(), 1, "the supervisor got the red escalation once");
        assert!(sup[0].message.contains("已超期"));
        assert!(db
            .store
            .notifications(of("handler-hw"), 50)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_demo_every_segment_has_a_road_chief_at_every_level_with_history() {
    for db in TestDb::all().await {
        load_demo(&db.store).await.unwrap();
        let svc = Services::load(db.store.clone()).await.unwrap();
        let segments = svc.territory.as_ref().unwrap().segment_ids().to_vec();
        assert!(segments.len() > 100);
        assert_eq!(
            svc.road_chief_gaps().await.unwrap(),
            vec![],
            "路长制: full coverage"
        );
        // Reassigning keeps history: the old row is closed, the new one current.
        let seg = &segments[0];
        let people = db.store.list_people().await.unwrap();
        let new_chief = people
            .iter()
            .find(|p| p.username == "roadchief2-jd001")
            .unwrap()
            .id;
        let later = (Utc::now() + Duration::seconds(5)).trunc_subsecs(6);
        db.store
            .assign_road_chiefs(&[(seg.clone(), "second".into(), new_chief)], later)
            .await
            .unwrap();
        let history = db.store.road_chief_history(seg).await.unwrap();
        let seconds: Vec<_> = history.iter().filter(|a| a.level == "second").collect();
        assert_eq!(seconds.len(), 2);
        assert_eq!(seconds[0].valid_to, Some(later));
        assert_eq!(seconds[1].person_id, new_chief);
        let current = svc.road_chiefs_of(seg).await.unwrap();
        assert_eq!(current.len(), 3);
        assert_eq!(current[2].id, new_chief);
    }
}
