//! Public and internal text are different things (issue 16, item 1), over the real server
//! on every store: a public report is taken through every action of the workflow with a
//! distinct internal note and reason on each, and after every step no public GET (Open311
//! JSON and XML, single request, filtered and open lists) carries any of them; what the
//! citizen sees instead is the fixed wording of the state and the replies staff wrote for
//! the citizen. The citizen's case page (by query code or number) is held to the same
//! rule, and its steps, photos and access rules are pinned here too.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

const V2: &str = "/open311/v2";

/// A marker for the internal text of step `n`: unique, and unlikely in any wording.
fn secret(n: usize) -> String {
    format!("内部备注{n}号勿公开")
}

/// Reports through Open311 and returns (case number, case id).
async fn report(s: &Server, key: &str) -> (String, String) {
    let (number, _) = report_with_code(s, key).await;
    let token = s.login("supervisor").await;
    let (st, case) = s
        .get(&token, &format!("/api/v1/cases/by-number/{number}"))
        .await;
    let id = if st == 200 {
        case["id"].as_str().unwrap().to_owned()
    } else {
        // Before a by-number route exists, find it in the staff list.
        let (_, list) = s.get(&token, "/api/v1/cases?limit=200").await;
        list["items"]
            .as_array()
            .or_else(|| list.as_array())
            .unwrap()
            .iter()
            .find(|c| c["number"] == number.as_str())
            .expect("the new case in the staff list")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    (number, id)
}

async fn act(s: &Server, token: &str, id: &str, body: Value) -> Value {
    let (st, case) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body.clone())
        .await;
    assert_eq!(st, 200, "{body} -> {case}");
    case
}

/// Every public GET that can show this case, as text.
async fn public_bodies(s: &Server, number: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        format!("{V2}/requests/{number}.json"),
        format!("{V2}/requests/{number}.xml"),
        format!("{V2}/requests.json?service_request_id={number}"),
        format!("{V2}/requests.xml?service_request_id={number}"),
        format!("{V2}/requests.json?service_code=06010"),
        format!("{V2}/requests.json?status=open"),
        format!("{V2}/requests.json?status=closed"),
        format!("{V2}/requests/{number}.json?locale=en"),
        format!("/api/v1/public/cases/{number}"),
    ] {
        let r = s.http.get(s.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        out.push((path, r.text().await.unwrap()));
    }
    out
}

/// The request's `status_notes` in Chinese.
async fn status_notes(s: &Server, number: &str) -> String {
    let r = s
        .http
        .get(s.url(&format!("{V2}/requests/{number}.json")))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v[0]["status_notes"].as_str().unwrap_or_default().to_owned()
}

async fn assert_no_secret(s: &Server, number: &str, upto: usize) {
    for (path, body) in public_bodies(s, number).await {
        for n in 0..=upto {
            assert!(
                !body.contains(&secret(n)),
                "internal text of step {n} published by {path}: {body}"
            );
        }
        assert!(!body.contains("13800000000"), "phone published by {path}");
    }
}

async fn internal_text_never_reaches_any_public_get(s: &Server) {
    let st = s.staff().await;
    let (number, id) = report(s, "public-text-1").await;
    assert_eq!(status_notes(s, &number).await, "已提交，等待受理");

    // (token, action body) for every action a public case can take, in a legal order,
    // each with its own internal note and reason.
    let dispatch = json!({"action": "dispatch", "unit_id": st.hw});
    let steps: Vec<(&str, Value)> = vec![
        (&st.operator, json!({"action": "accept"})),
        (&st.inspector, json!({"action": "confirm"})),
        (&st.operator, json!({"action": "register"})),
        (&st.dispatcher, json!({"action": "roll_back"})),
        (&st.operator, json!({"action": "register"})),
        (&st.dispatcher, dispatch.clone()),
        (&st.handler, json!({"action": "return"})),
        (&st.dispatcher, dispatch.clone()),
        (
            &st.handler,
            json!({"action": "request_extension", "extension": "1工作日"}),
        ),
        (&st.supervisor, json!({"action": "refuse_extension"})),
        (
            &st.handler,
            json!({"action": "request_extension", "extension": "1工作日"}),
        ),
        (&st.supervisor, json!({"action": "approve_extension"})),
        (&st.supervisor, json!({"action": "suspend"})),
        (&st.supervisor, json!({"action": "resume"})),
        (
            &st.handler,
            json!({"action": "report_back", "attachments": [st.photo]}),
        ),
        (&st.inspector, json!({"action": "check_fail"})),
        (
            &st.handler,
            json!({"action": "report_back", "attachments": [st.photo]}),
        ),
        (&st.inspector, json!({"action": "check_pass"})),
        // The reporter left a phone: the case is called back before closing (回访); the
        // first call-back is unsatisfied (重办), the second satisfied.
        (
            &st.operator,
            json!({"action": "callback", "satisfaction": "unsatisfied"}),
        ),
        (
            &st.handler,
            json!({"action": "report_back", "attachments": [st.photo]}),
        ),
        (&st.inspector, json!({"action": "check_pass"})),
        (
            &st.operator,
            json!({"action": "callback", "satisfaction": "satisfied"}),
        ),
        (&st.supervisor, json!({"action": "close"})),
    ];
    for (n, (token, mut body)) in steps.into_iter().enumerate() {
        let n = n + 1;
        body["note"] = json!(secret(n));
        let needs_reason = matches!(
            body["action"].as_str(),
            Some(
                "roll_back"
                    | "return"
                    | "request_extension"
                    | "refuse_extension"
                    | "suspend"
                    | "check_fail"
            )
        );
        if needs_reason || body["satisfaction"] == "unsatisfied" {
            body["reason"] = json!(secret(n));
        }
        let case = act(s, token, &id, body.clone()).await;
        let state = case["state"].as_str().unwrap().to_owned();
        assert_no_secret(s, &number, n).await;
        let notes = status_notes(s, &number).await;
        match state.as_str() {
            "to_verify" => assert_eq!(notes, "已受理，正在核实"),
            "to_register" => assert_eq!(notes, "已受理，等待立案"),
            "to_dispatch" => assert_eq!(notes, "已立案，正在安排处置单位"),
            "handling" | "extension_pending" => {
                assert!(notes.starts_with("已立案，由"), "{notes}");
                assert!(notes.contains("处置"), "{notes}");
            }
            "suspended" => assert!(notes.ends_with("暂缓处理中"), "{notes}"),
            "to_check" => assert_eq!(notes, "处理完毕，待核查"),
            "to_callback" => assert_eq!(notes, "已核查，处理到位，等待回访"),
            "to_close" => assert_eq!(notes, "已核查，即将办结"),
            "closed" => assert_eq!(notes, "已办结"),
            other => panic!("unexpected state {other}"),
        }
    }

    // A reply written for the citizen is published, with the wording of the state.
    let (number2, id2) = report(s, "public-text-2").await;
    act(
        s,
        &st.operator,
        &id2,
        json!({"action": "accept", "note": secret(100), "public_reply": "已收到，正在安排人员现场核实"}),
    )
    .await;
    assert_eq!(
        status_notes(s, &number2).await,
        "已受理，正在核实。答复：已收到，正在安排人员现场核实"
    );
    assert_no_secret(s, &number2, 100).await;
}

async fn a_void_shows_the_public_reason_category_not_the_operators_words(s: &Server) {
    let st = s.staff().await;
    let (number, id) = report(s, "public-text-void").await;
    let case = act(
        s,
        &st.operator,
        &id,
        json!({"action": "void", "reason": "举报人多次恶意举报，内部备注", "note": secret(0),
               "public_reason": "duplicate"}),
    )
    .await;
    // Staff still see the operator's reason and what the citizen is told.
    assert_eq!(case["void_reason"], "举报人多次恶意举报，内部备注");
    assert_eq!(case["public_reason"], "duplicate");
    assert_eq!(
        status_notes(s, &number).await,
        "不予受理：重复反映，已并入其他案件处理"
    );
    for (path, body) in public_bodies(s, &number).await {
        assert!(!body.contains("恶意举报"), "{path}: {body}");
        assert!(!body.contains(&secret(0)), "{path}: {body}");
    }

    // Without a category the citizen reads the general wording; a bad category is a 422
    // naming the field; a public reason on another action is refused.
    let (number, id) = report(s, "public-text-void-2").await;
    let (code, err) = s
        .post(
            &st.operator,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "void", "reason": "x", "public_reason": "because"}),
        )
        .await;
    assert_eq!(code, 422, "{err}");
    assert_eq!(err["error"]["field"], "public_reason", "{err}");
    let (code, err) = s
        .post(
            &st.operator,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "accept", "public_reason": "other"}),
        )
        .await;
    assert_eq!(code, 422, "{err}");
    assert_eq!(err["error"]["field"], "public_reason", "{err}");
    act(
        s,
        &st.operator,
        &id,
        json!({"action": "void", "reason": "测试"}),
    )
    .await;
    assert_eq!(status_notes(s, &number).await, "不予受理：不符合受理条件");
}

async fn the_receipt_says_submitted_not_accepted(s: &Server) {
    let r = s
        .http
        .post(s.url(&format!("{V2}/requests.json")))
        .form(&[
            ("api_key", "demo-key"),
            ("service_code", "06010"),
            ("lat", "34.7503"),
            ("long", "113.6615"),
            ("description", "测试回执"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let notice = v[0]["service_notice"].as_str().unwrap();
    assert!(notice.starts_with("已提交，编号 "), "{notice}");
    assert!(notice.contains("等待受理"), "{notice}");
    assert!(!notice.contains("已受理"), "{notice}");
    // No unit is promised before anyone has screened the report.
    assert!(!notice.contains("环卫"), "{notice}");
    let number = v[0]["service_request_id"].as_str().unwrap();
    let r = s
        .http
        .get(s.url(&format!("{V2}/requests/{number}.json")))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(
        v[0].get("agency_responsible").is_none_or(Value::is_null),
        "{v}"
    );
}

/// Reports through Open311 and returns (number, query code) from the answer.
async fn report_with_code(s: &Server, key: &str) -> (String, String) {
    let r = s
        .http
        .post(s.url(&format!("{V2}/requests.json")))
        .header("Idempotency-Key", key)
        .form(&[
            ("api_key", "demo-key"),
            ("service_code", "06010"),
            ("lat", "34.7503"),
            ("long", "113.6615"),
            ("description", "德化街人行道暴露垃圾"),
            ("phone", "13800000000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let number = v[0]["service_request_id"].as_str().unwrap().to_owned();
    let code = v[0]["query_code"]
        .as_str()
        .expect("a query code")
        .to_owned();
    let notice = v[0]["service_notice"].as_str().unwrap();
    assert!(
        notice.contains(&code),
        "the notice names the code: {notice}"
    );
    (number, code)
}

async fn page(s: &Server, reference: &str) -> (u16, Value) {
    let r = s
        .http
        .get(s.url(&format!("/api/v1/public/cases/{reference}")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn the_case_page_tells_each_step_in_citizen_words(s: &Server) {
    let st = s.staff().await;
    let (number, code) = report_with_code(s, "public-page-1").await;
    let (_, id) = report(s, "public-page-1").await;
    let dispatch = json!({"action": "dispatch", "unit_id": st.hw});
    let steps: Vec<(&str, Value)> = vec![
        (&st.operator, json!({"action": "accept"})),
        (&st.inspector, json!({"action": "confirm"})),
        (&st.operator, json!({"action": "register"})),
        (&st.dispatcher, dispatch),
        (
            &st.handler,
            json!({"action": "report_back", "attachments": [st.photo], "public_reply": "垃圾已清运，感谢您的反映"}),
        ),
        (&st.inspector, json!({"action": "check_pass"})),
    ];
    for (n, (token, mut body)) in steps.into_iter().enumerate() {
        body["note"] = json!(secret(200 + n));
        act(s, token, &id, body).await;
    }
    // The reporter rates it on the page with the receipt's code (回访), then it is closed.
    let (_, p) = page(s, &code).await;
    assert_eq!(p["can_rate"], true, "{p}");
    let (_, by_number) = page(s, &number).await;
    assert_eq!(by_number["can_rate"], false, "a number proves nothing");
    let r = s
        .http
        .post(s.url(&format!("/api/v1/public/cases/{code}/rating")))
        .json(&json!({"satisfaction": "satisfied", "comment": secret(207)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    act(
        s,
        &st.supervisor,
        &id,
        json!({"action": "close", "note": secret(208)}),
    )
    .await;
    let (status, p) = page(s, &code).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["number"], json!(number));
    assert_eq!(p["query_code"], json!(code));
    assert_eq!(p["status"], "closed");
    assert_eq!(p["status_text"], "已办结");
    let texts: Vec<&str> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "提交反映",
            "已受理",
            "经现场核实，问题属实",
            "已立案",
            "已派遣至区城管局环卫中心处置",
            "处置单位反馈已处理完毕",
            "经现场核查，处理到位",
            "已回访反映人",
            "已办结",
        ]
    );
    assert_eq!(p["steps"][5]["reply"], "垃圾已清运，感谢您的反映");
    assert_eq!(p["after_photos"], json!([format!("/media/{}", st.photo)]));
    assert_eq!(p["steps"][5]["photos"], p["after_photos"]);
    let text = p.to_string();
    for n in 200..=208 {
        assert!(
            !text.contains(&secret(n)),
            "internal note {n} on the case page: {text}"
        );
    }
    assert!(!text.contains("13800000000"), "phone on the case page");
    // The photo it names is served to anyone.
    let photo = s
        .http
        .get(s.url(&format!("/media/{}", st.photo)))
        .send()
        .await
        .unwrap();
    assert_eq!(photo.status(), 200);

    // Retyped: lower case, no hyphens, spaces.
    let retyped = code.replace('-', " ").to_lowercase();
    let (status, again) = page(s, &retyped).await;
    assert_eq!(status, 200);
    assert_eq!(again["number"], json!(number));
    // By number: the same case, and the code is not given away.
    let (status, by_number) = page(s, &number).await;
    assert_eq!(status, 200);
    assert!(by_number.get("query_code").is_none(), "{by_number}");
    // English on request, never from the browser's header alone.
    let en = s
        .http
        .get(s.url(&format!("/api/v1/public/cases/{code}?lang=en")))
        .header("Accept-Language", "zh-CN")
        .send()
        .await
        .unwrap();
    let en: Value = en.json().await.unwrap();
    assert_eq!(en["status_text"], "Closed");
    let zh = s
        .http
        .get(s.url(&format!("/api/v1/public/cases/{code}")))
        .header("Accept-Language", "en-US")
        .send()
        .await
        .unwrap();
    let zh: Value = zh.json().await.unwrap();
    assert_eq!(zh["status_text"], "已办结");
    // Staff see the code on the case, to read it to a caller.
    let (_, detail) = s.get(&st.operator, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(detail["query_code"], json!(code));
}

async fn a_wrong_code_or_an_unpublished_case_is_not_found(s: &Server) {
    let (number, code) = report_with_code(s, "public-page-2").await;
    // Every single-character change of the code is refused, like an unknown number.
    let last = code.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    let wrong = format!("{}{other}", &code[..code.len() - 1]);
    for reference in [wrong.as_str(), "410103-20990101-9999", "ABCD-EFGH-JKMN"] {
        let (status, body) = page(s, reference).await;
        assert_eq!(status, 404, "{reference}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("没有找到"),
            "{body}"
        );
    }
    // A 12345 call: not published, so its number opens nothing; its code (which the
    // operator reads to the caller) does.
    let op = s.login("operator").await;
    let (st, hot) = s
        .post(
            &op,
            "/api/v1/cases",
            json!({"source": "hotline_12345", "category": "06010", "description": "热线来电：路边垃圾",
                   "lat": 34.7503, "lon": 113.6615}),
        )
        .await;
    assert_eq!(st, 201, "{hot}");
    let (_, detail) = s
        .get(
            &op,
            &format!("/api/v1/cases/{}", hot["id"].as_str().unwrap()),
        )
        .await;
    let hot_code = detail["query_code"]
        .as_str()
        .expect("a hotline case has a code")
        .to_owned();
    let (status, _) = page(s, hot["number"].as_str().unwrap()).await;
    assert_eq!(status, 404, "a hotline case is not opened by its number");
    let (status, p) = page(s, &hot_code).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["status_text"], "已提交，等待受理");
    // A petition has no citizen page and no code.
    let (st, pet) = s
        .post(
            &op,
            "/api/v1/cases",
            json!({"source": "petition", "category": "06010", "description": "信访转办",
                   "lat": 34.7503, "lon": 113.6615}),
        )
        .await;
    assert_eq!(st, 201, "{pet}");
    let (_, detail) = s
        .get(
            &op,
            &format!("/api/v1/cases/{}", pet["id"].as_str().unwrap()),
        )
        .await;
    assert!(detail.get("query_code").is_none(), "{detail}");
    // Bad input names its field.
    let (status, body) = page(s, &format!("{number}?lang=fr")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "lang");
    let (status, body) = page(s, &"9".repeat(65)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "ref");
}

/// Guessing codes is slow: past the per-address rate the page answers 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_page_lookups_are_limited_per_address() {
    for db in TestDb::all().await {
        let s = Server::spawn_env(
            "demo",
            &db.url,
            &[("CITYLOOP_LOOKUP_RATE_PER_ADDRESS", "3/1m")],
        );
        for _ in 0..3 {
            let (status, _) = page(&s, "ABCD-EFGH-JKMN").await;
            assert_eq!(status, 404);
        }
        let r = s
            .http
            .get(s.url("/api/v1/public/cases/ABCD-EFGH-JKMN"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().get("retry-after").is_some());
    }
}

macro_rules! public_text_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let server = Server::spawn("demo", &db.url);
                super::$name(&server).await;
            }
        }
    };
}

mod on_every_store {
    use super::*;
    public_text_test!(internal_text_never_reaches_any_public_get);
    public_text_test!(a_void_shows_the_public_reason_category_not_the_operators_words);
    public_text_test!(the_receipt_says_submitted_not_accepted);
    public_text_test!(the_case_page_tells_each_step_in_citizen_words);
    public_text_test!(a_wrong_code_or_an_unpublished_case_is_not_found);
}
