//! Twilio form webhooks and `X-Twilio-Signature` checks.
//!
//! Input: `auth_token \0 url \0 header \0 body` (missing parts are empty). Besides "never
//! panics", two properties: a request signed with Twilio's algorithm (computed here
//! independently, with a `BTreeSet` of pairs) verifies, and the same signature with one bit
//! flipped does not.
#![no_main]

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chasqui_channels::signature::{verify_twilio, verify_twilio_body};
use chasqui_channels::twilio::{TwilioEvent, form_params, parse_form};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha1::Sha1;

fn sign(token: &str, url: &str, params: &[(String, String)]) -> Vec<u8> {
    let pairs: BTreeSet<(&[u8], &[u8])> = params
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    let mut mac = Hmac::<Sha1>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in pairs {
        mac.update(k);
        mac.update(v);
    }
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let token = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    if let Ok(hook) = parse_form(body) {
        match &hook.event {
            TwilioEvent::Message { message } => assert!(!message.provider_message_id.is_empty()),
            TwilioEvent::Status { status } => assert!(!status.provider_message_id.is_empty()),
        }
        serde_json::to_vec(&hook).expect("a parsed webhook serialises");
    }

    let params = form_params(body);
    let _ = verify_twilio(&token, &url, &params, Some(&header));
    let _ = verify_twilio(&token, &url, &params, None);
    let _ = verify_twilio_body(&token, &url, body, Some(&header));

    if token.is_empty() {
        return;
    }
    let mut mac = sign(&token, &url, &params);
    let good = BASE64.encode(&mac);
    assert_eq!(
        verify_twilio(&token, &url, &params, Some(&good)),
        Ok(()),
        "a correctly signed request must verify"
    );
    let bit = body.first().copied().unwrap_or(0);
    let at = usize::from(bit) % mac.len();
    mac[at] ^= 1 << (bit % 8);
    let bad = BASE64.encode(&mac);
    // Another spelling of the URL (port added or removed, `'` vs `%27`) could in theory match
    // the flipped MAC only by an HMAC collision.
    assert!(
        verify_twilio(&token, &url, &params, Some(&bad)).is_err(),
        "a flipped bit must not verify"
    );
});
