//! Short-lived signed links to a tenant's uploaded media, so a provider can fetch a file that is
//! sent by our `med_…` id (`{"image": {"id": "med_…"}}` becomes `{"image": {"link": …}}`).
//! The signature binds tenant, media and expiry; the key is a random secret of this instance.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chasqui_core::ids::{MediaId, TenantId};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;

use crate::http::AppState;
use crate::http::error::ApiError;

const KEY_SETTING: &str = "media_link_key";
/// How long a link works: long enough for a provider's retries.
pub const LINK_TTL_SECS: i64 = 7 * 24 * 3600;

async fn key(state: &AppState) -> Result<Vec<u8>, ApiError> {
    if let Some(k) = state.store.instance_setting(KEY_SETTING).await? {
        return hex::decode(k).map_err(|e| ApiError::internal(&e));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    state
        .store
        .set_instance_setting_once(KEY_SETTING, &hex::encode(bytes))
        .await?;
    let stored = state
        .store
        .instance_setting(KEY_SETTING)
        .await?
        .unwrap_or_default();
    hex::decode(stored).map_err(|e| ApiError::internal(&e))
}

fn signature(
    key: &[u8],
    tenant: TenantId,
    id: MediaId,
    exp: i64,
) -> Result<Hmac<Sha256>, ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| ApiError::internal(&e))?;
    mac.update(format!("{tenant}.{id}.{exp}").as_bytes());
    Ok(mac)
}

/// The public base URL providers can reach: `server.public_url`, else the listen address.
pub fn public_base(state: &AppState) -> String {
    state
        .config
        .server
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{}", state.config.server.listen))
}

/// A signed link to `id` that works for [`LINK_TTL_SECS`].
pub async fn signed_url(
    state: &AppState,
    base: &str,
    tenant: TenantId,
    id: MediaId,
) -> Result<String, ApiError> {
    let exp = chrono::Utc::now().timestamp() + LINK_TTL_SECS;
    let sig = hex::encode(
        signature(&key(state).await?, tenant, id, exp)?
            .finalize()
            .into_bytes(),
    );
    Ok(format!(
        "{base}/media/shared/{tenant}/{id}?exp={exp}&sig={sig}"
    ))
}

/// The signed query.
#[derive(Debug, Deserialize)]
pub struct Signed {
    exp: i64,
    sig: String,
}

/// `GET /media/shared/{tenant}/{id}?exp=&sig=`: the file, for whoever holds a valid link.
pub async fn shared(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    Query(q): Query<Signed>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let forbidden = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_link",
            "This media link is invalid or has expired.",
        )
    };
    let tenant: TenantId = tenant.parse().map_err(|_| forbidden())?;
    let id: MediaId = id.parse().map_err(|_| forbidden())?;
    if q.exp < chrono::Utc::now().timestamp() {
        return Err(forbidden());
    }
    let presented = hex::decode(&q.sig).map_err(|_| forbidden())?;
    signature(&key(&state).await?, tenant, id, q.exp)?
        .verify_slice(&presented)
        .map_err(|_| forbidden())?;
    let m = state
        .store
        .media(tenant, id)
        .await
        .map_err(|_| forbidden())?;
    super::http::serve(&state, &m, &headers).await
}
