use reqwest::Method;
use serde_json::json as j;

use crate::helpers::{Db, error_of, json, spawn_app_on};

async fn channel_lifecycle(db: Db) {
    let Some(app) = spawn_app_on(db, &[]).await else {
        return;
    };
    let create =
        |body: serde_json::Value| app.authed(Method::POST, "/v1/channels").json(&body).send();

    let c = json(
        create(
            j!({"kind": "whatsapp_cloud", "name": "Ventas", "phone_number_id": "106540352242922",
                   "waba_id": "102290129340398", "display_phone_number": "+1 555 078 3881",
                   "access_token": "EAAG-very-secret", "app_secret": "app-secret-1"}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("chn_"));
    assert_eq!(
        c["secrets"],
        j!({"access_token": true, "app_secret": true, "verify_token": false})
    );
    assert!(
        c["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/webhooks/whatsapp/{id}"))
    );
    assert!(!c.to_string().contains("EAAG-very-secret") && !c.to_string().contains("app-secret-1"));
    // Encrypted at rest: the database holds no plaintext token.
    assert!(!app.db_contains("EAAG-very-secret").await);

    // Bad input, each with its own code and field.
    for (body, code, field) in [
        (j!({"kind": "telegram"}), "invalid_kind", "kind"),
        (
            j!({"kind": "whatsapp_cloud", "access_token": "x"}),
            "missing_field",
            "phone_number_id",
        ),
        (
            j!({"kind": "whatsapp_cloud", "phone_number_id": "+54 9 11", "access_token": "x"}),
            "invalid_value",
            "phone_number_id",
        ),
        (
            j!({"kind": "whatsapp_cloud", "phone_number_id": "1", "access_token": "x", "auth_token": "y"}),
            "unexpected_field",
            "auth_token",
        ),
        (
            j!({"kind": "twilio", "auth_token": "t"}),
            "missing_field",
            "settings.account_sid",
        ),
        (
            j!({"kind": "zaptra", "access_token": "t"}),
            "missing_field",
            "settings.base_url",
        ),
        (
            j!({"kind": "zaptra", "settings": {"base_url": "https://zaptra.in/api/wpbox"}}),
            "missing_field",
            "access_token",
        ),
    ] {
        let body = json(create(body).await.unwrap(), 422).await;
        assert_eq!(error_of(&body).0, code);
        assert_eq!(body["error"]["field"], field);
    }
    // A phone_number_id belongs to one channel across all tenants.
    let (_, _, other_key) = app
        .store
        .create_tenant_with_key("Other", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    let res = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(other_key.expose())
        .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "106540352242922", "access_token": "x"}))
        .send()
        .await
        .unwrap();
    let body = json(res, 409).await;
    assert_eq!(error_of(&body).0, "phone_number_id_taken");
    // The other tenant cannot see it: 404, not 403.
    let res = app
        .client
        .get(app.url(&format!("/v1/channels/{id}")))
        .bearer_auth(other_key.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "not_found");

    // Patch: rename, remove a secret, refuse an unknown status.
    let p = json(
        app.authed(Method::PATCH, &format!("/v1/channels/{id}"))
            .json(&j!({"name": "Soporte", "app_secret": null}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(p["name"], "Soporte");
    assert_eq!(p["secrets"]["app_secret"], false);
    assert_eq!(p["secrets"]["access_token"], true);
    let body = json(
        app.authed(Method::PATCH, &format!("/v1/channels/{id}"))
            .json(&j!({"status": "paused"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_status");

    // Chatwoot gets a generated webhook secret, shown once.
    let cw = json(
        create(j!({"kind": "chatwoot", "name": "Inbox"}))
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(cw["generated_webhook_secret"].as_str().unwrap().len(), 32);
    let again = json(
        app.authed(
            Method::GET,
            &format!("/v1/channels/{}", cw["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert!(again.get("generated_webhook_secret").is_none());
    assert_eq!(again["secrets"]["webhook_secret"], true);

    let list = json(
        app.authed(Method::GET, "/v1/channels")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // The two created here, besides the demo tenant's sandbox channel.
    let kinds: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k != "sandbox").count(),
        2,
        "{kinds:?}"
    );

    // Delete frees the phone_number_id.
    let res = app
        .authed(Method::DELETE, &format!("/v1/channels/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    json(
        app.authed(Method::GET, &format!("/v1/channels/{id}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let res = app
        .client
        .post(app.url("/v1/channels"))
        .bearer_auth(other_key.expose())
        .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "106540352242922", "access_token": "x"}))
        .send()
        .await
        .unwrap();
    json(res, 201).await;
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn channel_lifecycle_sqlite() {
    channel_lifecycle(Db::Sqlite).await;
}

#[tokio::test]
async fn channel_lifecycle_postgres() {
    channel_lifecycle(Db::Postgres).await;
}
