//! The `message.send` job: one provider call for one queued message, behind the channel's rate
//! limits and circuit breaker. Waiting for a limit or a breaker defers the job without using an
//! attempt; only real provider failures count, and only retryable ones are retried.
//!
//! The throughput and pair turns are taken last, once the sender and the request are ready, and
//! only when the send will happen: a job that defers holds no turn. The throughput cap is
//! checked and recorded right before the provider call ([`ThroughputLimiter::admit`]), so no
//! second carries more sends of a number than its rate, whatever happened before the call.
//!
//! [`ThroughputLimiter::admit`]: chasqui_channels::resilience::rate::ThroughputLimiter::admit

use std::time::{Duration, Instant};

use chasqui_channels::send::{ErrorClass, OutboundMessage, SendError};
use chasqui_core::ids::MessageId;
use chasqui_core::phone::WaId;
use chasqui_store::StoreError;
use chasqui_store::channels::status as channel_status;
use chasqui_store::jobs::Job;
use chasqui_store::outbound::ResolvedWaId;
use chasqui_store::worker::JobError;

use crate::http::AppState;

/// Longest wait for a throughput turn inside the job; longer waits defer the job.
const MAX_INLINE_WAIT: Duration = Duration::from_millis(500);
/// How long messages of a channel that needs re-authorization wait before looking again.
const HOLD: Duration = Duration::from_secs(60);

#[allow(clippy::needless_pass_by_value)] // used as `map_err(store_err)`
fn store_err(e: StoreError) -> JobError {
    JobError::retry(e.to_string())
}

fn defer(reason: impl Into<String>, after: Duration) -> JobError {
    JobError::Defer {
        reason: reason.into(),
        after: after.max(Duration::from_millis(10)),
    }
}

/// Runs one send.
pub async fn handle(state: AppState, job: Job) -> Result<(), JobError> {
    let tenant = job
        .tenant
        .ok_or_else(|| JobError::Permanent("send job without tenant".into()))?;
    let id: MessageId = job
        .payload
        .get("message_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Permanent("send job without a valid message_id".into()))?;
    let message = match state.store.message(tenant, id).await {
        Ok(m) => m,
        Err(StoreError::NotFound(_)) => {
            return Err(JobError::Permanent(format!("message {id} does not exist")));
        }
        Err(e) => return Err(store_err(e)),
    };
    if message.provider_message_id.is_some() || message.status != "queued" {
        // Already sent (a retry after a crash between the call and the job's completion).
        return Ok(());
    }
    let channel = match state.store.channel(tenant, message.channel_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => {
            state
                .store
                .mark_attempt_failed(
                    tenant,
                    id,
                    "channel_deleted",
                    "The channel of this message was deleted before it was sent.",
                    true,
                )
                .await
                .map_err(store_err)?;
            return Ok(());
        }
        Err(e) => return Err(store_err(e)),
    };
    if channel.status != channel_status::ACTIVE {
        return Err(defer(format!("channel is {}", channel.status), HOLD));
    }
    let key = channel.id.to_string();
    if let Err(open) = state.outbound.breakers.allow(&key) {
        let wait = open.until.saturating_duration_since(Instant::now());
        return Err(defer("circuit breaker open", wait));
    }
    let number = channel
        .phone_number_id
        .clone()
        .or(channel.display_phone_number.clone())
        .unwrap_or_else(|| key.clone());
    let recipient = message.to_address.clone().unwrap_or_default();
    // A look only: the pair turn is taken below, once the send is certain.
    let pair_free_at = state.outbound.pairs.next_allowed_at(&number, &recipient);
    if pair_free_at > Instant::now() {
        return Err(defer(
            "pair rate limit",
            pair_free_at.saturating_duration_since(Instant::now()),
        ));
    }

    let sender = match crate::outbound::runtime::sender_for(&state, &channel).await {
        Ok(s) => s,
        Err(crate::outbound::runtime::SenderError::Misconfigured(reason)) => {
            state
                .store
                .mark_attempt_failed(tenant, id, "channel_misconfigured", &reason, true)
                .await
                .map_err(store_err)?;
            return Ok(());
        }
        Err(e) => return Err(JobError::retry(e.to_string())),
    };
    let request = message.content.get("request").cloned().unwrap_or_default();
    let outgoing = match OutboundMessage::new(id.to_string(), request) {
        Ok(m) => m,
        Err(e) => {
            state
                .store
                .mark_attempt_failed(tenant, id, "invalid_request", &e.to_string(), true)
                .await
                .map_err(store_err)?;
            return Ok(());
        }
    };

    // The limits, as late as possible: everything the call needs is ready. A job that defers
    // takes nothing: no throughput turn (with more jobs of one number in flight than turns
    // within reach, kept turns pushed the schedule ever further ahead and sends stalled) and no
    // pair turn.
    let rate = crate::outbound::runtime::OutboundRuntime::rate_of(&channel);
    let throughput = &state.outbound.throughput;
    let turn = match throughput.reserve_within(&number, rate, MAX_INLINE_WAIT) {
        Ok(turn) => turn,
        Err(wait) => return Err(defer("throughput limit", wait)),
    };
    if let Err(at) = state.outbound.pairs.try_acquire(&number, &recipient) {
        // Another send to the same recipient took the pair turn since the look above.
        throughput.give_back(&number, turn);
        return Err(defer(
            "pair rate limit",
            at.saturating_duration_since(Instant::now()),
        ));
    }
    if !turn.wait().is_zero() {
        tokio::time::sleep(turn.wait()).await;
    }
    // The hard cap (never more than the rate in any second), counted at this very instant: the
    // send is recorded here and the call follows at once.
    while let Err(wait) = throughput.admit(&number, rate) {
        tokio::time::sleep(wait).await;
    }
    let outcome = sender.send(&outgoing).await;
    state.outbound.breakers.record(&key, &outcome);
    match outcome {
        Ok(receipt) => {
            metrics::counter!("chasqui_messages_sent_total", "channel_kind" => channel.kind.as_str()).increment(1);
            let wa_id = receipt.wa_id.as_deref().and_then(|w| WaId::parse(w).ok());
            let contact_key = wa_id.as_ref().map(|w| w.contact_key().to_string());
            let resolved = match (&wa_id, &contact_key, message.contact_id) {
                (Some(w), Some(k), Some(contact)) => Some(ResolvedWaId {
                    contact,
                    wa_id: w.as_str(),
                    contact_key: k,
                }),
                _ => None,
            };
            state
                .store
                .mark_sent(
                    tenant,
                    id,
                    channel.id,
                    &receipt.provider_message_id,
                    resolved,
                )
                .await
                .map_err(store_err)?;
            Ok(())
        }
        Err(e) => failed(&state, &job, &channel, id, e).await,
    }
}

async fn failed(
    state: &AppState,
    job: &Job,
    channel: &chasqui_store::channels::Channel,
    id: MessageId,
    e: SendError,
) -> Result<(), JobError> {
    let tenant = channel.tenant_id;
    let code = e
        .code
        .map(|c| c.to_string())
        .or(e.http_status.map(|s| format!("http_{s}")))
        .unwrap_or_else(|| "network".into());
    metrics::counter!("chasqui_send_failures_total", "channel_kind" => channel.kind.as_str(), "class" => format!("{:?}", e.class))
        .increment(1);
    tracing::warn!(message_id = %id, channel_id = %channel.id, code = %code, class = ?e.class, error = %e.message, "send failed");
    match e.class {
        ErrorClass::AuthExpired => {
            // The token is expired or revoked: hold every message of the channel until it is fixed.
            let _ = state
                .store
                .set_channel_status(tenant, channel.id, channel_status::NEEDS_REAUTH, "provider")
                .await;
            state
                .store
                .mark_attempt_failed(tenant, id, &code, &e.message, false)
                .await
                .map_err(store_err)?;
            Err(defer(
                format!("channel needs re-authorization: {}", e.message),
                HOLD,
            ))
        }
        ErrorClass::Retryable | ErrorClass::RateLimited if job.attempt < job.max_attempts => {
            state
                .store
                .mark_attempt_failed(tenant, id, &code, &e.message, false)
                .await
                .map_err(store_err)?;
            Err(JobError::Retry {
                message: e.message.clone(),
                after: e.retry_after,
            })
        }
        _ => {
            state
                .store
                .mark_attempt_failed(tenant, id, &code, &e.message, true)
                .await
                .map_err(store_err)?;
            Ok(())
        }
    }
}
