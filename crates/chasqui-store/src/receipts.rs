//! The durable webhook inbox: every verified delivery is committed here, with its processing job,
//! before the provider gets its 200. Processing reads from here, so nothing acknowledged is lost.

use chasqui_core::ids::{ChannelId, ReceiptId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::{Tx, param_list, value_rows, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::jobs::NewJob;
use crate::{Page, Store, from_millis, now_millis};

/// The job kind that processes a receipt.
pub const PROCESS_RECEIPT: &str = "webhook.process";

/// One of `of` disjoint shares of the receipts, by the last hex digit of their id (random in a
/// UUID v7), so every receipt belongs to exactly one share on every engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Which share (0-based).
    pub index: usize,
    /// How many shares (1 to 16).
    pub of: usize,
}

impl Share {
    /// Every receipt.
    pub const ALL: Share = Share { index: 0, of: 1 };

    /// The SQL condition (empty for [`Share::ALL`]); only constant hex digits, no input.
    fn condition(self) -> String {
        let of = self.of.clamp(1, 16);
        if of == 1 {
            return String::new();
        }
        let digits: Vec<String> = (0..16usize)
            .filter(|d| d % of == self.index % of)
            .map(|d| format!("'{d:x}'"))
            .collect();
        format!(" AND substr(id, length(id), 1) IN ({})", digits.join(", "))
    }
}

/// Rows per multi-row insert of a group commit (7 parameters each, far under both engines'
/// limits; few distinct statement shapes for the prepared-statement cache).
const INSERT_CHUNK: usize = 64;

/// Receipt states.
pub mod state {
    /// Stored, not processed yet: the inbound processor's queue.
    pub const PENDING: &str = "pending";
    /// Handed to a job of its own after its batch failed (retried with backoff, then dead).
    pub const QUEUED: &str = "queued";
    /// Turned into contacts, messages and statuses.
    pub const PROCESSED: &str = "processed";
    /// No channel matches it yet; processed when one is created.
    pub const UNROUTED: &str = "unrouted";
    /// Could not be processed; kept with the error for replay.
    pub const DEAD: &str = "dead";
}

/// A delivery to keep.
#[derive(Debug, Clone)]
pub struct NewReceipt {
    /// `whatsapp`, `360dialog`, `twilio`, `chatwoot`.
    pub provider: String,
    /// The channel named in the URL, if any.
    pub channel_id: Option<ChannelId>,
    /// The tenant, when known from the URL.
    pub tenant_id: Option<TenantId>,
    /// The exact bytes received.
    pub body: Vec<u8>,
    /// Headers that matter later (content type, the public URL used for Twilio, …).
    pub headers: serde_json::Value,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// Its id.
    pub id: ReceiptId,
    /// Which provider sent it.
    pub provider: String,
    /// The channel named in the URL.
    pub channel_id: Option<ChannelId>,
    /// The tenant it was routed to.
    pub tenant_id: Option<TenantId>,
    /// The exact bytes received.
    pub body: Vec<u8>,
    /// Kept headers.
    pub headers: serde_json::Value,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Processing state.
    pub state: String,
    /// The routing key it waits for, when unrouted (e.g. `phone_number_id:123`).
    pub route_key: Option<String>,
    /// Why processing failed.
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: String,
    provider: String,
    channel_id: Option<String>,
    tenant_id: Option<String>,
    body: Vec<u8>,
    headers: String,
    received_at: i64,
    state: String,
    route_key: Option<String>,
    last_error: Option<String>,
}

impl TryFrom<ReceiptRow> for Receipt {
    type Error = StoreError;

    fn try_from(r: ReceiptRow) -> Result<Self> {
        Ok(Receipt {
            id: parse_id(&r.id, "webhook_receipts.id")?,
            provider: r.provider,
            channel_id: r
                .channel_id
                .as_deref()
                .map(|c| parse_id(c, "webhook_receipts.channel_id"))
                .transpose()?,
            tenant_id: r
                .tenant_id
                .as_deref()
                .map(|t| parse_id(t, "webhook_receipts.tenant_id"))
                .transpose()?,
            body: r.body,
            headers: serde_json::from_str(&r.headers).unwrap_or_default(),
            received_at: from_millis(r.received_at),
            state: r.state,
            route_key: r.route_key,
            last_error: r.last_error,
        })
    }
}

const SELECT: &str = "SELECT id, provider, channel_id, tenant_id, body, headers, received_at, state, route_key, last_error FROM webhook_receipts";

impl Tx {
    /// Records the outcome of processing a receipt in the same transaction as its effects, so
    /// a crash can never leave a receipt processed but marked pending (or the reverse).
    pub async fn mark_receipt(
        &mut self,
        id: ReceiptId,
        state: &str,
        tenant: Option<TenantId>,
        route_key: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "UPDATE webhook_receipts SET state = $2, tenant_id = COALESCE($3, tenant_id), route_key = $4, last_error = $5, \
             processed_at = $6 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(state)
        .bind(tenant.map(|t| t.to_string()))
        .bind(route_key)
        .bind(error)
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Which of `ids` are still pending, locking them for this transaction on PostgreSQL (rows
    /// another instance is processing right now are skipped), so two processors never apply
    /// the same receipt at once.
    pub async fn still_pending(&mut self, ids: &[ReceiptId]) -> Result<Vec<ReceiptId>> {
        let is_pg = matches!(self.inner, crate::db::TxInner::Postgres(_));
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(INSERT_CHUNK * 4) {
            let sql = format!(
                "SELECT id FROM webhook_receipts WHERE id IN ({}) AND state = 'pending'{}",
                param_list(1, chunk.len()),
                if is_pg { " FOR UPDATE SKIP LOCKED" } else { "" }
            );
            let sql = crate::db::for_backend(self.backend(), sql);
            let rows: Vec<String> = with_tx!(self, c => {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id.to_string());
                }
                q.fetch_all(c).await?
            });
            for r in rows {
                found.push(parse_id(&r, "webhook_receipts.id")?);
            }
        }
        Ok(found)
    }

    /// Marks receipts processed, all in one statement (the batch processor's usual outcome).
    pub async fn mark_receipts_processed(&mut self, ids: &[ReceiptId]) -> Result<()> {
        let now = now_millis();
        for chunk in ids.chunks(INSERT_CHUNK * 4) {
            let sql = format!(
                "UPDATE webhook_receipts SET state = 'processed', route_key = NULL, last_error = NULL, processed_at = $1 \
                 WHERE id IN ({})",
                param_list(2, chunk.len())
            );
            let sql = crate::db::for_backend(self.backend(), sql);
            with_tx!(self, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(now);
                for id in chunk {
                    q = q.bind(id.to_string());
                }
                q.execute(c).await?.rows_affected()
            });
        }
        Ok(())
    }
}

impl Store {
    /// Commits many deliveries in one transaction (one fsync): the group commit behind webhook
    /// ingest. A pending receipt is its own queue entry (the inbound processor reads them in
    /// order), so no job row is written. Returns their ids in order.
    pub async fn store_receipts(&self, batch: &[NewReceipt]) -> Result<Vec<ReceiptId>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let ids: Vec<ReceiptId> = batch.iter().map(|_| ReceiptId::new()).collect();
        let mut tx = self.begin().await?;
        tx.set_writer("webhooks");
        // Multi-row inserts: one statement (one round trip to the database) per chunk.
        for (chunk_ids, rows) in ids.chunks(INSERT_CHUNK).zip(batch.chunks(INSERT_CHUNK)) {
            let sql = format!(
                "INSERT INTO webhook_receipts (id, provider, channel_id, tenant_id, body, headers, received_at, state) VALUES {}",
                value_rows(rows.len(), "(?, ?, ?, ?, ?, ?, ?, 'pending')")
            );
            let sql = crate::db::for_backend(self.backend(), sql);
            with_tx!(tx, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (id, new) in chunk_ids.iter().zip(rows) {
                    q = q
                        .bind(id.to_string())
                        .bind(&new.provider)
                        .bind(new.channel_id.map(|c| c.to_string()))
                        .bind(new.tenant_id.map(|t| t.to_string()))
                        .bind(&new.body)
                        .bind(new.headers.to_string())
                        .bind(now);
                }
                q.execute(c).await?.rows_affected()
            });
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Several receipts by id, in one query (the batch processor's read).
    pub async fn receipts(&self, ids: &[ReceiptId]) -> Result<Vec<Receipt>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{SELECT} WHERE id IN ({}) ORDER BY id",
            param_list(1, ids.len())
        );
        let sql = crate::db::for_backend(self.backend(), sql);
        let rows: Vec<ReceiptRow> = with_pool!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for id in ids {
                q = q.bind(id.to_string());
            }
            q.fetch_all(p).await?
        });
        rows.into_iter().map(Receipt::try_from).collect()
    }

    /// One receipt (operator-level: receipts may not be routed to a tenant yet).
    pub async fn receipt(&self, id: ReceiptId) -> Result<Receipt> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"));
        let row: Option<ReceiptRow> = with_pool!(self, p => sqlx::query_as(sql).bind(id.to_string()).fetch_optional(p).await?);
        row.ok_or(StoreError::NotFound("receipt"))?.try_into()
    }

    /// Records the outcome of processing a receipt, in a transaction of its own.
    pub async fn mark_receipt(
        &self,
        id: ReceiptId,
        state: &str,
        tenant: Option<TenantId>,
        route_key: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.mark_receipt(id, state, tenant, route_key, error).await?;
        tx.commit().await
    }

    /// Receipts in a state, oldest first (operator view: `chasqui receipts list --unrouted`).
    pub async fn list_receipts(
        &self,
        state: &str,
        limit: usize,
        after: Option<ReceiptId>,
    ) -> Result<Page<Receipt>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<ReceiptRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(state)
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(Receipt::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |r| r.id.to_string()))
    }

    /// A tenant's dead-letter receipts, oldest first.
    pub async fn dead_receipts(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<ReceiptId>,
    ) -> Result<Page<Receipt>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE state = 'dead' AND tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<ReceiptRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(Receipt::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |r| r.id.to_string()))
    }

    /// Queues a receipt for processing again (dead-letter replay, or a channel that now exists).
    /// `tenant` restricts it to that tenant's receipts (`None` for operators).
    pub async fn requeue_receipt(&self, id: ReceiptId, tenant: Option<TenantId>) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE webhook_receipts SET state = 'pending', last_error = NULL WHERE id = $1 AND ($2 IS NULL OR tenant_id = $2) \
             AND state IN ('dead', 'unrouted', 'processed')",
        )
        .bind(id.to_string())
        .bind(tenant.map(|t| t.to_string()))
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("receipt"));
        }
        tx.enqueue(
            NewJob::new(PROCESS_RECEIPT, serde_json::json!({ "receipt_id": id })).max_attempts(8),
        )
        .await?;
        tx.commit().await
    }

    /// Gives each still-pending receipt a processing job of its own (state `queued`), in one
    /// transaction: a batch that failed falls back to this, so every receipt gets its own
    /// retries and dead letter, and the processor does not pick it again.
    pub async fn hand_over_receipts(&self, ids: &[ReceiptId]) -> Result<usize> {
        let mut tx = self.begin().await?;
        let mut handed = 0;
        for id in ids {
            let moved = with_tx!(tx, c => sqlx::query(
                "UPDATE webhook_receipts SET state = 'queued' WHERE id = $1 AND state = 'pending'",
            )
            .bind(id.to_string())
            .execute(c)
            .await?
            .rows_affected());
            if moved == 1 {
                tx.enqueue(
                    NewJob::new(PROCESS_RECEIPT, serde_json::json!({ "receipt_id": id }))
                        .max_attempts(8),
                )
                .await?;
                handed += 1;
            }
        }
        tx.commit().await?;
        Ok(handed)
    }

    /// The oldest pending receipts of one share of them: a processor's next round. Parallel
    /// processors (PostgreSQL) each read their own share, so they never prepare the same
    /// receipts only to skip each other's locks.
    pub async fn pending_receipts(&self, limit: usize, share: Share) -> Result<Vec<Receipt>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE state = 'pending'{} ORDER BY received_at, id LIMIT $1",
            share.condition()
        ));
        let rows: Vec<ReceiptRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(limit as i64)
            .fetch_all(p)
            .await?);
        rows.into_iter().map(Receipt::try_from).collect()
    }

    /// Requeues every unrouted receipt waiting for `route_key`; returns how many.
    pub async fn requeue_unrouted(&self, route_key: &str) -> Result<usize> {
        let ids: Vec<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT id FROM webhook_receipts WHERE state = 'unrouted' AND route_key = $1 ORDER BY id",
        )
        .bind(route_key)
        .fetch_all(p)
        .await?);
        for id in &ids {
            self.requeue_receipt(parse_id(id, "webhook_receipts.id")?, None)
                .await?;
        }
        Ok(ids.len())
    }
}
