//! Reading messages and their status history, always within one tenant.

use chasqui_core::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::with_pool;
use crate::error::{Result, StoreError, parse_id};
use crate::{Backend, Page, Store, from_millis};

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Its channel.
    pub channel_id: ChannelId,
    /// Its conversation.
    pub conversation_id: Option<ConversationId>,
    /// Its contact.
    pub contact_id: Option<ContactId>,
    /// `in` or `out`.
    pub direction: String,
    /// The provider's id.
    pub provider_message_id: Option<String>,
    /// `text`, `image`, …
    pub kind: String,
    /// Current status.
    pub status: String,
    /// Text for previews.
    pub body_text: Option<String>,
    /// The full internal model.
    pub content: serde_json::Value,
    /// The message replied to.
    pub context_message_id: Option<String>,
    /// The provider's timestamp.
    pub provider_timestamp: Option<DateTime<Utc>>,
    /// Where an outbound message goes (WhatsApp id, BSUID or number).
    pub to_address: Option<String>,
    /// Send attempts made.
    pub attempts: i64,
    /// Last failure code from the provider.
    pub error_code: Option<String>,
    /// Last failure, as a sentence.
    pub error_message: Option<String>,
    /// When the customer last edited it (provider time of the edit it now shows).
    pub edited_at: Option<DateTime<Utc>>,
    /// When the customer deleted it (its text is then out of search; the content is kept).
    pub revoked_at: Option<DateTime<Utc>>,
    /// When stored.
    pub created_at: DateTime<Utc>,
}

/// One status a message went through.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    /// The status.
    pub status: String,
    /// When the provider says it happened.
    pub occurred_at: DateTime<Utc>,
    /// The provider's payload for it.
    pub payload: serde_json::Value,
}

/// Filters for searching messages.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Text to find (case-insensitive).
    pub q: Option<String>,
    /// `in` or `out`.
    pub direction: Option<String>,
    /// Current status.
    pub status: Option<String>,
    /// Message kind.
    pub kind: Option<String>,
    /// One channel.
    pub channel: Option<ChannelId>,
    /// One conversation.
    pub conversation: Option<ConversationId>,
    /// The provider's id.
    pub provider_message_id: Option<String>,
    /// Stored at or after.
    pub since: Option<DateTime<Utc>>,
    /// Stored before.
    pub until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    channel_id: String,
    conversation_id: Option<String>,
    contact_id: Option<String>,
    direction: String,
    provider_message_id: Option<String>,
    kind: String,
    status: String,
    body_text: Option<String>,
    content: String,
    context_message_id: Option<String>,
    provider_timestamp: Option<i64>,
    to_address: Option<String>,
    attempts: i64,
    error_code: Option<String>,
    error_message: Option<String>,
    edited_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(r: MessageRow) -> Result<Self> {
        Ok(Message {
            id: parse_id(&r.id, "messages.id")?,
            channel_id: parse_id(&r.channel_id, "messages.channel_id")?,
            conversation_id: r
                .conversation_id
                .as_deref()
                .map(|c| parse_id(c, "messages.conversation_id"))
                .transpose()?,
            contact_id: r
                .contact_id
                .as_deref()
                .map(|c| parse_id(c, "messages.contact_id"))
                .transpose()?,
            direction: r.direction,
            provider_message_id: r.provider_message_id,
            kind: r.kind,
            status: r.status,
            body_text: r.body_text,
            content: serde_json::from_str(&r.content).unwrap_or_default(),
            context_message_id: r.context_message_id,
            provider_timestamp: r.provider_timestamp.map(from_millis),
            to_address: r.to_address,
            attempts: r.attempts,
            error_code: r.error_code,
            error_message: r.error_message,
            edited_at: r.edited_at.map(from_millis),
            revoked_at: r.revoked_at.map(from_millis),
            created_at: from_millis(r.created_at),
        })
    }
}

const SELECT: &str = "SELECT id, channel_id, conversation_id, contact_id, direction, provider_message_id, kind, status, \
                      body_text, content, context_message_id, provider_timestamp, to_address, attempts, error_code, error_message, edited_at, revoked_at, \
                      created_at FROM messages";

impl Store {
    /// One message of a tenant.
    pub async fn message(&self, tenant: TenantId, id: MessageId) -> Result<Message> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1 AND tenant_id = $2"));
        let row: Option<MessageRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("message"))?.try_into()
    }

    /// A tenant's messages, oldest first, filtered (conversation history and search).
    pub async fn list_messages(
        &self,
        tenant: TenantId,
        f: &MessageFilter,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<Page<Message>> {
        let (query, text_match) = match self.backend() {
            Backend::Sqlite => (
                f.q.as_deref().and_then(fts5_query),
                "rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $3)",
            ),
            Backend::Postgres => (f.q.clone(), "search @@ plainto_tsquery('simple', $3)"),
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND id > $2 AND ($3 IS NULL OR {text_match}) \
             AND ($4 IS NULL OR direction = $4) AND ($5 IS NULL OR status = $5) AND ($6 IS NULL OR kind = $6) \
             AND ($7 IS NULL OR channel_id = $7) AND ($8 IS NULL OR conversation_id = $8) \
             AND ($9 IS NULL OR provider_message_id = $9) AND created_at >= $10 AND created_at < $11 ORDER BY id LIMIT $12"
        ));
        let rows: Vec<MessageRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(query.clone())
            .bind(f.direction.clone())
            .bind(f.status.clone())
            .bind(f.kind.clone())
            .bind(f.channel.map(|c| c.to_string()))
            .bind(f.conversation.map(|c| c.to_string()))
            .bind(f.provider_message_id.clone())
            .bind(f.since.map(|t| t.timestamp_millis()).unwrap_or(i64::MIN))
            .bind(f.until.map(|t| t.timestamp_millis()).unwrap_or(i64::MAX))
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(Message::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
    }

    /// Every status a message went through, in the order they happened.
    pub async fn message_history(
        &self,
        tenant: TenantId,
        message: &Message,
    ) -> Result<Vec<StatusEvent>> {
        let Some(pid) = &message.provider_message_id else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, i64, String)> = with_pool!(self, p => sqlx::query_as(
            "SELECT status, occurred_at, payload FROM message_events WHERE tenant_id = $1 AND channel_id = $2 \
             AND provider_message_id = $3 ORDER BY occurred_at, created_at",
        )
        .bind(tenant.to_string())
        .bind(message.channel_id.to_string())
        .bind(pid)
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .map(|(status, at, payload)| StatusEvent {
                status,
                occurred_at: from_millis(at),
                payload: serde_json::from_str(&payload).unwrap_or_default(),
            })
            .collect())
    }
}

/// Turns what a person typed into an FTS5 query that cannot be a syntax error: every word quoted
/// (all must match, in any order). `None` when nothing searchable is left.
fn fts5_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn user_text_becomes_a_safe_fts5_query() {
        assert_eq!(
            fts5_query("hola  mundo").as_deref(),
            Some("\"hola\" \"mundo\"")
        );
        assert_eq!(
            fts5_query("\"AND OR* (x").as_deref(),
            Some("\"AND\" \"OR\" \"x\"")
        );
        assert_eq!(fts5_query("  ** "), None);
    }
}
