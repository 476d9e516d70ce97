//! `/v1/media`: uploading files to send by id, and reading back stored media (inbound
//! downloads and uploads), always within the API key's tenant.
//!
//! - `POST /v1/media` (multipart: `file`, optional `type` and `filename`): checked against
//!   WhatsApp's MIME types and size limits, stored, answered 201 with its id.
//! - `GET /v1/media/{id}`: the bytes, with `Content-Type`, `Content-Length`,
//!   `Content-Disposition: attachment` and `ETag` (the SHA-256); 409 while not stored.
//! - `GET /v1/media/{id}/info`: the metadata as JSON.

use axum::Router;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chasqui_core::ids::{ChannelId, MediaId, MessageId};
use chasqui_store::media::{Media, NewUpload, StoredBytes, state, storage_key};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::limits::{self, Declared, UPLOAD_BODY_LIMIT, UPLOAD_MAX_BYTES};
use super::object_store::{MediaStore, MediaStoreError, MediaWriter};
use crate::http::AppState;
use crate::http::auth::TenantAuth;
use crate::http::error::ApiError;
use crate::http::extract::Json;

/// The longest `type` or `filename` field accepted.
const TEXT_FIELD_BYTES: usize = 512;

/// The media routes, to merge into `/v1`. The upload route accepts bodies up to
/// [`UPLOAD_BODY_LIMIT`] whatever `server.body_limit_bytes` says.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/media",
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route("/media/{id}", get(download))
        .route("/media/{id}/info", get(info))
}

/// A media file as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MediaView {
    /// Its id, usable to send it (`"image": {"id": "med_…"}`).
    pub id: MediaId,
    /// WhatsApp media type (`image`, `audio`, `video`, `document`, `sticker`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size in bytes, once stored.
    pub size_bytes: Option<u64>,
    /// Hex SHA-256, once stored (also the download's ETag).
    pub sha256: Option<String>,
    /// File name, when known.
    pub filename: Option<String>,
    /// `in` (received) or `out` (uploaded).
    pub direction: String,
    /// `pending`, `stored` or `failed`.
    pub state: String,
    /// The message it came with.
    pub message_id: Option<MessageId>,
    /// The channel it came through.
    pub channel_id: Option<ChannelId>,
    /// The provider's media id.
    pub provider_media_id: Option<String>,
    /// Download attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Where to get the bytes.
    pub url: String,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When its bytes were stored.
    pub stored_at: Option<DateTime<Utc>>,
}

impl MediaView {
    /// The view of a stored media row (also for embedding in message views).
    pub fn new(m: &Media) -> Self {
        Self {
            id: m.id,
            kind: m.kind.clone(),
            mime_type: m.mime_type.clone(),
            size_bytes: m.size_bytes,
            sha256: m.sha256.clone(),
            filename: m.filename.clone(),
            direction: m.direction.clone(),
            state: m.state.clone(),
            message_id: m.message_id,
            channel_id: m.channel_id,
            provider_media_id: m.provider_media_id.clone(),
            attempts: m.attempts,
            last_error: m.last_error.clone(),
            url: format!("/v1/media/{}", m.id),
            created_at: m.created_at,
            stored_at: m.stored_at,
        }
    }
}

fn media_store(state: &AppState) -> Result<MediaStore, ApiError> {
    MediaStore::from_config(&state.config).map_err(|e| ApiError::internal(&e))
}

async fn find(state: &AppState, auth: &TenantAuth, id: &str) -> Result<Media, ApiError> {
    let id: MediaId = id.parse().map_err(|_| ApiError::not_found("media"))?;
    Ok(state.store.media(auth.tenant_id, id).await?)
}

/// `GET /v1/media/{id}/info`
pub async fn info(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<MediaView>, ApiError> {
    let m = find(&state, &auth, &id).await?;
    Ok(Json(MediaView::new(&m)))
}

/// `GET /v1/media/{id}`
pub async fn download(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let m = find(&state, &auth, &id).await?;
    serve(&state, &m, &headers).await
}

/// Answers with a stored media's bytes (or why it has none yet), with caching headers.
pub async fn serve(state: &AppState, m: &Media, headers: &HeaderMap) -> Result<Response, ApiError> {
    let sha = match (m.state.as_str(), &m.sha256) {
        (state::STORED, Some(sha)) => sha.clone(),
        (state::FAILED, _) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "media_failed",
                format!(
                    "This media could not be downloaded from the provider and will not be: {}",
                    m.last_error.as_deref().unwrap_or("no reason was recorded")
                ),
            )
            .with_extra(serde_json::json!({ "state": m.state, "attempts": m.attempts })));
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "media_not_ready",
                "This media is still being downloaded from the provider; retry in a few seconds \
                 (GET /v1/media/{id}/info shows its state).",
            )
            .with_extra(serde_json::json!({
                "state": m.state,
                "attempts": m.attempts,
                "last_error": m.last_error,
            })));
        }
    };
    let etag = format!("\"{sha}\"");
    let mut out = HeaderMap::new();
    out.insert(header::ETAG, header_value(&etag));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if etag_matches(headers, &sha) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let object = match media_store(state)?.read(&m.storage_key).await {
        Ok(o) => o,
        Err(e @ MediaStoreError::NotFound(_)) => {
            tracing::error!(media_id = %m.id, key = %m.storage_key, error = %e, "a stored media file is missing from the media store");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "media_missing",
                "The file of this media is missing from the media store; the operator has been told in the logs.",
            ));
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let mime = m.mime_type.as_deref().unwrap_or("application/octet-stream");
    out.insert(header::CONTENT_TYPE, header_value(mime));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    out.insert(header::CONTENT_DISPOSITION, header_value(&disposition(m)));
    // Customer-supplied bytes: never let a browser guess a more dangerous type.
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok((StatusCode::OK, out, Body::from_stream(object.stream)).into_response())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

fn etag_matches(headers: &HeaderMap, sha: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == sha)
}

/// `attachment; filename="…"; filename*=UTF-8''…`, from the file's name or its id and type.
fn disposition(m: &Media) -> String {
    let name = match &m.filename {
        Some(n) => n.clone(),
        None => match m.mime_type.as_deref().and_then(limits::extension_for) {
            Some(ext) => format!("{}.{ext}", m.id),
            None => m.id.to_string(),
        },
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn multipart_error(e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "The upload is larger than the {} MB WhatsApp accepts for any file (documents); smaller limits apply to other types.",
                UPLOAD_MAX_BYTES / 1_000_000
            ),
        );
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_multipart",
        format!("The multipart body could not be read: {}.", e.body_text()),
    )
}

fn rejection(r: &MultipartRejection) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "Send the file as multipart/form-data with a `file` part (curl -F 'file=@photo.jpg;type=image/jpeg'): {}.",
            r.body_text()
        ),
    )
}

/// A short text field, at most [`TEXT_FIELD_BYTES`].
async fn text_field(mut field: Field<'_>, name: &'static str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > TEXT_FIELD_BYTES {
            return Err(ApiError::invalid(
                "invalid_value",
                name,
                format!("`{name}` is longer than {TEXT_FIELD_BYTES} bytes."),
            ));
        }
    }
    String::from_utf8(bytes)
        .map(|s| s.trim().to_owned())
        .map_err(|_| {
            ApiError::invalid(
                "invalid_value",
                name,
                format!("`{name}` is not UTF-8 text."),
            )
        })
}

/// A file name without any directory part or control characters.
fn clean_filename(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// What the `file` part was, once streamed into the store.
struct FilePart {
    writer: MediaWriter,
    content_type: Option<String>,
    filename: Option<String>,
}

/// Streams the `file` part into the store. Its size is bounded by the route's body limit
/// ([`UPLOAD_BODY_LIMIT`], answered 413); the per-type limits are checked once it is complete.
async fn receive_file(
    store: &MediaStore,
    key: &str,
    mut field: Field<'_>,
) -> Result<FilePart, ApiError> {
    let content_type = field.content_type().map(str::to_owned);
    let filename = field.file_name().and_then(clean_filename);
    let mut writer = store
        .writer(key)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                writer.abort().await;
                return Err(multipart_error(&e));
            }
        };
        if let Err(e) = writer.write(chunk).await {
            writer.abort().await;
            return Err(ApiError::internal(&e));
        }
    }
    Ok(FilePart {
        writer,
        content_type,
        filename,
    })
}

/// `POST /v1/media`
pub async fn upload(
    State(state): State<AppState>,
    auth: TenantAuth,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<MediaView>), ApiError> {
    let mut multipart = multipart.map_err(|r| rejection(&r))?;
    let store = media_store(&state)?;
    let id = MediaId::new();
    let key = storage_key(auth.tenant_id, id);
    let mut file: Option<FilePart> = None;
    let mut type_field: Option<String> = None;
    let mut filename_field: Option<String> = None;
    let result: Result<(), ApiError> = async {
        while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(&e))? {
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "file" if file.is_some() => {
                    return Err(ApiError::invalid("duplicate_field", "file", "Send one `file` part per upload."));
                }
                "file" => file = Some(receive_file(&store, &key, field).await?),
                "type" => type_field = Some(text_field(field, "type").await?),
                "filename" => filename_field = Some(text_field(field, "filename").await?),
                // Meta's upload form carries it; accepted so the same client code works.
                "messaging_product" => {
                    text_field(field, "messaging_product").await?;
                }
                other => {
                    return Err(ApiError::invalid(
                        "unknown_field",
                        other,
                        format!("`{other}` is not a field of an upload; send `file`, and optionally `type` and `filename`."),
                    ));
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Some(f) = file {
            f.writer.abort().await;
        }
        return Err(e);
    }
    let Some(part) = file else {
        return Err(ApiError::invalid(
            "missing_field",
            "file",
            "Send the file in a multipart part named `file` (curl -F 'file=@photo.jpg;type=image/jpeg').",
        ));
    };
    let filename = filename_field
        .as_deref()
        .and_then(clean_filename)
        .or(part.filename.clone());
    let declared = Declared {
        type_field: type_field.as_deref(),
        part_content_type: part.content_type.as_deref(),
        filename: filename.as_deref(),
    };
    let accepted = match limits::check_upload(&declared, part.writer.size(), part.writer.head()) {
        Ok(a) => a,
        Err(refusal) => {
            part.writer.abort().await;
            return Err(ApiError::invalid(
                refusal.code,
                refusal.field,
                refusal.message,
            ));
        }
    };
    let stored = StoredBytes {
        mime_type: Some(accepted.mime),
        size_bytes: part.writer.size(),
        sha256: hex::encode(part.writer.sha256()),
    };
    part.writer
        .commit()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let upload = NewUpload {
        id,
        tenant: auth.tenant_id,
        kind: accepted.kind.as_str().to_owned(),
        filename,
        stored,
    };
    match state.store.insert_upload(&upload).await {
        Ok(m) => {
            metrics::counter!("chasqui_media_uploads_total", "type" => upload.kind.clone())
                .increment(1);
            Ok((StatusCode::CREATED, Json(MediaView::new(&m))))
        }
        Err(e) => {
            if let Err(d) = store.delete(&key).await {
                tracing::warn!(error = %d, key = %key, "could not remove the file of an upload that was not recorded");
            }
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_directories_and_control_characters() {
        assert_eq!(
            clean_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            clean_filename("C:\\Users\\ana\\factura\n.pdf").as_deref(),
            Some("factura.pdf")
        );
        assert_eq!(clean_filename("  /  "), None);
    }

    #[test]
    fn if_none_match_accepts_lists_and_weak_tags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(etag_matches(&h, "abc"));
        assert!(!etag_matches(&h, "abd"));
    }
}
