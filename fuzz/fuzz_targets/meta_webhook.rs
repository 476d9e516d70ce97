//! Meta Cloud API webhook bodies: `parse_webhook` must never panic; every message and status it
//! returns has a non-blank id (the deduplication key), and the result serialises (it is stored).
#![no_main]

use chasqui_channels::meta::{MetaPayload, parse_webhook};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(hook) = parse_webhook(data) else {
        return;
    };
    let counted = hook
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.payload,
                MetaPayload::Message { .. } | MetaPayload::Status { .. }
            )
        })
        .count();
    assert_eq!(counted, hook.messages().count() + hook.statuses().count());
    for (_, message) in hook.messages() {
        assert!(!message.provider_message_id.trim().is_empty());
    }
    for (_, status) in hook.statuses() {
        assert!(!status.provider_message_id.trim().is_empty());
    }
    serde_json::to_vec(&hook).expect("a parsed webhook serialises");
});
