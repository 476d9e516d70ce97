//! Webhooks the sandbox posts back to the gateway, as Meta would: the
//! `whatsapp_business_account` envelope, ASCII bytes with non-ASCII characters escaped as
//! `\uXXXX` (lowercase hex, as Meta signs them), `X-Hub-Signature-256` over those exact bytes
//! with the channel's `app_secret`, at-least-once with a few retries.

use std::time::{Duration, Instant};

use axum::Extension;
use chasqui_core::ids::ChannelId;
use chasqui_store::channels::Channel;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::failures::AsyncFailure;
use super::{Delays, Entry, Sandbox};

/// Meta's JSON bytes: compact, with every non-ASCII character escaped as `\uXXXX` (lowercase
/// hex; UTF-16 surrogate pairs beyond the BMP).
pub fn meta_bytes(v: &Value) -> Vec<u8> {
    let compact = v.to_string();
    let mut out = String::with_capacity(compact.len() + 16);
    for c in compact.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `metadata.display_phone_number`: digits only.
fn display_digits(channel: &Channel) -> String {
    channel
        .display_phone_number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// Wraps one `value` (with `messages` or `statuses`) in Meta's envelope for this channel.
pub fn envelope(channel: &Channel, mut value: Value) -> Value {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": display_digits(channel),
        "phone_number_id": channel.phone_number_id.clone().unwrap_or_default(),
    });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": channel.waba_id.clone().unwrap_or_else(|| "0".into()),
            "changes": [{ "value": value, "field": "messages" }],
        }],
    })
}

/// Unix seconds as Meta writes them: a string.
pub fn unix(t: DateTime<Utc>) -> String {
    t.timestamp().to_string()
}

/// One `statuses[]` item for an outbound message.
pub fn status_object(
    entry: &Entry,
    key: &str,
    status: &str,
    now: DateTime<Utc>,
    first: bool,
    error: Option<&AsyncFailure>,
) -> Value {
    let mut s = json!({ "id": entry.id, "status": status, "timestamp": unix(now) });
    let d = entry.delivery.as_ref();
    if d.is_some_and(|d| d.recipient_is_user) {
        s["recipient_user_id"] = json!(key);
    } else {
        s["recipient_id"] = json!(key);
    }
    if let Some(cb) = d.and_then(|d| d.callback_data.as_ref()) {
        s["biz_opaque_callback_data"] = json!(cb);
    }
    match error {
        Some(e) => s["errors"] = json!([e.to_json()]),
        None => {
            if let Some(d) = d {
                let mut conversation =
                    json!({ "id": d.conversation_id, "origin": { "type": d.category } });
                if first && let Some(exp) = d.expiration {
                    conversation["expiration_timestamp"] = json!(exp.to_string());
                }
                s["conversation"] = conversation;
                s["pricing"] = json!({
                    "billable": d.pricing_type == "regular",
                    "pricing_model": "PMP",
                    "type": d.pricing_type,
                    "category": d.category,
                });
            }
        }
    }
    s
}

/// Where a channel's webhooks go: `/webhooks/whatsapp/{id}` on this server, as the channel
/// reaches it (see [`origin`]).
pub fn hook_url(sandbox: &Sandbox, channel: &Channel) -> String {
    format!(
        "{}/webhooks/whatsapp/{}",
        origin(sandbox, channel),
        channel.id
    )
}

/// This server as the channel reaches it: the origin (`scheme://host:port`) of its `base_url`,
/// else of the public URL, else the configured listen address.
pub fn origin(sandbox: &Sandbox, channel: &Channel) -> String {
    let of = |u: &str| {
        url::Url::parse(u.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| u.origin().ascii_serialization())
    };
    channel
        .settings
        .get("base_url")
        .and_then(Value::as_str)
        .and_then(of)
        .or_else(|| {
            sandbox
                .app()
                .config
                .server
                .public_url
                .as_ref()
                .and_then(|u| of(u.as_str()))
        })
        .unwrap_or_else(|| format!("http://{}", sandbox.app().config.server.listen))
}

/// `GET /sandbox/whoami`: this sandbox's random id, so it can tell its own server from any
/// other address a channel's `base_url` might name.
pub async fn whoami(Extension(sandbox): Extension<Sandbox>) -> String {
    sandbox.inner.nonce.clone()
}

/// Why a webhook did not get its 200.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotDelivered(pub String);

impl Sandbox {
    /// Signs and posts one envelope to the gateway, retrying a failed delivery twice (after
    /// 250 ms and 1 s); returns the HTTP status of the accepting answer.
    pub async fn post_webhook(
        &self,
        channel: &Channel,
        payload: &Value,
    ) -> Result<u16, NotDelivered> {
        let body = meta_bytes(payload);
        let secret = self
            .app()
            .store
            .channel_secret(&self.app().keys.current(), channel, "app_secret")
            .await
            .map_err(|e| NotDelivered(format!("cannot read the channel's app_secret: {e}")))?
            .or_else(|| self.app().config.meta.app_secret.clone())
            .ok_or_else(|| NotDelivered("the channel has no app_secret, so its webhooks cannot be signed; set one with PATCH /v1/channels/{id}".into()))?;
        let sig = signature(secret.expose().as_bytes(), &body);
        self.check_is_self(&origin(self, channel)).await?;
        let url = hook_url(self, channel);
        let mut last = String::new();
        for (attempt, pause) in [0u64, 250, 1000].into_iter().enumerate() {
            if pause > 0 {
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let sent = self
                .inner
                .client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &sig)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(res) if res.status().is_success() => return Ok(res.status().as_u16()),
                Ok(res) => {
                    let status = res.status().as_u16();
                    let text: String = res
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect();
                    last = format!("{url} answered {status}: {text}");
                    // A refused signature or an unknown channel will not improve with retries.
                    if matches!(status, 400..=499) && status != 408 && status != 429 {
                        break;
                    }
                }
                Err(e) => last = format!("{url} could not be reached: {e}"),
            }
            tracing::debug!(attempt, error = %last, "sandbox webhook delivery failed");
        }
        tracing::warn!(channel_id = %channel.id, error = %last, "the sandbox could not deliver a webhook");
        Err(NotDelivered(last))
    }

    /// Makes sure `origin` is the server this sandbox runs in (it answers `/sandbox/whoami` with
    /// this sandbox's id), so a channel's `base_url` can never turn the sandbox into a way of
    /// posting to other addresses. Remembered once proven.
    async fn check_is_self(&self, origin: &str) -> Result<(), NotDelivered> {
        if self
            .inner
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(origin)
        {
            return Ok(());
        }
        let refused = || {
            NotDelivered(format!(
                "{origin} is not the Chasqui server this sandbox runs in: a sandbox channel's settings.base_url must point at this server's /sandbox/graph"
            ))
        };
        let mut res = self
            .inner
            .client
            .get(format!("{origin}/sandbox/whoami"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|_| refused())?;
        if !res.status().is_success() {
            return Err(refused());
        }
        let mut answer = Vec::new();
        while let Ok(Some(chunk)) = res.chunk().await {
            answer.extend_from_slice(&chunk);
            if answer.len() > 256 {
                return Err(refused());
            }
        }
        if answer != self.inner.nonce.as_bytes() {
            return Err(refused());
        }
        self.inner
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(origin.to_owned());
        Ok(())
    }

    /// Posts the status object `advance` produced, reading the channel afresh.
    pub async fn post_status(
        &self,
        channel_id: ChannelId,
        status: Value,
    ) -> Result<u16, NotDelivered> {
        let channel = self
            .app()
            .store
            .channel_for_webhook(channel_id)
            .await
            .map_err(|e| NotDelivered(format!("the channel is gone: {e}")))?;
        let payload = envelope(&channel, json!({ "statuses": [status] }));
        self.post_webhook(&channel, &payload).await
    }
}

/// What happens to an accepted send.
#[derive(Debug, Clone)]
pub enum Plan {
    /// `sent`, `delivered` and (with `auto_read`) `read`.
    Deliver {
        /// When.
        delays: Delays,
        /// Whether the customer reads it by themselves.
        auto_read: bool,
    },
    /// A `failed` status with this error after `after`.
    Fail {
        /// When.
        after: Duration,
        /// Meta's error.
        failure: AsyncFailure,
    },
}

/// Posts the statuses of one accepted send in the background.
pub fn spawn_statuses(
    sandbox: Sandbox,
    channel: ChannelId,
    key: String,
    wamid: String,
    plan: Plan,
) {
    tokio::spawn(async move {
        let start = Instant::now();
        let steps: Vec<(&str, Duration, Option<AsyncFailure>)> = match plan {
            Plan::Deliver { delays, auto_read } => {
                let mut s = vec![
                    ("sent", delays.sent, None),
                    ("delivered", delays.delivered, None),
                ];
                if auto_read {
                    s.push(("read", delays.read, None));
                }
                s
            }
            Plan::Fail { after, failure } => vec![("failed", after, Some(failure))],
        };
        for (status, at, failure) in steps {
            tokio::time::sleep_until((start + at).into()).await;
            if let Some(object) = sandbox.advance(channel, &key, &wamid, status, failure.as_ref()) {
                let _ = sandbox.post_status(channel, object).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_ascii_with_lowercase_escapes() {
        let b = meta_bytes(&json!({"name": "Lucía 😀", "n": 1}));
        let s = String::from_utf8(b).unwrap();
        assert!(s.is_ascii());
        assert!(s.contains("Luc\\u00eda \\ud83d\\ude00"), "{s}");
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["name"], "Lucía 😀");
    }

    #[test]
    fn signatures_match_the_reference_vector() {
        assert_eq!(
            signature(b"TEST_APP_SECRET", b"test"),
            "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
        );
    }
}
