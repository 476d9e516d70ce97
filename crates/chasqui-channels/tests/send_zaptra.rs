//! The Zaptra (WPBox-style) sender against a local imitation: `POST {base}/sendmessage` and
//! `/sendtemplatemessage` with the token in the JSON body, `GET {base}/getTemplates?token=`,
//! answers in the shapes WPBox resellers document.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions panic on purpose

mod common;
mod imitation;

use chasqui_channels::send::{
    ErrorClass, MarkReadOutcome, OutboundMessage, Sender, SenderConfig, build_sender,
};
use chasqui_core::secrets::Secret;
use common::read_json;
use imitation::{Imitation, Reply};
use serde_json::{Value, json};

fn sender(server: &Imitation) -> std::sync::Arc<dyn Sender> {
    build_sender(&SenderConfig::zaptra(
        format!("{}/api/wpbox", server.base_url),
        Secret::new("zaptra-token"),
    ))
    .unwrap()
}

fn booking_template() -> Value {
    json!({"messaging_product": "whatsapp", "to": "919876543210", "type": "template", "template": {
        "name": "booking_confirmed", "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "12 March, 10:30"}]}]}})
}

#[tokio::test]
async fn text_and_template_requests_are_asserted_field_by_field() {
    let server = Imitation::start(|_, r| match r.path.as_str() {
        "/api/wpbox/sendmessage" => Reply::json(
            200,
            &json!({"status": "success", "message_id": 4711,
            "message_wamid": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSMEI4"}),
        ),
        "/api/wpbox/sendtemplatemessage" => Reply::json(200, &json!({"success": true})),
        _ => Reply::text(404, "not found"),
    })
    .await;
    let s = sender(&server);
    let mut text = read_json("whatsapp/meta_openapi_send_send_text_message.json");
    text["to"] = json!("919876543210");
    text["text"]["body"] = json!("Your booking is confirmed.");
    let r = s
        .send(&OutboundMessage::new("msg-1", text).unwrap())
        .await
        .unwrap();
    assert_eq!(
        r.provider_message_id,
        "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSMEI4"
    );
    let r = s
        .send(&OutboundMessage::new("msg-2", booking_template()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.provider_message_id, "zaptra:msg-2");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        assert_eq!(req.method, "POST");
        assert_eq!(req.query, None);
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(
            req.header("authorization"),
            None,
            "the token travels in the body"
        );
    }
    assert_eq!(reqs[0].path, "/api/wpbox/sendmessage");
    assert_eq!(
        reqs[0].json(),
        json!({"token": "zaptra-token", "phone": "+919876543210", "message": "Your booking is confirmed."})
    );
    assert_eq!(reqs[1].path, "/api/wpbox/sendtemplatemessage");
    assert_eq!(
        reqs[1].json(),
        json!({"token": "zaptra-token", "phone": "+919876543210", "template_name": "booking_confirmed",
               "template_language": "en", "components": booking_template()["template"]["components"]})
    );
}

#[tokio::test]
async fn reply_buttons_use_sendmessage_with_buttons() {
    let server = Imitation::always(Reply::json(
        200,
        &json!({"status": "success", "message_id": 1, "message_wamid": "wamid.B"}),
    ))
    .await;
    let mut body = read_json("whatsapp/meta_openapi_send_send_reply_button.json");
    body["to"] = json!("919876543210");
    sender(&server)
        .send(&OutboundMessage::new("m", body.clone()).unwrap())
        .await
        .unwrap();
    let sent = server.only_request().json();
    assert_eq!(sent["message"], body["interactive"]["body"]["text"]);
    let buttons: Vec<Value> = body["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json!({"id": b["reply"]["id"], "title": b["reply"]["title"]}))
        .collect();
    assert_eq!(sent["buttons"], Value::Array(buttons));
}

#[tokio::test]
async fn zaptra_errors_are_classified() {
    let rows: Vec<(Reply, ErrorClass)> = vec![
        (
            Reply::json(
                401,
                &json!({"status": "error", "error": {"code": 190, "title": "Token Expired",
                "message": "The access token has expired. Please generate a new token."}}),
            ),
            ErrorClass::AuthExpired,
        ),
        (
            Reply::json(200, &json!({"status": "error", "message": "Invalid token"})),
            ErrorClass::AuthExpired,
        ),
        (
            Reply::json(
                400,
                &json!({"status": "error", "error": {"code": 131026, "title": "Message undeliverable",
                "message": "The recipient phone number is not registered on WhatsApp."}}),
            ),
            ErrorClass::Permanent,
        ),
        (
            Reply::json(
                402,
                &json!({"status": "error", "message": "Insufficient credits"}),
            ),
            ErrorClass::Permanent,
        ),
        (
            Reply::json(
                429,
                &json!({"status": "error", "message": "Rate limit exceeded"}),
            )
            .with_header("retry-after", "30"),
            ErrorClass::RateLimited,
        ),
        (Reply::text(500, "Server Error"), ErrorClass::Retryable),
    ];
    for (reply, class) in rows {
        let server = Imitation::always(reply).await;
        let e = sender(&server)
            .send(&OutboundMessage::new("m", booking_template()).unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.class, class, "{}", e.message);
        assert!(!e.message.contains("zaptra-token"));
        assert!(!e.raw.to_string().contains("zaptra-token"));
    }
}

#[tokio::test]
async fn health_and_templates_read_get_templates() {
    let templates = json!({"status": "success", "templates": [{"id": 101, "name": "booking_confirmed", "status": "APPROVED",
        "category": "UTILITY", "language": "en", "components": [{"type": "BODY", "text": "Hi {{1}}, your booking for {{2}} is confirmed."}]}]});
    let server = Imitation::always(Reply::json(200, &templates)).await;
    let s = sender(&server);
    let h = s.health().await;
    assert_eq!((h.reachable, h.credentials_valid), (true, Some(true)));
    let page = s.list_templates("", None).await.unwrap();
    assert_eq!(page.templates.len(), 1);
    assert_eq!(page.templates[0].id.as_deref(), Some("101"));
    assert_eq!(page.templates[0].status.as_deref(), Some("APPROVED"));
    for req in server.requests() {
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/api/wpbox/getTemplates");
        assert_eq!(
            req.query_pairs(),
            vec![("token".to_string(), "zaptra-token".to_string())]
        );
    }
    assert_eq!(
        s.mark_read("wamid.X", false).await.unwrap(),
        MarkReadOutcome::Unsupported
    );
    assert_eq!(server.requests().len(), 2);
}
