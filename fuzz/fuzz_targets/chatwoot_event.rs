//! Chatwoot webhook bodies: `parse_event` and `inbound_message` must never panic; an inbound
//! message always has a non-blank id, and only `message_created` incoming public messages
//! become one.
#![no_main]

use chasqui_channels::chatwoot::{ChatwootEventKind, ChatwootMessageType, parse_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = parse_event(data) else {
        return;
    };
    let _ = event.event.as_str();
    if let Some(message) = event.inbound_message() {
        assert_eq!(event.event, ChatwootEventKind::MessageCreated);
        let m = event
            .message
            .as_ref()
            .expect("an inbound message comes from `message`");
        assert_eq!(m.message_type, Some(ChatwootMessageType::Incoming));
        assert!(!m.private, "private notes are never inbound messages");
        assert!(!message.provider_message_id.trim().is_empty());
        serde_json::to_vec(&message).expect("a message serialises");
    }
    serde_json::to_vec(&event).expect("a parsed event serialises");
});
