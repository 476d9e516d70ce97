//! The send API end to end: validation, idempotency, the sender job against a local imitation of
//! the Cloud API (which records every request), statuses by webhook.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

const APP_SECRET: &str = "send-app-secret";
const TOKEN: &str = "EAAG-send-token";

/// A request the imitation received: path, Authorization header, JSON body.
type Recorded = (String, Option<String>, Value);

#[derive(Clone, Default)]
struct Graph {
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// Answers to give before succeeding: (HTTP status, body).
    failures: Arc<Mutex<Vec<(u16, Value)>>>,
    /// When each send arrived.
    times: Arc<Mutex<Vec<std::time::Instant>>>,
}

async fn graph_send(
    State(g): State<Graph>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    g.times.lock().unwrap().push(std::time::Instant::now());
    let n = {
        let mut r = g.requests.lock().unwrap();
        r.push((uri.path().to_owned(), auth, v.clone()));
        r.len()
    };
    if let Some((status, body)) = {
        let mut f = g.failures.lock().unwrap();
        if f.is_empty() {
            None
        } else {
            Some(f.remove(0))
        }
    } {
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body));
    }
    if v["status"] == "read" {
        return (StatusCode::OK, axum::Json(j!({"success": true})));
    }
    let to = v["to"].as_str().unwrap_or_default().to_owned();
    (
        StatusCode::OK,
        axum::Json(
            j!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": format!("wamid.TEST{n}")}]}),
        ),
    )
}

async fn start_graph() -> (Graph, String) {
    let g = Graph::default();
    let app = Router::new()
        .route("/{version}/{pnid}/messages", post(graph_send))
        .route(
            "/{version}/{pnid}",
            axum::routing::get(|| async {
                axum::Json(j!({"verified_name": "Taller Norte", "display_phone_number": "+1 555-000-0000", "id": "1000", "quality_rating": "GREEN"}))
            }),
        )
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, format!("http://{addr}"))
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn setup(db: Db) -> Option<(TestApp, Graph, String)> {
    setup_with(db, &[]).await
}

async fn setup_with(db: Db, extra: &[(&str, &str)]) -> Option<(TestApp, Graph, String)> {
    let mut env = vec![
        ("CHASQUI_META_APP_SECRET", APP_SECRET),
        ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true"),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_on(db, &env).await?;
    // These tests talk to their own imitation: keep the demo sandbox channel out of the way, so
    // sends without `channel_id` use the one channel below.
    let existing = json(
        app.authed(Method::GET, "/v1/channels")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    for c in existing["data"].as_array().unwrap() {
        let res = app
            .authed(
                Method::DELETE,
                &format!("/v1/channels/{}", c["id"].as_str().unwrap()),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    let (graph, base) = start_graph().await;
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "1000", "access_token": TOKEN, "settings": {"base_url": base}}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    Some((app, graph, ch["id"].as_str().unwrap().to_owned()))
}

/// A customer writes, opening the 24-hour window.
async fn customer_writes(app: &TestApp, from: &str, wamid: &str) {
    let now = chrono::Utc::now().timestamp().to_string();
    let body = serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "1000"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": now, "type": "text", "text": {"body": "hola"}}]
        }}]}]
    }))
    .unwrap();
    let res = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn status_webhook(app: &TestApp, wamid: &str, status: &str, to: &str) {
    let body = serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "1000"},
            "statuses": [{"id": wamid, "status": status, "timestamp": chrono::Utc::now().timestamp().to_string(), "recipient_id": to}]
        }}]}]
    }))
    .unwrap();
    let res = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn wait_for(app: &TestApp, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let m = json(
            app.authed(Method::GET, &format!("/v1/messages/{id}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if pred(&m) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {id} never reached the expected state");
}

async fn send_then_statuses(db: Db) {
    let Some((app, graph, _)) = setup(db).await else {
        return;
    };
    // Outside the window: free-form is refused, naming the fix.
    let res = app
        .authed(Method::POST, "/v1/messages")
        .json(&j!({"to": "+54 9 11 2345-6789", "type": "text", "text": {"body": "hola"}}))
        .send()
        .await
        .unwrap();
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "window_closed");
    assert!(graph.requests.lock().unwrap().is_empty());

    customer_writes(&app, "5491123456789", "wamid.IN1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = app.authed(Method::POST, "/v1/messages").json(&j!({"to": "+54 9 11 2345-6789", "type": "text", "text": {"body": "¡Hola Ana! Tu turno es mañana."}})).send().await.unwrap();
    let queued = json(res, 202).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["to"], "5491123456789");
    let id = queued["id"].as_str().unwrap().to_owned();
    let sent = wait_for(&app, &id, |m| m["status"] == "sent").await;
    let wamid = sent["provider_message_id"].as_str().unwrap().to_owned();
    {
        let reqs = graph.requests.lock().unwrap();
        assert_eq!(reqs.len(), 1);
        let (path, auth, body) = &reqs[0];
        assert_eq!(path, "/v23.0/1000/messages");
        assert_eq!(auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(body["messaging_product"], "whatsapp");
        assert_eq!(body["to"], "5491123456789");
        assert_eq!(body["text"]["body"], "¡Hola Ana! Tu turno es mañana.");
    }
    // Statuses arrive out of order; the message only moves forward.
    status_webhook(&app, &wamid, "read", "5491123456789").await;
    status_webhook(&app, &wamid, "delivered", "5491123456789").await;
    // The two webhooks are processed concurrently: wait until both are in the history.
    let read = wait_for(&app, &id, |m| {
        m["status"] == "read" && m["statuses"].as_array().is_some_and(|s| s.len() >= 2)
    })
    .await;
    let history: Vec<&str> = read["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert!(
        history.contains(&"read") && history.contains(&"delivered"),
        "{read}"
    );
    // The reply belongs to the customer's conversation.
    let convs = json(
        app.authed(Method::GET, "/v1/conversations")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(convs["data"].as_array().unwrap().len(), 1);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn send_then_statuses_sqlite() {
    send_then_statuses(Db::Sqlite).await;
}

#[tokio::test]
async fn send_then_statuses_postgres() {
    send_then_statuses(Db::Postgres).await;
}

#[tokio::test]
async fn idempotency_keys_return_the_first_answer_even_when_racing() {
    let Some((app, graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    customer_writes(&app, "5491123456789", "wamid.IN2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = j!({"to": "5491123456789", "type": "text", "text": {"body": "una sola vez"}});
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let req = app
            .authed(Method::POST, "/v1/messages")
            .header("idempotency-key", "order-42")
            .json(&body);
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().json::<Value>().await.unwrap()
        }));
    }
    let a = tasks.remove(0).await.unwrap();
    let b = tasks.remove(0).await.unwrap();
    assert_eq!(a["id"], b["id"], "{a} {b}");
    let again = json(
        app.authed(Method::POST, "/v1/messages")
            .header("idempotency-key", "order-42")
            .json(&body)
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert_eq!(again["id"], a["id"]);
    let other = j!({"to": "5491123456789", "type": "text", "text": {"body": "otra cosa"}});
    let res = app
        .authed(Method::POST, "/v1/messages")
        .header("idempotency-key", "order-42")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 409).await).0, "idempotency_key_reused");
    wait_for(&app, a["id"].as_str().unwrap(), |m| m["status"] == "sent").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        graph.requests.lock().unwrap().len(),
        1,
        "one message, one provider call"
    );
    app.shutdown().await.unwrap();
}

/// Sends accepted together share one commit; each keeps its own answer: repeated keys get the
/// first answer even inside one group, and every accepted send reaches the provider once.
async fn a_burst_of_sends_is_queued_together_and_each_goes_out_once(db: Db) {
    let Some((app, graph, _)) = setup(db).await else {
        return;
    };
    // One customer per distinct message, so Meta's per-customer pair rate never delays them.
    let customers: Vec<String> = (0..20)
        .map(|c| format!("54911234{:05}", 50_000 + c))
        .collect();
    for (c, to) in customers.iter().enumerate() {
        customer_writes(&app, to, &format!("wamid.BURST{c}")).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (key, text, to) = if i < 20 {
            (
                Some(format!("burst-{}", i % 10)),
                format!("con clave {}", i % 10),
                customers[i % 10].clone(),
            )
        } else {
            (None, format!("sin clave {i}"), customers[i - 10].clone())
        };
        let mut req = app
            .authed(Method::POST, "/v1/messages")
            .json(&j!({"to": to, "type": "text", "text": {"body": text}}));
        if let Some(k) = &key {
            req = req.header("idempotency-key", k);
        }
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 202);
            (
                key,
                res.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        }));
    }
    let mut by_key = std::collections::HashMap::new();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (key, id) = t.await.unwrap();
        if let Some(k) = key
            && let Some(first) = by_key.insert(k, id.clone())
        {
            assert_eq!(first, id, "one key, one message");
        }
        ids.insert(id);
    }
    assert_eq!(ids.len(), 20, "10 keyed messages and 10 without a key");
    for id in &ids {
        wait_for(&app, id, |m| m["status"] == "sent").await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        graph.requests.lock().unwrap().len(),
        20,
        "each message sent once"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_burst_of_sends_is_queued_together_and_each_goes_out_once_sqlite() {
    a_burst_of_sends_is_queued_together_and_each_goes_out_once(Db::Sqlite).await;
}

#[tokio::test]
async fn a_burst_of_sends_is_queued_together_and_each_goes_out_once_postgres() {
    a_burst_of_sends_is_queued_together_and_each_goes_out_once(Db::Postgres).await;
}

#[tokio::test]
async fn retryable_failures_retry_and_permanent_ones_fail_with_a_sentence() {
    let Some((app, graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    customer_writes(&app, "5491123456789", "wamid.IN3").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Three 5xx answers, then success: one message, sent once.
    graph.failures.lock().unwrap().extend(
        (0..3).map(|_| (500, j!({"error": {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2, "fbtrace_id": "x"}}))),
    );
    let q = json(
        app.authed(Method::POST, "/v1/messages")
            .json(&j!({"to": "5491123456789", "type": "text", "text": {"body": "reintento"}}))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    let id = q["id"].as_str().unwrap().to_owned();
    // Retries back off (seconds), so allow time.
    let mut sent = Value::Null;
    for _ in 0..120 {
        let m = json(
            app.authed(Method::GET, &format!("/v1/messages/{id}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if m["status"] == "sent" {
            sent = m;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        sent["status"], "sent",
        "never sent after the provider recovered"
    );
    assert_eq!(sent["attempts"], 4);
    assert_eq!(graph.requests.lock().unwrap().len(), 4);

    // A permanent error fails the message at once with the provider's code and a sentence.
    graph.failures.lock().unwrap().push((
        400,
        j!({"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026, "fbtrace_id": "y"}}),
    ));
    let q = json(
        app.authed(Method::POST, "/v1/messages")
            .json(&j!({"to": "5491123456789", "type": "text", "text": {"body": "no llega"}}))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    let failed = wait_for(&app, q["id"].as_str().unwrap(), |m| m["status"] == "failed").await;
    assert_eq!(failed["error"]["code"], "131026");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("131026"),
        "{failed}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_sends_get_precise_errors() {
    let Some((app, _graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    for (body, code, field) in [
        (
            j!({"to": "+54 9 11 2345-6789", "type": "text"}),
            "missing_field",
            "text",
        ),
        (
            j!({"to": "123", "type": "text", "text": {"body": "x"}}),
            "",
            "to",
        ),
        (
            j!({"type": "text", "text": {"body": "x"}}),
            "recipient_required",
            "",
        ),
        (
            j!({"to": "5491123456789", "type": "template", "template": {"name": "nope", "language": {"code": "es"}}}),
            "template_not_found",
            "template.name",
        ),
        (
            j!({"to": "5491123456789", "type": "text", "text": {"body": "x"}, "colour": "red"}),
            "unknown_field",
            "colour",
        ),
    ] {
        let res = app
            .authed(Method::POST, "/v1/messages")
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = json(res, 422).await;
        let (got, _) = error_of(&err);
        if !code.is_empty() {
            assert_eq!(got, code, "{body} -> {err}");
        }
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{body} -> {err}");
        }
    }
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn mark_read_with_typing_health_and_test_send() {
    let Some((app, graph, channel)) = setup(Db::Sqlite).await else {
        return;
    };
    customer_writes(&app, "5491123456789", "wamid.README").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let msgs = json(
        app.authed(Method::GET, "/v1/messages?direction=in")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let id = msgs["data"][0]["id"].as_str().unwrap().to_owned();
    let r = json(
        app.authed(Method::POST, &format!("/v1/messages/{id}/read"))
            .json(&j!({"typing": true}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(r["read"], true);
    {
        let reqs = graph.requests.lock().unwrap();
        let (_, _, body) = reqs.last().unwrap();
        assert_eq!(body["status"], "read");
        assert_eq!(body["message_id"], "wamid.README");
        assert_eq!(body["typing_indicator"]["type"], "text");
    }
    let health = json(
        app.authed(Method::GET, &format!("/v1/channels/{channel}/health"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(health["breaker"]["state"], "closed", "{health}");
    assert_eq!(health["rate"]["per_second"], 80.0);
    assert!(health["provider"].is_object(), "{health}");
    let t = json(
        app.authed(Method::POST, &format!("/v1/channels/{channel}/test"))
            .json(&j!({"to": "5491123456789"}))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    let sent = wait_for(&app, t["id"].as_str().unwrap(), |m| m["status"] == "sent").await;
    assert!(sent["text"].as_str().unwrap().contains("test message"));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn sends_from_one_number_are_spaced_at_its_throughput() {
    let Some((app, graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    let n = 200usize;
    let numbers: Vec<String> = (0..n)
        .map(|i| format!("54911{:08}", 20_000_000 + i))
        .collect();
    // 200 customers write in one batched webhook (Meta batches), opening their windows.
    let now = chrono::Utc::now().timestamp().to_string();
    let contacts: Vec<Value> = numbers
        .iter()
        .map(|w| j!({"profile": {"name": "C"}, "wa_id": w}))
        .collect();
    let messages: Vec<Value> = numbers
        .iter()
        .enumerate()
        .map(|(i, w)| j!({"from": w, "id": format!("wamid.BATCH{i}"), "timestamp": now, "type": "text", "text": {"body": "hola"}}))
        .collect();
    let body = serde_json::to_vec(&j!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550000000", "phone_number_id": "1000"},
        "contacts": contacts, "messages": messages}}]}]}))
    .unwrap();
    let res = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for _ in 0..400 {
        if app
            .store
            .list_receipts("pending", 1, None)
            .await
            .unwrap()
            .items
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for w in &numbers {
        json(
            app.authed(Method::POST, "/v1/messages")
                .json(&j!({"to": w, "type": "text", "text": {"body": "turno confirmado"}}))
                .send()
                .await
                .unwrap(),
            202,
        )
        .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while graph.times.lock().unwrap().len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} sent",
            graph.times.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut times = graph.times.lock().unwrap().clone();
    times.sort();
    // At 80/s, 200 sends need at least 199/80 ≈ 2.5 s; never more than 80 (+ a little timing
    // slack) inside any one second.
    let span = times[n - 1] - times[0];
    assert!(
        span >= Duration::from_millis(2_200),
        "200 sends took only {span:?}: the 80/s limit was not applied"
    );
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| **u - *t < Duration::from_secs(1))
            .count();
        assert!(in_window <= 85, "{in_window} sends within one second");
    }
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn uploaded_media_is_sent_by_id_through_a_signed_link() {
    let Some((app, graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    customer_writes(&app, "5491123456789", "wamid.MEDIA").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A tiny valid PNG.
    let png: Vec<u8> = hex::decode(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4850000000049454e44ae426082",
    )
    .unwrap();
    let mut form = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"factura.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    form.extend_from_slice(&png);
    form.extend_from_slice(b"\r\n--b0undary--\r\n");
    let up = json(
        app.authed(Method::POST, "/v1/media")
            .header("content-type", "multipart/form-data; boundary=b0undary")
            .body(form)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let media_id = up["id"].as_str().unwrap();
    let q = json(
        app.authed(Method::POST, "/v1/messages")
            .json(&j!({"to": "5491123456789", "type": "image", "image": {"id": media_id, "caption": "Tu factura"}}))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    wait_for(&app, q["id"].as_str().unwrap(), |m| m["status"] == "sent").await;
    let link = {
        let reqs = graph.requests.lock().unwrap();
        let (_, _, body) = reqs.last().unwrap();
        assert!(body["image"].get("id").is_none(), "{body}");
        assert_eq!(body["image"]["caption"], "Tu factura");
        body["image"]["link"].as_str().unwrap().to_owned()
    };
    // The provider can fetch it without our API key; a tampered link cannot.
    let res = app.client.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);
    let tampered = link.replace("sig=", "sig=00");
    assert_eq!(
        app.client.get(&tampered).send().await.unwrap().status(),
        403
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_provider_outage_opens_the_breaker_and_everything_goes_out_after_it() {
    let Some((app, graph, channel)) = setup_with(
        Db::Sqlite,
        &[
            ("CHASQUI_WHATSAPP_BREAKER_RESET_MS", "1500"),
            ("WHATSAPP_RETRY_ATTEMPTS", "10"),
        ],
    )
    .await
    else {
        return;
    };
    let customers: Vec<String> = (0..6)
        .map(|i| format!("549112{:07}", 4_000_000 + i))
        .collect();
    for (i, c) in customers.iter().enumerate() {
        customer_writes(&app, c, &format!("wamid.OUTAGE{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The provider answers 503 to the next 8 calls.
    graph.failures.lock().unwrap().extend(
        (0..8).map(|_| (503, j!({"error": {"message": "Service unavailable", "type": "OAuthException", "code": 2, "fbtrace_id": "z"}}))),
    );
    let mut ids = Vec::new();
    for c in &customers {
        let q = json(
            app.authed(Method::POST, "/v1/messages")
                .json(&j!({"to": c, "type": "text", "text": {"body": "aviso"}}))
                .send()
                .await
                .unwrap(),
            202,
        )
        .await;
        ids.push(q["id"].as_str().unwrap().to_owned());
    }
    // The breaker opens during the outage…
    let mut saw_open = false;
    for _ in 0..200 {
        let h = json(
            app.authed(Method::GET, &format!("/v1/channels/{channel}/health"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if h["breaker"]["state"] == "open" {
            saw_open = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_open, "the circuit breaker never opened");
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "chasqui_channel_breaker_opened{{channel_id=\"{channel}\"}}"
        )),
        "breaker state not in /metrics: {}",
        metrics
            .lines()
            .filter(|l| l.contains("breaker"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // …and every message still goes out once the provider is back; none failed.
    for id in &ids {
        let mut last = Value::Null;
        for _ in 0..240 {
            last = json(
                app.authed(Method::GET, &format!("/v1/messages/{id}"))
                    .send()
                    .await
                    .unwrap(),
                200,
            )
            .await;
            if last["status"] == "sent" {
                break;
            }
            assert_ne!(last["status"], "failed", "{last}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(last["status"], "sent", "{last}");
    }
    // While it was open nobody hammered the provider: 8 failures plus one success per message.
    let calls = graph.requests.lock().unwrap().len();
    assert_eq!(calls, 8 + ids.len(), "calls to the provider: {calls}");
    app.shutdown().await.unwrap();
}
