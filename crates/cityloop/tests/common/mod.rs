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
        let mut child = Command::new(BIN)
            .args([cmd, "--db", db, "--addr", "127.0.0.1:0"])
            .env("CITYLOOP_LOG", "warn")
            .env("CITYLOOP_MEDIA_DIR", media.path())
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
