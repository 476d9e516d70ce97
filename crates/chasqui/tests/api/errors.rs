use reqwest::Method;
use serde_json::json as j;

use crate::helpers::{Db, error_of, json, spawn_app, spawn_app_on};

#[tokio::test]
async fn bad_bodies_get_precise_errors_in_the_standard_shape() {
    let app = spawn_app().await;
    let patch = || app.authed(Method::PATCH, "/v1/tenant");

    let body = json(
        patch()
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(error_of(&body).0, "malformed_json");

    let body = json(
        patch()
            .header("content-type", "text/plain")
            .body("{\"name\":\"x\"}")
            .send()
            .await
            .unwrap(),
        415,
    )
    .await;
    let (code, message) = error_of(&body);
    assert_eq!(code, "unsupported_media_type");
    assert!(message.contains("application/json"));

    let body = json(patch().json(&j!({"name": 42})).send().await.unwrap(), 422).await;
    assert_eq!(error_of(&body).0, "invalid_body");
    assert_eq!(body["error"]["field"], "name");

    let body = json(
        patch()
            .json(&j!({"name": "x", "plan": "ENTERPRISE"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(error_of(&body).1.contains("plan"), "{body}");

    let body = json(
        patch().json(&j!({"name": "   "})).send().await.unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_name");
    assert_eq!(body["error"]["field"], "name");

    let body = json(
        app.authed(Method::DELETE, "/v1/tenant")
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
    assert_eq!(error_of(&body).0, "method_not_allowed");
    let body = json(app.get("/v1/nothing-here").send().await.unwrap(), 404).await;
    assert_eq!(error_of(&body).0, "route_not_found");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let Some(app) = spawn_app_on(Db::Sqlite, &[("CHASQUI_SERVER_BODY_LIMIT_BYTES", "1024")]).await
    else {
        return;
    };
    let big = "x".repeat(4096);
    let res = app
        .authed(Method::PATCH, "/v1/tenant")
        .json(&j!({ "name": big }))
        .send()
        .await
        .unwrap();
    let body = json(res, 413).await;
    assert_eq!(error_of(&body).0, "payload_too_large");
    // Under the limit still works.
    json(
        app.authed(Method::PATCH, "/v1/tenant")
            .json(&j!({"name": "ok"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let res = app.get("/healthz").send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let res = app
        .get("/v1/tenant")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    app.shutdown().await.unwrap();
}
