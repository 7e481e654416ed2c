//! Text that cannot be stored is refused at the edge, naming the field, on every store
//! (issue 13, items 3 and 14): a NUL character in every documented text input of the
//! staff API — each top-level property of every JSON request body and each query
//! parameter, enumerated from the served OpenAPI document — and in the Open311 inputs
//! (form fields, query filters), and in a path; invalid UTF-8 in forms and queries.
//! PostgreSQL refuses NUL in `text` and answered 500 before; SQLite stored it.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

/// A JSON string with a NUL in it, as the wire spells it.
const NUL_JSON: &str = "a\u{0}b";

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Fills `{param}`s with a well-formed id so the request reaches its handler.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let j = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        out.push_str("00000000-0000-7000-8000-000000000000");
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

/// The field an error names, in either API's shape.
fn named_field(body: &Value) -> String {
    body["error"]["field"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_any_staff_api_text_input_is_a_4xx_naming_the_field() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        let admin = s.login("admin").await;
        let doc: Value = s
            .http
            .get(s.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                // Every query parameter.
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] != "query" {
                        continue;
                    }
                    let name = p["name"].as_str().unwrap();
                    let r = s
                        .http
                        .request(
                            m.clone(),
                            s.url(&format!("{}?{name}=a%00b", concrete(path))),
                        )
                        .bearer_auth(&admin)
                        .header("content-type", "application/json")
                        .body("{}")
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    assert!(
                        (400..500).contains(&status) && named_field(&body) == name,
                        "{method} {path} ?{name}=NUL: {status} {body}"
                    );
                    checked += 1;
                }
                // Every top-level property of a JSON body.
                let raw = &op["requestBody"]["content"]["application/json"]["schema"];
                if !raw.is_object() {
                    continue;
                }
                let schema = resolve(&doc, raw);
                for prop in schema["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    let r = s
                        .http
                        .request(m.clone(), s.url(&concrete(path)))
                        .bearer_auth(&admin)
                        .json(&json!({ prop: NUL_JSON }))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    assert!(
                        (400..500).contains(&status) && named_field(&body) == *prop,
                        "{method} {path} {{{prop}: NUL}}: {status} {body}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 60, "only {checked} inputs checked");
        // Login without an account, nested fields, keys and array items, and a path.
        for (path, body, field) in [
            (
                "/api/v1/auth/login",
                json!({"username": NUL_JSON, "password": "x"}),
                "username",
            ),
            (
                "/api/v1/auth/login",
                json!({"username": "admin", "password": NUL_JSON}),
                "password",
            ),
            (
                "/api/v1/cases",
                json!({"source": "inspector", "category": "06010", "description": "d",
                       "lat": 34.75, "lon": 113.66, "reporter": {"phone": NUL_JSON}}),
                "reporter.phone",
            ),
            (
                "/api/v1/cases",
                json!({"source": "inspector", "category": "06010", "description": "d",
                       "lat": 34.75, "lon": 113.66, "media": ["ok", NUL_JSON]}),
                "media[1]",
            ),
        ] {
            let r = s
                .http
                .post(s.url(path))
                .bearer_auth(&admin)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let b: Value = r.json().await.unwrap();
            assert_eq!(
                (status, named_field(&b).as_str()),
                (422, field),
                "{path} {b}"
            );
        }
        for path in [
            "/api/v1/cases/a%00b",
            "/api/v1/admin/units/%00",
            "/api/v1/cases/%FF",
        ] {
            let r = s
                .http
                .get(s.url(path))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let b: Value = r.json().await.unwrap();
            assert_eq!(
                (status, named_field(&b).as_str()),
                (400, "path"),
                "{path} {b}"
            );
        }
        // Invalid UTF-8 in a staff query is refused, not replaced.
        let r = s
            .http
            .get(s.url("/api/v1/cases?street=%C3%28"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let b: Value = r.json().await.unwrap();
        assert_eq!(named_field(&b), "street", "{b}");
    }
}

/// The Open311 error description of a JSON error answer.
fn description(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    v[0]["description"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_or_invalid_utf8_in_any_open311_input_is_a_400_naming_it() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let s = Server::spawn("demo", &db.url);
        let base = [
            ("api_key", "demo-key"),
            ("service_code", "06010"),
            ("lat", "34.7466"),
            ("long", "113.6401"),
            ("description", "人行道破损"),
        ];
        let fields = [
            "api_key",
            "service_code",
            "description",
            "address_string",
            "address_id",
            "email",
            "device_id",
            "account_id",
            "first_name",
            "last_name",
            "phone",
            "media_url",
            "attribute[severity]",
            "jurisdiction_id",
            "locale",
        ];
        for field in fields {
            for (bad, what) in [("a%00b", "NUL"), ("a%C3%28", "UTF-8")] {
                // As a form body.
                let mut form: Vec<String> = base
                    .iter()
                    .filter(|(k, _)| *k != field)
                    .map(|(k, v)| format!("{k}={}", urlencode(v)))
                    .collect();
                form.push(format!("{}={bad}", urlencode(field)));
                let r = s
                    .http
                    .post(s.url("/open311/v2/requests.json"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form.join("&"))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                assert_eq!(status, 400, "POST {field}={bad} ({what}): {body}");
                assert!(
                    description(&body).starts_with(&format!("{field}:")),
                    "POST {field}={bad}: {body}"
                );
                // As a multipart field.
                let raw = if what == "NUL" {
                    b"a\0b".to_vec()
                } else {
                    b"a\xC3\x28".to_vec()
                };
                let mut mp = reqwest::multipart::Form::new();
                for (k, v) in base.iter().filter(|(k, _)| *k != field) {
                    mp = mp.text(*k, *v);
                }
                mp = mp.part(field, reqwest::multipart::Part::bytes(raw));
                let r = s
                    .http
                    .post(s.url("/open311/v2/requests.json"))
                    .multipart(mp)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                assert_eq!(status, 400, "multipart {field} ({what}): {body}");
                assert!(
                    description(&body).starts_with(&format!("{field}:")),
                    "multipart {field}: {body}"
                );
            }
        }
        // The GET filters, and the XML format says the same.
        for q in [
            "service_code",
            "service_request_id",
            "status",
            "start_date",
            "end_date",
            "updated_after",
            "updated_before",
            "page",
            "page_size",
            "cursor",
            "jurisdiction_id",
        ] {
            for bad in ["a%00b", "%FF"] {
                let r = s
                    .http
                    .get(s.url(&format!("/open311/v2/requests.json?{q}={bad}")))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                assert_eq!(status, 400, "GET ?{q}={bad}: {body}");
                assert!(description(&body).starts_with(&format!("{q}:")), "{body}");
            }
        }
        let r = s
            .http
            .get(s.url("/open311/v2/services.xml?service_code=%00"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body = r.text().await.unwrap();
        assert!(
            body.contains("<errors>") && body.contains("service_code:"),
            "{body}"
        );
        // Nothing was stored with a replacement character.
        let r = s
            .http
            .get(s.url("/open311/v2/requests.json"))
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(!body.contains('\u{FFFD}'), "{body}");
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
