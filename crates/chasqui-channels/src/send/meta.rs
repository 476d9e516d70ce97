//! Meta's WhatsApp Cloud API (and the built-in sandbox, which imitates it).
//!
//! | what | request |
//! |---|---|
//! | send | `POST {base}/{version}/{phone-number-id}/messages`, the body verbatim |
//! | mark read (+ typing) | same path, `{"messaging_product","status":"read","message_id","typing_indicator"?:{"type":"text"}}` |
//! | health | `GET {base}/{version}/{phone-number-id}?fields=id,display_phone_number,verified_name,quality_rating,throughput` |
//! | templates | `GET {base}/{version}/{waba-id}/message_templates?limit=100[&after=…]` |
//!
//! Every call carries `Authorization: Bearer <token>`. A 200 send answer gives the `wamid`
//! (`messages[0].id`) and the canonical `wa_id` (`contacts[0].wa_id`); errors are Graph errors
//! (`{"error": {"code", "error_subcode", "error_data": {"details"}, …}}`), classified by
//! [`super::errors`].

use std::time::{Duration, Instant};

use chasqui_core::secrets::Secret;
use serde_json::{Value, json};

use super::errors::{http_error, meta_error};
use super::http::{Answer, execute};
use super::{
    BoxFuture, ConfigError, Credentials, ErrorClass, HealthReport, MarkReadOutcome,
    OutboundMessage, ProviderTemplate, SendError, SendReceipt, Sender, SenderConfig, SenderKind,
    TemplatePage, checked_id,
};
use crate::graph_error::graph_error_from_value;
use crate::json::{nonempty, string};

/// How many templates Chasqui asks for per page.
pub const TEMPLATE_PAGE_SIZE: u32 = 100;

/// How a Graph-speaking provider authenticates.
#[derive(Debug, Clone)]
pub(crate) enum GraphAuth {
    /// `Authorization: Bearer <token>` (Meta, the sandbox).
    Bearer(Secret),
    /// `D360-API-KEY: <key>` (360dialog).
    D360(Secret),
}

/// An HTTP client for an API that answers with Graph bodies and Graph errors.
#[derive(Debug, Clone)]
pub(crate) struct GraphClient {
    pub provider: SenderKind,
    pub client: reqwest::Client,
    pub auth: GraphAuth,
    pub timeout: Duration,
}

impl GraphClient {
    fn authorise(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            GraphAuth::Bearer(token) => req.bearer_auth(token.expose()),
            GraphAuth::D360(key) => req.header("D360-API-KEY", key.expose()),
        }
    }

    /// `POST url` with a JSON body; the answer's JSON on 2xx, a classified error otherwise.
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Value, SendError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let req = self
            .authorise(self.client.post(url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes);
        self.answer(execute(self.provider, self.timeout, req).await?)
    }

    /// `GET url`; the answer's JSON on 2xx, a classified error otherwise.
    pub async fn get(&self, url: reqwest::Url) -> Result<Value, SendError> {
        let req = self.authorise(self.client.get(url));
        self.answer(execute(self.provider, self.timeout, req).await?)
    }

    fn answer(&self, answer: Answer) -> Result<Value, SendError> {
        if answer.is_success() {
            return Ok(answer.json.unwrap_or(Value::Null));
        }
        Err(graph_failure(self.provider, &answer))
    }
}

/// A non-2xx answer from a Graph-speaking API, classified.
pub(crate) fn graph_failure(provider: SenderKind, answer: &Answer) -> SendError {
    let raw = answer.raw();
    match answer.json.as_ref().map(graph_error_from_value) {
        Some(Ok(err)) => meta_error(provider, Some(answer.status), &err, &answer.hints, raw),
        _ => http_error(
            provider,
            answer.status,
            answer.text_excerpt().as_deref(),
            &answer.hints,
            raw,
        ),
    }
}

/// Reads a Cloud API send answer (`{"contacts":[{"input","wa_id"}],"messages":[{"id"}]}`).
pub(crate) fn receipt_from_graph(provider: SenderKind, v: Value) -> Result<SendReceipt, SendError> {
    let message = v.get("messages").and_then(|m| m.get(0));
    let contact = v.get("contacts").and_then(|c| c.get(0));
    let Some(id) = message.and_then(|m| nonempty(m, "id")) else {
        let mut e = SendError::new(
            provider,
            ErrorClass::Permanent,
            format!(
                "{} accepted the request but returned no message id: check the message in the provider's console before sending it again",
                provider.label()
            ),
        );
        e.raw = Box::new(v);
        return Err(e);
    };
    Ok(SendReceipt {
        provider_message_id: id,
        wa_id: contact.and_then(|c| nonempty(c, "wa_id")),
        user_id: contact.and_then(|c| nonempty(c, "user_id")),
        message_status: message.and_then(|m| nonempty(m, "message_status")),
        raw: v,
    })
}

/// The mark-as-read body, with the typing indicator when asked.
pub(crate) fn mark_read_body(provider_message_id: &str, typing: bool) -> Value {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": provider_message_id,
    });
    if typing {
        body["typing_indicator"] = json!({ "type": "text" });
    }
    body
}

/// Reads a Graph template list (`{"data": […], "paging": {"cursors": {"after"}, "next"?}}`).
pub(crate) fn template_page(v: Value) -> TemplatePage {
    let templates = v
        .get("data")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(ProviderTemplate::from_meta_entry)
                .collect()
        })
        .unwrap_or_default();
    let paging = v.get("paging");
    let has_next = paging.and_then(|p| nonempty(p, "next")).is_some();
    let after = paging
        .and_then(|p| p.get("cursors"))
        .and_then(|c| nonempty(c, "after"))
        .filter(|_| has_next);
    TemplatePage {
        templates,
        after,
        raw: v,
    }
}

/// Meta's Cloud API for one phone number.
#[derive(Debug, Clone)]
pub struct CloudApiSender {
    graph: GraphClient,
    base_url: String,
    graph_version: String,
    phone_number_id: String,
}

impl CloudApiSender {
    /// Checks the configuration and builds the sender.
    pub fn new(config: &SenderConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        let kind = SenderKind::CloudApi;
        let Credentials::AccessToken(token) = &config.credentials else {
            return Err(ConfigError::WrongCredentials {
                kind,
                expected: "an access token",
            });
        };
        let phone_number_id = config.phone_number_id.clone().ok_or(ConfigError::Missing {
            kind,
            field: "phone_number_id",
        })?;
        checked_id("phone_number_id", &phone_number_id)?;
        checked_id("graph_version", &config.graph_version)?;
        Ok(Self {
            graph: GraphClient {
                provider: kind,
                client,
                auth: GraphAuth::Bearer(token.clone()),
                timeout: config.timeout,
            },
            base_url: config.checked_base_url()?,
            graph_version: config.graph_version.clone(),
            phone_number_id,
        })
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/{}/{}/messages",
            self.base_url, self.graph_version, self.phone_number_id
        )
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, SendError> {
        let raw = format!("{}/{}/{}", self.base_url, self.graph_version, path);
        reqwest::Url::parse(&raw).map_err(|_| {
            SendError::new(
                SenderKind::CloudApi,
                ErrorClass::Permanent,
                format!("Cannot build the URL {raw}: check the channel's base URL"),
            )
        })
    }

    async fn send_inner(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let v = self
            .graph
            .post_json(&self.messages_url(), msg.body())
            .await?;
        receipt_from_graph(SenderKind::CloudApi, v)
    }

    async fn mark_read_inner(&self, id: &str, typing: bool) -> Result<MarkReadOutcome, SendError> {
        self.graph
            .post_json(&self.messages_url(), &mark_read_body(id, typing))
            .await?;
        Ok(MarkReadOutcome::Marked)
    }

    async fn health_inner(&self) -> HealthReport {
        let started = Instant::now();
        let url = self.url(&self.phone_number_id).map(|mut u| {
            u.query_pairs_mut().append_pair(
                "fields",
                "id,display_phone_number,verified_name,quality_rating,throughput",
            );
            u
        });
        let result = match url {
            Ok(url) => self.graph.get(url).await,
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        match result {
            Ok(v) => {
                let number = string(&v, "display_phone_number").unwrap_or_else(|| "?".into());
                let name = string(&v, "verified_name")
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                let quality = string(&v, "quality_rating")
                    .map(|q| format!(", quality {q}"))
                    .unwrap_or_default();
                HealthReport::healthy(
                    SenderKind::CloudApi,
                    latency,
                    None,
                    format!("Meta accepted the token for number {number}{name}{quality}"),
                    v,
                )
            }
            Err(e) => HealthReport::failed(SenderKind::CloudApi, latency, e),
        }
    }

    async fn list_templates_inner(
        &self,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<TemplatePage, SendError> {
        if checked_id("waba_id", waba_id).is_err() {
            return Err(SendError::new(
                SenderKind::CloudApi,
                ErrorClass::Permanent,
                format!(
                    "`{waba_id}` is not a WhatsApp Business Account id: set the channel's WABA id"
                ),
            ));
        }
        let mut url = self.url(&format!("{waba_id}/message_templates"))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &TEMPLATE_PAGE_SIZE.to_string());
            if let Some(after) = after {
                q.append_pair("after", after);
            }
        }
        Ok(template_page(self.graph.get(url).await?))
    }
}

impl Sender for CloudApiSender {
    fn kind(&self) -> SenderKind {
        SenderKind::CloudApi
    }

    fn send<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>> {
        Box::pin(self.send_inner(msg))
    }

    fn mark_read<'a>(
        &'a self,
        provider_message_id: &'a str,
        typing: bool,
    ) -> BoxFuture<'a, Result<MarkReadOutcome, SendError>> {
        Box::pin(self.mark_read_inner(provider_message_id, typing))
    }

    fn health(&self) -> BoxFuture<'_, HealthReport> {
        Box::pin(self.health_inner())
    }

    fn list_templates<'a>(
        &'a self,
        waba_id: &'a str,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<TemplatePage, SendError>> {
        Box::pin(self.list_templates_inner(waba_id, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_read_wamid_and_wa_id() {
        let r = receipt_from_graph(
            SenderKind::CloudApi,
            json!({"messaging_product":"whatsapp","contacts":[{"input":"+5491155551234","wa_id":"5491155551234"}],
                   "messages":[{"id":"wamid.X","message_status":"accepted"}]}),
        )
        .unwrap();
        assert_eq!(r.provider_message_id, "wamid.X");
        assert_eq!(r.wa_id.as_deref(), Some("5491155551234"));
        assert_eq!(r.message_status.as_deref(), Some("accepted"));
        let e = receipt_from_graph(SenderKind::CloudApi, json!({"messages": []})).unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
    }

    #[test]
    fn template_pages_only_offer_a_cursor_when_there_is_a_next_page() {
        let last = template_page(
            json!({"data":[{"name":"a","language":"en_US","status":"APPROVED"},{"id":"no-name"}],
            "paging":{"cursors":{"before":"B","after":"A"}}}),
        );
        assert_eq!(last.templates.len(), 1);
        assert_eq!(last.after, None);
        let more = template_page(
            json!({"data":[],"paging":{"cursors":{"after":"A"},"next":"https://x/next"}}),
        );
        assert_eq!(more.after.as_deref(), Some("A"));
    }

    #[test]
    fn mark_read_bodies() {
        assert_eq!(
            mark_read_body("wamid.1", false),
            json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.1"})
        );
        assert_eq!(
            mark_read_body("wamid.1", true)["typing_indicator"],
            json!({"type":"text"})
        );
    }
}
