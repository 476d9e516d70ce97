//! Meta's own send examples (`shared/reference/whatsapp/meta_openapi_send_*.json`) go through
//! the validator, and what comes out is what went in (plus Meta's defaults).
//!
//! The examples hold placeholders where a real value must go; only the ones whose format we check
//! are replaced (phone numbers, media URLs and ids, message ids, the language code); label-like
//! placeholders (`<BUTTON_TITLE_1>`) are valid text and stay. Two files are deliberately refused,
//! because they are not message bodies: `meta_openapi_send_send_typing_indicator_and_read_receipt.json` (a
//! mark-as-read request, served by `POST /v1/messages/{id}/read`) and
//! `meta_openapi_send_response_example.json` (Meta's answer to a send).

use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::*;
use crate::template::Template;

fn dir() -> PathBuf {
    chasqui_testdata::reference_path(env!("CARGO_MANIFEST_DIR"), "whatsapp")
}

/// Placeholders replaced by values of the right format.
const SUBSTITUTIONS: &[(&str, &str)] = &[
    ("{{Recipient-Phone-Number}}", "16502530000"),
    (
        "<http(s)://document-url>",
        "https://example.com/docs/factura-0042.pdf",
    ),
    (
        "http(s)://image-url",
        "https://example.com/images/equipo.jpg",
    ),
    (
        "http(s)://the-image-url",
        "https://example.com/images/promo.jpg",
    ),
    ("<AUDIO_OBJECT_ID>", "1013859600285441"),
    ("<IMAGE_OBJECT_ID>", "1479537139650973"),
    ("<MEDIA_OBJECT_ID>", "1262278871619034"),
    ("<VIDEO_OBJECT_ID>", "1166846181421424"),
    (
        "<MSGID_OF_PREV_MSG>",
        "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
    ),
    ("language-and-locale-code", "en_US"),
    ("{{Flow-ID}}", "1234567890123456"),
];

enum Expect {
    /// Validates as this type, with these templates known, with or without an open window.
    Valid {
        kind: SendKind,
        templates: Vec<Template>,
        window_open: bool,
    },
    /// Refused with this code: not a message body.
    Refused(&'static str),
}

fn valid(kind: SendKind) -> Expect {
    Expect::Valid {
        kind,
        templates: Vec::new(),
        window_open: true,
    }
}

fn template(templates: Vec<Template>) -> Expect {
    Expect::Valid {
        kind: SendKind::Template,
        templates,
        window_open: false,
    }
}

fn tpl(v: Value) -> Template {
    serde_json::from_value(v).unwrap()
}

/// The templates the template examples need, as Meta would list them.
fn table() -> Vec<(&'static str, Expect)> {
    let three_params = "Hi {{1}}, your total is {{2}}, due {{3}}.";
    vec![
        ("send_audio_message_by_id", valid(SendKind::Audio)),
        ("send_catalog_message", valid(SendKind::Interactive)),
        ("send_contact_message", valid(SendKind::Contacts)),
        ("send_document_message_by_url", valid(SendKind::Document)),
        (
            "send_flow_template_message",
            template(vec![tpl(
                json!({"name": "<TEMPLATE_NAME>", "language": "en_US", "status": "APPROVED",
                "category": "MARKETING", "components": [
                    {"type": "body", "text": "Check out this new offer"},
                    {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Check out this offer!",
                        "flow_id": "1234567890123456", "navigate_screen": "WELCOME_SCREEN", "flow_action": "navigate"}]}]}),
            )]),
        ),
        ("send_image_message_by_id", valid(SendKind::Image)),
        ("send_image_message_by_url", valid(SendKind::Image)),
        ("send_list_message", valid(SendKind::Interactive)),
        ("send_location_message", valid(SendKind::Location)),
        (
            "send_message_template_interactive",
            template(vec![tpl(
                json!({"name": "template-name", "language": "en_US", "status": "APPROVED",
                "category": "MARKETING", "components": [
                    {"type": "HEADER", "format": "IMAGE"},
                    {"type": "BODY", "text": three_params},
                    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Details"}, {"type": "QUICK_REPLY", "text": "Stop"}]}]}),
            )]),
        ),
        (
            "send_message_template_text",
            template(vec![tpl(
                json!({"name": "template-name", "language": "en_US", "status": "APPROVED",
                "category": "UTILITY", "components": [{"type": "BODY", "text": three_params}]}),
            )]),
        ),
        ("send_published_flow_by_id", valid(SendKind::Interactive)),
        ("send_reply_button", valid(SendKind::Interactive)),
        ("send_reply_to_text_message", valid(SendKind::Text)),
        (
            "send_reply_with_reaction_message",
            valid(SendKind::Reaction),
        ),
        ("response_example", Expect::Refused("unknown_field")),
        ("send_single_product_message", valid(SendKind::Interactive)),
        ("send_sticker_message_by_id", valid(SendKind::Sticker)),
        (
            "send_test_message",
            template(vec![tpl(
                json!({"name": "hello_world", "language": "en_US", "status": "APPROVED",
                "category": "UTILITY", "components": [
                    {"format": "TEXT", "text": "Hello World", "type": "HEADER"},
                    {"text": "Welcome and congratulations!! This message demonstrates your ability to send a message notification from WhatsApp Business Platform’s Cloud API. Thank you for taking the time to test with us.", "type": "BODY"},
                    {"text": "WhatsApp Business API Team", "type": "FOOTER"}]}),
            )]),
        ),
        ("send_text_message", valid(SendKind::Text)),
        ("send_text_message_with_preview_url", valid(SendKind::Text)),
        (
            "send_typing_indicator_and_read_receipt",
            Expect::Refused("unknown_field"),
        ),
        ("send_video_message_by_id", valid(SendKind::Video)),
    ]
}

fn substitute(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(
            SUBSTITUTIONS
                .iter()
                .find(|(from, _)| from == s)
                .map_or_else(|| s.clone(), |(_, to)| (*to).to_owned()),
        ),
        Value::Array(items) => Value::Array(items.iter().map(substitute).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn read(name: &str) -> Value {
    let path = dir().join(format!("meta_openapi_send_{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

#[test]
fn every_send_example_has_a_row() {
    let table = table();
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("{}: {e}", dir().display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            n.strip_prefix("meta_openapi_send_")?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut rows: Vec<String> = table.iter().map(|(n, _)| (*n).to_owned()).collect();
    rows.sort();
    assert_eq!(files, rows, "a new example needs a decision in the table");
}

#[test]
fn meta_send_examples_validate() {
    let mut checked = 0;
    for (name, expect) in table() {
        let original = read(name);
        let input = substitute(&original);
        match expect {
            Expect::Refused(code) => {
                let e = SendRequest::from_value(&input).expect_err(name);
                assert_eq!(e.code(), code, "{name}: {}", e.message());
            }
            Expect::Valid {
                kind,
                templates,
                window_open,
            } => {
                let mut ctx = ValidationContext::new(now()).with_templates(&templates);
                if window_open {
                    ctx = ctx.with_last_inbound_at(Some(now() - TimeDelta::minutes(5)));
                }
                let req = SendRequest::from_value(&input).unwrap_or_else(|e| {
                    panic!("{name}: {} at {}: {}", e.code(), e.field(), e.message())
                });
                let sent = validate(&req, &ctx).unwrap_or_else(|e| {
                    panic!("{name}: {} at {}: {}", e.code(), e.field(), e.message())
                });
                assert_eq!(sent.kind, kind, "{name}");
                // What goes out is what came in, with Meta's defaults made explicit.
                let mut expected = input.clone();
                let map = expected.as_object_mut().unwrap();
                map.insert("recipient_type".into(), json!("individual"));
                map.insert("type".into(), json!(kind.as_str()));
                let to = map["to"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('+')
                    .to_owned();
                map.insert("to".into(), json!(to));
                assert_eq!(sent.body, expected, "{name}");
                assert!(!sent.preview_text.is_empty(), "{name}");
                if kind == SendKind::Template {
                    let t = sent.template.as_ref().unwrap();
                    assert!(
                        !t.rendered.text().contains("{{"),
                        "{name}: {}",
                        t.rendered.text()
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 21);
}

#[test]
fn the_template_examples_render() {
    let (_, expect) = table()
        .into_iter()
        .find(|(n, _)| *n == "send_message_template_interactive")
        .unwrap();
    let Expect::Valid { templates, .. } = expect else {
        panic!("row changed")
    };
    let ctx = ValidationContext::new(now()).with_templates(&templates);
    let req =
        SendRequest::from_value(&substitute(&read("send_message_template_interactive"))).unwrap();
    let sent = validate(&req, &ctx).unwrap();
    let r = &sent.template.as_ref().unwrap().rendered;
    assert_eq!(
        r.body,
        "Hi text-string, your total is $100.99, due February 25, 1977."
    );
    assert_eq!(
        r.buttons[0].payload.as_deref(),
        Some("aGlzIHRoaXMgaXMgY29v")
    );
    assert_eq!(sent.preview_text, r.body);
}
