//! Every Chatwoot sample in `reference/chatwoot/` parses; the schema templates (no `event`) are
//! refused as webhooks.

#![allow(clippy::unwrap_used)]

mod common;

use chasqui_channels::chatwoot::{
    ChatwootEventKind, ChatwootMessageType, ChatwootParseError, parse_event,
};
use chasqui_core::message::MessageContent;

use common::{json_files, read_bytes};

#[test]
fn every_event_sample_parses_and_schemas_are_refused() {
    let files = json_files("chatwoot");
    assert!(files.len() >= 13, "{files:?}");
    let (mut events, mut schemas) = (0, 0);
    for name in files {
        let raw = read_bytes(&format!("chatwoot/{name}"));
        if name.starts_with("docs_event_") || name.starts_with("docs_sample_") {
            let e = parse_event(&raw).unwrap_or_else(|err| panic!("{name}: {err}"));
            let expected = name
                .trim_start_matches("docs_event_")
                .trim_start_matches("docs_sample_")
                .trim_end_matches(".json");
            assert_eq!(e.event.as_str(), expected, "{name}");
            assert!(
                !matches!(e.event, ChatwootEventKind::Other(_)),
                "{name}: a documented event must be typed"
            );
            events += 1;
        } else if name.starts_with("docs_schema_") {
            assert_eq!(
                parse_event(&raw).unwrap_err(),
                ChatwootParseError::MissingEvent,
                "{name}"
            );
            schemas += 1;
        } else {
            assert_eq!(name, "_manifest.json");
            assert_eq!(
                parse_event(&raw).unwrap_err(),
                ChatwootParseError::NotAnObject
            );
        }
    }
    assert_eq!((events, schemas), (7, 6));
}

#[test]
fn documented_sample_message_becomes_an_inbound_message() {
    let e = parse_event(&read_bytes("chatwoot/docs_sample_message_created.json")).unwrap();
    assert_eq!(e.event, ChatwootEventKind::MessageCreated);
    assert_eq!(e.account_id.as_deref(), Some("1"));
    assert_eq!(e.conversation_id.as_deref(), Some("1"));
    let m = e.message.as_ref().unwrap();
    assert_eq!(m.message_type, Some(ChatwootMessageType::Incoming));
    assert_eq!(m.created_at, Some(1_583_240_757), "2020-03-03 13:05:57 UTC");
    assert_eq!(m.source_id, None, "empty source id reads as absent");

    let inbound = e.inbound_message().unwrap();
    assert_eq!(inbound.provider_message_id, "1");
    assert_eq!(inbound.content, MessageContent::Text { body: "Hi".into() });
    assert_eq!(inbound.timestamp, Some(1_583_240_757));
    // The sender has no type; the conversation's contact is the customer.
    assert_eq!(inbound.sender.profile_name.as_deref(), Some("contact-name"));
    assert_eq!(inbound.sender.provider_contact_id.as_deref(), Some("1"));
}

#[test]
fn webwidget_and_conversation_templates_parse_without_messages() {
    for name in [
        "docs_event_webwidget_triggered.json",
        "docs_event_conversation_created.json",
        "docs_event_conversation_updated.json",
        "docs_event_conversation_status_changed.json",
    ] {
        let e = parse_event(&read_bytes(&format!("chatwoot/{name}"))).unwrap();
        assert!(e.message.is_none(), "{name}");
        assert!(e.inbound_message().is_none(), "{name}");
    }
    let bare = parse_event(&read_bytes("chatwoot/docs_event_message_created.json")).unwrap();
    assert!(
        bare.inbound_message().is_none(),
        "no id, no type: not a customer message"
    );
}
