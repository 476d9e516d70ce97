//! The ceiling for the ingest benchmarks: an axum server whose handler reads the request body and
//! answers `200 ok`, nothing else. Whatever Chasqui does on top (signature check, a durable
//! commit) shows up as the distance from this server under the same load generator.
//!
//! `bench-hello [ADDR]` serves the ceiling (default `127.0.0.1:8091`).
//! `bench-hello --graph [ADDR]` serves a Graph API imitation instead: `POST /{version}/{id}/messages`
//! answers like the Cloud API with a fresh `wamid`, so outbound sends can be timed end to end
//! without leaving the machine. It counts what it received at `GET /stats`
//! (`{"sends": N}`; `GET /stats?detail=1` adds `"numbers": {phone_number_id: N, …}`), and it
//! keeps the arrival time of every request per sending number:
//!
//! - `GET /arrivals` → `{"clock": "ns", "unix_ns_at_start": …, "numbers": {"<phone_number_id>":
//!   [t, …]}}`, each `t` in nanoseconds since the imitation started (monotonic clock, taken as
//!   the handler starts, after the body was read), in arrival order;
//!   `GET /arrivals?phone_number_id=ID` only that number.
//! - `DELETE /arrivals` forgets them (the counts at `/stats` stay).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};

async fn ok(_body: Bytes) -> (StatusCode, &'static str) {
    (StatusCode::OK, "ok")
}

/// What the Graph imitation remembers.
struct Graph {
    sends: AtomicU64,
    started: Instant,
    unix_ns_at_start: u128,
    /// Per phone_number_id: its request count and the arrival times not yet forgotten.
    numbers: Mutex<HashMap<String, Number>>,
}

#[derive(Default)]
struct Number {
    count: u64,
    arrivals: Vec<u64>,
}

impl Graph {
    fn new() -> Self {
        Self {
            sends: AtomicU64::new(0),
            started: Instant::now(),
            unix_ns_at_start: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
            numbers: Mutex::new(HashMap::new()),
        }
    }

    fn numbers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Number>> {
        self.numbers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Shared = Arc<Graph>;

/// The value of `name` in the URI's query string, if any (no percent-decoding: ids are digits).
fn query<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

async fn graph_send(
    State(graph): State<Shared>,
    Path((_version, id)): Path<(String, String)>,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let at = u64::try_from(graph.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    {
        let mut numbers = graph.numbers();
        let n = numbers.entry(id).or_default();
        n.count += 1;
        n.arrivals.push(at);
    }
    let n = graph.sends.fetch_add(1, Ordering::Relaxed) + 1;
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

async fn graph_stats(State(graph): State<Shared>, uri: Uri) -> String {
    let sends = graph.sends.load(Ordering::Relaxed);
    if query(&uri, "detail").is_some_and(|v| v != "0") {
        let numbers: serde_json::Map<String, serde_json::Value> = graph
            .numbers()
            .iter()
            .map(|(id, n)| (id.clone(), n.count.into()))
            .collect();
        serde_json::json!({"sends": sends, "numbers": numbers}).to_string()
    } else {
        format!("{{\"sends\":{sends}}}")
    }
}

async fn graph_arrivals(
    State(graph): State<Shared>,
    uri: Uri,
) -> ([(&'static str, &'static str); 1], String) {
    let only = query(&uri, "phone_number_id");
    let numbers: serde_json::Map<String, serde_json::Value> = graph
        .numbers()
        .iter()
        .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
        .map(|(id, n)| (id.clone(), n.arrivals.clone().into()))
        .collect();
    let body = serde_json::json!({
        "clock": "ns",
        "unix_ns_at_start": graph.unix_ns_at_start.to_string(),
        "numbers": numbers,
    });
    ([("content-type", "application/json")], body.to_string())
}

async fn graph_forget_arrivals(State(graph): State<Shared>) -> StatusCode {
    for n in graph.numbers().values_mut() {
        n.arrivals = Vec::new();
    }
    StatusCode::NO_CONTENT
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
        Router::new()
            .route("/{version}/{id}/messages", post(graph_send))
            .route("/stats", get(graph_stats))
            .route(
                "/arrivals",
                get(graph_arrivals).delete(graph_forget_arrivals),
            )
            .with_state(Arc::new(Graph::new()))
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
