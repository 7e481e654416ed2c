//! Case search over HTTP against the real binary on every store (issue 15, item 2):
//! `GET /api/v1/cases/search` by number tail, 12345 工单号, phone tail and a two-character
//! word, within the reader's scope (a handler of one unit does not find another unit's
//! case) and with the phone still masked; `GET /api/v1/cases/by-number/{number}`; and
//! every bad value answered 4xx naming its field.

mod common;

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

/// `path?k=v&…` with the values percent-encoded.
fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params(&format!("http://x{path}"), params).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

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

/// A hotline case reported, registered and dispatched to `unit`; returns (id, number).
async fn dispatched(
    s: &Server,
    description: &str,
    phone: &str,
    ext: &str,
    unit: &str,
) -> (String, String) {
    let operator = s.login("operator").await;
    let (st, case) = s
        .post(
            &operator,
            "/api/v1/cases",
            json!({
                "source": "hotline_12345",
                "category": "06010",
                "description": description,
                "lat": 34.7503, "lon": 113.6615,
                "external_ref": ext,
                "reporter": {"name": "张三", "phone": phone},
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    act(s, &operator, &id, json!({"action": "accept"})).await;
    act(
        s,
        &s.login("inspector").await,
        &id,
        json!({"action": "confirm"}),
    )
    .await;
    act(
        s,
        &s.login("supervisor").await,
        &id,
        json!({"action": "register"}),
    )
    .await;
    let dispatcher = s.login("dispatcher").await;
    let unit = unit_id(s, &dispatcher, unit).await;
    act(
        s,
        &dispatcher,
        &id,
        json!({"action": "dispatch", "unit_id": unit}),
    )
    .await;
    (id, case["number"].as_str().unwrap().to_owned())
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_finds_by_each_key_within_scope_and_masks_the_phone(s: &Server) {
    let (a, a_number) = dispatched(
        s,
        "德化街井盖破损，存在安全隐患",
        "13812345678",
        "ZZ20261201001",
        "hw",
    )
    .await;
    let (b, b_number) = dispatched(s, "大学路占道经营", "13900001234", "ZZ20261201002", "sz").await;
    let dispatcher = s.login("dispatcher").await;
    let search = |params: &[(&str, &str)]| with_query("/api/v1/cases/search", params);

    let tail = &a_number[a_number.len() - 4..];
    let (st, v) = s.get(&dispatcher, &search(&[("number", tail)])).await;
    assert_eq!(st, 200, "{v}");
    assert!(ids(&v).contains(&a), "{v}");
    let (_, v) = s.get(&dispatcher, &search(&[("q", "井盖")])).await;
    assert_eq!(ids(&v), [a.as_str()]);
    let (_, v) = s.get(&dispatcher, &search(&[("q", "占道")])).await;
    assert_eq!(ids(&v), [b.as_str()]);
    let (_, v) = s
        .get(&dispatcher, &search(&[("external_ref", "ZZ20261201002")]))
        .await;
    assert_eq!(ids(&v), [b.as_str()]);
    // The phone matches; the row still shows it masked to a dispatcher.
    let (_, v) = s.get(&dispatcher, &search(&[("phone", "5678")])).await;
    assert_eq!(ids(&v), [a.as_str()]);
    assert_eq!(v["items"][0]["reporter"]["phone"], "138****5678", "{v}");
    assert!(!v.to_string().contains("13812345678"));
    let (_, v) = s
        .get(&dispatcher, &search(&[("phone", "13812345678")]))
        .await;
    assert_eq!(ids(&v), [a.as_str()]);

    // Scope: the 环卫 handler finds their case and never the 市政 one.
    let hw = s.login("handler-hw").await;
    let (st, v) = s.get(&hw, &search(&[("q", "井盖")])).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(ids(&v), [a.as_str()]);
    let (_, v) = s.get(&hw, &search(&[("q", "占道")])).await;
    assert!(ids(&v).is_empty(), "{v}");
    let (_, v) = s
        .get(&hw, &search(&[("number", &b_number[b_number.len() - 4..])]))
        .await;
    assert!(!ids(&v).contains(&b), "{v}");
    let sz = unit_id(s, &hw, "sz").await;
    let (st, v) = s.get(&hw, &search(&[("unit", &sz)])).await;
    assert_eq!(st, 403, "{v}");

    // By number: the whole number resolves to the case, within scope.
    let (st, v) = s
        .get(&dispatcher, &format!("/api/v1/cases/by-number/{a_number}"))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id"], a.as_str());
    assert!(v["events"].is_array());
    let (st, _) = s
        .get(&hw, &format!("/api/v1/cases/by-number/{b_number}"))
        .await;
    assert_eq!(st, 403);
    let (st, v) = s
        .get(&dispatcher, "/api/v1/cases/by-number/410103-20990101-9999")
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .get(
            &dispatcher,
            &with_query("/api/v1/cases/by-number/井盖", &[]),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["field"], "number");
}
http_test!(
    search_keys_and_scope,
    search_finds_by_each_key_within_scope_and_masks_the_phone
);

async fn every_bad_search_value_is_a_4xx_naming_its_field(s: &Server) {
    let dispatcher = s.login("dispatcher").await;
    let long = "井".repeat(51);
    for (params, field) in [
        (vec![("q", long.as_str())], "q"),
        (vec![("q", "井")], "q"),
        (vec![("phone", "abc")], "phone"),
        (vec![("phone", "12")], "phone"),
        (vec![("phone", "138123456789012345678")], "phone"),
        (vec![("number", "42")], "number"),
        (vec![("number", "井盖")], "number"),
        (vec![("state", "bogus")], "state"),
        (vec![("light", "blue")], "light"),
        (vec![("sort", "newest")], "sort"),
        (vec![("unit", "not-a-unit")], "unit"),
        (
            vec![("unit", "00000000-0000-4000-8000-000000000000")],
            "unit",
        ),
        (vec![("category", "9999")], "category"),
        (vec![("major", "component:99")], "major"),
        (vec![("street", "999999999")], "street"),
        (vec![("street", "德化街")], "street"),
        (vec![("grid", "1")], "grid"),
        (vec![("source", "fax")], "source"),
        (vec![("road_chief", "x")], "road_chief"),
        (vec![("cursor", "zzz")], "cursor"),
        (vec![("sort", "deadline"), ("cursor", "r123")], "cursor"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "201")], "limit"),
        (vec![("overdue", "maybe")], "overdue"),
        (vec![("created_from", "yesterday")], "created_from"),
        (
            vec![
                ("created_from", "2026-12-02T00:00:00Z"),
                ("created_to", "2026-12-01T00:00:00Z"),
            ],
            "created_to",
        ),
        (vec![("external_ref", &"x".repeat(65))], "external_ref"),
        (vec![("colour", "red")], "colour"),
    ] {
        let (st, v) = s
            .get(&dispatcher, &with_query("/api/v1/cases/search", &params))
            .await;
        assert_eq!(st, 422, "{params:?}: {v}");
        assert_eq!(v["error"]["field"], field, "{params:?}: {v}");
    }
    // A road chief sees no phone numbers, so may not search by them.
    let chief = s.login("roadchief-district").await;
    let (st, v) = s.get(&chief, "/api/v1/cases/search?phone=5678").await;
    assert_eq!(st, 403, "{v}");
    let (st, _) = s
        .get("not-a-token", "/api/v1/cases/search?q=%E4%BA%95%E7%9B%96")
        .await;
    assert_eq!(st, 401);
}
http_test!(
    search_bad_values,
    every_bad_search_value_is_a_4xx_naming_its_field
);
