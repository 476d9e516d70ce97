//! Media: files customers send (downloaded in the background from the provider into the media
//! store) and files tenants upload to send later, served back to their owner only.
//!
//! - [`enqueue_inbound`]: called while an inbound message is stored; records each attachment as
//!   `pending` and enqueues its `media.download` job in the same transaction.
//! - [`download`]: the job: provider lookup, download, size and SHA-256 checks, write to the
//!   store under `tenants/<tenant_id>/media/<media_id>`.
//! - [`http`]: `POST /v1/media`, `GET /v1/media/{id}`, `GET /v1/media/{id}/info`.
//! - [`limits`]: WhatsApp's media types, MIME types and sizes.
//! - [`object_store`]: the byte store (a local directory by default; an S3 or GCS bucket, under
//!   a prefix, when `storage.media_url` names one).

pub mod download;
pub mod http;
pub mod limits;
pub mod object_store;
pub mod shared_link;

use chasqui_core::ids::{MediaId, MessageId};
use chasqui_core::message::InboundMessage;
use chasqui_store::channels::Channel;
use chasqui_store::jobs::NewJob;
use chasqui_store::media::NewInboundMedia;
use chasqui_store::{StoreError, Tx};

use limits::{MediaKind, Mime};

/// The job kind that downloads one inbound media file.
pub const DOWNLOAD_JOB: &str = "media.download";

/// Attempts of a download job. With the worker's backoff (1 s doubling, capped at an hour, with
/// jitter) they span six to eight hours: a provider outage is ridden out well before Meta's
/// media ids expire (7 days), and the operator can still replay a dead job after that.
pub const DOWNLOAD_ATTEMPTS: u32 = 20;

/// Records every attachment of a newly stored inbound message as `pending` media and enqueues
/// one download job for each, inside the message's transaction (so a message is never stored
/// without its downloads, nor a download enqueued for a message that was rolled back).
/// Attachments with neither a provider id nor a URL cannot be fetched and are skipped.
pub async fn enqueue_inbound(
    tx: &mut Tx,
    channel: &Channel,
    message: MessageId,
    m: &InboundMessage,
) -> Result<Vec<MediaId>, StoreError> {
    let first = m
        .content
        .media()
        .map(|media| (Some(m.kind().to_owned()), media));
    let rest = m.additional_media.iter().map(|media| {
        let kind = media
            .mime_type
            .as_deref()
            .and_then(Mime::parse)
            .and_then(|mime| MediaKind::for_mime(&mime))
            .unwrap_or(MediaKind::Document);
        (Some(kind.as_str().to_owned()), media)
    });
    let mut ids = Vec::new();
    for (position, (kind, media)) in first.into_iter().chain(rest).enumerate() {
        if media.id.is_none() && media.url.is_none() {
            tracing::warn!(message_id = %message, position, "an attachment with neither a media id nor a URL cannot be downloaded");
            continue;
        }
        let row = NewInboundMedia {
            tenant: channel.tenant_id,
            channel: channel.id,
            message,
            position: u32::try_from(position).unwrap_or(u32::MAX),
            kind,
            provider_media_id: media.id.clone(),
            source_url: media.url.clone(),
            mime_type: media.mime_type.clone(),
            expected_sha256: media.sha256.clone(),
            filename: media.filename.clone(),
        };
        let Some(id) = tx.insert_inbound_media(&row).await? else {
            continue;
        };
        tx.enqueue(
            NewJob::new(DOWNLOAD_JOB, serde_json::json!({ "media_id": id }))
                .for_tenant(channel.tenant_id)
                .max_attempts(DOWNLOAD_ATTEMPTS),
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
