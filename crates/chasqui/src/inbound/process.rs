//! Processing stored webhook receipts, after the provider got its 200: the processor applies
//! pending receipts in rounds (many receipts, one transaction), and a single-receipt job
//! handles replays and receipts whose round failed. It is idempotent (processing a receipt
//! twice, or two copies of one delivery, changes nothing the second time), so retries and
//! replays are always safe.

use std::borrow::Cow;
use std::collections::HashMap;

use chasqui_channels::chatwoot::ChatwootEvent;
use chasqui_channels::meta::{self, MetaPayload, MetaWebhook, Routing};
use chasqui_channels::twilio::{TwilioEvent, TwilioWebhook};
use chasqui_core::ids::{ChannelId, ContactId, ConversationId, ReceiptId};
use chasqui_core::message::InboundMessage;
use chasqui_core::phone::WaId;
use chasqui_core::status::StatusUpdate;
use chasqui_store::channels::{Channel, status as channel_status};
use chasqui_store::events::types;
use chasqui_store::inbound::{
    ContactIdentity, MessageChange, NewMessage, StatusOutcome, StatusRecord,
};
use chasqui_store::jobs::Job;
use chasqui_store::receipts::{Receipt, Share, state};
use chasqui_store::templates::TemplateChange;
use chasqui_store::worker::JobError;
use chasqui_store::{Store, StoreError, Tx};

use crate::http::AppState;

/// What processing a receipt did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// New messages stored.
    pub messages: usize,
    /// Repeated deliveries ignored.
    pub duplicates: usize,
    /// Status updates recorded.
    pub statuses: usize,
    /// Other events recorded.
    pub events: usize,
    /// Routing keys with no channel yet.
    pub unrouted: Vec<String>,
    /// Why the body could not be read (the receipt was parked as a dead letter).
    pub unreadable: Option<String>,
}

/// The job handler of `webhook.process`: one receipt.
pub async fn handle(state: AppState, job: Job) -> Result<(), JobError> {
    let id: ReceiptId = job
        .payload
        .get("receipt_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobError::Permanent("job payload has no valid receipt_id".into()))?;
    let receipt = match state.store.receipt(id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => {
            return Err(JobError::Permanent(format!("receipt {id} does not exist")));
        }
        Err(e) => return Err(JobError::retry(e.to_string())),
    };
    if receipt.state == state::PROCESSED {
        return Ok(());
    }
    match process_receipt(&state.store, &receipt).await {
        Ok(_) => Ok(()),
        Err(e) => {
            if job.attempt >= job.max_attempts {
                let _ = state
                    .store
                    .mark_receipt(
                        id,
                        state::DEAD,
                        receipt.tenant_id,
                        None,
                        Some(&e.to_string()),
                    )
                    .await;
            }
            Err(JobError::retry(e.to_string()))
        }
    }
}

/// Receipts applied together in one transaction by the processor: large enough that a
/// commit's cost is shared, small enough that ingest never waits long for its turn to write.
pub const ROUND: usize = 128;

/// How long the processor lets receipts gather after a partial round before the next one: the
/// latency it adds once, against a turn of the single writer saved per round under load.
const GATHER: std::time::Duration = std::time::Duration::from_millis(5);

/// The inbound processor: pending receipts are its queue. Each round reads the oldest ones,
/// routes them, then applies and marks them all in one transaction. It wakes when the inbox
/// commits and otherwise polls (other instances' receipts, on PostgreSQL), until `stop`.
pub async fn run_processor(state: AppState, stop: tokio::sync::watch::Receiver<bool>) {
    // PostgreSQL applies rounds in parallel, each processor on its own share of the receipts
    // (and rows locked with SKIP LOCKED against other instances); SQLite has one writer, so
    // one processor is all it can use.
    let parallel = match state.store.backend() {
        chasqui_store::Backend::Sqlite => 1,
        chasqui_store::Backend::Postgres => 4,
    };
    let mut runs = tokio::task::JoinSet::new();
    for slot in 0..parallel {
        runs.spawn(run_processor_slot(
            state.clone(),
            stop.clone(),
            Share {
                index: slot,
                of: parallel,
            },
        ));
    }
    while runs.join_next().await.is_some() {}
}

async fn run_processor_slot(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
    share: Share,
) {
    let wake = state.inbox.committed();
    let idle = state
        .config
        .workers
        .poll_interval()
        .min(std::time::Duration::from_millis(250));
    while !*stop.borrow() {
        let found = match process_round(&state, ROUND, share).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "could not process pending webhooks; retrying");
                0
            }
        };
        if found == ROUND {
            continue;
        }
        if found > 0 {
            // Under load, let a few more commits arrive: a round of 50 costs SQLite's single
            // writer about what a round of 15 does (one turn, one fsync), and each round
            // delays the next ingest commit.
            tokio::select! {
                _ = tokio::time::sleep(GATHER) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(idle) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One round of the processor; returns how many pending receipts it found. When the round's
/// transaction fails, each receipt gets a job of its own, so one bad receipt delays none of
/// the others and gets its own retries and dead letter.
pub async fn process_round(
    state: &AppState,
    limit: usize,
    share: Share,
) -> Result<usize, StoreError> {
    let store = &state.store;
    let receipts = store.pending_receipts(limit, share).await?;
    if receipts.is_empty() {
        return Ok(0);
    }
    let mut routes = RouteCache::default();
    let mut prepared = Vec::with_capacity(receipts.len());
    let mut unprepared = Vec::new();
    for receipt in &receipts {
        match prepare(store, receipt, &mut routes).await {
            Ok(p) => prepared.push((receipt, p)),
            Err(e) => {
                tracing::warn!(receipt_id = %receipt.id, error = %e, "a webhook could not be routed; it gets a job of its own");
                unprepared.push(receipt.id);
            }
        }
    }
    if !unprepared.is_empty() {
        store.hand_over_receipts(&unprepared).await?;
    }
    // Customers' rows are locked in one order in every round, so parallel rounds (PostgreSQL)
    // wait for each other instead of deadlocking (each deadlock costs a second to detect).
    prepared.sort_by_cached_key(|(_, p)| p.first_sender());
    let started = std::time::Instant::now();
    let round = || async {
        let mut tx = store.begin().await?;
        tx.set_writer("inbound");
        let ids: Vec<ReceiptId> = prepared.iter().map(|(r, _)| r.id).collect();
        let mine = tx.still_pending(&ids).await?;
        // Receipts this round applies (on PostgreSQL, parallel rounds skip each other's).
        metrics::histogram!("chasqui_inbound_round_size").record(mine.len() as f64);
        let mut applied = Vec::with_capacity(prepared.len());
        let mut outcomes = Vec::with_capacity(prepared.len());
        let mut processed = Vec::with_capacity(prepared.len());
        let mut stage = Stage::default();
        for (receipt, p) in prepared.iter().filter(|(r, _)| mine.contains(&r.id)) {
            let outcome = apply(&mut tx, receipt, p, &mut stage, outcomes.len()).await?;
            if outcome.unreadable.is_none() && outcome.unrouted.is_empty() {
                processed.push(receipt.id);
            } else {
                mark(&mut tx, receipt, &outcome).await?;
            }
            applied.push(*receipt);
            outcomes.push(outcome);
        }
        stage.finish(&mut tx, &mut outcomes).await?;
        // The usual outcome, recorded for the whole round in one statement.
        tx.mark_receipts_processed(&processed).await?;
        tx.commit().await?;
        Ok::<_, StoreError>(applied.into_iter().zip(outcomes).collect::<Vec<_>>())
    };
    // Parallel rounds (PostgreSQL) that touch the same customers can deadlock; the database
    // then aborts one of them, which is retried here before its receipts are handed over.
    let mut together = round().await;
    for _ in 0..3 {
        if !matches!(&together, Err(e) if e.is_transient_conflict()) {
            break;
        }
        together = round().await;
    }
    metrics::histogram!("chasqui_inbound_round_seconds").record(started.elapsed().as_secs_f64());
    match together {
        Ok(outcomes) => {
            for (receipt, outcome) in &outcomes {
                report(receipt, outcome);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, receipts = prepared.len(), "a round of webhooks failed; processing its receipts one by one");
            let ids: Vec<ReceiptId> = prepared.iter().map(|(r, _)| r.id).collect();
            store.hand_over_receipts(&ids).await?;
        }
    }
    Ok(receipts.len())
}

/// Processes one receipt: its effects and its new state in one transaction.
pub async fn process_receipt(store: &Store, receipt: &Receipt) -> Result<Outcome, StoreError> {
    let prepared = prepare(store, receipt, &mut RouteCache::default()).await?;
    let mut tx = store.begin().await?;
    let mut stage = Stage::default();
    let outcome = apply(&mut tx, receipt, &prepared, &mut stage, 0).await?;
    let mut counted = [outcome];
    stage.finish(&mut tx, &mut counted).await?;
    let [outcome] = counted;
    mark(&mut tx, receipt, &outcome).await?;
    tx.commit().await?;
    report(receipt, &outcome);
    Ok(outcome)
}

/// Logs and counts what a committed receipt became.
fn report(receipt: &Receipt, outcome: &Outcome) {
    let provider = receipt.provider.clone();
    if let Some(e) = &outcome.unreadable {
        tracing::warn!(receipt_id = %receipt.id, error = %e, "webhook parked as a dead letter");
        metrics::counter!("chasqui_webhooks_dead_total", "provider" => provider).increment(1);
        return;
    }
    if let Some(key) = outcome.unrouted.first() {
        metrics::counter!("chasqui_webhooks_unrouted_total", "provider" => provider.clone())
            .increment(1);
        tracing::warn!(receipt_id = %receipt.id, route_key = key.as_str(), "webhook for an unknown channel kept as unrouted");
    }
    metrics::counter!("chasqui_webhook_messages_total", "provider" => provider)
        .increment(outcome.messages as u64);
}

/// Channels looked up once per batch, by channel id and by routing key.
#[derive(Default)]
struct RouteCache {
    by_id: HashMap<ChannelId, Channel>,
    by_route: HashMap<(Option<String>, Option<String>), Vec<Channel>>,
}

impl RouteCache {
    async fn channel(&mut self, store: &Store, id: ChannelId) -> Result<Channel, StoreError> {
        if let Some(c) = self.by_id.get(&id) {
            return Ok(c.clone());
        }
        let c = store.channel_for_webhook(id).await?;
        self.by_id.insert(id, c.clone());
        Ok(c)
    }

    async fn route(&mut self, store: &Store, r: &Routing) -> Result<Vec<Channel>, StoreError> {
        let key = (r.phone_number_id.clone(), r.waba_id.clone());
        if let Some(c) = self.by_route.get(&key) {
            return Ok(c.clone());
        }
        let found = route(store, r).await?;
        self.by_route.insert(key, found.clone());
        Ok(found)
    }
}

/// A receipt read and routed: everything processing needs before its transaction starts (on
/// SQLite a writer that waits for another pooled connection while holding the write lock can
/// starve the pool, so every lookup happens here).
enum Prepared {
    /// Meta's payload (Cloud API, 360dialog, sandbox), each event with the channels it reaches.
    Meta {
        parsed: MetaWebhook,
        channels: Vec<Vec<Channel>>,
    },
    /// A Twilio form post.
    Twilio {
        hook: Box<TwilioWebhook>,
        raw: serde_json::Value,
        channel: Channel,
    },
    /// A Chatwoot event.
    Chatwoot {
        event: Box<ChatwootEvent>,
        channel: Channel,
    },
    /// A body that will never become readable.
    Unreadable(String),
}

impl Prepared {
    /// Who wrote the first customer message in it, if any: the order rounds lock rows in.
    fn first_sender(&self) -> Option<String> {
        let sender = |m: &InboundMessage| {
            let s = &m.sender;
            s.user_id.clone().or(s.wa_id.clone()).or(s.phone.clone())
        };
        match self {
            Prepared::Meta { parsed, .. } => parsed.events.iter().find_map(|e| match &e.payload {
                MetaPayload::Message { message, .. } => sender(message),
                _ => None,
            }),
            Prepared::Twilio { hook, .. } => match &hook.event {
                TwilioEvent::Message { message } => sender(message),
                TwilioEvent::Status { .. } => None,
            },
            Prepared::Chatwoot { event, .. } => event.inbound_message().as_ref().and_then(sender),
            Prepared::Unreadable(_) => None,
        }
    }
}

async fn prepare(
    store: &Store,
    receipt: &Receipt,
    routes: &mut RouteCache,
) -> Result<Prepared, StoreError> {
    match receipt.provider.as_str() {
        "whatsapp" | "360dialog" | "sandbox" => {
            let parsed = match meta::parse_webhook(&receipt.body) {
                Ok(p) => p,
                Err(e) => return Ok(Prepared::Unreadable(e.to_string())),
            };
            let fixed = match receipt.channel_id {
                Some(id) => Some(routes.channel(store, id).await?),
                None => None,
            };
            let mut channels = Vec::with_capacity(parsed.events.len());
            for event in &parsed.events {
                channels.push(match &fixed {
                    Some(c) => vec![c.clone()],
                    None => routes.route(store, &event.routing).await?,
                });
            }
            Ok(Prepared::Meta { parsed, channels })
        }
        "twilio" => {
            let params = chasqui_channels::twilio::form_params(&receipt.body);
            let hook = match chasqui_channels::twilio::parse_params(&params) {
                Ok(h) => h,
                Err(e) => return Ok(Prepared::Unreadable(e.to_string())),
            };
            let raw = serde_json::Value::Object(
                params
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
            );
            match per_channel(store, receipt, routes).await? {
                Ok(channel) => Ok(Prepared::Twilio {
                    hook: Box::new(hook),
                    raw,
                    channel,
                }),
                Err(unreadable) => Ok(unreadable),
            }
        }
        "chatwoot" => {
            let event = match chasqui_channels::chatwoot::parse_event(&receipt.body) {
                Ok(e) => e,
                Err(e) => return Ok(Prepared::Unreadable(e.to_string())),
            };
            match per_channel(store, receipt, routes).await? {
                Ok(channel) => Ok(Prepared::Chatwoot {
                    event: Box::new(event),
                    channel,
                }),
                Err(unreadable) => Ok(unreadable),
            }
        }
        other => Ok(Prepared::Unreadable(format!(
            "no processor for provider `{other}`"
        ))),
    }
}

/// The channel a per-channel webhook URL named (Twilio and Chatwoot always use one).
async fn per_channel(
    store: &Store,
    receipt: &Receipt,
    routes: &mut RouteCache,
) -> Result<Result<Channel, Prepared>, StoreError> {
    let Some(id) = receipt.channel_id else {
        return Ok(Err(Prepared::Unreadable(format!(
            "a {} delivery must arrive on its channel's URL",
            receipt.provider
        ))));
    };
    Ok(Ok(routes.channel(store, id).await?))
}

/// Records what a receipt became, inside the transaction that applied it.
async fn mark(tx: &mut Tx, receipt: &Receipt, outcome: &Outcome) -> Result<(), StoreError> {
    if let Some(e) = &outcome.unreadable {
        // A body we cannot read will never become readable: park it now, with the reason.
        return tx
            .mark_receipt(receipt.id, state::DEAD, receipt.tenant_id, None, Some(e))
            .await;
    }
    let (new_state, route_key) = match outcome.unrouted.first() {
        Some(k) => (state::UNROUTED, Some(k.as_str())),
        None => (state::PROCESSED, None),
    };
    tx.mark_receipt(receipt.id, new_state, receipt.tenant_id, route_key, None)
        .await
}

/// Applies a prepared receipt inside the caller's transaction; its messages are staged, and
/// counted in its outcome (number `at` of the round) when the stage is finished.
async fn apply<'a>(
    tx: &mut Tx,
    receipt: &Receipt,
    prepared: &'a Prepared,
    stage: &mut Stage<'a>,
    at: usize,
) -> Result<Outcome, StoreError> {
    let mut out = Outcome::default();
    match prepared {
        Prepared::Unreadable(e) => {
            out.unreadable = Some(e.clone());
            return Ok(out);
        }
        Prepared::Meta { parsed, channels } => {
            apply_meta(tx, receipt, parsed, channels, &mut out, stage, at).await?;
        }
        Prepared::Twilio { hook, raw, channel } => match &hook.event {
            TwilioEvent::Message { message } => {
                stage
                    .add(tx, at, channel, Cow::Borrowed(message), raw, receipt)
                    .await?;
            }
            TwilioEvent::Status { status } => {
                if record_status(tx, channel, status, raw).await? {
                    out.statuses += 1;
                }
            }
        },
        Prepared::Chatwoot { event, channel } => match event.inbound_message() {
            Some(message) => {
                stage
                    .add(tx, at, channel, Cow::Owned(message), &event.raw, receipt)
                    .await?;
            }
            None => {
                let field = format!(
                    "chatwoot.{}",
                    event
                        .raw
                        .get("event")
                        .and_then(|e| e.as_str())
                        .unwrap_or("unknown")
                );
                tx.record_channel_event(
                    Some(channel.tenant_id),
                    Some(channel.id),
                    &field,
                    &event.raw,
                )
                .await?;
                out.events += 1;
            }
        },
    }
    Ok(out)
}

async fn apply_meta<'a>(
    tx: &mut Tx,
    receipt: &Receipt,
    parsed: &'a MetaWebhook,
    routed: &'a [Vec<Channel>],
    out: &mut Outcome,
    stage: &mut Stage<'a>,
    at: usize,
) -> Result<(), StoreError> {
    for (event, channels) in parsed.events.iter().zip(routed) {
        if channels.is_empty() {
            let key = match (&event.routing.phone_number_id, &event.routing.waba_id) {
                (Some(p), _) => format!("phone_number_id:{p}"),
                (None, Some(w)) => format!("waba_id:{w}"),
                (None, None) => "none".to_owned(),
            };
            if !out.unrouted.contains(&key) {
                out.unrouted.push(key);
            }
        }
        for channel in channels {
            match &event.payload {
                MetaPayload::Message { message, raw } => {
                    stage
                        .add(tx, at, channel, Cow::Borrowed(message), raw, receipt)
                        .await?;
                }
                MetaPayload::Status { status, raw } => {
                    if record_status(tx, channel, status, raw).await? {
                        out.statuses += 1;
                    }
                }
                MetaPayload::Error { raw, .. } => {
                    tx.record_channel_event(
                        Some(channel.tenant_id),
                        Some(channel.id),
                        "errors",
                        raw,
                    )
                    .await?;
                    out.events += 1;
                }
                MetaPayload::Field { known, value } => {
                    tx.record_channel_event(
                        Some(channel.tenant_id),
                        Some(channel.id),
                        &event.routing.field,
                        value,
                    )
                    .await?;
                    if let meta::KnownField::AccountUpdate(update) = known
                        && update.disconnects_channel()
                    {
                        set_status_in_tx(tx, channel, channel_status::DISCONNECTED).await?;
                    }
                    if let Some(change) = template_change(known) {
                        tx.set_template_status(channel.tenant_id, &change).await?;
                    }
                    if let meta::KnownField::UserPreferences { preferences } = known {
                        for p in preferences
                            .iter()
                            .filter(|p| p.category.as_deref() == Some("marketing_messages"))
                        {
                            let wa = p.wa_id.as_deref().and_then(|w| WaId::parse(w).ok());
                            let keys: Vec<String> = wa
                                .as_ref()
                                .map(|w| w.lookup_keys().iter().map(ToString::to_string).collect())
                                .unwrap_or_default();
                            let who = ContactIdentity {
                                user_id: p.user_id.clone(),
                                wa_id: wa.as_ref().map(|w| w.as_str().to_owned()),
                                contact_key: keys.first().cloned(),
                                lookup_keys: keys,
                                ..ContactIdentity::default()
                            };
                            let at = p
                                .timestamp
                                .map(|t| t * 1000)
                                .unwrap_or_else(chasqui_store::now_millis);
                            let opted_out = if p.is_opt_out() { Some(at) } else { None };
                            tx.set_marketing_preference(channel.tenant_id, &who, opted_out)
                                .await?;
                        }
                    }
                    out.events += 1;
                }
            }
        }
    }
    Ok(())
}

async fn set_status_in_tx(tx: &mut Tx, channel: &Channel, status: &str) -> Result<(), StoreError> {
    tx.audit(chasqui_store::audit::NewAuditEntry {
        tenant: Some(channel.tenant_id),
        actor: "provider",
        action: "channel.status_changed",
        target: Some(&channel.id.to_string()),
        details: serde_json::json!({ "status": status }),
    })
    .await?;
    tx.set_channel_status(channel.tenant_id, channel.id, status)
        .await?;
    let data = serde_json::json!({ "channel": { "id": channel.id, "kind": channel.kind, "status": status, "reason": "provider" } });
    tx.emit_event(channel.tenant_id, types::CHANNEL_UPDATED, data)
        .await?;
    Ok(())
}

/// What a template webhook changes on the stored template (status, category, quality score);
/// found by Meta's id, else by name and language.
fn template_change(known: &meta::KnownField) -> Option<TemplateChange<'_>> {
    let change = match known {
        meta::KnownField::TemplateStatus(s) => TemplateChange {
            provider_id: s.template_id.as_deref(),
            name: s.template_name.as_deref(),
            language: s.language.as_deref(),
            status: s.event.as_deref(),
            category: s.category.as_deref(),
            quality_score: None,
        },
        meta::KnownField::TemplateCategory(c) => TemplateChange {
            provider_id: c.template_id.as_deref(),
            name: c.template_name.as_deref(),
            language: c.language.as_deref(),
            category: c.new_category.as_deref(),
            ..TemplateChange::default()
        },
        meta::KnownField::TemplateQuality(q) => TemplateChange {
            provider_id: q.template_id.as_deref(),
            name: q.template_name.as_deref(),
            language: q.language.as_deref(),
            quality_score: q.new_quality_score.as_deref(),
            ..TemplateChange::default()
        },
        _ => return None,
    };
    (change.status.is_some() || change.category.is_some() || change.quality_score.is_some())
        .then_some(change)
}

/// The channels an event belongs to: by `phone_number_id`, or for WABA-level fields by WABA.
async fn route(store: &Store, r: &Routing) -> Result<Vec<Channel>, StoreError> {
    if let Some(pnid) = &r.phone_number_id {
        return Ok(store
            .channel_by_phone_number_id(pnid)
            .await?
            .into_iter()
            .filter(|c| c.kind.speaks_meta())
            .collect());
    }
    match &r.waba_id {
        Some(w) => Ok(store
            .channels_by_waba(w)
            .await?
            .into_iter()
            .filter(|c| c.kind.speaks_meta())
            .collect()),
        None => Ok(Vec::new()),
    }
}

/// Who wrote: by BSUID and number variants; for providers with their own contact ids and no
/// number (a Chatwoot web widget), by that id within the channel.
fn identity(channel: &Channel, m: &InboundMessage) -> ContactIdentity {
    let wa = m
        .sender
        .wa_id
        .as_deref()
        .or(m.sender.phone.as_deref())
        .and_then(|w| WaId::parse(w).ok());
    let mut keys: Vec<String> = wa
        .as_ref()
        .map(|w| w.lookup_keys().iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    if keys.is_empty()
        && m.sender.user_id.is_none()
        && let Some(external) = &m.sender.provider_contact_id
    {
        keys.push(format!("{}:{external}", channel.id));
    }
    ContactIdentity {
        user_id: m.sender.user_id.clone(),
        wa_id: wa.as_ref().map(|w| w.as_str().to_owned()),
        contact_key: keys.first().cloned(),
        lookup_keys: keys,
        username: m.sender.username.clone(),
        profile_name: m.sender.profile_name.clone(),
    }
}

/// Where a conversation came from: a click-to-WhatsApp ad, or the `ref` code of our own wa.me link.
fn source_of(m: &InboundMessage) -> Option<serde_json::Value> {
    if let Some(referral) = &m.referral {
        return Some(serde_json::json!({ "type": "ad_referral", "referral": referral }));
    }
    let text = m.searchable_text();
    chasqui_core::wame::extract_ref(&text)
        .map(|r| serde_json::json!({ "type": "wame_ref", "ref": r.as_str() }))
}

/// A round's customer messages (or one receipt's), stored together: each message's contact and
/// conversation are written as it is staged, then [`Stage::finish`] inserts every message in
/// one multi-row statement, emits the events of those that were new, and applies early edits.
#[derive(Default)]
struct Stage<'a> {
    staged: Vec<Staged<'a>>,
    rows: Vec<NewMessage>,
}

/// One staged message and what its events need.
struct Staged<'a> {
    /// The receipt (its position in the round) whose outcome counts it.
    at: usize,
    channel: &'a Channel,
    message: Cow<'a, InboundMessage>,
    who: ContactIdentity,
    contact: ContactId,
    contact_created: bool,
    conversation: ConversationId,
    opened: bool,
    source: Option<serde_json::Value>,
    at_ms: i64,
    /// The edit or revoke this message is, if it is one.
    change: Option<MessageChange>,
}

impl<'a> Stage<'a> {
    /// Finds or creates the sender's contact and open conversation, and stages the message.
    async fn add(
        &mut self,
        tx: &mut Tx,
        at: usize,
        channel: &'a Channel,
        m: Cow<'a, InboundMessage>,
        raw: &serde_json::Value,
        receipt: &Receipt,
    ) -> Result<(), StoreError> {
        let at_ms = m
            .timestamp
            .map(|s| s * 1000)
            .unwrap_or_else(|| receipt.received_at.timestamp_millis());
        let who = identity(channel, &m);
        let (contact, contact_created) = tx.upsert_contact(channel.tenant_id, &who).await?;
        let source = source_of(&m);
        let (conversation, opened) = tx
            .touch_conversation(
                channel.tenant_id,
                channel.id,
                contact,
                at_ms,
                true,
                source.as_ref(),
            )
            .await?;
        let text = m.searchable_text();
        self.rows.push(NewMessage {
            tenant: channel.tenant_id,
            channel: channel.id,
            conversation: Some(conversation),
            contact: Some(contact),
            direction: "in",
            provider_message_id: Some(m.provider_message_id.clone()),
            kind: m.kind().to_owned(),
            status: "received".to_owned(),
            body_text: (!text.is_empty()).then_some(text),
            content: serde_json::json!({ "message": &*m, "raw": raw }),
            context_message_id: m.context.as_ref().and_then(|c| c.replied_to_id.clone()),
            provider_timestamp: Some(at_ms),
        });
        let change = MessageChange::of_inbound(channel.tenant_id, channel.id, &m, at_ms);
        self.staged.push(Staged {
            at,
            channel,
            message: m,
            who,
            contact,
            contact_created,
            conversation,
            opened,
            source,
            at_ms,
            change,
        });
        Ok(())
    }

    /// Inserts the staged messages (a repeated delivery is counted as a duplicate and changes
    /// nothing), then for each new one: its media downloads and its events, in staged order;
    /// then the edits and revokes, which give the same result in any order.
    async fn finish(self, tx: &mut Tx, outcomes: &mut [Outcome]) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let ids = tx.insert_messages(&self.rows).await?;
        let mut fresh = Vec::new();
        for ((s, row), id) in self.staged.iter().zip(&self.rows).zip(&ids) {
            let Some(message_id) = *id else {
                outcomes[s.at].duplicates += 1;
                continue;
            };
            outcomes[s.at].messages += 1;
            let (channel, m) = (s.channel, &*s.message);
            crate::media::enqueue_inbound(tx, channel, message_id, m).await?;
            let t = channel.tenant_id;
            if s.contact_created {
                let who = &s.who;
                let data = serde_json::json!({ "contact": {
                    "id": s.contact, "wa_id": who.wa_id, "user_id": who.user_id,
                    "username": who.username, "profile_name": who.profile_name } });
                tx.emit_event(t, types::CONTACT_CREATED, data).await?;
            }
            if s.opened {
                let data = serde_json::json!({ "conversation": {
                    "id": s.conversation, "channel_id": channel.id, "contact_id": s.contact, "status": "open",
                    "source": s.source, "last_inbound_at": chasqui_store::from_millis(s.at_ms) } });
                tx.emit_event(t, types::CONVERSATION_OPENED, data).await?;
            }
            let data = serde_json::json!({
                "message": {
                    "id": message_id, "channel_id": channel.id, "conversation_id": s.conversation,
                    "contact_id": s.contact, "direction": "in", "provider_message_id": m.provider_message_id,
                    "type": m.kind(), "status": "received", "text": row.body_text, "content": m,
                    "context_message_id": row.context_message_id,
                    "timestamp": chasqui_store::from_millis(s.at_ms),
                },
                "conversation_id": s.conversation, "contact_id": s.contact, "channel_id": channel.id,
            });
            tx.emit_event(t, types::MESSAGE_RECEIVED, data).await?;
            if s.change.is_none() {
                fresh.push((t, channel.id, m.provider_message_id.as_str()));
            }
        }
        // A new message picks up the edits and revokes that arrived before it; an edit or
        // revoke changes the message it names (now, or when that one arrives).
        tx.apply_changes_to_new_messages(&fresh).await?;
        for change in self.staged.iter().filter_map(|s| s.change.as_ref()) {
            tx.record_message_change(change).await?;
        }
        Ok(())
    }
}

/// Records a status update; `false` for a repeated one.
async fn record_status(
    tx: &mut Tx,
    channel: &Channel,
    s: &StatusUpdate,
    raw: &serde_json::Value,
) -> Result<bool, StoreError> {
    let Some(status) = s.status else {
        tx.record_channel_event(
            Some(channel.tenant_id),
            Some(channel.id),
            "status_unmapped",
            raw,
        )
        .await?;
        return Ok(true);
    };
    let error = s.errors.first().map(|e| {
        let code = e.code.map(|c| c.to_string()).unwrap_or_default();
        let sentence = e
            .details
            .clone()
            .or_else(|| e.message.clone())
            .or_else(|| e.title.clone())
            .unwrap_or_default();
        (code, sentence)
    });
    let outcome = tx
        .record_status(&StatusRecord {
            tenant: channel.tenant_id,
            channel: channel.id,
            provider_message_id: &s.provider_message_id,
            status,
            occurred_at_ms: s
                .timestamp
                .map(|t| t * 1000)
                .unwrap_or_else(chasqui_store::now_millis),
            payload: raw,
            error,
        })
        .await?;
    if let StatusOutcome::Applied {
        message,
        status: now,
        changed: true,
    } = &outcome
    {
        let data = serde_json::json!({
            "message_id": message, "provider_message_id": s.provider_message_id, "status": now,
            "reported": status.as_str(), "channel_id": channel.id,
            "timestamp": s.timestamp.map(|t| chasqui_store::from_millis(t * 1000)),
            "error": s.errors.first(),
        });
        tx.emit_event(channel.tenant_id, types::MESSAGE_STATUS, data)
            .await?;
    }
    Ok(outcome != StatusOutcome::Duplicate)
}
