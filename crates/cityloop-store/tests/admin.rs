//! Admin writes and the audit log on both backends: a change and its audit row commit
//! together or not at all, the log is append-only in the database itself, and it pages
//! and filters.

use chrono::{DateTime, Duration, TimeZone, Utc};
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::model::{Person, Role, Unit, UnitKind};
use cityloop_store::testing::TestDb;
use cityloop_store::{AdminOp, AuditCursor, AuditEntry, AuditFilter, StoreError};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn unit(code: &str) -> Unit {
    Unit {
        id: UnitId::new_v7(),
        code: code.into(),
        name: format!("单位{code}"),
        kind: UnitKind::Department,
        type_key: "城管局环卫".into(),
        active: true,
    }
}

fn entry(actor: Option<PersonId>, entity: &str, id: &str, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::now_v7(),
        at,
        actor_id: actor,
        entity: entity.into(),
        entity_id: id.into(),
        action: "create".into(),
        before: None,
        after: Some(json!({"id": id})),
    }
}

async fn all_rows(db: &TestDb) -> Vec<AuditEntry> {
    db.store
        .audit_log(&AuditFilter::default(), None, 500)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_change_and_its_audit_row_commit_together_or_not_at_all() {
    for db in TestDb::all().await {
        let admin = Person {
            id: PersonId::new_v7(),
            username: "admin".into(),
            display_name: "管理员".into(),
            role: Role::Admin,
            unit_id: None,
            active: true,
        };
        db.store.create_person(&admin, "x").await.unwrap();
        let hw = unit("hw");
        let mut e = entry(Some(admin.id), "unit", &hw.id.to_string(), t0());
        e.after = Some(json!({"code": "hw", "名称": "环卫"}));
        db.store
            .admin_apply(&[AdminOp::PutUnit(hw.clone())], &e)
            .await
            .unwrap();
        assert_eq!(db.store.get_unit(hw.id).await.unwrap(), hw);
        assert_eq!(
            all_rows(&db).await,
            vec![e.clone()],
            "{:?}",
            db.store.backend()
        );

        // A duplicate code fails the whole change: no unit, no audit row.
        let dup = unit("hw");
        let r = db
            .store
            .admin_apply(
                &[AdminOp::PutUnit(dup.clone())],
                &entry(Some(admin.id), "unit", &dup.id.to_string(), t0()),
            )
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        assert!(db.store.get_unit(dup.id).await.is_err());
        assert_eq!(all_rows(&db).await.len(), 1);

        // A later op that fails rolls back the earlier ops of the same change.
        let sz = unit("sz");
        let r = db
            .store
            .admin_apply(
                &[
                    AdminOp::PutUnit(sz.clone()),
                    AdminOp::RevokeApiKey {
                        key_hash: "no-such-key".into(),
                    },
                ],
                &entry(Some(admin.id), "unit", &sz.id.to_string(), t0()),
            )
            .await;
        assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
        assert!(db.store.get_unit(sz.id).await.is_err());
        assert_eq!(all_rows(&db).await.len(), 1);
    }
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database_itself() {
    for db in TestDb::all().await {
        db.store
            .admin_apply(&[], &entry(None, "calendar", "calendar", t0()))
            .await
            .unwrap();
        assert!(db
            .raw
            .execute("UPDATE admin_audit SET action = 'x'")
            .await
            .is_err());
        assert!(db.raw.execute("DELETE FROM admin_audit").await.is_err());
        assert_eq!(all_rows(&db).await.len(), 1);
    }
}

#[tokio::test]
async fn the_audit_log_pages_newest_first_and_filters_by_entity_and_actor() {
    for db in TestDb::all().await {
        let a = PersonId::new_v7();
        let b = PersonId::new_v7();
        let mut written = Vec::new();
        for i in 0..7 {
            let actor = if i % 2 == 0 { a } else { b };
            let entity = if i < 4 { "unit" } else { "person" };
            // Two rows share an instant: the id breaks the tie.
            let at = t0() + Duration::seconds(i / 2);
            let e = entry(Some(actor), entity, &format!("e{i}"), at);
            db.store.admin_apply(&[], &e).await.unwrap();
            written.push(e);
        }
        let mut seen = Vec::new();
        let mut after: Option<AuditCursor> = None;
        loop {
            let page = db
                .store
                .audit_log(&AuditFilter::default(), after.as_ref(), 3)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(AuditCursor {
                at: last.at,
                id: last.id,
            });
            seen.extend(page);
        }
        written.reverse();
        assert_eq!(seen, written, "{:?}", db.store.backend());

        let units = db
            .store
            .audit_log(
                &AuditFilter {
                    entity: Some("unit".into()),
                    actor_id: Some(a),
                    ..Default::default()
                },
                None,
                50,
            )
            .await
            .unwrap();
        let ids: Vec<&str> = units.iter().map(|e| e.entity_id.as_str()).collect();
        assert_eq!(ids, ["e2", "e0"]);
        let one = db
            .store
            .audit_log(
                &AuditFilter {
                    entity_id: Some("e5".into()),
                    ..Default::default()
                },
                None,
                50,
            )
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].actor_id, Some(b));
    }
}
