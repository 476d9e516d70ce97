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
    /// that fits them (a `($n IS NULL OR col = $n)` term can use no index at all). On SQLite,
    /// which has no statistics, the query says which index walks: a conversation's, the
    /// provider-id one, the FTS table (text found in few messages), a channel's, or the
    /// tenant's; a unary `+` keeps the planner off the others. Text found in many messages is
    /// matched against windows of the walk, so each statement reads only the FTS entries in that
    /// window's rowid range instead of every match (see `list_windowed`).
    pub async fn list_messages(
        &self,
        tenant: TenantId,
        f: &MessageFilter,
        limit: usize,
        after: Option<MessageId>,
    ) -> Result<Page<Message>> {
        let backend = self.backend();
        let sqlite_text = match backend {
            Backend::Sqlite => f.q.as_deref().and_then(fts5_query),
            Backend::Postgres => None,
        };
        let mut walk = if f.conversation.is_some() {
            Walk::Conversation
        } else if f.provider_message_id.is_some() {
            Walk::ProviderId
        } else if f.channel.is_some() {
            Walk::Channel
        } else {
            Walk::Tenant
        };
        let mut windowed = false;
        if let (Walk::Channel | Walk::Tenant, Some(query)) = (walk, &sqlite_text) {
            // Text found in few messages: read those from the FTS table and sort them, rather
            // than walk the tenant's (or channel's) messages in order looking for them. Text
            // found in many is quicker the other way, as the first page is soon complete.
            if self.fts_count(query, FTS_DRIVE_MAX).await? <= FTS_DRIVE_MAX {
                walk = Walk::Fts;
            } else {
                windowed = true;
            }
        }
        let q = Query {
            backend,
            tenant: tenant.to_string(),
            f,
            walk,
            sqlite_text: sqlite_text.as_deref(),
        };
        let (lower, upper) = id_range(f.since, f.until);
        let after = after.map(|a| a.to_string());
        let lower = match (after, lower) {
            (Some(a), Some(l)) if l > a => Lower::From(l),
            (Some(a), _) => Lower::After(a),
            (None, Some(l)) => Lower::From(l),
            (None, None) => Lower::None,
        };
        let want = limit as i64 + 1;
        let items = if windowed {
            self.list_windowed(&q, lower, upper.as_deref(), want)
                .await?
        } else {
            let sql = q.select(Text::Plain, &lower, upper.as_deref(), None, want);
            self.fetch_messages(sql).await?
        };
        Ok(Page::from_overfetch(items, limit, |m| m.id.to_string()))
    }

    /// SQLite, text found in many messages: walks the tenant's (or channel's) index in id order
    /// one window of `k` entries at a time. A first statement reads only the index (the
    /// window's last id and its lowest and highest rowid); the second reads the window's rows
    /// matching the filters, testing the text against the FTS entries in that rowid range only.
    /// Every row of the window has its rowid in the range, so nothing is missed whatever the
    /// rowid order; the range is small because rows are stored in about id order.
    ///
    /// The alternative, testing against every match, reads all of them first (about 0.2 µs
    /// each: 16 ms for a word in 96,000 messages), then walks; windows read each index entry
    /// twice instead (about 0.25 µs). So after the first window, whose yield tells how far the
    /// walk still has to go, the matches are counted up to that distance: if there are fewer,
    /// the rest is read against every match. The same happens when a window's rowids are
    /// spread wide (rows not stored in id order, or among many of other tenants).
    async fn list_windowed(
        &self,
        q: &Query<'_>,
        mut lower: Lower,
        upper: Option<&str>,
        want: i64,
    ) -> Result<Vec<Message>> {
        let mut items: Vec<Message> = Vec::new();
        let mut k = WINDOW_FIRST;
        let mut counted = false;
        loop {
            let need = want - items.len() as i64;
            let (entries, lo, hi, top) = self.window(q, &lower, upper, k).await?;
            let (Some(lo), Some(hi), Some(top)) = (lo, hi, top) else {
                break;
            };
            if hi - lo >= WINDOW_SPREAD_MAX * entries {
                let sql = q.select(Text::Plain, &lower, upper, None, need);
                items.extend(self.fetch_messages(sql).await?);
                break;
            }
            let sql = q.select(Text::FtsRange(lo, hi), &lower, upper, Some(&top), need);
            let found = self.fetch_messages(sql).await?;
            let got = found.len() as i64;
            items.extend(found);
            if got >= need || entries < k {
                break;
            }
            lower = Lower::After(top);
            // How many more entries the walk is likely to read, from this window's yield.
            let rest = need - got;
            let ahead = rest.saturating_mul(entries) / got.max(1);
            let ahead = ahead.saturating_add(ahead / 4);
            if !counted {
                counted = true;
                let sqlite_text = q.sqlite_text.unwrap_or_default();
                if self.fts_count(sqlite_text, ahead).await? <= ahead {
                    let sql = q.select(Text::Plain, &lower, upper, None, rest);
                    items.extend(self.fetch_messages(sql).await?);
                    break;
                }
            }
            k = ahead.clamp(k, k.saturating_mul(8));
        }
        Ok(items)
    }

    /// How many messages (of any tenant) the FTS query matches, counted up to `cap + 1`.
    async fn fts_count(&self, query: &str, cap: i64) -> Result<i64> {
        let sql = format!(
            "SELECT count(*) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1 \
             LIMIT {})",
            cap.saturating_add(1)
        );
        let found: i64 = with_pool!(self, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(query)
            .fetch_one(p)
            .await?);
        Ok(found)
    }

    /// The next `k` entries of a windowed walk, read from the index alone: how many there are,
    /// their lowest and highest rowid, and the last id.
    async fn window(
        &self,
        q: &Query<'_>,
        lower: &Lower,
        upper: Option<&str>,
        k: i64,
    ) -> Result<(i64, Option<i64>, Option<i64>, Option<String>)> {
        let mut w = Where::default();
        let t = w.arg(Arg::Text(q.tenant.clone()));
        w.cond(format!("tenant_id = {t}"));
        if let (Walk::Channel, Some(channel)) = (q.walk, q.f.channel) {
            let n = w.arg(Arg::Text(channel.to_string()));
            w.cond(format!("channel_id = {n}"));
        }
        lower.cond(&mut w);
        if let Some(u) = upper {
            let n = w.arg(Arg::Text(u.to_owned()));
            w.cond(format!("id < {n}"));
        }
        let range = w.conds.join(" AND ");
        // The k-th entry's id, or the last of all when there are fewer.
        let offset = w.arg(Arg::Int(k - 1));
        let from = format!("messages{}", q.indexed_by());
        let sql = format!(
            "SELECT count(*), min(rowid), max(rowid), max(id) FROM {from} WHERE {range} AND id <= \
             coalesce((SELECT id FROM {from} WHERE {range} ORDER BY id LIMIT 1 OFFSET {offset}), \
             (SELECT max(id) FROM {from} WHERE {range}))"
        );
        let row: (i64, Option<i64>, Option<i64>, Option<String>) = with_pool!(self, p => {
            let mut s = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for a in &w.args {
                s = match a {
                    Arg::Text(v) => s.bind(v.clone()),
                    Arg::Int(i) => s.bind(*i),
                };
            }
            s.fetch_one(p).await?
        });
        Ok(row)
    }

    /// Runs a statement made by `Query::select`.
    ///
    /// On PostgreSQL as an unnamed statement, planned each time with the values given. A named
    /// one may switch to a generic plan after five runs, and for filters such as text +
    /// channel + direction + type + since that plan walks the primary key in id order testing
    /// every row (about 100 ms at 1 M messages, against 10 ms for the text index's matches).
    async fn fetch_messages(&self, w: Where) -> Result<Vec<Message>> {
        let persistent = self.backend() == Backend::Sqlite;
        let rows: Vec<MessageRow> = with_pool!(self, p => {
            let mut s = sqlx::query_as(sqlx::AssertSqlSafe(w.sql.clone())).persistent(persistent);
            for a in &w.args {
                s = match a {
                    Arg::Text(v) => s.bind(v.clone()),
                    Arg::Int(i) => s.bind(*i),
                };
            }
            s.fetch_all(p).await?
        });
        rows.into_iter().map(Message::try_from).collect()
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

/// A statement built from the filters given, with `$1`, `$2`, … in the order of `args`.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Arg>,
    sql: String,
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

/// Which index a SQLite query walks (PostgreSQL plans with the actual values by itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// `messages_conversation`.
    Conversation,
    /// `messages_provider_id`, over the tenant's channels.
    ProviderId,
    /// The FTS table: the rowids of the few messages with the text.
    Fts,
    /// `messages_tenant_channel`.
    Channel,
    /// `messages_tenant`.
    Tenant,
}

/// Where a walk in id order starts.
#[derive(Debug, Clone)]
enum Lower {
    None,
    /// `id >= …`
    From(String),
    /// `id > …`
    After(String),
}

impl Lower {
    fn cond(&self, w: &mut Where) {
        match self {
            Lower::None => {}
            Lower::From(l) => {
                let n = w.arg(Arg::Text(l.clone()));
                w.cond(format!("id >= {n}"));
            }
            Lower::After(a) => {
                let n = w.arg(Arg::Text(a.clone()));
                w.cond(format!("id > {n}"));
            }
        }
    }
}

/// How the text filter is written.
#[derive(Debug, Clone, Copy)]
enum Text {
    /// Against every match (SQLite FTS), or PostgreSQL's text search.
    Plain,
    /// Against the matches whose rowid is in this range (SQLite FTS).
    FtsRange(i64, i64),
}

/// One `list_messages` call: what it filters on and which index walks.
struct Query<'a> {
    backend: Backend,
    tenant: String,
    f: &'a MessageFilter,
    walk: Walk,
    /// The FTS5 query (SQLite).
    sqlite_text: Option<&'a str>,
}

impl Query<'_> {
    /// The statement for the rows after `lower`, before `upper` (exclusive) and up to `top`
    /// (inclusive), in id order, at most `limit` of them.
    fn select(
        &self,
        text: Text,
        lower: &Lower,
        upper: Option<&str>,
        top: Option<&str>,
        limit: i64,
    ) -> Where {
        // On SQLite a unary `+` keeps the planner from walking an index other than `walk`'s.
        let plus = |walked: bool| match self.backend {
            Backend::Sqlite if !walked => "+",
            _ => "",
        };
        let f = self.f;
        let mut w = Where::default();
        let t = w.arg(Arg::Text(self.tenant.clone()));
        let tenant_walked = matches!(self.walk, Walk::Tenant | Walk::Channel);
        w.cond(format!("{}tenant_id = {t}", plus(tenant_walked)));
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
            let walked = matches!(self.walk, Walk::Channel | Walk::ProviderId);
            w.cond(format!("{}channel_id = {n}", plus(walked)));
        }
        match (self.backend, self.sqlite_text, text) {
            (Backend::Sqlite, Some(query), Text::Plain) => {
                let n = w.arg(Arg::Text(query.to_owned()));
                w.cond(format!(
                    "rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH {n})"
                ));
            }
            (Backend::Sqlite, Some(query), Text::FtsRange(lo, hi)) => {
                let n = w.arg(Arg::Text(query.to_owned()));
                let lo = w.arg(Arg::Int(lo));
                let hi = w.arg(Arg::Int(hi));
                w.cond(format!(
                    "rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH {n} \
                     AND rowid >= {lo} AND rowid <= {hi})"
                ));
            }
            (Backend::Postgres, _, _) => {
                if let Some(q) = &f.q {
                    let n = w.arg(Arg::Text(q.clone()));
                    w.cond(format!("search @@ plainto_tsquery('simple', {n})"));
                }
            }
            (Backend::Sqlite, None, _) => {}
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
        // also bound the id range (see `id_range`); the `created_at` terms above still decide.
        lower.cond(&mut w);
        if let Some(u) = upper {
            let n = w.arg(Arg::Text(u.to_owned()));
            w.cond(format!("id < {n}"));
        }
        if let Some(top) = top {
            let n = w.arg(Arg::Text(top.to_owned()));
            w.cond(format!("id <= {n}"));
        }
        let lim = w.arg(Arg::Int(limit));
        w.sql = format!(
            "{SELECT}{} WHERE {} ORDER BY id LIMIT {lim}",
            self.indexed_by(),
            w.conds.join(" AND ")
        );
        w
    }

    /// SQLite: the index of a tenant's or channel's walk, required by name (with both bounds on
    /// `id`, the planner, which has no statistics, can take the tenant's index for a channel).
    fn indexed_by(&self) -> &'static str {
        match (self.backend, self.walk) {
            (Backend::Sqlite, Walk::Tenant) => " INDEXED BY messages_tenant",
            (Backend::Sqlite, Walk::Channel) => " INDEXED BY messages_tenant_channel",
            _ => "",
        }
    }
}

/// Up to how many messages matching a search are read from the FTS table and sorted (SQLite).
const FTS_DRIVE_MAX: i64 = 1000;

/// Index entries in a search's first window (SQLite).
const WINDOW_FIRST: i64 = 1024;

/// A window whose rowids span this many times its entries is not worth reading by rowid range.
const WINDOW_SPREAD_MAX: i64 = 16;

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
