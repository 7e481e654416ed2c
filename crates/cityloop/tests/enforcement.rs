//! Enforcement over HTTP against the real binary on every store (issue 20): a penalty's
//! whole life with its documents, the refusals that name their field (a wrong credit-code
//! check character, an amount out of the article's range, a step out of order, a decision
//! without legal basis), a party's id number full only to 城管执法, and a repeat offender's
//! new case marked for the operator.

mod common;

use chrono::{Duration, SecondsFormat, Utc};
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

async fn put(s: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .put(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn act(s: &Server, token: &str, id: &str, body: Value) {
    let (st, v) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await;
    assert_eq!(st, 200, "{v}");
}

/// A 12345 case registered and dispatched to the enforcement brigade (unit `zf`).
async fn case_for_enforcement(s: &Server, n: u32) -> String {
    let operator = s.login("operator").await;
    let inspector = s.login("inspector").await;
    let supervisor = s.login("supervisor").await;
    let dispatcher = s.login("dispatcher").await;
    let (st, case) = s
        .post(
            &operator,
            "/api/v1/cases",
            json!({
                "source": "hotline_12345",
                "category": "06010",
                "description": format!("工地渣土遗撒 #{n}"),
                "lat": 34.7503, "lon": 113.6615,
                "reporter": {"name": "李四", "phone": "13812345678"},
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    act(s, &operator, &id, json!({"action": "accept"})).await;
    act(s, &inspector, &id, json!({"action": "confirm"})).await;
    act(s, &supervisor, &id, json!({"action": "register"})).await;
    let (_, units) = s.get(&dispatcher, "/api/v1/units").await;
    let zf = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "zf")
        .unwrap()["id"]
        .clone();
    act(
        s,
        &dispatcher,
        &id,
        json!({"action": "dispatch", "unit_id": zf}),
    )
    .await;
    id
}

fn ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn step(s: &Server, token: &str, case: &str, body: Value) -> (u16, Value) {
    s.post(
        token,
        &format!("/api/v1/cases/{case}/enforcement/steps"),
        body,
    )
    .await
}

async fn a_penalty_lives_from_filing_to_closing_with_its_documents(s: &Server) {
    let operator = s.login("operator").await;
    let enforcer = s.login("enforcer-zf").await;
    let handler = s.login("handler-hw").await;
    let case = case_for_enforcement(s, 1).await;

    // The party: a wrong check character is refused naming the field.
    let (st, v) = s
        .post(
            &operator,
            "/api/v1/parties",
            json!({"kind": "organisation", "name": "郑州某建筑工程有限公司", "credit_code": "91410103MA00000007"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("credit_code")),
        "{v}"
    );
    let (st, org) = s
        .post(
            &operator,
            "/api/v1/parties",
            json!({"kind": "organisation", "name": "郑州某建筑工程有限公司", "credit_code": "91410103ma00000006"}),
        )
        .await;
    assert_eq!(st, 201, "{org}");
    assert_eq!(org["credit_code"], "91410103MA00000006");
    let (st, v) = s
        .post(
            &operator,
            "/api/v1/parties",
            json!({"kind": "organisation", "name": "重名", "credit_code": "91410103MA00000006"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (409, Some("credit_code")),
        "{v}"
    );
    let org_id = org["id"].as_str().unwrap();

    // Before the case names its party, no record can be opened.
    let file = json!({"kind": "file", "at": ago(60), "doc_no": "二七城执立〔2026〕17号"});
    let (st, v) = step(s, &enforcer, &case, file.clone()).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("party_id")),
        "{v}"
    );
    let (st, v) = put(
        s,
        &operator,
        &format!("/api/v1/cases/{case}/party"),
        json!({"party_id": org_id}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["flag"]["flagged"], false);

    // Only 城管执法 records steps.
    let (st, _) = step(s, &handler, &case, file.clone()).await;
    assert_eq!(st, 403);
    let (st, rec) = step(s, &enforcer, &case, file).await;
    assert_eq!(st, 201, "{rec}");
    assert_eq!(rec["state"], "filed");
    assert_eq!(rec["clocks"][0]["kind"], "decide");
    assert_eq!(rec["clocks"][0]["limit"], "90自然日");
    let record = rec["id"].as_str().unwrap().to_owned();
    let with = |mut b: Value| {
        b["record_id"] = json!(record);
        b
    };
    // Out of order: no decision right after filing (409, `kind`).
    let decide = json!({"kind": "decide", "at": ago(50), "doc_no": "二七城执罚决〔2026〕17号",
                        "article": "msw-42", "penalty": "fine", "amount_yuan": 20000});
    let (st, v) = step(s, &enforcer, &case, with(decide.clone())).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (409, Some("kind")),
        "{v}"
    );
    for b in [
        json!({"kind": "investigate", "at": ago(55), "doc_no": "询问笔录〔2026〕17-1号"}),
        json!({"kind": "notify", "at": ago(52), "doc_no": "二七城执告〔2026〕17号", "hearing_right": false}),
    ] {
        let (st, v) = step(s, &enforcer, &case, with(b)).await;
        assert_eq!(st, 201, "{v}");
    }
    // A decision without legal basis, and one outside the article's range (5000–50000 for
    // an organisation), are refused naming the field.
    let mut no_basis = decide.clone();
    no_basis.as_object_mut().unwrap().remove("article");
    let (st, v) = step(s, &enforcer, &case, with(no_basis)).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("article")),
        "{v}"
    );
    let mut too_much = decide.clone();
    too_much["amount_yuan"] = json!(60000);
    let (st, v) = step(s, &enforcer, &case, with(too_much)).await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("amount_yuan")),
        "{v}"
    );
    let (st, v) = step(s, &enforcer, &case, with(decide)).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["state"], "decided");
    for b in [
        json!({"kind": "serve", "at": ago(40), "doc_no": "送达回证〔2026〕17号"}),
        json!({"kind": "execute", "at": ago(30), "doc_no": "罚没款票据 No.0001717"}),
        json!({"kind": "close", "at": ago(20), "doc_no": "结案审批〔2026〕17号"}),
    ] {
        let (st, v) = step(s, &enforcer, &case, with(b)).await;
        assert_eq!(st, 201, "{v}");
    }
    // A correction is a new step; the original stays.
    let (st, v) = step(
        s,
        &enforcer,
        &case,
        with(json!({"kind": "correct", "at": ago(10), "corrects": 4, "amount_yuan": 15000, "note": "金额笔误，以决定书原件为准"})),
    )
    .await;
    assert_eq!(st, 201, "{v}");

    let (st, e) = s
        .get(&operator, &format!("/api/v1/cases/{case}/enforcement"))
        .await;
    assert_eq!(st, 200, "{e}");
    let r = &e["records"][0];
    assert_eq!(r["state"], "closed");
    assert_eq!(r["state_zh"], "结案");
    assert_eq!(r["procedure"], "general");
    assert_eq!(r["article"], "msw-42");
    assert_eq!(r["amount_yuan"], 15000);
    let steps = r["steps"].as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "file",
            "investigate",
            "notify",
            "decide",
            "serve",
            "execute",
            "close",
            "correct"
        ]
    );
    assert_eq!(
        steps[3]["amount_yuan"], 20000,
        "the decision as first written"
    );
    assert_eq!(steps[3]["doc_no"], "二七城执罚决〔2026〕17号");
    assert_eq!(steps[4]["doc_no"], "送达回证〔2026〕17号");
    // Every clock of the record is finished, each in time (green).
    let clocks = r["clocks"].as_array().unwrap();
    let kinds: Vec<&str> = clocks.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["decide", "serve", "pay"]);
    assert!(
        clocks
            .iter()
            .all(|c| !c["done_at"].is_null() && c["light"] == "green"),
        "{clocks:?}"
    );
    assert_eq!(r["next"], json!([]));
    // After the close, nothing but a correction may follow.
    let (st, v) = step(
        s,
        &enforcer,
        &case,
        with(json!({"kind": "execute", "at": ago(5), "doc_no": "x"})),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (409, Some("kind")),
        "{v}"
    );
}
http_test!(
    a_penalty_lives_from_filing_to_closing,
    a_penalty_lives_from_filing_to_closing_with_its_documents
);

async fn a_flagged_partys_new_case_is_marked_for_the_operator_and_ids_stay_masked(s: &Server) {
    let admin = s.login("admin").await;
    let operator = s.login("operator").await;
    let enforcer = s.login("enforcer-zf").await;
    // Two penalties within 30 days put a party on the list.
    let (st, v) = put(
        s,
        &admin,
        "/api/v1/admin/repeat-offender",
        json!({"period_days": 30, "penalties": 2, "episodes": 0}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = put(
        s,
        &admin,
        "/api/v1/admin/repeat-offender",
        json!({"period_days": 30, "penalties": 0, "episodes": 0}),
    )
    .await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("penalties")),
        "{v}"
    );
    // The law-article table is district data the admin replaces; rows are checked and the
    // change is audited (a list is audited as an object, `{"items": [...]}`).
    let (_, table) = s.get(&operator, "/api/v1/law-articles").await;
    let mut items = table["items"].as_array().unwrap().clone();
    assert!(
        items.iter().all(|a| a["status"] == "未核实"),
        "the shipped rows are marked"
    );
    let (st, v) = put(
        s,
        &admin,
        "/api/v1/admin/law-articles",
        json!({"items": items}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    items.push(items[0].clone());
    let (st, v) = put(
        s,
        &admin,
        "/api/v1/admin/law-articles",
        json!({"items": items}),
    )
    .await;
    let dup = format!("articles[{}].code", items.len() - 1);
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some(dup.as_str())),
        "{v}"
    );
    let (_, audit) = s.get(&admin, "/api/v1/admin/audit?entity=setting").await;
    let rows = audit["items"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["entity_id"] == "law_articles" && r["after"]["items"].is_array()),
        "{audit}"
    );
    assert!(
        rows.iter()
            .any(|r| r["entity_id"] == "repeat_offender" && r["after"]["penalties"] == 2),
        "{audit}"
    );

    let (st, person) = s
        .post(
            &operator,
            "/api/v1/parties",
            json!({"kind": "person", "name": "王五", "id_number": "410103199001011234"}),
        )
        .await;
    assert_eq!(st, 201, "{person}");
    assert_eq!(person["id_number"], "****1234", "masked to the operator");
    let pid = person["id"].as_str().unwrap().to_owned();
    let (_, page) = s.get(&enforcer, &format!("/api/v1/parties/{pid}")).await;
    assert_eq!(
        page["party"]["id_number"], "410103199001011234",
        "full to 城管执法"
    );
    let (_, found) = s
        .get(&operator, "/api/v1/parties?q=%E7%8E%8B%E4%BA%94")
        .await;
    assert_eq!(found["items"][0]["id"], pid.as_str());
    assert_eq!(found["items"][0]["id_number"], "****1234");

    for n in 1..=2 {
        let case = case_for_enforcement(s, 10 + n).await;
        let (st, v) = put(
            s,
            &operator,
            &format!("/api/v1/cases/{case}/party"),
            json!({"party_id": pid}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        // On the spot a person's fine is at most 200 yuan.
        let spot = |amount: i64| {
            json!({"kind": "on_the_spot", "at": ago(30), "doc_no": format!("当场处罚〔2026〕{n}号"),
                   "article": "msw-42", "penalty": "fine", "amount_yuan": amount})
        };
        let (st, v) = step(s, &enforcer, &case, spot(201)).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (422, Some("amount_yuan")),
            "{v}"
        );
        let (st, v) = step(s, &enforcer, &case, spot(200)).await;
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["state"], "served");
        assert_eq!(v["party_id"], pid.as_str());
    }
    // The third case against the party is marked when the operator names the party.
    let third = case_for_enforcement(s, 13).await;
    let (st, v) = put(
        s,
        &operator,
        &format!("/api/v1/cases/{third}/party"),
        json!({"party_id": pid}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["flag"]["flagged"], true, "{v}");
    assert_eq!(v["flag"]["hits"][0]["reason"], "penalties");
    assert_eq!(v["flag"]["hits"][0]["count"], 2);
    assert_eq!(v["flag"]["rule_is_default"], false);
    assert!(v["flag"]["expires_at"].is_string());
    assert_eq!(v["party"]["id_number"], "****1234");
    // The party's page: flagged, three cases, two records.
    let (_, page) = s.get(&operator, &format!("/api/v1/parties/{pid}")).await;
    assert_eq!(page["flag"]["flagged"], true);
    assert_eq!(page["cases"].as_array().unwrap().len(), 3);
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
}
http_test!(
    a_flagged_partys_new_case_is_marked,
    a_flagged_partys_new_case_is_marked_for_the_operator_and_ids_stay_masked
);
