//! `/v1/tenant`: the tenant an API key belongs to.

use axum::extract::State;
use chasqui_store::tenants::Tenant;
use serde::Serialize;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::Json;

/// A tenant as the API shows it.
#[derive(Debug, Serialize)]
pub struct TenantView {
    id: String,
    name: String,
    plan: &'static str,
    whatsapp_number: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            plan: t.plan.as_str(),
            whatsapp_number: t.whatsapp_number,
            created_at: t.created_at,
        }
    }
}

/// `GET /v1/tenant`.
pub async fn get(
    State(state): State<AppState>,
    auth: TenantAuth,
) -> Result<Json<TenantView>, ApiError> {
    Ok(Json(state.store.tenant(auth.tenant_id).await?.into()))
}

/// `PATCH /v1/tenant` body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    name: String,
}

/// Longest tenant name accepted.
const MAX_NAME_CHARS: usize = 200;

/// `PATCH /v1/tenant`: a tenant renames itself (its plan is changed by the operator).
pub async fn patch(
    State(state): State<AppState>,
    auth: TenantAuth,
    Json(body): Json<TenantPatch>,
) -> Result<Json<TenantView>, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "invalid_name",
            "name",
            format!("name must have between 1 and {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(Json(
        state
            .store
            .rename_tenant(auth.tenant_id, name, &auth.actor())
            .await?
            .into(),
    ))
}
