//! Prometheus metrics: requests by matched route (never raw paths, so ids do not explode the
//! label set), latency histograms, job queue depth and the process's own figures.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();
/// Queue/state pairs reported before, so a gauge drops to zero when its rows are gone.
static SEEN_QUEUE_STATES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Installs the process-wide recorder once (tests build many apps in one process).
pub fn install() {
    EXPORTER.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .ok()?
            .install_recorder()
            .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
            .ok()?;
        let process = metrics_process::Collector::default();
        process.describe();
        metrics::describe_counter!(
            "chasqui_http_requests_total",
            "HTTP requests by method, matched route and status"
        );
        metrics::describe_histogram!(
            "chasqui_http_request_duration_seconds",
            metrics::Unit::Seconds,
            "HTTP request latency by method and matched route"
        );
        metrics::describe_gauge!(
            "chasqui_jobs",
            "Jobs in the durable queue by queue and state"
        );
        metrics::describe_counter!("chasqui_jobs_total", "Job attempts by kind and outcome");
        metrics::describe_histogram!(
            "chasqui_group_commit_size",
            "Writes (webhooks or sends) committed together by one group commit"
        );
        metrics::describe_histogram!(
            "chasqui_db_write_wait_seconds",
            metrics::Unit::Seconds,
            "SQLite: how long a writer waited for its turn"
        );
        metrics::describe_histogram!(
            "chasqui_db_write_hold_seconds",
            metrics::Unit::Seconds,
            "SQLite: how long a writer held its turn (begin to commit)"
        );
        metrics::describe_gauge!(
            "chasqui_channel_breaker_state",
            "Circuit breaker per channel: 0 closed, 1 half-open, 2 open"
        );
        metrics::describe_gauge!(
            "chasqui_channel_breaker_opened",
            "How many times a channel's breaker has opened"
        );
        Some(Exporter { handle, process })
    });
}

/// Middleware recording every request under its matched route.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("chasqui_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("chasqui_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`: Prometheus text format.
pub async fn render(State(state): State<AppState>) -> Response {
    let Some(Some(exporter)) = EXPORTER.get() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n",
        )
            .into_response();
    };
    exporter.process.collect();
    match state.store.queue_depth().await {
        Ok(depths) => {
            let mut seen = SEEN_QUEUE_STATES.lock().unwrap_or_else(|p| p.into_inner());
            for (queue, s) in seen.iter() {
                if !depths.iter().any(|d| &d.queue == queue && &d.state == s) {
                    metrics::gauge!("chasqui_jobs", "queue" => queue.clone(), "state" => s.clone())
                        .set(0.0);
                }
            }
            for d in depths {
                metrics::gauge!("chasqui_jobs", "queue" => d.queue.clone(), "state" => d.state.clone()).set(d.count as f64);
                if !seen.iter().any(|(q, s)| q == &d.queue && s == &d.state) {
                    seen.push((d.queue, d.state));
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue depth unavailable for metrics"),
    }
    for (channel, snap) in state.outbound.breakers.snapshots() {
        metrics::gauge!("chasqui_channel_breaker_state", "channel_id" => channel.clone())
            .set(f64::from(snap.state.gauge()));
        metrics::gauge!("chasqui_channel_breaker_opened", "channel_id" => channel)
            .set(snap.times_opened as f64);
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        exporter.handle.render(),
    )
        .into_response()
}
