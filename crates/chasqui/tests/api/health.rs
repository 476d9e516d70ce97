use crate::helpers::{Db, error_of, json, spawn_app_on};

async fn ready_until_the_schema_is_behind(db: Db) {
    let Some(app) = spawn_app_on(db, &[]).await else {
        return;
    };
    let body = json(app.get("/healthz").send().await.unwrap(), 200).await;
    assert_eq!(body["status"], "ok");
    let body = json(app.get("/readyz").send().await.unwrap(), 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["migrations"], "current");

    // Simulate a database whose migrations were never applied by this version.
    forget_last_migration(&app.db_url).await;
    let body = json(app.get("/readyz").send().await.unwrap(), 503).await;
    let (code, message) = error_of(&body);
    assert_eq!(code, "migrations_pending");
    assert!(message.contains("chasqui migrate"), "{message}");
    assert_eq!(body["status"], "unavailable");
    // Liveness does not depend on the database.
    json(app.get("/healthz").send().await.unwrap(), 200).await;
    app.shutdown().await.unwrap();
}

/// Deletes the newest migration record, as if the database predated this binary.
async fn forget_last_migration(url: &str) {
    let sql =
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

#[tokio::test]
async fn readiness_sqlite() {
    ready_until_the_schema_is_behind(Db::Sqlite).await;
}

#[tokio::test]
async fn readiness_postgres() {
    ready_until_the_schema_is_behind(Db::Postgres).await;
}
