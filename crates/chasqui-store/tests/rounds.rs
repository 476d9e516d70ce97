//! A round of webhooks in one transaction: many messages inserted in one statement, a customer
//! who writes many times costing one contact and one conversation write, and edits that arrive
//! in the same round as their message; run against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use chasqui_core::ids::{ChannelId, TenantId};
use chasqui_store::inbound::{ChangeAction, ContactIdentity, MessageChange, NewMessage};
use chasqui_store::messages::MessageFilter;
use chasqui_store::{Store, from_millis};

contract!(
    a_batch_insert_stores_each_provider_id_once_and_says_which_were_new,
    one_customer_writing_many_times_in_a_transaction_leaves_the_latest_times,
    edits_in_the_same_round_as_their_message_are_applied_in_either_order,
);

const T0: i64 = 1_700_000_000_000;

fn who(number: &str, name: &str) -> ContactIdentity {
    ContactIdentity {
        wa_id: Some(number.to_owned()),
        contact_key: Some(number.to_owned()),
        lookup_keys: vec![number.to_owned()],
        profile_name: Some(name.to_owned()),
        ..ContactIdentity::default()
    }
}

fn text(t: TenantId, ch: ChannelId, wamid: &str, body: &str, at: i64) -> NewMessage {
    NewMessage {
        tenant: t,
        channel: ch,
        conversation: None,
        contact: None,
        direction: "in",
        provider_message_id: Some(wamid.to_owned()),
        kind: "text".into(),
        status: "received".into(),
        body_text: Some(body.to_owned()),
        content: serde_json::json!({"message": {"provider_message_id": wamid, "content": {"kind": "text", "body": body}}}),
        context_message_id: None,
        provider_timestamp: Some(at),
    }
}

async fn wamids(store: &Store, t: TenantId) -> Vec<String> {
    let page = store
        .list_messages(t, &MessageFilter::default(), 1000, None)
        .await
        .unwrap();
    page.items
        .into_iter()
        .filter_map(|m| m.provider_message_id)
        .collect()
}

async fn a_batch_insert_stores_each_provider_id_once_and_says_which_were_new(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "500").await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_message(&text(t, ch, "wamid.OLD", "ya estaba", T0))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    // 600 rows: more than one statement's chunk; one stored before, one repeated inside.
    let mut rows: Vec<NewMessage> = (0..598)
        .map(|i| {
            text(
                t,
                ch,
                &format!("wamid.B{i:04}"),
                &format!("número {i}"),
                T0 + i,
            )
        })
        .collect();
    rows.insert(10, text(t, ch, "wamid.OLD", "otra vez", T0));
    rows.insert(400, text(t, ch, "wamid.B0003", "repetido", T0));
    let mut tx = store.begin().await.unwrap();
    let ids = tx.insert_messages(&rows).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(ids.len(), rows.len());
    assert!(ids[10].is_none(), "stored in an earlier transaction");
    assert!(ids[400].is_none(), "repeated earlier in the same batch");
    assert_eq!(ids.iter().filter(|i| i.is_some()).count(), 598);
    let mut distinct: Vec<_> = ids.iter().flatten().collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 598, "every new row has its own id");

    let mut stored = wamids(&store, t).await;
    assert_eq!(stored.len(), 599);
    stored.sort_unstable();
    stored.dedup();
    assert_eq!(stored.len(), 599, "each provider id once");
    // The first copy's text is the one kept.
    let f = MessageFilter {
        provider_message_id: Some("wamid.B0003".into()),
        ..MessageFilter::default()
    };
    let m = store.list_messages(t, &f, 2, None).await.unwrap().items;
    assert_eq!(m[0].body_text.as_deref(), Some("número 3"));
    // An id returned is the stored row's id.
    let f = MessageFilter {
        provider_message_id: Some("wamid.B0500".into()),
        ..MessageFilter::default()
    };
    let m = store.list_messages(t, &f, 2, None).await.unwrap().items;
    let at = rows
        .iter()
        .position(|r| r.provider_message_id.as_deref() == Some("wamid.B0500"))
        .unwrap();
    assert_eq!(Some(m[0].id), ids[at]);
}

async fn one_customer_writing_many_times_in_a_transaction_leaves_the_latest_times(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "500").await;
    let source = serde_json::json!({"type": "wame_ref", "ref": "PROMO"});
    let mut tx = store.begin().await.unwrap();
    let ana = who("5491155550001", "Ana");
    let (contact, created) = tx.upsert_contact(t, &ana).await.unwrap();
    assert!(created);
    let (conversation, opened) = tx
        .touch_conversation(t, ch, contact, T0 + 5_000, true, None)
        .await
        .unwrap();
    assert!(opened);
    // Later messages of the same customer, out of order, the second one with a source.
    for (at, src) in [(T0 + 1_000, None), (T0 + 9_000, Some(&source)), (T0, None)] {
        let (again, created) = tx.upsert_contact(t, &ana).await.unwrap();
        assert_eq!((again, created), (contact, false));
        let (same, opened) = tx
            .touch_conversation(t, ch, contact, at, true, src)
            .await
            .unwrap();
        assert_eq!((same, opened), (conversation, false));
    }
    // A new name for the same number still reaches the row.
    let renamed = who("5491155550001", "Ana María");
    assert_eq!(
        tx.upsert_contact(t, &renamed).await.unwrap(),
        (contact, false)
    );
    // An outbound touch moves the last message but not the customer's window.
    tx.touch_conversation(t, ch, contact, T0 + 20_000, false, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let c = store.conversation(t, conversation).await.unwrap();
    assert_eq!(c.last_inbound_at, Some(from_millis(T0 + 9_000)));
    assert_eq!(c.last_message_at, from_millis(T0 + 20_000));
    assert_eq!(c.source, Some(source));
    let saved = store.contact(t, contact).await.unwrap();
    assert_eq!(saved.profile_name.as_deref(), Some("Ana María"));

    // A transaction that is rolled back leaves nothing of its merged refreshes.
    let mut tx = store.begin().await.unwrap();
    tx.touch_conversation(t, ch, contact, T0 + 50_000, true, None)
        .await
        .unwrap();
    tx.touch_conversation(t, ch, contact, T0 + 60_000, true, None)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let c = store.conversation(t, conversation).await.unwrap();
    assert_eq!(c.last_inbound_at, Some(from_millis(T0 + 9_000)));
}

fn edit(t: TenantId, ch: ChannelId, original: &str, id: &str, body: &str) -> MessageChange {
    MessageChange {
        tenant: t,
        channel: ch,
        original_message_id: original.to_owned(),
        provider_message_id: id.to_owned(),
        occurred_at_ms: T0 + 60_000,
        action: ChangeAction::Edit {
            content: serde_json::json!({"kind": "text", "body": body}),
            body_text: Some(body.to_owned()),
        },
    }
}

async fn edits_in_the_same_round_as_their_message_are_applied_in_either_order(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "500").await;
    // A round as processing stages it: every message inserted in one statement, then the new
    // ones pick up changes recorded before, then this round's changes are recorded.
    let mut tx = store.begin().await.unwrap();
    // An edit of wamid.LATE arrived in an earlier round, before its message.
    tx.record_message_change(&edit(t, ch, "wamid.LATE", "wamid.E0", "corregido antes"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let rows = vec![
        text(t, ch, "wamid.E1", "editado", T0 + 60_000),
        text(t, ch, "wamid.FIRST", "original", T0),
        text(t, ch, "wamid.LATE", "llegó tarde", T0),
        text(t, ch, "wamid.PLAIN", "sin cambios", T0),
    ];
    let ids = tx.insert_messages(&rows).await.unwrap();
    assert!(ids.iter().all(Option::is_some));
    let fresh: Vec<(TenantId, ChannelId, &str)> = rows[1..]
        .iter()
        .map(|r| (t, ch, r.provider_message_id.as_deref().unwrap()))
        .collect();
    tx.apply_changes_to_new_messages(&fresh).await.unwrap();
    tx.record_message_change(&edit(t, ch, "wamid.FIRST", "wamid.E1", "corregido"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let text_of = |wamid: &'static str| {
        let store = store.clone();
        async move {
            let f = MessageFilter {
                provider_message_id: Some(wamid.into()),
                ..MessageFilter::default()
            };
            let m = store.list_messages(t, &f, 2, None).await.unwrap().items;
            (m[0].body_text.clone(), m[0].edited_at.is_some())
        }
    };
    assert_eq!(
        text_of("wamid.FIRST").await,
        (Some("corregido".into()), true)
    );
    assert_eq!(
        text_of("wamid.LATE").await,
        (Some("corregido antes".into()), true)
    );
    assert_eq!(
        text_of("wamid.PLAIN").await,
        (Some("sin cambios".into()), false)
    );
}
