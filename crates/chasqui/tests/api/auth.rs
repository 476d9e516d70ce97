use reqwest::Method;

use crate::helpers::{Db, error_of, json, spawn_app_on};

async fn keys_are_checked(db: Db) {
    let Some(app) = spawn_app_on(db, &[]).await else {
        return;
    };
    // The demo tenant's key works.
    let body = json(
        app.authed(Method::GET, "/v1/tenant").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(body["id"], app.tenant_id.as_str());
    assert_eq!(body["name"], "Demo");
    assert_eq!(body["plan"], "INICIAL");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "missing_api_key"),
        (Some("Basic dXNlcjpwYXNz".into()), "malformed_authorization"),
        (Some("Bearer not-a-key".into()), "malformed_api_key"),
        (
            Some(format!(
                "Bearer {}",
                chasqui_core::api_key::ApiKey::generate().expose()
            )),
            "invalid_api_key",
        ),
        // Right prefix, wrong secret.
        (
            Some(format!("Bearer {}_{}", &app.api_key[..17], "A".repeat(32))),
            "invalid_api_key",
        ),
    ];
    for (header, code) in cases {
        let mut req = app.get("/v1/tenant");
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body = json(res, 401).await;
        assert_eq!(error_of(&body).0, code, "{header:?}");
    }

    // A revoked key stops working at once.
    app.store
        .revoke_api_key(&app.api_key[..17], "test")
        .await
        .unwrap();
    let body = json(
        app.authed(Method::GET, "/v1/tenant").send().await.unwrap(),
        401,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_api_key");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn keys_are_checked_sqlite() {
    keys_are_checked(Db::Sqlite).await;
}

#[tokio::test]
async fn keys_are_checked_postgres() {
    keys_are_checked(Db::Postgres).await;
}

#[tokio::test]
async fn a_tenant_only_sees_its_own_keys_and_audit_log() {
    let app = crate::helpers::spawn_app().await;
    let (other, _, other_key) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Empresarial, "test")
        .await
        .unwrap();
    let mine = json(
        app.authed(Method::GET, "/v1/api-keys")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let theirs = json(
        app.get("/v1/api-keys")
            .bearer_auth(other_key.expose())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["prefix"], &app.api_key[..17]);
    assert_eq!(theirs["data"][0]["prefix"], other_key.prefix());
    assert!(mine["data"][0].get("hash").is_none());
    let audit = json(
        app.get("/v1/audit-log")
            .bearer_auth(other_key.expose())
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let entries = audit["data"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|e| e["target"] == other.id.to_string()),
        "{audit}"
    );
    app.shutdown().await.unwrap();
}
