//! `spawn_app`: a server on a free port with a fresh database, and typed request helpers.

use std::collections::HashMap;
use std::net::SocketAddr;

use chasqui::app::App;
use chasqui::config::{CliOverrides, Config};
use chasqui_store::Store;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    /// The demo tenant's key (a fresh database always gets one).
    pub api_key: String,
    pub tenant_id: String,
    /// The database URL the server uses.
    pub db_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
    _pg: Option<chasqui_testdb::TestDatabase>,
}

/// Starts a server on SQLite.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Db::Sqlite, &[]).await.unwrap()
}

/// Starts a server on the given backend with extra environment settings; `None` when
/// PostgreSQL is unavailable here (and `CI` is unset).
pub async fn spawn_app_on(db: Db, env: &[(&str, &str)]) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let mut env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.insert("CHASQUI_LISTEN".into(), "127.0.0.1:0".into());
    let pg = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            let pg = chasqui_testdb::fresh_database().await?;
            env.insert("DATABASE_URL".into(), pg.url().to_owned());
            Some(pg)
        }
    };
    let overrides = CliOverrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let (mut config, _warnings) = Config::load(&overrides, &env).unwrap();
    config.log.level = "error".into();
    chasqui::telemetry::init(&config.log);
    let db_url = config.database_url();
    let app = App::build(config).await.unwrap();
    let addr = app.local_addr().unwrap();
    let store = app.state.store.clone();
    let demo = app
        .demo
        .as_ref()
        .expect("a fresh database gets a demo tenant");
    let api_key = demo.api_key.expose().to_owned();
    let tenant_id = demo.tenant.id.to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    Some(TestApp {
        addr,
        client: reqwest::Client::new(),
        store,
        api_key,
        tenant_id,
        db_url,
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
        _pg: pg,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A request with the demo tenant's key.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.api_key)
    }

    /// Whether any text column of any table contains `needle` (to prove secrets are not stored in clear).
    pub async fn db_contains(&self, needle: &str) -> bool {
        let tables = [
            "tenants",
            "api_keys",
            "credentials",
            "channels",
            "audit_log",
            "jobs",
        ];
        if self.db_url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.db_url).await.unwrap();
            for t in tables {
                let cols: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{t}')"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                for (c,) in cols {
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM {t} WHERE CAST({c} AS TEXT) LIKE '%' || $1 || '%'"
                    )))
                    .bind(needle)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    if n > 0 {
                        return true;
                    }
                }
            }
            false
        } else {
            let pool = sqlx::PgPool::connect(&self.db_url).await.unwrap();
            for t in tables {
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM {t} r WHERE r::text LIKE '%' || $1 || '%'"
                )))
                .bind(needle)
                .fetch_one(&pool)
                .await
                .unwrap();
                if n > 0 {
                    return true;
                }
            }
            false
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

/// Reads a response as JSON, asserting its status.
pub async fn json(res: reqwest::Response, status: u16) -> serde_json::Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts the standard error shape and returns `(code, message)`.
pub fn error_of(body: &serde_json::Value) -> (String, String) {
    let err = body
        .get("error")
        .unwrap_or_else(|| panic!("no `error` member: {body}"));
    let code = err["code"].as_str().unwrap().to_owned();
    let message = err["message"].as_str().unwrap().to_owned();
    assert!(
        code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "code not snake_case: {code}"
    );
    assert!(!message.is_empty());
    (code, message)
}
