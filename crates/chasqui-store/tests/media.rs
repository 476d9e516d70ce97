//! The media storage contract (inbound attachments recorded once, state changes, uploads,
//! tenant isolation), run against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use chasqui_core::ids::{ChannelId, MediaId, MessageId, TenantId};
use chasqui_store::media::{NewInboundMedia, NewUpload, StoredBytes, storage_key, tenant_prefix};
use chasqui_store::{Store, StoreError};

contract!(
    inbound_attachments_are_recorded_once_per_message_and_position,
    downloads_move_from_pending_to_stored_or_failed_and_stored_is_final,
    uploads_are_stored_under_the_tenant_prefix,
    tenants_never_see_each_others_media,
);

fn attachment(tenant: TenantId, message: MessageId, position: u32) -> NewInboundMedia {
    NewInboundMedia {
        tenant,
        channel: ChannelId::new(),
        message,
        position,
        kind: Some("image".into()),
        provider_media_id: Some(format!("meta-{position}")),
        source_url: None,
        mime_type: Some("image/jpeg".into()),
        expected_sha256: Some("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=".into()),
        filename: None,
    }
}

async fn inbound_attachments_are_recorded_once_per_message_and_position(store: Store) {
    let t = support::tenant(&store, "T").await;
    let msg = MessageId::new();
    let mut tx = store.begin().await.unwrap();
    let second = tx
        .insert_inbound_media(&attachment(t, msg, 1))
        .await
        .unwrap()
        .unwrap();
    let first = tx
        .insert_inbound_media(&attachment(t, msg, 0))
        .await
        .unwrap()
        .unwrap();
    // The same attachment of the same message again (a repeated delivery): nothing new.
    assert_eq!(
        tx.insert_inbound_media(&attachment(t, msg, 0))
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
    let media = store.media_for_message(t, msg).await.unwrap();
    assert_eq!(
        media.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![first, second],
        "in attachment order"
    );
    let m = &media[0];
    assert_eq!(
        (m.state.as_str(), m.direction.as_str(), m.attempts),
        ("pending", "in", 0)
    );
    assert_eq!(m.provider_media_id.as_deref(), Some("meta-0"));
    assert_eq!(
        m.expected_sha256.as_deref(),
        Some("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=")
    );
    assert_eq!(m.storage_key, storage_key(t, m.id));
    assert!(m.storage_key.starts_with(&format!("tenants/{t}/media/")));
    assert_eq!(
        (m.size_bytes, m.sha256.as_deref(), m.stored_at),
        (None, None, None)
    );
    // Rolled back with its message: never recorded.
    let other_msg = MessageId::new();
    let mut tx = store.begin().await.unwrap();
    tx.insert_inbound_media(&attachment(t, other_msg, 0))
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        store
            .media_for_message(t, other_msg)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn downloads_move_from_pending_to_stored_or_failed_and_stored_is_final(store: Store) {
    let t = support::tenant(&store, "T").await;
    let msg = MessageId::new();
    let mut tx = store.begin().await.unwrap();
    let a = tx
        .insert_inbound_media(&attachment(t, msg, 0))
        .await
        .unwrap()
        .unwrap();
    let b = tx
        .insert_inbound_media(&attachment(t, msg, 1))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store
            .record_media_attempt(t, a, "503 from the provider")
            .await
            .unwrap(),
        1
    );
    let m = store.media(t, a).await.unwrap();
    assert_eq!(
        (m.state.as_str(), m.attempts, m.last_error.as_deref()),
        ("pending", 1, Some("503 from the provider"))
    );
    let stored = StoredBytes {
        mime_type: None,
        size_bytes: 5_000_000_000,
        sha256: "ab".repeat(32),
    };
    store.mark_media_stored(t, a, &stored).await.unwrap();
    let m = store.media(t, a).await.unwrap();
    assert_eq!(
        (m.state.as_str(), m.attempts, m.last_error),
        ("stored", 2, None)
    );
    assert_eq!(
        m.size_bytes,
        Some(5_000_000_000),
        "sizes beyond 32 bits survive"
    );
    assert_eq!(
        m.mime_type.as_deref(),
        Some("image/jpeg"),
        "a missing MIME type keeps the declared one"
    );
    assert!(m.stored_at.is_some());
    // A late failure report (a worker that lost its lease) never downgrades a stored file.
    assert!(!store.mark_media_failed(t, a, "too late").await.unwrap());
    assert_eq!(
        store.record_media_attempt(t, a, "too late").await.unwrap(),
        2
    );
    assert_eq!(store.media(t, a).await.unwrap().state, "stored");

    assert!(
        store
            .mark_media_failed(t, b, "expired (code 100)")
            .await
            .unwrap()
    );
    let m = store.media(t, b).await.unwrap();
    assert_eq!(
        (m.state.as_str(), m.attempts, m.last_error.as_deref()),
        ("failed", 1, Some("expired (code 100)"))
    );
    // A replayed download starts again from pending.
    store.record_media_attempt(t, b, "retrying").await.unwrap();
    assert_eq!(store.media(t, b).await.unwrap().state, "pending");
    assert!(matches!(
        store.mark_media_stored(t, MediaId::new(), &stored).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn uploads_are_stored_under_the_tenant_prefix(store: Store) {
    let t = support::tenant(&store, "T").await;
    let id = MediaId::new();
    let m = store
        .insert_upload(&NewUpload {
            id,
            tenant: t,
            kind: "document".into(),
            filename: Some("factura.pdf".into()),
            stored: StoredBytes {
                mime_type: Some("application/pdf".into()),
                size_bytes: 1234,
                sha256: "cd".repeat(32),
            },
        })
        .await
        .unwrap();
    assert_eq!(m.id, id);
    assert_eq!(
        (m.state.as_str(), m.direction.as_str(), m.kind.as_deref()),
        ("stored", "out", Some("document"))
    );
    assert_eq!((m.message_id, m.channel_id, m.attempts), (None, None, 0));
    assert_eq!(m.size_bytes, Some(1234));
    assert_eq!(m.filename.as_deref(), Some("factura.pdf"));
    assert!(m.storage_key.starts_with(&tenant_prefix(t)));
    assert!(m.stored_at.is_some());
}

async fn tenants_never_see_each_others_media(store: Store) {
    let a = support::tenant(&store, "A").await;
    let b = support::tenant(&store, "B").await;
    assert_ne!(tenant_prefix(a), tenant_prefix(b));
    let msg = MessageId::new();
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .insert_inbound_media(&attachment(a, msg, 0))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        store.media(b, id).await,
        Err(StoreError::NotFound("media"))
    ));
    assert!(store.media_for_message(b, msg).await.unwrap().is_empty());
    // Writes scoped to another tenant change nothing.
    assert!(!store.mark_media_failed(b, id, "x").await.unwrap());
    assert!(
        store
            .mark_media_stored(
                b,
                id,
                &StoredBytes {
                    mime_type: None,
                    size_bytes: 1,
                    sha256: "00".repeat(32)
                }
            )
            .await
            .is_err()
    );
    assert!(store.record_media_attempt(b, id, "x").await.is_err());
    let m = store.media(a, id).await.unwrap();
    assert_eq!((m.state.as_str(), m.attempts), ("pending", 0));
}
