//! Privacy by role over HTTP against the real binary on every store (issue 13, item 7):
//! each role sees the reporter's name, phone, e-mail and the photos' EXIF GPS as the
//! policy table says; a full phone number only comes from the logged reveal; case detail,
//! lists, the rankings drill-down and photo originals follow the reader's case scope (a
//! handler their unit's cases, a road chief of a street that street's).

mod common;

use cityloop_service::media::samples;
use common::{Server, TestDb};
use serde_json::{json, Value};

macro_rules! http_test {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let server = Server::spawn("demo", &db.url);
                $body(&server).await;
            }
        }
    };
}

/// Where the photos were taken (EXIF GPS).
const HERE: (f64, f64) = (34.7503, 113.6615);
const PHONE: &str = "13812345678";

async fn act(s: &Server, token: &str, id: &str, body: Value) {
    let (st, v) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await;
    assert_eq!(st, 200, "{v}");
}

async fn unit_id(s: &Server, token: &str, code: &str) -> String {
    let (_, units) = s.get(token, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("unit {code}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn upload_gps_photo(s: &Server, token: &str, w: u32) -> String {
    let (st, a) = s
        .upload(
            token,
            samples::jpeg(w, 24, Some(HERE)),
            "p.jpg",
            "image/jpeg",
        )
        .await;
    assert!(st == 201 || st == 200, "{st} {a}");
    a["id"].as_str().unwrap().to_owned()
}

/// A 12345 hotline case with the caller's contact and a photo with GPS, dispatched to
/// 环卫 and reported back with a second photo. Returns (case id, street code, report
/// photo, report-back photo).
struct Setup {
    id: String,
    street: String,
    before: String,
    after: String,
    other_street: String,
}

async fn setup(s: &Server) -> Setup {
    let operator = s.login("operator").await;
    let inspector = s.login("inspector").await;
    let supervisor = s.login("supervisor").await;
    let dispatcher = s.login("dispatcher").await;
    let hw = s.login("handler-hw").await;
    let before = upload_gps_photo(s, &operator, 32).await;
    let (st, case) = s
        .post(
            &operator,
            "/api/v1/cases",
            json!({
                "source": "hotline_12345",
                "category": "06010",
                "description": "德化街人行道暴露垃圾（市民来电）",
                "lat": HERE.0, "lon": HERE.1,
                "reporter": {"name": "张三", "phone": PHONE, "email": "zhang.san@example.cn"},
                "media": [before],
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let street = case["routing"]["street_code"].as_str().unwrap().to_owned();
    act(s, &operator, &id, json!({"action": "accept"})).await;
    act(s, &inspector, &id, json!({"action": "confirm"})).await;
    act(s, &supervisor, &id, json!({"action": "register"})).await;
    let unit = unit_id(s, &dispatcher, "hw").await;
    act(
        s,
        &dispatcher,
        &id,
        json!({"action": "dispatch", "unit_id": unit}),
    )
    .await;
    let after = upload_gps_photo(s, &hw, 40).await;
    act(
        s,
        &hw,
        &id,
        json!({"action": "report_back", "note": "已清理", "attachments": [after]}),
    )
    .await;
    let (_, units) = s.get(&operator, "/api/v1/units").await;
    let other_street = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "street" && u["type_key"] != street.as_str())
        .expect("another street office")["code"]
        .as_str()
        .unwrap()
        .to_owned();
    Setup {
        id,
        street,
        before,
        after,
        other_street,
    }
}

/// The demo road chief (一级) of the street office whose street code is `street`.
async fn chief_of(s: &Server, street: &str) -> String {
    let (_, units) = s.get(&s.login("operator").await, "/api/v1/units").await;
    let code = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "street" && u["type_key"] == street)
        .expect("the case's street office")["code"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("roadchief1-{code}")
}

/// What one reader must see: (user, name, phone, e-mail, may reveal, GPS).
type Expect<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    bool,
    Gps,
);

#[derive(Debug)]
enum Gps {
    Full,
    Masked,
}

async fn reporter_gps_and_scope_follow_the_policy_table(s: &Server) {
    let x = setup(s).await;
    let own_chief = chief_of(s, &x.street).await;
    let other_chief = format!("roadchief1-{}", x.other_street);
    // (user, name, phone, e-mail, may reveal, GPS)
    let visible: Vec<Expect> = vec![
        (
            "operator",
            Some("张三"),
            Some("138****5678"),
            Some("zhang.san@example.cn"),
            true,
            Gps::Full,
        ),
        (
            "supervisor",
            Some("张三"),
            Some("138****5678"),
            Some("zhang.san@example.cn"),
            true,
            Gps::Full,
        ),
        (
            "dispatcher",
            Some("张*"),
            Some("138****5678"),
            None,
            false,
            Gps::Full,
        ),
        (
            "inspector",
            Some("张*"),
            Some("138****5678"),
            None,
            false,
            Gps::Full,
        ),
        (
            "handler-hw",
            Some("张*"),
            Some("138****5678"),
            None,
            false,
            Gps::Full,
        ),
        (
            "admin",
            Some("张*"),
            Some("138****5678"),
            Some("z***@example.cn"),
            false,
            Gps::Masked,
        ),
        (&own_chief, Some("张*"), None, None, false, Gps::Masked),
        (
            "roadchief-district",
            Some("张*"),
            None,
            None,
            false,
            Gps::Masked,
        ),
    ];
    for (user, name, phone, email, revealable, gps) in visible {
        let t = s.login(user).await;
        let (st, c) = s.get(&t, &format!("/api/v1/cases/{}", x.id)).await;
        assert_eq!(st, 200, "{user}: {c}");
        let r = &c["reporter"];
        assert_eq!(r["name"].as_str(), name, "{user} name");
        assert_eq!(r["phone"].as_str(), phone, "{user} phone");
        assert_eq!(r["email"].as_str(), email, "{user} e-mail");
        assert_eq!(r["phone_revealable"], revealable, "{user} reveal");
        assert!(!c.to_string().contains(PHONE), "{user}: no full phone");
        let p = &c["photos"][0];
        let (lat, lon) = (p["gps"]["lat"].as_f64(), p["gps"]["lon"].as_f64());
        match gps {
            Gps::Full => {
                assert!((lat.unwrap() - HERE.0).abs() < 1e-6, "{user} {p}");
                assert!((lon.unwrap() - HERE.1).abs() < 1e-6, "{user} {p}");
                assert_eq!(p["url"], format!("/api/v1/attachments/{}", x.before));
            }
            Gps::Masked => {
                assert_eq!((lat, lon), (Some(34.75), Some(113.66)), "{user} {p}");
                assert_eq!(p["url"], p["public_url"], "{user}: no original link");
            }
        }
        // List rows are shaped the same way and never carry the full number.
        let (st, list) = s.get(&t, "/api/v1/cases?limit=200").await;
        assert_eq!(st, 200, "{user}: {list}");
        let row = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == x.id.as_str())
            .unwrap_or_else(|| panic!("{user} lists the case"));
        assert_eq!(row["reporter"]["phone"].as_str(), phone, "{user} list");
        assert!(!list.to_string().contains(PHONE), "{user} list");
    }
    // Out of scope: another unit's handler, a road chief of another street.
    for user in ["handler-sz", other_chief.as_str()] {
        let t = s.login(user).await;
        let (st, c) = s.get(&t, &format!("/api/v1/cases/{}", x.id)).await;
        assert_eq!(st, 403, "{user}: {c}");
        assert!(!c.to_string().contains("张"), "{user}: {c}");
        let (st, list) = s.get(&t, "/api/v1/cases?limit=200").await;
        assert_eq!(st, 200, "{user}: {list}");
        assert!(
            !list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == x.id.as_str()),
            "{user} must not list the case"
        );
    }
    // A road chief may not widen their list to another street.
    let t = s.login(&own_chief).await;
    let (st, _) = s
        .get(
            &t,
            &format!("/api/v1/cases?street={}", other_street_code(s, &x).await),
        )
        .await;
    assert_eq!(st, 403);

    photo_originals_follow_role_and_scope(s, &x, &own_chief).await;
    drill_down_follows_case_scope(s, &x, &own_chief, &other_chief).await;
}

async fn other_street_code(s: &Server, x: &Setup) -> String {
    let (_, units) = s.get(&s.login("operator").await, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == x.other_street.as_str())
        .unwrap()["type_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn original_status(s: &Server, token: &str, id: &str) -> u16 {
    s.http
        .get(s.url(&format!("/api/v1/attachments/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn photo_originals_follow_role_and_scope(s: &Server, x: &Setup, own_chief: &str) {
    for (user, want) in [
        ("operator", 200),
        ("supervisor", 200),
        ("dispatcher", 200),
        ("inspector", 200),
        ("handler-hw", 200),
        ("handler-sz", 403),
        ("admin", 403),
        (own_chief, 403),
    ] {
        let t = s.login(user).await;
        for photo in [&x.before, &x.after] {
            assert_eq!(original_status(s, &t, photo).await, want, "{user} {photo}");
        }
        // The public copy (no metadata) stays open to everyone with the id.
        let st = s
            .http
            .get(s.url(&format!("/media/{}", x.before)))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(st, 200);
    }
    // A handler reads the original of a photo they uploaded themselves, case or not.
    let sz = s.login("handler-sz").await;
    let own = upload_gps_photo(s, &sz, 56).await;
    assert_eq!(original_status(s, &sz, &own).await, 200);
    assert_eq!(
        original_status(s, &s.login("handler-zf").await, &own).await,
        403
    );
}

fn period() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1)
    )
}

async fn drill(s: &Server, user: &str, query: &str) -> Vec<String> {
    let t = s.login(user).await;
    let (st, d) = s
        .get(&t, &format!("/api/v1/rankings/cases?{query}&{}", period()))
        .await;
    assert_eq!(st, 200, "{user} {query}: {d}");
    d["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn drill_down_follows_case_scope(s: &Server, x: &Setup, own_chief: &str, other: &str) {
    let street = format!("object=street&id={}&indicator=registered", x.street);
    let one = vec![x.id.clone()];
    for user in ["supervisor", "operator", "admin", "handler-hw", own_chief] {
        assert_eq!(drill(s, user, &street).await, one, "{user}");
    }
    for user in ["handler-sz", other] {
        assert!(drill(s, user, &street).await.is_empty(), "{user}");
    }
    let hw = unit_id(s, &s.login("operator").await, "hw").await;
    let dept = format!("object=department&id={hw}&indicator=handled");
    assert_eq!(drill(s, "handler-hw", &dept).await, one);
    assert!(drill(s, "handler-sz", &dept).await.is_empty());
}

http_test!(
    reporter_contact_photo_gps_originals_and_drill_down_follow_role_and_scope_on_every_store,
    reporter_gps_and_scope_follow_the_policy_table
);

async fn audit_rows(s: &Server, admin: &str, case: &str) -> Vec<Value> {
    let (st, page) = s
        .get(
            admin,
            &format!("/api/v1/admin/audit?entity=case_contact&entity_id={case}"),
        )
        .await;
    assert_eq!(st, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn a_full_phone_view_is_revealed_on_request_and_audited(s: &Server) {
    let x = setup(s).await;
    let admin = s.login("admin").await;
    assert!(audit_rows(s, &admin, &x.id).await.is_empty());
    let reveal = format!("/api/v1/cases/{}/reveal-phone", x.id);

    let operator = s.login("operator").await;
    let (_, me) = s.get(&operator, "/api/v1/me").await;
    let (st, r) = s.post(&operator, &reveal, json!({})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["phone"], PHONE);
    let rows = audit_rows(s, &admin, &x.id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["actor_id"], me["id"]);
    assert_eq!(rows[0]["action"], "reveal_phone");
    assert_eq!(rows[0]["id"], r["audit_id"]);
    assert!(rows[0]["at"].as_str().is_some());

    // Roles that may not see it: refused, and nothing is logged or leaked.
    for user in [
        "handler-hw",
        "dispatcher",
        "inspector",
        "admin",
        "handler-sz",
    ] {
        let t = s.login(user).await;
        let (st, v) = s.post(&t, &reveal, json!({})).await;
        assert_eq!(st, 403, "{user}: {v}");
        assert!(!v.to_string().contains(PHONE));
    }
    assert_eq!(audit_rows(s, &admin, &x.id).await.len(), 1);

    // The district lets handlers call reporters back: still masked in the detail, the
    // reveal works for the handler in scope and is logged.
    let body =
        json!({"overrides": [{"role": "handler", "field": "reporter_phone", "access": "full"}]});
    let (st, v) = s
        .post(&operator, "/api/v1/admin/privacy", body.clone())
        .await;
    assert!(st == 403 || st == 405, "{st} {v}");
    let r = s
        .http
        .put(s.url("/api/v1/admin/privacy"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let table: Value = r.json().await.unwrap();
    assert_eq!(table["table"]["handler"]["reporter_phone"], "full");
    assert_eq!(table["table"]["road_chief"]["reporter_phone"], "hidden");
    let hw = s.login("handler-hw").await;
    let (_, c) = s.get(&hw, &format!("/api/v1/cases/{}", x.id)).await;
    assert_eq!(c["reporter"]["phone"], "138****5678");
    assert_eq!(c["reporter"]["phone_revealable"], true);
    let (st, r) = s.post(&hw, &reveal, json!({})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["phone"], PHONE);
    let (st, _) = s
        .post(&s.login("handler-sz").await, &reveal, json!({}))
        .await;
    assert_eq!(st, 403, "scope still applies");
    assert_eq!(audit_rows(s, &admin, &x.id).await.len(), 2);
    // The settings change itself is an audited admin change; a bad one names the field.
    let (st, v) = s.get(&admin, "/api/v1/admin/audit?entity=privacy").await;
    assert_eq!(st, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let dup = json!({"overrides": [
        {"role": "handler", "field": "reporter_phone", "access": "full"},
        {"role": "handler", "field": "reporter_phone", "access": "masked"}]});
    let r = s
        .http
        .put(s.url("/api/v1/admin/privacy"))
        .bearer_auth(&admin)
        .json(&dup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "overrides[1]");
}

http_test!(
    a_full_phone_number_is_only_revealed_on_request_and_every_view_is_audited_on_every_store,
    a_full_phone_view_is_revealed_on_request_and_audited
);
