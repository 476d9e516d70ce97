//! Media metadata: every file received from a customer or uploaded by a tenant. The bytes live in
//! an object store (see the binary's `media` module) under [`storage_key`], which always starts
//! with `tenants/<tenant_id>/`; the database keeps the key, MIME type, size, SHA-256 and state.
//!
//! Inbound media rows are created `pending` in the same transaction as their message, and the
//! download job moves them to `stored` or `failed`. Uploads are inserted already `stored`.

use chasqui_core::ids::{ChannelId, MediaId, MessageId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Store, from_millis, now_millis};

/// Media states.
pub mod state {
    /// Known, bytes not stored yet (inbound download pending or being retried).
    pub const PENDING: &str = "pending";
    /// Bytes stored and checked; servable.
    pub const STORED: &str = "stored";
    /// Given up (expired media id, refused, too large, checksum never matched…); see `last_error`.
    pub const FAILED: &str = "failed";
}

/// Media directions.
pub mod direction {
    /// Received from a customer.
    pub const IN: &str = "in";
    /// Uploaded by the tenant, to send.
    pub const OUT: &str = "out";
}

/// The object-store key of a media file: always below the tenant's own prefix.
pub fn storage_key(tenant: TenantId, id: MediaId) -> String {
    format!("{}{id}", tenant_prefix(tenant))
}

/// The prefix under which every media file of a tenant is stored.
pub fn tenant_prefix(tenant: TenantId) -> String {
    format!("tenants/{tenant}/media/")
}

/// A media file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Its id.
    pub id: MediaId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The message it came with (inbound); `None` for an upload.
    pub message_id: Option<MessageId>,
    /// The channel it came through (inbound).
    pub channel_id: Option<ChannelId>,
    /// Which attachment of the message (0 for the first).
    pub position: u32,
    /// `in` or `out`.
    pub direction: String,
    /// WhatsApp media type: `image`, `audio`, `video`, `document`, `sticker`.
    pub kind: Option<String>,
    /// The provider's media id (Meta, 360dialog).
    pub provider_media_id: Option<String>,
    /// The provider's URL (Twilio media URL, Chatwoot `data_url`).
    pub source_url: Option<String>,
    /// The object-store key (below `tenants/<tenant_id>/`).
    pub storage_key: String,
    /// MIME type (as the provider or uploader declared it, normalised).
    pub mime_type: Option<String>,
    /// Size of the stored bytes.
    pub size_bytes: Option<u64>,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// The checksum the provider declared (base64 or hex, as sent).
    pub expected_sha256: Option<String>,
    /// File name, when known.
    pub filename: Option<String>,
    /// `pending`, `stored` or `failed`.
    pub state: String,
    /// Download attempts made.
    pub attempts: u32,
    /// Why the last attempt failed (or why it was given up).
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its bytes were stored.
    pub stored_at: Option<DateTime<Utc>>,
}

/// An inbound attachment to record (and download later).
#[derive(Debug, Clone)]
pub struct NewInboundMedia {
    /// The tenant.
    pub tenant: TenantId,
    /// The channel it came through.
    pub channel: ChannelId,
    /// The message it came with.
    pub message: MessageId,
    /// Which attachment of the message.
    pub position: u32,
    /// WhatsApp media type, when known.
    pub kind: Option<String>,
    /// The provider's media id.
    pub provider_media_id: Option<String>,
    /// The provider's URL.
    pub source_url: Option<String>,
    /// Declared MIME type.
    pub mime_type: Option<String>,
    /// Declared checksum.
    pub expected_sha256: Option<String>,
    /// File name.
    pub filename: Option<String>,
}

/// What a finished download or upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBytes {
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Hex SHA-256.
    pub sha256: String,
}

/// A tenant's upload, already written to the object store under [`storage_key`].
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// The id chosen before writing (its key derives from it).
    pub id: MediaId,
    /// The tenant.
    pub tenant: TenantId,
    /// WhatsApp media type.
    pub kind: String,
    /// File name.
    pub filename: Option<String>,
    /// What was stored.
    pub stored: StoredBytes,
}

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: String,
    tenant_id: String,
    message_id: Option<String>,
    channel_id: Option<String>,
    position: i64,
    direction: String,
    kind: Option<String>,
    provider_media_id: Option<String>,
    source_url: Option<String>,
    storage_key: String,
    mime_type: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    expected_sha256: Option<String>,
    filename: Option<String>,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    stored_at: Option<i64>,
}

const SELECT: &str = "SELECT id, tenant_id, message_id, channel_id, position, direction, kind, provider_media_id, \
                      source_url, storage_key, mime_type, size_bytes, sha256, expected_sha256, filename, state, \
                      attempts, last_error, created_at, updated_at, stored_at FROM media";

impl TryFrom<MediaRow> for Media {
    type Error = StoreError;

    fn try_from(r: MediaRow) -> Result<Self> {
        Ok(Media {
            id: parse_id(&r.id, "media.id")?,
            tenant_id: parse_id(&r.tenant_id, "media.tenant_id")?,
            message_id: r
                .message_id
                .as_deref()
                .map(|m| parse_id(m, "media.message_id"))
                .transpose()?,
            channel_id: r
                .channel_id
                .as_deref()
                .map(|c| parse_id(c, "media.channel_id"))
                .transpose()?,
            position: u32::try_from(r.position).unwrap_or(u32::MAX),
            direction: r.direction,
            kind: r.kind,
            provider_media_id: r.provider_media_id,
            source_url: r.source_url,
            storage_key: r.storage_key,
            mime_type: r.mime_type,
            size_bytes: r.size_bytes.map(|s| u64::try_from(s).unwrap_or(0)),
            sha256: r.sha256,
            expected_sha256: r.expected_sha256,
            filename: r.filename,
            state: r.state,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_error: r.last_error,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
            stored_at: r.stored_at.map(from_millis),
        })
    }
}

fn size_column(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

impl Tx {
    /// Records an inbound attachment as `pending`; `None` when this attachment of this message
    /// was already recorded (a repeated delivery), so the caller enqueues its download once.
    pub async fn insert_inbound_media(&mut self, m: &NewInboundMedia) -> Result<Option<MediaId>> {
        let id = MediaId::new();
        let now = now_millis();
        let row: Option<(String,)> = with_tx!(self, c => sqlx::query_as(
            "INSERT INTO media (id, tenant_id, message_id, channel_id, position, direction, kind, provider_media_id, \
             source_url, storage_key, mime_type, expected_sha256, filename, state, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'in', $6, $7, $8, $9, $10, $11, $12, 'pending', 0, $13, $13) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(id.to_string())
        .bind(m.tenant.to_string())
        .bind(m.message.to_string())
        .bind(m.channel.to_string())
        .bind(i64::from(m.position))
        .bind(&m.kind)
        .bind(&m.provider_media_id)
        .bind(&m.source_url)
        .bind(storage_key(m.tenant, id))
        .bind(&m.mime_type)
        .bind(&m.expected_sha256)
        .bind(&m.filename)
        .bind(now)
        .fetch_optional(c)
        .await?);
        Ok(row.map(|_| id))
    }
}

impl Store {
    /// One media file of a tenant; another tenant's id is `NotFound`.
    pub async fn media(&self, tenant: TenantId, id: MediaId) -> Result<Media> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1 AND tenant_id = $2"));
        let row: Option<MediaRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("media"))?.try_into()
    }

    /// The media of one message of a tenant, in attachment order (empty for another tenant's
    /// message or a message without media).
    pub async fn media_for_message(
        &self,
        tenant: TenantId,
        message: MessageId,
    ) -> Result<Vec<Media>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE message_id = $1 AND tenant_id = $2 ORDER BY position, id"
        ));
        let rows: Vec<MediaRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(message.to_string())
            .bind(tenant.to_string())
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Media::try_from).collect()
    }

    /// Counts a download attempt that failed and will be retried, keeping its reason; a stored
    /// media file is left alone. Returns the attempts made so far.
    pub async fn record_media_attempt(
        &self,
        tenant: TenantId,
        id: MediaId,
        error: &str,
    ) -> Result<u32> {
        let attempts: Option<i64> = with_pool!(self, p => sqlx::query_scalar(
            "UPDATE media SET attempts = attempts + 1, last_error = $3, state = 'pending', updated_at = $4 \
             WHERE id = $1 AND tenant_id = $2 AND state <> 'stored' RETURNING attempts",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(error)
        .bind(now_millis())
        .fetch_optional(p)
        .await?);
        match attempts {
            Some(n) => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            None => self.media(tenant, id).await.map(|m| m.attempts),
        }
    }

    /// Gives a download up: `failed` with the reason (counts the attempt). A stored file is
    /// never downgraded; `false` then.
    pub async fn mark_media_failed(
        &self,
        tenant: TenantId,
        id: MediaId,
        reason: &str,
    ) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE media SET attempts = attempts + 1, last_error = $3, state = 'failed', updated_at = $4 \
             WHERE id = $1 AND tenant_id = $2 AND state <> 'stored'",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(reason)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Records a finished download: `stored`, with what was stored (counts the attempt).
    pub async fn mark_media_stored(
        &self,
        tenant: TenantId,
        id: MediaId,
        stored: &StoredBytes,
    ) -> Result<()> {
        let now = now_millis();
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE media SET state = 'stored', mime_type = COALESCE($3, mime_type), size_bytes = $4, sha256 = $5, \
             last_error = NULL, attempts = attempts + 1, stored_at = $6, updated_at = $6 \
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&stored.mime_type)
        .bind(size_column(stored.size_bytes))
        .bind(&stored.sha256)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("media"));
        }
        Ok(())
    }

    /// Records a tenant's upload (its bytes already written under [`storage_key`]) as `stored`.
    pub async fn insert_upload(&self, u: &NewUpload) -> Result<Media> {
        let now = now_millis();
        with_pool!(self, p => sqlx::query(
            "INSERT INTO media (id, tenant_id, position, direction, kind, storage_key, mime_type, size_bytes, sha256, \
             filename, state, attempts, created_at, updated_at, stored_at) \
             VALUES ($1, $2, 0, 'out', $3, $4, $5, $6, $7, $8, 'stored', 0, $9, $9, $9)",
        )
        .bind(u.id.to_string())
        .bind(u.tenant.to_string())
        .bind(&u.kind)
        .bind(storage_key(u.tenant, u.id))
        .bind(&u.stored.mime_type)
        .bind(size_column(u.stored.size_bytes))
        .bind(&u.stored.sha256)
        .bind(&u.filename)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        self.media(u.tenant, u.id).await
    }
}
