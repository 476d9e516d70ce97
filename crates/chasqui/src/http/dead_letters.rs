//! `/v1/dead-letters`: webhook deliveries that could not be processed, kept with the reason,
//! and replayable once the cause is fixed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chasqui_core::ids::{ChannelId, ReceiptId};
use chasqui_store::receipts::Receipt;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// A dead letter as the API shows it.
#[derive(Debug, Serialize)]
pub struct DeadLetterView {
    id: ReceiptId,
    provider: String,
    channel_id: Option<ChannelId>,
    received_at: DateTime<Utc>,
    error: Option<String>,
    /// The body as received (lossy UTF-8), to see what could not be read.
    body: String,
}

impl From<Receipt> for DeadLetterView {
    fn from(r: Receipt) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            channel_id: r.channel_id,
            received_at: r.received_at,
            error: r.last_error,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

/// `GET /v1/dead-letters`.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<DeadLetterView>>, ApiError> {
    let page = state
        .store
        .dead_receipts(auth.tenant_id, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, DeadLetterView::from)))
}

/// `POST /v1/dead-letters/{id}/replay`: processes the delivery again.
pub async fn replay(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id: ReceiptId = id.parse().map_err(|_| ApiError::not_found("dead letter"))?;
    let receipt = state
        .store
        .receipt(id)
        .await
        .map_err(|_| ApiError::not_found("dead letter"))?;
    if receipt.tenant_id != Some(auth.tenant_id)
        || receipt.state != chasqui_store::receipts::state::DEAD
    {
        return Err(ApiError::not_found("dead letter"));
    }
    state
        .store
        .requeue_receipt(id, Some(auth.tenant_id))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "id": id, "state": "pending" })),
    ))
}
