use reqwest::Method;
use serde_json::json as j;

use crate::helpers::{error_of, json, spawn_app};

#[tokio::test]
async fn tenant_can_rename_itself_and_the_change_is_audited() {
    let app = spawn_app().await;
    let body = json(
        app.authed(Method::PATCH, "/v1/tenant")
            .json(&j!({"name": "Taller Norte"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(body["name"], "Taller Norte");
    let again = json(
        app.authed(Method::GET, "/v1/tenant").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(again["name"], "Taller Norte");
    let audit = json(
        app.authed(Method::GET, "/v1/audit-log")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let last = audit["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "tenant.renamed");
    assert!(last["actor"].as_str().unwrap().starts_with("api:key_"));
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn lists_paginate_with_cursors() {
    let app = spawn_app().await;
    let tenant = app.tenant_id.parse().unwrap();
    for i in 0..4 {
        app.store
            .create_api_key(tenant, Some(&format!("k{i}")), "test")
            .await
            .unwrap();
    }
    let mut labels = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/api-keys?limit=2&cursor={c}"),
            None => "/v1/api-keys?limit=2".to_owned(),
        };
        let page = json(app.authed(Method::GET, &path).send().await.unwrap(), 200).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        labels.extend(data.iter().map(|k| k["label"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(labels, ["demo", "k0", "k1", "k2", "k3"]);

    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
    ] {
        let body = json(
            app.authed(Method::GET, &format!("/v1/api-keys?{query}"))
                .send()
                .await
                .unwrap(),
            422,
        )
        .await;
        let (got, _) = error_of(&body);
        assert_eq!(got, code);
        assert!(body["error"]["field"].is_string());
    }
    let body = json(
        app.authed(Method::GET, "/v1/api-keys?limit=abc")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_query");
    assert_eq!(body["error"]["field"], "limit");
    app.shutdown().await.unwrap();
}
