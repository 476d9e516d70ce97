//! Envelope rules and edge cases, on small inline payloads (the reference corpus is exercised in
//! `tests/meta_reference.rs`).

use chasqui_core::message::MessageContent;
use chasqui_core::status::Status;
use serde_json::{Value, json};

use super::*;

fn wrap(value: Value) -> Value {
    let mut v = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages"}]}]
    });
    v["entry"][0]["changes"][0]["value"] = value;
    v
}

fn messages_value(messages: Value, contacts: Value) -> Value {
    let mut v = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": 106540352242922u64}
    });
    v["contacts"] = contacts;
    v["messages"] = messages;
    v
}

fn parse(v: &Value) -> MetaWebhook {
    parse_webhook(v.to_string().as_bytes()).unwrap()
}

fn only_message(w: &MetaWebhook) -> &InboundMessage {
    let all: Vec<_> = w.messages().collect();
    assert_eq!(all.len(), 1, "{w:?}");
    all[0].1
}

#[test]
fn envelope_errors_are_precise() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"", "not valid JSON"),
        (b"{\"object\":", "not valid JSON"),
        (b"[]", "not an object"),
        (b"{}", "`object` is missing"),
        (br#"{"object":"page","entry":[]}"#, "`object` is \"page\""),
        (br#"{"object":"whatsapp_business_account"}"#, "entry: missing"),
        (br#"{"object":"whatsapp_business_account","entry":{}}"#, "entry: expected an array"),
        (br#"{"object":"whatsapp_business_account","entry":[1]}"#, "entry[0]: expected an object"),
        (br#"{"object":"whatsapp_business_account","entry":[{}]}"#, "entry[0].changes: missing"),
        (
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{}}]}]}"#,
            "entry[0].changes[0].field: missing",
        ),
        (
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":[]}]}]}"#,
            "entry[0].changes[0].value: expected an object",
        ),
        (
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":{}}}]}]}"#,
            "entry[0].changes[0].value.messages: expected an array",
        ),
        (
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"type":"text"}]}}]}]}"#,
            "entry[0].changes[0].value.messages[0]: missing `id`",
        ),
        (
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w"},{"status":"read"}]}}]}]}"#,
            "entry[0].changes[0].value.statuses[1]: missing `id`",
        ),
    ];
    for (body, expected) in cases {
        let err = parse_webhook(body).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{}: got `{err}`, wanted `{expected}`",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn empty_entry_list_is_an_empty_delivery() {
    let w = parse(&json!({"object": "whatsapp_business_account", "entry": []}));
    assert!(w.events.is_empty());
}

#[test]
fn routing_keys_and_numeric_ids() {
    let w = parse(&wrap(messages_value(
        json!([{"from": "1", "id": "wamid.A", "timestamp": 1700000000, "type": "text", "text": {"body": "x"}}]),
        json!([]),
    )));
    let (routing, m) = w.messages().next().unwrap();
    assert_eq!(routing.waba_id.as_deref(), Some("WABA"));
    assert_eq!(routing.field, "messages");
    assert_eq!(routing.phone_number_id.as_deref(), Some("106540352242922"));
    assert_eq!(routing.display_phone_number.as_deref(), Some("15550001111"));
    assert_eq!(m.timestamp, Some(1_700_000_000));
}

#[test]
fn unknown_types_and_unreadable_parts_never_fail() {
    let w = parse(&wrap(messages_value(
        json!([
            {"id": "a", "type": "hologram", "hologram": {"x": 1}},
            {"id": "b", "type": "image"},
            {"id": "c", "type": "text", "text": "not an object"},
            {"id": "d"},
            {"id": "e", "type": 5},
            {"id": "f", "type": "interactive", "interactive": {"type": "carousel_reply"}},
            {"id": "g", "type": "edit", "edit": {"original_message_id": "x",
                "message": {"type": "edit", "edit": {"message": {"type": "text", "text": {"body": "deep"}}}}}},
            {"id": "h", "type": "location", "location": {"latitude": "NaN", "longitude": "12.5"}},
            {"id": "i", "type": "text", "text": {"body": "t"}, "timestamp": "soon", "context": 3, "referral": []}
        ]),
        json!("not an array"),
    )));
    let kinds: Vec<&str> = w.messages().map(|(_, m)| m.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            "unknown",
            "unknown",
            "unknown",
            "unknown",
            "unknown",
            "interactive",
            "edit",
            "location",
            "text"
        ]
    );
    let all: Vec<_> = w.messages().map(|(_, m)| m).collect();
    match &all[0].content {
        MessageContent::Unknown { message_type, raw } => {
            assert_eq!(message_type, "hologram");
            assert_eq!(raw["hologram"]["x"], 1);
        }
        other => panic!("{other:?}"),
    }
    match &all[6].content {
        MessageContent::Edit { content, .. } => assert_eq!(content.kind(), "unknown"),
        other => panic!("{other:?}"),
    }
    match &all[7].content {
        MessageContent::Location {
            latitude,
            longitude,
            ..
        } => assert_eq!((*latitude, *longitude), (None, Some(12.5))),
        other => panic!("{other:?}"),
    }
    assert_eq!(all[8].timestamp, None);
    assert_eq!(all[8].context, None);
}

#[test]
fn contacts_attach_by_bsuid_then_wa_id_never_across_people() {
    let contacts = json!([
        {"wa_id": "111", "user_id": "US.1", "profile": {"name": "One", "username": "one"}},
        {"wa_id": "222", "user_id": "US.2", "profile": {"name": "Two"}}
    ]);
    let w = parse(&wrap(messages_value(
        json!([
            {"from": "222", "id": "m1", "type": "text", "text": {"body": "a"}},
            {"from_user_id": "US.1", "id": "m2", "type": "text", "text": {"body": "b"}},
            {"from": "333", "id": "m3", "type": "text", "text": {"body": "c"}}
        ]),
        contacts,
    )));
    let all: Vec<_> = w.messages().map(|(_, m)| &m.sender).collect();
    assert_eq!(all[0].user_id.as_deref(), Some("US.2"));
    assert_eq!(all[0].profile_name.as_deref(), Some("Two"));
    assert_eq!(all[1].wa_id.as_deref(), Some("111"));
    assert_eq!(all[1].username.as_deref(), Some("one"));
    assert_eq!(all[2].wa_id.as_deref(), Some("333"));
    assert_eq!(all[2].user_id, None);
    assert_eq!(all[2].profile_name, None);

    // A single contact that contradicts `from` is not attached either.
    let w = parse(&wrap(messages_value(
        json!([{"from": "999", "id": "m", "type": "text", "text": {"body": "a"}}]),
        json!([{"wa_id": "111", "user_id": "US.1"}]),
    )));
    assert_eq!(only_message(&w).sender.user_id, None);
}

#[test]
fn statuses_keep_unknown_values_and_fill_bsuids_from_contacts() {
    let w = parse(&wrap(json!({
        "metadata": {"phone_number_id": "P"},
        "contacts": [{"wa_id": "5511", "user_id": "BR.1"}],
        "statuses": [
            {"id": "w1", "status": "read", "timestamp": "1750000000", "recipient_id": "5511"},
            {"id": "w2", "status": "deleted", "recipient_id": "5511"},
            {"id": "w3", "status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message",
                "error_data": {"details": "more than 24 hours"}}]}
        ]
    })));
    let all: Vec<_> = w.statuses().map(|(_, s)| s).collect();
    assert_eq!(all[0].status, Some(Status::Read));
    assert_eq!(all[0].recipient_user_id.as_deref(), Some("BR.1"));
    assert_eq!(all[0].timestamp, Some(1_750_000_000));
    assert_eq!(all[1].status, None);
    assert_eq!(all[1].provider_status, "deleted");
    assert_eq!(all[2].errors[0].code, Some(131047));
    assert_eq!(
        all[2].errors[0].details.as_deref(),
        Some("more than 24 hours")
    );
}

#[test]
fn batches_keep_payload_order_across_entries_and_changes() {
    let change = |id: &str| {
        json!({"field": "messages", "value": {"metadata": {"phone_number_id": id},
            "messages": [{"id": format!("m-{id}"), "type": "text", "text": {"body": id}}],
            "statuses": [{"id": format!("s-{id}"), "status": "sent"}]}})
    };
    let v = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "W1", "changes": [change("P1"), change("P2")]},
            {"id": "W2", "time": 1700000000, "changes": [change("P3"),
                {"field": "account_update", "value": {"event": "PARTNER_REMOVED"}}]}
        ]
    });
    let w = parse(&v);
    let order: Vec<String> = w
        .events
        .iter()
        .map(|e| match &e.payload {
            MetaPayload::Message { message, .. } => message.provider_message_id.clone(),
            MetaPayload::Status { status, .. } => status.provider_message_id.clone(),
            MetaPayload::Error { .. } => "error".into(),
            MetaPayload::Field { .. } => e.routing.field.clone(),
        })
        .collect();
    assert_eq!(
        order,
        vec![
            "m-P1",
            "s-P1",
            "m-P2",
            "s-P2",
            "m-P3",
            "s-P3",
            "account_update"
        ]
    );
    let last = w.events.last().unwrap();
    assert_eq!(last.routing.waba_id.as_deref(), Some("W2"));
    assert_eq!(last.routing.entry_time, Some(1_700_000_000));
    assert_eq!(last.routing.phone_number_id, None);
}

#[test]
fn a_messages_change_with_nothing_known_is_kept_as_a_field() {
    let w = parse(&wrap(
        json!({"messaging_product": "whatsapp", "something_new": [1]}),
    ));
    assert_eq!(w.events.len(), 1);
    match &w.events[0].payload {
        MetaPayload::Field { known, value } => {
            assert_eq!(*known, KnownField::Other);
            assert_eq!(value["something_new"][0], 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_serialize_for_storage() {
    let w = parse(&wrap(messages_value(
        json!([{"from": "1", "id": "wamid.A", "type": "text", "text": {"body": "x"}}]),
        json!([]),
    )));
    let json = serde_json::to_value(&w).unwrap();
    assert_eq!(json["events"][0]["payload"]["event"], "message");
    assert_eq!(
        json["events"][0]["payload"]["message"]["content"]["kind"],
        "text"
    );
    let back: MetaWebhook = serde_json::from_value(json).unwrap();
    assert_eq!(back, w);
}
