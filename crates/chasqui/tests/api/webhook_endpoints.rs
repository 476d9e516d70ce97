//! Outgoing events: webhook endpoints, signed deliveries with retries, replay, auto-disable,
//! the URL guard, tenant isolation and the SSE stream.
//!
//! Most tests switch the application's own workers off and run the delivery jobs themselves
//! with a zero-delay retry schedule, so retries happen at once and in a known order. A local
//! HTTP server plays the tenant's application and keeps every request it receives.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chasqui::config::{CliOverrides, Config};
use chasqui::delivery::{self, Deliverer, DeliveryPolicy};
use chasqui::master_key::MasterKeys;
use chasqui_core::backoff::Backoff;
use chasqui_core::ids::{EventId, TenantId};
use chasqui_core::plan::Plan;
use chasqui_store::Store;
use chasqui_store::worker::{Handlers, PoolOptions, WorkerPool};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app, spawn_app_on};

// ---------------------------------------------------------------------------------------------
// The tenant's application

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn id(&self) -> String {
        self.header("webhook-id")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local HTTP server standing in for the tenant's application.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    fail_next: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

impl Receiver {
    /// Answers 500 to the first `fail_first` requests, then 204.
    async fn start(fail_first: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver {
            addr: listener.local_addr().unwrap(),
            log: Arc::default(),
            fail_next: Arc::new(AtomicUsize::new(fail_first)),
            failing: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Answer 500 to everything until told otherwise.
    fn set_failing(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver got {} requests, expected {n}",
            self.requests().len()
        );
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let fail = r.failing.load(Ordering::SeqCst)
        || r.fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let status = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    r.log.lock().unwrap().push(Received {
        headers,
        body,
        answered: status.as_u16(),
    });
    status
}

/// Verifies a delivery the way the Standard Webhooks specification tells receivers to: HMAC-SHA256
/// keyed with the base64-decoded secret after `whsec_`, over `{id}.{timestamp}.{body}`, compared
/// with each space-separated `v1,<base64>` signature; and a timestamp within five minutes.
fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(
            secret
                .strip_prefix("whsec_")
                .expect("secret starts with whsec_"),
        )
        .unwrap();
    let (id, ts) = (r.header("webhook-id"), r.header("webhook-timestamp"));
    let ts_num: i64 = ts.parse().unwrap();
    if (chrono::Utc::now().timestamp() - ts_num).abs() > 300 {
        return false;
    }
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&r.body);
    r.header("webhook-signature").split(' ').any(|part| {
        let Some(("v1", sig)) = part.split_once(',') else {
            return false;
        };
        let Ok(sig) = STANDARD.decode(sig) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(&signed);
        mac.verify_slice(&sig).is_ok()
    })
}

// ---------------------------------------------------------------------------------------------
// Set-up

const MASTER_KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A server that allows private webhook URLs, with known master keys; its own workers run only
/// when `workers` is true.
async fn app_on(db: Db, workers: bool) -> Option<(TestApp, MasterKeys)> {
    let app = spawn_app_on(
        db,
        &[
            ("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true"),
            ("CHASQUI_MASTER_KEY", MASTER_KEY),
            (
                "CHASQUI_WORKERS_ENABLED",
                if workers { "true" } else { "false" },
            ),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await?;
    let env = HashMap::from([("CHASQUI_MASTER_KEY".to_owned(), MASTER_KEY.to_owned())]);
    let (config, _) = Config::load(&CliOverrides::default(), &env).unwrap();
    let (keys, _) = MasterKeys::load(&config).unwrap();
    Some((app, keys))
}

/// Retries at once: `retries` zero delays, no jitter.
fn instant_policy(retries: usize) -> DeliveryPolicy {
    DeliveryPolicy {
        schedule: vec![Duration::ZERO; retries],
        jitter: 0.0,
        allow_private_urls: true,
        ..DeliveryPolicy::default()
    }
}

/// Runs every due delivery job, retries included, as the worker pool would.
async fn run_deliveries(store: &Store, keys: &MasterKeys, policy: DeliveryPolicy) -> usize {
    let deliverer = Deliverer::new(store.clone(), keys.clone(), policy);
    let pool = WorkerPool::new(
        store.clone(),
        Handlers::new().on(delivery::JOB_KIND, delivery::handler(deliverer)),
        PoolOptions {
            concurrency: 1,
            backoff: Backoff {
                base: Duration::ZERO,
                max: Duration::ZERO,
                factor: 1.0,
            },
            ..PoolOptions::default()
        },
    );
    pool.run_pending().await.unwrap()
}

async fn emit(store: &Store, tenant: &str, event_type: &str, data: Value) -> String {
    let tenant: TenantId = tenant.parse().unwrap();
    let mut tx = store.begin().await.unwrap();
    let id = tx.emit_event(tenant, event_type, data).await.unwrap();
    tx.commit().await.unwrap();
    id.to_string()
}

async fn create_endpoint(app: &TestApp, body: Value) -> Value {
    json(
        app.authed(Method::POST, "/v1/webhook-endpoints")
            .json(&body)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await
}

async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let body = json(
        app.authed(
            Method::GET,
            &format!("/v1/webhook-endpoints/{endpoint}/deliveries"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    body["data"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// Delivery

async fn failing_endpoint_recovers_and_gets_each_event_once(db: Db) {
    let Some((app, keys)) = app_on(db, false).await else {
        return;
    };
    let receiver = Receiver::start(3).await;
    let endpoint = create_endpoint(
        &app,
        j!({"url": receiver.url(), "events": ["message.received"], "description": "CRM"}),
    )
    .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();

    let first = emit(
        &app.store,
        &app.tenant_id,
        "message.received",
        j!({"message": {"id": "msg_1", "text": "hola"}, "conversation_id": "cnv_1"}),
    )
    .await;
    let unsubscribed = emit(
        &app.store,
        &app.tenant_id,
        "contact.created",
        j!({"contact": {}}),
    )
    .await;
    let second = emit(
        &app.store,
        &app.tenant_id,
        "message.received",
        j!({"message": {"id": "msg_2", "text": "¿abren hoy?"}}),
    )
    .await;

    run_deliveries(&app.store, &keys, instant_policy(7)).await;

    let got = receiver.requests();
    assert_eq!(got.len(), 5, "three failures, then one success per event");
    assert_eq!(got.iter().filter(|r| r.answered == 500).count(), 3);
    let mut by_id: HashMap<String, Vec<&Received>> = HashMap::new();
    for r in &got {
        by_id.entry(r.id()).or_default().push(r);
    }
    assert_eq!(
        by_id.keys().cloned().collect::<HashSet<_>>(),
        HashSet::from([first.clone(), second.clone()]),
        "only subscribed events are sent, under their event id"
    );
    assert!(!by_id.contains_key(&unsubscribed));
    for (id, attempts) in &by_id {
        assert_eq!(
            attempts.iter().filter(|r| r.answered < 300).count(),
            1,
            "{id} delivered exactly once"
        );
        for r in attempts {
            assert!(verify(&secret, r), "signature of {id} verifies");
            assert!(!verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", r));
            assert_eq!(r.header("content-type"), "application/json");
            assert!(r.header("user-agent").starts_with("Chasqui/"));
            let body = r.json();
            assert_eq!(body["type"], "message.received");
            assert!(
                chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok()
            );
        }
        // Every attempt of one event posts the same body.
        assert!(attempts.iter().all(|r| r.body == attempts[0].body));
    }
    assert_eq!(by_id[&first][0].json()["data"]["message"]["text"], "hola");
    assert_eq!(
        by_id[&second][0].json()["data"]["message"]["text"],
        "¿abren hoy?"
    );

    let log = deliveries(&app, &endpoint_id).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["state"] == "succeeded"));
    assert_eq!(
        log.iter()
            .map(|d| d["attempts"].as_u64().unwrap())
            .sum::<u64>(),
        5
    );
    assert!(log.iter().all(|d| d["next_attempt_at"].is_null()));
    let retried = log
        .iter()
        .find(|d| d["attempts"].as_u64().unwrap() > 1)
        .unwrap();
    let one = json(
        app.authed(
            Method::GET,
            &format!(
                "/v1/webhook-endpoints/{endpoint_id}/deliveries/{}",
                retried["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let statuses: Vec<u64> = one["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&204));
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 500));
    assert!(
        one["attempt_log"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 500")
    );
    assert_eq!(one["event"]["id"], retried["event_id"]);
    let endpoint = json(
        app.authed(Method::GET, &format!("/v1/webhook-endpoints/{endpoint_id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(endpoint["enabled"], true);
    assert!(
        endpoint["failing_since"].is_null(),
        "a success clears the failure streak"
    );
    assert!(endpoint["secret"].is_null(), "the secret is shown once");
}

#[tokio::test]
async fn failing_endpoint_recovers_and_gets_each_event_once_sqlite() {
    failing_endpoint_recovers_and_gets_each_event_once(Db::Sqlite).await;
}

#[tokio::test]
async fn failing_endpoint_recovers_and_gets_each_event_once_postgres() {
    failing_endpoint_recovers_and_gets_each_event_once(Db::Postgres).await;
}

#[tokio::test]
async fn the_running_server_delivers_and_a_replay_keeps_the_event_id() {
    let (app, _) = app_on(Db::Sqlite, true).await.unwrap();
    let receiver = Receiver::start(0).await;
    let endpoint = create_endpoint(&app, j!({"url": receiver.url()})).await;
    assert_eq!(endpoint["events"], j!(["*"]));
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let event = emit(
        &app.store,
        &app.tenant_id,
        "channel.updated",
        j!({"channel": {"status": "active"}}),
    )
    .await;

    let first = receiver.wait_for(1).await.remove(0);
    assert_eq!(first.id(), event);
    assert!(verify(&secret, &first));

    let mut log = Vec::new();
    for _ in 0..100 {
        log = deliveries(&app, &endpoint_id).await;
        if log[0]["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["state"], "succeeded");
    let delivery_id = log[0]["id"].as_str().unwrap().to_owned();

    let replayed = json(
        app.authed(
            Method::POST,
            &format!("/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"),
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    assert_eq!(replayed["state"], "pending");
    assert_eq!(replayed["event_id"], event.as_str());

    let again = receiver.wait_for(2).await.remove(1);
    assert_eq!(again.id(), event, "a replay carries the same webhook-id");
    assert_eq!(again.body, first.body);
    assert!(verify(&secret, &again));
    for _ in 0..100 {
        log = deliveries(&app, &endpoint_id).await;
        if log[0]["state"] == "succeeded" && log[0]["attempts"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        log.len(),
        1,
        "a replay is the same delivery, attempted again"
    );
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["state"], "succeeded");
    let audit = json(
        app.authed(Method::GET, "/v1/audit-log?limit=200")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"webhook_endpoint.created"));
    assert!(actions.contains(&"webhook_delivery.replayed"));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_until_enabled_again() {
    let (app, keys) = app_on(Db::Sqlite, false).await.unwrap();
    let receiver = Receiver::start(0).await;
    receiver.set_failing(true);
    let endpoint = create_endpoint(&app, j!({"url": receiver.url()})).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    // Two retries, and "too long" is any time at all.
    let policy = DeliveryPolicy {
        disable_after: Duration::ZERO,
        ..instant_policy(2)
    };

    let lost = emit(
        &app.store,
        &app.tenant_id,
        "message.status",
        j!({"status": "read"}),
    )
    .await;
    run_deliveries(&app.store, &keys, policy.clone()).await;
    assert_eq!(receiver.requests().len(), 3, "one try and two retries");
    let log = deliveries(&app, &id).await;
    assert_eq!(log[0]["state"], "failed");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 500);
    let failed_delivery = log[0]["id"].as_str().unwrap().to_owned();

    let ep = json(
        app.authed(Method::GET, &format!("/v1/webhook-endpoints/{id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ep["enabled"], false);
    assert!(
        ep["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("automatically")
    );
    assert!(!ep["failing_since"].is_null());

    // Nothing more is sent to a disabled endpoint, and it cannot be replayed to.
    emit(
        &app.store,
        &app.tenant_id,
        "message.status",
        j!({"status": "delivered"}),
    )
    .await;
    run_deliveries(&app.store, &keys, policy.clone()).await;
    assert_eq!(receiver.requests().len(), 3);
    assert_eq!(deliveries(&app, &id).await.len(), 1);
    let res = app
        .authed(
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/deliveries/{failed_delivery}/replay"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 409).await).0, "endpoint_disabled");

    // Enabled again: new events flow, and the lost one can be replayed with its id.
    receiver.set_failing(false);
    let ep = json(
        app.authed(Method::PATCH, &format!("/v1/webhook-endpoints/{id}"))
            .json(&j!({"enabled": true}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ep["enabled"], true);
    assert!(ep["disabled_reason"].is_null() && ep["failing_since"].is_null());
    let fresh = emit(
        &app.store,
        &app.tenant_id,
        "message.status",
        j!({"status": "sent"}),
    )
    .await;
    json(
        app.authed(
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/deliveries/{failed_delivery}/replay"),
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    run_deliveries(&app.store, &keys, policy).await;
    let ok: Vec<String> = receiver
        .requests()
        .into_iter()
        .filter(|r| r.answered < 300)
        .map(|r| r.id())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(ok.len(), 2);
    assert!(ok.contains(&fresh) && ok.contains(&lost));
}

#[tokio::test]
async fn private_addresses_are_refused_at_delivery_time_too() {
    let (app, keys) = app_on(Db::Sqlite, false).await.unwrap();
    let receiver = Receiver::start(0).await;
    let by_ip = create_endpoint(&app, j!({"url": receiver.url()})).await;
    let by_name = create_endpoint(
        &app,
        j!({"url": format!("http://localhost:{}/hook", receiver.addr.port())}),
    )
    .await;
    emit(
        &app.store,
        &app.tenant_id,
        "contact.created",
        j!({"contact": {}}),
    )
    .await;
    // This deliverer does not allow private addresses, as in production.
    let policy = DeliveryPolicy {
        allow_private_urls: false,
        ..instant_policy(0)
    };
    run_deliveries(&app.store, &keys, policy).await;
    assert!(
        receiver.requests().is_empty(),
        "nothing reached the private address"
    );
    for ep in [&by_ip, &by_name] {
        let log = deliveries(&app, ep["id"].as_str().unwrap()).await;
        assert_eq!(log[0]["state"], "failed");
        let err = log[0]["last_error"].as_str().unwrap();
        assert!(err.contains("loopback"), "{err}");
        assert!(log[0]["last_status_code"].is_null());
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_while() {
    let (app, keys) = app_on(Db::Sqlite, false).await.unwrap();
    let receiver = Receiver::start(0).await;
    let ep = create_endpoint(&app, j!({"url": receiver.url()})).await;
    let id = ep["id"].as_str().unwrap();
    let old = ep["secret"].as_str().unwrap().to_owned();
    let rotated = json(
        app.authed(
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));
    assert!(!rotated["previous_secret_valid_until"].is_null());
    emit(&app.store, &app.tenant_id, "message.received", j!({})).await;
    run_deliveries(&app.store, &keys, instant_policy(0)).await;
    let r = receiver.wait_for(1).await.remove(0);
    assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
    assert!(verify(&new, &r) && verify(&old, &r));
    let shown = json(
        app.authed(Method::GET, &format!("/v1/webhook-endpoints/{id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(shown["secret"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Endpoints

#[tokio::test]
async fn private_and_malformed_urls_are_refused_without_the_flag() {
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://0.0.0.0:8080/",
    ] {
        let res = app
            .authed(Method::POST, "/v1/webhook-endpoints")
            .json(&j!({"url": url}))
            .send()
            .await
            .unwrap();
        let body = json(res, 422).await;
        let (code, message) = error_of(&body);
        assert_eq!(code, "url_not_allowed", "{url}");
        assert_eq!(body["error"]["field"], "url");
        assert!(
            message.contains("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true"),
            "{message}"
        );
    }
    for url in [
        "ftp://93.184.216.34/x",
        "https://user:pw@93.184.216.34/",
        "not a url",
    ] {
        let res = app
            .authed(Method::POST, "/v1/webhook-endpoints")
            .json(&j!({"url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(&json(res, 422).await).0, "invalid_url", "{url}");
    }
    // A public address is accepted (no event is emitted, so nothing is ever sent to it).
    let ep = create_endpoint(&app, j!({"url": "https://93.184.216.34/hooks/chasqui"})).await;
    let id = ep["id"].as_str().unwrap();
    let res = app
        .authed(Method::PATCH, &format!("/v1/webhook-endpoints/{id}"))
        .json(&j!({"url": "http://192.168.0.1/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 422).await).0, "url_not_allowed");
    assert!(
        app.store
            .list_webhook_endpoints(app.tenant_id.parse().unwrap(), 10, None)
            .await
            .unwrap()
            .items[0]
            .url
            .starts_with("https://93.184")
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn endpoints_are_managed_and_their_secret_is_shown_once_and_stored_encrypted() {
    let (app, _) = app_on(Db::Sqlite, false).await.unwrap();
    let ep = create_endpoint(
        &app,
        j!({"url": "http://127.0.0.1:1/a", "events": ["message.status", "message.received", "message.status"], "description": "  ERP  "}),
    )
    .await;
    let id = ep["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whe_"));
    assert_eq!(ep["events"], j!(["message.status", "message.received"]));
    assert_eq!(ep["description"], "ERP");
    assert_eq!(ep["enabled"], true);
    let secret = ep["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        STANDARD.decode(&secret["whsec_".len()..]).unwrap().len(),
        32
    );

    // Never in clear in the database.
    let pool = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
    let hits: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM credentials WHERE ciphertext LIKE '%' || $1 || '%') + \
         (SELECT COUNT(*) FROM webhook_endpoints WHERE url || event_types || COALESCE(description, '') LIKE '%' || $1 || '%') + \
         (SELECT COUNT(*) FROM audit_log WHERE details LIKE '%' || $1 || '%')",
    )
    .bind(&secret["whsec_".len()..])
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(hits, 0);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE name = $1")
        .bind(format!("webhook_endpoint:{id}:secret"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);

    let res = app
        .authed(Method::POST, "/v1/webhook-endpoints")
        .json(&j!({"url": "http://127.0.0.1:1/a", "events": ["message.recieved"]}))
        .send()
        .await
        .unwrap();
    let body = json(res, 422).await;
    assert_eq!(error_of(&body).0, "unknown_event_type");
    assert_eq!(body["error"]["field"], "events[0]");
    assert_eq!(body["valid_event_types"].as_array().unwrap().len(), 5);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message.received")
    );

    let listed = json(
        app.authed(Method::GET, "/v1/webhook-endpoints")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(listed["data"][0]["secret"].is_null());

    let patched = json(
        app.authed(Method::PATCH, &format!("/v1/webhook-endpoints/{id}"))
            .json(&j!({"events": ["*"], "description": null, "enabled": false}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["events"], j!(["*"]));
    assert!(patched["description"].is_null());
    assert_eq!(patched["enabled"], false);
    // A disabled endpoint gets no deliveries.
    emit(&app.store, &app.tenant_id, "message.received", j!({})).await;
    assert!(deliveries(&app, &id).await.is_empty());

    let res = app
        .authed(Method::DELETE, &format!("/v1/webhook-endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .authed(Method::GET, &format!("/v1/webhook-endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "not_found");
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM credentials WHERE name LIKE 'webhook_endpoint:%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, 0, "the secret goes with its endpoint");
}

#[tokio::test]
async fn another_tenant_sees_none_of_it() {
    let (app, keys) = app_on(Db::Sqlite, false).await.unwrap();
    let receiver = Receiver::start(0).await;
    let ep = create_endpoint(&app, j!({"url": receiver.url()})).await;
    let id = ep["id"].as_str().unwrap().to_owned();
    let mine = emit(&app.store, &app.tenant_id, "message.received", j!({"n": 1})).await;
    run_deliveries(&app.store, &keys, instant_policy(0)).await;
    let delivery = deliveries(&app, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (other, _, other_key) = app
        .store
        .create_tenant_with_key("Otra", Plan::Inicial, "test")
        .await
        .unwrap();
    let as_other = |m: Method, path: &str| {
        app.client
            .request(m, app.url(path))
            .bearer_auth(other_key.expose())
    };
    for (m, path) in [
        (Method::GET, format!("/v1/webhook-endpoints/{id}")),
        (Method::PATCH, format!("/v1/webhook-endpoints/{id}")),
        (Method::DELETE, format!("/v1/webhook-endpoints/{id}")),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{id}/rotate-secret"),
        ),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{id}/deliveries"),
        ),
        (
            Method::GET,
            format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}"),
        ),
        (
            Method::POST,
            format!("/v1/webhook-endpoints/{id}/deliveries/{delivery}/replay"),
        ),
    ] {
        let res = as_other(m.clone(), &path)
            .json(&j!({"enabled": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(&json(res, 404).await).0, "not_found", "{m} {path}");
    }
    let listed = json(
        as_other(Method::GET, "/v1/webhook-endpoints")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(listed["data"].as_array().unwrap().is_empty());
    let events = json(
        as_other(Method::GET, "/v1/events?format=json")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(events["data"].as_array().unwrap().is_empty());

    // The other tenant's events reach neither this tenant's endpoint nor its event list.
    let theirs = emit(
        &app.store,
        &other.id.to_string(),
        "message.received",
        j!({"n": 2}),
    )
    .await;
    run_deliveries(&app.store, &keys, instant_policy(0)).await;
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(receiver.requests()[0].id(), mine);
    let events = json(
        app.authed(Method::GET, "/v1/events?format=json")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let ids: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    assert!(!ids.contains(&theirs.as_str()));
    let ep = json(
        app.authed(Method::GET, &format!("/v1/webhook-endpoints/{id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        ep["enabled"], true,
        "the other tenant's PATCH changed nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// The event stream

/// Reads an SSE response until `n` events have arrived; returns `(id, event, data)` of each.
async fn read_sse(res: &mut reqwest::Response, n: usize) -> Vec<(String, String, Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("events arrive within 10 s")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                out.push((id, event, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_event_stream_shows_new_events_and_resumes_after_the_last_one_seen() {
    let app = spawn_app().await;
    let before = emit(
        &app.store,
        &app.tenant_id,
        "contact.created",
        j!({"contact": {"n": 0}}),
    )
    .await;
    let mut res = app
        .authed(Method::GET, "/v1/events")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let e1 = emit(
        &app.store,
        &app.tenant_id,
        "message.received",
        j!({"message": {"text": "hola"}}),
    )
    .await;
    let got = read_sse(&mut res, 1).await;
    assert_eq!(
        got[0].0, e1,
        "the stream starts with events after it opened"
    );
    assert_ne!(got[0].0, before);
    assert_eq!(got[0].1, "message.received");
    assert_eq!(got[0].2["id"], e1.as_str());
    assert_eq!(got[0].2["type"], "message.received");
    assert_eq!(got[0].2["data"]["message"]["text"], "hola");
    let e2 = emit(
        &app.store,
        &app.tenant_id,
        "message.status",
        j!({"status": "read"}),
    )
    .await;
    let e3 = emit(
        &app.store,
        &app.tenant_id,
        "conversation.opened",
        j!({"conversation": {}}),
    )
    .await;
    let more = read_sse(&mut res, 2).await;
    assert_eq!([&more[0].0, &more[1].0], [&e2, &e3], "in order");
    drop(res);

    // A reconnecting client gets what it missed after its Last-Event-ID.
    let mut res = app
        .authed(Method::GET, "/v1/events")
        .header("last-event-id", &e1)
        .send()
        .await
        .unwrap();
    let resumed = read_sse(&mut res, 2).await;
    assert_eq!([&resumed[0].0, &resumed[1].0], [&e2, &e3]);
    drop(res);
    let mut res = app
        .authed(
            Method::GET,
            &format!("/v1/events?after={e2}&type=conversation.opened"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read_sse(&mut res, 1).await[0].0, e3);
    drop(res);

    // The same events as JSON pages, for polling.
    let page = json(
        app.authed(Method::GET, "/v1/events?format=json&limit=2")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [before.as_str(), e1.as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json(
        app.authed(
            Method::GET,
            &format!("/v1/events?format=json&cursor={cursor}"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    let res = app
        .authed(Method::GET, "/v1/events?format=xml")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 400).await).0, "invalid_query");
    let res = app
        .authed(Method::GET, "/v1/events?type=message.sent")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 422).await).0, "unknown_event_type");
    let res = app
        .authed(Method::GET, "/v1/events")
        .header("last-event-id", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 422).await).0, "invalid_cursor");
    let res = app.get("/v1/events").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let _: EventId = e1.parse().unwrap();
    app.shutdown().await.unwrap();
}
