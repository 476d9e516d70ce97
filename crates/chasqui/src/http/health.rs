//! `/healthz` (the process answers) and `/readyz` (it can serve: database reachable, schema current).

use axum::extract::State;
use axum::http::StatusCode;
use chasqui_store::MigrationStatus;
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use super::extract::Json;

/// `GET /healthz`: liveness only; never touches the database.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /readyz`: 200 when the database answers and its migrations match this binary, 503 with
/// the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let backend = state.store.backend().as_str();
    let ping = tokio::time::timeout(std::time::Duration::from_secs(3), state.store.ping()).await;
    let problem = match ping {
        Err(_) => Some((
            "database_unreachable",
            "the database did not answer within 3 s".to_owned(),
        )),
        Ok(Err(e)) => Some((
            "database_unreachable",
            format!("the database is not reachable: {e}"),
        )),
        Ok(Ok(())) => match state.store.migration_status().await {
            Ok(MigrationStatus::Current) => None,
            Ok(MigrationStatus::Pending(v)) => Some((
                "migrations_pending",
                format!("migrations {v:?} are not applied; run `chasqui migrate`"),
            )),
            Ok(MigrationStatus::Ahead(v)) => Some((
                "schema_newer_than_binary",
                format!(
                    "the database has migrations {v:?} this binary does not know; upgrade Chasqui"
                ),
            )),
            Ok(MigrationStatus::Dirty(v)) => Some((
                "migration_failed",
                format!("migration {v} failed part-way; inspect the database"),
            )),
            Err(e) => Some((
                "database_unreachable",
                format!("could not read the migration table: {e}"),
            )),
        },
    };
    match problem {
        None => Ok(Json(
            json!({ "status": "ready", "database": backend, "migrations": "current" }),
        )),
        Some((code, reason)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            format!("Not ready: {reason}."),
        )
        .with_extra(json!({ "status": "unavailable", "database": backend }))),
    }
}
