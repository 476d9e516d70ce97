//! `bench-loadgen`: sends one pre-made, unique request per line of a payload file over keep-alive
//! HTTP/1.1 connections and reports throughput and latency.
//!
//! Payload file: one request a line, `HEADER-VALUE<TAB>BODY` (the format of
//! `../shared/bench-peer/gen_payloads.py`: the first column is the `X-Hub-Signature-256` value;
//! `--column-header` names another header, an empty first column sends none). No line is sent
//! twice, so every acknowledged request is a distinct delivery. With `--method GET` the second
//! column is the request target (`/path?query`) instead of a body, for read benchmarks (the
//! URL then only names the host and port).
//!
//! Two modes:
//! - closed loop (`--rate 0`, the default): each of `--connections` sends its next request as soon
//!   as the previous answer arrives: the highest rate the server sustains ("full speed");
//! - open loop (`--rate R`): request `i` is due at `start + i/R`, whatever happened before, and its
//!   latency counts from that due time, so a stalled server is charged for the requests that queued
//!   behind the stall (no coordinated omission). Due requests wait for a free connection.
//!
//! Bounded by `--duration` and by the number of payload lines (`--count`). Prints a summary to
//! stderr and one machine-readable JSON line, prefixed `BENCH `, to stdout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(
    name = "bench-loadgen",
    about = "Unique pre-signed requests at full speed or a fixed rate, with latency histograms"
)]
struct Args {
    /// Target URL (`http://HOST:PORT/PATH`; plain HTTP only).
    #[arg(long)]
    url: String,
    /// Payload file: `HEADER-VALUE<TAB>BODY` per line.
    #[arg(long)]
    payloads: String,
    /// Header that carries the first column (empty column: not sent).
    #[arg(long, default_value = "x-hub-signature-256")]
    column_header: String,
    /// HTTP method. With `GET` each line's second column is the request target (`/path?query`,
    /// replacing the URL's path) and no body is sent; otherwise it is the body.
    #[arg(long, default_value = "POST")]
    method: String,
    /// Extra header for every request, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Skip this many payload lines first (to use a fresh slice of a shared file).
    #[arg(long, default_value_t = 0)]
    skip: usize,
    /// Send at most this many requests (default: every remaining payload line).
    #[arg(long)]
    count: Option<usize>,
    /// Requests per second, open loop; 0 sends as fast as answers come back (closed loop).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Stop after this many seconds (requests already sent are still awaited).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Keep-alive connections.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// Runtime threads (1 leaves the other core to the server on a 2-core machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// HTTP status that counts as acknowledged.
    #[arg(long, default_value_t = 200)]
    expect: u16,
    /// Name of this run in the output.
    #[arg(long, default_value = "run")]
    label: String,
}

struct Target {
    host_port: String,
    path: String,
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .context("only http:// URLs are supported")?;
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host_port.is_empty() {
        bail!("no host in {url}");
    }
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    Ok(Target {
        host_port,
        path: path.to_owned(),
    })
}

/// The payload file, split into (header value, body) byte ranges of one buffer.
struct Payloads {
    data: Vec<u8>,
    lines: Vec<(usize, usize, usize, usize)>,
}

impl Payloads {
    fn load(path: &str) -> anyhow::Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let mut lines = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let end = data[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |p| start + p);
            let line = &data[start..end];
            if !line.is_empty() {
                let tab = line
                    .iter()
                    .position(|&b| b == b'\t')
                    .with_context(|| format!("line {} has no TAB", lines.len() + 1))?;
                lines.push((start, start + tab, start + tab + 1, end));
            }
            start = end + 1;
        }
        Ok(Self { data, lines })
    }

    fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let (a, b, c, d) = self.lines[i];
        (&self.data[a..b], &self.data[c..d])
    }
}

struct Shared {
    target: Target,
    payloads: Payloads,
    column_header: String,
    extra_headers: String,
    method: String,
    first: usize,
    total: usize,
    next: AtomicU64,
    start: Instant,
    deadline: Instant,
    period: Option<Duration>,
}

#[derive(Default)]
struct ConnStats {
    latency: Option<Histogram<u64>>,
    service: Option<Histogram<u64>>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    sent: u64,
    last_done: Option<Instant>,
}

fn new_hist() -> Histogram<u64> {
    // Microseconds, up to 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

fn build_request(s: &Shared, i: usize, out: &mut Vec<u8>) {
    let (hv, second) = s.payloads.get(i);
    let get = s.method == "GET";
    // GET: the second column is the request target and there is no body.
    let (path, body): (&[u8], &[u8]) = if get {
        (second, b"")
    } else {
        (s.target.path.as_bytes(), second)
    };
    out.clear();
    out.extend_from_slice(s.method.as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(s.target.host_port.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !get {
        out.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !hv.is_empty() {
        out.extend_from_slice(s.column_header.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(hv);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(s.extra_headers.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Reads one response; returns its status and whether the connection stays usable.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<(u16, bool)> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before a response");
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head_len) = resp.parse(buf)? else {
            continue;
        };
        let status = resp.code.unwrap_or(0);
        let mut content_length = None;
        let mut chunked = false;
        let mut keep = resp.version == Some(1);
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                content_length = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok());
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h
                    .value
                    .windows(7)
                    .any(|w| w.eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                keep = !h.value.eq_ignore_ascii_case(b"close");
            }
        }
        if chunked {
            while !buf[head_len..].windows(5).any(|w| w == b"0\r\n\r\n") {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("connection closed inside a chunked body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        } else {
            let want = head_len + content_length.unwrap_or(0);
            while buf.len() < want {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("connection closed inside a body");
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if content_length.is_none() && status >= 200 && status != 204 && status != 304 {
                keep = false; // body runs to the end of the connection; not worth supporting
            }
        }
        return Ok((status, keep));
    }
}

async fn connect(s: &Shared) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(&s.target.host_port)
        .await
        .with_context(|| format!("connecting to {}", s.target.host_port))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn connection(s: Arc<Shared>) -> ConnStats {
    let mut st = ConnStats {
        latency: Some(new_hist()),
        service: Some(new_hist()),
        ..Default::default()
    };
    let mut stream: Option<TcpStream> = None;
    let mut req = Vec::with_capacity(4096);
    let mut resp = Vec::with_capacity(4096);
    loop {
        let i = s.next.fetch_add(1, Ordering::Relaxed) as usize;
        if i >= s.total {
            break;
        }
        let due = match s.period {
            Some(p) => {
                let due = s.start + p.mul_f64(i as f64);
                if due >= s.deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                if Instant::now() >= s.deadline {
                    // Due before the end but no connection was free in time: not sent, counted
                    // as missed (the server could not keep up with the rate).
                    break;
                }
                due
            }
            None => {
                let now = Instant::now();
                if now >= s.deadline {
                    break;
                }
                now
            }
        };
        build_request(&s, s.first + i, &mut req);
        st.sent += 1;
        let mut attempt_ok = false;
        if stream.is_none() {
            match connect(&s).await {
                Ok(c) => stream = Some(c),
                Err(_) => {
                    st.errors += 1;
                    continue;
                }
            }
        }
        let written = Instant::now();
        if let Some(c) = stream.as_mut()
            && c.write_all(&req).await.is_ok()
        {
            match read_response(c, &mut resp).await {
                Ok((status, keep)) => {
                    let done = Instant::now();
                    *st.statuses.entry(status).or_default() += 1;
                    if let Some(h) = st.latency.as_mut() {
                        let _ = h.record(done.duration_since(due).as_micros().max(1) as u64);
                    }
                    if let Some(h) = st.service.as_mut() {
                        let _ = h.record(done.duration_since(written).as_micros().max(1) as u64);
                    }
                    st.last_done = Some(done);
                    attempt_ok = true;
                    if !keep {
                        stream = None;
                    }
                }
                Err(_) => stream = None,
            }
        } else {
            stream = None;
        }
        if !attempt_ok {
            st.errors += 1;
        }
    }
    st
}

fn ms(us: u64) -> f64 {
    (us as f64) / 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let target = parse_url(&args.url)?;
    let method = args.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        bail!("--method `{}` is not an HTTP method", args.method);
    }
    let payloads = Payloads::load(&args.payloads)?;
    if args.skip >= payloads.lines.len() {
        bail!(
            "--skip {} leaves none of the {} payload lines",
            args.skip,
            payloads.lines.len()
        );
    }
    let available = payloads.lines.len() - args.skip;
    let mut total = args.count.unwrap_or(available).min(available);
    if args.rate > 0.0 {
        total = total.min((args.rate * args.duration).ceil() as usize);
    }
    let mut extra_headers = String::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("header `{h}` is not `Name: value`"))?;
        extra_headers.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
    }
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let connections = args.connections.max(1);
    let rate = args.rate;
    let (stats, start) = rt.block_on(async {
        // Connect first so the clock starts with every connection open.
        let probe = Shared {
            target,
            payloads,
            column_header: args.column_header.clone(),
            extra_headers,
            method,
            first: args.skip,
            total,
            next: AtomicU64::new(0),
            start: Instant::now(),
            deadline: Instant::now(),
            period: None,
        };
        drop(connect(&probe).await?);
        let start = Instant::now() + Duration::from_millis(5);
        let shared = Arc::new(Shared {
            start,
            deadline: start + Duration::from_secs_f64(args.duration),
            period: (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate)),
            ..probe
        });
        let mut tasks = Vec::with_capacity(connections);
        for _ in 0..connections {
            tasks.push(tokio::spawn(connection(shared.clone())));
        }
        let mut all = Vec::with_capacity(connections);
        for t in tasks {
            all.push(t.await?);
        }
        anyhow::Ok((all, start))
    })?;

    let mut latency = new_hist();
    let mut service = new_hist();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut errors, mut sent) = (0u64, 0u64);
    let mut last_done = start;
    for s in stats {
        if let Some(h) = &s.latency {
            latency.add(h).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if let Some(h) = &s.service {
            service.add(h).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for (k, v) in s.statuses {
            *statuses.entry(k).or_default() += v;
        }
        errors += s.errors;
        sent += s.sent;
        if let Some(d) = s.last_done {
            last_done = last_done.max(d);
        }
    }
    let scheduled = if rate > 0.0 { total as u64 } else { sent };
    let elapsed = last_done.duration_since(start).as_secs_f64().max(1e-9);
    let ok = statuses.get(&args.expect).copied().unwrap_or(0);
    let answered: u64 = statuses.values().sum();
    let end_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
        - Instant::now().duration_since(last_done).as_millis() as u64;
    let q = |h: &Histogram<u64>, p: f64| ms(h.value_at_quantile(p));
    let summary = serde_json::json!({
        "label": args.label,
        "mode": if rate > 0.0 { "open" } else { "closed" },
        "target_rate": rate,
        "connections": connections,
        "sent": sent,
        "ok": ok,
        "non_ok": answered - ok,
        "errors": errors,
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "duration_s": (elapsed * 1000.0).round() / 1000.0,
        "rps": (ok as f64 / elapsed).round(),
        "p50_ms": q(&latency, 0.50),
        "p90_ms": q(&latency, 0.90),
        "p99_ms": q(&latency, 0.99),
        "p999_ms": q(&latency, 0.999),
        "max_ms": ms(latency.max()),
        "svc_p50_ms": q(&service, 0.50),
        "svc_p99_ms": q(&service, 0.99),
        "svc_max_ms": ms(service.max()),
        "end_unix_ms": end_unix_ms,
        "payloads_left": available as u64 - sent,
        "missed": scheduled.saturating_sub(sent),
    });
    eprintln!(
        "{}: {} sent, {} x{}, {} other, {} errors, {} missed in {:.2} s = {:.0} ok/s; latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms (service p50 {:.2} p99 {:.2})",
        args.label,
        sent,
        ok,
        args.expect,
        answered - ok,
        errors,
        scheduled.saturating_sub(sent),
        elapsed,
        ok as f64 / elapsed,
        q(&latency, 0.5),
        q(&latency, 0.99),
        ms(latency.max()),
        q(&service, 0.5),
        q(&service, 0.99),
    );
    println!("BENCH {summary}");
    Ok(())
}
