//! Creating and dropping the per-test databases, each over a short-lived connection.

use std::future::Future;
use std::process;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// How long a `CREATE DATABASE` or `DROP DATABASE`, connection included, may take.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A name no other test, in this process or any other run against the same server, uses:
/// `chasqui_test_<pid>_<per-process token>_<sequence>`.
pub(crate) fn unique_name() -> String {
    static TOKEN: LazyLock<u32> = LazyLock::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos())
    });
    static SEQUENCE: AtomicU64 = AtomicU64::new(1);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("chasqui_test_{}_{:08x}_{sequence}", process::id(), *TOKEN)
}

/// `CREATE DATABASE "<name>"` on the server of `admin_url`.
pub(crate) async fn create(admin_url: &str, name: &str) -> Result<(), String> {
    execute(admin_url, format!("CREATE DATABASE \"{name}\"")).await
}

/// Drops the database, disconnecting whoever still uses it.
pub(crate) async fn drop(admin_url: &str, name: &str) -> Result<(), String> {
    // `WITH (FORCE)` needs PostgreSQL 13; older servers get the plain statement.
    let forced = execute(
        admin_url,
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await;
    match forced {
        Err(error) if error.contains("syntax error") => {
            execute(admin_url, format!("DROP DATABASE IF EXISTS \"{name}\"")).await
        }
        other => other,
    }
}

async fn execute(admin_url: &str, statement: String) -> Result<(), String> {
    let work = async {
        let mut connection = PgConnection::connect(admin_url).await?;
        sqlx::query(AssertSqlSafe(statement.as_str()))
            .execute(&mut connection)
            .await?;
        connection.close().await
    };
    match tokio::time::timeout(STATEMENT_TIMEOUT, work).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!(
            "`{statement}` on {} failed: {error}",
            redact(admin_url)
        )),
        Err(_) => Err(format!(
            "`{statement}` on {} took more than {STATEMENT_TIMEOUT:?}",
            redact(admin_url)
        )),
    }
}

/// Runs `future` to completion on a new single-threaded runtime in a new thread, so it works
/// whether or not the caller is inside a runtime (blocking the caller meanwhile).
pub(crate) fn block_on<F>(future: F) -> Result<F::Output, String>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| runtime.block_on(future))
                    .map_err(|error| format!("cannot build a tokio runtime: {error}"))
            })
            .join()
            .unwrap_or_else(|_| Err(String::from("the database thread panicked")))
    })
}

/// `url` with its path (the database name) replaced by `database`; query parameters are kept.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let (prefix, after_authority) = url.split_at(authority_start + authority_len);
    let query = after_authority
        .find('?')
        .map_or("", |at| &after_authority[at..]);
    format!("{prefix}/{database}{query}")
}

/// `url` with any password replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[authority_start..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    format!("{}***{}", &url[..password_start], &url[password_end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_valid_identifiers() {
        let first = unique_name();
        let second = unique_name();
        assert_ne!(first, second);
        for name in [first, second] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn database_is_replaced() {
        let cases = [
            ("postgres://u:p@h:5432/postgres", "postgres://u:p@h:5432/t1"),
            ("postgres://u:p@h:5432", "postgres://u:p@h:5432/t1"),
            ("postgres://u:p@h:5432/", "postgres://u:p@h:5432/t1"),
            (
                "postgres://u:p@h/postgres?sslmode=require",
                "postgres://u:p@h/t1?sslmode=require",
            ),
            (
                "postgresql://h?sslmode=disable",
                "postgresql://h/t1?sslmode=disable",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "t1"), expected, "{url}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://user:s3cr3t@db:5432/postgres"),
            "postgres://user:***@db:5432/postgres"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5/x"),
            "postgres://postgres@127.0.0.1:5/x"
        );
        assert_eq!(
            redact("postgres://db/x?password=no"),
            "postgres://db/x?password=no"
        );
    }

    #[test]
    fn block_on_works_inside_a_runtime_too() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let value = runtime.block_on(async { block_on(async { 7 }) });
        assert_eq!(value, Ok(7));
    }
}
