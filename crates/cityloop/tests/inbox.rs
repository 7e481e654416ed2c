//! The live inbox and the case export over HTTP against the real binary on every store
//! (issue 15, items 5 and 6): a dispatch reaches the handling unit's open stream as
//! `event: notice` (and `event: case`) within a second; the inbox lists it unread first
//! and marks it read; stream tickets are single use and streams per person bounded; the
//! server stops promptly with a stream open; the CSV and xlsx exports carry the search's
//! rows under Chinese headers, and refuse bad formats, caps and filters naming the field.

mod common;

use std::time::{Duration, Instant};

use common::{Server, TestDb};
use serde_json::{json, Value};

macro_rules! http_test {
    ($name:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for db in TestDb::all().await {
                eprintln!("backend {:?}", db.store.backend());
                let mut server = Server::spawn("demo", &db.url);
                $body(&mut server).await;
            }
        }
    };
}

async fn act(s: &Server, token: &str, id: &str, body: Value) {
    let (st, v) = s
        .post(token, &format!("/api/v1/cases/{id}/actions"), body)
        .await;
    assert_eq!(st, 200, "{v}");
}

/// An inspector's report registered and waiting for dispatch; returns (id, number).
async fn to_dispatch(s: &Server, description: &str) -> (String, String) {
    let inspector = s.login("inspector").await;
    let (st, case) = s
        .post(
            &inspector,
            "/api/v1/cases",
            json!({
                "source": "inspector",
                "category": "06010",
                "description": description,
                "lat": 34.7503, "lon": 113.6615,
            }),
        )
        .await;
    assert_eq!(st, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let operator = s.login("operator").await;
    act(s, &operator, &id, json!({"action": "accept"})).await;
    act(s, &operator, &id, json!({"action": "register"})).await;
    (id, case["number"].as_str().unwrap().to_owned())
}

/// An open `GET /api/v1/stream` and the events read from it so far.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    async fn open(s: &Server, token: &str) -> Stream {
        let ticket = ticket(s, token).await;
        let resp = s
            .http
            .get(s.url(&format!("/api/v1/stream?ticket={ticket}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Stream {
            resp,
            buf: String::new(),
        }
    }

    /// The next `event:` of this name (others are skipped), with its data, or None at the
    /// deadline or the end of the stream.
    async fn next(&mut self, name: &str, deadline: Instant) -> Option<Value> {
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = "message";
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event:") {
                        event = e.trim();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                if event == name {
                    return Some(serde_json::from_str(&data).unwrap());
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }
}

async fn ticket(s: &Server, token: &str) -> String {
    let (st, v) = s.post(token, "/api/v1/stream/ticket", json!({})).await;
    assert_eq!(st, 200, "{v}");
    v["ticket"].as_str().unwrap().to_owned()
}

async fn sse_delivers_an_assignment_within_a_second_and_the_inbox_marks_it_read(s: &mut Server) {
    let staff = s.staff().await;
    let (id, number) = to_dispatch(s, "德化街暴露垃圾，请派遣环卫").await;
    let (_, before) = s.get(&staff.handler, "/api/v1/me/inbox/unread").await;
    let mut stream = Stream::open(s, &staff.handler).await;
    let mut wall = Stream::open(s, &staff.supervisor).await;

    act(
        s,
        &staff.dispatcher,
        &id,
        json!({"action": "dispatch", "unit_id": staff.hw}),
    )
    .await;
    let sent = Instant::now();
    let notice = stream
        .next("notice", sent + Duration::from_secs(1))
        .await
        .expect("the assignment arrives within a second");
    assert_eq!(notice["notice"]["kind"], "assigned");
    assert_eq!(notice["notice"]["case_id"], id.as_str());
    assert!(
        notice["notice"]["message"]
            .as_str()
            .unwrap()
            .contains(&number),
        "{notice}"
    );
    assert_eq!(
        notice["unread"].as_i64().unwrap(),
        before["unread"].as_i64().unwrap() + 1
    );
    // The wall screen's contract: every case change in scope as {id, number, state, light}.
    let change = wall
        .next("case", Instant::now() + Duration::from_secs(2))
        .await
        .expect("event: case");
    assert_eq!(change["id"], id.as_str());
    assert_eq!(change["number"], number.as_str());
    assert_eq!(change["state"], "handling");
    assert_eq!(change["light"], "green");
    assert!(
        wall.next("notice", Instant::now() + Duration::from_millis(300))
            .await
            .is_none(),
        "the dispatch tells the unit, not the supervisor"
    );

    // The inbox: unread first, then read; marking read answers the count.
    let (st, inbox) = s.get(&staff.handler, "/api/v1/me/inbox?limit=5").await;
    assert_eq!(st, 200, "{inbox}");
    let first = &inbox["items"][0];
    assert_eq!(first["case_id"], id.as_str());
    assert!(first["read_at"].is_null());
    let nid = first["id"].as_str().unwrap().to_owned();
    let (st, v) = s
        .post(
            &staff.dispatcher,
            &format!("/api/v1/me/inbox/{nid}/read"),
            json!({}),
        )
        .await;
    assert_eq!(st, 404, "someone else's notice: {v}");
    let (st, v) = s
        .post(
            &staff.handler,
            &format!("/api/v1/me/inbox/{nid}/read"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["unread"], before["unread"]);
    let (_, inbox) = s.get(&staff.handler, "/api/v1/me/inbox?limit=100").await;
    let mine = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == nid.as_str())
        .unwrap();
    assert!(mine["read_at"].is_string());
    let (st, v) = s
        .post(&staff.handler, "/api/v1/me/inbox/read-all", json!({}))
        .await;
    assert_eq!((st, v["unread"].as_i64()), (200, Some(0)), "{v}");

    // A return tells the dispatchers.
    let mut desk = Stream::open(s, &staff.dispatcher).await;
    act(
        s,
        &staff.handler,
        &id,
        json!({"action": "return", "reason": "不属于本单位"}),
    )
    .await;
    let n = desk
        .next("notice", Instant::now() + Duration::from_secs(1))
        .await
        .expect("the return arrives");
    assert_eq!(n["notice"]["kind"], "returned");
    // The handler's stream hears the case leave the unit's queue (the dispatch's own
    // `event: case` came before its notice and was read past above).
    let left = stream
        .next("case", Instant::now() + Duration::from_secs(1))
        .await
        .expect("the case leaving the unit");
    assert_eq!(left["id"], id.as_str());
    assert_eq!(left["state"], "to_dispatch");

    // Bad input, each naming its field.
    let (st, v) = s.get(&staff.handler, "/api/v1/me/inbox?limit=0").await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("limit")),
        "{v}"
    );
    let (st, v) = s.get(&staff.handler, "/api/v1/me/inbox?limit=101").await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("limit")),
        "{v}"
    );
    let (st, v) = s
        .post(&staff.handler, "/api/v1/me/inbox/nope/read", json!({}))
        .await;
    assert_eq!((st, v["error"]["field"].as_str()), (400, Some("id")), "{v}");
}
http_test!(
    sse_delivers_an_assignment_to_a_connected_client_within_a_second,
    sse_delivers_an_assignment_within_a_second_and_the_inbox_marks_it_read
);

async fn stream_tickets_are_single_use_streams_are_bounded_and_shutdown_ends_them(s: &mut Server) {
    let token = s.login("dispatcher").await;
    let (st, v) = s.get("", "/api/v1/stream?ticket=nope").await;
    assert_eq!(st, 401, "{v}");
    let (st, v) = s.get("", "/api/v1/stream").await;
    assert_eq!(
        (st, v["error"]["field"].as_str()),
        (422, Some("ticket")),
        "{v}"
    );
    let (st, _) = s.post("", "/api/v1/stream/ticket", json!({})).await;
    assert_eq!(st, 401, "a ticket needs a session");

    let t = ticket(s, &token).await;
    let url = s.url(&format!("/api/v1/stream?ticket={t}"));
    let first = s.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let again = s.http.get(&url).send().await.unwrap();
    assert_eq!(again.status(), 401, "a ticket opens one stream");

    let mut open = vec![first];
    for _ in 1..4 {
        open.push(Stream::open(s, &token).await.resp);
    }
    let t = ticket(s, &token).await;
    let fifth = s
        .http
        .get(s.url(&format!("/api/v1/stream?ticket={t}")))
        .send()
        .await
        .unwrap();
    assert_eq!(fifth.status(), 429);
    drop(open.pop());
    // The slot is freed when the server notices the closed connection.
    let mut freed = false;
    for _ in 0..50 {
        let t = ticket(s, &token).await;
        let r = s
            .http
            .get(s.url(&format!("/api/v1/stream?ticket={t}")))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            open.push(r);
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "a closed stream frees its slot");

    // SIGTERM with streams open: the server ends them and exits well before its
    // 10 s shutdown grace.
    let pid = s.child.id().to_string();
    let stopped = Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(ok.success());
    let mut body = open.pop().unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = body.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends on shutdown");
    let exited = common::wait_until(Duration::from_secs(5), || {
        matches!(s.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "the server exits with streams open");
    assert!(stopped.elapsed() < Duration::from_secs(5));
}
http_test!(
    stream_tickets_single_use_bounded_per_person_and_closed_on_shutdown,
    stream_tickets_are_single_use_streams_are_bounded_and_shutdown_ends_them
);

/// The case numbers of a search, in its order (all pages).
async fn searched(s: &Server, token: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (st, v) = s
            .get(
                token,
                &format!("/api/v1/cases/search?{query}&limit=200{cursor}"),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        for c in v["items"].as_array().unwrap() {
            out.push(c["number"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

async fn export(s: &Server, token: &str, query: &str) -> (u16, String, Vec<u8>) {
    let r = s
        .http
        .get(s.url(&format!("/api/v1/cases/export?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

fn csv_rows(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").expect("a UTF-8 BOM");
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let head = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (head, rows)
}

async fn export_matches_the_search_under_chinese_headers_and_refuses_bad_input(s: &mut Server) {
    for n in 0..5 {
        to_dispatch(s, &format!("导出测试井盖缺失 第{n}处")).await;
    }
    let dispatcher = s.login("dispatcher").await;
    let query = "state=to_dispatch&q=%E4%BA%95%E7%9B%96";
    let want = searched(s, &dispatcher, query).await;
    assert!(want.len() >= 5, "{want:?}");

    let (st, ct, body) = export(s, &dispatcher, query).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("text/csv"), "{ct}");
    let (head, rows) = csv_rows(&body);
    assert_eq!(head[0], "案件编号");
    assert!(
        head.iter().all(|h| !h.is_ascii()),
        "Chinese headers: {head:?}"
    );
    let got: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(got, want, "the export is the search, in its order");
    assert!(rows.iter().all(|r| r[1] == "待派遣"), "states in words");

    // A cap below the list: that many rows, then the line that says it was cut.
    let (st, _, body) = export(s, &dispatcher, &format!("{query}&max_rows=2")).await;
    assert_eq!(st, 200);
    let (_, rows) = csv_rows(&body);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0][0], want[0]);
    assert!(rows[2][0].contains("已达导出上限 2 行"), "{rows:?}");

    let (st, ct, body) = export(s, &dispatcher, &format!("{query}&format=xlsx")).await;
    assert_eq!(st, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(body)).unwrap();
    let sheet = wb.worksheet_range("案件列表").unwrap();
    let cells: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(cells[0][0], "案件编号");
    let got: Vec<String> = cells[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(got, want);

    for (q, field) in [
        ("format=pdf", "format"),
        ("max_rows=0", "max_rows"),
        ("max_rows=100001", "max_rows"),
        ("state=nope", "state"),
    ] {
        let (st, _, body) = export(s, &dispatcher, q).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(st, 422, "{q}: {v}");
        assert_eq!(v["error"]["field"], field, "{q}: {v}");
    }
    let (st, _, _) = export(s, "", query).await;
    assert_eq!(st, 401);
}
http_test!(
    export_of_n_rows_matches_the_search_with_chinese_headers_and_a_cap,
    export_matches_the_search_under_chinese_headers_and_refuses_bad_input
);
