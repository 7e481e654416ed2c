//! Co-handling (主办/协办, issue 20 item 4) over HTTP against the real binary on every
//! store: a dispatcher adds an assisting unit with its task; the assisting unit's handler
//! finds the case in its queue and reports back to the lead; the lead's report back is
//! refused (409 naming `assists`) until then; a unit twice is a 409 naming `unit_id`; and
//! an assisting unit's late report counts against it alone in the department rankings.
//!
//! Lateness without waiting: the server is restarted with the demo clock 10 days ahead
//! (`CITYLOOP_DEMO_CLOCK_OFFSET`), after the lead was granted 30 working days.

mod common;

use common::{Server, TestDb};
use serde_json::{json, Value};

async fn act(s: &Server, token: &str, id: &str, body: Value) -> (u16, Value) {
    s.post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await
}

async fn ok(s: &Server, token: &str, id: &str, body: Value) -> Value {
    let (st, v) = act(s, token, id, body).await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn unit(s: &Server, token: &str, code: &str) -> String {
    let (_, units) = s.get(token, "/api/v1/units").await;
    units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("unit {code} in {units}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
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

fn dept<'a>(table: &'a Value, id: &str) -> &'a Value {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id} in {table}"))
}

fn period() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(12)
    )
}

fn in_queue(list: &Value, id: &str) -> bool {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assisting_units_late_report_counts_against_it_alone() {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let (id, lead, helper) = {
            let s = Server::spawn("demo", &db.url);
            let inspector = s.login("inspector").await;
            let supervisor = s.login("supervisor").await;
            let dispatcher = s.login("dispatcher").await;
            let (st, case) = s
                .post(
                    &inspector,
                    "/api/v1/cases",
                    json!({"source": "inspector", "category": "06010",
                        "description": "工地扬尘，渣土车带泥上路", "lat": 34.7503, "lon": 113.6615}),
                )
                .await;
            assert_eq!(st, 201, "{case}");
            let id = case["id"].as_str().unwrap().to_owned();
            let (lead, helper) = (
                unit(&s, &dispatcher, "hw").await,
                unit(&s, &dispatcher, "zf").await,
            );
            let operator = s.login("operator").await;
            ok(&s, &operator, &id, json!({"action": "accept"})).await;
            ok(&s, &supervisor, &id, json!({"action": "register"})).await;
            ok(
                &s,
                &dispatcher,
                &id,
                json!({"action": "dispatch", "unit_id": lead}),
            )
            .await;
            // The assisting unit: its task is required, then it is on the case with a clock.
            let (st, v) = act(
                &s,
                &dispatcher,
                &id,
                json!({"action": "assist_add", "unit_id": helper}),
            )
            .await;
            assert_eq!(
                (st, v["error"]["field"].as_str()),
                (422, Some("note")),
                "{v}"
            );
            let v = ok(
                &s,
                &dispatcher,
                &id,
                json!({"action": "assist_add", "unit_id": helper, "note": "查处渣土车带泥上路"}),
            )
            .await;
            assert_eq!(v["assists"][0]["unit"]["id"], helper.as_str(), "{v}");
            assert_eq!(v["assists"][0]["state"], "open");
            assert_eq!(v["assists"][0]["task"], "查处渣土车带泥上路");
            assert!(v["assists"][0]["deadline"].is_string(), "{v}");
            let (st, v) = act(
                &s,
                &dispatcher,
                &id,
                json!({"action": "assist_add", "unit_id": helper, "note": "再派一次"}),
            )
            .await;
            assert_eq!(
                (st, v["error"]["field"].as_str()),
                (409, Some("unit_id")),
                "{v}"
            );
            let (st, v) = act(
                &s,
                &dispatcher,
                &id,
                json!({"action": "assist_add", "unit_id": lead, "note": "主办"}),
            )
            .await;
            assert_eq!(
                (st, v["error"]["field"].as_str()),
                (422, Some("unit_id")),
                "{v}"
            );
            // The lead gets 30 working days: its own clock, not the assistant's.
            let lead_h = s.login("handler-hw").await;
            ok(&s, &lead_h, &id, json!({"action": "request_extension", "extension": "30工作日", "reason": "需联合执法"})).await;
            ok(&s, &supervisor, &id, json!({"action": "approve_extension"})).await;
            (id, lead, helper)
        };
        let s = Server::spawn_env("demo", &db.url, &[("CITYLOOP_DEMO_CLOCK_OFFSET", "10d")]);
        let lead_h = s.login("handler-hw").await;
        let helper_h = s.login("handler-zf").await;
        // The assisting unit's queue holds the case; its actions are its own part's.
        let (st, list) = s.get(&helper_h, "/api/v1/cases?state=handling").await;
        assert_eq!(st, 200, "{list}");
        assert!(in_queue(&list, &id), "{list}");
        let (st, detail) = s.get(&helper_h, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(st, 200, "{detail}");
        assert_eq!(
            detail["allowed_actions"],
            json!(["assist_report", "assist_return"]),
            "{detail}"
        );
        assert_eq!(detail["assists"][0]["light"], "red", "{detail}");
        // The lead waits for it.
        let back = json!({"action": "report_back", "note": "扬尘已控制", "attachments": [s.upload_photo(&lead_h).await]});
        let (st, v) = act(&s, &lead_h, &id, back.clone()).await;
        assert_eq!(
            (st, v["error"]["field"].as_str()),
            (409, Some("assists")),
            "{v}"
        );
        let v = ok(
            &s,
            &helper_h,
            &id,
            json!({"action": "assist_report", "note": "已查处两辆渣土车"}),
        )
        .await;
        assert_eq!(v["assists"][0]["state"], "reported", "{v}");
        assert_eq!(v["assists"][0]["on_time"], false, "{v}");
        let (_, list) = s.get(&helper_h, "/api/v1/cases?state=handling").await;
        assert!(
            !in_queue(&list, &id),
            "a reported part leaves the queue: {list}"
        );
        ok(&s, &lead_h, &id, back).await;

        let sup = s.login("supervisor").await;
        let (st, table) = s
            .get(
                &sup,
                &format!("/api/v1/rankings?object=department&{}", period()),
            )
            .await;
        assert_eq!(st, 200, "{table}");
        let h = dept(&table, &helper);
        assert_eq!(ind(h, "assists"), json!(1.0), "{h}");
        assert_eq!(ind(h, "assists_overdue"), json!(1.0), "{h}");
        assert_eq!(ind(h, "assists_on_time"), json!(0.0), "{h}");
        assert_eq!(ind(h, "assist_on_time_rate"), json!(0.0), "{h}");
        let l = dept(&table, &lead);
        assert_eq!(ind(l, "handled_on_time"), json!(1.0), "{l}");
        assert_eq!(ind(l, "overdue"), json!(0.0), "{l}");
        assert_eq!(ind(l, "assists_overdue"), json!(0.0), "{l}");
    }
}
