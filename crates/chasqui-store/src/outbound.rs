//! Outbound messages: queued with their send job in one transaction (idempotently, when the
//! client sends an `Idempotency-Key`), then marked sent or failed by the sender.

use chasqui_core::ids::{ChannelId, ContactId, ConversationId, MessageId, TenantId};

use crate::db::{value_rows, with_pool, with_tx};
use crate::error::{Result, StoreError};
use crate::jobs::NewJob;
use crate::{Store, now_millis};

/// The job kind that sends one message.
pub const SEND_MESSAGE: &str = "message.send";

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// Its tenant.
    pub tenant: TenantId,
    /// The sending channel.
    pub channel: ChannelId,
    /// The recipient contact, when known.
    pub contact: Option<ContactId>,
    /// Its conversation, when there is one.
    pub conversation: Option<ConversationId>,
    /// The address sent to (WhatsApp id digits, BSUID, or phone).
    pub to_address: String,
    /// `text`, `template`, …
    pub kind: String,
    /// Text for search and previews.
    pub body_text: Option<String>,
    /// The validated provider request body.
    pub request: serde_json::Value,
    /// The message replied to.
    pub context_message_id: Option<String>,
    /// Send attempts allowed before the message fails.
    pub max_attempts: u32,
}

/// The WhatsApp id a provider resolved a recipient's number to, stored on the recipient's
/// contact by [`Store::mark_sent`].
#[derive(Debug, Clone, Copy)]
pub struct ResolvedWaId<'a> {
    /// The recipient contact.
    pub contact: ContactId,
    /// The WhatsApp id (digits).
    pub wa_id: &'a str,
    /// Its contact key, kept when the contact has one already.
    pub contact_key: &'a str,
}

/// An idempotency key and the hash of the request it came with.
/// One send of a group commit ([`Store::queue_sends`]).
#[derive(Debug, Clone)]
pub struct QueuedSend {
    /// The message.
    pub new: NewOutbound,
    /// Its id, chosen by the caller (the answer names it).
    pub id: MessageId,
    /// The client's `Idempotency-Key` and the hash of its request.
    pub idempotency: Option<(String, String)>,
    /// The answer stored for replays of the key.
    pub response: serde_json::Value,
}

#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    /// The client's key.
    pub key: &'a str,
    /// A hash of the request body, to tell a retry from a different request.
    pub request_hash: &'a str,
}

/// What queueing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    /// Queued now; the stored answer is `response`.
    New {
        /// The new message.
        id: MessageId,
        /// The answer recorded for the idempotency key.
        response: serde_json::Value,
    },
    /// The key was used before with the same request: here is the first answer.
    Replayed {
        /// HTTP status of the first answer.
        status: u16,
        /// Body of the first answer.
        response: serde_json::Value,
    },
    /// The key was used before with a different request.
    KeyReused,
}

impl Store {
    /// The answer already given for an idempotency key (a replay, or the key reused with
    /// another request), if the key was used.
    pub async fn stored_answer(
        &self,
        tenant: TenantId,
        key: IdempotencyKey<'_>,
    ) -> Result<Option<Queued>> {
        let row: Option<(String, i64, String)> = with_pool!(self, p => sqlx::query_as(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
        )
        .bind(tenant.to_string())
        .bind(key.key)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|(hash, status, body)| {
            if hash == key.request_hash {
                Queued::Replayed {
                    status: u16::try_from(status).unwrap_or(202),
                    response: serde_json::from_str(&body).unwrap_or_default(),
                }
            } else {
                Queued::KeyReused
            }
        }))
    }

    /// Writes the message (`queued`), its send job and the idempotency record in one transaction;
    /// `respond` builds the answer from the new id, stored so retries get the same answer.
    pub async fn queue_outbound(
        &self,
        new: &NewOutbound,
        idempotency: Option<IdempotencyKey<'_>>,
        respond: impl Fn(MessageId) -> serde_json::Value,
    ) -> Result<Queued> {
        self.queue_outbound_via(new, idempotency, respond, |send| async move {
            Ok(self.queue_sends(std::slice::from_ref(&send)).await? == [true])
        })
        .await
    }

    /// [`Store::queue_outbound`] with the write done by `commit` (e.g. a group commit of
    /// [`Store::queue_sends`]), which answers whether the send was queued (`false`: its key
    /// was taken meanwhile). A repeated key answers what its first request got.
    pub async fn queue_outbound_via<E, F, Fut>(
        &self,
        new: &NewOutbound,
        idempotency: Option<IdempotencyKey<'_>>,
        respond: impl Fn(MessageId) -> serde_json::Value,
        commit: F,
    ) -> std::result::Result<Queued, E>
    where
        E: From<StoreError>,
        F: Fn(QueuedSend) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<bool, E>>,
    {
        for _ in 0..2 {
            if let Some(key) = idempotency
                && let Some(done) = self.stored_answer(new.tenant, key).await?
            {
                return Ok(done);
            }
            let id = MessageId::new();
            let response = respond(id);
            let send = QueuedSend {
                new: new.clone(),
                id,
                idempotency: idempotency.map(|k| (k.key.to_owned(), k.request_hash.to_owned())),
                response: response.clone(),
            };
            if commit(send).await? {
                return Ok(Queued::New { id, response });
            }
            // A concurrent request with the same key won the race: answer like it did.
        }
        Err(StoreError::Conflict("idempotency key".into()).into())
    }

    /// Queues many sends in one transaction (one fsync): the send API's group commit. Each
    /// send's idempotency key, message and job are written together; a send whose key is
    /// already taken writes nothing and answers `false` (the caller then reads the stored
    /// answer), without disturbing the others.
    pub async fn queue_sends(&self, sends: &[QueuedSend]) -> Result<Vec<bool>> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let mut accepted = vec![true; sends.len()];
        // Keys are claimed in one global order (tenant, key), so two groups claiming the same
        // keys on PostgreSQL wait for each other instead of deadlocking.
        let mut order: Vec<usize> = (0..sends.len()).collect();
        order.sort_by(|&a, &b| {
            let key = |i: usize| {
                (
                    sends[i].new.tenant.to_string(),
                    sends[i].idempotency.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        for i in order {
            let s = &sends[i];
            accepted[i] = match &s.idempotency {
                Some((key, hash)) => {
                    with_tx!(tx, c => sqlx::query(
                        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, response_status, response_body, created_at) \
                         VALUES ($1, $2, $3, 202, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(s.new.tenant.to_string())
                    .bind(key)
                    .bind(hash)
                    .bind(s.response.to_string())
                    .bind(now)
                    .execute(c)
                    .await?
                    .rows_affected())
                        == 1
                }
                None => true,
            };
        }
        let queued: Vec<&QueuedSend> = sends
            .iter()
            .zip(&accepted)
            .filter_map(|(s, ok)| ok.then_some(s))
            .collect();
        for chunk in queued.chunks(256) {
            let sql = format!(
                "INSERT INTO messages (id, tenant_id, channel_id, conversation_id, contact_id, direction, kind, status, body_text, \
                 content, context_message_id, to_address, created_at, updated_at) VALUES {}",
                value_rows(
                    chunk.len(),
                    "(?, ?, ?, ?, ?, 'out', ?, 'queued', ?, ?, NULL, ?, ?, ?)"
                )
            );
            let sql = crate::db::for_backend(tx.backend(), sql);
            with_tx!(tx, c => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for s in chunk {
                    let n = &s.new;
                    q = q
                        .bind(s.id.to_string())
                        .bind(n.tenant.to_string())
                        .bind(n.channel.to_string())
                        .bind(n.conversation.map(|c| c.to_string()))
                        .bind(n.contact.map(|c| c.to_string()))
                        .bind(&n.kind)
                        .bind(&n.body_text)
                        .bind(serde_json::json!({ "request": n.request }).to_string())
                        .bind(&n.to_address)
                        .bind(now)
                        .bind(now);
                }
                q.execute(c).await?.rows_affected()
            });
        }
        let jobs = queued
            .iter()
            .map(|s| {
                NewJob::new(SEND_MESSAGE, serde_json::json!({ "message_id": s.id }))
                    .for_tenant(s.new.tenant)
                    .on_queue("send")
                    .max_attempts(s.new.max_attempts)
            })
            .collect::<Vec<_>>();
        tx.enqueue_many(&jobs).await?;
        tx.commit().await?;
        Ok(accepted)
    }

    /// Records a successful provider call: the provider's id, status `sent` (never backwards),
    /// any statuses that arrived before this answer, and, when the provider said which WhatsApp
    /// id the number resolved to, that id on the recipient contact (how AR/MX/BR number variants
    /// converge). One transaction, so one write turn per send.
    pub async fn mark_sent(
        &self,
        tenant: TenantId,
        id: MessageId,
        channel: ChannelId,
        provider_message_id: &str,
        resolved: Option<ResolvedWaId<'_>>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = now_millis();
        with_tx!(tx, c => sqlx::query(
            "UPDATE messages SET provider_message_id = $3, attempts = attempts + 1, last_attempt_at = $4, updated_at = $4, \
             status = CASE WHEN status = 'queued' THEN 'sent' ELSE status END, error_code = NULL, error_message = NULL \
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(provider_message_id)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        if let Some(r) = resolved {
            with_tx!(tx, c => sqlx::query(
                "UPDATE contacts SET wa_id = $3, contact_key = COALESCE(contact_key, $4), updated_at = $5 \
                 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(r.contact.to_string())
            .bind(tenant.to_string())
            .bind(r.wa_id)
            .bind(r.contact_key)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        }
        let outcome = tx
            .apply_recorded_statuses(tenant, channel, provider_message_id)
            .await?;
        let status = match outcome {
            crate::inbound::StatusOutcome::Applied { status, .. } => status,
            _ => "sent".to_owned(),
        };
        let data = serde_json::json!({
            "message_id": id, "provider_message_id": provider_message_id, "status": status,
            "reported": "sent", "channel_id": channel, "timestamp": crate::from_millis(now_millis()),
        });
        tx.emit_event(tenant, crate::events::types::MESSAGE_STATUS, data)
            .await?;
        tx.commit().await
    }

    /// Records a failed attempt with the provider's code and a sentence; `final_failure` marks
    /// the message `failed` (no more attempts) and tells the tenant's application.
    pub async fn mark_attempt_failed(
        &self,
        tenant: TenantId,
        id: MessageId,
        code: &str,
        sentence: &str,
        final_failure: bool,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let failed = with_tx!(tx, c => sqlx::query(
            "UPDATE messages SET attempts = attempts + 1, last_attempt_at = $3, updated_at = $3, error_code = $4, \
             error_message = $5, status = CASE WHEN $6 AND status IN ('queued', 'sent') THEN 'failed' ELSE status END \
             WHERE id = $1 AND tenant_id = $2 AND status IN ('queued', 'sent')",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(now_millis())
        .bind(code)
        .bind(sentence)
        .bind(final_failure)
        .execute(c)
        .await?
        .rows_affected());
        if final_failure && failed > 0 {
            let data = serde_json::json!({
                "message_id": id, "status": "failed", "reported": "failed",
                "timestamp": crate::from_millis(now_millis()),
                "error": { "code": code, "message": sentence },
            });
            tx.emit_event(tenant, crate::events::types::MESSAGE_STATUS, data)
                .await?;
        }
        tx.commit().await
    }
}
