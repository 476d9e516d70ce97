//! Outgoing events: the tenant's event log, its webhook endpoints and the delivery log.
//!
//! [`Tx::emit_event`] writes the event and, in the same transaction, one delivery row and one
//! `event.deliver` job per enabled endpoint subscribed to the event's type, so an event is
//! delivered if and only if the change that caused it commits. The delivery job (in the binary)
//! makes one HTTP attempt per run and records it with [`Store::record_delivery_attempt`]; a
//! delivery row names the job currently responsible for it, so a job superseded by a replay
//! does nothing. Signing secrets live encrypted in `credentials`, bound to their endpoint.

use std::time::Duration;

use chasqui_core::ids::{DeliveryId, EventId, JobId, TenantId, WebhookEndpointId};
use chasqui_core::secrets::{Keyring, Secret};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::credentials::CredentialError;
use crate::db::{Tx, value_rows, with_pool, with_tx};
use crate::error::{Result, StoreError, corrupt, parse_id};
use crate::jobs::NewJob;
use crate::{Page, Store, from_millis, now_millis};

/// Every event type Chasqui emits, as tenants subscribe to them.
pub const EVENT_TYPES: &[&str] = &[
    types::MESSAGE_RECEIVED,
    types::MESSAGE_STATUS,
    types::CONVERSATION_OPENED,
    types::CONTACT_CREATED,
    types::CHANNEL_UPDATED,
];

/// The event type names.
pub mod types {
    /// An inbound message was stored.
    pub const MESSAGE_RECEIVED: &str = "message.received";
    /// An outbound message's delivery status advanced (or it failed).
    pub const MESSAGE_STATUS: &str = "message.status";
    /// A conversation was opened by a contact's first message.
    pub const CONVERSATION_OPENED: &str = "conversation.opened";
    /// A contact was seen for the first time.
    pub const CONTACT_CREATED: &str = "contact.created";
    /// A channel changed (status, quality, name…).
    pub const CHANNEL_UPDATED: &str = "channel.updated";
}

/// The job kind that delivers one event to one endpoint; payload `{"delivery_id": "dlv_…"}`.
pub const DELIVERY_JOB_KIND: &str = "event.deliver";

/// Attempts of a delivery job: the first try and seven retries (5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 10 h: a little over a day in all).
pub const DELIVERY_MAX_ATTEMPTS: u32 = 8;

/// Why an endpoint was disabled by [`Store::record_delivery_attempt`].
pub const AUTO_DISABLED_REASON: &str = "disabled automatically: deliveries kept failing with no success for too long; \
     fix the receiver, then enable the endpoint again and replay the failed deliveries";

/// Whether `event_type` is one Chasqui emits.
pub fn is_event_type(event_type: &str) -> bool {
    EVENT_TYPES.contains(&event_type)
}

/// The credential name of an endpoint's signing secret, which binds its ciphertext to the endpoint.
pub fn secret_name(endpoint: WebhookEndpointId) -> String {
    format!("webhook_endpoint:{endpoint}:secret")
}

/// The credential name of the secret replaced by the last rotation (still signing for a while).
pub fn previous_secret_name(endpoint: WebhookEndpointId) -> String {
    format!("webhook_endpoint:{endpoint}:previous_secret")
}

/// Something that happened, as the tenant's application is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id, also the `webhook-id` of every delivery of it.
    pub id: EventId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// One of [`EVENT_TYPES`].
    pub event_type: String,
    /// The event's payload.
    pub data: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// A URL of the tenant's application that receives events.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Where events are posted.
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it receives; empty means all of them.
    pub event_types: Vec<String>,
    /// Set while the endpoint is disabled (by the tenant, or automatically after sustained failure).
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last successful one.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last successful attempt.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Until when the secret replaced by the last rotation still signs deliveries.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether events are delivered to it.
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Whether it receives events of `event_type`.
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        subscribes(&self.event_types, event_type)
    }
}

fn subscribes(types: &[String], event_type: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == "*" || t == event_type)
}

/// An endpoint to create.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    /// Where events are posted (already validated by the caller).
    pub url: String,
    /// A note for people.
    pub description: Option<String>,
    /// The event types it receives; empty means all.
    pub event_types: Vec<String>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointPatch {
    /// New URL (already validated by the caller).
    pub url: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New event types (empty means all).
    pub event_types: Option<Vec<String>>,
    /// Enable (clearing any failure history) or disable.
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet; an attempt is scheduled.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt failed, or the endpoint was disabled or is gone.
    Failed,
}

impl DeliveryState {
    /// The stored (and API) name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored (or API) name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far (replays included).
    pub attempts: u32,
    /// The HTTP status of the last attempt, when there was an answer.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The job responsible for its next attempt.
    pub job_id: Option<JobId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One recorded attempt of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// 1-based, counting across replays.
    pub attempt: u32,
    /// The HTTP status, when there was an answer.
    pub status_code: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
}

/// Everything a delivery job needs for one attempt.
#[derive(Debug, Clone)]
pub struct DeliveryTask {
    /// The delivery.
    pub delivery: Delivery,
    /// Its event.
    pub event: Event,
    /// Its endpoint.
    pub endpoint: WebhookEndpoint,
}

/// What one attempt came to, to record.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The HTTP status, when there was an answer.
    pub status_code: Option<u16>,
    /// Why it failed (`None` on success).
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
    /// The delivery's state after it: `Pending` when another attempt will follow.
    pub state: DeliveryState,
    /// When the next attempt is due (with `Pending`).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// With a final failure: disable the endpoint when it has been failing since this time or
    /// earlier, with no success in between.
    pub disable_if_failing_since: Option<DateTime<Utc>>,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedAttempt {
    /// `false` when the delivery was superseded (replayed, finished or deleted) meanwhile and
    /// nothing was written.
    pub recorded: bool,
    /// The endpoint was disabled because of sustained failure.
    pub endpoint_disabled: bool,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    tenant_id: String,
    #[sqlx(rename = "type")]
    event_type: String,
    data: String,
    created_at: i64,
}

impl EventRow {
    fn into_event(self) -> Result<Event> {
        Ok(Event {
            id: parse_id(&self.id, "events.id")?,
            tenant_id: parse_id(&self.tenant_id, "events.tenant_id")?,
            event_type: self.event_type,
            data: serde_json::from_str(&self.data)
                .map_err(|e| corrupt("events.data")(e.to_string()))?,
            created_at: from_millis(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    tenant_id: String,
    url: String,
    description: Option<String>,
    event_types: String,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    failing_since: Option<i64>,
    last_success_at: Option<i64>,
    previous_secret_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl EndpointRow {
    fn into_endpoint(self) -> Result<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            id: parse_id(&self.id, "webhook_endpoints.id")?,
            tenant_id: parse_id(&self.tenant_id, "webhook_endpoints.tenant_id")?,
            url: self.url,
            description: self.description,
            event_types: parse_types(&self.event_types)?,
            disabled_at: self.disabled_at.map(from_millis),
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since.map(from_millis),
            last_success_at: self.last_success_at.map(from_millis),
            previous_secret_expires_at: self.previous_secret_expires_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

fn parse_types(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| corrupt("webhook_endpoints.event_types")(e.to_string()))
}

fn types_json(types: &[String]) -> String {
    serde_json::to_string(types).unwrap_or_else(|_| "[]".to_owned())
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    tenant_id: String,
    endpoint_id: String,
    event_id: String,
    event_type: String,
    state: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<i64>,
    next_attempt_at: Option<i64>,
    job_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery> {
        Ok(Delivery {
            id: parse_id(&self.id, "webhook_deliveries.id")?,
            tenant_id: parse_id(&self.tenant_id, "webhook_deliveries.tenant_id")?,
            endpoint_id: parse_id(&self.endpoint_id, "webhook_deliveries.endpoint_id")?,
            event_id: parse_id(&self.event_id, "webhook_deliveries.event_id")?,
            event_type: self.event_type,
            state: DeliveryState::parse(&self.state).ok_or_else(|| {
                corrupt("webhook_deliveries.state")(format!("unknown state `{}`", self.state))
            })?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_status_code: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            last_attempt_at: self.last_attempt_at.map(from_millis),
            next_attempt_at: self.next_attempt_at.map(from_millis),
            job_id: self
                .job_id
                .as_deref()
                .map(|j| parse_id(j, "webhook_deliveries.job_id"))
                .transpose()?,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    status: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    attempted_at: i64,
}

const EVENT_SELECT: &str = "SELECT id, tenant_id, type, data, created_at FROM events";

const ENDPOINT_SELECT: &str = "SELECT id, tenant_id, url, description, event_types, disabled_at, disabled_reason, \
     failing_since, last_success_at, previous_secret_expires_at, created_at, updated_at FROM webhook_endpoints";

const DELIVERY_SELECT: &str = "SELECT d.id, d.tenant_id, d.endpoint_id, d.event_id, e.type AS event_type, d.state, \
     d.attempts, d.last_status, d.last_error, d.last_attempt_at, d.next_attempt_at, d.job_id, d.created_at, d.updated_at \
     FROM webhook_deliveries d JOIN events e ON e.id = d.event_id";

fn delivery_job(tenant: TenantId, delivery: DeliveryId) -> NewJob {
    NewJob::new(
        DELIVERY_JOB_KIND,
        serde_json::json!({ "delivery_id": delivery.to_string() }),
    )
    .for_tenant(tenant)
    .max_attempts(DELIVERY_MAX_ATTEMPTS)
}

/// An event row waiting for its transaction's commit.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    id: String,
    tenant: String,
    event_type: String,
    data: String,
    created_at: i64,
}

/// Rows per multi-row insert of events.
const EVENT_CHUNK: usize = 256;

async fn insert_events(tx: &mut Tx, rows: &[PendingEvent]) -> Result<()> {
    for chunk in rows.chunks(EVENT_CHUNK) {
        let sql = format!(
            "INSERT INTO events (id, tenant_id, type, data, created_at) VALUES {}",
            value_rows(chunk.len(), "(?, ?, ?, ?, ?)")
        );
        let sql = crate::db::for_backend(tx.backend(), sql);
        with_tx!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for e in chunk {
                q = q
                    .bind(&e.id)
                    .bind(&e.tenant)
                    .bind(&e.event_type)
                    .bind(&e.data)
                    .bind(e.created_at);
            }
            q.execute(c).await?.rows_affected()
        });
    }
    Ok(())
}

impl Tx {
    /// Writes the events buffered by [`Tx::emit_event`]; `commit` calls it.
    pub(crate) async fn flush_events(&mut self) -> Result<()> {
        if self.pending_events.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending_events);
        insert_events(self, &rows).await
    }

    /// Records an event and, in this transaction, schedules its delivery to every enabled
    /// endpoint of `tenant` subscribed to `event_type`. Costs one insert (and, once per
    /// transaction and tenant, one indexed read) when the tenant has no endpoints.
    pub async fn emit_event(
        &mut self,
        tenant: TenantId,
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<EventId> {
        debug_assert!(
            is_event_type(event_type),
            "unknown event type `{event_type}`"
        );
        let id = EventId::new();
        let now = now_millis();
        let key = tenant.to_string();
        let endpoints = match self.endpoints.get(&key) {
            Some(e) => e.clone(),
            None => {
                let found: Vec<(String, String)> = with_tx!(self, c => sqlx::query_as(
                    "SELECT id, event_types FROM webhook_endpoints WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY id",
                )
                .bind(&key)
                .fetch_all(c)
                .await?);
                self.endpoints.insert(key, found.clone());
                found
            }
        };
        let mut subscribed = Vec::new();
        for (endpoint, types) in endpoints {
            if subscribes(&parse_types(&types)?, event_type) {
                subscribed.push(endpoint);
            }
        }
        let row = PendingEvent {
            id: id.to_string(),
            tenant: tenant.to_string(),
            event_type: event_type.to_owned(),
            data: data.to_string(),
            created_at: now,
        };
        if subscribed.is_empty() {
            // Nobody to deliver to: the row is written with the others at commit, in one
            // statement, instead of one round trip per event.
            self.pending_events.push(row);
            return Ok(id);
        }
        self.flush_events().await?;
        insert_events(self, std::slice::from_ref(&row)).await?;
        for endpoint in subscribed {
            let delivery = DeliveryId::new();
            let job = self.enqueue(delivery_job(tenant, delivery)).await?;
            with_tx!(self, c => sqlx::query(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, state, attempts, next_attempt_at, job_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $5, $5)",
            )
            .bind(delivery.to_string())
            .bind(tenant.to_string())
            .bind(&endpoint)
            .bind(id.to_string())
            .bind(now)
            .bind(job.to_string())
            .execute(c)
            .await?
            .rows_affected());
        }
        Ok(id)
    }
}

impl Store {
    /// [`Tx::emit_event`] in a transaction of its own.
    pub async fn emit_event(
        &self,
        tenant: TenantId,
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<EventId> {
        let mut tx = self.begin().await?;
        let id = tx.emit_event(tenant, event_type, data).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One event of a tenant.
    pub async fn event(&self, tenant: TenantId, id: EventId) -> Result<Event> {
        let sql = sqlx::AssertSqlSafe(format!("{EVENT_SELECT} WHERE id = $1 AND tenant_id = $2"));
        let row: Option<EventRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("event"))?.into_event()
    }

    /// A tenant's events after `after` (exclusive), oldest first, optionally of one type.
    pub async fn list_events(
        &self,
        tenant: TenantId,
        after: Option<EventId>,
        event_type: Option<&str>,
        limit: usize,
    ) -> Result<Page<Event>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{EVENT_SELECT} WHERE tenant_id = $1 AND id > $2 AND ($3 IS NULL OR type = $3) ORDER BY id LIMIT $4"
        ));
        let rows: Vec<EventRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(event_type)
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let events = rows
            .into_iter()
            .map(EventRow::into_event)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(events, limit, |e| e.id.to_string()))
    }

    /// A tenant's events recorded at or after `since`, oldest first (for a live tail that
    /// looks back a little, to catch events whose transaction committed late).
    pub async fn events_since(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Event>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{EVENT_SELECT} WHERE tenant_id = $1 AND created_at >= $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<EventRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(since.timestamp_millis())
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(EventRow::into_event).collect()
    }

    /// Creates an endpoint with its signing secret (encrypted), audited.
    pub async fn create_webhook_endpoint(
        &self,
        tenant: TenantId,
        keys: &Keyring,
        new: NewWebhookEndpoint,
        secret: &Secret,
        actor: &str,
    ) -> Result<WebhookEndpoint> {
        let id = WebhookEndpointId::new();
        let now = now_millis();
        let mut tx = self.begin().await?;
        with_tx!(tx, c => sqlx::query(
            "INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&new.url)
        .bind(&new.description)
        .bind(types_json(&new.event_types))
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        tx.put_credential(keys, tenant, &secret_name(id), secret)
            .await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook_endpoint.created",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "url": new.url, "event_types": new.event_types }),
        })
        .await?;
        tx.commit().await?;
        self.webhook_endpoint(tenant, id).await
    }

    /// One endpoint of a tenant.
    pub async fn webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ENDPOINT_SELECT} WHERE id = $1 AND tenant_id = $2"
        ));
        let row: Option<EndpointRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("webhook endpoint"))?
            .into_endpoint()
    }

    /// A tenant's endpoints, oldest first.
    pub async fn list_webhook_endpoints(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<WebhookEndpointId>,
    ) -> Result<Page<WebhookEndpoint>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ENDPOINT_SELECT} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<EndpointRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(EndpointRow::into_endpoint)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |e| e.id.to_string()))
    }

    /// Applies a patch, audited; enabling clears the failure history.
    pub async fn update_webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
        actor: &str,
    ) -> Result<WebhookEndpoint> {
        let current = self.webhook_endpoint(tenant, id).await?;
        let now = now_millis();
        let url = patch.url.clone().unwrap_or(current.url);
        let description = patch.description.clone().unwrap_or(current.description);
        let types = patch.event_types.clone().unwrap_or(current.event_types);
        let millis = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        let (disabled_at, reason, failing_since) = match patch.enabled {
            Some(true) => (None, None, None),
            Some(false) if current.disabled_at.is_none() => (
                Some(now),
                Some("disabled through the API".to_owned()),
                millis(current.failing_since),
            ),
            _ => (
                millis(current.disabled_at),
                current.disabled_reason,
                millis(current.failing_since),
            ),
        };
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE webhook_endpoints SET url = $3, description = $4, event_types = $5, disabled_at = $6, \
             disabled_reason = $7, failing_since = $8, updated_at = $9 WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&url)
        .bind(&description)
        .bind(types_json(&types))
        .bind(disabled_at)
        .bind(&reason)
        .bind(failing_since)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook_endpoint.updated",
            target: Some(&id.to_string()),
            details: serde_json::json!({
                "url": url,
                "event_types": types,
                "enabled": disabled_at.is_none(),
            }),
        })
        .await?;
        tx.commit().await?;
        self.webhook_endpoint(tenant, id).await
    }

    /// Deletes an endpoint with its secrets and delivery log, audited.
    pub async fn delete_webhook_endpoint(
        &self,
        tenant: TenantId,
        id: WebhookEndpointId,
        actor: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .execute(c)
            .await?
            .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        with_tx!(tx, c => sqlx::query("DELETE FROM credentials WHERE tenant_id = $1 AND (name = $2 OR name = $3)")
            .bind(tenant.to_string())
            .bind(secret_name(id))
            .bind(previous_secret_name(id))
            .execute(c)
            .await?
            .rows_affected());
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook_endpoint.deleted",
            target: Some(&id.to_string()),
            details: serde_json::json!({}),
        })
        .await?;
        tx.commit().await
    }

    /// Replaces an endpoint's signing secret; the old one keeps signing (as a second
    /// signature) until `keep_previous_until`, so receivers can switch without losing events.
    pub async fn rotate_webhook_endpoint_secret(
        &self,
        tenant: TenantId,
        id: WebhookEndpointId,
        keys: &Keyring,
        new_secret: &Secret,
        keep_previous_until: DateTime<Utc>,
        actor: &str,
    ) -> Result<WebhookEndpoint> {
        let name = secret_name(id);
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret_expires_at = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(keep_previous_until.timestamp_millis())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        let old: Option<String> = with_tx!(tx, c => sqlx::query_scalar(
            "SELECT ciphertext FROM credentials WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant.to_string())
        .bind(&name)
        .fetch_optional(c)
        .await?);
        if let Some(envelope) = old {
            let previous = keys
                .decrypt(tenant, &name, &envelope)
                .map_err(|e| corrupt("credentials.ciphertext")(format!("{name}: {e}")))?;
            tx.put_credential(keys, tenant, &previous_secret_name(id), &previous)
                .await?;
        }
        tx.put_credential(keys, tenant, &name, new_secret).await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook_endpoint.secret_rotated",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "previous_valid_until": keep_previous_until }),
        })
        .await?;
        tx.commit().await?;
        self.webhook_endpoint(tenant, id).await
    }

    /// The secrets that sign deliveries to `endpoint` now: the current one, then the previous
    /// one while it has not expired.
    pub async fn webhook_signing_secrets(
        &self,
        keys: &Keyring,
        endpoint: &WebhookEndpoint,
    ) -> Result<Vec<Secret>, CredentialError> {
        let tenant = endpoint.tenant_id;
        let mut out = Vec::with_capacity(2);
        if let Some(s) = self
            .credential(keys, tenant, &secret_name(endpoint.id))
            .await?
        {
            out.push(s);
        }
        if endpoint
            .previous_secret_expires_at
            .is_some_and(|t| t > Utc::now())
            && let Some(s) = self
                .credential(keys, tenant, &previous_secret_name(endpoint.id))
                .await?
        {
            out.push(s);
        }
        Ok(out)
    }

    /// An endpoint's deliveries, oldest first, optionally in one state.
    pub async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint: WebhookEndpointId,
        state: Option<DeliveryState>,
        limit: usize,
        after: Option<DeliveryId>,
    ) -> Result<Page<Delivery>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{DELIVERY_SELECT} WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.id > $3 \
             AND ($4 IS NULL OR d.state = $4) ORDER BY d.id LIMIT $5"
        ));
        let rows: Vec<DeliveryRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(endpoint.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(state.map(|s| s.as_str()))
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(DeliveryRow::into_delivery)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |d| d.id.to_string()))
    }

    /// One delivery of an endpoint.
    pub async fn delivery(
        &self,
        tenant: TenantId,
        endpoint: WebhookEndpointId,
        id: DeliveryId,
    ) -> Result<Delivery> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{DELIVERY_SELECT} WHERE d.id = $1 AND d.tenant_id = $2 AND d.endpoint_id = $3"
        ));
        let row: Option<DeliveryRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(endpoint.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("delivery"))?.into_delivery()
    }

    /// Every attempt of a delivery, first first.
    pub async fn delivery_attempts(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<Vec<DeliveryAttempt>> {
        let rows: Vec<AttemptRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT a.attempt, a.status, a.error, a.duration_ms, a.attempted_at FROM webhook_delivery_attempts a \
             JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.id = $1 AND d.tenant_id = $2 ORDER BY a.attempt",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|r| DeliveryAttempt {
                attempt: u32::try_from(r.attempt).unwrap_or(u32::MAX),
                status_code: r.status.and_then(|s| u16::try_from(s).ok()),
                error: r.error,
                duration_ms: r.duration_ms,
                attempted_at: from_millis(r.attempted_at),
            })
            .collect())
    }

    /// The delivery, event and endpoint for one attempt; `None` when the delivery is gone
    /// (its endpoint was deleted).
    pub async fn delivery_task(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryTask>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{DELIVERY_SELECT} WHERE d.id = $1 AND d.tenant_id = $2"
        ));
        let row: Option<DeliveryRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        let Some(row) = row else { return Ok(None) };
        let delivery = row.into_delivery()?;
        let event = self.event(tenant, delivery.event_id).await?;
        let endpoint = match self.webhook_endpoint(tenant, delivery.endpoint_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(DeliveryTask {
            delivery,
            event,
            endpoint,
        }))
    }

    /// Records one attempt made by `job`: the delivery row, the attempt history and the
    /// endpoint's health, in one transaction. Does nothing when `job` is no longer the one
    /// responsible for the delivery or the delivery is no longer pending.
    pub async fn record_delivery_attempt(
        &self,
        tenant: TenantId,
        id: DeliveryId,
        job: JobId,
        record: &AttemptRecord,
    ) -> Result<RecordedAttempt> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let updated: Option<(i64, String)> = with_tx!(tx, c => sqlx::query_as(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, state = $4, last_status = $5, last_error = $6, \
             last_attempt_at = $7, next_attempt_at = $8, updated_at = $7 \
             WHERE id = $1 AND tenant_id = $2 AND job_id = $3 AND state = 'pending' RETURNING attempts, endpoint_id",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(job.to_string())
        .bind(record.state.as_str())
        .bind(record.status_code.map(i64::from))
        .bind(&record.error)
        .bind(now)
        .bind(record.next_attempt_at.map(|t| t.timestamp_millis()))
        .fetch_optional(c)
        .await?);
        let Some((attempt, endpoint)) = updated else {
            return Ok(RecordedAttempt {
                recorded: false,
                endpoint_disabled: false,
            });
        };
        with_tx!(tx, c => sqlx::query(
            "INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status, error, duration_ms, attempted_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(attempt)
        .bind(record.status_code.map(i64::from))
        .bind(&record.error)
        .bind(i64::try_from(record.duration.as_millis()).unwrap_or(i64::MAX))
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        let mut endpoint_disabled = false;
        if record.state == DeliveryState::Succeeded {
            with_tx!(tx, c => sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = $3 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(&endpoint)
            .bind(tenant.to_string())
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        } else {
            with_tx!(tx, c => sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3) WHERE id = $1 AND tenant_id = $2",
            )
            .bind(&endpoint)
            .bind(tenant.to_string())
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
            if let (DeliveryState::Failed, Some(threshold)) =
                (record.state, record.disable_if_failing_since)
            {
                let done = with_tx!(tx, c => sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_at = $3, disabled_reason = $5, updated_at = $3 \
                     WHERE id = $1 AND tenant_id = $2 AND disabled_at IS NULL AND failing_since IS NOT NULL AND failing_since <= $4",
                )
                .bind(&endpoint)
                .bind(tenant.to_string())
                .bind(now)
                .bind(threshold.timestamp_millis())
                .bind(AUTO_DISABLED_REASON)
                .execute(c)
                .await?
                .rows_affected());
                endpoint_disabled = done == 1;
            }
        }
        if endpoint_disabled {
            tx.audit(crate::audit::NewAuditEntry {
                tenant: Some(tenant),
                actor: "system",
                action: "webhook_endpoint.disabled",
                target: Some(&endpoint),
                details: serde_json::json!({ "reason": "sustained delivery failure", "delivery_id": id.to_string() }),
            })
            .await?;
        }
        tx.commit().await?;
        Ok(RecordedAttempt {
            recorded: true,
            endpoint_disabled,
        })
    }

    /// Gives up on a pending delivery without an attempt (its endpoint is disabled); does
    /// nothing unless `job` is the one responsible for it.
    pub async fn abandon_delivery(
        &self,
        tenant: TenantId,
        id: DeliveryId,
        job: JobId,
        reason: &str,
    ) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE webhook_deliveries SET state = 'failed', last_error = $4, next_attempt_at = NULL, updated_at = $5 \
             WHERE id = $1 AND tenant_id = $2 AND job_id = $3 AND state = 'pending'",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(job.to_string())
        .bind(reason)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Sends a delivery again with a fresh attempt budget and the same event (so the same
    /// `webhook-id`); a scheduled retry of it is superseded. Audited.
    pub async fn replay_delivery(
        &self,
        tenant: TenantId,
        endpoint: WebhookEndpointId,
        id: DeliveryId,
        actor: &str,
    ) -> Result<Delivery> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let job = tx.enqueue(delivery_job(tenant, id)).await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $4, job_id = $5, updated_at = $4 \
             WHERE id = $1 AND tenant_id = $2 AND endpoint_id = $3",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(endpoint.to_string())
        .bind(now)
        .bind(job.to_string())
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("delivery"));
        }
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "webhook_delivery.replayed",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "endpoint_id": endpoint.to_string() }),
        })
        .await?;
        tx.commit().await?;
        self.delivery(tenant, endpoint, id).await
    }
}

/// Events [`Store::prune_events`] deletes per statement: small enough that SQLite's single
/// writer is never held for long, large enough that a backlog clears in a few passes.
pub const PRUNE_BATCH: usize = 1000;

impl Store {
    /// Retention (`events.retention_days`): deletes up to `limit` events recorded before
    /// `before` whose deliveries have all finished (succeeded, or failed for good, including
    /// those failed because their endpoint was disabled), together with those deliveries and
    /// their attempts (the schema cascades), in one short transaction. An event with a
    /// delivery still pending (scheduled, retrying or replayed) is kept whatever its age, and
    /// goes in a later pass once it finishes. Returns how many events were deleted: fewer than
    /// `limit` means nothing more is due. A maintenance operation over every tenant, so it
    /// takes no tenant.
    pub async fn prune_events(&self, before: DateTime<Utc>, limit: usize) -> Result<u64> {
        // Tenants drive the loop so each tenant's old events are found through the
        // `events_tenant_time` index (`CROSS JOIN` keeps SQLite from scanning `events` whole).
        const SQL: &str = "DELETE FROM events WHERE id IN (\
             SELECT e.id FROM tenants t CROSS JOIN events e \
             WHERE e.tenant_id = t.id AND e.created_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending') \
             LIMIT $2)";
        let mut tx = self.begin().await?;
        let deleted = with_tx!(tx, c => sqlx::query(SQL)
            .bind(before.timestamp_millis())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .execute(c)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_star_subscribes_to_everything() {
        assert!(subscribes(&[], "message.received"));
        assert!(subscribes(&["*".to_owned()], "channel.updated"));
        let only = vec!["message.status".to_owned()];
        assert!(subscribes(&only, "message.status"));
        assert!(!subscribes(&only, "message.received"));
    }

    #[test]
    fn delivery_states_round_trip() {
        for s in [
            DeliveryState::Pending,
            DeliveryState::Succeeded,
            DeliveryState::Failed,
        ] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryState::parse("done"), None);
    }
}
