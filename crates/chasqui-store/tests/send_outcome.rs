//! What the sender records after a provider call (`mark_sent`), run against SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use chasqui_core::ids::{ChannelId, ContactId, MessageId, TenantId};
use chasqui_store::Store;
use chasqui_store::inbound::ContactIdentity;
use chasqui_store::outbound::{NewOutbound, Queued, ResolvedWaId};

contract!(
    mark_sent_stores_the_resolved_wa_id_on_the_contact_in_the_same_write,
    mark_sent_without_a_resolved_wa_id_leaves_the_contact_alone,
);

/// A contact known by a user id, and by `key` when given.
async fn contact(store: &Store, t: TenantId, user_id: &str, key: Option<&str>) -> ContactId {
    let mut tx = store.begin().await.unwrap();
    let (id, created) = tx
        .upsert_contact(
            t,
            &ContactIdentity {
                user_id: Some(user_id.to_owned()),
                wa_id: None,
                contact_key: key.map(str::to_owned),
                lookup_keys: key.iter().map(|k| (*k).to_owned()).collect(),
                username: None,
                profile_name: Some("Ana".into()),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(created);
    id
}

async fn queued(store: &Store, t: TenantId, ch: ChannelId, to: ContactId) -> MessageId {
    let new = NewOutbound {
        tenant: t,
        channel: ch,
        contact: Some(to),
        conversation: None,
        to_address: "5491123456789".into(),
        kind: "text".into(),
        body_text: Some("hola".into()),
        request: serde_json::json!({ "type": "text", "text": { "body": "hola" } }),
        context_message_id: None,
        max_attempts: 3,
    };
    match store
        .queue_outbound(&new, None, |id| serde_json::json!({ "id": id }))
        .await
        .unwrap()
    {
        Queued::New { id, .. } => id,
        other => panic!("not queued: {other:?}"),
    }
}

async fn mark_sent_stores_the_resolved_wa_id_on_the_contact_in_the_same_write(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    let ana = contact(&store, t, "AR.1", None).await;
    let id = queued(&store, t, ch, ana).await;
    store
        .mark_sent(
            t,
            id,
            ch,
            "wamid.SENT1",
            Some(ResolvedWaId {
                contact: ana,
                wa_id: "5491123456789",
                contact_key: "54:1123456789",
            }),
        )
        .await
        .unwrap();
    let message = store.message(t, id).await.unwrap();
    assert_eq!(message.status, "sent");
    assert_eq!(message.provider_message_id.as_deref(), Some("wamid.SENT1"));
    assert_eq!(message.attempts, 1);
    let stored = store.contact(t, ana).await.unwrap();
    assert_eq!(stored.wa_id.as_deref(), Some("5491123456789"));
    // The contact is now found by its number's key.
    let found = store
        .find_contact(t, None, &["54:1123456789".to_owned()])
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(ana));

    // A contact that has a key keeps it; its WhatsApp id follows the provider.
    let bea = contact(&store, t, "AR.2", Some("54:1199999999")).await;
    let id = queued(&store, t, ch, bea).await;
    store
        .mark_sent(
            t,
            id,
            ch,
            "wamid.SENT2",
            Some(ResolvedWaId {
                contact: bea,
                wa_id: "5491188888888",
                contact_key: "54:1188888888",
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        store.contact(t, bea).await.unwrap().wa_id.as_deref(),
        Some("5491188888888")
    );
    let by_old_key = store
        .find_contact(t, None, &["54:1199999999".to_owned()])
        .await
        .unwrap();
    assert_eq!(by_old_key.map(|c| c.id), Some(bea));
    assert!(
        store
            .find_contact(t, None, &["54:1188888888".to_owned()])
            .await
            .unwrap()
            .is_none()
    );

    // Another tenant's contact is never touched, even when named.
    let (other, _) = support::tenant_with_channel(&store, "200").await;
    let carla = contact(&store, other, "AR.3", None).await;
    let id = queued(&store, t, ch, ana).await;
    store
        .mark_sent(
            t,
            id,
            ch,
            "wamid.SENT3",
            Some(ResolvedWaId {
                contact: carla,
                wa_id: "5491177777777",
                contact_key: "54:1177777777",
            }),
        )
        .await
        .unwrap();
    assert_eq!(store.contact(other, carla).await.unwrap().wa_id, None);
}

async fn mark_sent_without_a_resolved_wa_id_leaves_the_contact_alone(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    let ana = contact(&store, t, "AR.1", None).await;
    let before = store.contact(t, ana).await.unwrap();
    let id = queued(&store, t, ch, ana).await;
    store
        .mark_sent(t, id, ch, "wamid.SENT1", None)
        .await
        .unwrap();
    assert_eq!(store.message(t, id).await.unwrap().status, "sent");
    assert_eq!(store.contact(t, ana).await.unwrap(), before);
}
