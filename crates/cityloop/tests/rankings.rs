//! Rankings over HTTP against the real binary on every store: figures equal hand-computed
//! ones for a small history driven through the workflow API, the CSV and Excel exports
//! open and hold the same numbers as the JSON, drill-down lists the cases behind a
//! figure, bad parameters are 400s naming the field, and patrols count for road chiefs.
//!
//! Every step happens within seconds, so every stage is on time whatever the hour (no
//! working time, or a few seconds of it, elapses against limits of an hour or more).

mod common;

use std::io::Cursor;

use calamine::{Data, Reader};
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

async fn report(s: &Server, token: &str, source: &str) -> String {
    let (st, case) = s
        .post(
            token,
            "/api/v1/cases",
            json!({
                "source": source,
                "category": "06010",
                "description": "德化街步行街东侧人行道暴露垃圾",
                "lat": 34.7503, "lon": 113.6615,
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn act(s: &Server, token: &str, id: &str, body: Value) {
    let (st, v) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await;
    assert_eq!(st, 200, "{v}");
}

async fn unit(s: &Server, token: &str, code: &str) -> (String, String) {
    let (_, units) = s.get(token, "/api/v1/units").await;
    let u = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("unit {code}"))
        .clone();
    (
        u["id"].as_str().unwrap().to_owned(),
        u["name"].as_str().unwrap().to_owned(),
    )
}

/// Yesterday..tomorrow in Beijing time, so a test near midnight still sees its events.
fn period() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1)
    )
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

fn row(table: &Value, pred: impl Fn(&Value) -> bool) -> &Value {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no such row in {table}"))
}

struct History {
    zf: (String, String),
    hw: (String, String),
    first: String,
}

/// Case 1 (hotline): accept, confirm, register, dispatch 执法 → returned, dispatch 环卫,
/// report back, check fails (rework 1), report back, check passes, close.
/// Case 2 (inspector's own report): accept, register, dispatch 环卫; still handling.
async fn history(s: &Server) -> History {
    let operator = s.login("operator").await;
    let inspector = s.login("inspector").await;
    let dispatcher = s.login("dispatcher").await;
    let supervisor = s.login("supervisor").await;
    let zf = unit(s, &dispatcher, "zf").await;
    let hw = unit(s, &dispatcher, "hw").await;
    let zf_handler = s.login("handler-zf").await;
    let hw_handler = s.login("handler-hw").await;

    let first = report(s, &operator, "hotline_12345").await;
    let c = first.as_str();
    act(s, &operator, c, json!({"action": "accept"})).await;
    act(s, &inspector, c, json!({"action": "confirm"})).await;
    act(s, &supervisor, c, json!({"action": "register"})).await;
    act(
        s,
        &dispatcher,
        c,
        json!({"action": "dispatch", "unit_id": zf.0}),
    )
    .await;
    act(
        s,
        &zf_handler,
        c,
        json!({"action": "return", "reason": "非本单位职责"}),
    )
    .await;
    act(
        s,
        &dispatcher,
        c,
        json!({"action": "dispatch", "unit_id": hw.0}),
    )
    .await;
    let photo = s.upload_photo(&hw_handler).await;
    let back = json!({"action": "report_back", "note": "已清理", "attachments": [photo]});
    act(s, &hw_handler, c, back.clone()).await;
    act(
        s,
        &inspector,
        c,
        json!({"action": "check_fail", "reason": "仍有残留"}),
    )
    .await;
    act(s, &hw_handler, c, back).await;
    act(s, &inspector, c, json!({"action": "check_pass"})).await;
    act(s, &supervisor, c, json!({"action": "close"})).await;

    let second = report(s, &inspector, "inspector").await;
    let c = second.as_str();
    act(s, &operator, c, json!({"action": "accept"})).await;
    act(s, &supervisor, c, json!({"action": "register"})).await;
    act(
        s,
        &dispatcher,
        c,
        json!({"action": "dispatch", "unit_id": hw.0}),
    )
    .await;
    History { zf, hw, first }
}

async fn rankings_equal_hand_computed_figures(s: &Server) {
    let h = history(s).await;
    let t = s.login("supervisor").await;
    let p = period();
    let get = |object: &str| {
        let path = format!("/api/v1/rankings?object={object}&{p}");
        let t = t.clone();
        async move {
            let (st, v) = s.get(&t, &path).await;
            assert_eq!(st, 200, "{v}");
            v
        }
    };

    // Street: 2 registered, 1 public, 1 closed on time; case 2 is still handling before
    // its deadline, so it is not yet due: 应结案数 1, 结案率 1/1, 按期结案率 1/1.
    // (50×10 + 0×20 + 100×30 + 100×40) / 100 = 75 → B
    let streets = get("street").await;
    let street = row(&streets, |r| ind(r, "registered") == json!(2.0));
    assert_eq!(ind(street, "public_rate"), json!(50.0));
    assert_eq!(ind(street, "to_close"), json!(1.0));
    assert_eq!(ind(street, "not_yet_due"), json!(1.0));
    assert_eq!(ind(street, "closure_rate"), json!(100.0));
    assert_eq!(ind(street, "on_time_closure_rate"), json!(100.0));
    assert_eq!(street["score"], json!(75.0));
    assert_eq!(street["grade"], "B");
    assert_eq!(street["cases"], 2);
    assert_eq!(street["no_data"], false);
    assert_eq!(street["rank"], 1);
    assert!(streets["title_zh"]
        .as_str()
        .unwrap()
        .contains("街道综合评价排名"));

    // 环卫: 2 held, case 2 not yet due → 1 to handle, 1 handled on time, 1 rework.
    // (100×30 + 100×50 + 0×20)/100 = 80
    let depts = get("department").await;
    let hw = row(&depts, |r| r["id"] == h.hw.0.as_str());
    assert_eq!(ind(hw, "to_handle"), json!(1.0));
    assert_eq!(ind(hw, "not_yet_due"), json!(1.0));
    assert_eq!(ind(hw, "handled"), json!(1.0));
    assert_eq!(ind(hw, "handled_on_time"), json!(1.0));
    assert_eq!(ind(hw, "rework"), json!(1.0));
    assert_eq!(ind(hw, "handling_rate"), json!(100.0));
    assert_eq!(ind(hw, "on_time_handling_rate"), json!(100.0));
    assert_eq!(ind(hw, "rework_rate"), json!(100.0));
    assert!(ind(hw, "mean_hours").as_f64().unwrap() < 0.1);
    assert_eq!(hw["score"], json!(80.0));
    assert_eq!(hw["rank"], 1);
    // 执法 returned its only case: nothing to handle, no score, no rank.
    let zf = row(&depts, |r| r["id"] == h.zf.0.as_str());
    assert_eq!(ind(zf, "returned"), json!(1.0));
    assert_eq!(zf["score"], Value::Null);
    assert_eq!(zf["rank"], Value::Null);

    // The return is charged to the dispatcher: 3 dispatches, 1 returned.
    // (0×20 + 100×40 + 66.67×40) / 100 = 66.67 → C
    let disp = get("dispatcher").await;
    let d = &disp["rows"][0];
    assert_eq!(ind(d, "dispatched"), json!(3.0));
    assert_eq!(ind(d, "returned"), json!(1.0));
    assert_eq!(ind(d, "accurate_dispatch_rate"), json!(66.67));
    assert_eq!(d["score"], json!(66.67));
    assert_eq!(d["grade"], "C");

    // Inspector: 1 report (valid), 1 verification, 2 checks, all on time → 100, A.
    let insp = get("inspector").await;
    let i = &insp["rows"][0];
    assert_eq!(ind(i, "reported"), json!(1.0));
    assert_eq!(ind(i, "checked"), json!(2.0));
    assert_eq!(i["score"], json!(100.0));
    assert_eq!(i["grade"], "A");
    // Operator: 2 accepted (band 0), 1 verification sent on time: 4000/65 = 61.54.
    let op = get("operator").await;
    assert_eq!(op["rows"][0]["score"], json!(61.54));
    // Supervisor: 2 registered on time, none voided, 1 closed on time → 100.
    let sup = get("supervisor").await;
    assert_eq!(ind(&sup["rows"][0], "registered"), json!(2.0));
    assert_eq!(sup["rows"][0]["score"], json!(100.0));

    // Drill-down: the rework figure of 环卫 is case 1, once.
    let (st, drill) = s
        .get(
            &t,
            &format!(
                "/api/v1/rankings/cases?object=department&id={}&indicator=rework&{p}",
                h.hw.0
            ),
        )
        .await;
    assert_eq!(st, 200, "{drill}");
    let cases = drill["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["id"], h.first.as_str());
    assert_eq!(cases[0]["value"], 1);
    let (_, drill) = s
        .get(
            &t,
            &format!(
                "/api/v1/rankings/cases?object=street&id={}&indicator=registered&{p}",
                street["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(drill["cases"].as_array().unwrap().len(), 2);

    exports_hold_the_same_numbers_as_the_json(s, &t, &p, &depts, &h.hw.1).await;
}

async fn exports_hold_the_same_numbers_as_the_json(
    s: &Server,
    token: &str,
    p: &str,
    json_table: &Value,
    hw_name: &str,
) {
    let fetch = |format: &str| {
        let url = s.url(&format!(
            "/api/v1/rankings?object=department&{p}&format={format}"
        ));
        async move {
            let r = s.http.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            let cd = r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(cd.starts_with("attachment"), "{cd}");
            (ct, r.bytes().await.unwrap().to_vec())
        }
    };
    let hw_json = row(json_table, |r| r["name"] == hw_name);
    let expected: Vec<Option<f64>> = hw_json["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_f64())
        .collect();

    // CSV: title, date, header, rows.
    let (ct, body) = fetch("csv").await;
    assert!(ct.starts_with("text/csv"));
    let text = String::from_utf8(body).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert!(recs[0][0].contains("专业部门综合评价排名"));
    assert!(recs[1][0].starts_with("制表日期："));
    assert_eq!(&recs[2][0], "排名");
    let line = recs
        .iter()
        .find(|r| r.get(1) == Some(hw_name))
        .unwrap_or_else(|| panic!("{hw_name} not in {recs:?}"));
    assert_eq!(line[2].parse::<f64>().ok(), hw_json["score"].as_f64());
    assert_eq!(&line[3], "B");
    for (k, want) in expected.iter().enumerate() {
        assert_eq!(
            line[4 + k].parse::<f64>().ok(),
            *want,
            "csv column {}",
            4 + k
        );
    }

    // Excel: parse the workbook back.
    let (ct, body) = fetch("xlsx").await;
    assert!(ct.contains("spreadsheetml"));
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(body)).unwrap();
    let names = wb.sheet_names();
    assert_eq!(names, vec!["专业部门".to_string()]);
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let text = |r: u32, c: u32| match range.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        other => format!("{other:?}"),
    };
    assert!(text(0, 0).contains("专业部门综合评价排名"));
    assert!(text(1, 0).starts_with("制表日期："));
    assert_eq!(text(3, 0), "排名");
    let r = (4..range.height() as u32)
        .find(|r| text(*r, 1) == hw_name)
        .expect("环卫 row in the workbook");
    let num = |c: u32| match range.get_value((r, c)) {
        Some(Data::Float(f)) => Some(*f),
        Some(Data::Int(i)) => Some(*i as f64),
        _ => None,
    };
    assert_eq!(num(2), hw_json["score"].as_f64());
    for (k, want) in expected.iter().enumerate() {
        assert_eq!(num(4 + k as u32), *want, "xlsx column {}", 4 + k);
    }
}

async fn bad_parameters_are_400s_naming_the_field(s: &Server) {
    let t = s.login("supervisor").await;
    for (query, field) in [
        ("/api/v1/rankings", "object"),
        ("/api/v1/rankings?object=planet", "object"),
        ("/api/v1/rankings?object=street&from=2026-13-01", "from"),
        (
            "/api/v1/rankings?object=street&from=2026-11-10&to=2026-11-01",
            "to",
        ),
        ("/api/v1/rankings?object=street&format=pdf", "format"),
        (
            "/api/v1/rankings/cases?object=street&indicator=registered",
            "id",
        ),
        (
            "/api/v1/rankings/cases?object=street&id=x&indicator=bogus",
            "indicator",
        ),
    ] {
        let (st, v) = s.get(&t, query).await;
        assert_eq!(st, 400, "{query}: {v}");
        assert_eq!(v["error"]["field"], field, "{query}: {v}");
    }
    let (st, _) = s
        .http
        .get(s.url("/api/v1/rankings?object=street"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(st, 401);
}

async fn a_patrol_counts_toward_the_road_chiefs_compliance(s: &Server) {
    let (_, units) = s.get(&s.login("operator").await, "/api/v1/units").await;
    let street = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "street")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let chief = s.login(&format!("roadchief2-{street}")).await;
    // A patrol counts for a chief only on their own segments (issue 21): check in on one.
    let (_, me) = s.get(&chief, "/api/v1/me").await;
    let (_, held) = s
        .get(&s.login("admin").await, "/api/v1/admin/road-chiefs")
        .await;
    let segment = held
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["person_id"] == me["id"])
        .unwrap_or_else(|| panic!("{me} holds a segment"))["segment_id"]
        .clone();
    let now = chrono::Utc::now();
    let body = json!({
        "started_at": (now - chrono::Duration::minutes(30)).to_rfc3339(),
        "ended_at": now.to_rfc3339(),
        "segments": [segment],
        "points": [[113.6615, 34.7503], [113.662, 34.7505]],
        "note": "日常巡查"
    });
    let (st, v) = s.post(&chief, "/api/v1/patrols", body.clone()).await;
    assert_eq!(st, 201, "{v}");
    // Only road chiefs record patrols; a patrol needs a place.
    let (st, _) = s
        .post(&s.login("inspector").await, "/api/v1/patrols", body)
        .await;
    assert_eq!(st, 403);
    let (st, v) = s
        .post(
            &chief,
            "/api/v1/patrols",
            json!({"started_at": now.to_rfc3339(), "ended_at": now.to_rfc3339()}),
        )
        .await;
    assert_eq!(st, 422);
    assert_eq!(v["error"]["field"], "segments");

    let t = s.login("supervisor").await;
    let (st, table) = s
        .get(
            &t,
            &format!("/api/v1/rankings?object=road_chief&{}", period()),
        )
        .await;
    assert_eq!(st, 200, "{table}");
    let done: Vec<&Value> = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| ind(r, "patrols_done") == json!(1.0))
        .collect();
    assert_eq!(done.len(), 1, "one road chief patrolled");
    // 二级路长: daily over three days.
    assert_eq!(ind(done[0], "patrols_required"), json!(3.0));
    assert_eq!(ind(done[0], "patrol_rate"), json!(33.33));
}

http_test!(
    rankings_equal_hand_computed_figures_and_exports_match_on_every_store,
    rankings_equal_hand_computed_figures
);
http_test!(
    bad_ranking_parameters_are_400s_naming_the_field,
    bad_parameters_are_400s_naming_the_field
);
http_test!(
    patrols_count_toward_road_chief_compliance,
    a_patrol_counts_toward_the_road_chiefs_compliance
);

/// The grid heat map counts the two registered cases in their grid, gives its geometry,
/// leaves case-free grids out, and the grid's drill-down lists the same cases.
async fn grid_heat_counts_registered_cases_per_grid(s: &Server) {
    let h = history(s).await;
    let t = s.login("supervisor").await;
    let p = period();
    let (st, heat) = s.get(&t, &format!("/api/v1/rankings/grid-heat?{p}")).await;
    assert_eq!(st, 200, "{heat}");
    assert_eq!(heat["type"], "FeatureCollection");
    let features = heat["features"].as_array().unwrap();
    assert_eq!(features.len(), 1, "only the grid with cases: {heat}");
    let f = &features[0];
    assert_eq!(f["properties"]["cases"], 2);
    assert_eq!(heat["max"], 2);
    assert!(f["geometry"]["type"].as_str().unwrap().ends_with("Polygon"));
    let code = f["properties"]["code"].as_str().unwrap();
    assert_eq!(code.len(), 15, "{code}");
    let (st, drill) = s
        .get(
            &t,
            &format!("/api/v1/rankings/cases?object=grid&id={code}&indicator=registered&{p}"),
        )
        .await;
    assert_eq!(st, 200, "{drill}");
    let ids: Vec<&str> = drill["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{drill}");
    assert!(ids.contains(&h.first.as_str()), "{drill}");

    // A month long past has no cases: no features, max 0.
    let (st, empty) = s
        .get(
            &t,
            "/api/v1/rankings/grid-heat?from=2020-01-01&to=2020-01-31",
        )
        .await;
    assert_eq!(st, 200, "{empty}");
    assert_eq!(empty["features"], json!([]));
    assert_eq!(empty["max"], 0);
    let (st, bad) = s
        .get(&t, "/api/v1/rankings/grid-heat?from=2026-02-30")
        .await;
    assert_eq!(st, 400, "{bad}");
    assert_eq!(bad["error"]["field"], "from");
}

http_test!(
    grid_heat_map_counts_registered_cases_per_grid_on_every_store,
    grid_heat_counts_registered_cases_per_grid
);

fn csv_lines(body: Vec<u8>) -> Vec<csv::StringRecord> {
    let text = String::from_utf8(body).unwrap();
    let text = text.trim_start_matches('\u{feff}').to_owned();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect()
}

/// Only one street had cases: it is ranked; every other street is 无数据 (no rank, score,
/// grade or honour), listed after it; against the empty previous period every change is
/// blank, in the JSON and in both exports; the honours minimum is the district's setting.
async fn streets_without_cases_are_no_data_and_changes_blank(s: &Server, db: &TestDb) {
    history(s).await;
    let t = s.login("supervisor").await;
    let p = period();
    let (st, table) = s
        .get(&t, &format!("/api/v1/rankings?object=street&{p}"))
        .await;
    assert_eq!(st, 200, "{table}");
    assert_eq!(table["honour_min_cases"], 5);
    let rows = table["rows"].as_array().unwrap();
    let ranked = &rows[0];
    assert_eq!(ranked["no_data"], false);
    assert_eq!(ranked["cases"], 2);
    assert_eq!(ranked["rank"], 1);
    assert_eq!(ranked["score"], json!(75.0));
    // Below the minimum of cases (2 < 5) and only one ranked: no honours.
    assert_eq!(ranked["honour"], Value::Null);
    // The previous period had nothing: no previous figures, no change (not "+75").
    assert_eq!(ranked["previous_no_data"], true);
    for k in [
        "previous_rank",
        "previous_score",
        "score_change",
        "rank_change",
    ] {
        assert_eq!(ranked[k], Value::Null, "{k}");
    }
    let empty: Vec<&Value> = rows.iter().filter(|r| r["no_data"] == true).collect();
    assert_eq!(empty.len(), rows.len() - 1, "every other street is 无数据");
    assert!(empty.len() >= 10, "the demo district has 15 street offices");
    for r in &empty {
        assert_eq!(r["cases"], 0);
        for k in [
            "rank",
            "score",
            "grade",
            "honour",
            "score_change",
            "rank_change",
        ] {
            assert_eq!(r[k], Value::Null, "{k} of {}", r["name"]);
        }
    }
    let no_data_name = empty[0]["name"].as_str().unwrap().to_owned();
    let ranked_name = ranked["name"].as_str().unwrap().to_owned();

    let fetch = |format: &str| {
        let url = s.url(&format!(
            "/api/v1/rankings?object=street&{p}&format={format}"
        ));
        let t = t.clone();
        async move {
            let r = s.http.get(url).bearer_auth(t).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().to_vec()
        }
    };
    let recs = csv_lines(fetch("csv").await);
    let head = &recs[2];
    let n = head.len();
    assert_eq!(&head[n - 3], "名次变化");
    let line = |name: &str| {
        recs.iter()
            .find(|r| r.get(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} in {recs:?}"))
            .clone()
    };
    let l = line(&ranked_name);
    assert_eq!(&l[0], "1");
    for c in n - 4..n {
        assert_eq!(&l[c], "", "csv change column {} of {ranked_name}", &head[c]);
    }
    let l = line(&no_data_name);
    assert_eq!((&l[0], &l[2], &l[3]), ("", "无数据", ""));
    for c in n - 4..n {
        assert_eq!(&l[c], "", "csv column {} of {no_data_name}", &head[c]);
    }

    let body = fetch("xlsx").await;
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(body)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let cell = |r: u32, c: u32| range.get_value((r, c)).cloned();
    let row_of = |name: &str| {
        (4..range.height() as u32)
            .find(|r| cell(*r, 1) == Some(Data::String(name.to_owned())))
            .unwrap_or_else(|| panic!("{name} in the workbook"))
    };
    let width = range.width() as u32;
    let r = row_of(&no_data_name);
    assert_eq!(cell(r, 2), Some(Data::String("无数据".into())));
    let r = row_of(&ranked_name);
    for c in width - 4..width {
        assert!(
            matches!(cell(r, c), None | Some(Data::Empty)),
            "xlsx change column {c}: {:?}",
            cell(r, c)
        );
    }

    // The minimum of cases for the honours is the district's evaluation setting.
    let cfg = cityloop_domain::evaluation::EvaluationConfig {
        honour_min_cases: 1,
        ..Default::default()
    };
    db.store
        .put_setting("evaluation", &serde_json::to_value(cfg).unwrap())
        .await
        .unwrap();
    let (_, table) = s
        .get(&t, &format!("/api/v1/rankings?object=street&{p}"))
        .await;
    assert_eq!(table["honour_min_cases"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streets_without_cases_are_no_data_and_changes_are_blank_in_json_csv_and_xlsx_on_every_store(
) {
    for db in TestDb::all().await {
        eprintln!("backend {:?}", db.store.backend());
        let server = Server::spawn("demo", &db.url);
        streets_without_cases_are_no_data_and_changes_blank(&server, &db).await;
    }
}
