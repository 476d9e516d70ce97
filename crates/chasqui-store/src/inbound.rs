//! Writing what customers send: contacts, conversations and messages, each exactly once however
//! often a provider delivers the same webhook. Every write happens inside the caller's
//! transaction, so a receipt is processed all or nothing.

use chasqui_core::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};

use crate::db::{Tx, param_list, value_rows, with_tx};
use crate::error::{Result, parse_id};
use crate::now_millis;

/// Who wrote, as the provider identifies them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
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

/// Messages per multi-row insert: 15 parameters each stays far below both engines' limits.
const INSERT_CHUNK: usize = 256;

#[derive(sqlx::FromRow)]
struct IdRow {
    id: String,
}

/// What a transaction already wrote about contacts and conversations, so a customer who
/// writes many times in one round of webhooks costs one contact and one conversation statement
/// instead of one each per message.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Contacts found or created, by the exact identity that found them.
    contacts: std::collections::HashMap<(TenantId, ContactIdentity), ContactId>,
    /// Open conversations found or opened, with the refresh still owed to their row.
    conversations: std::collections::HashMap<(TenantId, ChannelId, ContactId), Touch>,
}

/// A conversation's refresh, merged over every later message of the transaction and written
/// once at commit: the same maxima and first source the per-message statements would leave.
#[derive(Debug)]
struct Touch {
    id: ConversationId,
    last_inbound: Option<i64>,
    last_message: i64,
    source: Option<String>,
    owed: bool,
}

impl Tx {
    /// Finds the contact for `who` (by user id, then by any number variant) and refreshes what
    /// changed, or creates it; returns its id and whether it was created.
    pub async fn upsert_contact(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
    ) -> Result<(ContactId, bool)> {
        let cache_key = (tenant, who.clone());
        if let Some(id) = self.touched.contacts.get(&cache_key) {
            // Refreshed with this very identity earlier in the transaction: nothing would change.
            return Ok((*id, false));
        }
        let (id, created) = self.find_or_create_contact(tenant, who).await?;
        self.touched.contacts.insert(cache_key, id);
        Ok((id, created))
    }

    async fn find_or_create_contact(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
    ) -> Result<(ContactId, bool)> {
        let now = now_millis();
        for _ in 0..3 {
            if let Some(id) = self.refresh_contact(tenant, who, now).await? {
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

    /// Refreshes the existing contact for `who` (by user id, then by each number variant in
    /// order), finding and updating it in one statement; its id, or `None` if there is none.
    async fn refresh_contact(
        &mut self,
        tenant: TenantId,
        who: &ContactIdentity,
        now: i64,
    ) -> Result<Option<String>> {
        const REFRESH: &str = "UPDATE contacts SET user_id = COALESCE(user_id, $3), wa_id = COALESCE($4, wa_id), \
             contact_key = COALESCE(contact_key, $5), username = COALESCE($6, username), \
             profile_name = COALESCE($7, profile_name), updated_at = $8 WHERE tenant_id = $1 AND ";
        let by_user = format!("{REFRESH}user_id = $2 RETURNING id");
        let by_key = format!("{REFRESH}contact_key = $2 RETURNING id");
        let lookups = who
            .user_id
            .iter()
            .map(|u| (&by_user, u))
            .chain(who.lookup_keys.iter().map(|k| (&by_key, k)));
        for (sql, value) in lookups {
            let row: Option<IdRow> = with_tx!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(tenant.to_string())
                .bind(value)
                .bind(&who.user_id)
                .bind(&who.wa_id)
                .bind(&who.contact_key)
                .bind(&who.username)
                .bind(&who.profile_name)
                .bind(now)
                .fetch_optional(c)
                .await?);
            if let Some(r) = row {
                return Ok(Some(r.id));
            }
        }
        Ok(None)
    }

    /// The existing contact for `who` (by user id, then by each number variant in order).
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
        let last_inbound = inbound.then_some(at_ms);
        let cache_key = (tenant, channel, contact);
        if let Some(t) = self.touched.conversations.get_mut(&cache_key) {
            // Found earlier in this transaction: merge the refresh, written once at commit.
            t.last_inbound = t.last_inbound.max(last_inbound);
            t.last_message = t.last_message.max(at_ms);
            if t.source.is_none() {
                t.source = source.map(ToString::to_string);
            }
            t.owed = true;
            return Ok((t.id, false));
        }
        let (id, opened) = self
            .find_or_open_conversation(tenant, channel, contact, at_ms, last_inbound, source)
            .await?;
        self.touched.conversations.insert(
            cache_key,
            Touch {
                id,
                last_inbound,
                last_message: at_ms,
                source: None,
                owed: false,
            },
        );
        Ok((id, opened))
    }

    /// Writes the conversation refreshes merged by [`Tx::touch_conversation`]; `commit` calls it.
    pub(crate) async fn flush_conversation_touches(&mut self) -> Result<()> {
        let mut owed: Vec<Touch> = self
            .touched
            .conversations
            .drain()
            .filter_map(|(_, t)| t.owed.then_some(t))
            .collect();
        // In one order everywhere, so parallel rounds (PostgreSQL) queue for row locks instead
        // of deadlocking over them.
        owed.sort_unstable_by_key(|t| t.id);
        let now = now_millis();
        for t in owed {
            with_tx!(self, c => sqlx::query(
                "UPDATE conversations SET \
                 last_inbound_at = CASE WHEN $2 IS NULL THEN last_inbound_at \
                                        WHEN last_inbound_at IS NULL OR last_inbound_at < $2 THEN $2 \
                                        ELSE last_inbound_at END, \
                 last_message_at = CASE WHEN last_message_at < $3 THEN $3 ELSE last_message_at END, \
                 source = COALESCE(source, $4), updated_at = $5 WHERE id = $1",
            )
            .bind(t.id.to_string())
            .bind(t.last_inbound)
            .bind(t.last_message)
            .bind(&t.source)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        }
        Ok(())
    }

    async fn find_or_open_conversation(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        contact: ContactId,
        at_ms: i64,
        last_inbound: Option<i64>,
        source: Option<&serde_json::Value>,
    ) -> Result<(ConversationId, bool)> {
        let now = now_millis();
        for _ in 0..3 {
            // Find and refresh the open conversation in one statement.
            let open: Option<IdRow> = with_tx!(self, c => sqlx::query_as(
                "UPDATE conversations SET \
                 last_inbound_at = CASE WHEN $4 IS NULL THEN last_inbound_at \
                                        WHEN last_inbound_at IS NULL OR last_inbound_at < $4 THEN $4 \
                                        ELSE last_inbound_at END, \
                 last_message_at = CASE WHEN last_message_at < $5 THEN $5 ELSE last_message_at END, \
                 source = COALESCE(source, $6), updated_at = $7 \
                 WHERE channel_id = $1 AND contact_id = $2 AND tenant_id = $3 AND status = 'open' RETURNING id",
            )
            .bind(channel.to_string())
            .bind(contact.to_string())
            .bind(tenant.to_string())
            .bind(last_inbound)
            .bind(at_ms)
            .bind(source.map(|s| s.to_string()))
            .bind(now)
            .fetch_optional(c)
            .await?);
            if let Some(row) = open {
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
        Ok(self
            .insert_messages(std::slice::from_ref(m))
            .await?
            .pop()
            .flatten())
    }

    /// Inserts messages in multi-row statements (a round of webhooks costs one statement, not
    /// one per message), each once: a repeated delivery, of a provider id already stored or
    /// earlier in `rows`, is `None` at its position.
    pub async fn insert_messages(&mut self, rows: &[NewMessage]) -> Result<Vec<Option<MessageId>>> {
        let ids: Vec<MessageId> = rows.iter().map(|_| MessageId::new()).collect();
        let now = now_millis();
        let mut inserted = std::collections::HashSet::with_capacity(rows.len());
        for (chunk_ids, chunk) in ids.chunks(INSERT_CHUNK).zip(rows.chunks(INSERT_CHUNK)) {
            let sql = format!(
                "INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, provider_message_id, kind, \
                 status, body_text, content, context_message_id, provider_timestamp, created_at, updated_at) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING id",
                value_rows(chunk.len(), "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            );
            let sql = crate::db::for_backend(self.backend(), sql);
            let returned: Vec<IdRow> = with_tx!(self, c => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for (id, m) in chunk_ids.iter().zip(chunk) {
                    q = q
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
                        .bind(now);
                }
                q.fetch_all(c).await?
            });
            inserted.extend(returned.into_iter().map(|r| r.id));
        }
        Ok(ids
            .into_iter()
            .map(|id| inserted.contains(&id.to_string()).then_some(id))
            .collect())
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

/// What a customer did to one of their earlier messages.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeAction {
    /// They edited it: the message now shows this content (the internal model as JSON).
    Edit {
        /// The new content (`MessageContent` as JSON).
        content: serde_json::Value,
        /// Its searchable text, which replaces the message's in search.
        body_text: Option<String>,
    },
    /// They deleted it: its text leaves search, its content stays for audit.
    Revoke,
}

impl ChangeAction {
    fn as_str(&self) -> &'static str {
        match self {
            ChangeAction::Edit { .. } => "edit",
            ChangeAction::Revoke => "revoke",
        }
    }
}

/// An edit or deletion of an earlier message, as the store records it (once, by its own id).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageChange {
    /// Its tenant.
    pub tenant: TenantId,
    /// The channel both messages belong to.
    pub channel: ChannelId,
    /// The provider id of the message changed.
    pub original_message_id: String,
    /// The provider id of the edit or revoke itself (the deduplication key).
    pub provider_message_id: String,
    /// When the customer made the change (provider time, Unix ms): the latest edit wins.
    pub occurred_at_ms: i64,
    /// What changed.
    pub action: ChangeAction,
}

impl MessageChange {
    /// The change an inbound `edit` or `revoke` message makes, so callers need no matching of
    /// their own; `None` for every other message, or one that names no original.
    pub fn of_inbound(
        tenant: TenantId,
        channel: ChannelId,
        m: &chasqui_core::message::InboundMessage,
        occurred_at_ms: i64,
    ) -> Option<Self> {
        use chasqui_core::message::MessageContent;
        let (original, action) = match &m.content {
            MessageContent::Edit {
                original_message_id: Some(original),
                content,
            } => {
                let text = content.searchable_text();
                let action = ChangeAction::Edit {
                    content: serde_json::to_value(content).ok()?,
                    body_text: (!text.is_empty()).then_some(text),
                };
                (original, action)
            }
            MessageContent::Revoke {
                original_message_id: Some(original),
            } => (original, ChangeAction::Revoke),
            _ => return None,
        };
        Some(MessageChange {
            tenant,
            channel,
            original_message_id: original.clone(),
            provider_message_id: m.provider_message_id.clone(),
            occurred_at_ms,
            action,
        })
    }
}

/// What recording or applying edits and deletions did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// This edit or revoke was already recorded: nothing changed.
    Duplicate,
    /// Recorded; the message it names is not known yet and gets it when it appears.
    Pending,
    /// The message's changes are applied (`changed` if this call altered it).
    Applied {
        /// The message changed.
        message: MessageId,
        /// Whether this call altered the message.
        changed: bool,
    },
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    provider_message_id: String,
    action: String,
    occurred_at: i64,
    content: Option<String>,
    body_text: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ChangeTargetRow {
    id: String,
    content: String,
    body_text: Option<String>,
    edited_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// A message after its edits and deletions.
#[derive(Debug, Clone, PartialEq)]
struct Merged {
    content: serde_json::Value,
    body_text: Option<String>,
    edited_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// The state of a message given every change recorded for it: a pure function of the original
/// version and the set of changes, so any order of arrival, and any repetition, ends the same.
///
/// - The original version (`content.message.content` and the text) is kept once, in
///   `content.original`, the first time anything changes.
/// - Every edit is listed in `content.edits`, oldest first; the message shows the latest one,
///   by provider time, ties broken by the edit's provider id.
/// - A revoke sets `revoked_at` (the earliest, if several) and removes the text from search;
///   the content stays, for audit.
fn merge_changes(
    content: &serde_json::Value,
    body_text: Option<&str>,
    changes: &[ChangeRow],
) -> Merged {
    if changes.is_empty() {
        return Merged {
            content: content.clone(),
            body_text: body_text.map(str::to_owned),
            edited_at: None,
            revoked_at: None,
        };
    }
    let mut content = content.clone();
    let original = content.get("original").cloned().unwrap_or_else(|| {
        serde_json::json!({
            "content": content.pointer("/message/content").cloned().unwrap_or_default(),
            "text": body_text,
        })
    });
    let mut edits: Vec<&ChangeRow> = changes.iter().filter(|c| c.action == "edit").collect();
    edits.sort_by(|a, b| {
        (a.occurred_at, &a.provider_message_id).cmp(&(b.occurred_at, &b.provider_message_id))
    });
    let revoked_at = changes
        .iter()
        .filter(|c| c.action == "revoke")
        .map(|c| c.occurred_at)
        .min();
    let history: Vec<serde_json::Value> = edits
        .iter()
        .map(|e| {
            serde_json::json!({
                "provider_message_id": e.provider_message_id,
                "edited_at": e.occurred_at,
                "content": e.content.as_deref().and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()),
                "text": e.body_text,
            })
        })
        .collect();
    let (shown, text, edited_at) = match edits.last() {
        Some(e) => (
            e.content
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default(),
            e.body_text.clone(),
            Some(e.occurred_at),
        ),
        None => (
            original.get("content").cloned().unwrap_or_default(),
            original
                .get("text")
                .and_then(|t| t.as_str())
                .map(str::to_owned),
            None,
        ),
    };
    if let Some(obj) = content.as_object_mut() {
        if let Some(message) = obj.get_mut("message").and_then(|m| m.as_object_mut())
            && !shown.is_null()
        {
            message.insert("content".to_owned(), shown);
        }
        obj.insert("original".to_owned(), original);
        obj.insert("edits".to_owned(), serde_json::Value::Array(history));
    }
    Merged {
        content,
        body_text: if revoked_at.is_some() { None } else { text },
        edited_at,
        revoked_at,
    }
}

impl Tx {
    /// Records a customer's edit or deletion once, and applies it if the message it names is
    /// known (otherwise it waits in `message_changes` until [`Tx::apply_message_changes`]).
    pub async fn record_message_change(&mut self, c: &MessageChange) -> Result<ChangeOutcome> {
        let (content, body_text) = match &c.action {
            ChangeAction::Edit { content, body_text } => {
                (Some(content.to_string()), body_text.clone())
            }
            ChangeAction::Revoke => (None, None),
        };
        let inserted = with_tx!(self, x => sqlx::query(
            "INSERT INTO message_changes (id, tenant_id, channel_id, original_message_id, provider_message_id, action, \
             occurred_at, content, body_text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(c.tenant.to_string())
        .bind(c.channel.to_string())
        .bind(&c.original_message_id)
        .bind(&c.provider_message_id)
        .bind(c.action.as_str())
        .bind(c.occurred_at_ms)
        .bind(content)
        .bind(body_text)
        .bind(now_millis())
        .execute(x)
        .await?
        .rows_affected());
        if inserted == 0 {
            return Ok(ChangeOutcome::Duplicate);
        }
        self.apply_message_changes(c.tenant, c.channel, &c.original_message_id)
            .await
    }

    /// PostgreSQL: a message and its change may be committed by two concurrent transactions,
    /// each unable to see the other's row. Both write first and then take this lock before
    /// reading, so whichever comes second sees both. (SQLite has one writer: nothing to do.)
    async fn lock_message_changes(
        &mut self,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> Result<()> {
        if let crate::db::TxInner::Postgres(t) = &mut self.inner {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("message_changes:{channel}:{provider_message_id}"))
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// For messages this transaction just inserted (tenant, channel, provider id): applies the
    /// edits and revokes that arrived before them. One read per channel among them when none
    /// did (the usual case), and on PostgreSQL one statement taking their locks in order, so a
    /// concurrent edit and its message always meet.
    pub async fn apply_changes_to_new_messages(
        &mut self,
        new: &[(TenantId, ChannelId, &str)],
    ) -> Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        if let crate::db::TxInner::Postgres(t) = &mut self.inner {
            let mut keys: Vec<String> = new
                .iter()
                .map(|(_, channel, pid)| format!("message_changes:{channel}:{pid}"))
                .collect();
            keys.sort();
            keys.dedup();
            sqlx::query(
                "SELECT count(pg_advisory_xact_lock(h)) FROM \
                 (SELECT hashtextextended(k, 0) AS h FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) s",
            )
            .bind(&keys)
            .execute(&mut **t)
            .await?;
        }
        let mut by_channel: std::collections::BTreeMap<(TenantId, ChannelId), Vec<&str>> =
            std::collections::BTreeMap::new();
        for (tenant, channel, pid) in new {
            by_channel.entry((*tenant, *channel)).or_default().push(pid);
        }
        for ((tenant, channel), pids) in by_channel {
            for chunk in pids.chunks(INSERT_CHUNK) {
                let sql = format!(
                    "SELECT DISTINCT original_message_id FROM message_changes \
                     WHERE tenant_id = $1 AND channel_id = $2 AND original_message_id IN ({})",
                    param_list(3, chunk.len())
                );
                let sql = crate::db::for_backend(self.backend(), sql);
                let early: Vec<String> = with_tx!(self, c => {
                    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(tenant.to_string())
                        .bind(channel.to_string());
                    for pid in chunk {
                        q = q.bind(*pid);
                    }
                    q.fetch_all(c).await?
                });
                for pid in early {
                    self.apply_message_changes(tenant, channel, &pid).await?;
                }
            }
        }
        Ok(())
    }

    /// Applies every edit and deletion recorded for an inbound message; called right after the
    /// message is inserted, since its changes may have arrived first.
    pub async fn apply_message_changes(
        &mut self,
        tenant: TenantId,
        channel: ChannelId,
        provider_message_id: &str,
    ) -> Result<ChangeOutcome> {
        self.lock_message_changes(channel, provider_message_id)
            .await?;
        let target: Option<ChangeTargetRow> = with_tx!(self, c => sqlx::query_as(
            "SELECT id, content, body_text, edited_at, revoked_at FROM messages \
             WHERE tenant_id = $1 AND channel_id = $2 AND provider_message_id = $3 AND direction = 'in'",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(provider_message_id)
        .fetch_optional(c)
        .await?);
        let Some(target) = target else {
            return Ok(ChangeOutcome::Pending);
        };
        let message: MessageId = parse_id(&target.id, "messages.id")?;
        let changes: Vec<ChangeRow> = with_tx!(self, c => sqlx::query_as(
            "SELECT provider_message_id, action, occurred_at, content, body_text FROM message_changes \
             WHERE tenant_id = $1 AND channel_id = $2 AND original_message_id = $3",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(provider_message_id)
        .fetch_all(c)
        .await?);
        if changes.is_empty() {
            return Ok(ChangeOutcome::Applied {
                message,
                changed: false,
            });
        }
        let old_content: serde_json::Value =
            serde_json::from_str(&target.content).unwrap_or_default();
        let merged = merge_changes(&old_content, target.body_text.as_deref(), &changes);
        let now = now_millis();
        let changed = merged.content != old_content
            || merged.body_text != target.body_text
            || merged.edited_at != target.edited_at
            || merged.revoked_at != target.revoked_at;
        if changed {
            with_tx!(self, c => sqlx::query(
                "UPDATE messages SET content = $3, body_text = $4, edited_at = $5, revoked_at = $6, updated_at = $7 \
                 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(&target.id)
            .bind(tenant.to_string())
            .bind(merged.content.to_string())
            .bind(&merged.body_text)
            .bind(merged.edited_at)
            .bind(merged.revoked_at)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        }
        // An applied edit's text now lives on the message it changed: its own record leaves
        // search, so a search finds each message once.
        with_tx!(self, c => sqlx::query(
            "UPDATE messages SET body_text = NULL, updated_at = $4 WHERE tenant_id = $1 AND channel_id = $2 \
             AND kind IN ('edit', 'revoke') AND body_text IS NOT NULL AND provider_message_id IN \
             (SELECT provider_message_id FROM message_changes WHERE tenant_id = $1 AND channel_id = $2 AND original_message_id = $3)",
        )
        .bind(tenant.to_string())
        .bind(channel.to_string())
        .bind(provider_message_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        Ok(ChangeOutcome::Applied { message, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::{ChangeRow, merge_changes};
    use serde_json::json;

    fn edit(id: &str, at: i64, text: &str) -> ChangeRow {
        ChangeRow {
            provider_message_id: id.to_owned(),
            action: "edit".to_owned(),
            occurred_at: at,
            content: Some(json!({"kind": "text", "body": text}).to_string()),
            body_text: Some(text.to_owned()),
        }
    }

    fn revoke(id: &str, at: i64) -> ChangeRow {
        ChangeRow {
            provider_message_id: id.to_owned(),
            action: "revoke".to_owned(),
            occurred_at: at,
            content: None,
            body_text: None,
        }
    }

    fn stored() -> serde_json::Value {
        json!({"message": {"provider_message_id": "wamid.O", "content": {"kind": "text", "body": "hola"}}, "raw": {"x": 1}})
    }

    #[test]
    fn the_latest_edit_wins_in_any_order_and_every_version_is_kept() {
        let a = || edit("wamid.E1", 2_000, "uno");
        let b = || edit("wamid.E2", 3_000, "dos");
        let c = || edit("wamid.E0", 3_000, "tie");
        let orders = [
            vec![a(), b(), c()],
            vec![c(), b(), a()],
            vec![b(), a(), c()],
        ];
        let results: Vec<_> = orders
            .iter()
            .map(|o| merge_changes(&stored(), Some("hola"), o))
            .collect();
        for r in &results {
            assert_eq!(r, &results[0]);
        }
        let m = &results[0];
        // Same provider second: the larger edit id wins, whatever arrived last.
        assert_eq!(m.body_text.as_deref(), Some("dos"));
        assert_eq!(m.edited_at, Some(3_000));
        assert_eq!(m.revoked_at, None);
        assert_eq!(m.content["message"]["content"]["body"], "dos");
        assert_eq!(m.content["original"]["text"], "hola");
        assert_eq!(m.content["original"]["content"]["body"], "hola");
        assert_eq!(m.content["raw"], json!({"x": 1}));
        let ids: Vec<_> = m.content["edits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["provider_message_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["wamid.E1", "wamid.E0", "wamid.E2"]);
        // Applying again to the result changes nothing.
        let again = merge_changes(&m.content, m.body_text.as_deref(), &orders[0]);
        assert_eq!(&again, m);
    }

    #[test]
    fn a_revoke_hides_the_text_and_keeps_the_content() {
        let m = merge_changes(&stored(), Some("hola"), &[revoke("wamid.R", 5_000)]);
        assert_eq!(m.body_text, None);
        assert_eq!(m.revoked_at, Some(5_000));
        assert_eq!(m.edited_at, None);
        assert_eq!(m.content["message"]["content"]["body"], "hola");
        assert_eq!(m.content["original"]["text"], "hola");
        // An edit arriving after the revoke is kept in the history, and stays out of search.
        let later = merge_changes(
            &m.content,
            None,
            &[revoke("wamid.R", 5_000), edit("wamid.E", 4_000, "chau")],
        );
        assert_eq!(later.body_text, None);
        assert_eq!(later.content["original"]["text"], "hola");
        assert_eq!(later.content["edits"][0]["text"], "chau");
    }

    #[test]
    fn no_changes_leave_the_message_alone() {
        let m = merge_changes(&stored(), Some("hola"), &[]);
        assert_eq!(m.content, stored());
        assert_eq!(m.body_text.as_deref(), Some("hola"));
    }
}
