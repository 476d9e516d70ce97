//! Inbound webhooks end to end: real signed payloads from `shared/reference/whatsapp/` posted to
//! the server, processed by its workers, read back through the API.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

const APP_SECRET: &str = "test-app-secret";
const VERIFY_TOKEN: &str = "test-verify-token";

fn reference_dir() -> PathBuf {
    let dir = chasqui_testdata::reference_dir(env!("CARGO_MANIFEST_DIR"));
    assert!(
        dir.is_dir(),
        "the reference folder is missing at {}",
        dir.display()
    );
    dir
}

/// Signs a body the way Meta does (independently of the server's verifier).
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn app(db: Db) -> Option<TestApp> {
    spawn_app_on(
        db,
        &[
            ("CHASQUI_META_APP_SECRET", APP_SECRET),
            ("CHASQUI_META_VERIFY_TOKEN", VERIFY_TOKEN),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await
}

async fn post_meta(app: &TestApp, path: &str, body: &[u8], secret: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(secret, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// Waits until no receipt is waiting for processing.
async fn drained(app: &TestApp) {
    for _ in 0..400 {
        let pending = app.store.list_receipts("pending", 1, None).await.unwrap();
        if pending.items.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("webhooks were not processed in time");
}

async fn create_channel(app: &TestApp, key: &str, pnid: &str) -> Value {
    let res = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(key)
        .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": pnid, "access_token": "EAAG"}))
        .send()
        .await
        .unwrap();
    json(res, 201).await
}

/// Every webhook payload in the reference folder, with the message ids and statuses it carries
/// (read independently of the server's parser).
fn reference_webhooks() -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(reference_dir().join("whatsapp")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if v.get("entry").is_some() {
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                bytes,
                v,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() > 100,
        "expected the reference webhooks, found {}",
        out.len()
    );
    out
}

fn values<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for entry in v["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            out.extend(change["value"][key].as_array().into_iter().flatten());
        }
    }
    out
}

fn phone_number_ids(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in v["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if let Some(p) = change["value"]["metadata"]["phone_number_id"].as_str() {
                out.insert(p.to_owned());
            }
        }
    }
    out
}

async fn every_reference_webhook_becomes_the_right_rows(db: Db) {
    let Some(app) = app(db).await else { return };
    let hooks = reference_webhooks();
    let mut pnids = BTreeSet::new();
    for (_, _, v) in &hooks {
        pnids.extend(phone_number_ids(v));
    }
    // The App Dashboard's test button uses a fake number: leave it unrouted on purpose. SDK
    // fixtures with placeholder ids (`PHONE_NUMBER_ID`) go to a channel's own URL instead.
    pnids.remove("123456123");
    let routable =
        |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p != "123456123";
    for p in pnids.iter().filter(|p| routable(p)) {
        create_channel(&app, &app.api_key, p).await;
    }
    let own_app = create_channel(&app, &app.api_key, "4242424242").await;
    let own_path = format!("/webhooks/whatsapp/{}", own_app["id"].as_str().unwrap());
    let mut expected_messages: BTreeSet<(String, String)> = BTreeSet::new();
    let mut expected_statuses = 0;
    for (name, bytes, v) in &hooks {
        let ids = phone_number_ids(v);
        let pnid = ids.iter().next().cloned().unwrap_or_default();
        let (path, key) =
            if ids.iter().all(|p| routable(p)) || pnid.is_empty() || pnid == "123456123" {
                ("/webhooks/whatsapp", pnid.clone())
            } else {
                (own_path.as_str(), "own".to_owned())
            };
        let res = post_meta(&app, path, bytes, APP_SECRET).await;
        assert_eq!(res.status(), 200, "{name}");
        if pnid == "123456123" || pnid.is_empty() {
            continue;
        }
        for m in values(v, "messages") {
            expected_messages.insert((key.clone(), m["id"].as_str().unwrap().to_owned()));
        }
        expected_statuses += values(v, "statuses").len();
    }
    drained(&app).await;
    let dead = app.store.list_receipts("dead", 50, None).await.unwrap();
    assert!(
        dead.items.is_empty(),
        "dead letters: {:?}",
        dead.items.iter().map(|r| &r.last_error).collect::<Vec<_>>()
    );
    let unrouted = app.store.list_receipts("unrouted", 50, None).await.unwrap();
    for r in &unrouted.items {
        let k = r.route_key.as_deref().unwrap_or("");
        assert!(
            k == "phone_number_id:123456123" || k.starts_with("waba_id:"),
            "unexpectedly unrouted: {k}"
        );
    }
    assert!(
        unrouted
            .items
            .iter()
            .any(|r| r.route_key.as_deref() == Some("phone_number_id:123456123")),
        "the dashboard test payload is kept as unrouted"
    );

    // Every message id became exactly one message row, readable through the API.
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?direction=in&limit=200&cursor={c}"),
            None => "/v1/messages?direction=in&limit=200".to_owned(),
        };
        let page = json(app.authed(Method::GET, &path).send().await.unwrap(), 200).await;
        for m in page["data"].as_array().unwrap() {
            assert!(m["type"].is_string() && m["content"].is_object(), "{m}");
            seen += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected_messages.len());
    assert!(expected_statuses > 0);
    // A typed spot check: a location message keeps its coordinates.
    let loc = json(
        app.authed(Method::GET, "/v1/messages?type=location&limit=1")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        loc["data"][0]["content"].to_string().contains("latitude"),
        "{loc}"
    );
    // Processing again changes nothing: replaying every receipt adds no rows.
    let before = app
        .store
        .list_messages(
            app.tenant_id.parse().unwrap(),
            &Default::default(),
            1000,
            None,
        )
        .await
        .unwrap()
        .items
        .len();
    for r in app
        .store
        .list_receipts("processed", 500, None)
        .await
        .unwrap()
        .items
    {
        app.store.requeue_receipt(r.id, None).await.unwrap();
    }
    drained(&app).await;
    let after = app
        .store
        .list_messages(
            app.tenant_id.parse().unwrap(),
            &Default::default(),
            1000,
            None,
        )
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(before, after);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_reference_webhook_becomes_the_right_rows_sqlite() {
    every_reference_webhook_becomes_the_right_rows(Db::Sqlite).await;
}

#[tokio::test]
async fn every_reference_webhook_becomes_the_right_rows_postgres() {
    every_reference_webhook_becomes_the_right_rows(Db::Postgres).await;
}

#[tokio::test]
async fn signatures_are_checked_over_the_exact_bytes() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    // The real Meta-signed vector, against its own secret, on a channel with its own app secret.
    let vectors: Value = serde_json::from_slice(
        &std::fs::read(reference_dir().join("meta_signatures.json")).unwrap(),
    )
    .unwrap();
    let v = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["header"] == "X-Hub-Signature-256" && v["expect_valid"] == true)
        .unwrap();
    let secret = v["app_secret"].as_str().unwrap();
    let body = v["body"].as_str().unwrap().as_bytes().to_vec();
    let channel = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "277321005464405", "access_token": "x", "app_secret": secret}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let path = format!("/webhooks/whatsapp/{}", channel["id"].as_str().unwrap());
    let post = |sig: Option<String>, body: Vec<u8>| {
        let mut req = app
            .client
            .post(app.url(&path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = sig {
            req = req.header("x-hub-signature-256", s);
        }
        req.send()
    };
    let good = v["expected_header_value"].as_str().unwrap().to_owned();
    // One byte changed, a trailing newline, no header, a wrong header: all 401, nothing stored.
    let mut tampered = body.clone();
    tampered[40] ^= 1;
    let mut with_newline = body.clone();
    with_newline.push(b'\n');
    for (sig, b) in [
        (Some(good.clone()), tampered),
        (Some(good.clone()), with_newline),
        (None, body.clone()),
        (Some("sha256=00".into()), body.clone()),
    ] {
        let res = post(sig, b).await.unwrap();
        let err = json(res, 401).await;
        assert_eq!(error_of(&err).0, "invalid_signature");
    }
    assert!(
        app.store
            .list_receipts("pending", 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        app.store
            .list_receipts("processed", 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let res = post(Some(good), body).await.unwrap();
    assert_eq!(res.status(), 200);
    drained(&app).await;
    let msgs = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(msgs["data"][0]["text"], "Hey there! I am using PyWa.");
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("chasqui_webhook_rejected_total"),
        "rejections are counted"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn verification_handshake_answers_only_the_right_token() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    let res = app
        .get("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1903260781&hub.verify_token=test-verify-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(res.text().await.unwrap(), "1903260781");
    for q in [
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=test-verify-token",
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        let res = app
            .get(&format!("/webhooks/whatsapp?{q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{q}");
    }
    app.shutdown().await.unwrap();
}

async fn one_delivery_posted_twenty_times_concurrently_is_one_message(db: Db) {
    let Some(app) = app(db).await else { return };
    create_channel(&app, &app.api_key, "106540352242922").await;
    let body =
        std::fs::read(reference_dir().join("whatsapp/meta_openapi_webhook_text_message.json"))
            .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/webhooks/whatsapp");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-hub-signature-256", sign(APP_SECRET, &body))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    drained(&app).await;
    let msgs = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(msgs["data"].as_array().unwrap().len(), 1);
    let convs = json(
        app.authed(Method::GET, "/v1/conversations")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(convs["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        convs["data"][0]["window_open"], false,
        "the sample is from 2025: its window has closed"
    );
    assert!(convs["data"][0]["window_expires_at"].is_string());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_delivery_posted_twenty_times_concurrently_is_one_message_sqlite() {
    one_delivery_posted_twenty_times_concurrently_is_one_message(Db::Sqlite).await;
}

#[tokio::test]
async fn one_delivery_posted_twenty_times_concurrently_is_one_message_postgres() {
    one_delivery_posted_twenty_times_concurrently_is_one_message(Db::Postgres).await;
}

fn text_webhook(pnid: &str, wamid: &str, from: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": pnid},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": "1763800000", "type": "text", "text": {"body": text}}]
        }}]}]
    }))
    .unwrap()
}

#[tokio::test]
async fn two_tenants_on_one_app_endpoint_never_see_each_other() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    create_channel(&app, &app.api_key, "111").await;
    create_channel(&app, other.expose(), "222").await;
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("111", "wamid.A", "5491123456789", "para A"),
        APP_SECRET,
    )
    .await;
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("222", "wamid.B", "5491123456789", "para B"),
        APP_SECRET,
    )
    .await;
    drained(&app).await;
    let mine = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let theirs = json(
        app.get("/v1/messages")
            .bearer_auth(other.expose())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["text"], "para A");
    assert_eq!(theirs["data"][0]["text"], "para B");
    let their_msg = theirs["data"][0]["id"].as_str().unwrap();
    json(
        app.authed(Method::GET, &format!("/v1/messages/{their_msg}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let their_contact = theirs["data"][0]["contact_id"].as_str().unwrap();
    json(
        app.authed(Method::GET, &format!("/v1/contacts/{their_contact}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let contacts = json(
        app.authed(Method::GET, "/v1/contacts")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 1);
    assert_eq!(contacts["data"][0]["phone_masked"], "+54 9 11 ****-6789");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn unrouted_deliveries_wait_for_their_channel_and_bad_bodies_become_dead_letters() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("999", "wamid.EARLY", "5491123456789", "llegué antes"),
        APP_SECRET,
    )
    .await;
    // Signed but not JSON: accepted (never a 500 to Meta), stored, parked with the reason.
    let res = post_meta(&app, "/webhooks/whatsapp", b"{not json", APP_SECRET).await;
    assert_eq!(res.status(), 200);
    drained(&app).await;
    let dead = app
        .store
        .list_receipts("dead", 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("JSON"),
        "{:?}",
        dead[0].last_error
    );
    assert_eq!(
        app.store
            .list_receipts("unrouted", 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let none = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(none["data"].as_array().unwrap().is_empty());
    create_channel(&app, &app.api_key, "999").await;
    drained(&app).await;
    let msgs = json(
        app.authed(Method::GET, "/v1/messages?q=LLEGUÉ")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(msgs["data"].as_array().unwrap().len(), 1, "{msgs}");
    app.shutdown().await.unwrap();
}

/// A burst of concurrent deliveries is committed in groups and processed in batches; each
/// receipt still ends in its own state (processed, unrouted or dead), every message once.
async fn a_burst_of_mixed_deliveries_ends_with_each_receipt_in_its_own_state(db: Db) {
    let Some(app) = app(db).await else { return };
    create_channel(&app, &app.api_key, "4242").await;
    let mut bodies = Vec::new();
    for i in 0..40 {
        let from = format!("54911{:08}", 10_000 + i % 7);
        bodies.push(text_webhook(
            "4242",
            &format!("wamid.BURST{i}"),
            &from,
            &format!("ráfaga número {i}"),
        ));
    }
    // Copies of the first five: still one message each.
    bodies.extend(bodies[..5].to_vec());
    for i in 0..5 {
        bodies.push(text_webhook(
            "777",
            &format!("wamid.NOWHERE{i}"),
            "5491100000001",
            "sin canal",
        ));
    }
    for i in 0..5 {
        bodies.push(format!("{{broken {i}").into_bytes());
    }
    let mut tasks = Vec::new();
    for body in bodies {
        let client = app.client.clone();
        let url = app.url("/webhooks/whatsapp");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-hub-signature-256", sign(APP_SECRET, &body))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    drained(&app).await;
    let count = |state: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .list_receipts(state, 100, None)
                .await
                .unwrap()
                .items
                .len()
        }
    };
    assert_eq!(count("processed").await, 45);
    assert_eq!(count("unrouted").await, 5);
    assert_eq!(count("dead").await, 5);
    let msgs = json(
        app.authed(Method::GET, "/v1/messages?limit=100")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let mut ids: Vec<&str> = msgs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["provider_message_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every message exactly once");
    let convs = json(
        app.authed(Method::GET, "/v1/conversations?limit=100")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        convs["data"].as_array().unwrap().len(),
        7,
        "one conversation per customer"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_burst_of_mixed_deliveries_ends_with_each_receipt_in_its_own_state_sqlite() {
    a_burst_of_mixed_deliveries_ends_with_each_receipt_in_its_own_state(Db::Sqlite).await;
}

#[tokio::test]
async fn a_burst_of_mixed_deliveries_ends_with_each_receipt_in_its_own_state_postgres() {
    a_burst_of_mixed_deliveries_ends_with_each_receipt_in_its_own_state(Db::Postgres).await;
}

#[tokio::test]
async fn bodies_over_four_megabytes_get_413() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    let body = vec![b' '; 4 * 1024 * 1024 + 1];
    let res = post_meta(&app, "/webhooks/whatsapp", &body, APP_SECRET).await;
    assert_eq!(res.status(), 413);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn dead_letters_are_listed_for_their_tenant_and_replayable() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    let channel = create_channel(&app, &app.api_key, "555").await;
    let path = format!("/webhooks/whatsapp/{}", channel["id"].as_str().unwrap());
    let res = post_meta(&app, &path, br#"{"object":"page","entry":[]}"#, APP_SECRET).await;
    assert_eq!(res.status(), 200);
    drained(&app).await;
    let list = json(
        app.authed(Method::GET, "/v1/dead-letters")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let items = list["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .contains("whatsapp_business_account"),
        "{list}"
    );
    assert_eq!(items[0]["body"], r#"{"object":"page","entry":[]}"#);
    let id = items[0]["id"].as_str().unwrap();
    // Another tenant can neither see nor replay it.
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    let theirs = json(
        app.get("/v1/dead-letters")
            .bearer_auth(other.expose())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(theirs["data"].as_array().unwrap().is_empty());
    let res = app
        .client
        .post(app.url(&format!("/v1/dead-letters/{id}/replay")))
        .bearer_auth(other.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .authed(Method::POST, &format!("/v1/dead-letters/{id}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    drained(&app).await;
    // Still unreadable, so back in the list: replay never loses it.
    let list = json(
        app.authed(Method::GET, "/v1/dead-letters")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn processing_emits_events_for_the_tenant() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    create_channel(&app, &app.api_key, "321").await;
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("321", "wamid.EV1", "5491123456789", "primero"),
        APP_SECRET,
    )
    .await;
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("321", "wamid.EV2", "5491123456789", "segundo"),
        APP_SECRET,
    )
    .await;
    // A repeated delivery emits nothing new.
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("321", "wamid.EV2", "5491123456789", "segundo"),
        APP_SECRET,
    )
    .await;
    drained(&app).await;
    let events = json(
        app.authed(Method::GET, "/v1/events?format=json&limit=50")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // Receipts are processed concurrently, so the two messages may come in either order.
    assert_eq!(
        types,
        [
            "contact.created",
            "conversation.opened",
            "message.received",
            "message.received"
        ],
        "{events}"
    );
    let mut texts: Vec<&str> = events["data"].as_array().unwrap()[2..]
        .iter()
        .map(|e| e["data"]["message"]["text"].as_str().unwrap())
        .collect();
    texts.sort_unstable();
    assert_eq!(texts, ["primero", "segundo"]);
    let last = &events["data"][3]["data"];
    assert_eq!(last["message"]["direction"], "in");
    assert!(
        last["conversation_id"]
            .as_str()
            .unwrap()
            .starts_with("cnv_")
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn marketing_stop_and_resume_are_applied_to_the_contact() {
    let Some(app) = app(Db::Sqlite).await else {
        return;
    };
    create_channel(&app, &app.api_key, "106540352242922").await;
    post_meta(
        &app,
        "/webhooks/whatsapp",
        &text_webhook("106540352242922", "wamid.PREF", "16505551234", "hi"),
        APP_SECRET,
    )
    .await;
    drained(&app).await;
    let resume = std::fs::read(
        reference_dir().join("whatsapp/pywa_user_marketing_preferences__resume.json"),
    )
    .unwrap();
    let stop = String::from_utf8(resume.clone())
        .unwrap()
        .replace("\"resume\"", "\"stop\"")
        .replace("resume marketing", "stop marketing");
    post_meta(&app, "/webhooks/whatsapp", stop.as_bytes(), APP_SECRET).await;
    drained(&app).await;
    let contacts = json(
        app.authed(Method::GET, "/v1/contacts")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        contacts["data"][0]["marketing_opt_out_at"], "2024-11-15T21:22:01Z",
        "{contacts}"
    );
    post_meta(&app, "/webhooks/whatsapp", &resume, APP_SECRET).await;
    drained(&app).await;
    let contacts = json(
        app.authed(Method::GET, "/v1/contacts")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        contacts["data"][0]["marketing_opt_out_at"].is_null(),
        "{contacts}"
    );
    app.shutdown().await.unwrap();
}
