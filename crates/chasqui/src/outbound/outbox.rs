//! The send API's group commit: every validated send waiting for the writer is queued (its
//! idempotency key, message and job) in one transaction, then each gets its 202.

use std::sync::Arc;

use chasqui_core::ids::MessageId;
use chasqui_store::Store;
use chasqui_store::outbound::{IdempotencyKey, NewOutbound, Queued, QueuedSend};

use crate::group_commit::{GroupCommit, GroupCommitError, Limits};

/// Sends per commit at most, and bytes of their requests.
const LIMITS: Limits = Limits {
    items: 256,
    bytes: 8 * 1024 * 1024,
};

/// The handle the send API queues messages through.
#[derive(Clone, Debug)]
pub struct Outbox {
    writer: GroupCommit<QueuedSend, bool>,
}

/// Why a send was not queued.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The group commit failed.
    #[error(transparent)]
    Commit(#[from] GroupCommitError),
    /// Reading the stored answer of an idempotency key failed.
    #[error(transparent)]
    Store(#[from] chasqui_store::StoreError),
}

impl From<OutboxError> for crate::http::error::ApiError {
    fn from(e: OutboxError) -> Self {
        match e {
            OutboxError::Commit(e) => e.into(),
            OutboxError::Store(e) => e.into(),
        }
    }
}

impl Outbox {
    /// Starts the writers. Must be called inside a Tokio runtime.
    pub fn start(store: &Store) -> Self {
        let writer = GroupCommit::start(
            store,
            "sends",
            LIMITS,
            Arc::new(|store: Store, sends: Vec<QueuedSend>| {
                Box::pin(async move { store.queue_sends(&sends).await })
            }),
        );
        Self { writer }
    }

    /// Queues a send once per idempotency key: a repeated key answers what the first request
    /// got (or `KeyReused` for a different request), even when both arrive in one group.
    pub async fn queue(
        &self,
        store: &Store,
        new: &NewOutbound,
        idempotency: Option<IdempotencyKey<'_>>,
        respond: impl Fn(MessageId) -> serde_json::Value,
    ) -> Result<Queued, OutboxError> {
        // A cheap estimate of a row's size (the request is serialised once, by the store).
        let size = 1024 + new.body_text.as_ref().map_or(0, String::len);
        store
            .queue_outbound_via(new, idempotency, respond, |send| async move {
                Ok::<_, OutboxError>(self.writer.submit(send, size).await?)
            })
            .await
    }
}
