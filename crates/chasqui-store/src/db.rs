//! Opening the database, the backend-neutral pool and transaction types, and the macros that run
//! one piece of SQL on whichever backend is open.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite};
use tokio::sync::Notify;

use crate::error::{Result, StoreError};

/// Which engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, WAL mode.
    Sqlite,
    /// For scale: many instances sharing one database.
    Postgres,
}

impl Backend {
    /// The backend a URL selects, or why the URL is not usable.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(format!(
                "`{}` is neither `sqlite:PATH` nor `postgres://USER@HOST/DB`",
                redact_url(url)
            )))
        }
    }

    /// The name shown in logs and health output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How to open the database.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `sqlite:PATH` or `postgres://…`.
    pub url: String,
    /// Pool size (PostgreSQL); SQLite uses a small fixed pool.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub acquire_timeout: Duration,
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl ConnectOptions {
    /// Options with sensible defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Replaces the password of a `scheme://user:password@host…` URL (and of a `password=` query
/// parameter) with `***`; anything else is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = match url.find("://") {
        Some(i) => {
            let start = i + 3;
            let rest = &url[start..];
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            match authority.rfind('@') {
                Some(at) => match authority[..at].find(':') {
                    Some(colon) => format!(
                        "{}{}:***{}",
                        &url[..start],
                        &authority[..colon],
                        &url[start + at..]
                    ),
                    None => url.to_owned(),
                },
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    // libpq also takes the password as a query parameter.
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{head}{query}");
    }
    out
}

/// SQL with `$n` placeholders made cheap for SQLite, which treats `$n` as a *named* parameter:
/// preparing a statement with many of them compares each name with every earlier one, and
/// binding looks each up in a list, so a multi-row insert of 1,000 parameters spent more time
/// there than inserting. Placeholders used once each, in order (`$1, $2, …`), become anonymous
/// `?`; others become numbered `?n`. PostgreSQL gets the SQL unchanged.
pub(crate) fn for_backend(backend: Backend, sql: String) -> String {
    if backend == Backend::Postgres {
        return sql;
    }
    let bytes = sql.as_bytes();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                numbers.push(sql[i + 1..i + 1 + digits].parse::<usize>().unwrap_or(0));
                i += digits;
            }
        }
        i += 1;
    }
    let sequential = numbers.iter().enumerate().all(|(k, n)| *n == k + 1);
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = if bytes[i] == b'$' {
            bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        } else {
            0
        };
        if digits > 0 {
            out.push('?');
            if !sequential {
                out.push_str(&sql[i + 1..i + 1 + digits]);
            }
            i += 1 + digits;
        } else {
            let next = sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&sql[i..i + next]);
            i += next;
        }
    }
    out
}

/// `$first, $first+1, …` for `count` parameters: the inside of an `IN (…)` list.
pub(crate) fn param_list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` rows of a multi-row insert: `shape` repeated `rows` times, each `?` in it
/// replaced by the next numbered parameter (`$1`, `$2`, …), so SQL is written once per shape.
pub(crate) fn value_rows(rows: usize, shape: &str) -> String {
    let mut next = 0;
    let mut out = String::with_capacity(rows * (shape.len() + 16));
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        for ch in shape.chars() {
            if ch == '?' {
                next += 1;
                out.push('$');
                out.push_str(&next.to_string());
            } else {
                out.push(ch);
            }
        }
    }
    out
}

pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

struct Inner {
    pool: Pool,
    jobs_ready: Notify,
    url: String,
    /// SQLite has one writer at a time: writers of this process queue here, in order, instead
    /// of in SQLite's busy handler, which sleeps in steps of up to 100 ms and wakes late.
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// How long a writer waits for its turn before giving up (SQLite's busy timeout, as before).
const WRITE_GATE_TIMEOUT: Duration = Duration::from_secs(10);

/// The handle every part of Chasqui uses to read and write; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("url", &self.inner.url)
            .finish()
    }
}

/// Runs `$body` with `$p` bound to the open pool, compiled once per backend.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match $store.pool() {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Runs `$body` with `$c` bound to the transaction's connection, compiled once per backend.
macro_rules! with_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::db::TxInner::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxInner::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use with_tx;

impl Store {
    /// Opens (creating the SQLite file if needed) and applies pending migrations.
    pub async fn connect(opts: &ConnectOptions) -> Result<Self> {
        let store = Self::open(opts).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (for readiness checks and `chasqui migrate --status`).
    pub async fn open(opts: &ConnectOptions) -> Result<Self> {
        let pool = match Backend::from_url(&opts.url)? {
            Backend::Sqlite => {
                let o = SqliteConnectOptions::from_str(&opts.url)
                    .map_err(|e| StoreError::BadUrl(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit reported to a client survives power loss, not only a crash.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                if let Some(parent) = o.get_filename().parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::BadUrl(format!(
                            "cannot create the directory {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(opts.max_connections.clamp(1, 8))
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(o)
                    .await?;
                Pool::Sqlite(pool)
            }
            Backend::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(opts.max_connections.max(1))
                    .acquire_timeout(opts.acquire_timeout)
                    .connect(&opts.url)
                    .await?;
                Pool::Postgres(pool)
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                jobs_ready: Notify::new(),
                url: redact_url(&opts.url),
                write_gate: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// On SQLite, waits for this process's turn to write (held until the guard drops); on
    /// PostgreSQL, which has row locks, returns at once. A wait over the busy timeout fails as
    /// an unavailable database, as SQLite's own busy timeout did.
    pub(crate) async fn write_turn(&self) -> Result<Option<WriteTurn>> {
        if !matches!(self.inner.pool, Pool::Sqlite(_)) {
            return Ok(None);
        }
        let asked = std::time::Instant::now();
        match tokio::time::timeout(
            WRITE_GATE_TIMEOUT,
            self.inner.write_gate.clone().lock_owned(),
        )
        .await
        {
            Ok(guard) => {
                let now = std::time::Instant::now();
                metrics::histogram!("chasqui_db_write_wait_seconds")
                    .record(now.duration_since(asked).as_secs_f64());
                Ok(Some(WriteTurn {
                    _guard: guard,
                    since: now,
                    writer: "other",
                }))
            }
            Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database URL with any password redacted.
    pub fn redacted_url(&self) -> &str {
        &self.inner.url
    }

    /// The PostgreSQL pool, for LISTEN/NOTIFY; `None` on SQLite.
    pub(crate) fn pg_pool(&self) -> Option<&PgPool> {
        match &self.inner.pool {
            Pool::Postgres(p) => Some(p),
            Pool::Sqlite(_) => None,
        }
    }

    /// Signalled whenever this process commits a new job, so workers wake at once.
    pub(crate) fn jobs_ready(&self) -> &Notify {
        &self.inner.jobs_ready
    }

    /// Starts a transaction; on SQLite it takes the write lock up front (`BEGIN IMMEDIATE`) so
    /// concurrent writers queue instead of failing with `SQLITE_BUSY` half-way.
    pub async fn begin(&self) -> Result<Tx> {
        let turn = self.write_turn().await?;
        let inner = match self.pool() {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            store: self.clone(),
            enqueued_jobs: false,
            endpoints: std::collections::HashMap::new(),
            pending_events: Vec::new(),
            touched: crate::inbound::Touched::default(),
            _turn: turn,
        })
    }

    /// Checks the database answers a trivial query.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(Into::into))
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        match self.pool() {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

pub(crate) enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A database transaction; writes made through it (jobs included) happen all or not at all.
pub struct Tx {
    pub(crate) inner: TxInner,
    store: Store,
    pub(crate) enqueued_jobs: bool,
    /// Each tenant's enabled webhook endpoints, read once per transaction by `emit_event`.
    pub(crate) endpoints: std::collections::HashMap<String, Vec<(String, String)>>,
    /// Events with no subscribed endpoint, written in one statement at commit.
    pub(crate) pending_events: Vec<crate::events::PendingEvent>,
    /// Contacts and conversations this transaction already found or refreshed.
    pub(crate) touched: crate::inbound::Touched,
    /// SQLite's write turn, released after commit or rollback (fields drop after `inner`).
    _turn: Option<WriteTurn>,
}

/// This process's turn to write to SQLite; the next writer goes when it drops.
pub(crate) struct WriteTurn {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    since: std::time::Instant,
    /// Who holds it, for the metric's `writer` label.
    pub(crate) writer: &'static str,
}

impl WriteTurn {
    /// The same turn, labelled with its writer.
    pub(crate) fn for_writer(mut self, writer: &'static str) -> Self {
        self.writer = writer;
        self
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        // How long each writer keeps the others waiting: the figure that bounds SQLite's
        // write throughput (commits per second × rows per commit).
        metrics::histogram!("chasqui_db_write_hold_seconds", "writer" => self.writer)
            .record(self.since.elapsed().as_secs_f64());
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl Tx {
    /// The engine this transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Names this transaction's writer in `chasqui_db_write_hold_seconds{writer}` (SQLite), so
    /// an operator sees which kind of write fills the single writer's time.
    pub fn set_writer(&mut self, writer: &'static str) {
        if let Some(turn) = &mut self._turn {
            turn.writer = writer;
        }
    }

    /// Commits, then wakes this process's workers if jobs were enqueued.
    pub async fn commit(mut self) -> Result<()> {
        self.flush_conversation_touches().await?;
        self.flush_events().await?;
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        if self.enqueued_jobs {
            self.store.jobs_ready().notify_waiters();
        }
        Ok(())
    }

    /// Rolls back explicitly (dropping a `Tx` also rolls back).
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_gets_anonymous_placeholders_when_they_are_in_order() {
        let pg = "INSERT INTO t VALUES ($1, $2), ($3, $4)".to_owned();
        assert_eq!(for_backend(Backend::Postgres, pg.clone()), pg);
        assert_eq!(
            for_backend(Backend::Sqlite, pg),
            "INSERT INTO t VALUES (?, ?), (?, ?)"
        );
        // Reused or out of order: numbered, so each still binds its own value.
        assert_eq!(
            for_backend(
                Backend::Sqlite,
                "a = $1 AND b = $2 OR c = $1 -- é $x".to_owned()
            ),
            "a = ?1 AND b = ?2 OR c = ?1 -- é $x"
        );
        assert_eq!(
            for_backend(
                Backend::Sqlite,
                "json_extract(x, '$.a') = $2 AND y = $1".to_owned()
            ),
            "json_extract(x, '$.a') = ?2 AND y = ?1"
        );
    }

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(param_list(2, 3), "$2, $3, $4");
        assert_eq!(value_rows(2, "(?, 'x', ?)"), "($1, 'x', $2), ($3, 'x', $4)");
        assert_eq!(value_rows(0, "(?)"), "");
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact_url("postgres://u:p@ss@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(
            redact_url("sqlite:data/chasqui.db"),
            "sqlite:data/chasqui.db"
        );
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::from_url("mysql://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mysql://u:***@h/db") && !err.contains("pw"),
            "{err}"
        );
    }
}
