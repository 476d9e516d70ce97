//! `/v1/audit-log`: what was changed in the tenant, by whom.

use axum::extract::State;
use chasqui_store::audit::AuditEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// An audit entry as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditView {
    id: i64,
    actor: String,
    action: String,
    target: Option<String>,
    details: serde_json::Value,
    created_at: DateTime<Utc>,
}

/// `GET /v1/audit-log`, oldest first.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<AuditView>>, ApiError> {
    let page = state
        .store
        .list_audit(auth.tenant_id, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, |e: AuditEntry| {
        AuditView {
            id: e.id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            details: e.details,
            created_at: e.created_at,
        }
    })))
}
