//! The ceiling for the ingest benchmarks: an axum server whose handler reads the request body and
//! answers `200 ok`, nothing else. Whatever Chasqui does on top (signature check, a durable
//! commit) shows up as the distance from this server under the same load generator.
//!
//! `bench-hello [ADDR]` serves the ceiling (default `127.0.0.1:8091`).
//! `bench-hello --graph [ADDR]` serves a Graph API imitation instead: `POST /{version}/{id}/messages`
//! answers like the Cloud API with a fresh `wamid`, so outbound sends can be timed end to end
//! without leaving the machine. It counts what it received at `GET /stats`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

async fn ok(_body: Bytes) -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok")
}

async fn graph_send(
    State(count): State<Arc<AtomicU64>>,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    let to = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("to").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let answer = serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.BENCHOUT{n:012}")}],
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        answer.to_string(),
    )
}

async fn graph_stats(State(count): State<Arc<AtomicU64>>) -> String {
    format!("{{\"sends\":{}}}", count.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut graph = false;
    let mut addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 8091));
    for arg in std::env::args().skip(1) {
        if arg == "--graph" {
            graph = true;
        } else if let Ok(a) = arg.parse() {
            addr = a;
        } else {
            eprintln!("usage: bench-hello [--graph] [ADDR]   (got `{arg}`)");
            std::process::exit(2);
        }
    }
    let app = if graph {
        let count = Arc::new(AtomicU64::new(0));
        Router::new()
            .route("/{version}/{id}/messages", post(graph_send))
            .route("/stats", get(graph_stats))
            .with_state(count)
    } else {
        Router::new().fallback(ok)
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!(
        "bench-hello{} listening on {}",
        if graph { " (graph)" } else { "" },
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}
