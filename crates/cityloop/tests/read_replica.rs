//! `--read-db` (issue 14, item 4): the rankings read their sums from a PostgreSQL replica,
//! every other read and every write goes to the primary. Two databases stand in for the
//! primary and its replica, with different contents, so the test can tell which one each
//! answer came from; a database without cityloop's schema is refused as a replica.

mod common;

use common::{Server, TestDb};

fn period() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1)
    )
}

async fn report(s: &Server, n: usize) {
    let r = s
        .http
        .post(s.url("/open311/v2/requests.json"))
        .form(&[
            ("api_key", "demo-key"),
            ("service_code", "06010"),
            ("lat", "34.7503"),
            ("long", "113.6615"),
            ("description", format!("副本测试 {n}").as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Cases counted by the street league table.
async fn ranked_cases(s: &Server, token: &str) -> i64 {
    let (st, v) = s
        .get(
            token,
            &format!("/api/v1/rankings?object=street&{}", period()),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cases"].as_i64().unwrap_or(0))
        .sum()
}

async fn listed_cases(s: &Server, token: &str) -> usize {
    let (st, v) = s.get(token, "/api/v1/cases?limit=200").await;
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .or_else(|| v.as_array())
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rankings_read_the_replica_and_everything_else_the_primary() {
    let (Some(primary), Some(replica)) = (TestDb::postgres().await, TestDb::postgres().await)
    else {
        return;
    };
    // The "replica" holds three registered cases the primary never had.
    {
        let s = Server::spawn("demo", &replica.url);
        let inspector = s.login("inspector").await;
        let operator = s.login("operator").await;
        for n in 0..3 {
            let (st, c) = s
                .post(
                    &inspector,
                    "/api/v1/cases",
                    serde_json::json!({"source": "inspector", "category": "06010",
                        "description": format!("副本测试 {n}"), "lat": 34.7503, "lon": 113.6615}),
                )
                .await;
            assert_eq!(st, 201, "{c}");
            let id = c["id"].as_str().unwrap();
            let (st, c) = s
                .post(
                    &operator,
                    &format!("/api/v1/cases/{id}/actions"),
                    serde_json::json!({"action": "accept"}),
                )
                .await;
            assert_eq!(st, 200, "{c}");
            let (st, c) = s
                .post(
                    &operator,
                    &format!("/api/v1/cases/{id}/actions"),
                    serde_json::json!({"action": "register"}),
                )
                .await;
            assert_eq!(st, 200, "{c}");
        }
    }
    let s = Server::spawn_env("demo", &primary.url, &[("CITYLOOP_READ_DB", &replica.url)]);
    let token = s.login("supervisor").await;
    assert_eq!(
        ranked_cases(&s, &token).await,
        3,
        "rankings come from the replica"
    );
    assert_eq!(
        listed_cases(&s, &token).await,
        0,
        "the case list comes from the primary"
    );
    // A write lands on the primary and is read back from it at once; the rankings keep
    // reading the replica, which (here) never receives it.
    report(&s, 9).await;
    assert_eq!(listed_cases(&s, &token).await, 1);
    assert_eq!(ranked_cases(&s, &token).await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_without_the_schema_is_refused_at_start() {
    let Some(primary) = TestDb::postgres().await else {
        return;
    };
    // PostgreSQL's own maintenance database: no cityloop schema in it.
    let admin_url = std::env::var("CITYLOOP_TEST_PG_URL").expect("PG url");
    let empty = cityloop_store::testing::replace_db_name(&admin_url, "postgres");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cityloop"))
        .args([
            "demo",
            "--empty",
            "--db",
            &primary.url,
            "--addr",
            "127.0.0.1:0",
            "--read-db",
            &empty,
        ])
        .output()
        .expect("run cityloop");
    assert!(!out.status.success(), "the server must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--read-db") && err.contains("no cityloop schema"),
        "{err}"
    );
}
