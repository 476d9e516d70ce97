//! Webhook ingest's group commit: every verified delivery waiting for the writer is committed
//! in one transaction, then each gets its 200 (see [`crate::group_commit`]).

use std::sync::Arc;

use chasqui_core::ids::ReceiptId;
use chasqui_store::Store;
use chasqui_store::receipts::NewReceipt;
use tokio::sync::Notify;

use crate::group_commit::{GroupCommit, GroupCommitError, Limits};

/// Deliveries per commit at most, and bytes of bodies (bounds a transaction and its latency).
const LIMITS: Limits = Limits {
    items: 512,
    bytes: 16 * 1024 * 1024,
};

/// The handle request handlers use to store a delivery durably.
#[derive(Clone, Debug)]
pub struct Inbox {
    writer: GroupCommit<NewReceipt, ReceiptId>,
}

impl Inbox {
    /// Starts the writers. Must be called inside a Tokio runtime.
    pub fn start(store: &Store) -> Self {
        let writer = GroupCommit::start(
            store,
            "webhooks",
            LIMITS,
            Arc::new(|store: Store, receipts: Vec<NewReceipt>| {
                Box::pin(async move { store.store_receipts(&receipts).await })
            }),
        );
        Self { writer }
    }

    /// Stores one delivery; returns once it is committed (pending, for the processor).
    pub async fn store(&self, receipt: NewReceipt) -> Result<ReceiptId, GroupCommitError> {
        let size = receipt.body.len();
        self.writer.submit(receipt, size).await
    }

    /// Signalled after each commit, so the inbound processor starts at once.
    pub fn committed(&self) -> Arc<Notify> {
        self.writer.committed()
    }
}
