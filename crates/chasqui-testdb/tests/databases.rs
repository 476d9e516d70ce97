//! The harness against a real server: the throwaway cluster, or `TEST_DATABASE_URL`'s.

use sqlx::{Connection as _, PgConnection};

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

async fn current_database(url: &str) -> String {
    let mut connection = connect(url).await;
    let (one, name): (i32, String) = sqlx::query_as("SELECT 1, current_database()::text")
        .fetch_one(&mut connection)
        .await
        .expect("SELECT 1");
    assert_eq!(one, 1);
    connection.close().await.expect("close");
    name
}

#[tokio::test]
async fn two_fresh_databases_are_distinct_reachable_and_isolated() {
    let Some(first) = chasqui_testdb::fresh_database().await else {
        return;
    };
    let Some(second) = chasqui_testdb::fresh_database().await else {
        return;
    };
    assert_ne!(first.url(), second.url());
    assert_ne!(first.name(), second.name());
    assert!(first.url().starts_with("postgres://"), "{}", first.url());
    assert!(first.url().ends_with(first.name()), "{}", first.url());

    assert_eq!(current_database(first.url()).await, first.name());
    assert_eq!(current_database(second.url()).await, second.name());

    let mut one = connect(first.url()).await;
    sqlx::query("CREATE TABLE only_here (id int)")
        .execute(&mut one)
        .await
        .expect("create a table");
    let mut two = connect(second.url()).await;
    let seen: Option<String> = sqlx::query_scalar("SELECT to_regclass('only_here')::text")
        .fetch_one(&mut two)
        .await
        .expect("look for the table");
    assert_eq!(seen, None, "a table leaked between test databases");
}

#[tokio::test]
async fn a_dropped_test_database_is_gone_even_with_open_connections() {
    let Some(db) = chasqui_testdb::fresh_database().await else {
        return;
    };
    let url = db.url().to_owned();
    let mut still_open = connect(&url).await;
    sqlx::query("SELECT 1")
        .execute(&mut still_open)
        .await
        .expect("SELECT 1");
    drop(db);
    let error = PgConnection::connect(&url)
        .await
        .expect_err("the database was dropped");
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[tokio::test]
async fn the_macro_gives_a_database_or_skips() {
    let db = chasqui_testdb::fresh_database_or_skip!();
    current_database(db.url()).await;
}

#[tokio::test]
async fn the_macro_returns_the_given_value_when_skipping() -> Result<(), String> {
    let db = chasqui_testdb::fresh_database_or_skip!(Ok(()));
    current_database(db.url()).await;
    Ok(())
}

#[test]
fn the_blocking_variant_works_without_a_runtime() {
    let Some(db) = chasqui_testdb::fresh_database_blocking() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    assert_eq!(runtime.block_on(current_database(db.url())), db.name());
}

#[test]
fn many_runtimes_at_once_share_one_server() {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async {
                    let db = chasqui_testdb::fresh_database().await?;
                    assert_eq!(current_database(db.url()).await, db.name());
                    Some(db.url().to_owned())
                })
            })
        })
        .collect();
    let urls: Vec<Option<String>> = threads
        .into_iter()
        .map(|thread| thread.join().expect("thread"))
        .collect();
    if urls.iter().any(Option::is_none) {
        assert!(urls.iter().all(Option::is_none), "skipped only sometimes");
        return;
    }
    let servers: std::collections::HashSet<_> = urls
        .iter()
        .flatten()
        .map(|url| url.rsplit_once('/').map(|(server, _)| server.to_owned()))
        .collect();
    assert_eq!(servers.len(), 1, "{urls:?}");
    let names: std::collections::HashSet<_> = urls.iter().flatten().collect();
    assert_eq!(names.len(), 8, "{urls:?}");
}
