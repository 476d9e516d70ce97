//! The inbound storage contract (contacts, conversations, messages, statuses, receipts), run
//! against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod support;

use std::collections::HashSet;
use std::time::Duration;

use chasqui_core::ids::{ChannelId, TenantId};
use chasqui_core::status::Status;
use chasqui_store::inbound::{
    ChangeAction, ChangeOutcome, ContactIdentity, MessageChange, NewMessage, StatusRecord,
};
use chasqui_store::{Store, StoreError};

contract!(
    contacts_match_across_number_variants_and_user_ids,
    a_message_delivered_twenty_times_concurrently_is_stored_once,
    statuses_in_every_order_end_in_the_same_status_with_full_history,
    receipts_are_durable_and_requeued_when_their_channel_appears,
    tenants_never_see_each_others_conversations_or_messages,
    an_edit_after_its_message_replaces_the_text_and_keeps_every_version,
    an_edit_before_its_message_is_applied_when_the_message_arrives,
    a_repeated_or_older_edit_never_overwrites_a_newer_one,
    a_revoke_in_either_order_hides_the_text_and_keeps_the_content,
    edits_never_reach_another_tenant_or_an_outbound_message,
    a_message_and_its_edit_committed_concurrently_always_meet,
    message_filters_stay_within_the_tenant_and_page_through_every_match,
);

fn identity(wa_id: Option<&str>, user_id: Option<&str>, keys: &[&str]) -> ContactIdentity {
    ContactIdentity {
        user_id: user_id.map(str::to_owned),
        wa_id: wa_id.map(str::to_owned),
        contact_key: keys.first().map(|k| (*k).to_owned()),
        lookup_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        username: None,
        profile_name: Some("Ana".into()),
    }
}

async fn contacts_match_across_number_variants_and_user_ids(store: Store) {
    let (t, _) = support::tenant_with_channel(&store, "100").await;
    let mut tx = store.begin().await.unwrap();
    let (a, created) = tx
        .upsert_contact(
            t,
            &identity(Some("5491123456789"), None, &["54:1123456789"]),
        )
        .await
        .unwrap();
    assert!(created);
    // The same person writing from the 54… form, with a user id now: same contact, user id learnt.
    let (b, created) = tx
        .upsert_contact(
            t,
            &identity(
                Some("541123456789"),
                Some("AR.1"),
                &["54:1123456789", "54:x"],
            ),
        )
        .await
        .unwrap();
    assert_eq!((a, created), (b, false));
    // Known by user id only (username user, no number): still the same contact.
    let (c, _) = tx
        .upsert_contact(t, &identity(None, Some("AR.1"), &[]))
        .await
        .unwrap();
    assert_eq!(c, a);
    // A different person.
    let (d, created) = tx
        .upsert_contact(
            t,
            &identity(Some("5491199999999"), None, &["54:1199999999"]),
        )
        .await
        .unwrap();
    assert!(created && d != a);
    tx.commit().await.unwrap();
    let contact = store.contact(t, a).await.unwrap();
    assert_eq!(contact.user_id.as_deref(), Some("AR.1"));
    assert_eq!(contact.wa_id.as_deref(), Some("541123456789"));
    // Another tenant's contacts are separate.
    let (other, _) = support::tenant_with_channel(&store, "200").await;
    let mut tx = store.begin().await.unwrap();
    let (e, created) = tx
        .upsert_contact(
            other,
            &identity(Some("5491123456789"), None, &["54:1123456789"]),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(created && e != a);
    assert!(matches!(
        store.contact(other, a).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn store_inbound(store: &Store, t: TenantId, ch: ChannelId, wamid: &str) -> bool {
    let mut tx = store.begin().await.unwrap();
    let (contact, _) = tx
        .upsert_contact(
            t,
            &identity(Some("5491123456789"), None, &["54:1123456789"]),
        )
        .await
        .unwrap();
    let (conv, _) = tx
        .touch_conversation(t, ch, contact, 1_700_000_000_000, true, None)
        .await
        .unwrap();
    let inserted = tx
        .insert_message(&NewMessage {
            tenant: t,
            channel: ch,
            conversation: Some(conv),
            contact: Some(contact),
            direction: "in",
            provider_message_id: Some(wamid.to_owned()),
            kind: "text".into(),
            status: "received".into(),
            body_text: Some("hola".into()),
            content: serde_json::json!({"type": "text"}),
            context_message_id: None,
            provider_timestamp: Some(1_700_000_000_000),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    inserted.is_some()
}

async fn a_message_delivered_twenty_times_concurrently_is_stored_once(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            store_inbound(&s, t, ch, "wamid.SAME").await
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        inserted += usize::from(task.await.unwrap());
    }
    assert_eq!(inserted, 1);
    assert_eq!(
        store
            .list_messages(t, &Default::default(), 50, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let convs = store
        .list_conversations(t, &Default::default(), 50, None)
        .await
        .unwrap();
    assert_eq!(
        convs.items.len(),
        1,
        "one open conversation per contact and channel"
    );
    assert_eq!(
        convs.items[0].last_inbound_at.unwrap().timestamp_millis(),
        1_700_000_000_000
    );
    assert_eq!(
        store
            .list_contacts(t, &Default::default(), 50, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn insert_outbound(store: &Store, t: TenantId, ch: ChannelId, wamid: &str) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_message(&NewMessage {
        tenant: t,
        channel: ch,
        conversation: None,
        contact: None,
        direction: "out",
        provider_message_id: Some(wamid.to_owned()),
        kind: "text".into(),
        status: "queued".into(),
        body_text: Some("hi".into()),
        content: serde_json::json!({}),
        context_message_id: None,
        provider_timestamp: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn statuses_in_every_order_end_in_the_same_status_with_full_history(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    let orders: Vec<Vec<Status>> = vec![
        vec![Status::Sent, Status::Delivered, Status::Read],
        vec![Status::Read, Status::Delivered, Status::Sent],
        vec![Status::Delivered, Status::Read, Status::Sent, Status::Read],
        vec![Status::Sent, Status::Failed, Status::Delivered],
        vec![Status::Failed, Status::Sent],
        vec![Status::Played, Status::Sent, Status::Read],
    ];
    for (i, order) in orders.iter().enumerate() {
        let wamid = format!("wamid.OUT{i}");
        // Every other case: statuses arrive before the message row exists.
        let early = i % 2 == 1;
        if !early {
            insert_outbound(&store, t, ch, &wamid).await;
        }
        for st in order {
            let mut tx = store.begin().await.unwrap();
            let payload = serde_json::json!({"status": st.as_str()});
            let error = (*st == Status::Failed)
                .then(|| ("131026".to_owned(), "Message undeliverable".to_owned()));
            tx.record_status(&StatusRecord {
                tenant: t,
                channel: ch,
                provider_message_id: &wamid,
                status: *st,
                occurred_at_ms: 1_700_000_000_000 + i64::from(st.rank()),
                payload: &payload,
                error,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
        if early {
            insert_outbound(&store, t, ch, &wamid).await;
            let mut tx = store.begin().await.unwrap();
            tx.apply_recorded_statuses(t, ch, &wamid).await.unwrap();
            tx.commit().await.unwrap();
        }
        let f = chasqui_store::messages::MessageFilter {
            provider_message_id: Some(wamid.clone()),
            ..Default::default()
        };
        let m = store
            .list_messages(t, &f, 1, None)
            .await
            .unwrap()
            .items
            .remove(0);
        let expected = chasqui_core::status::merge_all(order.iter().copied()).unwrap();
        assert_eq!(m.status, expected.as_str(), "order {order:?}");
        let history = store.message_history(t, &m).await.unwrap();
        let distinct: HashSet<_> = order.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            history.len(),
            distinct.len(),
            "one history row per distinct status: {order:?}"
        );
        if order.contains(&Status::Failed) && !early {
            assert_eq!(m.error_code.as_deref(), Some("131026"));
        }
    }
}

async fn receipts_are_durable_and_requeued_when_their_channel_appears(store: Store) {
    use chasqui_store::receipts::{NewReceipt, state};
    let body = br#"{"object":"whatsapp_business_account"}"#.to_vec();
    let id = store
        .store_receipts(&[NewReceipt {
            provider: "whatsapp".into(),
            channel_id: None,
            tenant_id: None,
            body: body.clone(),
            headers: serde_json::json!({"content-type": "application/json"}),
        }])
        .await
        .unwrap()[0];
    // The committed receipt is its own queue entry: pending, for the processor.
    let pending = store
        .pending_receipts(10, chasqui_store::receipts::Share::ALL)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, id);
    assert_eq!(store.receipt(id).await.unwrap().body, body);
    store
        .mark_receipt(id, state::UNROUTED, None, Some("phone_number_id:42"), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .list_receipts(state::UNROUTED, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store.requeue_unrouted("phone_number_id:41").await.unwrap(),
        0
    );
    assert_eq!(
        store.requeue_unrouted("phone_number_id:42").await.unwrap(),
        1
    );
    assert_eq!(store.receipt(id).await.unwrap().state, state::PENDING);
    assert_eq!(
        store
            .claim_jobs("default", 10, Duration::from_secs(60))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn tenants_never_see_each_others_conversations_or_messages(store: Store) {
    let (a, cha) = support::tenant_with_channel(&store, "100").await;
    let (b, chb) = support::tenant_with_channel(&store, "200").await;
    assert!(store_inbound(&store, a, cha, "wamid.A").await);
    assert!(store_inbound(&store, b, chb, "wamid.B").await);
    let ma = store
        .list_messages(a, &Default::default(), 50, None)
        .await
        .unwrap()
        .items;
    let mb = store
        .list_messages(b, &Default::default(), 50, None)
        .await
        .unwrap()
        .items;
    assert_eq!(ma.len(), 1);
    assert_eq!(mb.len(), 1);
    assert!(matches!(
        store.message(b, ma[0].id).await,
        Err(StoreError::NotFound(_))
    ));
    let ca = store
        .list_conversations(a, &Default::default(), 50, None)
        .await
        .unwrap()
        .items;
    assert!(matches!(
        store.conversation(b, ca[0].id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.channel(b, cha).await,
        Err(StoreError::NotFound(_))
    ));
    let search = chasqui_store::messages::MessageFilter {
        q: Some("HOLA".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_messages(b, &search, 50, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

const T0: i64 = 1_749_854_500_000;

/// Stores a customer's text message the way processing does: the row, then any edits and
/// revokes that arrived before it.
async fn receive_text(
    store: &Store,
    t: TenantId,
    ch: ChannelId,
    wamid: &str,
    body: &str,
) -> ChangeOutcome {
    let mut tx = store.begin().await.unwrap();
    let content = serde_json::json!({"kind": "text", "body": body});
    tx.insert_message(&NewMessage {
        tenant: t,
        channel: ch,
        conversation: None,
        contact: None,
        direction: "in",
        provider_message_id: Some(wamid.to_owned()),
        kind: "text".into(),
        status: "received".into(),
        body_text: Some(body.to_owned()),
        content: serde_json::json!({"message": {"provider_message_id": wamid, "content": content}, "raw": {"id": wamid}}),
        context_message_id: None,
        provider_timestamp: Some(T0),
    })
    .await
    .unwrap()
    .unwrap();
    let outcome = tx.apply_message_changes(t, ch, wamid).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

/// Stores an edit (or, with `body = None`, a revoke) the way processing does: its own record
/// row, then the change.
async fn change(
    store: &Store,
    t: TenantId,
    ch: ChannelId,
    original: &str,
    id: &str,
    at_ms: i64,
    body: Option<&str>,
) -> ChangeOutcome {
    let mut tx = store.begin().await.unwrap();
    let (kind, action) = match body {
        Some(b) => (
            "edit",
            ChangeAction::Edit {
                content: serde_json::json!({"kind": "text", "body": b}),
                body_text: Some(b.to_owned()),
            },
        ),
        None => ("revoke", ChangeAction::Revoke),
    };
    tx.insert_message(&NewMessage {
        tenant: t,
        channel: ch,
        conversation: None,
        contact: None,
        direction: "in",
        provider_message_id: Some(id.to_owned()),
        kind: kind.into(),
        status: "received".into(),
        body_text: body.map(str::to_owned),
        content: serde_json::json!({}),
        context_message_id: None,
        provider_timestamp: Some(at_ms),
    })
    .await
    .unwrap();
    let outcome = tx
        .record_message_change(&MessageChange {
            tenant: t,
            channel: ch,
            original_message_id: original.to_owned(),
            provider_message_id: id.to_owned(),
            occurred_at_ms: at_ms,
            action,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    outcome
}

async fn by_wamid(store: &Store, t: TenantId, wamid: &str) -> chasqui_store::messages::Message {
    let f = chasqui_store::messages::MessageFilter {
        provider_message_id: Some(wamid.to_owned()),
        ..Default::default()
    };
    let mut items = store.list_messages(t, &f, 2, None).await.unwrap().items;
    assert_eq!(items.len(), 1, "{wamid}");
    items.remove(0)
}

/// The provider ids of the messages a full-text search finds.
async fn search(store: &Store, t: TenantId, q: &str) -> Vec<String> {
    let f = chasqui_store::messages::MessageFilter {
        q: Some(q.to_owned()),
        ..Default::default()
    };
    store
        .list_messages(t, &f, 50, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|m| m.provider_message_id)
        .collect()
}

fn assert_edited(m: &chasqui_store::messages::Message, body: &str, at_ms: i64, original: &str) {
    assert_eq!(m.body_text.as_deref(), Some(body));
    assert_eq!(m.content["message"]["content"]["body"], body);
    assert_eq!(m.edited_at.map(|e| e.timestamp_millis()), Some(at_ms));
    assert_eq!(m.revoked_at, None);
    assert_eq!(m.content["original"]["text"], original);
    assert_eq!(m.content["original"]["content"]["body"], original);
    assert_eq!(m.kind, "text");
}

async fn an_edit_after_its_message_replaces_the_text_and_keeps_every_version(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    assert!(matches!(
        receive_text(&store, t, ch, "wamid.O", "turno el martes").await,
        ChangeOutcome::Applied { changed: false, .. }
    ));
    assert_eq!(search(&store, t, "martes").await, ["wamid.O"]);
    let outcome = change(
        &store,
        t,
        ch,
        "wamid.O",
        "wamid.E",
        T0 + 60_000,
        Some("turno el jueves"),
    )
    .await;
    let m = by_wamid(&store, t, "wamid.O").await;
    assert_eq!(
        outcome,
        ChangeOutcome::Applied {
            message: m.id,
            changed: true
        }
    );
    assert_edited(&m, "turno el jueves", T0 + 60_000, "turno el martes");
    assert_eq!(m.content["raw"]["id"], "wamid.O", "the raw payload is kept");
    let edits = m.content["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["provider_message_id"], "wamid.E");
    assert_eq!(edits[0]["edited_at"], T0 + 60_000);
    // Search finds the new text on the message (and only there), and no longer the old.
    assert_eq!(search(&store, t, "jueves").await, ["wamid.O"]);
    assert!(search(&store, t, "martes").await.is_empty());
    // The edit stays a record of its own, with its content.
    assert_eq!(by_wamid(&store, t, "wamid.E").await.kind, "edit");
}

async fn an_edit_before_its_message_is_applied_when_the_message_arrives(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    assert_eq!(
        change(
            &store,
            t,
            ch,
            "wamid.O",
            "wamid.E",
            T0 + 60_000,
            Some("turno el jueves")
        )
        .await,
        ChangeOutcome::Pending
    );
    // Until its message is known, the edit can be found by its own text.
    assert_eq!(search(&store, t, "jueves").await, ["wamid.E"]);
    let outcome = receive_text(&store, t, ch, "wamid.O", "turno el martes").await;
    let m = by_wamid(&store, t, "wamid.O").await;
    assert_eq!(
        outcome,
        ChangeOutcome::Applied {
            message: m.id,
            changed: true
        }
    );
    assert_edited(&m, "turno el jueves", T0 + 60_000, "turno el martes");
    assert_eq!(search(&store, t, "jueves").await, ["wamid.O"]);
    assert!(search(&store, t, "martes").await.is_empty());
}

async fn a_repeated_or_older_edit_never_overwrites_a_newer_one(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    receive_text(&store, t, ch, "wamid.O", "uno").await;
    change(
        &store,
        t,
        ch,
        "wamid.O",
        "wamid.E2",
        T0 + 2_000,
        Some("tres"),
    )
    .await;
    let after_newer = by_wamid(&store, t, "wamid.O").await;
    // The same edit again: nothing changes.
    assert_eq!(
        change(
            &store,
            t,
            ch,
            "wamid.O",
            "wamid.E2",
            T0 + 2_000,
            Some("tres")
        )
        .await,
        ChangeOutcome::Duplicate
    );
    assert_eq!(by_wamid(&store, t, "wamid.O").await, after_newer);
    // An older edit arriving late joins the history but does not replace the newer text.
    change(
        &store,
        t,
        ch,
        "wamid.O",
        "wamid.E1",
        T0 + 1_000,
        Some("dos"),
    )
    .await;
    let m = by_wamid(&store, t, "wamid.O").await;
    assert_edited(&m, "tres", T0 + 2_000, "uno");
    let history: Vec<_> = m.content["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(history, ["dos", "tres"], "every version, oldest first");
    assert!(search(&store, t, "dos").await.is_empty());
    assert_eq!(search(&store, t, "tres").await, ["wamid.O"]);
    // The same set of edits in the opposite order ends in the same message.
    receive_text(&store, t, ch, "wamid.P", "uno").await;
    change(
        &store,
        t,
        ch,
        "wamid.P",
        "wamid.F1",
        T0 + 1_000,
        Some("dos"),
    )
    .await;
    change(
        &store,
        t,
        ch,
        "wamid.P",
        "wamid.F2",
        T0 + 2_000,
        Some("tres"),
    )
    .await;
    let p = by_wamid(&store, t, "wamid.P").await;
    assert_edited(&p, "tres", T0 + 2_000, "uno");
    assert_eq!(p.content["edits"].as_array().unwrap().len(), 2);
}

async fn a_revoke_in_either_order_hides_the_text_and_keeps_the_content(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    // Message first, then its revoke.
    receive_text(&store, t, ch, "wamid.O", "mi clave es pirulo").await;
    let outcome = change(&store, t, ch, "wamid.O", "wamid.R", T0 + 5_000, None).await;
    assert!(matches!(
        outcome,
        ChangeOutcome::Applied { changed: true, .. }
    ));
    // Revoke first, then its message.
    assert_eq!(
        change(&store, t, ch, "wamid.P", "wamid.S", T0 + 5_000, None).await,
        ChangeOutcome::Pending
    );
    receive_text(&store, t, ch, "wamid.P", "otra pirulo").await;
    for wamid in ["wamid.O", "wamid.P"] {
        let m = by_wamid(&store, t, wamid).await;
        assert_eq!(m.revoked_at.map(|r| r.timestamp_millis()), Some(T0 + 5_000));
        assert_eq!(m.body_text, None, "{wamid}");
        assert_eq!(m.edited_at, None);
        assert!(
            m.content["message"]["content"]["body"]
                .as_str()
                .unwrap()
                .contains("pirulo"),
            "the content is kept for audit"
        );
        assert!(
            m.content["original"]["text"]
                .as_str()
                .unwrap()
                .contains("pirulo")
        );
    }
    assert!(search(&store, t, "pirulo").await.is_empty());
    // A repeated revoke changes nothing.
    let before = by_wamid(&store, t, "wamid.O").await;
    assert_eq!(
        change(&store, t, ch, "wamid.O", "wamid.R", T0 + 5_000, None).await,
        ChangeOutcome::Duplicate
    );
    assert_eq!(by_wamid(&store, t, "wamid.O").await, before);
    // An edit that arrives late is kept in the history but does not bring the text back.
    change(
        &store,
        t,
        ch,
        "wamid.O",
        "wamid.E",
        T0 + 1_000,
        Some("pirulo editado"),
    )
    .await;
    let m = by_wamid(&store, t, "wamid.O").await;
    assert_eq!(m.body_text, None);
    assert_eq!(m.content["edits"][0]["text"], "pirulo editado");
    assert!(search(&store, t, "pirulo").await.is_empty());
}

async fn edits_never_reach_another_tenant_or_an_outbound_message(store: Store) {
    let (a, cha) = support::tenant_with_channel(&store, "100").await;
    let (b, chb) = support::tenant_with_channel(&store, "200").await;
    receive_text(&store, a, cha, "wamid.O", "original de A").await;
    // Tenant B's channel names A's message: it waits for a message of B's that never comes.
    assert_eq!(
        change(
            &store,
            b,
            chb,
            "wamid.O",
            "wamid.E",
            T0 + 1_000,
            Some("pisado")
        )
        .await,
        ChangeOutcome::Pending
    );
    let m = by_wamid(&store, a, "wamid.O").await;
    assert_eq!(m.body_text.as_deref(), Some("original de A"));
    assert_eq!(m.edited_at, None);
    assert!(search(&store, a, "pisado").await.is_empty());
    // The same tenant, but the channel is tenant-checked too: a change filed under the wrong
    // tenant for A's channel is never applied.
    assert_eq!(
        change(
            &store,
            b,
            cha,
            "wamid.O",
            "wamid.E9",
            T0 + 1_000,
            Some("pisado")
        )
        .await,
        ChangeOutcome::Pending
    );
    assert_eq!(by_wamid(&store, a, "wamid.O").await.edited_at, None);
    // Customers edit their own messages: an outbound message is never changed.
    insert_outbound(&store, a, cha, "wamid.OUT").await;
    assert_eq!(
        change(
            &store,
            a,
            cha,
            "wamid.OUT",
            "wamid.E2",
            T0 + 1_000,
            Some("pisado")
        )
        .await,
        ChangeOutcome::Pending
    );
    assert_eq!(
        by_wamid(&store, a, "wamid.OUT").await.body_text.as_deref(),
        Some("hi")
    );
}

async fn a_message_and_its_edit_committed_concurrently_always_meet(store: Store) {
    let (t, ch) = support::tenant_with_channel(&store, "100").await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (s1, s2) = (store.clone(), store.clone());
        let (o, e) = (format!("wamid.O{i}"), format!("wamid.E{i}"));
        let o2 = o.clone();
        tasks.push(tokio::spawn(async move {
            receive_text(&s1, t, ch, &o, "antes").await;
        }));
        tasks.push(tokio::spawn(async move {
            change(&s2, t, ch, &o2, &e, T0 + 1_000, Some("despues")).await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for i in 0..12 {
        let m = by_wamid(&store, t, &format!("wamid.O{i}")).await;
        assert_edited(&m, "despues", T0 + 1_000, "antes");
    }
}

async fn message_filters_stay_within_the_tenant_and_page_through_every_match(store: Store) {
    use chasqui_store::messages::MessageFilter;
    use chrono::{DateTime, Duration as Span, Utc};

    let (a, cha) = support::tenant_with_channel(&store, "100").await;
    let (b, chb) = support::tenant_with_channel(&store, "200").await;
    let before = Utc::now() - Span::seconds(1);
    for wamid in ["wamid.A1", "wamid.SAME", "wamid.A3"] {
        assert!(store_inbound(&store, a, cha, wamid).await);
    }
    assert!(store_inbound(&store, b, chb, "wamid.SAME").await);
    let after = Utc::now() + Span::seconds(1);

    // Every page of a filter, following the cursor.
    let all = |t: TenantId, f: MessageFilter| {
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            let mut cursor = None;
            loop {
                let page = store.list_messages(t, &f, 1, cursor).await.unwrap();
                out.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c.parse().unwrap()),
                    None => return out,
                }
            }
        }
    };
    let pid = |p: &str| MessageFilter {
        provider_message_id: Some(p.into()),
        ..Default::default()
    };

    // The same provider id in two tenants: each sees only its own.
    let same_a = all(a, pid("wamid.SAME")).await;
    assert_eq!(same_a.len(), 1);
    assert_eq!(same_a[0].channel_id, cha);
    let same_b = all(b, pid("wamid.SAME")).await;
    assert_eq!(same_b.len(), 1);
    assert_eq!(same_b[0].channel_id, chb);
    assert!(all(b, pid("wamid.A1")).await.is_empty());
    let other_channel = MessageFilter {
        channel: Some(chb),
        ..pid("wamid.SAME")
    };
    assert!(all(a, other_channel).await.is_empty());
    let own_channel = MessageFilter {
        channel: Some(cha),
        ..pid("wamid.SAME")
    };
    assert_eq!(all(a, own_channel).await, same_a);

    // A conversation's history, in id order, and never another tenant's.
    let conv = same_a[0].conversation_id.unwrap();
    let in_conv = MessageFilter {
        conversation: Some(conv),
        ..Default::default()
    };
    let history = all(a, in_conv.clone()).await;
    let pids: Vec<_> = history
        .iter()
        .map(|m| m.provider_message_id.clone().unwrap())
        .collect();
    assert_eq!(pids, ["wamid.A1", "wamid.SAME", "wamid.A3"]);
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    assert!(all(b, in_conv).await.is_empty());

    // Time windows, alone and with the cursor.
    let window = |since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>| MessageFilter {
        since,
        until,
        ..Default::default()
    };
    assert_eq!(all(a, window(Some(before), Some(after))).await, history);
    assert_eq!(
        all(
            a,
            window(
                Some(DateTime::<Utc>::MIN_UTC),
                Some(DateTime::<Utc>::MAX_UTC)
            )
        )
        .await,
        history
    );
    assert_eq!(
        all(a, window(Some(DateTime::<Utc>::UNIX_EPOCH), None)).await,
        history
    );
    assert!(all(a, window(Some(after), None)).await.is_empty());
    assert!(all(a, window(None, Some(before))).await.is_empty());
    assert!(
        all(a, window(Some(before - Span::days(1)), Some(before)))
            .await
            .is_empty()
    );
    let first = &history[0];
    let from_first = window(Some(first.created_at), None);
    assert_eq!(all(a, from_first).await.first(), Some(first));
    let until_first = window(None, Some(first.created_at));
    assert!(
        all(a, until_first)
            .await
            .iter()
            .all(|m| m.created_at < first.created_at)
    );
}
