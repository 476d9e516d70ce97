//! `/readyz` checks the media store: a local media directory that cannot be used, an S3 store
//! that refuses the credentials or does not answer make the instance not ready (503,
//! `media_store_unreachable`, naming the setting and never a credential); the result is cached
//! for a few seconds so frequent probes do not hammer the store.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};
use crate::media_s3::{BUCKET, s3_server_with};

const ACCESS_KEY: &str = "AKIAREADYZTEST0001";
const SECRET_KEY: &str = "readyz-s3-secret-that-must-never-show";
const PREFIX: &str = "prod/eu-1";

/// A gateway whose media go to `s3://BUCKET/PREFIX` at `endpoint`, signing with `secret`.
async fn gateway(endpoint: &str, secret: &str) -> TestApp {
    let media_url = format!("s3://{BUCKET}/{PREFIX}");
    spawn_app_on(
        Db::Sqlite,
        &[
            ("CHASQUI_MEDIA_URL", media_url.as_str()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ],
    )
    .await
    .unwrap()
}

/// `GET /readyz`, asserting its status; returns the body.
async fn readyz(app: &TestApp, status: u16) -> Value {
    json(app.get("/readyz").send().await.unwrap(), status).await
}

/// Asserts a 503 body names the media store check and the setting, and returns its message.
fn media_not_ready(body: &Value, setting: &str) -> String {
    let (code, message) = error_of(body);
    assert_eq!(code, "media_store_unreachable", "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["media_store"], "media_store_unreachable");
    assert_eq!(body["checks"]["database"], "ok", "{body}");
    assert!(message.contains(setting), "{message}");
    message
}

#[tokio::test]
async fn a_media_directory_that_cannot_be_used_makes_readyz_503_until_it_is_fixed() {
    // Healthy: the default media directory, created and written.
    let app = spawn_app_on(Db::Sqlite, &[]).await.unwrap();
    let body = readyz(&app, 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["media_store"], "local");
    assert_eq!(body["checks"]["media_store"], "ok");
    assert_eq!(body["checks"]["database"], "ok");
    app.shutdown().await.unwrap();

    // The media directory's path is a file: nothing can be stored there.
    let scratch = tempfile::tempdir().unwrap();
    let media = scratch.path().join("media");
    std::fs::write(&media, b"not a directory").unwrap();
    let app = spawn_app_on(
        Db::Sqlite,
        &[("CHASQUI_STORAGE_MEDIA_DIR", media.to_str().unwrap())],
    )
    .await
    .unwrap();
    let body = readyz(&app, 503).await;
    let message = media_not_ready(&body, "storage.media_dir");
    assert!(message.contains(media.to_str().unwrap()), "{message}");
    // Liveness does not depend on it.
    json(app.get("/healthz").send().await.unwrap(), 200).await;

    // Fixed: the cached answer holds for a few seconds, then the instance is ready again.
    std::fs::remove_file(&media).unwrap();
    std::fs::create_dir(&media).unwrap();
    readyz(&app, 503).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let res = app.get("/readyz").send().await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still not ready after the fix");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The check wrote its probe file at the directory's root, outside `tenants/`.
    assert!(media.join("chasqui-readiness-probe").is_file());
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_s3_store_is_ready_with_the_right_credentials_and_not_with_wrong_ones() {
    let s3 = s3_server_with(ACCESS_KEY, SECRET_KEY).await;
    let endpoint = s3.endpoint();

    let app = gateway(&endpoint, SECRET_KEY).await;
    let body = readyz(&app, 200).await;
    assert_eq!(body["media_store"], "s3");
    assert_eq!(body["checks"]["media_store"], "ok");
    // The probe object sits below the URL's prefix, outside `tenants/`.
    assert!(
        s3.file(&format!("{PREFIX}/chasqui-readiness-probe"))
            .is_file()
    );
    app.shutdown().await.unwrap();

    let wrong = "not-the-secret-of-this-s3-store";
    let app = gateway(&endpoint, wrong).await;
    let body = readyz(&app, 503).await;
    let message = media_not_ready(&body, "storage.media_url");
    assert!(
        message.contains("s3://chasqui-media/prod/eu-1"),
        "{message}"
    );
    assert!(
        message.contains("403") && message.contains("SignatureDoesNotMatch"),
        "the store's refusal: {message}"
    );
    let text = body.to_string();
    assert!(
        !text.contains(wrong) && !text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY),
        "{text}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_s3_store_that_does_not_answer_is_reported_within_seconds_and_cached() {
    // Connections are accepted (by the kernel) but never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let app = gateway(&endpoint, SECRET_KEY).await;

    let started = Instant::now();
    let body = readyz(&app, 503).await;
    let first = started.elapsed();
    let message = media_not_ready(&body, "storage.media_url");
    assert!(message.contains("did not answer within 2 s"), "{message}");
    assert!(first < Duration::from_secs(4), "took {first:?}");

    // Probes in the next seconds get the cached answer at once instead of waiting again.
    let started = Instant::now();
    for _ in 0..5 {
        let body = readyz(&app, 503).await;
        media_not_ready(&body, "storage.media_url");
    }
    let cached = started.elapsed();
    assert!(cached < Duration::from_secs(1), "took {cached:?}");
    app.shutdown().await.unwrap();
    drop(silent);
}
