//! Customers editing and deleting their messages (WhatsApp `edit` and `revoke` webhooks): the
//! real reference payloads, signed and posted over HTTP in both orders, read back through the
//! API and its full-text search.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, json, spawn_app_on};

const APP_SECRET: &str = "test-app-secret";

/// The message `pywa_edited_message__image.json` edits, and when it was edited.
const EDITED_ID: &str = "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=";
const EDITED_AT: i64 = 1_749_854_575;
/// The message `pywa_deleted_message__revoke.json` deletes, and when it was deleted.
const REVOKED_ID: &str = "<ORIGINAL_WHATSAPP_MESSAGE_ID>";
const REVOKED_AT: i64 = 1_697_043_223;

fn reference(name: &str) -> Vec<u8> {
    let path =
        chasqui_testdata::reference_path(env!("CARGO_MANIFEST_DIR"), &format!("whatsapp/{name}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Signs a body the way Meta does (independently of the server's verifier).
fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn app(db: Db) -> Option<TestApp> {
    spawn_app_on(
        db,
        &[
            ("CHASQUI_META_APP_SECRET", APP_SECRET),
            ("CHASQUI_META_VERIFY_TOKEN", "test-verify-token"),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await
}

/// Posts a signed delivery and waits until it is processed.
async fn deliver(app: &TestApp, path: &str, body: &[u8]) {
    let res = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for _ in 0..400 {
        let pending = app.store.list_receipts("pending", 1, None).await.unwrap();
        if pending.items.is_empty() {
            let dead = app.store.list_receipts("dead", 1, None).await.unwrap();
            assert!(dead.items.is_empty(), "dead letter: {:?}", dead.items);
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("webhooks were not processed in time");
}

/// A channel and the webhook path that reaches it: the app-level URL when it owns the
/// reference payload's number, otherwise its own URL.
async fn channel(app: &TestApp, pnid: &str, own_url: bool) -> (String, String) {
    let res = app
        .authed(Method::POST, "/v1/channels")
        .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": pnid, "access_token": "EAAG"}))
        .send()
        .await
        .unwrap();
    let id = json(res, 201).await["id"].as_str().unwrap().to_owned();
    let path = if own_url {
        format!("/webhooks/whatsapp/{id}")
    } else {
        "/webhooks/whatsapp".to_owned()
    };
    (id, path)
}

/// A customer's message as Meta delivers it, from the same customer as the reference payloads.
fn original(pnid: &str, id: &str, timestamp: i64, message: Value) -> Vec<u8> {
    let Value::Object(fields) = message else {
        panic!("a message is a JSON object")
    };
    let mut m = j!({"from": "16505551234", "id": id, "timestamp": timestamp.to_string()});
    m.as_object_mut().unwrap().extend(fields);
    serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": pnid},
            "contacts": [{"profile": {"name": "Test Name"}, "wa_id": "972987654321",
                          "user_id": "US.13491208655302741918"}],
            "messages": [m]
        }}]}]
    }))
    .unwrap()
}

fn original_image(pnid: &str) -> Vec<u8> {
    original(
        pnid,
        EDITED_ID,
        EDITED_AT - 75,
        j!({"type": "image", "image": {"caption": "Original image caption", "mime_type": "image/jpeg", "id": "1234567890"}}),
    )
}

/// `GET /v1/messages` with query parameters, encoded.
async fn list(app: &TestApp, params: &[(&str, &str)]) -> Vec<Value> {
    let url = reqwest::Url::parse_with_params(&app.url("/v1/messages"), params).unwrap();
    let res = app
        .client
        .get(url)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    json(res, 200).await["data"].as_array().unwrap().clone()
}

/// The messages of a channel with a provider id, through the API.
async fn by_provider_id(app: &TestApp, channel: &str, provider_id: &str) -> Vec<Value> {
    list(
        app,
        &[
            ("channel_id", channel),
            ("provider_message_id", provider_id),
        ],
    )
    .await
}

/// The provider ids of a channel's messages a full-text search finds.
async fn search(app: &TestApp, channel: &str, q: &str) -> Vec<String> {
    list(app, &[("channel_id", channel), ("q", q)])
        .await
        .iter()
        .map(|m| m["provider_message_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn get(app: &TestApp, id: &str) -> Value {
    let res = app
        .authed(Method::GET, &format!("/v1/messages/{id}"))
        .send()
        .await
        .unwrap();
    json(res, 200).await
}

fn unix(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .timestamp()
}

/// The edited message as the API must show it, whatever the order things arrived in.
fn assert_edited(m: &Value) {
    assert_eq!(m["type"], "image", "{m}");
    assert_eq!(m["text"], "Updated image caption", "{m}");
    assert_eq!(
        m["content"]["content"]["media"]["caption"],
        "Updated image caption"
    );
    assert_eq!(unix(&m["edited_at"]), EDITED_AT);
    assert!(m["revoked_at"].is_null());
    let versions = m["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{m}");
    assert_eq!(versions[0]["text"], "Original image caption");
    assert_eq!(versions[0]["provider_message_id"], EDITED_ID);
    assert!(versions[0]["edited_at"].is_null());
    assert_eq!(versions[1]["text"], "Updated image caption");
    assert_eq!(
        versions[1]["provider_message_id"],
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    );
    assert_eq!(unix(&versions[1]["edited_at"]), EDITED_AT);
}

async fn an_edit_replaces_the_original_in_either_order(db: Db) {
    let Some(app) = app(db).await else { return };
    let edit = reference("pywa_edited_message__image.json");

    // The original first, then its edit (on the number the reference payload names).
    let (first, path) = channel(&app, "106540352242922", false).await;
    deliver(&app, &path, &original_image("106540352242922")).await;
    let before = by_provider_id(&app, &first, EDITED_ID).await;
    assert_eq!(before.len(), 1);
    assert!(before[0]["edited_at"].is_null() && before[0]["revoked_at"].is_null());
    assert!(before[0].get("versions").is_none());
    assert_eq!(search(&app, &first, "original caption").await, [EDITED_ID]);
    assert!(search(&app, &first, "updated").await.is_empty());
    deliver(&app, &path, &edit).await;
    let id = before[0]["id"].as_str().unwrap();
    let after = get(&app, id).await;
    assert_edited(&after);
    assert_eq!(
        by_provider_id(&app, &first, EDITED_ID).await[0]["edited_at"],
        after["edited_at"]
    );
    assert_eq!(search(&app, &first, "updated caption").await, [EDITED_ID]);
    assert!(search(&app, &first, "original").await.is_empty());

    // The same delivery again changes nothing.
    deliver(&app, &path, &edit).await;
    let again = get(&app, id).await;
    for field in ["text", "content", "edited_at", "revoked_at", "versions"] {
        assert_eq!(again[field], after[field], "{field}");
    }

    // An older edit arriving late is kept among the versions but does not win.
    let older = String::from_utf8(edit.clone())
        .unwrap()
        .replace(
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
            "wamid.OLDER",
        )
        .replace(&EDITED_AT.to_string(), &(EDITED_AT - 30).to_string())
        .replace("Updated image caption", "Older image caption");
    deliver(&app, &path, older.as_bytes()).await;
    let m = get(&app, id).await;
    assert_eq!(m["text"], "Updated image caption");
    assert_eq!(unix(&m["edited_at"]), EDITED_AT);
    let texts: Vec<_> = m["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Original image caption",
            "Older image caption",
            "Updated image caption"
        ]
    );
    assert!(search(&app, &first, "older").await.is_empty());

    // The edit first, then the original (another channel, reached by its own URL).
    let (second, path) = channel(&app, "4242424242", true).await;
    deliver(&app, &path, &edit).await;
    assert!(by_provider_id(&app, &second, EDITED_ID).await.is_empty());
    let early = search(&app, &second, "updated caption").await;
    assert_eq!(
        early.len(),
        1,
        "until its message arrives, the edit is found by its own text"
    );
    deliver(&app, &path, &original_image("4242424242")).await;
    let m = by_provider_id(&app, &second, EDITED_ID).await;
    assert_eq!(m.len(), 1);
    let m = get(&app, m[0]["id"].as_str().unwrap()).await;
    assert_edited(&m);
    assert_eq!(search(&app, &second, "updated caption").await, [EDITED_ID]);
    assert!(search(&app, &second, "original").await.is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_edit_replaces_the_original_in_either_order_sqlite() {
    an_edit_replaces_the_original_in_either_order(Db::Sqlite).await;
}

#[tokio::test]
async fn an_edit_replaces_the_original_in_either_order_postgres() {
    an_edit_replaces_the_original_in_either_order(Db::Postgres).await;
}

fn assert_revoked(m: &Value) {
    assert_eq!(unix(&m["revoked_at"]), REVOKED_AT, "{m}");
    assert!(m["text"].is_null(), "{m}");
    assert!(m["edited_at"].is_null());
    assert_eq!(
        m["content"]["content"]["body"], "mi clave secreta es pirulo",
        "the content is kept for audit"
    );
}

async fn a_revoke_hides_the_message_in_either_order(db: Db) {
    let Some(app) = app(db).await else { return };
    let revoke = reference("pywa_deleted_message__revoke.json");
    let text = |pnid: &str| {
        original(
            pnid,
            REVOKED_ID,
            REVOKED_AT - 60,
            j!({"type": "text", "text": {"body": "mi clave secreta es pirulo"}}),
        )
    };
    // The reference payload has placeholder ids: deliver it on the channels' own URLs.
    let (first, path) = channel(&app, "5151515151", true).await;
    deliver(&app, &path, &text("5151515151")).await;
    assert_eq!(search(&app, &first, "pirulo").await, [REVOKED_ID]);
    deliver(&app, &path, &revoke).await;
    let m = by_provider_id(&app, &first, REVOKED_ID).await;
    assert_revoked(&m[0]);
    assert_revoked(&get(&app, m[0]["id"].as_str().unwrap()).await);
    assert!(search(&app, &first, "pirulo").await.is_empty());
    // Delivered again: nothing changes.
    deliver(&app, &path, &revoke).await;
    assert_eq!(by_provider_id(&app, &first, REVOKED_ID).await, m);

    let (second, path) = channel(&app, "5252525252", true).await;
    deliver(&app, &path, &revoke).await;
    assert!(by_provider_id(&app, &second, REVOKED_ID).await.is_empty());
    deliver(&app, &path, &text("5252525252")).await;
    let m = by_provider_id(&app, &second, REVOKED_ID).await;
    assert_revoked(&m[0]);
    assert!(search(&app, &second, "pirulo").await.is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_revoke_hides_the_message_in_either_order_sqlite() {
    a_revoke_hides_the_message_in_either_order(Db::Sqlite).await;
}

#[tokio::test]
async fn a_revoke_hides_the_message_in_either_order_postgres() {
    a_revoke_hides_the_message_in_either_order(Db::Postgres).await;
}
