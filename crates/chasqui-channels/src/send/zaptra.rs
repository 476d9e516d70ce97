//! Zaptra and other resellers running WPBox ("WhatsApp Box"): a JSON API whose token travels in
//! the request body. The channel's base URL includes the API prefix, e.g.
//! `https://zaptra.in/api/wpbox`.
//!
//! # What the shape rests on
//!
//! Zaptra publishes no API reference we could find; WPBox resellers document the same endpoints
//! under `/api/wpbox/…` (Samwad's developer docs and WhatsBizAPI's API reference), and that is
//! what this module speaks:
//!
//! | what | request | answer |
//! |---|---|---|
//! | text | `POST {base}/sendmessage` `{"token","phone","message"}` | `{"status":"success","message_id":123,"message_wamid":"wamid.…"}` |
//! | reply buttons | same, plus `"buttons":[{"id","title"}]`, `"header"`, `"footer"` (≤ 3 buttons) | same |
//! | template | `POST {base}/sendtemplatemessage` `{"token","phone","template_name","template_language","components"?}` (components in Meta's shape) | `{"success":true}` or the above |
//! | health, templates | `GET {base}/getTemplates?token=…` | `{"status":"success","templates":[…]}` (or a bare array) |
//!
//! Assumptions (not documented by Zaptra itself):
//! - `phone` is sent as `+<country code><number>` (the resellers' examples use `+919876543210`).
//! - The provider message id is `message_wamid`, else `message_id`, else Meta's
//!   `messages[0].id` if the answer relays Meta's; an answer with none (templates often answer
//!   just `{"success": true}`) gets `zaptra:<our message id>`, so the message still has an id.
//! - An answer is a failure when its HTTP status is not 2xx, or its body says
//!   `"status": "error"` or `"success": false`. A numeric `code` (in `error.code` or `code`) is
//!   taken as Meta's (the resellers relay Meta's codes: 0/10/190 for the token, 131026, …);
//!   otherwise the HTTP status decides, and a 2xx failure whose message speaks of an invalid or
//!   expired token counts as expired credentials.
//! - Media, location, contacts, lists, reactions and read receipts are not part of the
//!   documented API: media and the others are refused with a sentence, `mark_read` reports
//!   [`MarkReadOutcome::Unsupported`].

use std::time::Instant;

use chasqui_core::secrets::Secret;
use serde_json::{Map, Value, json};

use super::errors::{ErrorClass, http_error, meta_error};
use super::http::{Answer, execute};
use super::{
    BoxFuture, ConfigError, Credentials, HealthReport, MarkReadOutcome, OutboundMessage,
    ProviderTemplate, Recipient, SendError, SendReceipt, Sender, SenderConfig, SenderKind,
    TemplatePage,
};
use crate::graph_error::graph_error_from_value;
use crate::json::{int, nonempty, string};

const KIND: SenderKind = SenderKind::Zaptra;

/// A Zaptra (WPBox-style) channel.
#[derive(Debug, Clone)]
pub struct ZaptraSender {
    client: reqwest::Client,
    base_url: String,
    token: Secret,
    timeout: std::time::Duration,
}

fn unsupported(what: impl std::fmt::Display) -> SendError {
    SendError::unsupported(KIND, what)
}

impl ZaptraSender {
    /// Checks the configuration and builds the sender.
    pub fn new(config: &SenderConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        let Credentials::ZaptraToken(token) = &config.credentials else {
            return Err(ConfigError::WrongCredentials {
                kind: KIND,
                expected: "an API token",
            });
        };
        if config.base_url.trim().is_empty() {
            return Err(ConfigError::Missing {
                kind: KIND,
                field: "base_url",
            });
        }
        Ok(Self {
            client,
            base_url: config.checked_base_url()?,
            token: token.clone(),
            timeout: config.timeout,
        })
    }

    /// The endpoint and JSON body for `msg` (the body holds the token), or why it cannot go.
    pub fn request_for(&self, msg: &OutboundMessage) -> Result<(&'static str, Value), SendError> {
        let phone = match msg.recipient() {
            Recipient::Phone(p) => {
                let digits: String = p.chars().filter(char::is_ascii_digit).collect();
                format!("+{digits}")
            }
            Recipient::UserId(_) => {
                return Err(unsupported(
                    "Zaptra cannot send to a business-scoped user id: send to the customer's phone number",
                ));
            }
        };
        let content = msg.content();
        let mut body = Map::new();
        body.insert("token".into(), json!(self.token.expose()));
        body.insert("phone".into(), json!(phone));
        let endpoint = match msg.message_type() {
            "text" => {
                let text = content.and_then(|c| string(c, "body")).ok_or_else(|| {
                    unsupported("A text message needs `text.body`: add the text to send")
                })?;
                body.insert("message".into(), json!(text));
                "sendmessage"
            }
            "interactive" => {
                let i = content
                    .ok_or_else(|| unsupported("An interactive message needs `interactive`"))?;
                if string(i, "type").as_deref() != Some("button") {
                    return Err(unsupported(
                        "Zaptra sends only reply-button interactive messages: use `interactive.type` \"button\" or a template",
                    ));
                }
                let text = i
                    .get("body")
                    .and_then(|b| string(b, "text"))
                    .ok_or_else(|| {
                        unsupported("A reply-button message needs `interactive.body.text`")
                    })?;
                let buttons: Vec<Value> = i
                    .get("action")
                    .and_then(|a| a.get("buttons"))
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|b| b.get("reply"))
                    .filter_map(|r| {
                        Some(json!({"id": string(r, "id")?, "title": string(r, "title")?}))
                    })
                    .collect();
                if buttons.is_empty() {
                    return Err(unsupported(
                        "A reply-button message needs `interactive.action.buttons[].reply` with `id` and `title`",
                    ));
                }
                body.insert("message".into(), json!(text));
                body.insert("buttons".into(), Value::Array(buttons));
                let header = i
                    .get("header")
                    .filter(|h| string(h, "type").as_deref() == Some("text"))
                    .and_then(|h| nonempty(h, "text"));
                if let Some(h) = header {
                    body.insert("header".into(), json!(h));
                }
                if let Some(f) = i.get("footer").and_then(|f| nonempty(f, "text")) {
                    body.insert("footer".into(), json!(f));
                }
                "sendmessage"
            }
            "template" => {
                let t =
                    content.ok_or_else(|| unsupported("A template message needs `template`"))?;
                let name = nonempty(t, "name")
                    .ok_or_else(|| unsupported("A template message needs `template.name`"))?;
                let language = t
                    .get("language")
                    .and_then(|l| nonempty(l, "code"))
                    .ok_or_else(|| {
                        unsupported("A template message needs `template.language.code`")
                    })?;
                body.insert("template_name".into(), json!(name));
                body.insert("template_language".into(), json!(language));
                if let Some(c) = t.get("components").filter(|c| !c.is_null()) {
                    body.insert("components".into(), c.clone());
                }
                "sendtemplatemessage"
            }
            other => {
                return Err(unsupported(format!(
                    "Zaptra's API documents only text, reply buttons and templates, not `{other}` messages: send a template with a media header, or another channel"
                )));
            }
        };
        Ok((endpoint, Value::Object(body)))
    }

    fn templates_url(&self) -> Result<reqwest::Url, SendError> {
        let mut url =
            reqwest::Url::parse(&format!("{}/getTemplates", self.base_url)).map_err(|_| {
                SendError::new(
                    KIND,
                    ErrorClass::Permanent,
                    "Cannot build the getTemplates URL: check the channel's base URL",
                )
            })?;
        url.query_pairs_mut()
            .append_pair("token", self.token.expose());
        Ok(url)
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, SendError> {
        let answer = execute(KIND, self.timeout, req).await?;
        match failure(&answer) {
            Some(e) => Err(e),
            None => Ok(answer.json.unwrap_or(Value::Null)),
        }
    }

    async fn send_inner(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let (endpoint, body) = self.request_for(msg)?;
        let req = self
            .client
            .post(format!("{}/{endpoint}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_string());
        let v = self.call(req).await?;
        let meta_message = v.get("messages").and_then(|m| m.get(0));
        let id = nonempty(&v, "message_wamid")
            .or_else(|| nonempty(&v, "message_id"))
            .or_else(|| meta_message.and_then(|m| nonempty(m, "id")))
            .unwrap_or_else(|| format!("zaptra:{}", msg.message_id()));
        Ok(SendReceipt {
            provider_message_id: id,
            wa_id: v
                .get("contacts")
                .and_then(|c| c.get(0))
                .and_then(|c| nonempty(c, "wa_id")),
            user_id: None,
            message_status: nonempty(&v, "status"),
            raw: v,
        })
    }

    async fn templates(&self) -> Result<Value, SendError> {
        let req = self
            .client
            .get(self.templates_url()?)
            .header(reqwest::header::ACCEPT, "application/json");
        self.call(req).await
    }

    async fn health_inner(&self) -> HealthReport {
        let started = Instant::now();
        let result = self.templates().await;
        let latency = started.elapsed();
        match result {
            Ok(v) => {
                let count = template_entries(&v).len();
                HealthReport::healthy(
                    KIND,
                    latency,
                    None,
                    format!("Zaptra accepted the token; {count} templates listed"),
                    json!({ "templates": count }),
                )
            }
            Err(e) => HealthReport::failed(KIND, latency, e),
        }
    }

    async fn list_templates_inner(&self) -> Result<TemplatePage, SendError> {
        let v = self.templates().await?;
        let templates = template_entries(&v)
            .iter()
            .filter_map(ProviderTemplate::from_meta_entry)
            .collect();
        Ok(TemplatePage {
            templates,
            after: None,
            raw: v,
        })
    }
}

fn template_entries(v: &Value) -> &[Value] {
    v.get("templates")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The failure an answer reports, if any.
fn failure(answer: &Answer) -> Option<SendError> {
    let v = answer.json.as_ref();
    let says_error = v.is_some_and(|v| {
        string(v, "status").is_some_and(|s| s.eq_ignore_ascii_case("error"))
            || v.get("success") == Some(&Value::Bool(false))
    });
    if answer.is_success() && !says_error {
        return None;
    }
    let raw = answer.raw();
    let error_obj = v.and_then(|v| v.get("error")).filter(|e| e.is_object());
    let code = error_obj
        .and_then(|e| int(e, "code"))
        .or_else(|| v.and_then(|v| int(v, "code")));
    let text = error_obj
        .and_then(|e| nonempty(e, "message"))
        .or_else(|| v.and_then(|v| nonempty(v, "message")))
        .or_else(|| v.and_then(|v| nonempty(v, "error")))
        .or_else(|| answer.text_excerpt());
    if code.is_some() {
        let source = error_obj.or(v).cloned().unwrap_or(Value::Null);
        if let Ok(err) = graph_error_from_value(&source) {
            return Some(meta_error(
                KIND,
                Some(answer.status),
                &err,
                &answer.hints,
                raw,
            ));
        }
    }
    let mut e = http_error(KIND, answer.status, text.as_deref(), &answer.hints, raw);
    let lower = text.as_deref().unwrap_or_default().to_ascii_lowercase();
    if answer.is_success()
        && lower.contains("token")
        && (lower.contains("invalid") || lower.contains("expired"))
    {
        e.class = ErrorClass::AuthExpired;
        e.message = format!(
            "Zaptra rejected the channel's token: update it in the channel's settings; its messages are held until then. Zaptra says: “{}” (Zaptra)",
            text.unwrap_or_default()
        );
    }
    Some(e)
}

impl Sender for ZaptraSender {
    fn kind(&self) -> SenderKind {
        KIND
    }

    fn send<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(self.send_inner(msg))
    }

    /// Not in the documented API: nothing is sent.
    fn mark_read<'a>(
        &'a self,
        _provider_message_id: &'a str,
        _typing: bool,
    ) -> BoxFuture<'a, Result<MarkReadOutcome, SendError>> {
        Box::pin(async { Ok(MarkReadOutcome::Unsupported) })
    }

    fn health(&self) -> BoxFuture<'_, HealthReport> {
        Box::pin(self.health_inner())
    }

    /// One page: the token names the account; `waba_id` and `after` are not used.
    fn list_templates<'a>(
        &'a self,
        _waba_id: &'a str,
        _after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<TemplatePage, SendError>> {
        Box::pin(self.list_templates_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> ZaptraSender {
        let cfg = SenderConfig::zaptra("https://zaptra.example/api/wpbox/", Secret::new("ztok"));
        ZaptraSender::new(&cfg, reqwest::Client::new()).unwrap()
    }

    fn req(body: Value) -> Result<(&'static str, Value), SendError> {
        sender().request_for(&OutboundMessage::new("m1", body).unwrap())
    }

    #[test]
    fn maps_text_buttons_and_templates() {
        assert_eq!(
            req(json!({"to":"919876543210","type":"text","text":{"body":"Booked"}})).unwrap(),
            (
                "sendmessage",
                json!({"token":"ztok","phone":"+919876543210","message":"Booked"})
            )
        );
        let (ep, body) = req(json!({"to":"919876543210","type":"interactive","interactive":{"type":"button",
            "header":{"type":"text","text":"Booking"},"body":{"text":"Confirm?"},"footer":{"text":"Reply"},
            "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},{"type":"reply","reply":{"id":"no","title":"No"}}]}}}))
        .unwrap();
        assert_eq!(ep, "sendmessage");
        assert_eq!(
            body,
            json!({"token":"ztok","phone":"+919876543210","message":"Confirm?","header":"Booking","footer":"Reply",
                   "buttons":[{"id":"yes","title":"Yes"},{"id":"no","title":"No"}]})
        );
        let components = json!([{"type":"body","parameters":[{"type":"text","text":"Asha"}]}]);
        assert_eq!(
            req(json!({"to":"919876543210","type":"template","template":{"name":"booking_confirmed","language":{"code":"en"},"components":components}}))
                .unwrap(),
            ("sendtemplatemessage", json!({"token":"ztok","phone":"+919876543210","template_name":"booking_confirmed",
                "template_language":"en","components":components}))
        );
    }

    #[test]
    fn refuses_what_the_api_does_not_document() {
        for t in ["image", "location", "reaction"] {
            let e = req(json!({"to":"1","type":t, t:{}})).unwrap_err();
            assert_eq!(e.class, ErrorClass::Permanent);
            assert!(e.message.contains(&format!("`{t}`")));
        }
        let e =
            req(json!({"to":"1","type":"interactive","interactive":{"type":"list"}})).unwrap_err();
        assert!(e.message.contains("reply-button"));
    }

    fn answer(status: u16, v: Value) -> Answer {
        Answer {
            status,
            hints: Default::default(),
            json: Some(v),
            text: String::new(),
        }
    }

    #[test]
    fn failures_in_many_shapes() {
        assert!(failure(&answer(200, json!({"status":"success","message_id":1}))).is_none());
        let e = failure(&answer(
            401,
            json!({"status":"error","error":{"code":190,"title":"Token Expired","message":"The access token has expired."}}),
        ))
        .unwrap();
        assert_eq!(e.class, ErrorClass::AuthExpired);
        assert!(
            e.message.ends_with("(Meta 190 via Zaptra)"),
            "{}",
            e.message
        );
        let e = failure(&answer(
            200,
            json!({"status":"error","message":"Invalid token"}),
        ))
        .unwrap();
        assert_eq!(e.class, ErrorClass::AuthExpired);
        let e = failure(&answer(
            200,
            json!({"success":false,"error":"Template not found"}),
        ))
        .unwrap();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("Template not found"));
        let e = failure(&answer(
            429,
            json!({"status":"error","message":"slow down"}),
        ))
        .unwrap();
        assert_eq!(e.class, ErrorClass::RateLimited);
        let e = failure(&answer(
            200,
            json!({"status":"error","error":{"code":131047,"message":"Re-engagement message"}}),
        ))
        .unwrap();
        assert_eq!(e.class, ErrorClass::WindowClosed);
    }
}
