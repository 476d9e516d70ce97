//! The sandbox: a local imitation of Meta's WhatsApp Cloud API and of customers' phones, served
//! by Chasqui itself under `/sandbox`, so the whole product runs (and is tested) with no Meta
//! account. See `docs/sandbox.md`.
//!
//! | path | what |
//! |---|---|
//! | `POST /sandbox/graph/{version}/{phone-number-id}/messages` | sends and mark-as-read, checked like Meta does, Bearer = the channel's `access_token` |
//! | `GET /sandbox/graph/{version}/{phone-number-id}` | the phone number (channel health) |
//! | `GET /sandbox/graph/{version}/{waba-id}/message_templates` | the sandbox WABA's templates, paginated |
//! | `GET /sandbox/graph/{version}/{media-id}`, `GET /sandbox/media/{media-id}` | media the simulated customers sent |
//! | `POST /sandbox/customers/{phone}/messages` | a customer writes (signed inbound webhook) |
//! | `GET /sandbox/customers/{phone}/messages` | the conversation as the customer's phone shows it |
//! | `POST /sandbox/customers/{phone}/messages/{wamid}/read` | the customer reads a message (read receipt) |
//! | `GET /sandbox/customers` | customers the sandbox has seen |
//! | `POST /sandbox/channels`, `GET /sandbox/channels/{id}/calls` | another sandbox number; the Graph calls it received |
//! | `GET /sandbox` | a small web page to chat as a customer |
//! | `GET /sandbox/whoami` | this sandbox's random id (it only posts webhooks to an origin that answers it) |
//!
//! A sandbox channel's `settings.base_url` points at `http://HOST:PORT/sandbox/graph`, so the
//! ordinary Cloud API sender talks to it unchanged. After accepting a send the sandbox posts
//! `sent`, `delivered` and `read` status webhooks, signed with the channel's `app_secret`, to the
//! gateway's own `POST /webhooks/whatsapp/{channel_id}`; customer messages arrive the same way.
//! Its state (customers, their 24-hour windows, sent messages, failure counters, media) lives in
//! this process's memory and is gone on restart: it is a sandbox.

pub mod customers;
pub mod failures;
pub mod graph;
pub mod numbers;
pub mod page;
pub mod templates;
pub mod validate;
pub mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::{Extension, Router};
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::{ChannelId, TenantId};
use chasqui_core::secrets::Secret;
use chasqui_store::Store;
use chasqui_store::channels::{Channel, NewChannel};
use chasqui_store::templates::NewTemplate;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::http::AppState;
use crate::master_key::MasterKeys;

/// Most messages kept per simulated customer (oldest dropped first).
const MAX_MESSAGES_PER_CUSTOMER: usize = 500;
/// Most customers kept per channel.
const MAX_CUSTOMERS_PER_CHANNEL: usize = 10_000;
/// Most Graph calls remembered per channel.
const MAX_CALLS_PER_CHANNEL: usize = 2_000;
/// Most media files kept in memory.
const MAX_MEDIA: usize = 200;

/// The sandbox routes, mounted at `/sandbox`; each call of this function starts a fresh,
/// empty sandbox memory (one per running server).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(page::routes())
        .merge(graph::routes())
        .merge(customers::routes())
        .route("/whoami", axum::routing::get(webhooks::whoami))
        .layer(Extension(Sandbox::new(state.clone())))
}

/// Creates the demo tenant's sandbox channel (called once, on an instance's first start, after
/// the socket is bound): a generated phone number id and WABA id, `+1 555 010 0001`, random
/// `access_token` and `app_secret`, `settings.base_url` pointing at this server's own
/// `/sandbox/graph`, and the sandbox templates already in the tenant's template list.
pub async fn create_demo_channel(
    store: &Store,
    keys: &MasterKeys,
    tenant: TenantId,
    addr: SocketAddr,
) -> anyhow::Result<Channel> {
    let new = new_channel("Sandbox", "+1 555 010 0001", &graph_base_url(addr));
    let channel = store
        .create_channel(tenant, &keys.current(), new, "system")
        .await?;
    seed_templates(store, tenant, channel.id).await?;
    tracing::info!(channel_id = %channel.id, "created the demo tenant's sandbox channel");
    Ok(channel)
}

/// `http://{addr}/sandbox/graph`, with an unspecified address (`0.0.0.0`, `::`) replaced by
/// loopback so the server can always reach itself.
pub fn graph_base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/sandbox/graph", SocketAddr::new(ip, addr.port()))
}

/// A new sandbox channel, ready to send through `base_url` (`…/sandbox/graph`).
pub fn new_channel(name: &str, display_phone_number: &str, base_url: &str) -> NewChannel {
    let mut new = NewChannel {
        kind: ChannelKind::Sandbox,
        name: name.to_owned(),
        phone_number_id: None,
        waba_id: None,
        display_phone_number: Some(display_phone_number.to_owned()),
        settings: json!({}),
        secrets: Vec::new(),
    };
    complete_channel(&mut new, base_url);
    new
}

/// Fills in whatever a sandbox channel needs and its creator left out, so it can send at once:
/// a phone number id and WABA id, a `+1 555 01…` display number, `settings.base_url`, the
/// `settings.sandbox` defaults, and random `access_token`, `app_secret` and `verify_token`.
/// For `POST /v1/channels {"kind": "sandbox"}` as much as for the demo channel.
pub fn complete_channel(new: &mut NewChannel, base_url: &str) {
    new.phone_number_id
        .get_or_insert_with(|| numbers::numeric_id(15));
    new.waba_id.get_or_insert_with(|| numbers::numeric_id(15));
    new.display_phone_number.get_or_insert_with(|| {
        format!(
            "+1 555 01{} {}",
            rand::random_range(1..10u8),
            rand::random_range(1000..10000u16)
        )
    });
    if !new.settings.is_object() {
        new.settings = json!({});
    }
    if new
        .settings
        .get("base_url")
        .and_then(Value::as_str)
        .is_none()
    {
        new.settings["base_url"] = json!(base_url);
    }
    if new.settings.get("sandbox").is_none_or(|v| !v.is_object()) {
        new.settings["sandbox"] = json!({
            "delays_ms": {
                "sent": Delays::DEFAULT.sent_ms(),
                "delivered": Delays::DEFAULT.delivered_ms(),
                "read": Delays::DEFAULT.read_ms(),
            },
            "auto_read": true,
        });
    }
    let defaults = [
        ("access_token", format!("EAASANDBOX{}", numbers::token(48))),
        ("app_secret", numbers::hex_id(32)),
        ("verify_token", numbers::token(24)),
    ];
    for (name, value) in defaults {
        if !new.secrets.iter().any(|(n, _)| n == name) {
            new.secrets.push((name.to_owned(), Secret::new(value)));
        }
    }
}

/// This server's `/sandbox/graph` as a request reached it: under `server.public_url` when set,
/// else `http://{Host}`. `None` when the request names no usable host.
pub fn graph_base_url_for_request(
    config: &crate::config::Config,
    headers: &axum::http::HeaderMap,
) -> Option<String> {
    if let Some(u) = &config.server.public_url {
        return Some(format!(
            "{}/sandbox/graph",
            u.as_str().trim_end_matches('/')
        ));
    }
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plain.then(|| format!("http://{host}/sandbox/graph"))
}

/// Puts the sandbox's approved templates in the tenant's template list.
pub async fn seed_templates(
    store: &Store,
    tenant: TenantId,
    channel: ChannelId,
) -> anyhow::Result<()> {
    for t in templates::catalog() {
        let s = |k: &str| {
            t.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        let (name, language, category, status) = (
            t["name"].as_str().unwrap_or_default(),
            t["language"].as_str().unwrap_or_default(),
            s("category"),
            s("status"),
        );
        store
            .upsert_template(
                tenant,
                &NewTemplate {
                    channel: Some(channel),
                    name,
                    language,
                    category: &category,
                    status: &status,
                    body: &t,
                    provider_id: t["id"].as_str(),
                },
            )
            .await?;
    }
    Ok(())
}

/// When the status webhooks of an accepted send go out, counted from the moment it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delays {
    /// `sent`.
    pub sent: Duration,
    /// `delivered`.
    pub delivered: Duration,
    /// `read` (when `auto_read`).
    pub read: Duration,
}

impl Delays {
    /// 200 ms, 600 ms, 1.5 s.
    pub const DEFAULT: Delays = Delays {
        sent: Duration::from_millis(200),
        delivered: Duration::from_millis(600),
        read: Duration::from_millis(1500),
    };

    fn sent_ms(&self) -> u64 {
        self.sent.as_millis() as u64
    }

    fn delivered_ms(&self) -> u64 {
        self.delivered.as_millis() as u64
    }

    fn read_ms(&self) -> u64 {
        self.read.as_millis() as u64
    }

    /// `delays_ms`: a number N (each status N ms after the one before) or
    /// `{"sent", "delivered", "read"}` (ms after acceptance; missing ones keep their default).
    fn from_setting(v: Option<&Value>) -> Self {
        const CAP: u64 = 3_600_000;
        match v {
            Some(Value::Number(n)) => {
                let ms = n.as_u64().unwrap_or(0).min(CAP);
                Delays {
                    sent: Duration::from_millis(ms),
                    delivered: Duration::from_millis(ms * 2),
                    read: Duration::from_millis(ms * 3),
                }
            }
            Some(Value::Object(m)) => {
                let get = |k: &str, d: Duration| {
                    m.get(k)
                        .and_then(Value::as_u64)
                        .map(|ms| Duration::from_millis(ms.min(CAP)))
                        .unwrap_or(d)
                };
                Delays {
                    sent: get("sent", Self::DEFAULT.sent),
                    delivered: get("delivered", Self::DEFAULT.delivered),
                    read: get("read", Self::DEFAULT.read),
                }
            }
            _ => Self::DEFAULT,
        }
    }
}

/// A sandbox channel's `settings.sandbox`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// When statuses go out.
    pub delays: Delays,
    /// Whether the customer reads every delivered message by themselves.
    pub auto_read: bool,
    /// Whether free-form sends outside the customer's 24-hour window fail (131047).
    pub window_check: bool,
    /// The next N calls (after each channel change) answer HTTP 500.
    pub fail_next_n_with_500: u32,
    /// The next N calls (after each channel change) hang past the client timeout.
    pub fail_next_n_with_timeout: u32,
    /// Every send fails with this Meta code.
    pub fail_with: Option<i64>,
    /// Every call answers 190 (token expired).
    pub token_expired: bool,
    /// How many calls to a `…0500` number answer HTTP 500.
    pub http_500_count: u32,
    /// How long a hanging call hangs (default: the client timeout plus a second).
    pub hang: Option<Duration>,
}

impl Settings {
    /// The settings of a channel, defaults for anything missing or malformed.
    pub fn of(channel: &Channel) -> Self {
        let s = channel.settings.get("sandbox");
        let get = |k: &str| s.and_then(|s| s.get(k));
        let count = |k: &str| {
            get(k)
                .and_then(Value::as_u64)
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        Self {
            delays: Delays::from_setting(get("delays_ms")),
            auto_read: get("auto_read").and_then(Value::as_bool).unwrap_or(true),
            window_check: get("window_check").and_then(Value::as_bool).unwrap_or(true),
            fail_next_n_with_500: count("fail_next_n_with_500"),
            fail_next_n_with_timeout: count("fail_next_n_with_timeout"),
            fail_with: get("fail_with")
                .and_then(|v| v.as_i64().or_else(|| v.get("code").and_then(Value::as_i64))),
            token_expired: get("token_expired")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            http_500_count: get("http_500_count")
                .and_then(Value::as_u64)
                .map_or(3, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            hang: get("hang_ms")
                .and_then(Value::as_u64)
                .map(|ms| Duration::from_millis(ms.min(600_000))),
        }
    }
}

/// One status a message went through.
#[derive(Debug, Clone, Serialize)]
pub struct StatusAt {
    /// `sent`, `delivered`, `read`, `failed` (outbound) or `received`, `read` (inbound).
    pub status: String,
    /// When.
    pub timestamp: DateTime<Utc>,
}

/// A button the customer can tap on a message.
#[derive(Debug, Clone, Serialize)]
pub struct Button {
    /// `button_reply` (interactive reply button), `list_reply` (list row) or `button` (template
    /// quick reply).
    pub reply_type: &'static str,
    /// The id (or template payload) sent back when tapped.
    pub id: String,
    /// What the button says.
    pub title: String,
}

/// What the sandbox needs to write a sent message's status webhooks.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `recipient_id` (a phone send) or `recipient_user_id` (a BSUID send).
    pub recipient_is_user: bool,
    /// `biz_opaque_callback_data`.
    pub callback_data: Option<String>,
    /// `pricing.category` (`service`, `utility`, `marketing`, `authentication`).
    pub category: String,
    /// `pricing.type` (`free_customer_service`, `regular`).
    pub pricing_type: String,
    /// `conversation.id`.
    pub conversation_id: String,
    /// `conversation.expiration_timestamp`, on the first message of a conversation only.
    pub expiration: Option<i64>,
}

/// One message of a simulated conversation.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The `wamid`.
    pub id: String,
    /// `out` (the business sent it) or `in` (the customer did).
    pub direction: &'static str,
    /// Message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// What the phone shows, as text.
    pub text: Option<String>,
    /// The send body (outbound) or the webhook message (inbound).
    pub content: Value,
    /// Current status.
    pub status: String,
    /// Every status, in order.
    pub statuses: Vec<StatusAt>,
    /// For failed sends, Meta's error.
    pub error: Option<Value>,
    /// When it was sent.
    pub timestamp: DateTime<Utc>,
    /// Buttons the customer can tap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(skip)]
    delivery: Option<Delivery>,
}

/// The order of outbound statuses; `failed` is terminal.
fn rank(status: &str) -> u8 {
    match status {
        "accepted" => 0,
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "played" => 4,
        _ => 9,
    }
}

/// A simulated customer, as one channel knows them.
#[derive(Debug, Clone, Default)]
pub struct Customer {
    /// Their `wa_id` (or BSUID).
    pub key: String,
    /// Their profile name.
    pub name: Option<String>,
    /// When they last wrote: their 24-hour window runs from here.
    pub last_inbound: Option<DateTime<Utc>>,
    /// The open conversation (pricing) and when it expires.
    conversation: Option<(String, DateTime<Utc>)>,
    /// The conversation, oldest first.
    pub messages: VecDeque<Entry>,
    /// Until when the business shows "typing…" (mark-as-read with a typing indicator).
    pub typing_until: Option<DateTime<Utc>>,
}

impl Customer {
    fn push(&mut self, e: Entry) {
        if self.messages.len() >= MAX_MESSAGES_PER_CUSTOMER {
            self.messages.pop_front();
        }
        self.messages.push_back(e);
    }

    /// Whether the 24-hour customer-service window is open at `now`.
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.last_inbound
            .is_some_and(|t| now - t < chrono::Duration::hours(24))
    }
}

/// One Graph call the sandbox received, for tests and for people looking at spacing.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// `send`, `mark_read`, `health`, `templates`, `media`.
    pub operation: &'static str,
    /// The recipient's `wa_id`, for sends.
    pub to: Option<String>,
    /// The HTTP status answered (0 for a call left hanging).
    pub http_status: u16,
    /// Meta's error code, for errors.
    pub error_code: Option<i64>,
    /// The `wamid`, for accepted sends.
    pub wamid: Option<String>,
}

#[derive(Debug, Default)]
struct ChannelMemory {
    customers: HashMap<String, Customer>,
    pattern_calls: HashMap<(&'static str, String), u32>,
    rearmed: HashMap<&'static str, (DateTime<Utc>, u32)>,
    calls: VecDeque<Call>,
}

/// A media file a simulated customer sent.
#[derive(Debug, Clone)]
pub struct Media {
    /// The channel it was sent to.
    pub channel: ChannelId,
    /// MIME type.
    pub mime_type: String,
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// Hex SHA-256 of the bytes.
    pub sha256_hex: String,
}

#[derive(Debug, Default)]
struct Memory {
    channels: HashMap<ChannelId, ChannelMemory>,
    media: HashMap<String, Media>,
    media_order: VecDeque<String>,
}

struct Inner {
    app: AppState,
    memory: Mutex<Memory>,
    client: reqwest::Client,
    /// This sandbox's id, answered at `/sandbox/whoami`.
    nonce: String,
    /// Origins proven to be this server.
    verified: Mutex<std::collections::HashSet<String>>,
}

/// The sandbox of one running server: its state and what it needs to reach the gateway.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// An empty sandbox for this server.
    pub fn new(app: AppState) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("facebookexternalua")
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                app,
                memory: Mutex::new(Memory::default()),
                client,
                nonce: numbers::token(32),
                verified: Mutex::new(std::collections::HashSet::new()),
            }),
        }
    }

    /// The server's state.
    pub fn app(&self) -> &AppState {
        &self.inner.app
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_channel<R>(&self, channel: ChannelId, f: impl FnOnce(&mut ChannelMemory) -> R) -> R {
        let mut m = self.memory();
        f(m.channels.entry(channel).or_default())
    }

    /// Runs `f` on a customer of a channel, creating them if needed.
    pub fn with_customer<R>(
        &self,
        channel: ChannelId,
        key: &str,
        f: impl FnOnce(&mut Customer) -> R,
    ) -> R {
        self.with_channel(channel, |c| {
            if !c.customers.contains_key(key) && c.customers.len() >= MAX_CUSTOMERS_PER_CHANNEL {
                // Forget the customer who wrote least recently.
                if let Some(oldest) = c
                    .customers
                    .values()
                    .min_by_key(|c| c.last_inbound)
                    .map(|c| c.key.clone())
                {
                    c.customers.remove(&oldest);
                }
            }
            let customer = c
                .customers
                .entry(key.to_owned())
                .or_insert_with(|| Customer {
                    key: key.to_owned(),
                    ..Customer::default()
                });
            f(customer)
        })
    }

    /// A customer of a channel, if the sandbox has seen them.
    pub fn customer(&self, channel: ChannelId, key: &str) -> Option<Customer> {
        self.with_channel(channel, |c| c.customers.get(key).cloned())
    }

    /// Every customer of a channel, most recent activity first.
    pub fn customers(&self, channel: ChannelId) -> Vec<Customer> {
        let mut all: Vec<Customer> =
            self.with_channel(channel, |c| c.customers.values().cloned().collect());
        all.sort_by_key(|c| std::cmp::Reverse(c.messages.back().map(|m| m.timestamp)));
        all
    }

    /// Counts one more call of a recipient pattern; returns the count including this one.
    fn count_pattern(&self, channel: ChannelId, pattern: &'static str, key: &str) -> u32 {
        self.with_channel(channel, |c| {
            let n = c
                .pattern_calls
                .entry((pattern, key.to_owned()))
                .or_insert(0);
            *n += 1;
            *n
        })
    }

    /// Uses one of the channel's "next N" failures named `setting`, if any are left since the
    /// channel last changed.
    fn take_rearmed(&self, channel: &Channel, setting: &'static str, n: u32) -> bool {
        if n == 0 {
            return false;
        }
        self.with_channel(channel.id, |c| {
            let slot = c.rearmed.entry(setting).or_insert((channel.updated_at, 0));
            if slot.0 != channel.updated_at {
                *slot = (channel.updated_at, 0);
            }
            if slot.1 < n {
                slot.1 += 1;
                true
            } else {
                false
            }
        })
    }

    fn record_call(&self, channel: ChannelId, call: Call) {
        self.with_channel(channel, |c| {
            if c.calls.len() >= MAX_CALLS_PER_CHANNEL {
                c.calls.pop_front();
            }
            c.calls.push_back(call);
        });
    }

    /// The Graph calls a channel received, oldest first.
    pub fn calls(&self, channel: ChannelId) -> Vec<Call> {
        self.with_channel(channel, |c| c.calls.iter().cloned().collect())
    }

    /// Keeps a media file; returns its id.
    pub fn put_media(
        &self,
        channel: ChannelId,
        mime_type: &str,
        bytes: Vec<u8>,
    ) -> (String, Media) {
        use sha2::Digest;
        let id = numbers::numeric_id(16);
        let media = Media {
            channel,
            mime_type: mime_type.to_owned(),
            sha256_hex: hex::encode(sha2::Sha256::digest(&bytes)),
            bytes: bytes.into(),
        };
        let mut m = self.memory();
        if m.media_order.len() >= MAX_MEDIA
            && let Some(old) = m.media_order.pop_front()
        {
            m.media.remove(&old);
        }
        m.media_order.push_back(id.clone());
        m.media.insert(id.clone(), media.clone());
        (id, media)
    }

    /// A media file by id.
    pub fn media(&self, id: &str) -> Option<Media> {
        self.memory().media.get(id).cloned()
    }

    /// Moves an outbound message forward to `status` (never backwards, never out of `failed`);
    /// returns the status object for the webhook when it moved.
    pub fn advance(
        &self,
        channel: ChannelId,
        key: &str,
        wamid: &str,
        status: &str,
        error: Option<&failures::AsyncFailure>,
    ) -> Option<Value> {
        let now = Utc::now();
        self.with_channel(channel, |c| {
            let customer = c.customers.get_mut(key)?;
            let entry = customer
                .messages
                .iter_mut()
                .find(|m| m.id == wamid && m.direction == "out")?;
            if entry.status == "failed"
                || (status != "failed" && rank(status) <= rank(&entry.status))
            {
                return None;
            }
            entry.status = status.to_owned();
            entry.statuses.push(StatusAt {
                status: status.to_owned(),
                timestamp: now,
            });
            if let Some(e) = error {
                entry.error = Some(e.to_json());
            }
            let first = status == "sent";
            Some(webhooks::status_object(
                entry, key, status, now, first, error,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_numbers_and_objects() {
        assert_eq!(Delays::from_setting(None), Delays::DEFAULT);
        let zero = Delays::from_setting(Some(&json!(0)));
        assert_eq!(
            (zero.sent, zero.delivered, zero.read),
            (Duration::ZERO, Duration::ZERO, Duration::ZERO)
        );
        let d = Delays::from_setting(Some(&json!({"read": 5000})));
        assert_eq!(
            (d.sent, d.read),
            (Duration::from_millis(200), Duration::from_millis(5000))
        );
        let n = Delays::from_setting(Some(&json!(100)));
        assert_eq!(n.read, Duration::from_millis(300));
    }

    #[test]
    fn base_urls_reach_this_server() {
        assert_eq!(
            graph_base_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080/sandbox/graph"
        );
        assert_eq!(
            graph_base_url("[::]:8080".parse().unwrap()),
            "http://[::1]:8080/sandbox/graph"
        );
        assert_eq!(
            graph_base_url("10.1.2.3:80".parse().unwrap()),
            "http://10.1.2.3:80/sandbox/graph"
        );
    }

    #[test]
    fn channels_made_elsewhere_are_completed_without_losing_what_was_given() {
        let mut new = NewChannel {
            kind: ChannelKind::Sandbox,
            name: "Mine".into(),
            phone_number_id: Some("123456789012345".into()),
            waba_id: None,
            display_phone_number: None,
            settings: json!({"graph_version": "v26.0"}),
            secrets: vec![("access_token".into(), Secret::new("EAAmine"))],
        };
        complete_channel(&mut new, "http://127.0.0.1:8080/sandbox/graph");
        assert_eq!(new.phone_number_id.as_deref(), Some("123456789012345"));
        assert!(
            new.waba_id.is_some()
                && new
                    .display_phone_number
                    .as_deref()
                    .is_some_and(|d| d.starts_with("+1 555 01"))
        );
        assert_eq!(new.settings["graph_version"], "v26.0");
        assert_eq!(
            new.settings["base_url"],
            "http://127.0.0.1:8080/sandbox/graph"
        );
        assert_eq!(new.settings["sandbox"]["auto_read"], true);
        let token: Vec<&str> = new
            .secrets
            .iter()
            .filter(|(n, _)| n == "access_token")
            .map(|(_, v)| v.expose())
            .collect();
        assert_eq!(token, vec!["EAAmine"]);
        assert!(new.secrets.iter().any(|(n, _)| n == "app_secret"));
    }

    #[test]
    fn statuses_only_move_forward() {
        assert!(
            rank("read") > rank("delivered")
                && rank("delivered") > rank("sent")
                && rank("sent") > rank("accepted")
        );
    }
}
