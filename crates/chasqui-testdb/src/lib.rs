//! Throwaway PostgreSQL for Chasqui's tests: a fresh, empty database per test.
//!
//! ```no_run
//! # async fn example() {
//! let Some(db) = chasqui_testdb::fresh_database().await else {
//!     return; // no PostgreSQL here: the harness has said so on stderr
//! };
//! let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
//! # }
//! ```
//!
//! or, in a test returning `()`, `let db = chasqui_testdb::fresh_database_or_skip!();`
//! (and [`fresh_database_blocking`] in a test without a runtime).
//!
//! # Where the server comes from
//!
//! 1. **`TEST_DATABASE_URL`** (e.g. `postgres://user:password@host:5432/postgres`): every test
//!    database is created on that server, through that URL's database, and dropped afterwards.
//! 2. Otherwise, **a throwaway cluster** started once per test process, on first use:
//!    `initdb` into a new directory under the temporary directory, then `pg_ctl start` on a
//!    free port of 127.0.0.1, with trust authentication and durability switched off for speed.
//!    The binaries come from `CHASQUI_PG_BIN` if set, else `/usr/lib/postgresql/15/bin`, else
//!    the newest `/usr/lib/postgresql/*/bin`, else `PATH`. As root (where `initdb` refuses to
//!    run) the server runs as the `postgres` user, through `runuser`. URLs look like
//!    `postgres://postgres@127.0.0.1:PORT/chasqui_test_…`.
//! 3. Otherwise, **no PostgreSQL**: [`fresh_database`] prints a loud `SKIPPING PostgreSQL
//!    tests` message to stderr (not captured by the test harness) and returns `None`, and the
//!    test returns early. When `CI` is set (to anything but empty, `0` or `false`), it panics
//!    instead: in CI, missing PostgreSQL is a failure.
//!
//! # Cleaning up
//!
//! Each [`TestDatabase`] drops its database when it goes out of scope, disconnecting whoever
//! still uses it. The throwaway cluster lives as long as the test process: a small watchdog
//! process, started with it, stops the server and deletes its directory as soon as the test
//! process exits, however it exits (panic, `exit`, `SIGKILL`, Ctrl-C).
//!
//! # Concurrency
//!
//! Tests may ask for databases concurrently, each from its own runtime: the cluster starts
//! once, synchronously, behind a lock, and each database is created over its own short-lived
//! connection. Under `cargo nextest`, which runs every test in its own process, each process
//! starts its own cluster (about a second each).
//!
//! # Failures
//!
//! If `initdb` or `pg_ctl` fails, or a database cannot be created, the calling test panics
//! with the command, its output and the server log: a harness that cannot do its job must not
//! let the tests pass silently.

mod cluster;
mod database;
mod source;

use std::fmt;
use std::io::Write as _;
use std::sync::{Once, OnceLock};

use cluster::Cluster;
use source::{Inputs, Source};

/// A database created for one test, dropped when this value is.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// The URL of the database, `postgres://…/<name>`, for the code under test to connect to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name, unique to this test.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .field("url", &database::redact(&self.url))
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: the throwaway cluster is deleted anyway, and on a shared server a
        // leftover database only costs space.
        let _ = database::block_on(database::drop(&self.admin_url, &self.name));
    }
}

/// Creates a fresh, empty database for the calling test, or returns `None` (after saying so on
/// stderr) when no PostgreSQL is available and `CI` is unset.
///
/// The first call in a process may start the throwaway cluster, blocking for about a second.
///
/// # Panics
///
/// When no PostgreSQL is available and `CI` is set; when the cluster cannot start; when the
/// database cannot be created. The message says why.
pub async fn fresh_database() -> Option<TestDatabase> {
    let admin_url = admin_url()?;
    match create(admin_url).await {
        Ok(database) => Some(database),
        Err(error) => panic!("{error}"),
    }
}

/// [`fresh_database`] for tests without an async runtime (it also works inside one, blocking
/// the calling thread).
///
/// # Panics
///
/// As [`fresh_database`].
#[must_use]
pub fn fresh_database_blocking() -> Option<TestDatabase> {
    // Decided here, on the test's own thread, so that a skip names the test.
    let admin_url = admin_url()?;
    match database::block_on(create(admin_url)).and_then(|created| created) {
        Ok(database) => Some(database),
        Err(error) => panic!("{error}"),
    }
}

async fn create(admin_url: String) -> Result<TestDatabase, String> {
    let name = database::unique_name();
    database::create(&admin_url, &name)
        .await
        .map_err(|error| format!("chasqui-testdb: cannot create a test database: {error}"))?;
    Ok(TestDatabase {
        url: database::with_database(&admin_url, &name),
        name,
        admin_url,
    })
}

/// `let db = fresh_database_or_skip!();` in an async test: the [`TestDatabase`], or an early
/// `return` when PostgreSQL is unavailable. `fresh_database_or_skip!(value)` returns `value`
/// instead, for tests returning something other than `()` (e.g. `Ok(())`).
#[macro_export]
macro_rules! fresh_database_or_skip {
    () => {
        $crate::fresh_database_or_skip!(())
    };
    ($skipped:expr) => {
        match $crate::fresh_database().await {
            ::core::option::Option::Some(database) => database,
            ::core::option::Option::None => return $skipped,
        }
    };
}

/// The server this process uses, decided (and, for a throwaway cluster, started) once.
#[derive(Debug)]
enum Server {
    External { admin_url: String },
    Local(Result<Cluster, String>),
    Skip { message: String },
    Fail { message: String },
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| match source::decide(Inputs::from_env()) {
        Source::External { admin_url } => Server::External { admin_url },
        Source::Local { bin_dir } => {
            let cluster = Cluster::start(&bin_dir);
            if let Ok(cluster) = &cluster {
                // Captured by the test harness: shown with the output of a failing test.
                eprintln!(
                    "chasqui-testdb: PostgreSQL from {} at {} started in {:.2?} in {} \
                     (stopped and deleted when this process exits)",
                    bin_dir.display(),
                    cluster.admin_url(),
                    cluster.started_in(),
                    cluster.dir().display(),
                );
            }
            Server::Local(cluster)
        }
        Source::Skip { message } => Server::Skip { message },
        Source::Fail { message } => Server::Fail { message },
    })
}

/// The superuser URL of the server, `None` to skip, or a panic.
fn admin_url() -> Option<String> {
    match server() {
        Server::External { admin_url } => Some(admin_url.clone()),
        Server::Local(Ok(cluster)) => Some(cluster.admin_url()),
        Server::Local(Err(error)) => panic!("{error}"),
        Server::Fail { message } => panic!("{message}"),
        Server::Skip { message } => {
            announce_skip(message);
            None
        }
    }
}

/// Writes to the real stderr, past the test harness's capture: a skip must be seen.
fn announce_skip(message: &str) {
    static BANNER: Once = Once::new();
    let mut stderr = std::io::stderr().lock();
    BANNER.call_once(|| {
        let rule = "=".repeat(78);
        let _ = writeln!(stderr, "\n{rule}\n{message}\n{rule}");
    });
    let test = std::thread::current()
        .name()
        .map_or_else(|| String::from("a test"), str::to_owned);
    let _ = writeln!(stderr, "SKIPPED (no PostgreSQL): {test}");
}
