//! Test support shared by this crate's conformance suite and the HTTP tests: a fresh,
//! isolated database per test on either backend.
//!
//! PostgreSQL tests run when `CITYLOOP_TEST_PG_URL` names a server (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Each test creates its own database
//! `cityloop_t_<uuid>` there and drops it afterwards. Without the variable the PostgreSQL
//! half of a test says it was skipped, unless `CITYLOOP_REQUIRE_PG=1` (set by CI), in
//! which case it fails.

use std::path::PathBuf;
use std::sync::Arc;

use crate::{PgStore, SqliteStore, Store};

/// A store on a fresh database, removed when dropped.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The URL the store was opened with (to reopen it, or to start a server on it).
    pub url: String,
    /// Raw access for tests that must bypass the trait (e.g. to prove triggers work).
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

/// The concrete pool behind a test store.
pub enum Raw {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Raw {
    /// Runs one SQL statement outside the trait.
    pub async fn execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self {
            Raw::Sqlite(s) => sqlx::query(sql)
                .execute(&s.writer)
                .await
                .map(|r| r.rows_affected()),
            Raw::Postgres(s) => sqlx::query(sql)
                .execute(&s.writer)
                .await
                .map(|r| r.rows_affected()),
        }
    }
}

impl Raw {
    /// Runs one query outside the trait whose first row's first column is an integer
    /// (a `SELECT COUNT(*)`), and returns it.
    pub async fn scalar(&self, sql: &str) -> Result<i64, sqlx::Error> {
        use sqlx::Row;
        match self {
            Raw::Sqlite(s) => sqlx::query(sql).fetch_one(&s.reader).await?.try_get(0),
            Raw::Postgres(s) => sqlx::query(sql).fetch_one(&s.writer).await?.try_get(0),
        }
    }
}

impl TestDb {
    /// A fresh SQLite file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let path: PathBuf = dir.path().join("test.db");
        let store = SqliteStore::open(&path, true).await.expect("open sqlite");
        TestDb {
            store: Arc::new(store.clone()),
            url: format!("sqlite://{}", path.display()),
            raw: Raw::Sqlite(store),
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (after saying so) when no server is configured.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("CITYLOOP_TEST_PG_URL") else {
            if std::env::var("CITYLOOP_REQUIRE_PG").as_deref() == Ok("1") {
                panic!("CITYLOOP_REQUIRE_PG=1 but CITYLOOP_TEST_PG_URL is not set");
            }
            eprintln!("SKIPPED PostgreSQL half: CITYLOOP_TEST_PG_URL is not set");
            return None;
        };
        let name = format!("cityloop_t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin_url}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = replace_db_name(&admin_url, &name);
        let store = PgStore::connect(&url).await.expect("connect test database");
        Some(TestDb {
            store: Arc::new(store.clone()),
            url,
            raw: Raw::Postgres(store),
            _dir: None,
            pg_drop: Some((admin_url, name)),
        })
    }

    /// Both backends that are available: SQLite always, PostgreSQL when configured.
    pub async fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite().await];
        v.extend(TestDb::postgres().await);
        v
    }
}

/// `postgres://u@h:p/db?x` with the database name replaced.
pub fn replace_db_name(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix_end = base
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..prefix_end], db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Drop runs inside the test's runtime; use a separate thread with its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::replace_db_name;

    #[test]
    fn database_name_is_replaced_keeping_user_host_and_query() {
        assert_eq!(
            replace_db_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_db_name("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            replace_db_name("postgres://u@h:1", "x"),
            "postgres://u@h:1/x"
        );
    }
}
