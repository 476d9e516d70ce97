//! The `media.download` job: fetches one inbound media file from its provider into the media
//! store, checks it, and records the result on the media row.
//!
//! - Meta Cloud API and the sandbox: `GET {base_url}/{graph_version}/{media-id}` with the
//!   channel's access token answers `{url, mime_type, sha256, file_size}`; the `url` is then
//!   fetched with the same bearer token (it is valid for 5 minutes, so both calls happen in one
//!   run).
//! - 360dialog: `GET {base_url}/{media-id}` with `D360-API-KEY`, then the same URL with its
//!   `lookaside.fbsbx.com` host replaced by the 360dialog base URL, with the same header.
//! - Twilio: the media URL with HTTP basic auth (account SID from the channel's settings or the
//!   URL, auth token from its secrets).
//! - Chatwoot: the attachment's `data_url`, without credentials.
//!
//! The bytes are streamed into the store while being counted and hashed: a file larger than
//! [`INBOUND_MAX_BYTES`] is refused, and a SHA-256 the provider declared must match (a mismatch
//! is retried twice, then the media is `failed`). Timeouts, connection errors, 408, 429, 5xx and
//! Meta's transient error codes are retried with backoff (honouring `Retry-After`); other 4xx
//! answers, such as an expired media id or a revoked token, fail the media at once, with the
//! provider's reason kept in `last_error`.
//!
//! A channel whose `settings.base_url` is set, and Twilio and Chatwoot URLs, are tenant-supplied
//! addresses: they are held to the same rule as webhook URLs (public addresses only unless
//! `CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true`), also across redirects.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chasqui_channels::graph_error::parse_graph_error;
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::MediaId;
use chasqui_core::secrets::Secret;
use chasqui_store::Store;
use chasqui_store::StoreError;
use chasqui_store::channels::Channel;
use chasqui_store::jobs::Job;
use chasqui_store::media::{Media, StoredBytes, state};
use chasqui_store::worker::JobError;
use chrono::Utc;
use serde::Deserialize;
use url::{Host, Url};

use super::limits::{INBOUND_MAX_BYTES, Mime};
use super::object_store::{MediaStore, MediaWriter};
use crate::config::Config;
use crate::delivery::{USER_AGENT, check_url, parse_retry_after, refusal_reason};
use crate::http::AppState;
use crate::master_key::MasterKeys;

/// Meta's Graph API.
pub const META_BASE_URL: &str = "https://graph.facebook.com";

/// 360dialog's Cloud API host.
pub const DIALOG360_BASE_URL: &str = "https://waba-v2.360dialog.io";

/// Attempts after which a checksum that never matches fails the media.
pub const MISMATCH_ATTEMPTS: u32 = 3;

/// The longest one file may take to download.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How often a long download renews its job lease.
const LEASE_RENEWAL: Duration = Duration::from_secs(60);

/// How much of an error answer is read for the reason.
const ERROR_BODY_BYTES: usize = 4096;

/// The largest metadata answer read.
const METADATA_BYTES: usize = 64 * 1024;

/// Graph error codes worth retrying (`cloud-api.md` §4).
const RETRYABLE_GRAPH_CODES: [i64; 9] = [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057];

/// What went wrong in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Worth another attempt (not before `after`).
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Will not get better by retrying.
    Permanent(String),
}

impl Failure {
    fn retry(message: impl Into<String>) -> Self {
        Failure::Retry {
            message: message.into(),
            after: None,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Retry { message, .. } | Failure::Permanent(message) => message,
        }
    }
}

/// The credentials a request carries.
enum Auth {
    None,
    Bearer(Secret),
    Basic(String, Secret),
    Dialog360(Secret),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer",
            Auth::Basic(..) => "Basic",
            Auth::Dialog360(_) => "D360-API-KEY",
        })
    }
}

impl Auth {
    fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t.expose()),
            Auth::Basic(user, pass) => req.basic_auth(user, Some(pass.expose())),
            Auth::Dialog360(k) => req.header("D360-API-KEY", k.expose()),
        }
    }
}

/// Where the bytes are and what the provider says about them.
#[derive(Debug)]
struct Plan {
    url: String,
    auth: Auth,
    mime_type: Option<String>,
    sha256: Option<String>,
    declared_size: Option<u64>,
}

/// Meta's answer to `GET /{media-id}` (360dialog's is the same).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GraphMedia {
    url: Option<String>,
    mime_type: Option<String>,
    sha256: Option<String>,
    file_size: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
struct Clients {
    /// For the providers' own hosts (default base URLs).
    trusted: reqwest::Client,
    /// For tenant-supplied addresses: public only, unless the operator allows private ones.
    guarded: reqwest::Client,
}

/// Runs `media.download` jobs.
#[derive(Debug, Clone)]
pub struct Downloader {
    store: Store,
    keys: MasterKeys,
    config: Arc<Config>,
    clients: Result<Clients, Arc<str>>,
    media: Result<MediaStore, Arc<str>>,
}

impl Downloader {
    /// The downloader of a running application.
    pub fn from_state(state: &AppState) -> Self {
        let config = state.config.clone();
        let allow_private = config.security.allow_private_webhook_urls;
        let timeout = config.whatsapp.timeout();
        let clients = build_client(timeout, false)
            .and_then(|trusted| Ok(Clients { trusted, guarded: build_client(timeout, !allow_private)? }))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot build the media download HTTP client; downloads will be retried");
                Arc::from(format!("the HTTP client could not be built: {e}"))
            });
        let media = MediaStore::from_config(&config).map_err(|e| {
            tracing::error!(error = %e, "the media store cannot be opened; downloads will be retried");
            Arc::from(e.to_string())
        });
        Self {
            store: state.store.clone(),
            keys: state.keys.clone(),
            config,
            clients,
            media,
        }
    }

    /// Downloads the media `job` names and records the outcome on its row.
    #[tracing::instrument(skip_all, fields(job_id = %job.id, media_id = tracing::field::Empty))]
    pub async fn run(&self, job: Job) -> Result<(), JobError> {
        let tenant = job.tenant.ok_or_else(|| {
            JobError::Permanent("a media.download job must name its tenant".into())
        })?;
        let id: MediaId = job
            .payload
            .get("media_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| JobError::Permanent("job payload has no valid media_id".into()))?;
        tracing::Span::current().record("media_id", tracing::field::display(id));
        let media = match self.store.media(tenant, id).await {
            Ok(m) => m,
            // The tenant (and its media) was deleted meanwhile: nothing left to do.
            Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(JobError::retry(e.to_string())),
        };
        if media.state == state::STORED {
            return Ok(());
        }
        let outcome = self.download(&job, &media).await;
        let provider = media_provider(&media);
        match outcome {
            Ok(stored) => {
                self.store
                    .mark_media_stored(tenant, id, &stored)
                    .await
                    .map_err(|e| JobError::retry(e.to_string()))?;
                metrics::counter!("chasqui_media_downloads_total", "outcome" => "stored")
                    .increment(1);
                metrics::counter!("chasqui_media_download_bytes_total")
                    .increment(stored.size_bytes);
                tracing::info!(
                    size = stored.size_bytes,
                    attempt = job.attempt,
                    provider,
                    "media stored"
                );
                Ok(())
            }
            Err(Failure::Retry { message, after }) if job.attempt < job.max_attempts => {
                self.store
                    .record_media_attempt(tenant, id, &message)
                    .await
                    .map_err(|e| JobError::retry(e.to_string()))?;
                metrics::counter!("chasqui_media_downloads_total", "outcome" => "retry")
                    .increment(1);
                Err(JobError::Retry { message, after })
            }
            Err(failure) => {
                let reason = match &failure {
                    Failure::Retry { message, .. } => {
                        format!("gave up after {} attempts: {message}", job.attempt)
                    }
                    Failure::Permanent(message) => message.clone(),
                };
                self.store
                    .mark_media_failed(tenant, id, &reason)
                    .await
                    .map_err(|e| JobError::retry(e.to_string()))?;
                metrics::counter!("chasqui_media_downloads_total", "outcome" => "failed")
                    .increment(1);
                tracing::warn!(reason = %failure.message(), provider, "media download failed for good");
                Err(JobError::Permanent(reason))
            }
        }
    }

    async fn download(&self, job: &Job, media: &Media) -> Result<StoredBytes, Failure> {
        let clients = self
            .clients
            .as_ref()
            .map_err(|e| Failure::retry(e.to_string()))?;
        let store = self
            .media
            .as_ref()
            .map_err(|e| Failure::retry(e.to_string()))?;
        let channel_id = media.channel_id.ok_or_else(|| {
            Failure::Permanent("the media names no channel to download it through".into())
        })?;
        let channel = match self.store.channel(media.tenant_id, channel_id).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => {
                return Err(Failure::Permanent(format!(
                    "channel {channel_id} was deleted; its media can no longer be downloaded"
                )));
            }
            Err(e) => return Err(Failure::retry(e.to_string())),
        };
        let guarded = is_tenant_supplied(&channel) && !self.is_own_sandbox(&channel);
        let client = if guarded {
            &clients.guarded
        } else {
            &clients.trusted
        };
        let plan = self.plan(client, guarded, &channel, media).await?;
        if let Some(size) = plan.declared_size
            && size > INBOUND_MAX_BYTES
        {
            return Err(too_large(size));
        }
        let res = self
            .get(
                client,
                guarded,
                &plan.url,
                &plan.auth,
                DOWNLOAD_TIMEOUT,
                "the media URL",
            )
            .await?;
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let writer = self
            .stream_into(job, store, &media.storage_key, res)
            .await?;
        let digest = writer.sha256();
        let expected = plan.sha256.as_deref().or(media.expected_sha256.as_deref());
        if let Some(expected) = expected {
            match decode_sha256(expected) {
                Some(want) if want != digest => {
                    writer.abort().await;
                    let message = format!(
                        "the downloaded file's SHA-256 is {} but the provider declared {expected}",
                        hex::encode(digest)
                    );
                    return Err(if job.attempt >= MISMATCH_ATTEMPTS {
                        Failure::Permanent(format!("{message} ({} attempts)", job.attempt))
                    } else {
                        Failure::retry(message)
                    });
                }
                Some(_) => {}
                None => tracing::warn!(
                    declared = expected,
                    "the provider's SHA-256 is neither hex nor base64; not checked"
                ),
            }
        }
        let size = writer.size();
        writer
            .commit()
            .await
            .map_err(|e| Failure::retry(format!("could not store the file: {e}")))?;
        let mime = plan
            .mime_type
            .or_else(|| media.mime_type.clone())
            .or(content_type)
            .map(|m| Mime::parse(&m).map(|p| p.to_string()).unwrap_or(m));
        Ok(StoredBytes {
            mime_type: mime,
            size_bytes: size,
            sha256: hex::encode(digest),
        })
    }

    /// Works out the URL, credentials and declared facts of the file, asking the provider
    /// where the provider hands out URLs by media id.
    async fn plan(
        &self,
        client: &reqwest::Client,
        guarded: bool,
        channel: &Channel,
        media: &Media,
    ) -> Result<Plan, Failure> {
        match channel.kind {
            ChannelKind::WhatsappCloud | ChannelKind::Sandbox => {
                let token = self.secret(channel, "access_token").await?;
                let auth = Auth::Bearer(token);
                let Some(media_id) = media.provider_media_id.as_deref() else {
                    let url = media.source_url.clone().ok_or_else(no_source)?;
                    return Ok(url_plan(url, auth));
                };
                let base = self.base_url(channel)?;
                let version = setting(channel, "graph_version")
                    .unwrap_or_else(|| self.config.meta.graph_version.clone());
                let mut lookup = format!(
                    "{base}/{}/{}",
                    version.trim_matches('/'),
                    encode_segment(media_id)
                );
                if let Some(pnid) = &channel.phone_number_id {
                    lookup.push_str(&format!("?phone_number_id={}", encode_segment(pnid)));
                }
                let info = self.metadata(client, guarded, &lookup, &auth).await?;
                let url = info.url.clone().ok_or_else(|| {
                    Failure::Permanent("the provider's media answer has no `url`".into())
                })?;
                Ok(graph_plan(info, url, auth))
            }
            ChannelKind::Dialog360 => {
                let key = self.secret(channel, "api_key").await?;
                let auth = Auth::Dialog360(key);
                let base = self.base_url(channel)?;
                let Some(media_id) = media.provider_media_id.as_deref() else {
                    let url = media.source_url.clone().ok_or_else(no_source)?;
                    return Ok(url_plan(rewrite_host(&url, &base)?, auth));
                };
                let lookup = format!("{base}/{}", encode_segment(media_id));
                let info = self.metadata(client, guarded, &lookup, &auth).await?;
                let url = info.url.clone().ok_or_else(|| {
                    Failure::Permanent("360dialog's media answer has no `url`".into())
                })?;
                let url = rewrite_host(&url, &base)?;
                Ok(graph_plan(info, url, auth))
            }
            ChannelKind::Twilio => {
                let url = media.source_url.clone().ok_or_else(no_source)?;
                let sid = setting(channel, "account_sid").or_else(|| account_sid_in(&url));
                let token = self.optional_secret(channel, "auth_token").await?;
                let auth = match (sid, token) {
                    (Some(sid), Some(token)) => Auth::Basic(sid, token),
                    _ => Auth::None,
                };
                Ok(url_plan(url, auth))
            }
            ChannelKind::Chatwoot | ChannelKind::Zaptra => {
                let url = media.source_url.clone().ok_or_else(no_source)?;
                Ok(url_plan(url, Auth::None))
            }
        }
    }

    /// The channel's `settings.base_url`, or its provider's default.
    fn base_url(&self, channel: &Channel) -> Result<String, Failure> {
        let base = match setting(channel, "base_url") {
            Some(b) => b,
            None => match channel.kind {
                ChannelKind::Dialog360 => DIALOG360_BASE_URL.to_owned(),
                ChannelKind::Sandbox => {
                    let own = match &self.config.server.public_url {
                        Some(u) => u.as_str().trim_end_matches('/').to_owned(),
                        None => format!("http://{}", self.config.server.listen),
                    };
                    format!("{own}/sandbox/graph")
                }
                _ => META_BASE_URL.to_owned(),
            },
        };
        let parsed = Url::parse(&base)
            .map_err(|e| Failure::Permanent(format!("the channel's base_url `{base}` is not a URL ({e}); fix it with PATCH /v1/channels/{}", channel.id)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Failure::Permanent(format!(
                "the channel's base_url `{base}` must be http or https"
            )));
        }
        Ok(base.trim_end_matches('/').to_owned())
    }

    async fn optional_secret(
        &self,
        channel: &Channel,
        name: &str,
    ) -> Result<Option<Secret>, Failure> {
        self.store
            .channel_secret(&self.keys.current(), channel, name)
            .await
            .map_err(|e| Failure::retry(format!("could not read the channel's {name}: {e}")))
    }

    async fn secret(&self, channel: &Channel, name: &str) -> Result<Secret, Failure> {
        self.optional_secret(channel, name).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "channel {} has no {name} to download media with; set it with PATCH /v1/channels/{}",
                channel.id, channel.id
            ))
        })
    }

    /// `GET /{media-id}`: the URL and facts of a file.
    async fn metadata(
        &self,
        client: &reqwest::Client,
        guarded: bool,
        url: &str,
        auth: &Auth,
    ) -> Result<GraphMedia, Failure> {
        let timeout = self.config.whatsapp.timeout();
        let mut res = self
            .get(client, guarded, url, auth, timeout, "the media lookup")
            .await?;
        let body = read_limited(&mut res, METADATA_BYTES)
            .await
            .map_err(|e| Failure::retry(format!("reading the media lookup answer: {e}")))?;
        serde_json::from_slice(&body).map_err(|e| {
            Failure::Permanent(format!(
                "the media lookup at {} did not answer JSON: {e}",
                redact(url)
            ))
        })
    }

    /// One GET, classified: `Ok` only for a 2xx answer.
    async fn get(
        &self,
        client: &reqwest::Client,
        guarded: bool,
        url: &str,
        auth: &Auth,
        timeout: Duration,
        what: &str,
    ) -> Result<reqwest::Response, Failure> {
        let allow_private = self.config.security.allow_private_webhook_urls;
        if guarded {
            check_url(url, allow_private).await.map_err(|e| {
                Failure::Permanent(format!("refused to fetch {}: {e}", redact(url)))
            })?;
        } else {
            let parsed = Url::parse(url).map_err(|e| {
                Failure::Permanent(format!("{what} `{}` is not a URL: {e}", redact(url)))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Failure::Permanent(format!(
                    "{what} must be http or https, not {}",
                    parsed.scheme()
                )));
            }
        }
        let req = auth.apply(client.get(url).timeout(timeout));
        let mut res = req.send().await.map_err(|e| {
            Failure::retry(format!("GET {} failed: {}", redact(url), error_chain(&e)))
        })?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let body = read_limited(&mut res, ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let graph = parse_graph_error(&body).ok();
        let reason = match &graph {
            Some(g) => {
                let text = g
                    .message
                    .clone()
                    .or_else(|| g.details.clone())
                    .or_else(|| g.title.clone())
                    .unwrap_or_default();
                match g.code {
                    Some(code) => format!("{text} (code {code})"),
                    None => text,
                }
            }
            None => String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_owned(),
        };
        let message = format!(
            "{what} {} answered {}: {reason}",
            redact(url),
            status.as_u16()
        );
        let transient = graph.as_ref().is_some_and(|g| {
            g.is_transient == Some(true)
                || g.code.is_some_and(|c| RETRYABLE_GRAPH_CODES.contains(&c))
        });
        let retryable = status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || status.is_server_error()
            || transient;
        Err(if retryable {
            Failure::Retry { message, after }
        } else {
            Failure::Permanent(message)
        })
    }

    /// Streams an answer's body into the store under `key`, counting, hashing and renewing the
    /// job's lease on long downloads. Nothing is visible under `key` until the writer commits.
    async fn stream_into(
        &self,
        job: &Job,
        store: &MediaStore,
        key: &str,
        mut res: reqwest::Response,
    ) -> Result<MediaWriter, Failure> {
        if let Some(len) = res.content_length()
            && len > INBOUND_MAX_BYTES
        {
            return Err(too_large(len));
        }
        let mut writer = store
            .writer(key)
            .await
            .map_err(|e| Failure::retry(format!("could not open the media store: {e}")))?;
        let mut renewed = Instant::now();
        loop {
            let chunk = match res.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    writer.abort().await;
                    return Err(Failure::retry(format!(
                        "the download was cut: {}",
                        error_chain(&e)
                    )));
                }
            };
            if writer.size() + chunk.len() as u64 > INBOUND_MAX_BYTES {
                writer.abort().await;
                return Err(too_large(INBOUND_MAX_BYTES + 1));
            }
            if let Err(e) = writer.write(chunk).await {
                writer.abort().await;
                return Err(Failure::retry(format!(
                    "could not write to the media store: {e}"
                )));
            }
            if renewed.elapsed() >= LEASE_RENEWAL {
                renewed = Instant::now();
                if let Ok(false) = self
                    .store
                    .extend_lease(job, self.config.workers.lease())
                    .await
                {
                    writer.abort().await;
                    return Err(Failure::retry(
                        "the job's lease was lost during the download",
                    ));
                }
            }
        }
        Ok(writer)
    }
}

/// The job handler to register under [`super::DOWNLOAD_JOB`].
pub fn handler(
    downloader: Downloader,
) -> impl Fn(Job) -> Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>> + Send + Sync + 'static
{
    move |job| {
        let d = downloader.clone();
        Box::pin(async move { d.run(job).await })
    }
}

fn no_source() -> Failure {
    Failure::Permanent("the provider gave neither a media id nor a URL for this file".into())
}

fn too_large(size: u64) -> Failure {
    Failure::Permanent(format!(
        "the file is larger than the {} MB Chasqui downloads ({size} bytes)",
        INBOUND_MAX_BYTES / (1024 * 1024)
    ))
}

fn url_plan(url: String, auth: Auth) -> Plan {
    Plan {
        url,
        auth,
        mime_type: None,
        sha256: None,
        declared_size: None,
    }
}

fn graph_plan(info: GraphMedia, url: String, auth: Auth) -> Plan {
    let declared_size = match &info.file_size {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Plan {
        url,
        auth,
        mime_type: info.mime_type,
        sha256: info.sha256,
        declared_size,
    }
}

/// A provider for logs and metrics.
fn media_provider(m: &Media) -> &'static str {
    if m.provider_media_id.is_some() {
        "by_id"
    } else {
        "by_url"
    }
}

/// Whether a channel's download addresses come from the tenant (a custom base URL, or the URLs
/// inside Twilio and Chatwoot webhooks) rather than from a provider we know.
impl Downloader {
    /// A sandbox channel pointing at this very server is ours, not a tenant-supplied address.
    fn is_own_sandbox(&self, channel: &Channel) -> bool {
        if channel.kind != ChannelKind::Sandbox {
            return false;
        }
        let own = match &self.config.server.public_url {
            Some(u) => u.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.config.server.listen),
        };
        setting(channel, "base_url").is_none_or(|b| b.starts_with(&format!("{own}/sandbox")))
    }
}

fn is_tenant_supplied(channel: &Channel) -> bool {
    setting(channel, "base_url").is_some()
        || matches!(channel.kind, ChannelKind::Twilio | ChannelKind::Chatwoot)
}

/// A non-empty string setting of a channel.
fn setting(channel: &Channel, name: &str) -> Option<String> {
    channel
        .settings
        .get(name)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=…` on the 360dialog host:
/// the base URL's scheme, host and path prefix, the original path and query.
fn rewrite_host(url: &str, base: &str) -> Result<String, Failure> {
    let original = Url::parse(url)
        .map_err(|e| Failure::Permanent(format!("360dialog's media URL is not a URL: {e}")))?;
    let mut out = Url::parse(base)
        .map_err(|e| Failure::Permanent(format!("the base URL is not a URL: {e}")))?;
    let path = format!("{}{}", out.path().trim_end_matches('/'), original.path());
    out.set_path(&path);
    out.set_query(original.query());
    Ok(out.into())
}

/// The account SID in a Twilio media URL (`/2010-04-01/Accounts/AC…/Messages/MM…/Media/ME…`).
fn account_sid_in(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    let mut segments = parsed.path_segments()?;
    segments.find(|s| *s == "Accounts")?;
    segments
        .next()
        .filter(|s| s.starts_with("AC"))
        .map(str::to_owned)
}

/// A path segment with everything but unreserved characters percent-encoded.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL without its query string (Meta's lookaside URLs carry a signature there).
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.set_query(None);
            u.into()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// A declared SHA-256 in either form Meta uses: hex (the media lookup) or base64 (webhooks).
pub fn decode_sha256(declared: &str) -> Option<[u8; 32]> {
    let s = declared.trim();
    let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).ok()?
    } else {
        [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(s).ok())?
    };
    bytes.try_into().ok()
}

/// Reads up to `limit` bytes of a body (the rest is dropped).
async fn read_limited(
    res: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
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

fn build_client(timeout: Duration, public_only: bool) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .redirect(redirect_policy(public_only))
        .pool_max_idle_per_host(2);
    if public_only {
        builder = builder.no_proxy().dns_resolver(PublicOnlyResolver);
    }
    builder.build()
}

/// Follows up to five redirects (Twilio sends media through one); when only public addresses
/// are allowed, a redirect to a literal private address is refused (names go through
/// [`PublicOnlyResolver`]). Credentials are dropped by the client when the host changes.
fn redirect_policy(public_only: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        if !matches!(attempt.url().scheme(), "http" | "https") {
            return attempt.error("a redirect to a scheme other than http(s)");
        }
        if public_only {
            let ip = match attempt.url().host() {
                Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if let Some(reason) = ip.and_then(refusal_reason) {
                return attempt.error(format!("a redirect to {reason}"));
            }
        }
        attempt.follow()
    })
}

/// System DNS, keeping only public addresses.
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| refusal_reason(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> =
                    format!("`{host}` has no public address; media URLs must be reachable on the public internet").into();
                return Err(err);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn declared_checksums_are_read_in_hex_and_base64() {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(b"hola").into();
        assert_eq!(decode_sha256(&hex::encode(digest)), Some(digest));
        assert_eq!(
            decode_sha256(&hex::encode(digest).to_uppercase()),
            Some(digest)
        );
        assert_eq!(decode_sha256(&STANDARD.encode(digest)), Some(digest));
        assert_eq!(decode_sha256(&URL_SAFE_NO_PAD.encode(digest)), Some(digest));
        assert_eq!(
            decode_sha256("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=").map(|d| d.len()),
            Some(32)
        );
        assert_eq!(decode_sha256("not a checksum"), None);
        assert_eq!(decode_sha256(&STANDARD.encode([1u8; 20])), None);
    }

    #[test]
    fn dialog360_urls_move_to_the_360dialog_host() {
        let lookaside =
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=AT3";
        assert_eq!(
            rewrite_host(lookaside, DIALOG360_BASE_URL).unwrap(),
            "https://waba-v2.360dialog.io/whatsapp_business/attachments/?mid=1&ext=2&hash=AT3"
        );
        assert_eq!(
            rewrite_host(lookaside, "http://127.0.0.1:9/d360").unwrap(),
            "http://127.0.0.1:9/d360/whatsapp_business/attachments/?mid=1&ext=2&hash=AT3"
        );
    }

    #[test]
    fn twilio_account_sids_are_found_in_media_urls() {
        assert_eq!(
            account_sid_in(
                "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1"
            )
            .as_deref(),
            Some("AC123")
        );
        assert_eq!(account_sid_in("https://example.com/m0"), None);
    }

    #[test]
    fn logged_urls_lose_their_signature() {
        assert_eq!(
            redact("https://u:p@lookaside.fbsbx.com/a/?mid=1&hash=secret"),
            "https://lookaside.fbsbx.com/a/"
        );
        assert_eq!(encode_segment("12/3?x"), "12%2F3%3Fx");
    }
}
