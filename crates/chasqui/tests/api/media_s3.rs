//! Media in S3 (`storage.media_url = "s3://…"`), against a real S3 protocol server: s3s-fs, the
//! S3 API over a temporary directory, run in-process on a free port and checking every request's
//! SigV4 signature. Inbound media and uploads land in the bucket under the URL's prefix, come
//! back whole to their tenant only, and a store that refuses the credentials is reported, not
//! papered over.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chasqui_core::ids::{MediaId, TenantId};
use chasqui_store::media::Media;
use futures_util::TryStreamExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use reqwest::Method;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde_json::{Value, json as j};
use sha2::{Digest, Sha256};

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

const ACCESS_KEY: &str = "AKIACHASQUITEST0001";
const SECRET_KEY: &str = "s3-secret-key-that-must-never-be-logged";
pub(crate) const BUCKET: &str = "chasqui-media";
const PREFIX: &str = "prod/eu-1";

/// A running S3 server and the directory behind it.
pub(crate) struct S3 {
    addr: SocketAddr,
    root: tempfile::TempDir,
}

impl S3 {
    /// Its URL, for `AWS_ENDPOINT_URL`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where s3s-fs keeps the object `key` of the bucket.
    pub(crate) fn file(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }

    /// Every key in the bucket, listed through the S3 API itself (not the directory).
    async fn keys(&self) -> Vec<String> {
        let client = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(BUCKET)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .unwrap();
        let mut keys: Vec<String> = client
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    }
}

/// Starts s3s-fs with one bucket, accepting only [`ACCESS_KEY`] / [`SECRET_KEY`].
async fn s3_server() -> S3 {
    s3_server_with(ACCESS_KEY, SECRET_KEY).await
}

/// Starts s3s-fs (the S3 API over a temporary directory, checking SigV4) with the bucket
/// [`BUCKET`], accepting only `access_key` / `secret_key`.
pub(crate) async fn s3_server_with(access_key: &str, secret_key: &str) -> S3 {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(BUCKET)).unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let http = Arc::new(ConnBuilder::new(TokioExecutor::new()));
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let (http, service) = (http.clone(), service.clone());
            tokio::spawn(async move {
                let _ = http.serve_connection(TokioIo::new(socket), service).await;
            });
        }
    });
    S3 { addr, root }
}

/// A gateway whose media go to the S3 server, signing with `secret`; its local media
/// directory is `local` (which must stay empty).
async fn gateway(s3: &S3, secret: &str, local: &Path) -> TestApp {
    let media_url = format!("s3://{BUCKET}/{PREFIX}");
    let endpoint = s3.endpoint();
    let local = local.to_str().unwrap();
    spawn_app_on(
        Db::Sqlite,
        &[
            ("CHASQUI_MEDIA_URL", media_url.as_str()),
            ("CHASQUI_STORAGE_MEDIA_DIR", local),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            // The sandbox (the customer's side) runs on this machine.
            ("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true"),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await
    .unwrap()
}

fn tenant(app: &TestApp) -> TenantId {
    app.tenant_id.parse().unwrap()
}

fn jpeg(len: usize) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend((0..len.saturating_sub(4)).map(|i| (i * 31 % 251) as u8));
    b
}

/// A customer of the demo tenant's sandbox number sends `bytes` as a JPEG photo; returns the
/// media row the gateway recorded for it.
async fn customer_sends_photo(app: &TestApp, bytes: &[u8]) -> Media {
    let sent = json(
        app.authed(Method::POST, "/sandbox/customers/+5491155550123/messages")
            .json(
                &j!({"type": "image", "mime_type": "image/jpeg", "caption": "la factura",
                       "data_base64": STANDARD.encode(bytes)}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let wamid = sent["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        let list = json(
            app.authed(
                Method::GET,
                &format!("/v1/messages?direction=in&provider_message_id={wamid}"),
            )
            .send()
            .await
            .unwrap(),
            200,
        )
        .await;
        if let Some(id) = list["data"][0]["id"].as_str() {
            let media = app
                .store
                .media_for_message(tenant(app), id.parse().unwrap())
                .await
                .unwrap();
            assert_eq!(media.len(), 1);
            return media.into_iter().next().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the customer's message {wamid} was not stored in time");
}

/// Waits until `until` holds for the media row.
async fn media_until(app: &TestApp, id: MediaId, until: impl Fn(&Media) -> bool) -> Media {
    let mut last = None;
    for _ in 0..600 {
        let m = app.store.media(tenant(app), id).await.unwrap();
        if until(&m) {
            return m;
        }
        last = Some(m);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("media {id} never reached the expected state: {last:?}");
}

fn key_of(app: &TestApp, id: MediaId) -> String {
    format!("{PREFIX}/tenants/{}/media/{id}", app.tenant_id)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `GET /v1/media/{id}` with `key`: status and body.
async fn fetch(
    app: &TestApp,
    key: &str,
    id: MediaId,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let res = app
        .get(&format!("/v1/media/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn inbound_media_is_stored_in_the_s3_bucket_under_the_prefix_and_served_to_its_tenant_only() {
    let s3 = s3_server().await;
    let local = tempfile::tempdir().unwrap();
    let app = gateway(&s3, SECRET_KEY, local.path()).await;
    let bytes = jpeg(300_000);
    let sha = hex::encode(Sha256::digest(&bytes));

    let m = customer_sends_photo(&app, &bytes).await;
    let m = media_until(&app, m.id, |m| m.state != "pending").await;
    assert_eq!(m.state, "stored", "{:?}", m.last_error);
    assert_eq!(m.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(m.size_bytes, Some(bytes.len() as u64));

    // In the bucket, below the URL's prefix and the tenant's own prefix, and nothing else; the
    // bytes on the S3 server's disk are the customer's.
    let key = key_of(&app, m.id);
    assert_eq!(
        m.storage_key,
        format!("tenants/{}/media/{}", app.tenant_id, m.id)
    );
    assert_eq!(s3.keys().await, vec![key.clone()]);
    assert_eq!(std::fs::read(s3.file(&key)).unwrap(), bytes);
    // Nothing went to the local media directory.
    assert!(
        files_under(local.path()).is_empty(),
        "{:?}",
        files_under(local.path())
    );

    // Served back whole, from S3, to the tenant that owns it.
    let (status, headers, got) = fetch(&app, &app.api_key, m.id).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(headers["etag"], format!("\"{sha}\"").as_str());
    assert_eq!(got, bytes);

    // Another tenant gets 404, exactly like an id that does not exist.
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Otro Taller", chasqui_core::plan::Plan::Inicial, "t")
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
    // A row whose object is missing from the bucket says so (500 media_missing), rather than
    // serving something else: proof the bytes above came from the bucket.
    std::fs::remove_file(s3.file(&key)).unwrap();
    let (status, _, body) = fetch(&app, &app.api_key, m.id).await;
    assert_eq!(status, 500);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_of(&body).0, "media_missing");
    app.shutdown().await.unwrap();
}

const BOUNDARY: &str = "chasqui-s3-test-boundary";

#[tokio::test]
async fn a_large_upload_goes_to_s3_in_several_parts_and_comes_back_whole() {
    let s3 = s3_server().await;
    let local = tempfile::tempdir().unwrap();
    let app = gateway(&s3, SECRET_KEY, local.path()).await;
    // 12 MB: three parts of a multipart upload (parts are 5 MiB), each signed and checked.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..12_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let sha = hex::encode(Sha256::digest(&pdf));
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"presupuesto.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&pdf);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let created = json(
        app.authed(Method::POST, "/v1/media")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(created["sha256"], sha);
    let id: MediaId = created["id"].as_str().unwrap().parse().unwrap();

    let key = key_of(&app, id);
    assert_eq!(s3.keys().await, vec![key.clone()]);
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(s3.file(&key)).unwrap())),
        sha
    );
    let (status, _, got) = fetch(&app, &app.api_key, id).await;
    assert_eq!(status, 200);
    assert_eq!(got.len(), pdf.len());
    assert_eq!(hex::encode(Sha256::digest(&got)), sha);
    assert!(files_under(local.path()).is_empty());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_store_that_refuses_the_credentials_leaves_the_media_pending_with_the_reason() {
    let s3 = s3_server().await;
    let local = tempfile::tempdir().unwrap();
    let wrong = "not-the-secret-key-of-this-store";
    let app = gateway(&s3, wrong, local.path()).await;
    let m = customer_sends_photo(&app, &jpeg(20_000)).await;
    let m = media_until(&app, m.id, |m| m.attempts >= 1 && m.last_error.is_some()).await;
    assert_eq!(m.state, "pending", "a refused write is retried later");
    let reason = m.last_error.unwrap_or_default();
    assert!(reason.contains("media store"), "{reason}");
    assert!(reason.contains("403"), "the S3 server's refusal: {reason}");
    assert!(
        !reason.contains(wrong) && !reason.contains(SECRET_KEY),
        "{reason}"
    );
    assert!(s3.keys().await.is_empty());
    assert!(files_under(local.path()).is_empty());

    let (status, _, body) = fetch(&app, &app.api_key, m.id).await;
    assert_eq!(status, 409);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error_of(&body).0, "media_not_ready");
    app.shutdown().await.unwrap();
}

#[test]
fn config_check_names_a_bad_media_url_and_never_prints_s3_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let chasqui = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_chasqui"));
        c.env_clear()
            .env("CHASQUI_DATA_DIR", dir.path())
            .env("CHASQUI_LOG", "warn")
            .current_dir(dir.path())
            .args(["config", "check"]);
        c
    };
    let out = chasqui()
        .env("CHASQUI_MEDIA_URL", "minio://chasqui-media/prod")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CHASQUI_MEDIA_URL=\"minio://chasqui-media/prod\": the scheme `minio` is not a media store"),
        "{err}"
    );
    assert!(
        err.contains("s3://BUCKET/PREFIX") && err.contains("gs://BUCKET/PREFIX"),
        "{err}"
    );

    let out = chasqui()
        .env("CHASQUI_MEDIA_URL", "s3://chasqui-media/prod/")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("media_url = \"s3://chasqui-media/prod\""),
        "{shown}"
    );
    assert!(
        shown.contains("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"),
        "{shown}"
    );
    let everything = format!("{shown}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !everything.contains(SECRET_KEY) && !everything.contains(ACCESS_KEY),
        "{everything}"
    );
}

#[tokio::test]
async fn an_unreachable_store_is_reported_within_seconds_and_the_download_retried() {
    // An S3 endpoint where nothing listens (the port was just freed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s3 = S3 {
        addr: closed,
        root: tempfile::tempdir().unwrap(),
    };
    let local = tempfile::tempdir().unwrap();
    let app = gateway(&s3, SECRET_KEY, local.path()).await;
    let started = std::time::Instant::now();
    let m = customer_sends_photo(&app, &jpeg(20_000)).await;
    let m = media_until(&app, m.id, |m| m.attempts >= 1 && m.last_error.is_some()).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the first attempt took {:?}",
        started.elapsed()
    );
    assert_eq!(m.state, "pending");
    let reason = m.last_error.unwrap_or_default();
    assert!(reason.contains("media store"), "{reason}");
    assert!(files_under(local.path()).is_empty());
    app.shutdown().await.unwrap();
}
