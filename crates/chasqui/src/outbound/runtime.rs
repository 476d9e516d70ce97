//! Process-wide sending state: one HTTP client, a throughput limiter per sending number (paced,
//! under a hard cap of its rate in any second), a pair-rate limiter per recipient, and a circuit
//! breaker per channel.

use std::fmt;
use std::sync::Arc;

use chasqui_channels::resilience::SystemClock;
use chasqui_channels::resilience::breaker::{BreakerConfig, Breakers};
use chasqui_channels::resilience::rate::{PairLimiter, PairLimits, Rate, ThroughputLimiter};
use chasqui_channels::send::{Sender, SenderConfig, SenderKind, build_sender_with_client};
use chasqui_core::channel::ChannelKind;
use chasqui_core::secrets::Secret;
use chasqui_store::channels::Channel;

use crate::config::Config;

/// Shared by every send of this process.
#[derive(Clone)]
pub struct OutboundRuntime {
    client: reqwest::Client,
    /// Messages per second per sending number: never more than its rate in any second.
    pub throughput: Arc<ThroughputLimiter>,
    /// About one message every 6 s per recipient, with short bursts.
    pub pairs: Arc<PairLimiter>,
    /// One breaker per channel.
    pub breakers: Arc<Breakers>,
}

impl fmt::Debug for OutboundRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundRuntime").finish_non_exhaustive()
    }
}

impl OutboundRuntime {
    /// The runtime for this configuration.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(config.whatsapp.timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let clock: Arc<dyn chasqui_channels::resilience::Clock> = Arc::new(SystemClock);
        Ok(Self {
            client,
            throughput: Arc::new(ThroughputLimiter::new(clock.clone())),
            pairs: Arc::new(PairLimiter::new(clock.clone(), PairLimits::default())),
            breakers: Arc::new(Breakers::new(
                clock,
                BreakerConfig {
                    open_for: config.whatsapp.breaker_reset(),
                    ..BreakerConfig::default()
                },
            )),
        })
    }

    /// The channel's throughput (`settings.throughput_per_second`, 80 by default, at most 1,000).
    pub fn rate_of(channel: &Channel) -> Rate {
        let n = channel
            .settings
            .get("throughput_per_second")
            .and_then(|v| v.as_u64())
            .unwrap_or(80)
            .clamp(1, 1000);
        Rate::per_second(u32::try_from(n).unwrap_or(80)).unwrap_or_default()
    }

    /// A sender for the channel, with its decrypted credentials.
    pub fn sender(
        &self,
        config: &Config,
        channel: &Channel,
        secret: impl Fn(&str) -> Option<Secret>,
    ) -> Result<Arc<dyn Sender>, String> {
        let missing = |name: &str| {
            format!(
                "the channel has no `{name}`; set it with PATCH /v1/channels/{}",
                channel.id
            )
        };
        let settings = &channel.settings;
        let setting = |k: &str| settings.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let mut cfg = match (channel.kind, SenderKind::for_channel_kind(channel.kind)) {
            (ChannelKind::Twilio, _) => {
                let sid = setting("account_sid").ok_or_else(|| missing("settings.account_sid"))?;
                let from = channel
                    .display_phone_number
                    .clone()
                    .ok_or_else(|| missing("display_phone_number"))?;
                let mut c = SenderConfig::twilio(
                    sid,
                    secret("auth_token").ok_or_else(|| missing("auth_token"))?,
                    from,
                );
                if let Some(base) = &config.server.public_url {
                    c = c.with_status_callback_url(format!(
                        "{}/webhooks/twilio/{}",
                        base.as_str().trim_end_matches('/'),
                        channel.id
                    ));
                }
                c
            }
            (ChannelKind::Zaptra, _) => {
                let base = setting("base_url").ok_or_else(|| missing("settings.base_url"))?;
                SenderConfig::zaptra(
                    base,
                    secret("access_token").ok_or_else(|| missing("access_token"))?,
                )
            }
            (ChannelKind::Dialog360, _) => {
                SenderConfig::dialog360(secret("api_key").ok_or_else(|| missing("api_key"))?)
            }
            (_, Some(SenderKind::CloudApi)) => {
                let pnid = channel
                    .phone_number_id
                    .clone()
                    .ok_or_else(|| missing("phone_number_id"))?;
                SenderConfig::cloud_api(
                    pnid,
                    secret("access_token").ok_or_else(|| missing("access_token"))?,
                )
                .with_graph_version(
                    setting("graph_version").unwrap_or_else(|| config.meta.graph_version.clone()),
                )
            }
            _ => return Err(format!("a `{}` channel cannot send messages", channel.kind)),
        };
        if let Some(base) = setting("base_url") {
            cfg = cfg.with_base_url(base);
        }
        cfg = cfg.with_timeout(config.whatsapp.timeout());
        build_sender_with_client(&cfg, self.client.clone()).map_err(|e| e.to_string())
    }
}

/// A sender for `channel` with its secrets decrypted from the store (send job, health, read
/// receipts and template sync all go through here).
pub async fn sender_for(
    state: &crate::http::AppState,
    channel: &Channel,
) -> Result<Arc<dyn Sender>, SenderError> {
    let keys = state.keys.current();
    let mut secrets = Vec::new();
    for name in ["access_token", "api_key", "auth_token"] {
        if channel.secrets_set.iter().any(|s| s == name)
            && let Some(v) = state
                .store
                .channel_secret(&keys, channel, name)
                .await
                .map_err(|e| SenderError::Store(e.to_string()))?
        {
            secrets.push((name, v));
        }
    }
    state
        .outbound
        .sender(&state.config, channel, |n| {
            secrets
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
        })
        .map_err(SenderError::Misconfigured)
}

/// Why no sender could be built for a channel.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// The channel lacks a setting or secret its provider needs (the sentence says which).
    #[error("{0}")]
    Misconfigured(String),
    /// Its secrets could not be read.
    #[error("could not read the channel's secrets: {0}")]
    Store(String),
}
