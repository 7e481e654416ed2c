//! 回访 and 重办 over the real server on every store (issue 16, item 4): a public case whose
//! reporter left a phone is called back after its check passes (待回访) before it can
//! close; the reporter answers on the case page with the receipt's query code (满意 /
//! 基本满意 / 不满意 with what is still wrong), or an operator records the answer of a
//! phone call; 不满意 sends the case back to the same unit (重办) on a fresh clock; 未回访
//! waits for the call-back limit; an anonymous report closes without a call-back; and the
//! department's 回访率, 满意率 and 重办率 follow from the answers. Within 30 days of closing
//! the reporter may say it is still not fixed: a new case linked to the closed one, for the
//! same unit, counted against the first closure.

mod common;

use common::{Server, Staff, TestDb};
use serde_json::{json, Value};

const V2: &str = "/open311/v2";

/// Reports through Open311 (with a phone when given); returns (number, query code, id).
async fn report(s: &Server, key: &str, phone: Option<&str>) -> (String, String, String) {
    let mut form = vec![
        ("api_key", "demo-key"),
        ("service_code", "06010"),
        ("lat", "34.7503"),
        ("long", "113.6615"),
        ("description", "德化街人行道暴露垃圾"),
    ];
    if let Some(p) = phone {
        form.push(("phone", p));
    }
    let r = s
        .http
        .post(s.url(&format!("{V2}/requests.json")))
        .header("Idempotency-Key", key)
        .form(&form)
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
    let token = s.login("supervisor").await;
    let (st, case) = s
        .get(&token, &format!("/api/v1/cases/by-number/{number}"))
        .await;
    assert_eq!(st, 200, "{case}");
    (number, code, case["id"].as_str().unwrap().to_owned())
}

async fn act(s: &Server, token: &str, id: &str, body: Value) -> Value {
    let (st, case) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body.clone())
        .await;
    assert_eq!(st, 200, "{body} -> {case}");
    case
}

/// Accept → confirm → register → dispatch to 环卫 → report back → check passed.
async fn to_passed_check(s: &Server, st: &Staff, id: &str) -> Value {
    act(s, &st.operator, id, json!({"action": "accept"})).await;
    act(s, &st.inspector, id, json!({"action": "confirm"})).await;
    act(s, &st.operator, id, json!({"action": "register"})).await;
    act(
        s,
        &st.dispatcher,
        id,
        json!({"action": "dispatch", "unit_id": st.hw}),
    )
    .await;
    handled_and_checked(s, st, id).await
}

async fn handled_and_checked(s: &Server, st: &Staff, id: &str) -> Value {
    act(
        s,
        &st.handler,
        id,
        json!({"action": "report_back", "note": "已清理", "attachments": [st.photo]}),
    )
    .await;
    act(s, &st.inspector, id, json!({"action": "check_pass"})).await
}

async fn rate(s: &Server, reference: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.url(&format!("/api/v1/public/cases/{reference}/rating")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn page(s: &Server, reference: &str) -> Value {
    let r = s
        .http
        .get(s.url(&format!("/api/v1/public/cases/{reference}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// 环卫's row of the department league table, yesterday to tomorrow in Beijing time.
async fn hw_ranking(s: &Server, st: &Staff) -> Value {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let p = format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1)
    );
    let (status, table) = s
        .get(
            &st.supervisor,
            &format!("/api/v1/rankings?object=department&{p}"),
        )
        .await;
    assert_eq!(status, 200, "{table}");
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(st.hw))
        .unwrap_or_else(|| panic!("no 环卫 row in {table}"))
        .clone()
}

fn ind(row: &Value, key: &str) -> Value {
    row["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("indicator {key} in {row}"))["value"]
        .clone()
}

async fn an_unsatisfied_rating_on_the_case_page_is_a_redo_by_the_same_unit(s: &Server) {
    let st = s.staff().await;
    let (number, code, id) = report(s, "callback-1", Some("13800000001")).await;

    // Before the check nobody rates: 409.
    let (status, err) = rate(s, &code, json!({"satisfaction": "satisfied"})).await;
    assert_eq!(status, 409, "{err}");

    let checked = to_passed_check(s, &st, &id).await;
    assert_eq!(checked["state"], "to_callback");
    assert_eq!(checked["stage"], "callback");
    // The supervisor's only button is the call-back, not 结案.
    let (_, waiting) = s.get(&st.supervisor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(waiting["allowed_actions"], json!(["callback"]));
    // The supervisor cannot close before the call-back.
    let (status, _) = s
        .post(
            &st.supervisor,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "close"}),
        )
        .await;
    assert_eq!(status, 409);
    let p = page(s, &code).await;
    assert_eq!(p["can_rate"], true);
    assert_eq!(p["status_text"], "已核查，处理到位，等待回访");
    assert_eq!(page(s, &number).await["can_rate"], false);

    // A number is not the reporter's proof; 不满意 needs what is still wrong; nobody can
    // declare themselves unreached; an unknown answer names the field.
    let (status, err) = rate(s, &number, json!({"satisfaction": "satisfied"})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("reference"))
    );
    let (status, err) = rate(s, &code, json!({"satisfaction": "unsatisfied"})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("comment"))
    );
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("哪里还没有解决"));
    let (status, err) = rate(
        s,
        &code,
        json!({"satisfaction": "unsatisfied", "comment": "长".repeat(501)}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("comment"))
    );
    let (status, err) = rate(s, &code, json!({"satisfaction": "unreached"})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("satisfaction"))
    );
    let (status, err) = rate(s, &code, json!({"satisfaction": "happy"})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("satisfaction"))
    );

    let (status, after) = rate(
        s,
        &code,
        json!({"satisfaction": "unsatisfied", "comment": "拐角处还有一堆没清走"}),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["can_rate"], false);
    assert!(
        !after.to_string().contains("拐角处"),
        "the comment is internal: {after}"
    );
    let steps: Vec<&str> = after["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps.last(),
        Some(&"回访时反映问题仍未解决，已重新安排处理")
    );
    // Rated once per round: again → 409.
    let (status, _) = rate(s, &code, json!({"satisfaction": "satisfied"})).await;
    assert_eq!(status, 409);

    // Staff see the redo: back with the same unit, the comment as the reason.
    let (_, case) = s.get(&st.supervisor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(case["state"], "handling");
    assert_eq!(case["unit"]["id"], json!(st.hw));
    assert_eq!(case["redo_count"], 1);
    assert_eq!(case["satisfaction"], "unsatisfied");
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "callback");
    assert_eq!(last["actor_role"], "public");
    assert_eq!(last["satisfaction"], "unsatisfied");
    assert_eq!(last["reason"], "拐角处还有一堆没清走");

    // Second round: the operator records the phone call's answer, then it closes.
    let again = handled_and_checked(s, &st, &id).await;
    assert_eq!(again["state"], "to_callback");
    // 未回访 is refused while the call-back limit (3 working days) runs.
    let (status, err) = s
        .post(
            &st.operator,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "callback", "satisfaction": "unreached"}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("satisfaction"))
    );
    // An operator's 不满意 needs a reason like the reporter's.
    let (status, err) = s
        .post(
            &st.operator,
            &format!("/api/v1/cases/{id}/actions"),
            json!({"action": "callback", "satisfaction": "unsatisfied"}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("reason"))
    );
    let rated = act(
        s,
        &st.operator,
        &id,
        json!({"action": "callback", "satisfaction": "basically_satisfied"}),
    )
    .await;
    assert_eq!(rated["state"], "to_close");
    let closed = act(s, &st.supervisor, &id, json!({"action": "close"})).await;
    assert_eq!(closed["state"], "closed");

    // The department: two call-backs, both answered, one satisfied, one redo; the redo
    // is also the unit's rework.
    let hw = &hw_ranking(s, &st).await;
    assert_eq!(ind(hw, "callbacks"), json!(2.0));
    assert_eq!(ind(hw, "callback_rate"), json!(100.0));
    assert_eq!(ind(hw, "satisfaction_rate"), json!(50.0));
    assert_eq!(ind(hw, "redo_rate"), json!(50.0));
    assert_eq!(ind(hw, "rework"), json!(1.0));
}

async fn an_anonymous_report_closes_without_a_callback(s: &Server) {
    let st = s.staff().await;
    let (_, code, id) = report(s, "callback-anon", None).await;
    let checked = to_passed_check(s, &st, &id).await;
    assert_eq!(checked["state"], "to_close");
    assert_eq!(page(s, &code).await["can_rate"], false);
    let (status, _) = rate(s, &code, json!({"satisfaction": "satisfied"})).await;
    assert_eq!(status, 409);
    let closed = act(s, &st.supervisor, &id, json!({"action": "close"})).await;
    assert_eq!(closed["state"], "closed");
}

async fn still_not_fixed_after_closing_opens_a_linked_case_for_the_same_unit(s: &Server) {
    let st = s.staff().await;
    let (number, code, id) = report(s, "still-not-fixed-1", Some("13800000002")).await;
    let say = |reference: String, body: Value| async move {
        let r = s
            .http
            .post(s.url(&format!("/api/v1/public/cases/{reference}/still-not-fixed")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    // Not closed yet: 409.
    let (status, _) = say(code.clone(), json!({"comment": "还在"})).await;
    assert_eq!(status, 409);
    to_passed_check(s, &st, &id).await;
    act(
        s,
        &st.operator,
        &id,
        json!({"action": "callback", "satisfaction": "satisfied"}),
    )
    .await;
    let closed = act(s, &st.supervisor, &id, json!({"action": "close"})).await;
    assert_eq!(page(s, &code).await["can_follow_up"], true);
    assert_eq!(page(s, &number).await["can_follow_up"], false);

    let (status, err) = say(number.clone(), json!({"comment": "又堆上了"})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("reference"))
    );
    let (status, err) = say(code.clone(), json!({"comment": "  "})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("comment"))
    );
    let (status, err) = say(code.clone(), json!({"comment": "长".repeat(501)})).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("comment"))
    );
    let (status, opened) = say(code.clone(), json!({"comment": "又堆上了三袋"})).await;
    assert_eq!(status, 200, "{opened}");
    let new_number = opened["number"].as_str().unwrap().to_owned();
    assert_ne!(new_number, number);
    assert_eq!(opened["follows"], json!(number));
    assert_eq!(opened["status_text"], "已提交，等待受理");
    let new_code = opened["query_code"]
        .as_str()
        .expect("its own code")
        .to_owned();
    assert_ne!(new_code, code);
    // Pressing again answers the same new case.
    let (status, again) = say(code.clone(), json!({"comment": "又堆上了三袋"})).await;
    assert_eq!(status, 200);
    assert_eq!(again["number"], json!(new_number));

    // Staff: a public case at the same place, linked, suggested to 环卫; the closed case
    // is as it was.
    let (_, new_case) = s
        .get(
            &st.supervisor,
            &format!("/api/v1/cases/by-number/{new_number}"),
        )
        .await;
    assert_eq!(new_case["follows"], json!(number));
    assert_eq!(new_case["source"], "public");
    assert_eq!(new_case["state"], "received");
    assert_eq!(new_case["suggested_unit"]["id"], json!(st.hw));
    assert!(new_case["description"]
        .as_str()
        .unwrap()
        .contains("又堆上了三袋"));
    let (_, old) = s.get(&st.supervisor, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(old["state"], "closed");
    assert_eq!(old["version"], closed["version"]);

    // It counts against the first closure: one recurrence for 环卫.
    let hw = &hw_ranking(s, &st).await;
    assert_eq!(ind(hw, "recurred"), json!(1.0));
}

macro_rules! callback_test {
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
    callback_test!(an_unsatisfied_rating_on_the_case_page_is_a_redo_by_the_same_unit);
    callback_test!(an_anonymous_report_closes_without_a_callback);
    callback_test!(still_not_fixed_after_closing_opens_a_linked_case_for_the_same_unit);
}
