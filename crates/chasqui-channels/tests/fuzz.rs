//! Property tests: no input makes a parser or verifier panic — arbitrary bytes, and the reference
//! webhooks mutated byte-wise and node-wise — and signatures we compute verify while any change
//! to what was signed does not.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use base64::Engine as _;
use chasqui_channels::{chatwoot, graph_error, meta, signature, twilio};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::Value;

use common::{json_files, read_bytes, read_json};

/// The webhook payloads of the reference corpus (raw bytes and decoded).
fn corpus() -> &'static Vec<(Vec<u8>, Value)> {
    static CORPUS: OnceLock<Vec<(Vec<u8>, Value)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        json_files("whatsapp")
            .into_iter()
            .map(|name| {
                let path = format!("whatsapp/{name}");
                (read_bytes(&path), read_json(&path))
            })
            .filter(|(_, v)| v.get("entry").is_some())
            .collect()
    })
}

/// Every JSON pointer in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text",
            "image",
            "interactive",
            "edit",
            "failed",
            "read",
            "",
            "0"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id", "type", "text", "body", "status", "from", "messages", "x"
                ]),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// Every parser and verifier over the same bytes: none may panic.
fn exercise(bytes: &[u8]) {
    let _ = meta::parse_webhook(bytes);
    let _ = chatwoot::parse_event(bytes);
    let _ = graph_error::parse_graph_error(bytes);
    let _ = twilio::parse_form(bytes);
    let text = String::from_utf8_lossy(bytes);
    let _ = signature::verify_meta(b"secret", bytes, Some(&text));
    let _ = signature::verify_meta_sha1(b"secret", bytes, Some(&text));
    let _ = signature::verify_twilio("token", &text, &twilio::form_params(bytes), Some(&text));
    let _ = signature::verify_twilio_body("token", &text, bytes, Some(&text));
    let _ = signature::verify_shared_secret("token", Some(&text));
    let _ = signature::HubQuery::from_query(&text).verify("token");
}

/// Parsing must not panic, and whatever parses must serialise for storage.
fn parse_and_store(bytes: &[u8]) {
    if let Ok(w) = meta::parse_webhook(bytes) {
        let stored = serde_json::to_string(&w).expect("parsed webhooks serialise");
        let _: meta::MetaWebhook = serde_json::from_str(&stored).expect("and load back");
        for (_, m) in w.messages() {
            let _ = (m.kind(), m.preview_text(), m.searchable_text());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        let bytes = v.to_string().into_bytes();
        exercise(&bytes);
        let wrapped = serde_json::json!({"object": "whatsapp_business_account", "entry": [v]});
        parse_and_store(wrapped.to_string().as_bytes());
    }

    #[test]
    fn reference_webhooks_with_flipped_or_cut_bytes(
        pick in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (raw, _) = &corpus()[pick.index(corpus().len())];
        let mut bytes = raw.clone();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        exercise(&bytes);
        parse_and_store(&bytes);
    }

    #[test]
    fn reference_webhooks_with_replaced_nodes(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any_json()), 1..4),
    ) {
        let (_, original) = &corpus()[pick.index(corpus().len())];
        let mut doc = original.clone();
        for (at, replacement) in edits {
            let mut all = Vec::new();
            pointers(&doc, String::new(), &mut all);
            let target = &all[at.index(all.len())];
            if target.is_empty() {
                doc = replacement;
            } else if let Some(slot) = doc.pointer_mut(target) {
                *slot = replacement;
            }
        }
        parse_and_store(doc.to_string().as_bytes());
        exercise(doc.to_string().as_bytes());
    }

    #[test]
    fn meta_signatures_we_compute_verify_and_any_flip_fails(
        secret in prop::collection::vec(any::<u8>(), 1..48),
        body in prop::collection::vec(any::<u8>(), 0..256),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
        mac.update(&body);
        let header = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        prop_assert_eq!(signature::verify_meta(&secret, &body, Some(&header)), Ok(()));
        if !body.is_empty() && body.iter().all(|b| *b <= 0x7E) {
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert_eq!(
                signature::verify_meta(&secret, &tampered, Some(&header)),
                Err(signature::SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn twilio_signatures_we_compute_verify_and_changes_fail(
        token in "[a-f0-9]{32}",
        path in "/[a-z]{1,8}",
        params in prop::collection::vec(("[A-Za-z]{1,6}", ".{0,8}"), 0..6),
    ) {
        let url = format!("https://example.com{path}?x=1");
        let mut sorted = params.clone();
        sorted.sort();
        sorted.dedup();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
        mac.update(url.as_bytes());
        for (k, v) in &sorted {
            mac.update(k.as_bytes());
            mac.update(v.as_bytes());
        }
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let pairs: Vec<(String, String)> = params;
        prop_assert_eq!(signature::verify_twilio(&token, &url, &pairs, Some(&sig)), Ok(()));
        let mut extra = pairs.clone();
        extra.push(("Zz9".into(), "1".into()));
        prop_assert!(signature::verify_twilio(&token, &url, &extra, Some(&sig)).is_err());
        let moved = url.replace("?x=1", "?x=2");
        prop_assert!(signature::verify_twilio(&token, &moved, &pairs, Some(&sig)).is_err());
    }
}
