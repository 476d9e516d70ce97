//! Twilio and Chatwoot inbound, end to end over real sockets.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};

use crate::helpers::{Db, TestApp, json, spawn_app_on};

async fn drained(app: &TestApp) {
    for _ in 0..400 {
        if app
            .store
            .list_receipts("pending", 1, None)
            .await
            .unwrap()
            .items
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("webhooks were not processed in time");
}

/// Twilio's algorithm, written here independently of the server: URL + sorted name/value pairs,
/// HMAC-SHA1 with the auth token, Base64.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", k, url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn twilio_messages_and_status_callbacks_are_verified_and_stored() {
    let public = "https://gateway.example.com";
    let Some(app) = spawn_app_on(
        Db::Sqlite,
        &[
            ("CHASQUI_PUBLIC_URL", public),
            ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
        ],
    )
    .await
    else {
        return;
    };
    let token = "twilio-auth-token";
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(
                &j!({"kind": "twilio", "display_phone_number": "+14155238886", "auth_token": token,
                       "settings": {"account_sid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let path = format!("/webhooks/twilio/{}", ch["id"].as_str().unwrap());
    assert_eq!(ch["webhook_url"], format!("{public}{path}"));
    let inbound = [
        ("MessageSid", "SM1234567890abcdef1234567890abcdef"),
        ("AccountSid", "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("From", "whatsapp:+5491123456789"),
        ("To", "whatsapp:+14155238886"),
        ("Body", "Hola, ¿tienen turno mañana?"),
        ("NumMedia", "0"),
        ("ProfileName", "Ana"),
        ("WaId", "5491123456789"),
        ("SmsStatus", "received"),
    ];
    let post = |params: &[(&str, &str)], sig: String| {
        app.client
            .post(app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(form(params))
            .send()
    };
    // Signed for the local URL instead of the public one: refused.
    let wrong = twilio_signature(token, &app.url(&path), &inbound);
    assert_eq!(post(&inbound, wrong).await.unwrap().status(), 401);
    let good = twilio_signature(token, &format!("{public}{path}"), &inbound);
    assert_eq!(post(&inbound, good.clone()).await.unwrap().status(), 200);
    // Twilio retries: the same message again is stored once.
    assert_eq!(post(&inbound, good).await.unwrap().status(), 200);
    drained(&app).await;
    let msgs = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let data = msgs["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{msgs}");
    assert_eq!(data[0]["text"], "Hola, ¿tienen turno mañana?");
    assert_eq!(
        data[0]["provider_message_id"],
        "SM1234567890abcdef1234567890abcdef"
    );
    let contacts = json(
        app.authed(Method::GET, "/v1/contacts")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(contacts["data"][0]["profile_name"], "Ana");
    app.shutdown().await.unwrap();
}

fn chatwoot_sample() -> Vec<u8> {
    let path = chasqui_testdata::reference_path(
        env!("CARGO_MANIFEST_DIR"),
        "chatwoot/docs_sample_message_created.json",
    );
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn chatwoot_events_need_the_channel_token_and_become_messages() {
    let Some(app) = spawn_app_on(Db::Sqlite, &[("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50")]).await
    else {
        return;
    };
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "chatwoot", "name": "Soporte"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let token = ch["generated_webhook_secret"].as_str().unwrap().to_owned();
    let path = format!("/webhooks/chatwoot/{}", ch["id"].as_str().unwrap());
    let body = chatwoot_sample();
    let sample: Value = serde_json::from_slice(&body).unwrap();
    let post = |query: String| {
        app.client
            .post(app.url(&format!("{path}{query}")))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(post(String::new()).await.unwrap().status(), 401);
    assert_eq!(post("?token=wrong".into()).await.unwrap().status(), 401);
    assert_eq!(post(format!("?token={token}")).await.unwrap().status(), 200);
    drained(&app).await;
    assert!(
        app.store
            .list_receipts("dead", 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let msgs = json(
        app.authed(Method::GET, "/v1/messages")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(sample["message_type"], "incoming");
    assert_eq!(msgs["data"].as_array().unwrap().len(), 1, "{msgs}");
    assert_eq!(msgs["data"][0]["text"], sample["content"]);
    // The same event again (Chatwoot retries) is still one message and one contact.
    assert_eq!(post(format!("?token={token}")).await.unwrap().status(), 200);
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
    let contacts = json(
        app.authed(Method::GET, "/v1/contacts")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 1, "{contacts}");
    app.shutdown().await.unwrap();
}
