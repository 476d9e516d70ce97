//! Reading conversations, always within one tenant.

use chasqui_core::ids::{ChannelId, ContactId, ConversationId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::with_pool;
use crate::error::{Result, StoreError, parse_id};
use crate::{Page, Store, from_millis};

/// A thread between a contact and a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// Its channel.
    pub channel_id: ChannelId,
    /// Its contact.
    pub contact_id: ContactId,
    /// `open` or `closed`.
    pub status: String,
    /// Where it came from: a click-to-WhatsApp ad referral or a wa.me `ref` code.
    pub source: Option<serde_json::Value>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The customer's last message: the 24-hour window runs from here.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The last message either way.
    pub last_message_at: DateTime<Utc>,
}

/// Filters for listing conversations.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// `open` or `closed`.
    pub status: Option<String>,
    /// One channel.
    pub channel: Option<ChannelId>,
    /// One contact.
    pub contact: Option<ContactId>,
    /// Only those with a message at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    channel_id: String,
    contact_id: String,
    status: String,
    source: Option<String>,
    opened_at: i64,
    last_inbound_at: Option<i64>,
    last_message_at: i64,
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = StoreError;

    fn try_from(r: ConversationRow) -> Result<Self> {
        Ok(Conversation {
            id: parse_id(&r.id, "conversations.id")?,
            channel_id: parse_id(&r.channel_id, "conversations.channel_id")?,
            contact_id: parse_id(&r.contact_id, "conversations.contact_id")?,
            status: r.status,
            source: r.source.and_then(|s| serde_json::from_str(&s).ok()),
            opened_at: from_millis(r.opened_at),
            last_inbound_at: r.last_inbound_at.map(from_millis),
            last_message_at: from_millis(r.last_message_at),
        })
    }
}

const SELECT: &str = "SELECT id, channel_id, contact_id, status, source, opened_at, last_inbound_at, last_message_at FROM conversations";

impl Store {
    /// One conversation of a tenant.
    pub async fn conversation(&self, tenant: TenantId, id: ConversationId) -> Result<Conversation> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1 AND tenant_id = $2"));
        let row: Option<ConversationRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("conversation"))?.try_into()
    }

    /// The open conversation of a contact on a channel, if any.
    pub async fn open_conversation(
        &self,
        tenant: TenantId,
        channel: ChannelId,
        contact: ContactId,
    ) -> Result<Option<Conversation>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND channel_id = $2 AND contact_id = $3 AND status = 'open'"
        ));
        let row: Option<ConversationRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(channel.to_string())
            .bind(contact.to_string())
            .fetch_optional(p)
            .await?);
        row.map(Conversation::try_from).transpose()
    }

    /// A tenant's conversations, oldest first, filtered.
    pub async fn list_conversations(
        &self,
        tenant: TenantId,
        f: &ConversationFilter,
        limit: usize,
        after: Option<ConversationId>,
    ) -> Result<Page<Conversation>> {
        // Only the filters given, so the (tenant_id, id) index serves the order and the cursor.
        let mut conds = vec!["tenant_id = $1".to_owned()];
        let mut args: Vec<Option<String>> = vec![Some(tenant.to_string())];
        let mut text = |col: &str, op: &str, v: String, conds: &mut Vec<String>| {
            args.push(Some(v));
            conds.push(format!("{col} {op} ${}", args.len()));
        };
        if let Some(a) = after {
            text("id", ">", a.to_string(), &mut conds);
        }
        if let Some(s) = &f.status {
            text("status", "=", s.clone(), &mut conds);
        }
        if let Some(c) = f.channel {
            text("channel_id", "=", c.to_string(), &mut conds);
        }
        if let Some(c) = f.contact {
            text("contact_id", "=", c.to_string(), &mut conds);
        }
        let n = args.len();
        let since = f.updated_since.map(|t| t.timestamp_millis());
        if since.is_some() {
            conds.push(format!("last_message_at >= ${}", n + 1));
        }
        let lim = n + 1 + usize::from(since.is_some());
        let sql = format!(
            "{SELECT} WHERE {} ORDER BY id LIMIT ${lim}",
            conds.join(" AND ")
        );
        let rows: Vec<ConversationRow> = with_pool!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for a in &args {
                q = q.bind(a.clone());
            }
            if let Some(s) = since {
                q = q.bind(s);
            }
            q.bind(limit as i64 + 1).fetch_all(p).await?
        });
        let items = rows
            .into_iter()
            .map(Conversation::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |c| c.id.to_string()))
    }
}
