//! `/v1/api-keys`: a tenant sees its own keys (prefixes only; keys are never stored).

use axum::extract::State;
use chasqui_core::ids::ApiKeyId;
use chasqui_store::api_keys::ApiKeyRecord;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// A key as the API shows it.
#[derive(Debug, Serialize)]
pub struct ApiKeyView {
    id: ApiKeyId,
    prefix: String,
    label: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(k: ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix,
            label: k.label,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// `GET /v1/api-keys`.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<ApiKeyView>>, ApiError> {
    let page = state
        .store
        .list_api_keys(auth.tenant_id, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, ApiKeyView::from)))
}
