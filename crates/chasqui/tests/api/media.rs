//! Media end to end: inbound files downloaded from an imitation of each provider (which checks
//! the credentials it is sent), checked, stored under the tenant's prefix and served back to the
//! owning tenant only; uploads checked against WhatsApp's types and sizes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chasqui_core::ids::{MediaId, TenantId};
use chasqui_store::media::Media;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::{Digest, Sha256};

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

const APP_SECRET: &str = "media-app-secret";
const TOKEN: &str = "EAAG-media-token";
const D360_KEY: &str = "d360-key";
const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-token";

// ---------------------------------------------------------------------------------------------
// The imitation provider

/// A file the imitation serves, and how it misbehaves.
#[derive(Clone)]
struct File {
    bytes: Vec<u8>,
    mime: &'static str,
    /// The SHA-256 the lookup declares (hex), right or wrong.
    declared_sha256: String,
    /// Answer 503 to the lookup this many times first.
    fail_first: u32,
    /// The media id has expired: Graph error 100.
    expired: bool,
}

impl File {
    fn new(bytes: Vec<u8>, mime: &'static str) -> Self {
        let declared_sha256 = hex::encode(Sha256::digest(&bytes));
        Self {
            bytes,
            mime,
            declared_sha256,
            fail_first: 0,
            expired: false,
        }
    }
}

/// One request the imitation received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    authorization: Option<String>,
    d360: Option<String>,
    user_agent: Option<String>,
}

#[derive(Default)]
struct Imitation {
    addr: Mutex<Option<SocketAddr>>,
    files: Mutex<HashMap<String, File>>,
    seen: Mutex<Vec<Seen>>,
}

impl Imitation {
    fn base(&self) -> String {
        format!("http://{}", self.addr.lock().unwrap().unwrap())
    }

    fn add(&self, id: &str, file: File) {
        self.files.lock().unwrap().insert(id.to_owned(), file);
    }

    fn seen(&self, path_prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    fn total(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(j!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}}))).into_response()
}

fn mid_of(query: &str) -> String {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("mid="))
        .unwrap_or_default()
        .to_owned()
}

/// Meta: `GET /v23.0/{id}` then `GET /whatsapp_business/attachments/?mid=` (bearer token).
/// 360dialog (base `/d360`): `GET /d360/{id}` answering a lookaside URL, then
/// `GET /d360/whatsapp_business/attachments/?mid=` (`D360-API-KEY`).
/// Twilio: `GET /twilio/{id}` (basic auth).
async fn serve(State(s): State<Arc<Imitation>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let h = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        path: path.clone(),
        query: query.clone(),
        authorization: h(header::AUTHORIZATION),
        d360: h(header::HeaderName::from_static("d360-api-key")),
        user_agent: h(header::USER_AGENT),
    };
    s.seen.lock().unwrap().push(seen.clone());
    let bearer_ok = seen.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"));
    let d360_ok = seen.d360.as_deref() == Some(D360_KEY);
    let file = |id: &str| s.files.lock().unwrap().get(id).cloned();
    let bytes = |f: File| ([(header::CONTENT_TYPE, f.mime)], Body::from(f.bytes)).into_response();
    let lookup = |id: &str, url: String| -> Response {
        let mut files = s.files.lock().unwrap();
        let Some(f) = files.get_mut(id) else {
            return graph_error(
                StatusCode::NOT_FOUND,
                100,
                "Unsupported get request. Object does not exist",
            );
        };
        if f.expired {
            return graph_error(
                StatusCode::BAD_REQUEST,
                100,
                "Unsupported get request. Object with ID has expired",
            );
        }
        if f.fail_first > 0 {
            f.fail_first -= 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
        axum::Json(j!({
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": f.mime,
            "sha256": f.declared_sha256,
            "file_size": f.bytes.len(),
            "id": id,
        }))
        .into_response()
    };
    if let Some(id) = path.strip_prefix("/v23.0/") {
        if !bearer_ok {
            return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
        }
        let url = format!(
            "{}/whatsapp_business/attachments/?mid={id}&ext=1&hash=ATsecret",
            s.base()
        );
        return lookup(id, url);
    }
    if path == "/whatsapp_business/attachments/" {
        if !bearer_ok {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        return file(&mid_of(&query))
            .map(bytes)
            .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    }
    if path == "/d360/whatsapp_business/attachments/" {
        if !d360_ok {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        return file(&mid_of(&query))
            .map(bytes)
            .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    }
    if let Some(id) = path.strip_prefix("/d360/") {
        if !d360_ok {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        // 360dialog hands out Meta's lookaside URL; the gateway must move it to 360dialog's host.
        let url = format!(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={id}&ext=1&hash=AT"
        );
        return lookup(id, url);
    }
    if let Some(id) = path.strip_prefix("/twilio/") {
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"))
        );
        if seen.authorization.as_deref() != Some(basic.as_str()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        return file(id)
            .map(bytes)
            .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response());
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn imitation() -> Arc<Imitation> {
    let state = Arc::new(Imitation::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    *state.addr.lock().unwrap() = Some(listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(serve)
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}

// ---------------------------------------------------------------------------------------------
// The gateway

struct Gateway {
    app: TestApp,
    media_dir: tempfile::TempDir,
}

async fn gateway(db: Db, allow_private: bool) -> Option<Gateway> {
    let media_dir = tempfile::tempdir().unwrap();
    let dir = media_dir.path().to_str().unwrap().to_owned();
    let mut env = vec![
        ("CHASQUI_META_APP_SECRET", APP_SECRET),
        ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ("CHASQUI_STORAGE_MEDIA_DIR", dir.as_str()),
    ];
    if allow_private {
        env.push(("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true"));
    }
    let app = spawn_app_on(db, &env).await?;
    Some(Gateway { app, media_dir })
}

fn tenant(app: &TestApp) -> TenantId {
    app.tenant_id.parse().unwrap()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn meta_channel(app: &TestApp, key: &str, pnid: &str, base: &str) -> Value {
    let res = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(key)
        .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": pnid, "access_token": TOKEN, "settings": {"base_url": base}}))
        .send()
        .await
        .unwrap();
    json(res, 201).await
}

fn image_webhook(pnid: &str, wamid: &str, media_id: &str, sha256_b64: &str) -> Vec<u8> {
    serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": pnid},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491123456789"}],
            "messages": [{"from": "5491123456789", "id": wamid, "timestamp": "1763800000", "type": "image",
                          "image": {"caption": "la factura", "mime_type": "image/jpeg", "sha256": sha256_b64, "id": media_id}}]
        }}]}]
    }))
    .unwrap()
}

async fn post_signed(app: &TestApp, path: &str, body: &[u8]) {
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
}

/// The media of the message with this provider id, once the webhook is processed.
async fn media_of(app: &TestApp, provider_message_id: &str) -> Vec<Media> {
    for _ in 0..400 {
        let msgs = json(
            app.authed(
                Method::GET,
                &format!("/v1/messages?provider_message_id={provider_message_id}"),
            )
            .send()
            .await
            .unwrap(),
            200,
        )
        .await;
        if let Some(id) = msgs["data"][0]["id"].as_str() {
            return app
                .store
                .media_for_message(tenant(app), id.parse().unwrap())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {provider_message_id} was not stored in time");
}

/// Waits until the media leaves `pending`.
async fn settled(app: &TestApp, id: MediaId) -> Media {
    for _ in 0..600 {
        let m = app.store.media(tenant(app), id).await.unwrap();
        if m.state != "pending" {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("media {id} was still pending after 30 s");
}

fn jpeg(len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..len.saturating_sub(4)).map(|i| (i * 31 % 251) as u8));
    b
}

fn stored_file(gw: &Gateway, tenant: &str, id: &str) -> PathBuf {
    gw.media_dir
        .path()
        .join("tenants")
        .join(tenant)
        .join("media")
        .join(id)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Inbound

#[tokio::test]
async fn an_inbound_image_is_downloaded_checked_and_served_to_its_tenant_only_sqlite() {
    inbound_image_round_trip(Db::Sqlite).await;
}

#[tokio::test]
async fn an_inbound_image_is_downloaded_checked_and_served_to_its_tenant_only_postgres() {
    inbound_image_round_trip(Db::Postgres).await;
}

async fn inbound_image_round_trip(db: Db) {
    let Some(gw) = gateway(db, true).await else {
        return;
    };
    let app = &gw.app;
    let meta = imitation().await;
    let bytes = jpeg(70_000);
    let sha_hex = hex::encode(Sha256::digest(&bytes));
    let sha_b64 = STANDARD.encode(Sha256::digest(&bytes));
    meta.add("1003383421387256", File::new(bytes.clone(), "image/jpeg"));
    meta_channel(app, &app.api_key, "106540352242922", &meta.base()).await;
    let body = image_webhook(
        "106540352242922",
        "wamid.IMG1",
        "1003383421387256",
        &sha_b64,
    );
    post_signed(app, "/webhooks/whatsapp", &body).await;

    let media = media_of(app, "wamid.IMG1").await;
    assert_eq!(media.len(), 1);
    let m = settled(app, media[0].id).await;
    assert_eq!(m.state, "stored", "{:?}", m.last_error);
    assert_eq!(m.sha256.as_deref(), Some(sha_hex.as_str()));
    assert_eq!(m.size_bytes, Some(bytes.len() as u64));
    assert_eq!(m.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(m.kind.as_deref(), Some("image"));
    assert_eq!(m.provider_media_id.as_deref(), Some("1003383421387256"));

    // The provider saw the token on both calls, the phone number id on the lookup, and a User-Agent.
    let lookups = meta.seen("/v23.0/1003383421387256");
    assert_eq!(lookups.len(), 1);
    assert_eq!(
        lookups[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(lookups[0].query, "phone_number_id=106540352242922");
    let downloads = meta.seen("/whatsapp_business/attachments/");
    assert_eq!(downloads.len(), 1);
    assert_eq!(
        downloads[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(
        downloads[0]
            .user_agent
            .as_deref()
            .unwrap_or_default()
            .starts_with("Chasqui/")
    );

    // The bytes, exactly, with their headers.
    let res = app
        .authed(Method::GET, &format!("/v1/media/{}", m.id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(h[header::CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert_eq!(h[header::ETAG], format!("\"{sha_hex}\"").as_str());
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        format!(
            "attachment; filename=\"{}.jpg\"; filename*=UTF-8''{}.jpg",
            m.id, m.id
        )
        .as_str()
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let got = res.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&got)), sha_hex);
    assert_eq!(got.as_ref(), bytes.as_slice());
    // Unchanged since the client's copy: 304.
    let res = app
        .authed(Method::GET, &format!("/v1/media/{}", m.id))
        .header("if-none-match", format!("\"{sha_hex}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    let info = json(
        app.authed(Method::GET, &format!("/v1/media/{}/info", m.id))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(info["state"], "stored");
    assert_eq!(info["type"], "image");
    assert_eq!(info["direction"], "in");
    assert_eq!(info["sha256"], sha_hex);
    assert_eq!(info["size_bytes"], bytes.len());
    assert_eq!(info["url"], format!("/v1/media/{}", m.id));
    assert!(info["message_id"].is_string());

    // On disk under the tenant's own prefix, and nowhere else.
    let on_disk = stored_file(&gw, &app.tenant_id, &m.id.to_string());
    assert_eq!(std::fs::read(&on_disk).unwrap(), bytes);
    assert_eq!(files_under(gw.media_dir.path()), vec![on_disk]);

    // Another tenant cannot read it, nor learn it exists.
    let (other_tenant, _, other) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    for path in [
        format!("/v1/media/{}", m.id),
        format!("/v1/media/{}/info", m.id),
    ] {
        let body = json(
            app.get(&path)
                .bearer_auth(other.expose())
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
        assert_eq!(error_of(&body).0, "not_found");
    }
    assert!(app.store.media(other_tenant.id, m.id).await.is_err());
    assert!(
        app.store
            .media_for_message(other_tenant.id, m.message_id.unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    // Unknown and malformed ids: 404 as well.
    json(
        app.authed(Method::GET, &format!("/v1/media/{}", MediaId::new()))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    json(
        app.authed(Method::GET, "/v1/media/nonsense")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // Meta delivering the same webhook again downloads nothing more.
    post_signed(app, "/webhooks/whatsapp", &body).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(media_of(app, "wamid.IMG1").await.len(), 1);
    assert_eq!(meta.total(), 2);
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_checksum_that_never_matches_fails_the_media_after_retries() {
    let Some(gw) = gateway(Db::Sqlite, true).await else {
        return;
    };
    let app = &gw.app;
    let meta = imitation().await;
    let mut file = File::new(jpeg(1000), "image/jpeg");
    file.declared_sha256 = hex::encode(Sha256::digest(b"something else"));
    meta.add("777", file);
    meta_channel(app, &app.api_key, "200", &meta.base()).await;
    post_signed(
        app,
        "/webhooks/whatsapp",
        &image_webhook("200", "wamid.BAD", "777", ""),
    )
    .await;
    let media = media_of(app, "wamid.BAD").await;
    let m = settled(app, media[0].id).await;
    assert_eq!(m.state, "failed");
    assert_eq!(m.attempts, 3);
    let reason = m.last_error.clone().unwrap();
    assert!(reason.contains("SHA-256"), "{reason}");
    assert_eq!(
        meta.seen("/whatsapp_business/attachments/").len(),
        3,
        "downloaded once per attempt"
    );
    // Nothing is left in the store for a file that never checked out.
    assert!(
        files_under(gw.media_dir.path()).is_empty(),
        "{:?}",
        files_under(gw.media_dir.path())
    );
    let body = json(
        app.authed(Method::GET, &format!("/v1/media/{}", m.id))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    let (code, message) = error_of(&body);
    assert_eq!(code, "media_failed");
    assert!(message.contains("SHA-256"), "{message}");
    assert_eq!(body["state"], "failed");
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_media_ids_fail_at_once_and_provider_outages_are_retried() {
    let Some(gw) = gateway(Db::Sqlite, true).await else {
        return;
    };
    let app = &gw.app;
    let meta = imitation().await;
    let mut expired = File::new(jpeg(100), "image/jpeg");
    expired.expired = true;
    meta.add("111", expired);
    let mut flaky = File::new(jpeg(100), "image/jpeg");
    flaky.fail_first = 1;
    meta.add("222", flaky);
    meta_channel(app, &app.api_key, "300", &meta.base()).await;
    post_signed(
        app,
        "/webhooks/whatsapp",
        &image_webhook("300", "wamid.OLD", "111", ""),
    )
    .await;
    post_signed(
        app,
        "/webhooks/whatsapp",
        &image_webhook("300", "wamid.FLAKY", "222", ""),
    )
    .await;

    let old = settled(app, media_of(app, "wamid.OLD").await[0].id).await;
    assert_eq!(old.state, "failed");
    assert_eq!(old.attempts, 1, "a 4xx from the provider is not retried");
    let reason = old.last_error.unwrap();
    assert!(
        reason.contains("400") && reason.contains("expired") && reason.contains("code 100"),
        "{reason}"
    );

    let flaky = settled(app, media_of(app, "wamid.FLAKY").await[0].id).await;
    assert_eq!(flaky.state, "stored", "{:?}", flaky.last_error);
    assert_eq!(flaky.attempts, 2, "one 503, then success");
    assert_eq!(meta.seen("/v23.0/222").len(), 2);
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn dialog360_media_is_fetched_from_the_360dialog_host_with_its_key() {
    let Some(gw) = gateway(Db::Sqlite, true).await else {
        return;
    };
    let app = &gw.app;
    let d360 = imitation().await;
    let bytes = b"%PDF-1.4 factura".to_vec();
    d360.add("555", File::new(bytes.clone(), "application/pdf"));
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(
                &j!({"kind": "360dialog", "api_key": D360_KEY, "webhook_secret": "hook-secret",
                       "settings": {"base_url": format!("{}/d360", d360.base())}}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let body = serde_json::to_vec(&j!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "900"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491123456789"}],
            "messages": [{"from": "5491123456789", "id": "wamid.DOC", "timestamp": "1763800000", "type": "document",
                          "document": {"filename": "factura marzo.pdf", "mime_type": "application/pdf", "id": "555"}}]
        }}]}]
    }))
    .unwrap();
    let res = app
        .client
        .post(app.url(&format!(
            "/webhooks/360dialog/{}",
            ch["id"].as_str().unwrap()
        )))
        .bearer_auth("hook-secret")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m = settled(app, media_of(app, "wamid.DOC").await[0].id).await;
    assert_eq!(m.state, "stored", "{:?}", m.last_error);
    assert_eq!(m.kind.as_deref(), Some("document"));
    // Lookup without any Graph version or phone number id in the path; the lookaside URL moved
    // to the 360dialog host; the key sent on both, never a bearer token.
    let lookups = d360.seen("/d360/555");
    assert_eq!(lookups.len(), 1);
    let downloads = d360.seen("/d360/whatsapp_business/attachments/");
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0].query.starts_with("mid=555&"),
        "{:?}",
        downloads[0]
    );
    for s in lookups.iter().chain(&downloads) {
        assert_eq!(s.d360.as_deref(), Some(D360_KEY));
        assert_eq!(s.authorization, None);
    }
    let res = app
        .authed(Method::GET, &format!("/v1/media/{}", m.id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"factura marzo.pdf\"; filename*=UTF-8''factura%20marzo.pdf"
    );
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    gw.app.shutdown().await.unwrap();
}

fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TWILIO_TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn form_encode(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn twilio_media_is_fetched_with_the_account_credentials() {
    let Some(gw) = gateway(Db::Sqlite, true).await else {
        return;
    };
    let app = &gw.app;
    let twilio = imitation().await;
    let photo = jpeg(2000);
    let voice = b"OggS voice".to_vec();
    twilio.add("ME1", File::new(photo.clone(), "image/jpeg"));
    twilio.add("ME2", File::new(voice.clone(), "audio/ogg"));
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "twilio", "auth_token": TWILIO_TOKEN, "settings": {"account_sid": TWILIO_SID}}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let path = format!("/webhooks/twilio/{}", ch["id"].as_str().unwrap());
    let (url0, url1) = (
        format!("{}/twilio/ME1", twilio.base()),
        format!("{}/twilio/ME2", twilio.base()),
    );
    let params = [
        ("MessageSid", "MM0123456789abcdef0123456789abcdef"),
        ("AccountSid", TWILIO_SID),
        ("From", "whatsapp:+5491123456789"),
        ("To", "whatsapp:+14155238886"),
        ("Body", ""),
        ("NumMedia", "2"),
        ("MediaUrl0", url0.as_str()),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", url1.as_str()),
        ("MediaContentType1", "audio/ogg"),
        ("WaId", "5491123456789"),
    ];
    let res = app
        .client
        .post(app.url(&path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            twilio_signature(&app.url(&path), &params),
        )
        .body(form_encode(&params))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let media = media_of(app, "MM0123456789abcdef0123456789abcdef").await;
    assert_eq!(media.len(), 2, "both attachments are kept");
    for (m, want) in media.iter().zip([&photo, &voice]) {
        let m = settled(app, m.id).await;
        assert_eq!(m.state, "stored", "{:?}", m.last_error);
        let got = app
            .authed(Method::GET, &format!("/v1/media/{}", m.id))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(got.as_ref(), want.as_slice());
    }
    assert_eq!(media[0].position, 0);
    assert_eq!(media[1].position, 1);
    assert_eq!(twilio.seen("/twilio/").len(), 2);
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_base_url_on_a_private_network_is_refused_unless_the_operator_allows_it() {
    let Some(gw) = gateway(Db::Sqlite, false).await else {
        return;
    };
    let app = &gw.app;
    let meta = imitation().await;
    meta.add("123", File::new(jpeg(100), "image/jpeg"));
    meta_channel(app, &app.api_key, "400", &meta.base()).await;
    post_signed(
        app,
        "/webhooks/whatsapp",
        &image_webhook("400", "wamid.SSRF", "123", ""),
    )
    .await;
    let m = settled(app, media_of(app, "wamid.SSRF").await[0].id).await;
    assert_eq!(m.state, "failed");
    let reason = m.last_error.unwrap();
    assert!(
        reason.contains("refused") && reason.contains("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS"),
        "{reason}"
    );
    assert_eq!(meta.total(), 0, "no request may reach a private address");
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pending_download_answers_409_media_not_ready() {
    let Some(gw) = gateway(Db::Sqlite, true).await else {
        return;
    };
    let app = &gw.app;
    let meta = imitation().await;
    let mut slow = File::new(jpeg(100), "image/jpeg");
    // Fails for longer than this test looks: the media stays pending meanwhile.
    slow.fail_first = 1000;
    meta.add("999", slow);
    meta_channel(app, &app.api_key, "500", &meta.base()).await;
    post_signed(
        app,
        "/webhooks/whatsapp",
        &image_webhook("500", "wamid.SLOW", "999", ""),
    )
    .await;
    let m = &media_of(app, "wamid.SLOW").await[0];
    let body = json(
        app.authed(Method::GET, &format!("/v1/media/{}", m.id))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_eq!(error_of(&body).0, "media_not_ready");
    assert_eq!(body["state"], "pending");
    gw.app.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Uploads

struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

fn part<'a>(name: &'a str, body: &'a [u8]) -> Part<'a> {
    Part {
        name,
        filename: None,
        content_type: None,
        body,
    }
}

fn file_part<'a>(filename: &'a str, content_type: Option<&'a str>, body: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        filename: Some(filename),
        content_type,
        body,
    }
}

const BOUNDARY: &str = "chasqui-test-boundary-7f3a";

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"",
                p.name
            )
            .as_bytes(),
        );
        if let Some(f) = p.filename {
            out.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = p.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

async fn upload_as(app: &TestApp, key: &str, parts: &[Part<'_>]) -> reqwest::Response {
    app.client
        .post(app.url("/v1/media"))
        .bearer_auth(key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(parts))
        .send()
        .await
        .unwrap()
}

async fn refused(
    app: &TestApp,
    parts: &[Part<'_>],
    status: u16,
) -> (String, Option<String>, String) {
    let body = json(upload_as(app, &app.api_key, parts).await, status).await;
    let (code, message) = error_of(&body);
    (
        code,
        body["error"]["field"].as_str().map(str::to_owned),
        message,
    )
}

#[tokio::test]
async fn uploads_are_stored_under_the_tenant_and_served_back_sqlite() {
    uploads_round_trip(Db::Sqlite).await;
}

#[tokio::test]
async fn uploads_are_stored_under_the_tenant_and_served_back_postgres() {
    uploads_round_trip(Db::Postgres).await;
}

async fn uploads_round_trip(db: Db) {
    let Some(gw) = gateway(db, false).await else {
        return;
    };
    let app = &gw.app;
    let photo = jpeg(300_000);
    let res = upload_as(
        app,
        &app.api_key,
        &[
            part("messaging_product", b"whatsapp"),
            file_part("C:\\fotos\\frente.jpg", Some("image/jpeg"), &photo),
        ],
    )
    .await;
    let body = json(res, 201).await;
    let sha = hex::encode(Sha256::digest(&photo));
    assert_eq!(body["type"], "image");
    assert_eq!(body["mime_type"], "image/jpeg");
    assert_eq!(body["size_bytes"], photo.len());
    assert_eq!(body["sha256"], sha);
    assert_eq!(body["filename"], "frente.jpg");
    assert_eq!(body["direction"], "out");
    assert_eq!(body["state"], "stored");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("med_"));
    let on_disk = stored_file(&gw, &app.tenant_id, &id);
    assert_eq!(std::fs::read(&on_disk).unwrap(), photo);

    let res = app
        .authed(Method::GET, &format!("/v1/media/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[header::ETAG], format!("\"{sha}\"").as_str());
    assert_eq!(
        res.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"frente.jpg\"; filename*=UTF-8''frente.jpg"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), photo.as_slice());

    // A sticker (WebP) given as a type name; a voice note with the Opus codec; a document whose
    // type comes from its name.
    let webp = {
        let mut b = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
        b.extend_from_slice(&[0; 50]);
        b
    };
    let sticker = json(
        upload_as(
            app,
            &app.api_key,
            &[
                part("type", b"sticker"),
                file_part("s.webp", Some("image/webp"), &webp),
            ],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(sticker["type"], "sticker");
    let voice = json(
        upload_as(
            app,
            &app.api_key,
            &[file_part(
                "v.ogg",
                Some("audio/ogg; codecs=opus"),
                b"OggS....",
            )],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (voice["type"].as_str(), voice["mime_type"].as_str()),
        (Some("audio"), Some("audio/ogg; codecs=opus"))
    );
    let doc = json(
        upload_as(
            app,
            &app.api_key,
            &[
                file_part("x", Some("application/octet-stream"), b"%PDF-1.7"),
                part("filename", b"Presupuesto.pdf"),
            ],
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        (doc["type"].as_str(), doc["mime_type"].as_str()),
        (Some("document"), Some("application/pdf"))
    );
    assert_eq!(doc["filename"], "Presupuesto.pdf");

    // Every file sits under this tenant's prefix.
    let prefix = gw
        .media_dir
        .path()
        .join("tenants")
        .join(&app.tenant_id)
        .join("media");
    let files = files_under(gw.media_dir.path());
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|f| f.starts_with(&prefix)), "{files:?}");

    // Another tenant: 404, and its own uploads go under its own prefix.
    let (other_tenant, _, other) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    json(
        app.get(&format!("/v1/media/{id}"))
            .bearer_auth(other.expose())
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let theirs = json(
        upload_as(
            app,
            other.expose(),
            &[file_part(
                "p.png",
                Some("image/png"),
                b"\x89PNG\r\n\x1a\n....",
            )],
        )
        .await,
        201,
    )
    .await;
    let their_id = theirs["id"].as_str().unwrap();
    assert!(stored_file(&gw, &other_tenant.id.to_string(), their_id).is_file());
    json(
        app.authed(Method::GET, &format!("/v1/media/{their_id}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    gw.app.shutdown().await.unwrap();
}

#[tokio::test]
async fn uploads_that_whatsapp_would_refuse_get_422_naming_the_field() {
    let Some(gw) = gateway(Db::Sqlite, false).await else {
        return;
    };
    let app = &gw.app;
    let gif = b"GIF89a....".to_vec();
    let (code, field, _) = refused(app, &[file_part("a.gif", Some("image/gif"), &gif)], 422).await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("unsupported_mime_type", Some("file"))
    );
    let (code, field, _) = refused(
        app,
        &[part("type", b"image/gif"), file_part("a", None, &gif)],
        422,
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("unsupported_mime_type", Some("type"))
    );
    let (code, field, message) = refused(
        app,
        &[
            part("type", b"image"),
            file_part("a.pdf", Some("application/pdf"), b"%PDF"),
        ],
        422,
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("unsupported_mime_type", Some("file"))
    );
    assert!(message.contains("image/jpeg, image/png"), "{message}");
    let (code, field, _) = refused(
        app,
        &[
            part("type", b"gif"),
            file_part("a.jpg", Some("image/jpeg"), &jpeg(10)),
        ],
        422,
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("invalid_media_type", Some("type"))
    );
    let (code, field, _) = refused(
        app,
        &[file_part("a.png", Some("image/png"), &jpeg(10))],
        422,
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("media_content_mismatch", Some("file"))
    );
    let (code, field, _) = refused(app, &[file_part("blob", None, b"data")], 422).await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("missing_mime_type", Some("type"))
    );
    let (code, field, _) = refused(app, &[part("type", b"image")], 422).await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("missing_field", Some("file"))
    );
    let (code, field, _) = refused(
        app,
        &[
            part("caption", b"hola"),
            file_part("a.jpg", Some("image/jpeg"), &jpeg(10)),
        ],
        422,
    )
    .await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("unknown_field", Some("caption"))
    );
    // Over WhatsApp's 5 MB for images (and over the server's 4 MiB default body limit, which
    // this route raises): 422 with the limit, not 413.
    let big = jpeg(5_000_001);
    let (code, field, message) =
        refused(app, &[file_part("big.jpg", Some("image/jpeg"), &big)], 422).await;
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("media_too_large", Some("file"))
    );
    assert!(
        message.contains("5 MB") && message.contains("5000001"),
        "{message}"
    );
    // A static sticker over 100 KB.
    let mut sticker = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
    sticker.resize(100_001, 0);
    let (code, _, message) = refused(
        app,
        &[file_part("s.webp", Some("image/webp"), &sticker)],
        422,
    )
    .await;
    assert_eq!(code, "media_too_large");
    assert!(message.contains("100 KB"), "{message}");
    // Not multipart at all.
    let res = app
        .authed(Method::POST, "/v1/media")
        .json(&j!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 415).await).0, "unsupported_media_type");
    // Nothing refused was kept.
    assert!(
        files_under(gw.media_dir.path()).is_empty(),
        "{:?}",
        files_under(gw.media_dir.path())
    );
    // Bodies over the upload limit: 413.
    let huge = vec![b'a'; 102 * 1024 * 1024];
    let res = upload_as(
        app,
        &app.api_key,
        &[file_part("huge.pdf", Some("application/pdf"), &huge)],
    )
    .await;
    assert_eq!(error_of(&json(res, 413).await).0, "payload_too_large");
    gw.app.shutdown().await.unwrap();
}
