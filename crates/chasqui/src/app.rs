//! Building and running the service: one path shared by `chasqui serve` and the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use chasqui_core::api_key::ApiKey;
use chasqui_core::plan::Plan;
use chasqui_store::events::PRUNE_BATCH;
use chasqui_store::tenants::Tenant;
use chasqui_store::worker::{PoolOptions, WorkerPool};
use chasqui_store::{ConnectOptions, Store, StoreError};
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::jobs;
use crate::master_key::MasterKeys;

/// Opens the database named by the configuration and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let mut opts = ConnectOptions::new(config.database_url());
    opts.max_connections = config.storage.max_connections;
    Store::connect(&opts).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            config.database_url_redacted()
        )
    })
}

/// The demo tenant created on an instance's very first start; its key is shown once.
#[derive(Debug)]
pub struct Demo {
    /// The tenant.
    pub tenant: Tenant,
    /// Its API key, never stored in clear.
    pub api_key: ApiKey,
}

/// A service ready to run: state built, socket bound.
#[derive(Debug)]
pub struct App {
    /// Shared state.
    pub state: AppState,
    listener: TcpListener,
    /// Set only on the first start of a fresh database.
    pub demo: Option<Demo>,
}

impl App {
    /// Opens storage and keys, makes the demo tenant on a fresh database, and binds the socket
    /// (`listen` port 0 picks a free port, as tests do).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = open_store(&config).await?;
        let released = store.release_orphaned_leases().await?;
        if released > 0 {
            tracing::warn!(
                jobs = released,
                "resuming jobs left running by a process that stopped abruptly"
            );
        }
        let (keys, warning) = MasterKeys::load(&config)?;
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (CHASQUI_LISTEN / --listen)",
                    config.server.listen
                )
            })?;
        let demo = store
            .create_demo_tenant_once("Demo", Plan::Inicial)
            .await?
            .map(|(tenant, api_key)| Demo { tenant, api_key });
        if let Some(d) = &demo {
            let addr = listener.local_addr()?;
            crate::sandbox::create_demo_channel(&store, &keys, d.tenant.id, addr).await?;
        }
        // With `--listen 127.0.0.1:0` the port is chosen now; links we hand out must name it.
        let mut config = config;
        config.server.listen = listener.local_addr()?;
        let state = AppState::new(store, config, keys)?;
        Ok(Self {
            state,
            listener,
            demo,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves HTTP and runs the workers until `shutdown` resolves, then finishes in-flight
    /// requests and jobs (bounded by `server.shutdown_grace_secs`).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let grace = self.state.config.server.shutdown_grace();
        let workers = self.state.config.workers.enabled.then(|| {
            let state = self.state.clone();
            let stop = stop_rx.clone();
            tokio::spawn(async move { run_workers(&state, stop).await })
        });
        let router = http::router(self.state.clone());
        let server =
            axum::serve(self.listener, router).with_graceful_shutdown(stopped(stop_rx.clone()));
        let signal = tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests and jobs");
            let _ = stop_tx.send(true);
        });
        let mut served = tokio::spawn(server.into_future());
        tokio::select! {
            r = &mut served => r.context("HTTP server task failed")?.context("HTTP server failed")?,
            _ = stopped(stop_rx.clone()) => {
                if tokio::time::timeout(grace, &mut served).await.is_err() {
                    tracing::warn!("requests still running after the shutdown grace period were cut");
                    served.abort();
                }
            }
        }
        if let Some(w) = workers
            && tokio::time::timeout(grace, w).await.is_err()
        {
            tracing::warn!(
                "jobs still running after the grace period; their leases will expire and they will be retried"
            );
        }
        signal.abort();
        self.state.store.close().await;
        Ok(())
    }
}

/// Resolves once the stop flag is raised.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The worker pools: `default` (webhook processing, deliveries, media) and `send` (provider
/// calls, which may wait on rate limits and must not hold up the rest), each with every handler.
pub fn worker_pools(state: &AppState) -> Vec<WorkerPool> {
    let w = &state.config.workers;
    ["default", "send"]
        .into_iter()
        .map(|queue| {
            WorkerPool::new(
                state.store.clone(),
                jobs::handlers(state),
                PoolOptions {
                    queue: queue.into(),
                    concurrency: if queue == "send" {
                        w.concurrency.max(8)
                    } else {
                        w.concurrency
                    },
                    lease: w.lease(),
                    poll_interval: w.poll_interval(),
                    ..PoolOptions::default()
                },
            )
        })
        .collect()
}

/// Runs every worker pool, the inbound processor, and the event retention ([`run_event_retention`]), until `stop`
/// turns true.
pub async fn run_workers(state: &AppState, stop: watch::Receiver<bool>) {
    let mut runs: Vec<_> = worker_pools(state)
        .into_iter()
        .map(|p| tokio::spawn(p.run(stop.clone())))
        .collect();
    runs.push(tokio::spawn(crate::inbound::process::run_processor(
        state.clone(),
        stop.clone(),
    )));
    runs.push(tokio::spawn(run_event_retention(
        state.store.clone(),
        state.config.events.retention_days,
        stop.clone(),
    )));
    for r in runs {
        let _ = r.await;
    }
}

/// When the first retention pass runs: soon after start, so a backlog starts clearing (and a
/// lowered `events.retention_days` takes effect), but not in the middle of start-up.
const RETENTION_FIRST_PASS: Duration = Duration::from_secs(60);

/// Time between retention passes.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Pause between two batches of a pass, so other writers (SQLite has one) get their turn.
const RETENTION_BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Keeps the event log from growing forever: a retention pass ([`prune_expired_events`])
/// shortly after start and then every hour, until `stop`. Returns at once when
/// `retention_days` is 0 (keep forever). Several instances may run it: their deletes only
/// overlap, and each event goes once.
pub async fn run_event_retention(store: Store, retention_days: u32, stop: watch::Receiver<bool>) {
    if retention_days == 0 {
        return;
    }
    let mut wait = RETENTION_FIRST_PASS;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stopped(stop.clone()) => return,
        }
        wait = RETENTION_INTERVAL;
        let started = std::time::Instant::now();
        match prune_expired_events(&store, retention_days, Some(&stop)).await {
            Ok(0) => tracing::debug!(retention_days, "event retention: nothing to delete"),
            Ok(deleted) => tracing::info!(
                deleted,
                retention_days,
                elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "event retention: deleted events (and their finished deliveries) past the retention"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "event retention pass failed; it runs again in an hour"
            ),
        }
    }
}

/// One retention pass: deletes, [`PRUNE_BATCH`] per transaction, every event recorded more
/// than `retention_days` days ago whose deliveries have all finished, with those deliveries
/// (see [`Store::prune_events`]). Stops between batches once `stop` is raised. Returns how
/// many events it deleted.
pub async fn prune_expired_events(
    store: &Store,
    retention_days: u32,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<u64, StoreError> {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(retention_days));
    let mut deleted = 0;
    loop {
        let n = store.prune_events(cutoff, PRUNE_BATCH).await?;
        deleted += n;
        if n < PRUNE_BATCH as u64 || stop.is_some_and(|s| *s.borrow()) {
            return Ok(deleted);
        }
        tokio::time::sleep(RETENTION_BATCH_PAUSE).await;
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (not when
/// first polled), so a signal that arrives while the server is starting is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                tracing::warn!("could not install signal handlers; stop with SIGKILL");
                std::future::pending::<()>().await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Backdates events by `days` with SQL, as if they had been recorded then.
    async fn backdate(url: &str, ids: &[String], days: i64) {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for id in ids {
            sqlx::query("UPDATE events SET created_at = created_at - $1 WHERE id = $2")
                .bind(days * 86_400_000)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn a_retention_pass_deletes_what_is_past_the_retention_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = Store::connect(&ConnectOptions::new(url.clone()))
            .await
            .unwrap();
        let (t, _, _) = store
            .create_tenant_with_key("A", Plan::Inicial, "test")
            .await
            .unwrap();
        let emit = || store.emit_event(t.id, "message.received", serde_json::json!({}));
        let old = emit().await.unwrap();
        let young = emit().await.unwrap();
        backdate(&url, &[old.to_string()], 31).await;
        backdate(&url, &[young.to_string()], 29).await;
        // A backlog of more than two batches, as after turning retention on for a busy tenant.
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
             INSERT INTO events (id, tenant_id, type, data, created_at) \
             SELECT 'evt_backlog_' || i, $1, 'message.received', '{}', $2 FROM n",
        )
        .bind(t.id.to_string())
        .bind((Utc::now() - chrono::Duration::days(400)).timestamp_millis())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        assert_eq!(prune_expired_events(&store, 30, None).await.unwrap(), 2501);
        assert!(store.event(t.id, old).await.is_err());
        assert!(store.event(t.id, young).await.is_ok());
        assert_eq!(prune_expired_events(&store, 30, None).await.unwrap(), 0);
        assert_eq!(prune_expired_events(&store, 28, None).await.unwrap(), 1);

        // Retention 0 keeps events forever: the task ends at once. Otherwise it waits for
        // its first pass and ends as soon as it is told to stop.
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::time::timeout(
            Duration::from_secs(1),
            run_event_retention(store.clone(), 0, stop_rx.clone()),
        )
        .await
        .unwrap();
        let task = tokio::spawn(run_event_retention(store.clone(), 30, stop_rx));
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }
}
