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
    ///
    /// The WHERE clause holds only the filters actually given, so each engine can pick the index
    /// that fits them (a `($n IS NULL OR col = $n)` term can use no index at all).
    pub async fn list_messages(
        &self,
        tenant: TenantId,
        f: &MessageFilter,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<Page<Message>> {
        let backend = self.backend();
        let mut w = Where::default();
        let t = w.arg(Arg::Text(tenant.to_string()));
        // With a conversation or a provider id there is a far narrower index than the tenant's
        // own; on SQLite a unary `+` keeps the planner from walking the tenant's whole index.
        let sqlite_text = match backend {
            Backend::Sqlite => f.q.as_deref().and_then(fts5_query),
            Backend::Postgres => None,
        };
        let mut narrower = f.conversation.is_some() || f.provider_message_id.is_some();
        if !narrower && let Some(query) = &sqlite_text {
            // Text found in few messages: read those from the FTS table and sort them, rather
            // than walk the tenant's messages in order looking for them. Text found in many is
            // quicker the other way, as the first page is soon complete.
            let sql = format!(
                "SELECT count(*) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1 \
                 LIMIT {})",
                FTS_DRIVE_MAX + 1
            );
            let found: i64 = with_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(query)
                .fetch_one(p)
                .await?);
            narrower = found <= FTS_DRIVE_MAX;
        }
        let tenant_col = match backend {
            Backend::Sqlite if narrower => "+tenant_id",
            _ => "tenant_id",
        };
        w.cond(format!("{tenant_col} = {t}"));
        if let Some(conversation) = f.conversation {
            let n = w.arg(Arg::Text(conversation.to_string()));
            w.cond(format!("conversation_id = {n}"));
        }
        if let Some(pid) = &f.provider_message_id {
            // Through the (channel_id, provider_message_id) index, over the tenant's channels.
            if f.channel.is_none() {
                w.cond(format!(
                    "channel_id IN (SELECT id FROM channels WHERE tenant_id = {t})"
                ));
            }
            let n = w.arg(Arg::Text(pid.clone()));
            w.cond(format!("provider_message_id = {n}"));
        }
        if let Some(channel) = f.channel {
            let n = w.arg(Arg::Text(channel.to_string()));
            w.cond(format!("channel_id = {n}"));
        }
        match backend {
            Backend::Sqlite => {
                if let Some(query) = sqlite_text {
                    let n = w.arg(Arg::Text(query));
                    w.cond(format!(
                        "rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH {n})"
                    ));
                }
            }
            Backend::Postgres => {
                if let Some(q) = &f.q {
                    let n = w.arg(Arg::Text(q.clone()));
                    w.cond(format!("search @@ plainto_tsquery('simple', {n})"));
                }
            }
        }
        for (col, value) in [
            ("direction", &f.direction),
            ("status", &f.status),
            ("kind", &f.kind),
        ] {
            if let Some(v) = value {
                let n = w.arg(Arg::Text(v.clone()));
                w.cond(format!("{col} = {n}"));
            }
        }
        if let Some(since) = f.since {
            let n = w.arg(Arg::Int(since.timestamp_millis()));
            w.cond(format!("created_at >= {n}"));
        }
        if let Some(until) = f.until {
            let n = w.arg(Arg::Int(until.timestamp_millis()));
            w.cond(format!("created_at < {n}"));
        }
        // Ids are time-ordered (UUIDv7, made just before the row is stored), so `since`/`until`
        // also bound the id range; the margin covers the time between making an id and storing
        // the row, and clock steps. The `created_at` terms above still decide exactly.
        let (lower, upper) = id_range(f.since, f.until);
        let after = after.map(|a| a.to_string());
        match (after, lower) {
            (Some(a), Some(l)) if l > a => {
                let n = w.arg(Arg::Text(l));
                w.cond(format!("id >= {n}"));
            }
            (Some(a), _) => {
                let n = w.arg(Arg::Text(a));
                w.cond(format!("id > {n}"));
            }
            (None, Some(l)) => {
                let n = w.arg(Arg::Text(l));
                w.cond(format!("id >= {n}"));
            }
            (None, None) => {}
        }
        if let Some(u) = upper {
            let n = w.arg(Arg::Text(u));
            w.cond(format!("id < {n}"));
        }
        let lim = w.arg(Arg::Int(limit as i64 + 1));
        let sql = format!(
            "{SELECT} WHERE {} ORDER BY id LIMIT {lim}",
            w.conds.join(" AND ")
        );
        let rows: Vec<MessageRow> = with_pool!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for a in &w.args {
                q = match a {
                    Arg::Text(s) => q.bind(s.clone()),
                    Arg::Int(i) => q.bind(*i),
                };
            }
            q.fetch_all(p).await?
        });
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

/// A value bound to a numbered placeholder.
enum Arg {
    Text(String),
    Int(i64),
}

/// A WHERE clause built from the filters given, with `$1`, `$2`, … in the order of `args`.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds a value and returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn cond(&mut self, c: String) {
        self.conds.push(c);
    }
}

/// Up to how many messages matching a search are read from the FTS table and sorted (SQLite).
const FTS_DRIVE_MAX: i64 = 1000;

/// How far a message's id time may be from its `created_at`, either way.
const ID_TIME_MARGIN_MS: i64 = 60 * 60 * 1000;

/// The largest time a UUIDv7 holds (48 bits of milliseconds).
const UUID7_MAX_MS: i64 = (1 << 48) - 1;

/// The smallest message id made at `ms` (UUIDv7: the first 12 hex digits are Unix milliseconds).
fn id_at(ms: i64) -> String {
    format!("{}_{:012x}{}", MessageId::PREFIX, ms, "0".repeat(20))
}

/// Id bounds (`id >= lower`, `id < upper`) that every message stored in `[since, until)` is within.
fn id_range(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> (Option<String>, Option<String>) {
    let lower = since
        .map(|t| t.timestamp_millis().saturating_sub(ID_TIME_MARGIN_MS))
        .filter(|ms| *ms > 0)
        .map(|ms| id_at(ms.min(UUID7_MAX_MS)));
    let upper = until
        .map(|t| t.timestamp_millis().saturating_add(ID_TIME_MARGIN_MS))
        .filter(|ms| *ms <= UUID7_MAX_MS)
        .map(|ms| id_at(ms.max(0)));
    (lower, upper)
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
    use super::{MessageId, fts5_query, id_range};
    use chrono::{TimeZone, Utc};

    #[test]
    fn id_bounds_enclose_ids_made_in_the_range() {
        let since = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
        let until = Utc.timestamp_millis_opt(1_700_086_400_000).unwrap();
        let (lo, hi) = id_range(Some(since), Some(until));
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        let now = MessageId::new().to_string();
        assert!(lo.len() == now.len() && hi.len() == now.len());
        let at = |ms: i64| {
            let u = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                (ms / 1000) as u64,
                ((ms % 1000) * 1_000_000) as u32,
            ));
            MessageId::from_uuid(u).to_string()
        };
        assert!(at(1_700_000_000_000) >= lo && at(1_700_000_000_000) < hi);
        assert!(at(1_700_086_399_999) >= lo && at(1_700_086_399_999) < hi);
        assert!(at(1_600_000_000_000) < lo);
        assert!(at(1_800_000_000_000) >= hi);
        assert_eq!(id_range(None, None), (None, None));
    }

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
