//! Nothing acknowledged is lost: cases acknowledged by a server that is then killed with
//! SIGKILL are all there after a restart on the same SQLite file.

mod common;

use std::sync::Arc;

use common::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_case_survives_kill_9_and_restart() {
    acknowledged_cases_survive_kill_9(4, 200).await;
}

/// 64 writers: the kill lands while the group commit carries large batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_case_of_64_writers_survives_kill_9_during_group_commits() {
    acknowledged_cases_survive_kill_9(64, 100).await;
}

async fn acknowledged_cases_survive_kill_9(writers: usize, per_writer: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db").display().to_string();
    let mut server = Server::spawn("demo", &db);
    let token = server.login("inspector").await;
    let base = Arc::new(server.base.clone());
    // Writers keep posting while the process is killed under them.
    let mut tasks = Vec::new();
    for w in 0..writers {
        let http = server.http.clone();
        let base = base.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..per_writer {
                let r = http
                    .post(format!("{base}/api/v1/cases"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "source": "inspector", "category": "06010",
                        "description": format!("writer {w} case {i}"),
                        "lat": 34.75, "lon": 113.66
                    }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        acked.push(v["id"].as_str().unwrap().to_owned());
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill9();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert!(
        acked.len() > 10,
        "the server acknowledged some cases before the kill ({})",
        acked.len()
    );

    let server = Server::spawn("serve", &db);
    let token = server.login("supervisor").await;
    for id in &acked {
        let (st, case) = server.get(&token, &format!("/api/v1/cases/{id}")).await;
        assert_eq!(st, 200, "acknowledged case {id} lost after kill -9");
        assert_eq!(case["events"].as_array().unwrap().len(), 1);
    }
}
