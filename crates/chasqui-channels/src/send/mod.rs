//! Outbound provider clients: one [`Sender`] per channel, each speaking its provider's HTTP API.
//!
//! The caller (the sender worker) hands over an [`OutboundMessage`]: the Cloud-API-shaped JSON
//! body it already validated (`messaging_product`, `to` or `recipient`, `type`, `<type>`…) and
//! our message id. Each provider maps that body onto its own wire format:
//!
//! | provider | module | request |
//! |---|---|---|
//! | Meta Cloud API (and the sandbox) | [`meta`] | `POST {base}/{version}/{phone-number-id}/messages`, Bearer token, body verbatim |
//! | 360dialog | [`dialog360`] | `POST {base}/messages`, `D360-API-KEY`, body verbatim |
//! | Twilio WhatsApp | [`twilio`] | `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form, basic auth |
//! | Zaptra (WPBox-style resellers) | [`zaptra`] | `POST {base}/sendmessage` or `/sendtemplatemessage`, token in the JSON body |
//!
//! Every failure comes back as a [`SendError`] classified by [`errors`]; timeouts and connection
//! errors are [`ErrorClass::Retryable`]. Rate limits, the circuit breaker and retry timing live in
//! [`crate::resilience`]: a sender makes exactly one HTTP call per method call.
//!
//! Nothing here logs, and no error or report carries a credential.

pub mod dialog360;
pub mod errors;
mod http;
pub mod meta;
pub mod twilio;
pub mod zaptra;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chasqui_core::channel::ChannelKind;
use chasqui_core::secrets::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use errors::{ErrorClass, SendError};

use crate::json::{nonempty, string};

/// A boxed, sendable future: what [`Sender`]'s methods return so the trait stays object-safe
/// (`Arc<dyn Sender>` per channel).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The Graph API version used when a channel names none.
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

/// The timeout of one provider call when the configuration names none (`WHATSAPP_TIMEOUT_MS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which HTTP API a sender speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SenderKind {
    /// Meta's WhatsApp Cloud API (also the built-in sandbox, which imitates it).
    #[serde(rename = "cloud_api")]
    CloudApi,
    /// 360dialog: Meta's bodies, its own host and `D360-API-KEY`.
    #[serde(rename = "360dialog")]
    Dialog360,
    /// Twilio's Messages API with `whatsapp:` addresses.
    #[serde(rename = "twilio")]
    Twilio,
    /// The WPBox-style API that resellers such as Zaptra expose.
    #[serde(rename = "zaptra")]
    Zaptra,
}

impl SenderKind {
    /// The provider's name in sentences ("… (Meta 131047 via 360dialog)").
    pub fn label(self) -> &'static str {
        match self {
            SenderKind::CloudApi => "Meta Cloud API",
            SenderKind::Dialog360 => "360dialog",
            SenderKind::Twilio => "Twilio",
            SenderKind::Zaptra => "Zaptra",
        }
    }

    /// The provider's public base URL (`None` for Zaptra: each reseller has its own).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            SenderKind::CloudApi => Some("https://graph.facebook.com"),
            SenderKind::Dialog360 => Some("https://waba-v2.360dialog.io"),
            SenderKind::Twilio => Some("https://api.twilio.com"),
            SenderKind::Zaptra => None,
        }
    }

    /// The sender a channel kind uses: the sandbox speaks the Cloud API (its base URL points at
    /// `/sandbox`); Chatwoot channels only receive.
    pub fn for_channel_kind(kind: ChannelKind) -> Option<SenderKind> {
        match kind {
            ChannelKind::WhatsappCloud | ChannelKind::Sandbox => Some(SenderKind::CloudApi),
            ChannelKind::Dialog360 => Some(SenderKind::Dialog360),
            ChannelKind::Twilio => Some(SenderKind::Twilio),
            ChannelKind::Zaptra => Some(SenderKind::Zaptra),
            ChannelKind::Chatwoot => None,
        }
    }
}

impl fmt::Display for SenderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A channel's credentials; `Debug` never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Meta: a system-user or business-integration access token (`Authorization: Bearer`).
    AccessToken(Secret),
    /// 360dialog: the channel's API key (`D360-API-KEY`).
    D360ApiKey(Secret),
    /// Twilio: account SID and auth token (HTTP basic auth).
    Twilio {
        /// `AC…`.
        account_sid: String,
        /// The auth token.
        auth_token: Secret,
    },
    /// Zaptra/WPBox: the API token sent in each request body.
    ZaptraToken(Secret),
}

/// How to reach one channel's provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderConfig {
    /// Which API.
    pub kind: SenderKind,
    /// The provider's base URL, without a trailing slash (tests and the sandbox point it elsewhere;
    /// for Zaptra it includes the API prefix, e.g. `https://zaptra.in/api/wpbox`).
    pub base_url: String,
    /// Graph API version (Cloud API only).
    pub graph_version: String,
    /// Meta's phone number id (Cloud API only).
    pub phone_number_id: Option<String>,
    /// Twilio's sender: the WhatsApp number (`+14155238886`, `whatsapp:+14155238886`) or a
    /// Messaging Service SID (`MG…`).
    pub sender_number: Option<String>,
    /// The credentials.
    pub credentials: Credentials,
    /// Twilio only: our status webhook; `message_id=<our id>` is added to its query per message.
    pub status_callback_url: Option<String>,
    /// Timeout of one call.
    pub timeout: Duration,
    /// Twilio only: Content SIDs (`HX…`) by `name:language` or by `name` (see [`twilio`]).
    pub twilio_content_sids: BTreeMap<String, String>,
}

impl SenderConfig {
    fn base(kind: SenderKind, credentials: Credentials) -> Self {
        Self {
            kind,
            base_url: kind.default_base_url().unwrap_or_default().to_owned(),
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            phone_number_id: None,
            sender_number: None,
            credentials,
            status_callback_url: None,
            timeout: DEFAULT_TIMEOUT,
            twilio_content_sids: BTreeMap::new(),
        }
    }

    /// Meta's Cloud API for one phone number id.
    pub fn cloud_api(phone_number_id: impl Into<String>, access_token: Secret) -> Self {
        Self {
            phone_number_id: Some(phone_number_id.into()),
            ..Self::base(SenderKind::CloudApi, Credentials::AccessToken(access_token))
        }
    }

    /// 360dialog: the key identifies the number.
    pub fn dialog360(api_key: Secret) -> Self {
        Self::base(SenderKind::Dialog360, Credentials::D360ApiKey(api_key))
    }

    /// Twilio WhatsApp from `sender_number` (E.164, `whatsapp:+…` or a Messaging Service SID).
    pub fn twilio(
        account_sid: impl Into<String>,
        auth_token: Secret,
        sender_number: impl Into<String>,
    ) -> Self {
        Self {
            sender_number: Some(sender_number.into()),
            ..Self::base(
                SenderKind::Twilio,
                Credentials::Twilio {
                    account_sid: account_sid.into(),
                    auth_token,
                },
            )
        }
    }

    /// A Zaptra (WPBox-style) API at the tenant's `base_url` (e.g. `https://zaptra.in/api/wpbox`).
    pub fn zaptra(base_url: impl Into<String>, token: Secret) -> Self {
        Self {
            base_url: base_url.into(),
            ..Self::base(SenderKind::Zaptra, Credentials::ZaptraToken(token))
        }
    }

    /// Points the sender elsewhere (a test server, the sandbox, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Another Graph API version (`v26.0`).
    pub fn with_graph_version(mut self, version: impl Into<String>) -> Self {
        self.graph_version = version.into();
        self
    }

    /// Another timeout per call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Twilio's status callback (our Twilio webhook).
    pub fn with_status_callback_url(mut self, url: impl Into<String>) -> Self {
        self.status_callback_url = Some(url.into());
        self
    }

    /// Maps a template (`name` or `name:language`) to a Twilio Content SID.
    pub fn with_twilio_content_sid(
        mut self,
        template: impl Into<String>,
        content_sid: impl Into<String>,
    ) -> Self {
        self.twilio_content_sids
            .insert(template.into(), content_sid.into());
        self
    }

    /// The base URL without trailing slashes, checked to be http(s).
    fn checked_base_url(&self) -> Result<String, ConfigError> {
        let base = self.base_url.trim().trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(base),
            _ => Err(ConfigError::BadUrl {
                field: "base_url",
                value: self.base_url.clone(),
            }),
        }
    }
}

/// Why a channel's configuration cannot make a sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("{kind} channels need `{field}`")]
    Missing {
        /// The provider.
        kind: SenderKind,
        /// The setting.
        field: &'static str,
    },
    /// A URL is not an absolute http(s) URL.
    #[error("`{field}` must be an absolute http(s) URL, got `{value}`")]
    BadUrl {
        /// The setting.
        field: &'static str,
        /// What it was.
        value: String,
    },
    /// An id would break the request path (it must be letters, digits, `.`, `_` or `-`).
    #[error("`{field}` may only hold letters, digits, `.`, `_` and `-`, got `{value}`")]
    BadId {
        /// The setting.
        field: &'static str,
        /// What it was.
        value: String,
    },
    /// The credentials are for another provider.
    #[error("{kind} channels need {expected}")]
    WrongCredentials {
        /// The provider.
        kind: SenderKind,
        /// What it needs.
        expected: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A path segment we put in URLs: ids only, so no encoding surprises.
fn checked_id(field: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::BadId {
            field,
            value: value.to_owned(),
        })
    }
}

/// A fresh HTTP client for senders: rustls, a `User-Agent`, timeouts set per request.
pub fn default_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .user_agent(concat!("chasqui/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| ConfigError::Client(e.to_string()))
}

/// Builds the sender for a channel with its own HTTP client.
pub fn build_sender(config: &SenderConfig) -> Result<Arc<dyn Sender>, ConfigError> {
    build_sender_with_client(config, default_client()?)
}

/// Builds the sender for a channel on a shared HTTP client (one connection pool for all
/// channels; the per-call timeout still comes from `config`).
pub fn build_sender_with_client(
    config: &SenderConfig,
    client: reqwest::Client,
) -> Result<Arc<dyn Sender>, ConfigError> {
    Ok(match config.kind {
        SenderKind::CloudApi => Arc::new(meta::CloudApiSender::new(config, client)?),
        SenderKind::Dialog360 => Arc::new(dialog360::Dialog360Sender::new(config, client)?),
        SenderKind::Twilio => Arc::new(twilio::TwilioSender::new(config, client)?),
        SenderKind::Zaptra => Arc::new(zaptra::ZaptraSender::new(config, client)?),
    })
}

/// Who a message goes to, read from the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Recipient {
    /// `to`: a phone number as written (digits, perhaps a leading `+`).
    Phone(String),
    /// `recipient`: a business-scoped user id (BSUID), Cloud API only.
    UserId(String),
}

impl Recipient {
    /// The phone number's digits (`+54 9 11…` → `54911…`); `None` for a BSUID.
    pub fn phone_digits(&self) -> Option<String> {
        match self {
            Recipient::Phone(p) => Some(p.chars().filter(char::is_ascii_digit).collect()),
            Recipient::UserId(_) => None,
        }
    }
}

/// Why a body cannot be an [`OutboundMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMessage {
    /// The body is not a JSON object.
    #[error("the message body must be a JSON object")]
    NotAnObject,
    /// Neither `to` nor `recipient` is a non-empty string.
    #[error("the message body needs `to` (a phone number) or `recipient` (a user id)")]
    NoRecipient,
    /// `type` is present but not a non-empty string.
    #[error("the message body's `type` must be a string such as \"text\" or \"template\"")]
    BadType,
}

/// One message to send: the Cloud-API-shaped body plus our id.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMessage {
    message_id: String,
    recipient: Recipient,
    message_type: String,
    body: Value,
}

impl OutboundMessage {
    /// Wraps a validated Cloud API body. `messaging_product` is set to `whatsapp` when missing
    /// and `type` defaults to `text` (as in the Cloud API); `to` wins over `recipient`.
    pub fn new(message_id: impl Into<String>, mut body: Value) -> Result<Self, InvalidMessage> {
        let obj = body.as_object_mut().ok_or(InvalidMessage::NotAnObject)?;
        obj.entry("messaging_product")
            .or_insert_with(|| Value::String("whatsapp".into()));
        let message_type = match obj.get("type") {
            None => "text".to_owned(),
            Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_owned(),
            Some(_) => return Err(InvalidMessage::BadType),
        };
        let recipient = match (nonempty(&body, "to"), nonempty(&body, "recipient")) {
            (Some(to), _) => Recipient::Phone(to),
            (None, Some(user)) => Recipient::UserId(user),
            (None, None) => return Err(InvalidMessage::NoRecipient),
        };
        Ok(Self {
            message_id: message_id.into(),
            recipient,
            message_type,
            body,
        })
    }

    /// Our message id.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// Who it goes to.
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// `text`, `image`, `template`, …
    pub fn message_type(&self) -> &str {
        &self.message_type
    }

    /// The Cloud API body.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The object named by `type` (`body.text` for a text message).
    pub fn content(&self) -> Option<&Value> {
        self.body.get(&self.message_type)
    }
}

/// What the provider answered to an accepted send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// The provider's message id (`wamid.…`, Twilio's `SM…`); statuses arrive keyed by it.
    pub provider_message_id: String,
    /// Meta's `contacts[0].wa_id`: the form WhatsApp uses for the number (AR `549…`, MX `521…`,
    /// BR with or without the ninth digit); store it on the contact.
    pub wa_id: Option<String>,
    /// Meta's `contacts[0].user_id`, when sent to a BSUID.
    pub user_id: Option<String>,
    /// Meta's `messages[0].message_status` (`accepted`, `held_for_quality_assessment`, `paused`).
    pub message_status: Option<String>,
    /// The provider's whole answer.
    pub raw: Value,
}

/// What [`Sender::mark_read`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkReadOutcome {
    /// The provider marked the message read (and showed the typing indicator if asked).
    Marked,
    /// The provider has no read receipts (Twilio, Zaptra): nothing was sent.
    Unsupported,
}

/// A channel's health, for `GET /v1/channels/{id}/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// The provider.
    pub provider: SenderKind,
    /// Whether the provider answered at all.
    pub reachable: bool,
    /// Whether the credentials were accepted (`None`: unknown, e.g. unreachable).
    pub credentials_valid: Option<bool>,
    /// Whether the provider says the number can send (`None`: it does not say).
    pub can_send: Option<bool>,
    /// How long the check took.
    pub latency_ms: u64,
    /// One sentence for people.
    pub summary: String,
    /// The failure, when there was one.
    pub error: Option<SendError>,
    /// What the provider said (display number, quality rating, account status…).
    pub details: Value,
}

impl HealthReport {
    /// A healthy answer.
    pub fn healthy(
        provider: SenderKind,
        latency: Duration,
        can_send: Option<bool>,
        summary: String,
        details: Value,
    ) -> Self {
        Self {
            provider,
            reachable: true,
            credentials_valid: Some(true),
            can_send,
            latency_ms: latency.as_millis().min(u64::MAX as u128) as u64,
            summary,
            error: None,
            details,
        }
    }

    /// A failed check.
    pub fn failed(provider: SenderKind, latency: Duration, error: SendError) -> Self {
        let reachable = error.http_status.is_some();
        let credentials_valid = match error.class {
            ErrorClass::AuthExpired => Some(false),
            _ if !reachable => None,
            _ => match error.http_status {
                Some(s) if (500..600).contains(&s) || s == 429 => None,
                _ => Some(true),
            },
        };
        Self {
            provider,
            reachable,
            credentials_valid,
            can_send: if credentials_valid == Some(false) {
                Some(false)
            } else {
                None
            },
            latency_ms: latency.as_millis().min(u64::MAX as u128) as u64,
            summary: error.message.clone(),
            error: Some(error),
            details: Value::Null,
        }
    }
}

/// One template as the provider lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderTemplate {
    /// The provider's template id.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// Its language code (`en_US`, `es_AR`).
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, … as the provider spells it.
    pub status: Option<String>,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: Option<String>,
    /// The components, as sent (`HEADER`, `BODY`, `FOOTER`, `BUTTONS`).
    pub components: Value,
    /// The whole entry.
    pub raw: Value,
}

impl ProviderTemplate {
    /// Reads one entry of Meta's `data` (or 360dialog's `waba_templates`); `None` without a name
    /// or language.
    pub fn from_meta_entry(v: &Value) -> Option<Self> {
        Some(Self {
            id: string(v, "id"),
            name: nonempty(v, "name")?,
            language: nonempty(v, "language")?,
            status: nonempty(v, "status"),
            category: nonempty(v, "category"),
            components: v.get("components").cloned().unwrap_or(Value::Array(vec![])),
            raw: v.clone(),
        })
    }
}

/// One page of templates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplatePage {
    /// The templates on this page.
    pub templates: Vec<ProviderTemplate>,
    /// The cursor for the next page (Meta's `paging.cursors.after`), present only when the
    /// provider says there is one (`paging.next`).
    pub after: Option<String>,
    /// The provider's whole answer.
    pub raw: Value,
}

/// A channel's provider client.
pub trait Sender: Send + Sync + fmt::Debug {
    /// Which API it speaks.
    fn kind(&self) -> SenderKind;

    /// Sends one message: one HTTP call, no retries (see [`crate::resilience`]).
    fn send<'a>(
        &'a self,
        msg: &'a OutboundMessage,
    ) -> BoxFuture<'a, Result<SendReceipt, SendError>>;

    /// Marks an inbound message read (blue ticks), optionally showing the typing indicator.
    fn mark_read<'a>(
        &'a self,
        provider_message_id: &'a str,
        typing: bool,
    ) -> BoxFuture<'a, Result<MarkReadOutcome, SendError>>;

    /// Checks the provider is reachable and the credentials valid.
    fn health(&self) -> BoxFuture<'_, HealthReport>;

    /// One page of the account's templates (`after`: the cursor of the previous page).
    fn list_templates<'a>(
        &'a self,
        waba_id: &'a str,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<TemplatePage, SendError>> {
        let _ = (waba_id, after);
        let kind = self.kind();
        Box::pin(async move {
            Err(SendError::unsupported(
                kind,
                format!(
                    "{} does not list templates through Chasqui: manage them in the provider's console",
                    kind.label()
                ),
            ))
        })
    }
}

/// Every template, page after page, stopping after `max_pages` (a guard against a provider that
/// keeps returning a cursor).
pub async fn fetch_all_templates(
    sender: &dyn Sender,
    waba_id: &str,
    max_pages: usize,
) -> Result<Vec<ProviderTemplate>, SendError> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..max_pages.max(1) {
        let page = sender.list_templates(waba_id, after.as_deref()).await?;
        all.extend(page.templates);
        match page.after {
            Some(next) if Some(&next) != after.as_ref() => after = Some(next),
            _ => break,
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outbound_reads_the_envelope() {
        let m = OutboundMessage::new(
            "m1",
            json!({"to": "+54 9 11 5555-1234", "type": "text", "text": {"body": "hi"}}),
        )
        .unwrap();
        assert_eq!(m.message_type(), "text");
        assert_eq!(
            m.recipient().phone_digits().as_deref(),
            Some("5491155551234")
        );
        assert_eq!(m.body()["messaging_product"], "whatsapp");
        assert_eq!(m.content().unwrap()["body"], "hi");

        let m = OutboundMessage::new("m2", json!({"recipient": "US.123", "text": {"body": "x"}}))
            .unwrap();
        assert_eq!(m.recipient(), &Recipient::UserId("US.123".into()));
        assert_eq!(m.message_type(), "text");
        assert_eq!(m.recipient().phone_digits(), None);

        assert_eq!(
            OutboundMessage::new("m", json!([1])),
            Err(InvalidMessage::NotAnObject)
        );
        assert_eq!(
            OutboundMessage::new("m", json!({"type": "text"})),
            Err(InvalidMessage::NoRecipient)
        );
        assert_eq!(
            OutboundMessage::new("m", json!({"to": "1", "type": 3})),
            Err(InvalidMessage::BadType)
        );
    }

    #[test]
    fn configs_check_urls_ids_and_credentials() {
        let ok = SenderConfig::cloud_api("1234", Secret::new("t"));
        assert_eq!(ok.base_url, "https://graph.facebook.com");
        assert_eq!(ok.graph_version, "v23.0");
        assert!(build_sender(&ok).is_ok());
        let bad = ok.with_base_url("ftp://x");
        assert!(matches!(
            build_sender(&bad),
            Err(ConfigError::BadUrl { .. })
        ));
        let bad = SenderConfig::cloud_api("12/../34", Secret::new("t"));
        assert!(matches!(build_sender(&bad), Err(ConfigError::BadId { .. })));
        let mut wrong = SenderConfig::dialog360(Secret::new("k"));
        wrong.credentials = Credentials::AccessToken(Secret::new("t"));
        assert!(matches!(
            build_sender(&wrong),
            Err(ConfigError::WrongCredentials { .. })
        ));
        let no_base = SenderConfig::zaptra("", Secret::new("z"));
        assert!(build_sender(&no_base).is_err());
        let debug = format!("{:?}", SenderConfig::dialog360(Secret::new("sekrit")));
        assert!(!debug.contains("sekrit"));
    }

    #[test]
    fn channel_kinds_map_to_senders() {
        assert_eq!(
            SenderKind::for_channel_kind(ChannelKind::Sandbox),
            Some(SenderKind::CloudApi)
        );
        assert_eq!(SenderKind::for_channel_kind(ChannelKind::Chatwoot), None);
        assert_eq!(
            serde_json::to_value(SenderKind::Dialog360).unwrap(),
            "360dialog"
        );
    }
}
