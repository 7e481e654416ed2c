//! Case creation from the staff channels and the queue context, over the real server on
//! every store: a hotline call with its 12345 ticket number, call time and call-back
//! wish; the ticket unique per source (409 naming `external_ref`); bad values named; an
//! inspector's own report to 待立案 on acceptance, without verification; and a queue page with `context=true` that
//! carries the road chiefs, the possible duplicates and the remaining working time.

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

/// A point on a demo road segment (in 德化街's old town), so the case has a road chief.
fn on_a_road() -> (f64, f64) {
    let roads: Value =
        serde_json::from_str(include_str!("../../../data/demo/erqi/erqi_roads.geojson")).unwrap();
    let features = roads["features"].as_array().unwrap();
    let line = &features[features.len() / 2]["geometry"]["coordinates"];
    let (a, b) = (&line[0], &line[1]);
    (
        (a[1].as_f64().unwrap() + b[1].as_f64().unwrap()) / 2.0,
        (a[0].as_f64().unwrap() + b[0].as_f64().unwrap()) / 2.0,
    )
}

fn hotline(ticket: &str, lat: f64, lon: f64) -> Value {
    json!({
        "source": "hotline_12345",
        "category": "06010",
        "description": "市民来电：路边垃圾堆放三天无人清运",
        "lat": lat, "lon": lon,
        "external_ref": ticket,
        "reporter": {
            "name": "王先生", "phone": "13912345678",
            "contacted_at": "2026-11-30T01:15:00Z", "callback": true
        }
    })
}

async fn check_a_hotline_call_keeps_its_ticket_call_time_and_call_back(s: &Server) {
    let op = s.login("operator").await;
    let (lat, lon) = on_a_road();
    let (st, case) = s
        .post(
            &op,
            "/api/v1/cases",
            hotline("  GD20261130-0001 ", lat, lon),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    assert_eq!(case["external_ref"], "GD20261130-0001", "trimmed");
    assert_eq!(case["reporter"]["contacted_at"], "2026-11-30T01:15:00Z");
    assert_eq!(case["reporter"]["callback"], true);
    let (_, detail) = s
        .get(
            &op,
            &format!("/api/v1/cases/{}", case["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(detail["external_ref"], "GD20261130-0001");
    assert_eq!(detail["reporter"]["callback"], true);
    assert_eq!(detail["reporter"]["contacted_at"], "2026-11-30T01:15:00Z");
    assert_eq!(
        detail["reporter"]["phone"], "139****5678",
        "the phone stays masked"
    );

    // The same ticket again from the same source: 409 naming the field, nothing created.
    let (st, err) = s
        .post(&op, "/api/v1/cases", hotline("GD20261130-0001", lat, lon))
        .await;
    assert_eq!(st, 409, "{err}");
    assert_eq!(err["error"]["field"], "external_ref", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GD20261130-0001"),
        "{err}"
    );
    // The same reference from another channel is another case.
    let mut petition = hotline("GD20261130-0001", lat, lon);
    petition["source"] = json!("petition");
    let (st, other) = s.post(&op, "/api/v1/cases", petition).await;
    assert_eq!(st, 201, "{other}");
    // No ticket at all, twice, is fine.
    for _ in 0..2 {
        let mut none = hotline("", lat, lon);
        none.as_object_mut().unwrap().remove("external_ref");
        let (st, c) = s.post(&op, "/api/v1/cases", none).await;
        assert_eq!(st, 201, "{c}");
        assert_eq!(c["external_ref"], Value::Null);
    }
    // An empty ticket is no ticket.
    let (st, c) = s.post(&op, "/api/v1/cases", hotline("   ", lat, lon)).await;
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["external_ref"], Value::Null);
}
http_test!(
    a_hotline_call_keeps_its_ticket_call_time_and_call_back,
    check_a_hotline_call_keeps_its_ticket_call_time_and_call_back
);

async fn check_bad_intake_values_are_named(s: &Server) {
    let op = s.login("operator").await;
    let (lat, lon) = on_a_road();
    let cases: [(Value, &str); 4] = [
        (hotline(&"号".repeat(65), lat, lon), "external_ref"),
        (hotline("GD-\u{7}-1", lat, lon), "external_ref"),
        (
            {
                let mut b = hotline("GD-future", lat, lon);
                b["reporter"]["contacted_at"] = json!("2999-01-01T00:00:00Z");
                b
            },
            "reporter.contacted_at",
        ),
        (
            {
                let mut b = hotline("GD-callback", lat, lon);
                b["reporter"]["callback"] = json!("yes");
                b
            },
            "reporter.callback",
        ),
    ];
    for (body, field) in cases {
        let (st, err) = s.post(&op, "/api/v1/cases", body).await;
        assert!(st == 422 || st == 400, "{field}: {st} {err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
}
http_test!(
    bad_intake_values_are_named,
    check_bad_intake_values_are_named
);

async fn check_an_inspector_report_skips_verification(s: &Server) {
    let insp = s.login("inspector").await;
    let (lat, lon) = on_a_road();
    let photo = s.upload_photo(&insp).await;
    let (st, case) = s
        .post(
            &insp,
            "/api/v1/cases",
            json!({"source": "inspector", "category": "06010", "description": "人行道暴露垃圾",
                   "lat": lat, "lon": lon, "media": [photo]}),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    assert_eq!(case["state"], "received");
    assert_eq!(case["media"][0], photo);
    // Accepted, it skips verification (核实): the inspector saw it on site.
    let op = s.login("operator").await;
    let (st, accepted) = s
        .post(
            &op,
            &format!("/api/v1/cases/{}/actions", case["id"].as_str().unwrap()),
            json!({"action": "accept", "version": case["version"]}),
        )
        .await;
    assert_eq!(st, 200, "{accepted}");
    assert_eq!(
        accepted["state"], "to_register",
        "no verification of one's own report"
    );
}
http_test!(
    an_inspector_report_skips_verification,
    check_an_inspector_report_skips_verification
);

async fn check_a_queue_page_carries_its_decision_context(s: &Server) {
    let op = s.login("operator").await;
    let (lat, lon) = on_a_road();
    let (_, first) = s
        .post(&op, "/api/v1/cases", hotline("GD-Q-1", lat, lon))
        .await;
    let (_, second) = s
        .post(&op, "/api/v1/cases", hotline("GD-Q-2", lat + 0.00005, lon))
        .await;
    let (st, page) = s
        .get(
            &op,
            "/api/v1/cases?state=received,to_verify,to_register&limit=50&context=true",
        )
        .await;
    assert_eq!(st, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let row = |id: &Value| items.iter().find(|c| &c["id"] == id).unwrap().clone();
    let (a, b) = (row(&first["id"]), row(&second["id"]));
    // Each is the other's possible duplicate, never its own.
    assert_eq!(a["duplicates"][0]["number"], second["number"], "{a}");
    assert_eq!(b["duplicates"][0]["number"], first["number"], "{b}");
    assert!(a["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["id"] != a["id"]));
    let levels: Vec<&str> = a["road_chiefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["district", "first", "second"], "{a}");
    // The stage clock in working minutes, with the working day's length to say it in words.
    let tl = &a["time_left"];
    assert!(tl["overdue"].is_boolean(), "{a}");
    assert!(tl["working_minutes"].as_i64().unwrap() >= 0, "{a}");
    assert!(tl["working_day_minutes"].as_i64().unwrap() > 0, "{a}");
    assert!(
        a["deadline"].is_string(),
        "a running clock has a deadline: {a}"
    );

    // Without context the rows stay as they were (no extra reads); context is bounded.
    let (_, plain) = s.get(&op, "/api/v1/cases?limit=5").await;
    assert!(plain["items"][0].get("duplicates").is_none());
    assert!(plain["items"][0]["time_left"].is_object());
    let (st, err) = s.get(&op, "/api/v1/cases?limit=51&context=true").await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["field"], "limit");
    let (st, err) = s.get(&op, "/api/v1/cases?context=maybe").await;
    assert!(st == 400 || st == 422, "{err}");
    assert_eq!(err["error"]["field"], "context", "{err}");
}
http_test!(
    a_queue_page_carries_its_decision_context,
    check_a_queue_page_carries_its_decision_context
);
