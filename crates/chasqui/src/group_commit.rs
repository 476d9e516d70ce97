//! Group commit: request handlers hand their write to a writer task and wait; the writer
//! commits every write that arrived meanwhile in one transaction (one fsync), then answers
//! each. Every answer still goes out only after its own commit, and a burst costs a handful of
//! commits instead of one per request. Webhook ingest and the send API use it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chasqui_store::{Backend, Store, StoreError};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// Writes waiting for a writer before new ones are refused (back-pressure: 503).
const QUEUE_DEPTH: usize = 16 * 1024;

/// Why a write was not committed.
#[derive(Debug, thiserror::Error)]
pub enum GroupCommitError {
    /// The database refused the group; nothing of it was kept.
    #[error("{0}")]
    Store(#[source] Arc<StoreError>),
    /// Too many writes are waiting; the client should retry later.
    #[error("too many writes are waiting to be committed")]
    Overloaded,
    /// The writer stopped (the process is shutting down).
    #[error("the writer has stopped")]
    Stopped,
}

impl From<GroupCommitError> for crate::http::error::ApiError {
    fn from(e: GroupCommitError) -> Self {
        use axum::http::StatusCode;
        match e {
            GroupCommitError::Store(e) => match &*e {
                StoreError::Unavailable(_) => Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "The database is not reachable right now; nothing was kept. Retry shortly.",
                ),
                other => Self::internal(other),
            },
            GroupCommitError::Overloaded | GroupCommitError::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Too many requests are waiting to be stored; nothing was kept. Retry shortly.",
            ),
        }
    }
}

/// What one group commit does: writes every item in one transaction and returns one answer per
/// item, in order.
pub type CommitFn<I, O> = Arc<
    dyn Fn(Store, Vec<I>) -> Pin<Box<dyn Future<Output = Result<Vec<O>, StoreError>> + Send>>
        + Send
        + Sync,
>;

/// Limits of one group.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items committed together at most.
    pub items: usize,
    /// Bytes committed together at most, as counted by the item's size function.
    pub bytes: usize,
}

struct Waiting<I, O> {
    item: I,
    size: usize,
    done: oneshot::Sender<Result<O, Arc<StoreError>>>,
}

/// The handle request handlers submit writes to.
pub struct GroupCommit<I, O> {
    queue: mpsc::Sender<Waiting<I, O>>,
    committed: Arc<Notify>,
}

impl<I, O> Clone for GroupCommit<I, O> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
            committed: self.committed.clone(),
        }
    }
}

impl<I, O> std::fmt::Debug for GroupCommit<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> GroupCommit<I, O> {
    /// Starts the writers: one on SQLite (one writer at a time anyway), a few on PostgreSQL,
    /// whose commits can overlap. Must be called inside a Tokio runtime. `name` labels the
    /// group-size histogram.
    pub fn start(
        store: &Store,
        name: &'static str,
        limits: Limits,
        commit: CommitFn<I, O>,
    ) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let rx = Arc::new(Mutex::new(rx));
        let committed = Arc::new(Notify::new());
        let writers = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 1..writers {
            tokio::spawn(write_groups(
                store.clone(),
                rx.clone(),
                committed.clone(),
                commit.clone(),
                limits,
                name,
            ));
        }
        tokio::spawn(write_groups(
            store.clone(),
            rx,
            committed.clone(),
            commit,
            limits,
            name,
        ));
        Self { queue, committed }
    }

    /// Commits `item` with whatever else is waiting; returns once it is durable.
    pub async fn submit(&self, item: I, size: usize) -> Result<O, GroupCommitError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .try_send(Waiting { item, size, done })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => GroupCommitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => GroupCommitError::Stopped,
            })?;
        match answer.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(GroupCommitError::Store(e)),
            Err(_) => Err(GroupCommitError::Stopped),
        }
    }

    /// Signalled after each commit (wakes whoever processes what was written).
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }
}

/// One writer: takes whatever is waiting (up to the limits), commits it, answers, repeats.
async fn write_groups<I, O>(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Waiting<I, O>>>>,
    committed: Arc<Notify>,
    commit: CommitFn<I, O>,
    limits: Limits,
    name: &'static str,
) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut bytes = first.size;
            let mut group = vec![first];
            while group.len() < limits.items && bytes < limits.bytes {
                match rx.try_recv() {
                    Ok(w) => {
                        bytes += w.size;
                        group.push(w);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        let (items, answers): (Vec<_>, Vec<_>) =
            group.into_iter().map(|w| (w.item, w.done)).unzip();
        let count = items.len();
        metrics::histogram!("chasqui_group_commit_size", "writes" => name).record(count as f64);
        let started = std::time::Instant::now();
        let result = commit(store.clone(), items).await;
        metrics::histogram!("chasqui_group_commit_seconds", "writes" => name)
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(outs) if outs.len() == count => {
                // Wake every processor waiting now, and leave a permit for one that is busy
                // (it then starts its next round at once instead of after its poll interval).
                committed.notify_waiters();
                committed.notify_one();
                for (out, done) in outs.into_iter().zip(answers) {
                    let _ = done.send(Ok(out));
                }
            }
            Ok(outs) => {
                // A commit function that breaks its contract must not leave callers hanging.
                tracing::error!(
                    writes = name,
                    expected = count,
                    got = outs.len(),
                    "group commit answered the wrong number of items"
                );
                let e = Arc::new(StoreError::Corrupt {
                    column: "group commit",
                    reason: "wrong number of answers".into(),
                });
                for done in answers {
                    let _ = done.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::error!(writes = name, error = %e, count, "a group commit failed; nothing of it was kept");
                let e = Arc::new(e);
                for done in answers {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}
