//! Building and running the service: one path shared by `chasqui serve` and the tests.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use chasqui_core::api_key::ApiKey;
use chasqui_core::plan::Plan;
use chasqui_store::tenants::Tenant;
use chasqui_store::worker::{PoolOptions, WorkerPool};
use chasqui_store::{ConnectOptions, Store};
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

/// Runs every worker pool until `stop` turns true.
pub async fn run_workers(state: &AppState, stop: watch::Receiver<bool>) {
    let runs: Vec<_> = worker_pools(state)
        .into_iter()
        .map(|p| tokio::spawn(p.run(stop.clone())))
        .collect();
    for r in runs {
        let _ = r.await;
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
