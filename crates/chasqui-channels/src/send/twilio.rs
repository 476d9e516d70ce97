//! Twilio WhatsApp through the Messages API:
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP basic auth
//! (account SID : auth token). Health: `GET {base}/2010-04-01/Accounts/{AccountSid}.json`.
//!
//! # From the Cloud API body to Twilio's form
//!
//! | Cloud API body | Twilio form |
//! |---|---|
//! | `to` | `To=whatsapp:+<digits>` (a BSUID `recipient` is refused: Twilio needs a number) |
//! | channel's sender | `From=whatsapp:+<digits>`, or `MessagingServiceSid=MG…` when the sender is a Messaging Service |
//! | `text.body` | `Body` (`preview_url` has no Twilio equivalent and is dropped) |
//! | `image`/`video`/`document` `.link` | `MediaUrl`, and `Body` = `caption` when there is one (`filename` is dropped) |
//! | `audio`/`sticker` `.link` | `MediaUrl` |
//! | media by `id` | refused: Twilio fetches media by public URL only — send it by `link` |
//! | `template` | `ContentSid` + `ContentVariables` (below) |
//! | `context` (reply quote), `biz_opaque_callback_data` | dropped: the Messages API has no equivalent |
//! | `interactive`, `location`, `contacts`, `reaction`, anything else | refused with a sentence: on Twilio these are Content templates |
//! | channel's status webhook | `StatusCallback=<url>?message_id=<our id>` |
//!
//! ## Templates
//!
//! Twilio sends WhatsApp templates as Content templates identified by a Content SID (`HX…`),
//! not by WhatsApp template name. The SID is found, in order: `template.name` itself when it is
//! a Content SID (`HX` + 32 hex digits); the channel's `twilio_content_sids` entry for
//! `name:language` (e.g. `order_update:es_AR`); its entry for `name`. Otherwise the send is
//! refused with a sentence saying how to map it.
//!
//! `ContentVariables` is a JSON object built from the template's parameters: a parameter with a
//! `parameter_name` is keyed by that name (in any component); the body's positional parameters
//! are keyed `"1"`, `"2"`, … in order. Values: `text` as is, `currency` and `date_time` by their
//! `fallback_value`. Positional header or button parameters, and media parameters, are refused:
//! Twilio numbers a Content template's variables itself, so name them to map them. A
//! template without parameters sends no `ContentVariables`.

use std::time::Instant;

use chasqui_core::secrets::Secret;
use serde_json::{Map, Value};

use super::errors::{ErrorClass, twilio_error};
use super::http::{Answer, execute};
use super::{
    BoxFuture, ConfigError, Credentials, HealthReport, MarkReadOutcome, OutboundMessage, Recipient,
    SendError, SendReceipt, Sender, SenderConfig, SenderKind, checked_id,
};
use crate::json::{int, nonempty, string};

const KIND: SenderKind = SenderKind::Twilio;

/// Who the message is from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum From {
    /// `whatsapp:+14155238886`.
    Address(String),
    /// A Messaging Service (`MG…`).
    Service(String),
}

/// A Twilio WhatsApp sender.
#[derive(Debug, Clone)]
pub struct TwilioSender {
    client: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: Secret,
    from: From,
    status_callback_url: Option<reqwest::Url>,
    content_sids: std::collections::BTreeMap<String, String>,
    timeout: std::time::Duration,
}

fn is_content_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("HX") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `whatsapp:+<digits>` from a number written any usual way.
pub fn whatsapp_address(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!("whatsapp:+{digits}")
}

fn unsupported(what: impl std::fmt::Display) -> SendError {
    SendError::unsupported(KIND, what)
}

impl TwilioSender {
    /// Checks the configuration and builds the sender.
    pub fn new(config: &SenderConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        let Credentials::Twilio {
            account_sid,
            auth_token,
        } = &config.credentials
        else {
            return Err(ConfigError::WrongCredentials {
                kind: KIND,
                expected: "an account SID and auth token",
            });
        };
        checked_id("account_sid", account_sid)?;
        let sender = config
            .sender_number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ConfigError::Missing {
                kind: KIND,
                field: "sender_number",
            })?;
        let from = if sender.starts_with("MG") {
            checked_id("sender_number", sender)?;
            From::Service(sender.to_owned())
        } else {
            let digits = sender.chars().filter(char::is_ascii_digit).count();
            if digits < 6 {
                return Err(ConfigError::BadId {
                    field: "sender_number",
                    value: sender.to_owned(),
                });
            }
            From::Address(whatsapp_address(sender))
        };
        let status_callback_url = match &config.status_callback_url {
            None => None,
            Some(raw) => match reqwest::Url::parse(raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    return Err(ConfigError::BadUrl {
                        field: "status_callback_url",
                        value: raw.clone(),
                    });
                }
            },
        };
        Ok(Self {
            client,
            base_url: config.checked_base_url()?,
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            from,
            status_callback_url,
            content_sids: config.twilio_content_sids.clone(),
            timeout: config.timeout,
        })
    }

    /// The form Twilio receives for `msg` (in order), or why it cannot carry it.
    pub fn form(&self, msg: &OutboundMessage) -> Result<Vec<(String, String)>, SendError> {
        let mut form: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| form.push((k.to_owned(), v));
        let to = match msg.recipient() {
            Recipient::Phone(p) => whatsapp_address(p),
            Recipient::UserId(_) => {
                return Err(unsupported(
                    "Twilio cannot send to a business-scoped user id: send to the customer's phone number",
                ));
            }
        };
        put("To", to);
        match &self.from {
            From::Address(a) => put("From", a.clone()),
            From::Service(s) => put("MessagingServiceSid", s.clone()),
        }
        let content = msg.content();
        match msg.message_type() {
            "text" => {
                let body = content.and_then(|c| string(c, "body")).ok_or_else(|| {
                    unsupported("A text message needs `text.body`: add the text to send")
                })?;
                put("Body", body);
            }
            t @ ("image" | "video" | "document" | "audio" | "sticker") => {
                let media = content.ok_or_else(|| {
                    unsupported(format!(
                        "A {t} message needs `{t}.link`: add the media's URL"
                    ))
                })?;
                let link = nonempty(media, "link").ok_or_else(|| {
                    unsupported(format!(
                        "Twilio fetches media from a public URL: send this {t} by `link`, not by media id"
                    ))
                })?;
                if let Some(caption) = nonempty(media, "caption") {
                    put("Body", caption);
                }
                put("MediaUrl", link);
            }
            "template" => {
                let template = content.ok_or_else(|| {
                    unsupported("A template message needs `template.name` and `template.language`")
                })?;
                let (sid, variables) = self.template(template)?;
                put("ContentSid", sid);
                if let Some(v) = variables {
                    put("ContentVariables", v);
                }
            }
            other => {
                return Err(unsupported(format!(
                    "Twilio's Messages API cannot send a `{other}` message as it is: create a Twilio Content template for it and send that template"
                )));
            }
        }
        if let Some(cb) = &self.status_callback_url {
            let mut cb = cb.clone();
            cb.query_pairs_mut()
                .append_pair("message_id", msg.message_id());
            put("StatusCallback", cb.to_string());
        }
        Ok(form)
    }

    /// The Content SID and `ContentVariables` JSON for a Cloud API `template` object.
    fn template(&self, template: &Value) -> Result<(String, Option<String>), SendError> {
        let name = nonempty(template, "name")
            .ok_or_else(|| unsupported("A template message needs `template.name`"))?;
        let language = template
            .get("language")
            .and_then(|l| nonempty(l, "code"))
            .unwrap_or_default();
        let sid = if is_content_sid(&name) {
            name
        } else {
            self.content_sids
                .get(&format!("{name}:{language}"))
                .or_else(|| self.content_sids.get(&name))
                .cloned()
                .ok_or_else(|| {
                    unsupported(format!(
                        "Twilio sends templates by Content SID: map `{name}` ({language}) to its HX… SID in the channel's settings, or send the SID as the template name"
                    ))
                })?
        };
        let mut vars = Map::new();
        let components = template
            .get("components")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for component in components {
            let kind = string(component, "type")
                .unwrap_or_default()
                .to_ascii_lowercase();
            let params = component
                .get("parameters")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut position = 0;
            for p in params {
                position += 1;
                let key = match nonempty(p, "parameter_name") {
                    Some(name) => name,
                    None if kind == "body" => position.to_string(),
                    None => {
                        return Err(unsupported(format!(
                            "Twilio cannot place positional {kind} parameters: give them a `parameter_name` matching the Content template's variable"
                        )));
                    }
                };
                vars.insert(key, Value::String(parameter_value(p)?));
            }
        }
        let variables = (!vars.is_empty()).then(|| Value::Object(vars).to_string());
        Ok((sid, variables))
    }

    fn account_url(&self, tail: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}{tail}",
            self.base_url, self.account_sid
        )
    }

    fn request(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.basic_auth(&self.account_sid, Some(self.auth_token.expose()))
    }

    async fn send_inner(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let form = self.form(msg)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let req = self
            .request(self.client.post(self.account_url("/Messages.json")))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let answer = execute(KIND, self.timeout, req).await?;
        if !answer.is_success() {
            return Err(failure(&answer));
        }
        let v = answer.json.unwrap_or(Value::Null);
        match nonempty(&v, "sid") {
            Some(sid) => Ok(SendReceipt {
                provider_message_id: sid,
                wa_id: None,
                user_id: None,
                message_status: nonempty(&v, "status"),
                raw: v,
            }),
            None => {
                let mut e = SendError::new(
                    KIND,
                    ErrorClass::Permanent,
                    "Twilio accepted the request but returned no message SID: check the message in Twilio's console before sending it again",
                );
                e.raw = Box::new(v);
                Err(e)
            }
        }
    }

    async fn health_inner(&self) -> HealthReport {
        let started = Instant::now();
        let req = self.request(self.client.get(self.account_url(".json")));
        let result = match execute(KIND, self.timeout, req).await {
            Ok(a) if a.is_success() => Ok(a.json.unwrap_or(Value::Null)),
            Ok(a) => Err(failure(&a)),
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        match result {
            Ok(v) => {
                let status = nonempty(&v, "status");
                let can_send = status.as_deref().map(|s| s == "active");
                let summary = match status.as_deref() {
                    Some(s) => format!("Twilio accepted the credentials; account status {s}"),
                    None => "Twilio accepted the credentials".to_owned(),
                };
                HealthReport::healthy(KIND, latency, can_send, summary, v)
            }
            Err(e) => HealthReport::failed(KIND, latency, e),
        }
    }
}

/// A template parameter's text.
fn parameter_value(p: &Value) -> Result<String, SendError> {
    let kind = string(p, "type").unwrap_or_else(|| "text".into());
    let value = match kind.as_str() {
        "text" => string(p, "text"),
        "currency" | "date_time" => p.get(&kind).and_then(|o| string(o, "fallback_value")),
        "payload" => string(p, "payload"),
        "coupon_code" => string(p, "coupon_code"),
        _ => None,
    };
    value.ok_or_else(|| {
        unsupported(format!(
            "Twilio cannot map a `{kind}` template parameter to a Content variable: send it as text"
        ))
    })
}

/// A non-2xx Twilio answer, classified.
fn failure(answer: &Answer) -> SendError {
    let v = answer.json.as_ref();
    let code = v.and_then(|v| int(v, "code"));
    let message = v
        .and_then(|v| nonempty(v, "message"))
        .or_else(|| answer.text_excerpt());
    twilio_error(
        Some(answer.status),
        code,
        message.as_deref(),
        &answer.hints,
        answer.raw(),
    )
}

impl Sender for TwilioSender {
    fn kind(&self) -> SenderKind {
        KIND
    }

    fn send<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(self.send_inner(msg))
    }

    /// Twilio's Messages API has no read receipts: nothing is sent.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sender() -> TwilioSender {
        let cfg = SenderConfig::twilio("AC123", Secret::new("tok"), "+1 415 523 8886")
            .with_status_callback_url("https://gw.example/webhooks/twilio/ch1")
            .with_twilio_content_sid("order_update:es_AR", "HX00000000000000000000000000000001")
            .with_twilio_content_sid("welcome", "HX00000000000000000000000000000002");
        TwilioSender::new(&cfg, reqwest::Client::new()).unwrap()
    }

    fn form(body: Value) -> Result<Vec<(String, String)>, SendError> {
        sender().form(&OutboundMessage::new("msg-1", body).unwrap())
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn text_media_and_callback() {
        let cb = "https://gw.example/webhooks/twilio/ch1?message_id=msg-1";
        assert_eq!(
            form(json!({"to":"5491155551234","type":"text","text":{"body":"Hola","preview_url":true}}))
                .unwrap(),
            pairs(&[
                ("To", "whatsapp:+5491155551234"),
                ("From", "whatsapp:+14155238886"),
                ("Body", "Hola"),
                ("StatusCallback", cb)
            ])
        );
        assert_eq!(
            form(json!({"to":"+33612345678","type":"document","document":{"link":"https://x/f.pdf","caption":"Facture","filename":"f.pdf"}}))
                .unwrap(),
            pairs(&[
                ("To", "whatsapp:+33612345678"),
                ("From", "whatsapp:+14155238886"),
                ("Body", "Facture"),
                ("MediaUrl", "https://x/f.pdf"),
                ("StatusCallback", cb)
            ])
        );
        let e = form(json!({"to":"1","type":"image","image":{"id":"123"}})).unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("by `link`"), "{}", e.message);
    }

    #[test]
    fn templates_need_a_content_sid_and_map_variables() {
        let f = form(json!({"to":"1","type":"template","template":{"name":"order_update","language":{"code":"es_AR"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"Ana"},
                {"type":"currency","currency":{"fallback_value":"$10","code":"ARS","amount_1000":10000}}]},
                {"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"o/1","parameter_name":"path"}]}]}}))
        .unwrap();
        assert_eq!(
            f[2],
            (
                "ContentSid".into(),
                "HX00000000000000000000000000000001".into()
            )
        );
        assert_eq!(
            f[3],
            (
                "ContentVariables".into(),
                r#"{"1":"Ana","2":"$10","path":"o/1"}"#.into()
            )
        );
        let f = form(json!({"to":"1","type":"template","template":{"name":"welcome","language":{"code":"en"}}}))
            .unwrap();
        assert_eq!(f[2].1, "HX00000000000000000000000000000002");
        assert_eq!(f[3].0, "StatusCallback");
        let f = form(json!({"to":"1","type":"template","template":{"name":"HXabcdefabcdefabcdefabcdefabcdefab","language":{"code":"en"}}}))
            .unwrap();
        assert_eq!(f[2].1, "HXabcdefabcdefabcdefabcdefabcdefab");
        let e = form(json!({"to":"1","type":"template","template":{"name":"unknown","language":{"code":"en"}}}))
            .unwrap_err();
        assert!(e.message.contains("map `unknown` (en)"), "{}", e.message);
        let e = form(
            json!({"to":"1","type":"template","template":{"name":"welcome","language":{"code":"en"},
            "components":[{"type":"header","parameters":[{"type":"text","text":"x"}]}]}}),
        )
        .unwrap_err();
        assert!(e.message.contains("positional header"), "{}", e.message);
    }

    #[test]
    fn unsupported_types_and_recipients_are_refused_clearly() {
        for t in ["interactive", "location", "contacts", "reaction"] {
            let e = form(json!({"to":"1","type":t, t: {}})).unwrap_err();
            assert_eq!(e.class, ErrorClass::Permanent);
            assert!(e.message.contains(&format!("`{t}`")), "{}", e.message);
        }
        let e = form(json!({"recipient":"US.1","type":"text","text":{"body":"x"}})).unwrap_err();
        assert!(e.message.contains("phone number"));
    }

    #[test]
    fn messaging_services_replace_from() {
        let cfg = SenderConfig::twilio("AC1", Secret::new("t"), "MG0123");
        let s = TwilioSender::new(&cfg, reqwest::Client::new()).unwrap();
        let f = s
            .form(&OutboundMessage::new("m", json!({"to":"1","text":{"body":"x"}})).unwrap())
            .unwrap();
        assert_eq!(f[1], ("MessagingServiceSid".into(), "MG0123".into()));
        assert_eq!(f.len(), 3);
    }
}
