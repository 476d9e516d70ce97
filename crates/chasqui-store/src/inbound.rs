//! Writing what customers send: contacts, conversations and messages, each exactly once however
//! often a provider delivers the same webhook. Every write happens inside the caller's
//! transaction, so a receipt is processed all or nothing.

use chasqui_core::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};

use crate::db::{Tx, with_tx};
use crate::error::{Result, parse_id};
use crate::now_millis;

/// Who wrote, as the provider identifies them.
#[derive(Debug, Clone, Default)]
pub struct ContactIdentity {
    /// Business-scoped user id (Meta, 2026), the most stable key when present.
    pub user_id: Option<String>,
    /// The WhatsApp id (digits) when the provider sends it.
    pub wa_id: Option<String>,
    /// Canonical matching key of the number (same person across AR/MX/BR variants).
    pub contact_key: Option<String>,
    /// Every key this number may have been stored under, canonical first.
    pub lookup_keys: Vec<String>,
    /// WhatsApp username.
    pub username: Option<String>,
    /// Profile name.
    pub profile_name: Option<String>,
}

/// An inbound or outbound message row to insert.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its channel.
    pub channel: ChannelId,
    /// Its conversation.
    pub conversation: Option<ConversationId>,
    /// Its contact.
    pub contact: Option<ContactId>,
    /// `in` or `out`.
    pub direction: &'static str,
    /// The provider's id (`wamid.…`), the deduplication key.
    pub provider_message_id: Option<String>,
    /// `text`, `image`, … (stable snake_case).
    pub kind: String,
    /// Current status (`received` for inbound).
    pub status: String,
    /// Text for search and previews.
    pub body_text: Option<String>,
    /// The full internal model as JSON (and the raw provider JSON inside it).
    pub content: serde_json::Value,
    /// The message replied to.
    pub context_message_id: Option<String>,
    /// The provider's timestamp (Unix ms).
    pub provider_timestamp: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct IdRow {
    id: String,
}

impl Tx {
    /// Finds the contact for `who` (by user id, then by any number variant) and refreshes what
    /// changed, or creates it; returns its id and whether it was created.
    pub async fn upsert_contact(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
    ) -> Result<(ContactId, bool)> {
        let now = now_millis();
        for _ in 0..3 {
            if let Some(id) = self.find_contact(tenant, who).await? {
                with_tx!(self, c => sqlx::query(
                    "UPDATE contacts SET user_id = COALESCE(user_id, $3), wa_id = COALESCE($4, wa_id), \
                     contact_key = COALESCE(contact_key, $5), username = COALESCE($6, username), \
                     profile_name = COALESCE($7, profile_name), updated_at = $8 WHERE id = $1 AND tenant_id = $2",
                )
                .bind(&id)
                .bind(tenant.to_string())
                .bind(&who.user_id)
                .bind(&who.wa_id)
                .bind(&who.contact_key)
                .bind(&who.username)
                .bind(&who.profile_name)
                .bind(now)
                .execute(c)
                .await?
                .rows_affected());
                return Ok((parse_id(&id, "contacts.id")?, false));
            }
            let id = ContactId::new();
            let inserted: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "INSERT INTO contacts (id, tenant_id, wa_id, user_id, contact_key, username, profile_name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(&who.wa_id)
            .bind(&who.user_id)
            .bind(&who.contact_key)
            .bind(&who.username)
            .bind(&who.profile_name)
            .bind(now)
            .fetch_optional(c)
            .await?);
            if inserted.is_some() {
                return Ok((id, true));
            }
            // Someone else created it meanwhile: look again.
        }
        Err(crate::StoreError::Conflict("contact".into()))
    }

    async fn find_contact(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
    ) -> Result<Option<String>> {
        if let Some(user_id) = &who.user_id {
            let row: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "SELECT id FROM contacts WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant.to_string())
            .bind(user_id)
            .fetch_optional(c)
            .await?);
            if let Some(r) = row {
                return Ok(Some(r.id));
            }
        }
        for key in &who.lookup_keys {
            let row: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "SELECT id FROM contacts WHERE tenant_id = $1 AND contact_key = $2",
            )
            .bind(tenant.to_string())
            .bind(key)
            .fetch_optional(c)
            .await?);
            if let Some(r) = row {
                return Ok(Some(r.id));
            }
        }
        Ok(None)
    }

    /// The open conversation of a contact on a channel, opened now if there is none; an inbound
    /// message refreshes `last_inbound_at` (the 24-hour window). Returns the id and whether it
    /// was opened by this call.
    pub async fn touch_conversation(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        contact: ContactId,
        at_ms: i64,
        inbound: bool,
        source: Option<&serde_json::Value>,
    ) -> Result<(ConversationId, bool)> {
        let now = now_millis();
        let last_inbound = inbound.then_some(at_ms);
        for _ in 0..3 {
            let open: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "SELECT id FROM conversations WHERE channel_id = $1 AND contact_id = $2 AND tenant_id = $3 AND status = 'open'",
            )
            .bind(channel.to_string())
            .bind(contact.to_string())
            .bind(tenant.to_string())
            .fetch_optional(c)
            .await?);
            if let Some(row) = open {
                with_tx!(self, c => sqlx::query(
                    "UPDATE conversations SET \
                     last_inbound_at = CASE WHEN $2 IS NULL THEN last_inbound_at \
                                            WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 \
                                            ELSE last_inbound_at END, \
                     last_message_at = CASE WHEN last_message_at < $3 THEN $3 ELSE last_message_at END, \
                     source = COALESCE(source, $4), updated_at = $5 WHERE id = $1",
                )
                .bind(&row.id)
                .bind(last_inbound)
                .bind(at_ms)
                .bind(source.map(|s| s.to_string()))
                .bind(now)
                .execute(c)
                .await?
                .rows_affected());
                return Ok((parse_id(&row.id, "conversations.id")?, false));
            }
            let id = ConversationId::new();
            let inserted: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "INSERT INTO conversations (id, tenant_id, channel_id, contact_id, status, source, opened_at, last_inbound_at, \
                 last_message_at, updated_at) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $6, $8) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(contact.to_string())
            .bind(source.map(|s| s.to_string()))
            .bind(at_ms)
            .bind(last_inbound)
            .bind(now)
            .fetch_optional(c)
            .await?);
            if inserted.is_some() {
                return Ok((id, true));
            }
        }
        Err(crate::StoreError::Conflict("conversation".into()))
    }

    /// Inserts a message once: a second delivery with the same provider id returns `None`.
    pub async fn insert_message(&mut self, m: &NewMessage) -> Result<Option<MessageId>> {
        let id = MessageId::new();
        let now = now_millis();
        let row: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
            "INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, provider_message_id, kind, \
             status, body_text, content, context_message_id, provider_timestamp, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(id.to_string())
        .bind(m.tenant.to_string())
        .bind(m.channel.to_string())
        .bind(m.conversation.map(|c| c.to_string()))
        .bind(m.contact.map(|c| c.to_string()))
        .bind(m.direction)
        .bind(&m.provider_message_id)
        .bind(&m.kind)
        .bind(&m.status)
        .bind(&m.body_text)
        .bind(m.content.to_string())
        .bind(&m.context_message_id)
        .bind(m.provider_timestamp)
        .bind(now)
        .fetch_optional(c)
        .await?);
        Ok(row.map(|_| id))
    }

    /// Records a provider event about a channel, template or account.
    pub async fn record_channel_event(
        &mut self,
        tenant: Option<TenantId>,
        channel: Option<ChannelId>,
        field: &str,
        payload: &serde_json::Value,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO channel_events (id, tenant_id, channel_id, field, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant.map(|t| t.to_string()))
        .bind(channel.map(|c| c.to_string()))
        .bind(field)
        .bind(payload.to_string())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        Ok(())
    }
}

/// A status update as the store records it.
#[derive(Debug, Clone)]
pub struct StatusRecord<'a> {
    /// Its tenant.
    pub tenant: TenantId,
    /// The channel that sent the message.
    pub channel: ChannelId,
    /// The provider's message id.
    pub provider_message_id: &'a str,
    /// The status reported.
    pub status: chasqui_core::status::Status,
    /// When the provider says it happened (Unix ms).
    pub occurred_at_ms: i64,
    /// The provider's payload for it (kept in the history).
    pub payload: &'a serde_json::Value,
    /// For failures: the provider's code and a sentence.
    pub error: Option<(String, String)>,
}

/// What recording a status did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The same status was already recorded for this message: nothing changed.
    Duplicate,
    /// Kept in the history; the message is not known yet and gets it when it appears.
    Pending,
    /// Kept in the history; the message's status is now `status` (`changed` if it moved).
    Applied {
        /// The message.
        message: MessageId,
        /// Its status after this update.
        status: String,
        /// Whether this update moved it forward.
        changed: bool,
    },
}

/// SQL rank of a status column, mirroring `Status::rank` so concurrent updates cannot move a
/// message backwards (the comparison happens under the row lock).
const RANK_SQL: &str = "(CASE status WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'failed' THEN 2 \
                        WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE -1 END)";

#[derive(sqlx::FromRow)]
struct IdStatusRow {
    id: String,
    status: String,
}

impl Tx {
    /// Records a status update once, and advances the message's status along the lattice.
    pub async fn record_status(&mut self, r: &StatusRecord<'_>) -> Result<StatusOutcome> {
        let now = now_millis();
        let inserted = with_tx!(self, c => sqlx::query(
            "INSERT INTO message_events (id, tenant_id, channel_id, provider_message_id, status, occurred_at, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(r.tenant.to_string())
        .bind(r.channel.to_string())
        .bind(r.provider_message_id)
        .bind(r.status.as_str())
        .bind(r.occurred_at_ms)
        .bind(r.payload.to_string())
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        if inserted == 0 {
            return Ok(StatusOutcome::Duplicate);
        }
        self.advance_status(
            r.tenant,
            r.channel,
            r.provider_message_id,
            r.status,
            r.error.as_ref(),
        )
        .await
    }

    /// Applies every status already recorded for a message that has just received its provider
    /// id (statuses may arrive before the send call returns).
    pub async fn apply_recorded_statuses(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> Result<StatusOutcome> {
        let seen: Vec<String> = with_tx!(self, c => sqlx::query_scalar(
            "SELECT status FROM message_events WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(provider_message_id)
        .fetch_all(c)
        .await?);
        let merged = chasqui_core::status::merge_all(
            seen.iter()
                .filter_map(|s| chasqui_core::status::Status::parse(s).ok()),
        );
        match merged {
            Some(status) => {
                self.advance_status(tenant, channel, provider_message_id, status, None)
                    .await
            }
            None => Ok(StatusOutcome::Pending),
        }
    }

    async fn advance_status(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        provider_message_id: &str,
        status: chasqui_core::status::Status,
        error: Option<&(String, String)>,
    ) -> Result<StatusOutcome> {
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET status = $4, \
             error_code = CASE WHEN $4 = 'failed' THEN $5 ELSE error_code END, \
             error_message = CASE WHEN $4 = 'failed' THEN $6 ELSE error_message END, updated_at = $7 \
             WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3 AND {RANK_SQL} < $8"
        ));
        let changed = with_tx!(self, c => sqlx::query(sql)
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(provider_message_id)
            .bind(status.as_str())
            .bind(error.map(|e| e.0.clone()))
            .bind(error.map(|e| e.1.clone()))
            .bind(now_millis())
            .bind(i64::from(status.rank()))
            .execute(c)
            .await?
            .rows_affected());
        let row: Option<IdStatusRow> = with_tx!(self, c => sqlx::query_as(
            "SELECT id, status FROM messages WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(provider_message_id)
        .fetch_optional(c)
        .await?);
        Ok(match row {
            None => StatusOutcome::Pending,
            Some(r) => StatusOutcome::Applied {
                message: parse_id(&r.id, "messages.id")?,
                status: r.status,
                changed: changed > 0,
            },
        })
    }
}

impl Tx {
    /// Records a contact's marketing preference from WhatsApp (`stop` sets the opt-out time,
    /// `resume` clears it); returns whether a contact matched.
    pub async fn set_marketing_preference(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
        opted_out_at: Option<i64>,
    ) -> Result<bool> {
        let Some(id) = self.find_contact(tenant, who).await? else {
            return Ok(false);
        };
        with_tx!(self, c => sqlx::query(
            "UPDATE contacts SET marketing_opt_out_at = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2",
        )
        .bind(&id)
        .bind(tenant.to_string())
        .bind(opted_out_at)
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        Ok(true)
    }
}
