//! Crash safety under load: `kill -9` the server at random moments, restart it, and check that
//! nothing acknowledged was lost. Ignored by default (it takes about a minute); run it with
//!
//! ```sh
//! cargo test -p chasqui --test crash -- --ignored --nocapture
//! ```
//!
//! Environment: `CRASH_KILLS` (default 20), `DATABASE_URL` to run it on PostgreSQL, and
//! `CRASH_DB_RESTART` (a shell command, e.g. `pg_ctl restart …`) to also restart the database
//! under load every fourth round, with Chasqui left running.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const SECRET: &str = "crash-secret";
const CUSTOMERS: usize = 200;

fn customer(i: usize) -> String {
    format!("549112{:07}", 3_000_000 + i % CUSTOMERS)
}

fn start(data: &Path, extra: &[(&str, String)]) -> (Child, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chasqui"));
    cmd.env_clear()
        .env("CHASQUI_DATA_DIR", data)
        .env("CHASQUI_LOG", "warn,chasqui::cli=info")
        .env("CHASQUI_LOG_FORMAT", "json")
        .env("CHASQUI_META_APP_SECRET", SECRET)
        .env("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true")
        .env("CHASQUI_WORKERS_POLL_INTERVAL_MS", "100")
        // On PostgreSQL a dead worker's jobs wait for their lease to run out.
        .env("CHASQUI_WORKERS_LEASE_SECS", "5")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(url) = std::env::var("DATABASE_URL") {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        if line.contains("Chasqui is listening") {
            let v: Value = serde_json::from_str(&line).unwrap();
            break v["address"].as_str().unwrap().to_owned();
        }
    };
    let out = child.stdout.take().unwrap();
    let (otx, orx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = otx.send(line);
        }
    });
    let mut banner = String::new();
    while let Ok(line) = orx.recv_timeout(Duration::from_millis(300)) {
        banner.push_str(&line);
        banner.push('\n');
    }
    (child, format!("http://{addr}"), banner)
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn inbound(wamid: &str, from: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550000000", "phone_number_id": "900"},
        "contacts": [{"profile": {"name": "C"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": chrono::Utc::now().timestamp().to_string(), "type": "text", "text": {"body": wamid}}]}}]}]}))
    .unwrap()
}

/// The provider imitation: records the tag of every send it receives.
async fn provider(received: Arc<Mutex<HashMap<String, usize>>>) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/{v}/{p}/messages",
        post(move |body: axum::Json<Value>| {
            let received = received.clone();
            async move {
                let tag = body["biz_opaque_callback_data"].as_str().unwrap_or_default().to_owned();
                *received.lock().unwrap().entry(tag.clone()).or_default() += 1;
                axum::Json(json!({"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": format!("wamid.{tag}")}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[test]
#[ignore = "kills the server 20 times; run with --ignored"]
fn nothing_acknowledged_is_lost_across_kill_9() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let received = Arc::new(Mutex::new(HashMap::new()));
    let graph = rt.block_on(provider(received.clone()));
    let (mut child, mut base, banner) = start(dir.path(), &[]);
    let key = banner
        .split_whitespace()
        .find(|w| w.starts_with("chq_live_"))
        .expect("demo key")
        .to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let channel = rt.block_on(async {
        let res = client
            .post(format!("{base}/v1/channels"))
            .bearer_auth(&key)
            .json(&json!({"kind": "whatsapp_cloud", "phone_number_id": "900", "access_token": "x", "settings": {"base_url": graph}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let channel: Value = res.json().await.unwrap();
        // Customers write first so free-form sends are allowed (200 of them, so the per-recipient
        // pair rate of about one message every 6 s does not slow the run down).
        for i in 0..CUSTOMERS {
            let body = inbound(&format!("wamid.OPEN{i}"), &customer(i));
            client.post(format!("{base}/webhooks/whatsapp")).header("x-hub-signature-256", sign(&body)).body(body).send().await.unwrap();
        }
        channel["id"].as_str().unwrap().to_owned()
    });
    std::thread::sleep(Duration::from_secs(2));

    let acked_webhooks: Arc<Mutex<HashSet<String>>> = Arc::default();
    let accepted_sends: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut seq = 0u64;
    let mut db_restarts = 0;
    for round in 0..kills {
        let deadline = Instant::now() + Duration::from_millis(300 + (round as u64 * 137) % 900);
        rt.block_on(async {
            while Instant::now() < deadline {
                seq += 1;
                let wamid = format!("wamid.R{round}N{seq}");
                let body = inbound(&wamid, &customer(seq as usize));
                let hook = client.post(format!("{base}/webhooks/whatsapp")).header("x-hub-signature-256", sign(&body)).body(body).send();
                let tag = format!("S{round}N{seq}");
                let send = client
                    .post(format!("{base}/v1/messages"))
                    .bearer_auth(&key)
                    .json(&json!({"channel_id": channel, "to": customer(seq as usize), "type": "text", "text": {"body": "x"}, "biz_opaque_callback_data": tag}))
                    .send();
                let (h, s) = tokio::join!(hook, send);
                if h.is_ok_and(|r| r.status() == 200) {
                    acked_webhooks.lock().unwrap().insert(wamid);
                }
                match s {
                    Ok(r) if r.status() == 202 => {
                        accepted_sends.lock().unwrap().insert(tag);
                    }
                    Ok(r) if r.status() != 503 => {
                        let st = r.status();
                        panic!("send refused with {st}: {}", r.text().await.unwrap_or_default());
                    }
                    _ => {}
                }
            }
        });
        if let Ok(cmd) = std::env::var("CRASH_DB_RESTART")
            && round % 4 == 3
        {
            // The database goes away and comes back while Chasqui keeps serving: requests in the
            // gap must fail (never a 200 for something not stored), and work must resume after.
            let status = Command::new("sh").args(["-c", &cmd]).status().unwrap();
            assert!(status.success(), "CRASH_DB_RESTART failed");
            db_restarts += 1;
            continue;
        }
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let (c, b, _) = start(dir.path(), &[]);
        child = c;
        base = b;
    }
    // Let the last instance drain everything.
    let all_in = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut seen = HashSet::new();
            let mut cursor: Option<String> = None;
            loop {
                let url = match &cursor {
                    Some(c) => format!("{base}/v1/messages?direction=in&limit=200&cursor={c}"),
                    None => format!("{base}/v1/messages?direction=in&limit=200"),
                };
                let page: Value = client
                    .get(url)
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for m in page["data"].as_array().unwrap() {
                    assert!(
                        seen.insert(m["provider_message_id"].as_str().unwrap().to_owned()),
                        "a message stored twice"
                    );
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            let missing_in = acked_webhooks
                .lock()
                .unwrap()
                .iter()
                .filter(|w| !seen.contains(*w))
                .count();
            let missing_out = accepted_sends
                .lock()
                .unwrap()
                .iter()
                .filter(|t| !received.lock().unwrap().contains_key(*t))
                .count();
            if (missing_in == 0 && missing_out == 0) || Instant::now() > deadline {
                break (missing_in, missing_out);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let duplicates: usize = received
        .lock()
        .unwrap()
        .values()
        .filter(|n| **n > 1)
        .map(|n| n - 1)
        .sum();
    println!(
        "rounds: {kills} (database restarts: {db_restarts}); webhooks acknowledged: {}; sends accepted: {}; provider duplicates (in flight at a kill): {duplicates}",
        acked_webhooks.lock().unwrap().len(),
        accepted_sends.lock().unwrap().len()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(all_in.0, 0, "acknowledged webhooks missing after the kills");
    assert_eq!(
        all_in.1, 0,
        "accepted sends that never reached the provider"
    );
    assert!(
        duplicates <= kills,
        "more duplicates than sends in flight at the kills"
    );
}
