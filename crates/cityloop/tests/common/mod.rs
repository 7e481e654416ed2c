//! Test harness: spawns the real `cityloop` binary on a random port against a fresh
//! database (SQLite file, or a PostgreSQL database when configured) and talks HTTP to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[allow(unused_imports)]
pub use cityloop_store::testing::TestDb;

pub const BIN: &str = env!("CARGO_BIN_EXE_cityloop");

/// A running server process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
    /// The server's photo folder (`CITYLOOP_MEDIA_DIR`), removed when dropped.
    pub media: tempfile::TempDir,
}

impl Server {
    /// `cityloop <cmd> --db <db> --addr 127.0.0.1:0`, waiting for the URL line.
    pub fn spawn(cmd: &str, db: &str) -> Server {
        Server::spawn_env(cmd, db, &[])
    }

    /// [`Server::spawn`] with extra environment variables.
    pub fn spawn_env(cmd: &str, db: &str, env: &[(&str, &str)]) -> Server {
        let media = tempfile::tempdir().expect("media tempdir");
        // The suites start from an empty district: `demo` without its sample history
        // (unless the caller decides with CITYLOOP_DEMO_EMPTY).
        let decided = env.iter().any(|(k, _)| *k == "CITYLOOP_DEMO_EMPTY");
        let empty: &[&str] = if cmd == "demo" && !decided {
            &["--empty"]
        } else {
            &[]
        };
        let mut child = Command::new(BIN)
            .args([cmd, "--db", db, "--addr", "127.0.0.1:0"])
            .args(empty)
            .env("CITYLOOP_LOG", "warn")
            .env("CITYLOOP_MEDIA_DIR", media.path())
            // The log channel's file beside the photos, not in the working folder (a
            // PostgreSQL database has no folder of its own); a test may set its own.
            .env("CITYLOOP_MESSAGE_LOG", media.path().join("messages.log"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cityloop");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("http://").nth(1) {
                    let _ = tx.send(url.trim_end_matches('/').to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server printed its URL");
        Server {
            child,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            media,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Logs in and returns a bearer token.
    pub async fn login(&self, user: &str) -> String {
        let r = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login {user}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Sends only the head of a POST that declares a `len`-byte body (none is sent) over a
    /// raw socket; returns the status and the (unchunked) body of the reply. A server that
    /// judges the declared length answers at once.
    pub fn post_declared_length(
        &self,
        path: &str,
        content_type: &str,
        len: usize,
    ) -> (u16, String) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).expect("write head");
        let mut reply = Vec::new();
        let _ = tcp.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let status = reply
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, after)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 || after.len() < n {
                    break;
                }
                out.push_str(&after[..n]);
                rest = after[n..].trim_start_matches("\r\n");
            }
            out
        } else {
            body.to_owned()
        };
        (status, body)
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Uploads a photo as the multipart field `file` (staff) and returns status and body.
    pub async fn upload(
        &self,
        token: &str,
        bytes: Vec<u8>,
        name: &str,
        mime: &str,
    ) -> (u16, Value) {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap();
        let r = self
            .http
            .post(self.url("/api/v1/attachments"))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Uploads a small valid JPEG and returns its attachment id.
    pub async fn upload_photo(&self, token: &str) -> String {
        let (st, body) = self
            .upload(
                token,
                cityloop_service::media::samples::jpeg(32, 24, None),
                "after.jpg",
                "image/jpeg",
            )
            .await;
        assert!(st == 201 || st == 200, "{st} {body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Kills the process with SIGKILL (no shutdown path runs).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until `f` is true or the time is up.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The demo district's staff signed in, with the 环卫 unit and one uploaded photo: the cast
/// of the tests that walk a public case through the loop.
pub struct Staff {
    pub operator: String,
    pub dispatcher: String,
    pub inspector: String,
    pub supervisor: String,
    pub handler: String,
    /// The id of the 环卫 unit (`hw`).
    pub hw: String,
    /// An uploaded photo of `handler`'s, for report-backs.
    pub photo: String,
}

impl Server {
    /// Signs the demo staff in (see [`Staff`]).
    pub async fn staff(&self) -> Staff {
        let operator = self.login("operator").await;
        let (_, units) = self.get(&operator, "/api/v1/units").await;
        let hw = units
            .as_array()
            .expect("units")
            .iter()
            .find(|u| u["code"] == "hw")
            .expect("unit hw")["id"]
            .as_str()
            .expect("unit id")
            .to_owned();
        let handler = self.login("handler-hw").await;
        Staff {
            photo: self.upload_photo(&handler).await,
            dispatcher: self.login("dispatcher").await,
            inspector: self.login("inspector").await,
            supervisor: self.login("supervisor").await,
            handler,
            hw,
            operator,
        }
    }
}

/// One mail an SMTP sink received: the envelope and the raw DATA.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A tiny SMTP server for tests (no TLS, no auth): it accepts every mail and keeps it.
/// Returns its port and what it received.
pub async fn smtp_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Mail>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails: std::sync::Arc<std::sync::Mutex<Vec<Mail>>> = Default::default();
    let kept = mails.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = tokio::io::BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let (mut from, mut to) = (String::new(), Vec::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let up = line.to_ascii_uppercase();
                    let answer: &[u8] = if up.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if up.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_owned();
                        b"250 OK\r\n"
                    } else if up.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().to_owned());
                        b"250 OK\r\n"
                    } else if up == "DATA" {
                        let _ = w.write_all(b"354 end with .\r\n").await;
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        kept.lock().unwrap().push(Mail {
                            from: std::mem::take(&mut from),
                            to: std::mem::take(&mut to),
                            data,
                        });
                        b"250 queued\r\n"
                    } else if up == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    if w.write_all(answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, mails)
}

/// Waits (asynchronously) until `f` is true or the time is up.
pub async fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// The workspace root (where `e2e/` and `web/` live).
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Chromium the browser tests drive (`CITYLOOP_CHROMIUM`, default Debian's), when node,
/// `e2e/node_modules` (playwright-core) and that Chromium are all there. `None` means the
/// caller skips, which `CITYLOOP_REQUIRE_BROWSER=1` (CI) turns into a failure here.
pub fn browser_or_skip(what: &str) -> Option<String> {
    let chromium =
        std::env::var("CITYLOOP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && workspace()
            .join("e2e/node_modules/playwright-core")
            .is_dir()
        && std::path::Path::new(&chromium).exists();
    if ready {
        return Some(chromium);
    }
    assert!(
        std::env::var("CITYLOOP_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "CITYLOOP_REQUIRE_BROWSER=1 but node, e2e/node_modules or Chromium is missing"
    );
    eprintln!("SKIPPED {what}: node, e2e/node_modules or Chromium missing");
    None
}

/// Runs `node e2e/<script> BASE` against a running server with Chromium and extra
/// environment, and fails the test when the script fails or outlives `limit`.
pub async fn run_e2e(
    script: &str,
    base: &str,
    chromium: &str,
    env: &[(&str, String)],
    limit: Duration,
) {
    let root = workspace();
    let mut cmd = Command::new("node");
    cmd.arg(root.join("e2e").join(script))
        .arg(base)
        .current_dir(&root)
        .env("CITYLOOP_CHROMIUM", chromium)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start node e2e/{script}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("e2e/{script} took longer than {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(status.success(), "e2e/{script} failed ({status})");
}
