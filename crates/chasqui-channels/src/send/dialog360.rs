//! 360dialog's Cloud API relay: Meta's request and response bodies verbatim, but its own host,
//! the `D360-API-KEY` header, and no `/{version}/{phone-number-id}` prefix (the key identifies
//! the number; adding the prefix "may result in errors", `cloud-api.md` §12).
//!
//! | what | request |
//! |---|---|
//! | send, mark read (+ typing) | `POST {base}/messages` |
//! | health | `GET {base}/health_status` → `{"health_status": {"can_send_message": "AVAILABLE" \| "LIMITED" \| "BLOCKED", …}}` |
//! | templates | `GET {base}/v1/configs/templates` → `{"waba_templates": […]}` (one page; the key names the WABA) |
//!
//! Errors are Meta's Graph errors, classified with Meta's table and labelled "via 360dialog".

use std::time::Instant;

use serde_json::Value;

use super::meta::{GraphAuth, GraphClient, mark_read_body, receipt_from_graph};
use super::{
    BoxFuture, ConfigError, Credentials, ErrorClass, HealthReport, MarkReadOutcome,
    OutboundMessage, ProviderTemplate, SendError, SendReceipt, Sender, SenderConfig, SenderKind,
    TemplatePage,
};
use crate::json::nonempty;

/// A 360dialog channel.
#[derive(Debug, Clone)]
pub struct Dialog360Sender {
    graph: GraphClient,
    base_url: String,
}

impl Dialog360Sender {
    /// Checks the configuration and builds the sender.
    pub fn new(config: &SenderConfig, client: reqwest::Client) -> Result<Self, ConfigError> {
        let kind = SenderKind::Dialog360;
        let Credentials::D360ApiKey(key) = &config.credentials else {
            return Err(ConfigError::WrongCredentials {
                kind,
                expected: "a D360-API-KEY",
            });
        };
        Ok(Self {
            graph: GraphClient {
                provider: kind,
                client,
                auth: GraphAuth::D360(key.clone()),
                timeout: config.timeout,
            },
            base_url: config.checked_base_url()?,
        })
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, SendError> {
        let raw = format!("{}/{path}", self.base_url);
        reqwest::Url::parse(&raw).map_err(|_| {
            SendError::new(
                SenderKind::Dialog360,
                ErrorClass::Permanent,
                format!("Cannot build the URL {raw}: check the channel's base URL"),
            )
        })
    }

    async fn send_inner(&self, msg: &OutboundMessage) -> Result<SendReceipt, SendError> {
        let url = format!("{}/messages", self.base_url);
        let v = self.graph.post_json(&url, msg.body()).await?;
        receipt_from_graph(SenderKind::Dialog360, v)
    }

    async fn mark_read_inner(&self, id: &str, typing: bool) -> Result<MarkReadOutcome, SendError> {
        let url = format!("{}/messages", self.base_url);
        self.graph
            .post_json(&url, &mark_read_body(id, typing))
            .await?;
        Ok(MarkReadOutcome::Marked)
    }

    async fn health_inner(&self) -> HealthReport {
        let started = Instant::now();
        let result = match self.url("health_status") {
            Ok(url) => self.graph.get(url).await,
            Err(e) => Err(e),
        };
        let latency = started.elapsed();
        match result {
            Ok(v) => {
                let status = v
                    .get("health_status")
                    .and_then(|h| nonempty(h, "can_send_message"));
                let can_send = status.as_deref().map(|s| s != "BLOCKED");
                let summary = match status.as_deref() {
                    Some(s) => format!("360dialog accepted the key; messaging status {s}"),
                    None => "360dialog accepted the key".to_owned(),
                };
                HealthReport::healthy(SenderKind::Dialog360, latency, can_send, summary, v)
            }
            Err(e) => HealthReport::failed(SenderKind::Dialog360, latency, e),
        }
    }

    async fn list_templates_inner(&self) -> Result<TemplatePage, SendError> {
        let v = self.graph.get(self.url("v1/configs/templates")?).await?;
        let templates = v
            .get("waba_templates")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(ProviderTemplate::from_meta_entry)
                    .collect()
            })
            .unwrap_or_default();
        Ok(TemplatePage {
            templates,
            after: None,
            raw: v,
        })
    }
}

impl Sender for Dialog360Sender {
    fn kind(&self) -> SenderKind {
        SenderKind::Dialog360
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

    /// The WABA is the key's; `waba_id` and `after` are not used.
    fn list_templates<'a>(
        &'a self,
        _waba_id: &'a str,
        _after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<TemplatePage, SendError>> {
        Box::pin(self.list_templates_inner())
    }
}
