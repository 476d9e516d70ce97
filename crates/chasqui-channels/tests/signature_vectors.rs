//! The Meta and Twilio signature vectors from `reference/*_signatures.json` pass or fail as they
//! say, and tampered copies of every passing vector fail.

#![allow(clippy::unwrap_used)]

mod common;

use chasqui_channels::signature::{
    SignatureError, verify_meta, verify_meta_sha1, verify_twilio, verify_twilio_body,
};
use chasqui_channels::twilio::form_params;
use serde_json::Value;

use common::{read_bytes, read_json};

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn expect_valid(v: &Value) -> bool {
    // The Meta file writes booleans; be tolerant of "True"/"False" strings too.
    match &v["expect_valid"] {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        other => panic!("expect_valid is {other}"),
    }
}

fn meta_check(v: &Value, body: &[u8], header: &str) -> Result<(), SignatureError> {
    let secret = text(v, "app_secret").as_bytes();
    match text(v, "header") {
        "X-Hub-Signature-256" => verify_meta(secret, body, Some(header)),
        "X-Hub-Signature" => verify_meta_sha1(secret, body, Some(header)),
        other => panic!("unknown header {other}"),
    }
}

#[test]
fn meta_vectors() {
    let file = read_json("meta_signatures.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 6);
    let mut passing = 0;
    for v in vectors {
        let id = text(v, "id");
        let body = text(v, "body").as_bytes();
        let header = text(v, "expected_header_value");
        let result = meta_check(v, body, header);
        assert_eq!(result.is_ok(), expect_valid(v), "{id}: {result:?}");
        if !expect_valid(v) {
            continue;
        }
        passing += 1;
        // Meta sends bodies \u-escaped; where the vector gives that form, it passes as is.
        if let Some(escaped) = v["escaped_body"].as_str() {
            assert_eq!(
                meta_check(v, escaped.as_bytes(), header),
                Ok(()),
                "{id}: escaped"
            );
        }
        // Tampered copies: one body byte, one header digit, another secret.
        let mut tampered = body.to_vec();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 0x01;
        assert!(
            meta_check(v, &tampered, header).is_err(),
            "{id}: tampered body"
        );
        let mut bad_header = header.to_owned();
        let last = bad_header.pop().unwrap();
        bad_header.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            meta_check(v, body, &bad_header),
            Err(SignatureError::Mismatch),
            "{id}: tampered header"
        );
        let mut other_secret = v.clone();
        other_secret["app_secret"] = Value::String(format!("{}x", text(v, "app_secret")));
        assert_eq!(
            meta_check(&other_secret, body, header),
            Err(SignatureError::Mismatch),
            "{id}: wrong secret"
        );
    }
    assert_eq!(passing, 3);
}

#[test]
fn meta_real_delivery_signed_over_the_exact_file_bytes() {
    let raw = read_bytes("whatsapp/signed_raw_body_pywa_real_text_message.json");
    let header = "sha256=54edfa1d7259e0eb13c677cc7d73d1b5c86cfa12433d19156e058ab9251bc441";
    let secret = b"1222e786b144d0e85b9f365372d93676";
    assert_eq!(verify_meta(secret, &raw, Some(header)), Ok(()));
    // No trimming, no re-serialisation: a trailing newline or pretty-printing breaks it.
    let mut with_newline = raw.clone();
    with_newline.push(b'\n');
    assert_eq!(
        verify_meta(secret, &with_newline, Some(header)),
        Err(SignatureError::Mismatch)
    );
    let reserialised =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&raw).unwrap()).unwrap();
    assert_eq!(
        verify_meta(secret, &reserialised, Some(header)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_meta(secret, &raw, None),
        Err(SignatureError::Missing)
    );
}

/// The vector's form parameters as name/value pairs: arrays repeat the name, `null` is empty.
fn twilio_params(v: &Value) -> Vec<(String, String)> {
    let Some(map) = v["params"].as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in map {
        match value {
            Value::Array(values) => {
                for item in values {
                    out.push((name.clone(), item.as_str().unwrap_or_default().to_owned()));
                }
            }
            Value::Null => out.push((name.clone(), String::new())),
            other => out.push((name.clone(), other.as_str().unwrap().to_owned())),
        }
    }
    out
}

/// Runs a vector the way the gateway would: JSON bodies by `bodySHA256`, forms by parameters.
fn twilio_check(
    v: &Value,
    url: &str,
    params: &[(String, String)],
    sig: &str,
) -> Result<(), SignatureError> {
    let token = text(v, "auth_token");
    let json_body = v["params"].is_null() && v["body"].is_string();
    if json_body {
        verify_twilio_body(token, url, text(v, "body").as_bytes(), Some(sig))
    } else {
        verify_twilio(token, url, params, Some(sig))
    }
}

#[test]
fn twilio_vectors() {
    let file = read_json("twilio_signatures.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 30);
    let (mut passing, mut failing) = (0, 0);
    for v in vectors {
        let id = text(v, "id");
        let url = text(v, "url");
        let sig = text(v, "expected_signature");
        let params = twilio_params(v);
        let result = twilio_check(v, url, &params, sig);
        assert_eq!(result.is_ok(), expect_valid(v), "{id}: {result:?}");
        if !expect_valid(v) {
            failing += 1;
            continue;
        }
        passing += 1;

        // A form body given in the vector decodes to the same parameters.
        if let (Some(body), false) = (v["body"].as_str(), v["params"].is_null()) {
            let decoded = form_params(body.as_bytes());
            assert_eq!(
                twilio_check(v, url, &decoded, sig),
                Ok(()),
                "{id}: decoded body"
            );
        }
        // The parameters' order on the wire does not matter.
        let mut reversed = params.clone();
        reversed.reverse();
        assert_eq!(
            twilio_check(v, url, &reversed, sig),
            Ok(()),
            "{id}: reordered"
        );

        // Tampered copies must fail.
        let token_changed = {
            let mut w = v.clone();
            w["auth_token"] = Value::String("54321".into());
            twilio_check(&w, url, &params, sig)
        };
        assert!(token_changed.is_err(), "{id}: wrong token");
        let other_path = url
            .replacen("myapp", "yourapp", 1)
            .replacen("webhook", "hook", 1);
        assert_ne!(other_path, url, "{id}");
        assert!(
            twilio_check(v, &other_path, &params, sig).is_err(),
            "{id}: other URL"
        );
        let mut extra = params.clone();
        extra.push(("Injected".into(), "1".into()));
        if v["params"].is_null() {
            let mut w = v.clone();
            w["body"] = Value::String(format!("{} ", text(v, "body")));
            assert_eq!(
                twilio_check(&w, url, &params, sig),
                Err(SignatureError::BodyHashMismatch),
                "{id}: tampered JSON body"
            );
        } else {
            assert!(
                twilio_check(v, url, &extra, sig).is_err(),
                "{id}: added parameter"
            );
            if let Some((name, value)) = params.first() {
                let mut changed = params.clone();
                changed[0] = (name.clone(), format!("{value}x"));
                assert!(
                    twilio_check(v, url, &changed, sig).is_err(),
                    "{id}: changed value"
                );
            }
        }
        let mut bad_sig = sig.to_owned();
        bad_sig.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            twilio_check(v, url, &params, &bad_sig),
            Err(SignatureError::Mismatch),
            "{id}: altered signature"
        );
    }
    assert!(passing >= 28 && failing >= 3, "{passing} / {failing}");
}

#[test]
fn twilio_distinct_errors() {
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        verify_twilio("12345", url, &[], None),
        Err(SignatureError::Missing)
    );
    assert_eq!(
        verify_twilio("12345", url, &[], Some("%%%")),
        Err(SignatureError::Malformed("not Base64"))
    );
    assert_eq!(
        verify_twilio("12345", url, &[], Some("AAAA")),
        Err(SignatureError::Malformed("not an HMAC-SHA1"))
    );
    assert_eq!(
        verify_twilio("", url, &[], Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")),
        Err(SignatureError::NotConfigured)
    );
    assert_eq!(
        verify_twilio("12345", url, &[], Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")),
        Ok(())
    );
    assert_eq!(
        verify_twilio_body("12345", url, b"{}", Some("zYQTYrRWXE7LtzbG4PfP7/bkkGo=")),
        Err(SignatureError::BodyHashMissing)
    );
}
