//! Group commit for webhook ingest: request handlers hand their verified delivery to a writer
//! task and wait; the writer commits every delivery that arrived meanwhile in one transaction
//! (one fsync), then answers them all. Each 200 still goes out only after its own commit.

use std::sync::Arc;

use chasqui_core::ids::ReceiptId;
use chasqui_store::receipts::NewReceipt;
use chasqui_store::{Backend, Store, StoreError};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// Deliveries committed together at most (bounds a transaction's size and its latency).
const MAX_BATCH: usize = 512;

/// Bytes of bodies committed together at most (a few large media-less payloads, or many small).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Deliveries waiting for a writer before new ones are refused with 503 (back-pressure).
const QUEUE_DEPTH: usize = 16 * 1024;

/// Why a delivery was not stored.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The database refused the batch; the provider will retry.
    #[error("{0}")]
    Store(#[source] Arc<StoreError>),
    /// Too many deliveries are waiting; the provider should retry later.
    #[error("too many webhooks are waiting to be stored")]
    Overloaded,
    /// The writer stopped (the process is shutting down).
    #[error("the webhook writer has stopped")]
    Stopped,
}

struct Pending {
    receipt: NewReceipt,
    done: oneshot::Sender<Result<ReceiptId, Arc<StoreError>>>,
}

/// The handle request handlers use to store a delivery durably.
#[derive(Clone)]
pub struct Inbox {
    queue: mpsc::Sender<Pending>,
    committed: Arc<Notify>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl Inbox {
    /// Starts the writers: one on SQLite (one writer at a time anyway), a few on PostgreSQL,
    /// whose commits can overlap. Must be called inside a Tokio runtime.
    pub fn start(store: &Store) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let rx = Arc::new(Mutex::new(rx));
        let committed = Arc::new(Notify::new());
        let writers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            tokio::spawn(write_batches(store.clone(), rx.clone(), committed.clone()));
        }
        Self { queue, committed }
    }

    /// Signalled after each commit, so the inbound processor starts at once.
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    /// Stores one delivery and its processing; returns once it is committed.
    pub async fn store(&self, receipt: NewReceipt) -> Result<ReceiptId, InboxError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .try_send(Pending { receipt, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => InboxError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => InboxError::Stopped,
            })?;
        match answer.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(InboxError::Store(e)),
            Err(_) => Err(InboxError::Stopped),
        }
    }
}

/// One writer: takes whatever is waiting (up to the limits), commits it, answers, repeats.
async fn write_batches(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    committed: Arc<Notify>,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut bytes = first.receipt.body.len();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(p) => {
                        bytes += p.receipt.body.len();
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let (receipts, answers): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.receipt, p.done)).unzip();
        metrics::histogram!("chasqui_webhook_batch_size").record(receipts.len() as f64);
        match store.store_receipts(&receipts).await {
            Ok(ids) => {
                committed.notify_one();
                for (id, done) in ids.into_iter().zip(answers) {
                    let _ = done.send(Ok(id));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, count = receipts.len(), "could not store a batch of webhooks; the providers will retry");
                let e = Arc::new(e);
                for done in answers {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}
