//! The Twilio sender against a local imitation of the Messages API: requests asserted field by
//! field (path with the account SID, basic auth, form body), answers in Twilio's JSON shapes
//! (message resource on success; `{"code","message","more_info","status"}` on errors).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions panic on purpose

mod common;
mod imitation;

use std::time::Duration;

use base64::Engine as _;
use chasqui_channels::send::{
    ErrorClass, MarkReadOutcome, OutboundMessage, Sender, SenderConfig, SenderKind, build_sender,
};
use chasqui_core::secrets::Secret;
use common::read_json;
use imitation::{Imitation, Reply};
use serde_json::{Value, json};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token";

fn sender(base: &str) -> std::sync::Arc<dyn Sender> {
    build_sender(
        &SenderConfig::twilio(SID, Secret::new(TOKEN), "+14155238886")
            .with_base_url(base)
            .with_status_callback_url("https://gw.example.com/webhooks/twilio/ch_1")
            .with_twilio_content_sid("order_update:en_US", "HX0123456789abcdef0123456789abcdef"),
    )
    .unwrap()
}

/// A message resource as Twilio answers a create (`status` queued).
fn created(to: &str, body: &str) -> Value {
    json!({
        "account_sid": SID,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_sent": null,
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": "whatsapp:+14155238886",
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{SID}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f/Media.json")},
        "to": to,
        "uri": format!("/2010-04-01/Accounts/{SID}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json")
    })
}

fn twilio_error(status: u16, code: i64, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}),
    )
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn basic() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    )
}

const CALLBACK: &str = "https://gw.example.com/webhooks/twilio/ch_1?message_id=msg-7";

#[tokio::test]
async fn text_send_is_asserted_field_by_field() {
    let server = Imitation::always(Reply::json(
        201,
        &created("whatsapp:+5491155551234", "Hola"),
    ))
    .await;
    let mut body = read_json("whatsapp/meta_openapi_send_send_text_message.json");
    body["to"] = json!("+54 9 11 5555-1234");
    body["text"]["body"] = json!("Hola");
    let r = sender(&server.base_url)
        .send(&OutboundMessage::new("msg-7", body).unwrap())
        .await
        .unwrap();
    assert_eq!(r.provider_message_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
    assert_eq!(r.message_status.as_deref(), Some("queued"));
    assert_eq!(r.wa_id, None);

    let req = server.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert_eq!(req.query, None);
    assert_eq!(req.header("authorization"), Some(basic().as_str()));
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        req.form(),
        pairs(&[
            ("To", "whatsapp:+5491155551234"),
            ("From", "whatsapp:+14155238886"),
            ("Body", "Hola"),
            ("StatusCallback", CALLBACK),
        ])
    );
}

#[tokio::test]
async fn media_and_template_sends() {
    let server = Imitation::always(Reply::json(201, &created("whatsapp:+33612345678", ""))).await;
    let s = sender(&server.base_url);
    let mut doc = read_json("whatsapp/meta_openapi_send_send_document_message_by_url.json");
    doc["to"] = json!("33612345678");
    doc["document"] = json!({"link": "https://files.example.com/facture-42.pdf", "caption": "Votre facture", "filename": "facture-42.pdf"});
    s.send(&OutboundMessage::new("msg-7", doc).unwrap())
        .await
        .unwrap();

    let mut template = read_json("whatsapp/meta_openapi_send_send_message_template_text.json");
    template["to"] = json!("33612345678");
    template["template"]["name"] = json!("order_update");
    template["template"]["language"]["code"] = json!("en_US");
    s.send(&OutboundMessage::new("msg-7", template).unwrap())
        .await
        .unwrap();

    let reqs = server.requests();
    assert_eq!(
        reqs[0].form(),
        pairs(&[
            ("To", "whatsapp:+33612345678"),
            ("From", "whatsapp:+14155238886"),
            ("Body", "Votre facture"),
            ("MediaUrl", "https://files.example.com/facture-42.pdf"),
            ("StatusCallback", CALLBACK),
        ])
    );
    // The official template example: a text, a currency and a date_time body parameter.
    assert_eq!(
        reqs[1].form(),
        pairs(&[
            ("To", "whatsapp:+33612345678"),
            ("From", "whatsapp:+14155238886"),
            ("ContentSid", "HX0123456789abcdef0123456789abcdef"),
            (
                "ContentVariables",
                r#"{"1":"text-string","2":"$100.99","3":"February 25, 1977"}"#
            ),
            ("StatusCallback", CALLBACK),
        ])
    );
}

#[tokio::test]
async fn unsupported_types_never_reach_twilio() {
    let server = Imitation::always(Reply::json(201, &created("x", "x"))).await;
    let s = sender(&server.base_url);
    for file in [
        "meta_openapi_send_send_reply_button.json",
        "meta_openapi_send_send_location_message.json",
        "meta_openapi_send_send_contact_message.json",
        "meta_openapi_send_send_reply_with_reaction_message.json",
        "meta_openapi_send_send_image_message_by_id.json",
    ] {
        let mut body = read_json(&format!("whatsapp/{file}"));
        body["to"] = json!("16505551234");
        let e = s
            .send(&OutboundMessage::new("m", body).unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent, "{file}");
        assert_eq!(e.provider, SenderKind::Twilio);
        assert!(
            e.message.contains(':'),
            "{file}: says what to do: {}",
            e.message
        );
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn twilio_errors_are_classified() {
    let rows: Vec<(Reply, ErrorClass, Option<i64>, Option<Duration>)> = vec![
        (
            twilio_error(
                400,
                21211,
                "The 'To' number whatsapp:+1234 is not a valid phone number.",
            ),
            ErrorClass::Permanent,
            Some(21211),
            None,
        ),
        (
            twilio_error(401, 20003, "Authenticate"),
            ErrorClass::AuthExpired,
            Some(20003),
            None,
        ),
        (
            twilio_error(429, 20429, "Too Many Requests").with_header("retry-after", "5"),
            ErrorClass::RateLimited,
            Some(20429),
            Some(Duration::from_secs(5)),
        ),
        (
            twilio_error(500, 20500, "Internal Server Error"),
            ErrorClass::Retryable,
            Some(20500),
            None,
        ),
        (
            twilio_error(
                400,
                63016,
                "Failed to send freeform message because you are outside the allowed window.",
            ),
            ErrorClass::WindowClosed,
            Some(63016),
            None,
        ),
        (
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
            ErrorClass::Permanent,
            Some(21610),
            None,
        ),
        (
            twilio_error(400, 99999, "Something new"),
            ErrorClass::Permanent,
            Some(99999),
            None,
        ),
        (
            Reply::text(503, "<html>Service Unavailable</html>"),
            ErrorClass::Retryable,
            None,
            None,
        ),
    ];
    for (reply, class, code, retry_after) in rows {
        let status = reply.status;
        let server = Imitation::always(reply).await;
        let e = sender(&server.base_url)
            .send(
                &OutboundMessage::new(
                    "m",
                    json!({"to": "1", "type": "text", "text": {"body": "x"}}),
                )
                .unwrap(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            (e.class, e.code, e.http_status),
            (class, code, Some(status)),
            "{}",
            e.message
        );
        assert_eq!(e.retry_after, retry_after);
        match code {
            Some(c) => assert!(
                e.message.ends_with(&format!("(Twilio {c})")),
                "{}",
                e.message
            ),
            None => assert!(
                e.message.ends_with(&format!("(Twilio HTTP {status})")),
                "{}",
                e.message
            ),
        }
        assert!(!e.message.contains(TOKEN));
    }
}

#[tokio::test]
async fn health_checks_the_account_and_mark_read_sends_nothing() {
    let server = Imitation::replies(vec![
        Reply::json(200, &json!({"sid": SID, "friendly_name": "Repair shop", "status": "active", "type": "Full"})),
        twilio_error(401, 20003, "Authenticate"),
    ])
    .await;
    let s = sender(&server.base_url);
    assert_eq!(
        s.mark_read("SM1", true).await.unwrap(),
        MarkReadOutcome::Unsupported
    );
    let ok = s.health().await;
    assert_eq!(
        (ok.reachable, ok.credentials_valid, ok.can_send),
        (true, Some(true), Some(true))
    );
    let req = server.only_request();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, format!("/2010-04-01/Accounts/{SID}.json"));
    assert_eq!(req.header("authorization"), Some(basic().as_str()));
    let bad = s.health().await;
    assert_eq!(bad.credentials_valid, Some(false));
    assert_eq!(bad.error.unwrap().class, ErrorClass::AuthExpired);
    let e = s.list_templates("x", None).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
}
