//! Bearer API-key authentication as an extractor: a handler that takes [`TenantAuth`] only runs
//! for a valid, unrevoked key, and gets the tenant every query must be scoped to.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chasqui_core::api_key::ApiKey;
use chasqui_core::ids::{ApiKeyId, TenantId};

use super::AppState;
use super::error::ApiError;

/// The authenticated tenant of a request.
#[derive(Debug, Clone, Copy)]
pub struct TenantAuth {
    /// The tenant all data access is scoped to.
    pub tenant_id: TenantId,
    /// The key presented (recorded as the actor in the audit log).
    pub key_id: ApiKeyId,
}

impl TenantAuth {
    /// The audit-log actor for this request.
    pub fn actor(&self) -> String {
        format!("api:{}", self.key_id)
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            unauthorized(
                "missing_api_key",
                "Send your API key in the header `Authorization: Bearer chq_live_…`.",
            )
        })?;
        let value = header.to_str().unwrap_or_default().trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                unauthorized(
                    "malformed_authorization",
                    "The Authorization header must be `Bearer <API key>`.",
                )
            })?;
        let key =
            ApiKey::parse(token).map_err(|e| unauthorized("malformed_api_key", &e.to_string()))?;
        match state.store.authenticate(&key).await? {
            Some(auth) => {
                tracing::Span::current()
                    .record("tenant_id", tracing::field::display(auth.tenant_id));
                Ok(TenantAuth {
                    tenant_id: auth.tenant_id,
                    key_id: auth.key_id,
                })
            }
            None => Err(unauthorized(
                "invalid_api_key",
                "This API key is unknown or has been revoked; create a new one with `chasqui key create --tenant ID`.",
            )),
        }
    }
}
