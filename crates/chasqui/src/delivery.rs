//! Telling the tenant's application: the `event.deliver` job, Standard Webhooks signatures and
//! the guard that keeps tenant-supplied URLs off private networks.
//!
//! One job run is one HTTP attempt. A 2xx answer is a success; anything else (an error status,
//! a timeout, a refused connection, a redirect) is a failure, recorded in the delivery log and
//! retried on [`DeliveryPolicy::schedule`] (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each
//! stretched by up to 10 % of jitter, and never sooner than a `Retry-After` the receiver sent,
//! clamped to 10 h). After the last attempt the delivery is `failed`; when the endpoint has then
//! been failing for [`DeliveryPolicy::disable_after`] (5 days) with no success, it is disabled and
//! receives nothing more until the tenant enables it again.
//!
//! Every attempt of a delivery carries the event id as `webhook-id`, so receivers deduplicate
//! retries and replays. Tenant URLs are checked when registered and again at every connection:
//! the resolver used for deliveries drops loopback, private, link-local and other non-public
//! addresses, so a name that later resolves elsewhere (DNS rebinding) reaches nothing.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chasqui_core::ids::DeliveryId;
use chasqui_core::secrets::Secret;
use chasqui_store::Store;
use chasqui_store::events::{AttemptRecord, DeliveryState, DeliveryTask, Event};
use chasqui_store::jobs::Job;
use chasqui_store::worker::JobError;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use url::{Host, Url};

use crate::config::Config;
use crate::http::AppState;
use crate::master_key::MasterKeys;

pub use chasqui_store::events::DELIVERY_JOB_KIND as JOB_KIND;

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("Chasqui/", env!("CARGO_PKG_VERSION"));

/// The prefix of signing secrets (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";

/// How much of an error answer is kept in the delivery log.
const ERROR_BODY_BYTES: usize = 512;

// ---------------------------------------------------------------------------------------------
// Policy

/// When to retry, when to give up and what to refuse.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// The delay before each retry; its length is the number of retries.
    pub schedule: Vec<Duration>,
    /// Each delay is stretched by a random fraction of itself up to this (0.1 = 10 %).
    pub jitter: f64,
    /// Time allowed for one attempt, connection and answer included.
    pub timeout: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// An endpoint whose deliveries have all failed for this long is disabled when another
    /// delivery to it exhausts its attempts.
    pub disable_after: Duration,
    /// Deliver to private, loopback and link-local addresses (development and tests only).
    pub allow_private_urls: bool,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub previous_secret_grace: Duration,
}

const MIN: u64 = 60;
const HOUR: u64 = 60 * MIN;

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            schedule: [
                5,
                5 * MIN,
                30 * MIN,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
            jitter: 0.1,
            timeout: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(10 * HOUR),
            disable_after: Duration::from_secs(5 * 24 * HOUR),
            allow_private_urls: false,
            previous_secret_grace: Duration::from_secs(24 * HOUR),
        }
    }
}

impl DeliveryPolicy {
    /// The defaults, with the URL policy of the configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            allow_private_urls: config.security.allow_private_webhook_urls,
            ..Self::default()
        }
    }

    /// The delay before the retry that follows failed attempt number `attempt` (1-based), or
    /// `None` when it was the last one. `unit` is a random number in `[0, 1)` for the jitter.
    pub fn retry_delay(
        &self,
        attempt: u32,
        unit: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self
            .schedule
            .get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let jittered = base.mul_f64(1.0 + self.jitter.max(0.0) * unit.clamp(0.0, 1.0));
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(self.max_retry_after)),
            None => jittered,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Signing (Standard Webhooks)

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn generate_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// The HMAC key of a secret: the base64-decoded part after `whsec_`.
fn key_bytes(secret: &Secret) -> Option<Vec<u8>> {
    let text = secret.expose();
    STANDARD
        .decode(text.strip_prefix(SECRET_PREFIX).unwrap_or(text))
        .ok()
}

/// One signature: `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key_bytes(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, separated by spaces.
pub fn signature_header(
    secrets: &[Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let sigs: Vec<String> = secrets
        .iter()
        .filter_map(|s| sign(s, msg_id, timestamp, body))
        .collect();
    (!sigs.is_empty()).then(|| sigs.join(" "))
}

/// The body posted for an event: `{"type", "timestamp", "data"}`.
pub fn event_body(event: &Event) -> Vec<u8> {
    let body = serde_json::json!({
        "type": event.event_type,
        "timestamp": event.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": event.data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The address guard

const LOOPBACK: &str = "a loopback address";
const PRIVATE: &str = "a private (RFC 1918) address";
const LINK_LOCAL: &str = "a link-local address";
const MULTICAST: &str = "a multicast address";
const DOCUMENTATION: &str = "a documentation address";
const UNSPECIFIED: &str = "the unspecified address";

/// IPv4 networks that are not the public internet: (network, prefix length, what it is).
const V4_REFUSED: &[([u8; 4], u32, &str)] = &[
    (
        [0, 0, 0, 0],
        8,
        "an unspecified (\"this network\", 0.0.0.0/8) address",
    ),
    ([10, 0, 0, 0], 8, PRIVATE),
    (
        [100, 64, 0, 0],
        10,
        "a carrier-grade NAT (100.64.0.0/10) address",
    ),
    ([127, 0, 0, 0], 8, LOOPBACK),
    ([169, 254, 0, 0], 16, LINK_LOCAL),
    ([172, 16, 0, 0], 12, PRIVATE),
    (
        [192, 0, 0, 0],
        24,
        "an IETF protocol assignment (192.0.0.0/24)",
    ),
    ([192, 0, 2, 0], 24, DOCUMENTATION),
    (
        [192, 88, 99, 0],
        24,
        "a 6to4 relay anycast address (192.88.99.0/24)",
    ),
    ([192, 168, 0, 0], 16, PRIVATE),
    (
        [198, 18, 0, 0],
        15,
        "a benchmarking address (198.18.0.0/15)",
    ),
    ([198, 51, 100, 0], 24, DOCUMENTATION),
    ([203, 0, 113, 0], 24, DOCUMENTATION),
    ([224, 0, 0, 0], 4, MULTICAST),
    (
        [240, 0, 0, 0],
        4,
        "a reserved or broadcast address (240.0.0.0/4)",
    ),
];

/// IPv6 networks that are not the public internet (checked after the forms that embed IPv4).
const V6_REFUSED: &[(u128, u32, &str)] = &[
    (0, 96, "an IPv4-compatible IPv6 address (::/96, deprecated)"),
    (
        0x0064_ff9b_0001 << 80,
        48,
        "a local-use NAT64 address (64:ff9b:1::/48)",
    ),
    (0x0100 << 112, 64, "a discard-only address (100::/64)"),
    (0x2001_0db8 << 96, 32, DOCUMENTATION),
    (
        0x2001 << 112,
        23,
        "an IETF special-purpose address (2001::/23, Teredo included)",
    ),
    (0x3fff << 112, 20, DOCUMENTATION),
    (0xfc00 << 112, 7, "a unique-local IPv6 address (fc00::/7)"),
    (0xfe80 << 112, 10, LINK_LOCAL),
    (
        0xfec0 << 112,
        10,
        "a site-local IPv6 address (fec0::/10, deprecated)",
    ),
    (0xff00 << 112, 8, MULTICAST),
];

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from_be_bytes(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == net & mask
}

/// Why `ip` may not receive webhooks (a phrase such as "a loopback address"), or `None` for a
/// public unicast address. IPv6 forms that embed an IPv4 address (mapped, translated, NAT64,
/// 6to4) are judged by the IPv4 address inside.
pub fn refusal_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => V4_REFUSED
            .iter()
            .find(|(net, len, _)| in_v4(v4, *net, *len))
            .map(|(_, _, why)| *why),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            if v6.is_unspecified() {
                return Some(UNSPECIFIED);
            }
            if v6.is_loopback() {
                return Some(LOOPBACK);
            }
            // Low 32 bits as IPv4, for the forms that embed one.
            let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
            // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated), 64:ff9b::a.b.c.d (NAT64).
            let low_v4 = in_v6(v6, 0xffff << 32, 96)
                || in_v6(v6, 0xffff << 48, 96)
                || in_v6(v6, 0x0064_ff9b << 96, 96);
            let embedded = if low_v4 {
                Some(low)
            } else if in_v6(v6, 0x2002 << 112, 16) {
                // 2002:AABB:CCDD::/48 (6to4)
                Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32))
            } else {
                None
            };
            if let Some(v4) = embedded {
                return refusal_reason(IpAddr::V4(v4));
            }
            V6_REFUSED
                .iter()
                .find(|(net, len, _)| in_v6(v6, *net, *len))
                .map(|(_, _, why)| *why)
        }
    }
}

/// Why a webhook URL is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not a URL at all.
    Malformed(String),
    /// Longer than 2048 characters.
    TooLong,
    /// Not `http` or `https`.
    Scheme(String),
    /// No host.
    NoHost,
    /// User name or password in the URL.
    Credentials,
    /// A `#fragment`, which is never sent.
    Fragment,
    /// The host name does not resolve.
    Unresolvable {
        /// The host.
        host: String,
        /// The resolver's answer.
        error: String,
    },
    /// The host is, or resolves to, an address that is not on the public internet.
    NotPublic {
        /// The host as written.
        host: String,
        /// The address refused.
        ip: IpAddr,
        /// What kind of address it is.
        reason: &'static str,
    },
}

impl UrlProblem {
    /// A stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotPublic { .. } => "url_not_allowed",
            Self::Unresolvable { .. } => "url_unresolvable",
            _ => "invalid_url",
        }
    }
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "This is not a valid URL ({e})."),
            Self::TooLong => f.write_str("The URL is longer than 2048 characters."),
            Self::Scheme(s) => write!(
                f,
                "The URL's scheme is `{s}`; webhook URLs must start with https:// (or http://)."
            ),
            Self::NoHost => f.write_str("The URL has no host."),
            Self::Credentials => f.write_str(
                "The URL carries a user name or password; authenticate deliveries by their signature instead.",
            ),
            Self::Fragment => {
                f.write_str("The URL has a #fragment, which is never sent; remove it.")
            }
            Self::Unresolvable { host, error } => write!(
                f,
                "The host `{host}` could not be resolved ({error}); check the name, or retry if DNS is slow."
            ),
            Self::NotPublic { host, ip, reason } => {
                if host.trim_matches(['[', ']']) == ip.to_string() {
                    write!(f, "{ip} is {reason}")?;
                } else {
                    write!(f, "The host `{host}` resolves to {ip}, {reason}")?;
                }
                f.write_str(
                    "; webhook URLs must be reachable on the public internet. For development and \
                     tests the operator can allow private addresses with CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true.",
                )
            }
        }
    }
}

impl std::error::Error for UrlProblem {}

/// Parses and checks a webhook URL: http(s), a host, no credentials or fragment, and (unless
/// `allow_private`) a host that is, or resolves only to, public addresses.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<Url, UrlProblem> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(UrlProblem::TooLong);
    }
    let url = Url::parse(raw).map_err(|e| UrlProblem::Malformed(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlProblem::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    if url.fragment().is_some() {
        return Err(UrlProblem::Fragment);
    }
    let host = url.host().ok_or(UrlProblem::NoHost)?.to_owned();
    if allow_private {
        return Ok(url);
    }
    let host_text = host.to_string();
    let ips: Vec<IpAddr> = match host {
        Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        Host::Domain(name) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let lookup = tokio::net::lookup_host((name.as_str(), port));
            match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                Ok(Err(e)) => {
                    return Err(UrlProblem::Unresolvable {
                        host: name.clone(),
                        error: e.to_string(),
                    });
                }
                Err(_) => {
                    return Err(UrlProblem::Unresolvable {
                        host: name.clone(),
                        error: "no answer within 5 s".into(),
                    });
                }
            }
        }
    };
    if ips.is_empty() {
        return Err(UrlProblem::Unresolvable {
            host: host_text,
            error: "no address".into(),
        });
    }
    for ip in ips {
        if let Some(reason) = refusal_reason(ip) {
            return Err(UrlProblem::NotPublic {
                host: host_text,
                ip,
                reason,
            });
        }
    }
    Ok(url)
}

/// The resolver of the delivery client: system DNS, keeping only public addresses.
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| refusal_reason(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = match all.first() {
                    Some(a) => Box::new(UrlProblem::NotPublic {
                        host,
                        ip: a.ip(),
                        reason: refusal_reason(a.ip()).unwrap_or(PRIVATE),
                    }),
                    None => Box::new(UrlProblem::Unresolvable {
                        host,
                        error: "no address".into(),
                    }),
                };
                return Err(err);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Delivering

/// Runs `event.deliver` jobs: one signed POST per run.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    keys: MasterKeys,
    client: Result<reqwest::Client, Arc<str>>,
    policy: Arc<DeliveryPolicy>,
}

/// What one HTTP attempt came to.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

impl Deliverer {
    /// A deliverer over `store`, reading signing secrets with `keys`.
    pub fn new(store: Store, keys: MasterKeys, policy: DeliveryPolicy) -> Self {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(2);
        if !policy.allow_private_urls {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        let client = builder.build().map_err(|e| {
            tracing::error!(error = %e, "cannot build the webhook delivery HTTP client; deliveries will fail");
            Arc::from(format!("the HTTP client could not be built: {e}"))
        });
        Self {
            store,
            keys,
            client,
            policy: Arc::new(policy),
        }
    }

    /// The deliverer of a running application.
    pub fn from_state(state: &AppState) -> Self {
        Self::new(
            state.store.clone(),
            state.keys.clone(),
            DeliveryPolicy::from_config(&state.config),
        )
    }

    /// The policy in force.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    /// Makes one attempt of the delivery `job` names and records it; asks the worker for a
    /// retry at the scheduled time while attempts remain.
    #[tracing::instrument(skip_all, fields(job_id = %job.id, tenant_id = tracing::field::Empty, delivery_id = tracing::field::Empty))]
    pub async fn deliver(&self, job: Job) -> Result<(), JobError> {
        let tenant = job
            .tenant
            .ok_or_else(|| JobError::Permanent("a delivery job without a tenant".into()))?;
        let id: DeliveryId = job
            .payload
            .get("delivery_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                JobError::Permanent(format!("bad delivery job payload: {}", job.payload))
            })?;
        let span = tracing::Span::current();
        span.record("tenant_id", tracing::field::display(tenant));
        span.record("delivery_id", tracing::field::display(id));
        let task = self
            .store
            .delivery_task(tenant, id)
            .await
            .map_err(|e| JobError::retry(format!("cannot load the delivery: {e}")))?;
        let Some(DeliveryTask {
            delivery,
            event,
            endpoint,
        }) = task
        else {
            return Ok(()); // its endpoint was deleted
        };
        if delivery.job_id != Some(job.id) || delivery.state != DeliveryState::Pending {
            return Ok(()); // superseded by a replay, or already finished
        }
        if !endpoint.enabled() {
            self.store
                .abandon_delivery(
                    tenant,
                    id,
                    job.id,
                    "not sent: the endpoint is disabled; enable it and replay this delivery",
                )
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            return Ok(());
        }

        let started = Instant::now();
        let outcome = match self
            .store
            .webhook_signing_secrets(&self.keys.current(), &endpoint)
            .await
        {
            Ok(secrets) => self.post(&endpoint.url, &event, &secrets).await,
            Err(e) => Outcome {
                status: None,
                error: Some(format!("cannot read the endpoint's signing secret: {e}")),
                retry_after: None,
            },
        };
        let duration = started.elapsed();
        let succeeded = outcome.error.is_none();
        let last = job.attempt >= job.max_attempts;
        let delay = if succeeded || last {
            None
        } else {
            self.policy
                .retry_delay(job.attempt, rand::random::<f64>(), outcome.retry_after)
        };
        let now = Utc::now();
        let state = match (succeeded, delay) {
            (true, _) => DeliveryState::Succeeded,
            (false, Some(_)) => DeliveryState::Pending,
            (false, None) => DeliveryState::Failed,
        };
        let record = AttemptRecord {
            status_code: outcome.status,
            error: outcome.error.clone(),
            duration,
            state,
            next_attempt_at: delay.map(|d| now + to_chrono(d)),
            disable_if_failing_since: (state == DeliveryState::Failed)
                .then(|| now - to_chrono(self.policy.disable_after)),
        };
        let recorded = self
            .store
            .record_delivery_attempt(tenant, id, job.id, &record)
            .await
            .map_err(|e| JobError::retry(format!("cannot record the attempt: {e}")))?;
        metrics::counter!("chasqui_webhook_attempts_total", "outcome" => state.as_str())
            .increment(1);
        if recorded.endpoint_disabled {
            tracing::warn!(endpoint_id = %endpoint.id, "webhook endpoint disabled after sustained delivery failure");
        }
        match (recorded.recorded, state, delay) {
            (true, DeliveryState::Pending, Some(after)) => Err(JobError::Retry {
                message: outcome.error.unwrap_or_default(),
                after: Some(after),
            }),
            (true, DeliveryState::Failed, _) => {
                tracing::warn!(error = ?outcome.error, attempts = job.attempt, "webhook delivery failed for good");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One signed POST.
    async fn post(&self, raw_url: &str, event: &Event, secrets: &[Secret]) -> Outcome {
        let fail = |error: String| Outcome {
            status: None,
            error: Some(error),
            retry_after: None,
        };
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => return fail(e.to_string()),
        };
        let url = match Url::parse(raw_url) {
            Ok(u) => u,
            Err(e) => return fail(format!("the endpoint URL is invalid: {e}")),
        };
        // Names are checked by the resolver at connection time; literal addresses here.
        if !self.policy.allow_private_urls {
            let ip = match url.host() {
                Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(ip) = ip
                && let Some(reason) = refusal_reason(ip)
            {
                return fail(format!(
                    "not sent: {}",
                    UrlProblem::NotPublic {
                        host: ip.to_string(),
                        ip,
                        reason
                    }
                ));
            }
        }
        let body = event_body(event);
        let msg_id = event.id.to_string();
        let timestamp = Utc::now().timestamp();
        let Some(signature) = signature_header(secrets, &msg_id, timestamp, &body) else {
            return fail("the endpoint has no usable signing secret; rotate it".into());
        };
        let sent = client
            .post(url)
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return fail(format!(
                    "no answer within {} s",
                    self.policy.timeout.as_secs_f64()
                ));
            }
            Err(e) => return fail(error_chain(&e.without_url())),
        };
        let status = res.status();
        if status.is_success() {
            return Outcome {
                status: Some(status.as_u16()),
                error: None,
                retry_after: None,
            };
        }
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut snippet = Vec::new();
        while snippet.len() < ERROR_BODY_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => snippet.extend_from_slice(&chunk),
                _ => break,
            }
        }
        snippet.truncate(ERROR_BODY_BYTES);
        let text = String::from_utf8_lossy(&snippet).trim().to_owned();
        let mut error = format!("HTTP {status}");
        if let Some(loc) = location.filter(|_| status.is_redirection()) {
            error.push_str(&format!(
                " (redirects are not followed; register the final URL `{loc}`)"
            ));
        }
        if !text.is_empty() {
            error.push_str(": ");
            error.push_str(&text);
        }
        Outcome {
            status: Some(status.as_u16()),
            error: Some(error),
            retry_after,
        }
    }
}

/// The job handler to register under [`JOB_KIND`].
pub fn handler(
    deliverer: Deliverer,
) -> impl Fn(Job) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>> + Send + Sync + 'static
{
    move |job| {
        let d = deliverer.clone();
        Box::pin(async move { d.deliver(job).await })
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// An error with its causes, `a: b: c`.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        refusal_reason(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn non_public_ipv4_is_refused_with_its_kind() {
        let cases = [
            ("127.0.0.1", LOOPBACK),
            ("127.255.255.254", LOOPBACK),
            ("10.0.0.1", PRIVATE),
            ("10.255.255.255", PRIVATE),
            ("172.16.0.1", PRIVATE),
            ("172.31.255.255", PRIVATE),
            ("192.168.1.1", PRIVATE),
            ("169.254.169.254", LINK_LOCAL),
            ("192.0.2.1", DOCUMENTATION),
            ("198.51.100.7", DOCUMENTATION),
            ("203.0.113.9", DOCUMENTATION),
            ("224.0.0.1", MULTICAST),
            ("239.255.255.250", MULTICAST),
        ];
        for (ip, why) in cases {
            assert_eq!(reason(ip), Some(why), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(reason(ip).is_some(), "{ip}");
        }
        assert!(reason("100.64.0.1").unwrap().contains("carrier-grade NAT"));
    }

    #[test]
    fn non_public_ipv6_is_refused_with_its_kind() {
        assert_eq!(reason("::1"), Some(LOOPBACK));
        assert_eq!(reason("::"), Some(UNSPECIFIED));
        assert_eq!(reason("fe80::1"), Some(LINK_LOCAL));
        assert_eq!(reason("febf:ffff::1"), Some(LINK_LOCAL));
        assert_eq!(reason("ff02::1"), Some(MULTICAST));
        assert_eq!(reason("2001:db8::1"), Some(DOCUMENTATION));
        assert_eq!(reason("3fff::1"), Some(DOCUMENTATION));
        for ip in [
            "fc00::1",
            "fd12:3456:789a::1",
            "fec0::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378::1",
            "64:ff9b:1::1",
            "::2",
            "::127.0.0.1",
        ] {
            assert!(reason(ip).is_some(), "{ip}");
        }
        assert!(reason("fd00::1").unwrap().contains("unique-local"));
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        assert_eq!(reason("::ffff:127.0.0.1"), Some(LOOPBACK));
        assert_eq!(reason("::ffff:10.1.2.3"), Some(PRIVATE));
        assert_eq!(reason("::ffff:169.254.169.254"), Some(LINK_LOCAL));
        assert_eq!(reason("::ffff:0:192.168.0.1"), Some(PRIVATE));
        assert_eq!(reason("64:ff9b::7f00:1"), Some(LOOPBACK));
        assert_eq!(reason("64:ff9b::a00:1"), Some(PRIVATE));
        assert_eq!(reason("2002:7f00:1::"), Some(LOOPBACK));
        assert_eq!(reason("2002:c0a8:101::1"), Some(PRIVATE));
        assert!(reason("::ffff:100.64.0.1").is_some());
        assert!(reason("::ffff:0.0.0.0").is_some());
    }

    #[test]
    fn every_refused_network_is_refused_at_both_ends() {
        for (net, len, _) in V4_REFUSED {
            let first = u32::from_be_bytes(*net);
            let last = first | u32::MAX.checked_shr(*len).unwrap_or(0);
            assert!(refusal_reason(Ipv4Addr::from(first).into()).is_some());
            assert!(refusal_reason(Ipv4Addr::from(last).into()).is_some());
        }
        for (net, len, _) in V6_REFUSED {
            let last = net | u128::MAX.checked_shr(*len).unwrap_or(0);
            assert!(refusal_reason(Ipv6Addr::from(last).into()).is_some());
        }
    }

    #[tokio::test]
    async fn urls_are_checked() {
        let ok = check_url("https://93.184.216.34/hooks?x=1", false)
            .await
            .unwrap();
        assert_eq!(ok.as_str(), "https://93.184.216.34/hooks?x=1");
        let err = check_url("http://127.0.0.1:8080/x", false)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "url_not_allowed");
        assert!(
            err.to_string()
                .contains("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true")
        );
        let err = check_url("http://localhost:8080/x", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`localhost` resolves to"), "{err}");
        assert!(matches!(
            check_url("http://[::ffff:a00:1]/", false).await,
            Err(UrlProblem::NotPublic { .. })
        ));
        assert!(matches!(
            check_url("http://0x7f000001/", false).await,
            Err(UrlProblem::NotPublic { .. })
        ));
        assert!(matches!(
            check_url("ftp://93.184.216.34/", false).await,
            Err(UrlProblem::Scheme(_))
        ));
        assert!(matches!(
            check_url("https://u:p@93.184.216.34/", false).await,
            Err(UrlProblem::Credentials)
        ));
        assert!(matches!(
            check_url("https://93.184.216.34/#x", false).await,
            Err(UrlProblem::Fragment)
        ));
        assert!(matches!(
            check_url("not a url", false).await,
            Err(UrlProblem::Malformed(_))
        ));
        // The flag lets private addresses through (and skips DNS).
        assert!(check_url("http://127.0.0.1:8080/x", true).await.is_ok());
    }

    #[test]
    fn schedule_with_jitter_and_retry_after() {
        let p = DeliveryPolicy::default();
        let secs = |a, u, ra| p.retry_delay(a, u, ra).map(|d: Duration| d.as_secs());
        assert_eq!(secs(1, 0.0, None), Some(5));
        assert_eq!(secs(2, 0.0, None), Some(300));
        assert_eq!(secs(7, 0.0, None), Some(36_000));
        assert_eq!(secs(8, 0.0, None), None, "seven retries, then give up");
        assert_eq!(secs(0, 0.0, None), None);
        let jittered = p.retry_delay(2, 0.999, None).unwrap();
        assert!(jittered > Duration::from_secs(300) && jittered <= Duration::from_secs(330));
        // Retry-After delays a retry, clamped to ten hours; it never brings one forward.
        assert_eq!(secs(1, 0.0, Some(Duration::from_secs(120))), Some(120));
        assert_eq!(secs(2, 0.0, Some(Duration::from_secs(1))), Some(300));
        assert_eq!(
            secs(1, 0.0, Some(Duration::from_secs(999_999))),
            Some(36_000)
        );
        let total: Duration = p.schedule.iter().sum();
        assert!(total > Duration::from_secs(24 * HOUR) && total < Duration::from_secs(30 * HOUR));
        assert_eq!(
            p.schedule.len() + 1,
            chasqui_store::events::DELIVERY_MAX_ATTEMPTS as usize
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let other = generate_secret();
        let header = signature_header(&[secret, other], "msg_1", 1, b"{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|s| s.starts_with("v1,")));
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes() {
        let s = generate_secret();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(key_bytes(&s).unwrap().len(), 32);
        assert_ne!(s, generate_secret());
    }
}
