//! `/v1/conversations`, `/v1/messages`, `/v1/contacts`: reading what customers sent, always
//! scoped to the key's tenant.

use axum::extract::{Path, State};
use chasqui_core::ids::{ChannelId, ContactId, ConversationId, MessageId};
use chasqui_store::contacts::{Contact, ContactFilter, ContactPatch};
use chasqui_store::conversations::{Conversation, ConversationFilter};
use chasqui_store::messages::{Message, MessageFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// A conversation as the API shows it.
#[derive(Debug, Serialize)]
pub struct ConversationView {
    id: ConversationId,
    channel_id: ChannelId,
    contact_id: ContactId,
    status: String,
    source: Option<serde_json::Value>,
    opened_at: DateTime<Utc>,
    last_inbound_at: Option<DateTime<Utc>>,
    last_message_at: DateTime<Utc>,
    /// Until when free-form messages may be sent (24 h after the customer's last message).
    window_expires_at: Option<DateTime<Utc>>,
    window_open: bool,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        let now = Utc::now();
        Self {
            window_expires_at: c
                .last_inbound_at
                .map(chasqui_core::window::window_expires_at),
            window_open: chasqui_core::window::is_open(c.last_inbound_at, now),
            id: c.id,
            channel_id: c.channel_id,
            contact_id: c.contact_id,
            status: c.status,
            source: c.source,
            opened_at: c.opened_at,
            last_inbound_at: c.last_inbound_at,
            last_message_at: c.last_message_at,
        }
    }
}

/// A message as the API shows it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    id: MessageId,
    channel_id: ChannelId,
    conversation_id: Option<ConversationId>,
    contact_id: Option<ContactId>,
    direction: String,
    provider_message_id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    status: String,
    text: Option<String>,
    content: serde_json::Value,
    context_message_id: Option<String>,
    timestamp: Option<DateTime<Utc>>,
    error: Option<serde_json::Value>,
    /// Where an outbound message goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// Provider calls made for an outbound message.
    attempts: i64,
    /// When the customer last edited it (the time of the edit `content` and `text` show).
    edited_at: Option<DateTime<Utc>>,
    /// When the customer deleted it: `text` is then null and search skips it; `content` is kept.
    revoked_at: Option<DateTime<Utc>>,
    /// For an edited message, every version oldest first (the original, then each edit), so
    /// nothing the customer wrote is lost; the last one is what `content` shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    versions: Option<Vec<serde_json::Value>>,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statuses: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<Vec<crate::media::http::MediaView>>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        let error = m
            .error_code
            .as_ref()
            .map(|code| serde_json::json!({ "code": code, "message": m.error_message }));
        let versions = versions_of(&m.content, m.provider_message_id.as_deref());
        let content = m.content.get("message").cloned().unwrap_or(m.content);
        Self {
            id: m.id,
            channel_id: m.channel_id,
            conversation_id: m.conversation_id,
            contact_id: m.contact_id,
            direction: m.direction,
            provider_message_id: m.provider_message_id,
            kind: m.kind,
            status: m.status,
            text: m.body_text,
            content,
            context_message_id: m.context_message_id,
            timestamp: m.provider_timestamp,
            error,
            to: m.to_address,
            attempts: m.attempts,
            edited_at: m.edited_at,
            revoked_at: m.revoked_at,
            versions,
            created_at: m.created_at,
            statuses: None,
            media: None,
        }
    }
}

/// The versions of an edited message from what the store keeps (`original` and `edits` in its
/// content); `None` for a message never edited.
fn versions_of(
    content: &serde_json::Value,
    own_id: Option<&str>,
) -> Option<Vec<serde_json::Value>> {
    let edits = content.get("edits")?.as_array().filter(|e| !e.is_empty())?;
    let original = content.get("original")?;
    let mut out = vec![serde_json::json!({
        "provider_message_id": own_id,
        "edited_at": null,
        "text": original.get("text"),
        "content": original.get("content"),
    })];
    out.extend(edits.iter().map(|e| {
        serde_json::json!({
            "provider_message_id": e.get("provider_message_id"),
            "edited_at": e.get("edited_at").and_then(|t| t.as_i64()).map(chasqui_store::from_millis),
            "text": e.get("text"),
            "content": e.get("content"),
        })
    }));
    Some(out)
}

/// A contact as the API shows it.
#[derive(Debug, Serialize)]
pub struct ContactView {
    id: ContactId,
    wa_id: Option<String>,
    /// The number, masked (`+54 9 11 ****-6789`), for lists; `wa_id` holds the digits.
    phone_masked: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    profile_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    locale: Option<String>,
    external_user_id: Option<String>,
    tags: Vec<String>,
    /// When the customer stopped marketing messages on WhatsApp; marketing templates are refused.
    marketing_opt_out_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        let phone_masked = c
            .wa_id
            .as_deref()
            .and_then(|w| chasqui_core::phone::PhoneE164::parse(&format!("+{w}"), None).ok())
            .map(|p| p.masked());
        Self {
            id: c.id,
            wa_id: c.wa_id,
            phone_masked,
            user_id: c.user_id,
            username: c.username,
            profile_name: c.profile_name,
            name: c.name,
            email: c.email,
            locale: c.locale,
            external_user_id: c.external_user_id,
            tags: c.tags,
            marketing_opt_out_at: c.marketing_opt_out_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn bad_filter(field: &str, what: &str) -> ApiError {
    ApiError::invalid(
        "invalid_filter",
        field,
        format!("`{field}` must be {what}."),
    )
}

fn parse_opt<T: std::str::FromStr>(
    field: &str,
    v: &Option<String>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad_filter(field, what)))
        .transpose()
}

fn parse_time(field: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| bad_filter(field, "an RFC 3339 time such as 2026-11-22T10:00:00Z"))
        })
        .transpose()
}

/// `GET /v1/conversations` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationQuery {
    status: Option<String>,
    channel_id: Option<String>,
    contact_id: Option<String>,
    updated_since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/conversations`.
pub async fn list_conversations(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(q): Query<ConversationQuery>,
) -> Result<Json<ListResponse<ConversationView>>, ApiError> {
    if let Some(s) = &q.status
        && s != "open"
        && s != "closed"
    {
        return Err(bad_filter("status", "`open` or `closed`"));
    }
    let filter = ConversationFilter {
        status: q.status.clone(),
        channel: parse_opt("channel_id", &q.channel_id, "a channel id (chn_…)")?,
        contact: parse_opt("contact_id", &q.contact_id, "a contact id (con_…)")?,
        updated_since: parse_time("updated_since", &q.updated_since)?,
    };
    let list = ListParams::new(q.limit, q.cursor);
    let page = state
        .store
        .list_conversations(auth.tenant_id, &filter, list.limit()?, list.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, ConversationView::from)))
}

/// `GET /v1/conversations/{id}`.
pub async fn get_conversation(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id: ConversationId = id
        .parse()
        .map_err(|_| ApiError::not_found("conversation"))?;
    Ok(Json(
        state.store.conversation(auth.tenant_id, id).await?.into(),
    ))
}

/// `GET /v1/conversations/{id}/messages`.
pub async fn conversation_messages(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<ListResponse<MessageView>>, ApiError> {
    let id: ConversationId = id
        .parse()
        .map_err(|_| ApiError::not_found("conversation"))?;
    state.store.conversation(auth.tenant_id, id).await?;
    let filter = MessageFilter {
        conversation: Some(id),
        ..MessageFilter::default()
    };
    let page = state
        .store
        .list_messages(auth.tenant_id, &filter, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, MessageView::from)))
}

/// `GET /v1/messages` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageQuery {
    q: Option<String>,
    direction: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    channel_id: Option<String>,
    conversation_id: Option<String>,
    provider_message_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/messages`: search and filter.
pub async fn list_messages(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(q): Query<MessageQuery>,
) -> Result<Json<ListResponse<MessageView>>, ApiError> {
    if let Some(d) = &q.direction
        && d != "in"
        && d != "out"
    {
        return Err(bad_filter("direction", "`in` or `out`"));
    }
    let filter = MessageFilter {
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        direction: q.direction.clone(),
        status: q.status.clone(),
        kind: q.kind.clone(),
        channel: parse_opt("channel_id", &q.channel_id, "a channel id (chn_…)")?,
        conversation: parse_opt(
            "conversation_id",
            &q.conversation_id,
            "a conversation id (cnv_…)",
        )?,
        provider_message_id: q.provider_message_id.clone(),
        since: parse_time("since", &q.since)?,
        until: parse_time("until", &q.until)?,
    };
    let list = ListParams::new(q.limit, q.cursor);
    let page = state
        .store
        .list_messages(auth.tenant_id, &filter, list.limit()?, list.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, MessageView::from)))
}

/// `GET /v1/messages/{id}`: with every status it went through.
pub async fn get_message(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id: MessageId = id.parse().map_err(|_| ApiError::not_found("message"))?;
    let m = state.store.message(auth.tenant_id, id).await?;
    let history = state.store.message_history(auth.tenant_id, &m).await?;
    let media = state.store.media_for_message(auth.tenant_id, m.id).await?;
    let mut view = MessageView::from(m);
    if !media.is_empty() {
        view.media = Some(
            media
                .iter()
                .map(crate::media::http::MediaView::new)
                .collect(),
        );
    }
    view.statuses = Some(
        history
            .into_iter()
            .map(|h| serde_json::json!({ "status": h.status, "timestamp": h.occurred_at }))
            .collect(),
    );
    Ok(Json(view))
}

/// `GET /v1/contacts` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactQuery {
    q: Option<String>,
    unmapped: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/contacts`: search by name or number; `unmapped=true` for contacts not yet linked to
/// one of the tenant's users.
pub async fn list_contacts(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(q): Query<ContactQuery>,
) -> Result<Json<ListResponse<ContactView>>, ApiError> {
    let filter = ContactFilter {
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        unmapped: q.unmapped.unwrap_or(false),
    };
    let list = ListParams::new(q.limit, q.cursor);
    let page = state
        .store
        .list_contacts(auth.tenant_id, &filter, list.limit()?, list.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, ContactView::from)))
}

/// `GET /v1/contacts/{id}`.
pub async fn get_contact(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    let id: ContactId = id.parse().map_err(|_| ApiError::not_found("contact"))?;
    Ok(Json(state.store.contact(auth.tenant_id, id).await?.into()))
}

/// `PATCH /v1/contacts/{id}` body; `null` clears a field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    #[serde(default, deserialize_with = "some")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    locale: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    external_user_id: Option<Option<String>>,
    tags: Option<Vec<String>>,
}

fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /v1/contacts/{id}`: map a contact to the tenant's own user, name it, tag it.
pub async fn patch_contact(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
    Json(body): Json<ContactBody>,
) -> Result<Json<ContactView>, ApiError> {
    let id: ContactId = id.parse().map_err(|_| ApiError::not_found("contact"))?;
    if let Some(Some(email)) = &body.email
        && !(email.contains('@') && email.len() <= 254)
    {
        return Err(ApiError::invalid(
            "invalid_email",
            "email",
            "email must be an address such as ana@example.com.",
        ));
    }
    if let Some(tags) = &body.tags
        && (tags.len() > 50 || tags.iter().any(|t| t.trim().is_empty() || t.len() > 64))
    {
        return Err(ApiError::invalid(
            "invalid_tags",
            "tags",
            "tags must be at most 50 non-empty strings of up to 64 characters.",
        ));
    }
    let patch = ContactPatch {
        name: body.name,
        email: body.email,
        locale: body.locale,
        external_user_id: body.external_user_id,
        tags: body.tags,
    };
    Ok(Json(
        state
            .store
            .update_contact(auth.tenant_id, id, patch, &auth.actor())
            .await?
            .into(),
    ))
}
