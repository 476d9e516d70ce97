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
