//! The worker pool: claims jobs of one queue and runs their handlers, a few at a time.
//!
//! It wakes at once when this process commits a job (and, on PostgreSQL, when any instance
//! does, through `LISTEN`), and otherwise polls. On shutdown it stops claiming and waits for the
//! jobs in hand to finish.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chasqui_core::backoff::Backoff;
use chrono::Utc;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::Store;
use crate::error::Result;
use crate::jobs::{FailOutcome, Job, NOTIFY_CHANNEL};

/// How a handler reports a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (optionally not before the given delay).
    #[error("{message}")]
    Retry {
        /// What went wrong.
        message: String,
        /// A minimum delay (e.g. a provider's `Retry-After`).
        after: Option<Duration>,
    },
    /// Will never succeed; park it in the dead-letter list now.
    #[error("{0}")]
    Permanent(String),
    /// Not now, and not a failure: run again after this delay without using up an attempt
    /// (a rate limit, an open circuit breaker, a channel waiting for re-authorization).
    #[error("deferred: {reason}")]
    Defer {
        /// Why.
        reason: String,
        /// How long to wait.
        after: Duration,
    },
}

impl JobError {
    /// A retryable failure with the default schedule.
    pub fn retry(message: impl Into<String>) -> Self {
        JobError::Retry {
            message: message.into(),
            after: None,
        }
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type HandlerFn = dyn Fn(Job) -> HandlerFuture + Send + Sync;

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Handlers {
    map: HashMap<String, Arc<HandlerFn>>,
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

impl Handlers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of `kind`.
    pub fn on<F, Fut>(mut self, kind: &str, f: F) -> Self
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.map.insert(
            kind.to_owned(),
            Arc::new(move |job| Box::pin(f(job)) as HandlerFuture),
        );
        self
    }
}

/// How a pool behaves.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The queue served.
    pub queue: String,
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// How long a claim is held before another worker may take the job.
    pub lease: Duration,
    /// Fallback polling interval when no wake-up arrives.
    pub poll_interval: Duration,
    /// Retry spacing.
    pub backoff: Backoff,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            queue: "default".into(),
            concurrency: 4,
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            backoff: Backoff::default(),
        }
    }
}

/// Claims and runs jobs.
#[derive(Debug, Clone)]
pub struct WorkerPool {
    store: Store,
    handlers: Handlers,
    opts: PoolOptions,
}

impl WorkerPool {
    /// A pool over `store` with `handlers`.
    pub fn new(store: Store, handlers: Handlers, opts: PoolOptions) -> Self {
        Self {
            store,
            handlers,
            opts,
        }
    }

    /// Runs one claimed job to its outcome, recording it; public so tests can drive workers.
    pub async fn run_job(&self, job: Job) -> Result<()> {
        let started = std::time::Instant::now();
        let kind = job.kind.clone();
        let result = if job.attempt > job.max_attempts {
            // Claimed again after its lease expired on every attempt: its worker keeps dying.
            Err(JobError::Permanent(format!(
                "gave up after {} attempts whose workers stopped before finishing",
                job.max_attempts
            )))
        } else {
            match self.handlers.map.get(&job.kind) {
                Some(h) => h(job.clone()).await,
                None => Err(JobError::Permanent(format!(
                    "no handler for job kind `{}`",
                    job.kind
                ))),
            }
        };
        metrics::histogram!("chasqui_job_duration_seconds", "kind" => kind.clone())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                self.store.complete_job(&job).await?;
                metrics::counter!("chasqui_jobs_total", "kind" => kind, "outcome" => "done")
                    .increment(1);
            }
            Err(JobError::Defer { reason, after }) => {
                let at =
                    Utc::now() + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
                self.store.defer_job(&job, at, &reason).await?;
                metrics::counter!("chasqui_jobs_total", "kind" => kind, "outcome" => "deferred")
                    .increment(1);
            }
            Err(err) => {
                let retry_at = match &err {
                    JobError::Retry { after, .. } => {
                        let delay = self
                            .opts
                            .backoff
                            .delay_random(job.attempt)
                            .max(after.unwrap_or_default());
                        Some(
                            Utc::now()
                                + chrono::Duration::from_std(delay)
                                    .unwrap_or(chrono::Duration::MAX),
                        )
                    }
                    JobError::Permanent(_) | JobError::Defer { .. } => None,
                };
                let outcome = self
                    .store
                    .fail_job(&job, &err.to_string(), retry_at)
                    .await?;
                let label = match outcome {
                    FailOutcome::Retrying(_) => "retry",
                    FailOutcome::Dead => "dead",
                    FailOutcome::LeaseLost => "lease_lost",
                };
                tracing::warn!(job_id = %job.id, kind = %kind, attempt = job.attempt, outcome = label, error = %err, "job failed");
                metrics::counter!("chasqui_jobs_total", "kind" => kind, "outcome" => label)
                    .increment(1);
            }
        }
        Ok(())
    }

    /// Claims and runs due jobs until none is left; for tests and `chasqui replay`.
    pub async fn run_pending(&self) -> Result<usize> {
        let mut ran = 0;
        loop {
            let jobs = self
                .store
                .claim_jobs(&self.opts.queue, self.opts.concurrency, self.opts.lease)
                .await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            for job in jobs {
                self.run_job(job).await?;
            }
        }
    }

    /// Runs until `shutdown` turns true, then finishes the jobs in hand.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.opts.concurrency.max(1)));
        let mut running = JoinSet::new();
        let (wake_tx, mut wake_rx) = watch::channel(());
        if let Some(pool) = this.store.pg_pool().cloned() {
            running.spawn(listen_for_jobs(pool, wake_tx, shutdown.clone()));
        }
        while !*shutdown.borrow() {
            while running.try_join_next().is_some() {}
            let free = permits.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match this
                    .store
                    .claim_jobs(&this.opts.queue, free, this.opts.lease)
                    .await
                {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!(error = %e, "could not claim jobs; retrying");
                        Vec::new()
                    }
                }
            };
            let got_full_batch = free > 0 && claimed.len() == free;
            for job in claimed {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let worker = this.clone();
                running.spawn(async move {
                    if let Err(e) = worker.run_job(job).await {
                        tracing::error!(error = %e, "could not record a job's outcome; it will be retried after its lease");
                    }
                    drop(permit);
                });
            }
            if got_full_batch {
                continue;
            }
            let notified = this.store.jobs_ready().notified();
            tokio::select! {
                _ = notified => {}
                _ = wake_rx.changed() => {}
                _ = tokio::time::sleep(this.opts.poll_interval) => {}
                _ = permits.clone().acquire_owned(), if free == 0 => {}
                _ = shutdown.changed() => {}
            }
        }
        while running.join_next().await.is_some() {}
    }
}

/// Wakes the pool when another instance commits a job (PostgreSQL `LISTEN`).
async fn listen_for_jobs(
    pool: sqlx::PgPool,
    wake: watch::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "job LISTEN connection failed; polling meanwhile");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if listener.listen(NOTIFY_CHANNEL).await.is_err() {
            continue;
        }
        loop {
            tokio::select! {
                n = listener.recv() => match n {
                    Ok(_) => { let _ = wake.send(()); }
                    Err(_) => break,
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}
