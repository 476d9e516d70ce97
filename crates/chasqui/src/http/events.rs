//! `GET /v1/events`: the tenant's events as a live Server-Sent Events stream (the default), or
//! as pages of JSON with `?format=json` for polling.
//!
//! The stream reads the events table, which every instance writes, so it shows events from
//! all instances. It resumes after the id in `Last-Event-ID` (sent by browsers when they
//! reconnect) or `?after=`; without either it starts with the next event. Each poll also looks
//! a few seconds back, so an event whose transaction committed after a later one is still sent
//! (possibly out of order, never twice).

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chasqui_core::ids::{EventId, TenantId};
use chasqui_store::Store;
use chasqui_store::events::{EVENT_TYPES, Event, is_event_type};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{DEFAULT_LIMIT, ListResponse, MAX_LIMIT};

/// How often a stream looks for new events.
const POLL: Duration = Duration::from_millis(500);
/// How far back each poll looks for events that committed late.
const LOOKBACK: Duration = Duration::from_secs(10);
/// Events read per query.
const BATCH: usize = 200;
/// Interval of the keep-alive comments that keep proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The routes of this module, merged into `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

/// An event as the API, the stream and the webhooks show it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    id: EventId,
    #[serde(rename = "type")]
    event_type: String,
    timestamp: String,
    data: serde_json::Value,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            event_type: e.event_type,
            timestamp: e.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            data: e.data,
        }
    }
}

/// `?format=&after=&type=&limit=&cursor=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    format: Option<String>,
    after: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn parse_after(field: &str, value: &str) -> Result<EventId, ApiError> {
    value.trim().parse().map_err(|_| {
        ApiError::invalid(
            "invalid_cursor",
            field,
            format!("`{value}` is not an event id (`evt_…`); pass the id of the last event you received."),
        )
    })
}

fn check_type(t: Option<String>) -> Result<Option<String>, ApiError> {
    match t {
        Some(t) if !is_event_type(&t) => Err(ApiError::invalid(
            "unknown_event_type",
            "type",
            format!(
                "`{t}` is not an event type; valid types are {}.",
                EVENT_TYPES.join(", ")
            ),
        )
        .with_extra(json!({ "valid_event_types": EVENT_TYPES }))),
        other => Ok(other),
    }
}

/// `GET /v1/events`.
pub async fn events(
    State(state): State<AppState>,
    auth: TenantAuth,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let event_type = check_type(q.event_type)?;
    match q.format.as_deref() {
        None | Some("sse") => {
            let resume = match headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.trim().is_empty())
            {
                Some(v) => Some(parse_after("Last-Event-ID", v)?),
                None => q
                    .after
                    .as_deref()
                    .map(|a| parse_after("after", a))
                    .transpose()?,
            };
            Ok(stream(state.store, auth.tenant_id, resume, event_type))
        }
        Some("json") => {
            let limit = match q.limit {
                None => DEFAULT_LIMIT,
                Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
                Some(n) => {
                    return Err(ApiError::invalid(
                        "invalid_limit",
                        "limit",
                        format!("limit must be between 1 and {MAX_LIMIT}; {n} was given."),
                    ));
                }
            };
            let after = match (q.cursor.as_deref(), q.after.as_deref()) {
                (Some(c), _) if !c.is_empty() => Some(parse_after("cursor", c)?),
                (_, Some(a)) if !a.is_empty() => Some(parse_after("after", a)?),
                _ => None,
            };
            let page = state
                .store
                .list_events(auth.tenant_id, after, event_type.as_deref(), limit)
                .await?;
            Ok(Json(ListResponse::from_page(page, EventView::from)).into_response())
        }
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("format `{other}` is not known; use `sse` (the default) or `json`."),
        )
        .with_field("format")),
    }
}

/// The lowest possible event id of a millisecond, as a cursor: it sorts before every event id
/// made in or after that millisecond (ids are UUIDv7, time first).
fn id_floor(at: DateTime<Utc>) -> EventId {
    let ms = u128::from(u64::try_from(at.timestamp_millis()).unwrap_or(0));
    EventId::from_uuid(Uuid::from_u128(ms << 80))
}

/// A tenant's live tail.
struct Tail {
    store: Store,
    tenant: TenantId,
    event_type: Option<String>,
    /// Where the stream started: nothing at or before it is sent.
    start: EventId,
    /// The highest id sent (or the starting point).
    last: EventId,
    /// Ids sent within the look-back window, oldest first, to never send one twice.
    recent: VecDeque<(EventId, DateTime<Utc>)>,
    recent_ids: HashSet<EventId>,
    buffer: VecDeque<Event>,
    /// Poll again at once: the last query filled a batch.
    more: bool,
    started: bool,
}

impl Tail {
    fn remember(&mut self, e: &Event) {
        self.recent.push_back((e.id, e.created_at));
        self.recent_ids.insert(e.id);
        if e.id > self.last {
            self.last = e.id;
        }
    }

    fn forget_old(&mut self, floor: DateTime<Utc>) {
        while let Some((id, at)) = self.recent.front().copied() {
            if at >= floor {
                break;
            }
            self.recent.pop_front();
            self.recent_ids.remove(&id);
        }
    }

    /// Reads what is new: events after the last one sent, then events of the look-back
    /// window not sent yet (late commits).
    async fn poll(&mut self) -> Result<(), chasqui_store::StoreError> {
        let page = self
            .store
            .list_events(
                self.tenant,
                Some(self.last),
                self.event_type.as_deref(),
                BATCH,
            )
            .await?;
        self.more = page.next_cursor.is_some();
        let floor = Utc::now() - chrono::Duration::from_std(LOOKBACK).unwrap_or_default();
        self.forget_old(floor);
        let mut fresh: Vec<Event> = page.items;
        if !self.more {
            let late = self.store.events_since(self.tenant, floor, 1000).await?;
            let known: HashSet<EventId> = fresh.iter().map(|e| e.id).collect();
            fresh.extend(late.into_iter().filter(|e| {
                e.id < self.last
                    && e.id > self.start
                    && !self.recent_ids.contains(&e.id)
                    && !known.contains(&e.id)
                    && self.event_type.as_deref().is_none_or(|t| t == e.event_type)
            }));
        }
        for e in fresh {
            if !self.recent_ids.contains(&e.id) {
                self.remember(&e);
                self.buffer.push_back(e);
            }
        }
        Ok(())
    }

    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                let id = e.id.to_string();
                let kind = e.event_type.clone();
                let data = serde_json::to_string(&EventView::from(e)).unwrap_or_default();
                let sse = SseEvent::default().id(id).event(kind).data(data);
                return Some((Ok(sse), self));
            }
            if self.started && !self.more {
                tokio::time::sleep(POLL).await;
            }
            self.started = true;
            if let Err(e) = self.poll().await {
                tracing::warn!(error = %e, tenant_id = %self.tenant, "event stream poll failed; retrying");
                self.more = false;
            }
        }
    }
}

fn stream(
    store: Store,
    tenant: TenantId,
    resume: Option<EventId>,
    event_type: Option<String>,
) -> Response {
    let start = resume.unwrap_or_else(|| id_floor(Utc::now()));
    let tail = Tail {
        store,
        tenant,
        event_type,
        start,
        last: start,
        recent: VecDeque::new(),
        recent_ids: HashSet::new(),
        buffer: VecDeque::new(),
        more: false,
        started: false,
    };
    let events = futures_util::stream::unfold(tail, Tail::next);
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"));
    (
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        sse,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_floor_sorts_before_ids_of_its_millisecond_and_after_earlier_ones() {
        let before = EventId::new();
        std::thread::sleep(Duration::from_millis(3));
        let now = Utc::now();
        let floor = id_floor(now);
        let after = EventId::new();
        assert!(before < floor, "{before} {floor}");
        assert!(floor < after, "{floor} {after}");
        assert!(floor.to_string() < after.to_string());
    }
}
