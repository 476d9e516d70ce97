//! The built-in sandbox over real sockets: the demo tenant's sandbox channel, the customer
//! simulator, the Cloud API imitation (tokens, bodies, `wa_id` forms, templates, media), signed
//! status webhooks the gateway accepts, real window tracking, and failure injection.

use std::collections::HashMap;
use std::time::Duration;

use chasqui::app::App;
use chasqui::config::{CliOverrides, Config};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Digest;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

/// The access token the tests give the sandbox channel (the generated one is never shown).
const TOKEN: &str = "EAASANDBOX-test-token";

async fn start(extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50")];
    env.extend_from_slice(extra);
    spawn_app_on(Db::Sqlite, &env).await.unwrap()
}

/// The demo tenant's sandbox channel, as the API shows it.
async fn sandbox_channel(app: &TestApp) -> Value {
    let list = json(
        app.authed(Method::GET, "/v1/channels")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let sandboxes: Vec<Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "sandbox")
        .cloned()
        .collect();
    assert_eq!(sandboxes.len(), 1, "{list}");
    sandboxes[0].clone()
}

/// Sets `settings.sandbox` (keeping `base_url`) and a known access token; returns the channel.
async fn configure(app: &TestApp, sandbox: Value) -> Value {
    let ch = sandbox_channel(app).await;
    let mut settings = ch["settings"].clone();
    settings["sandbox"] = sandbox;
    json(
        app.authed(
            Method::PATCH,
            &format!("/v1/channels/{}", ch["id"].as_str().unwrap()),
        )
        .json(&j!({"settings": settings, "access_token": TOKEN}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await
}

fn graph_url(app: &TestApp, path: &str) -> String {
    app.url(&format!("/sandbox/graph/v23.0/{path}"))
}

/// A call to the Graph imitation: (HTTP status, JSON body).
async fn graph(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, graph_url(app, path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| j!({ "raw": text })),
    )
}

async fn send_text(app: &TestApp, pnid: &str, to: &str) -> (u16, Value) {
    let body = j!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": {"body": "Hola"}});
    graph(
        app,
        Method::POST,
        &format!("{pnid}/messages"),
        TOKEN,
        Some(body),
    )
    .await
}

/// The customer writes through the simulator; returns the answer.
async fn customer_writes(app: &TestApp, phone: &str, body: Value) -> Value {
    let res = app
        .authed(
            Method::POST,
            &format!("/sandbox/customers/{phone}/messages"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    json(res, 201).await
}

/// The customer's phone: the conversation.
async fn phone_view(app: &TestApp, phone: &str) -> Value {
    json(
        app.authed(Method::GET, &format!("/sandbox/customers/{phone}/messages"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// Polls until `pred` holds for the sandbox's view of the customer's messages.
async fn wait_phone(app: &TestApp, phone: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let v = phone_view(app, phone).await;
        if pred(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the sandbox never showed the expected state for {phone}: {}",
        phone_view(app, phone).await
    );
}

/// Polls `GET /v1/messages/{id}` until `pred` holds.
async fn wait_message(app: &TestApp, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        last = json(
            app.authed(Method::GET, &format!("/v1/messages/{id}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {id} never reached the expected state: {last}");
}

/// Polls `GET /v1/messages?direction=in` until a message with this provider id shows up.
async fn wait_inbound(app: &TestApp, wamid: &str) -> Value {
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
        if let Some(m) = list["data"].as_array().unwrap().first() {
            return m.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("inbound message {wamid} never arrived");
}

/// `POST /v1/messages`; returns our message id.
async fn send_api(app: &TestApp, body: Value) -> String {
    let res = app
        .authed(Method::POST, "/v1/messages")
        .json(&body)
        .send()
        .await
        .unwrap();
    let queued = json(res, 202).await;
    queued["id"].as_str().unwrap().to_owned()
}

fn statuses_of(m: &Value) -> Vec<String> {
    m["statuses"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["status"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_demo_tenant_gets_one_sandbox_channel_on_first_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = CliOverrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let env: HashMap<String, String> =
        [("CHASQUI_LISTEN".to_owned(), "127.0.0.1:0".to_owned())].into();
    let (config, _) = Config::load(&overrides, &env).unwrap();
    let first = App::build(config.clone()).await.unwrap();
    let port = first.local_addr().unwrap().port();
    let tenant = first.demo.as_ref().unwrap().tenant.id;
    let store = first.state.store.clone();
    let channels = store.list_channels(tenant, 10, None).await.unwrap().items;
    assert_eq!(channels.len(), 1);
    let c = &channels[0];
    assert_eq!(c.kind.as_str(), "sandbox");
    assert_eq!(c.display_phone_number.as_deref(), Some("+1 555 010 0001"));
    assert_eq!(
        c.settings["base_url"],
        format!("http://127.0.0.1:{port}/sandbox/graph")
    );
    assert!(
        c.phone_number_id
            .as_deref()
            .is_some_and(|p| p.len() == 15 && p.bytes().all(|b| b.is_ascii_digit()))
    );
    assert!(c.waba_id.is_some());
    for s in ["access_token", "app_secret"] {
        assert!(
            c.secrets_set.iter().any(|n| n == s),
            "{s} missing: {:?}",
            c.secrets_set
        );
    }
    // The sandbox's templates are the tenant's, ready to send.
    let t = store
        .template(tenant, "reserva_confirmada", "es_AR")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.status.as_str(), t.category.as_str()),
        ("approved", "utility")
    );
    drop(first);

    let second = App::build(config).await.unwrap();
    assert!(second.demo.is_none());
    let channels = second
        .state
        .store
        .list_channels(tenant, 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(
        channels.len(),
        1,
        "a second start must not add a sandbox channel"
    );
    assert_eq!(channels[0].id, c.id);
}

#[tokio::test]
async fn a_customer_message_arrives_as_an_inbound_message() {
    let app = start(&[]).await;
    let sent = customer_writes(
        &app,
        "+5491155550123",
        j!({"text": "Hola, ¿tienen turno mañana? 😊", "name": "Lucía Fernández"}),
    )
    .await;
    let wamid = sent["id"].as_str().unwrap();
    assert!(wamid.starts_with("wamid."));
    assert_eq!(sent["wa_id"], "5491155550123");
    assert_eq!(sent["webhook"]["delivered"], true);
    let m = wait_inbound(&app, wamid).await;
    assert_eq!(m["type"], "text");
    assert_eq!(m["text"], "Hola, ¿tienen turno mañana? 😊");
    let contact = json(
        app.authed(
            Method::GET,
            &format!("/v1/contacts/{}", m["contact_id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(contact["wa_id"], "5491155550123");
    assert_eq!(contact["profile_name"], "Lucía Fernández");
    // The business reads it (with the typing indicator): the customer's phone shows both.
    let read = app
        .authed(
            Method::POST,
            &format!("/v1/messages/{}/read", m["id"].as_str().unwrap()),
        )
        .json(&j!({"typing": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "{}", read.text().await.unwrap());
    let view = phone_view(&app, "+5491155550123").await;
    assert_eq!(view["data"][0]["status"], "read");
    assert_eq!(view["business_typing"], true);

    // Other message types, replying to nothing in particular.
    let loc = customer_writes(
        &app,
        "+5491155550123",
        j!({"type": "location", "latitude": -34.6, "longitude": -58.38, "name": "Obelisco"}),
    )
    .await;
    assert_eq!(
        wait_inbound(&app, loc["id"].as_str().unwrap()).await["type"],
        "location"
    );

    // Acting as a phone needs the tenant's key, and a tenant only reaches its own channels.
    let res = app
        .client
        .post(app.url("/sandbox/customers/+5491155550123/messages"))
        .json(&j!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 401).await).0, "missing_api_key");
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Otro", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    let ch = sandbox_channel(&app).await;
    let res = app
        .client
        .post(app.url("/sandbox/customers/+5491155550123/messages"))
        .bearer_auth(other.expose())
        .json(&j!({"text": "x", "channel_id": ch["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "not_found");
    let res = app
        .client
        .post(app.url("/sandbox/customers/+5491155550123/messages"))
        .bearer_auth(other.expose())
        .json(&j!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "no_sandbox_channel");
    // Bad input is a 422 naming the field.
    let res = app
        .authed(Method::POST, "/sandbox/customers/hello/messages")
        .json(&j!({"text": "x"}))
        .send()
        .await
        .unwrap();
    let body = json(res, 422).await;
    assert_eq!(
        (error_of(&body).0.as_str(), body["error"]["field"].as_str()),
        ("invalid_phone", Some("phone"))
    );
    let res = app
        .authed(Method::POST, "/sandbox/customers/+5491155550123/messages")
        .json(&j!({"type": "fax"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(res, 422).await["error"]["field"], "type");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_send_is_delivered_then_read_when_the_customer_reads_it() {
    let app = start(&[]).await;
    configure(&app, j!({"delays_ms": 0, "auto_read": false})).await;
    // The customer writes first (from the 549 form), which opens the 24-hour window…
    let first = customer_writes(
        &app,
        "+5491155550123",
        j!({"text": "Hola", "name": "Lucía"}),
    )
    .await;
    wait_inbound(&app, first["id"].as_str().unwrap()).await;
    // …so a free-form answer goes through.
    let id = send_api(&app, j!({"to": "+54 9 11 5555-0123", "type": "text", "text": {"body": "¡Hola Lucía! Sí, mañana a las 10."}})).await;
    let delivered = wait_message(&app, &id, |m| m["status"] == "delivered").await;
    let wamid = delivered["provider_message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(wamid.starts_with("wamid."));
    // The customer's phone shows it, with the same id and status.
    let view = wait_phone(&app, "+5491155550123", |v| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == wamid.as_str() && m["status"] == "delivered")
    })
    .await;
    assert_eq!(view["window_open"], true);
    let out = view["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "out")
        .unwrap()
        .clone();
    assert_eq!(out["text"], "¡Hola Lucía! Sí, mañana a las 10.");
    assert_eq!(
        out["content"]["text"]["body"],
        "¡Hola Lucía! Sí, mañana a las 10."
    );
    // Reading it sends the read receipt, which the gateway accepts (signed) and applies.
    let read = json(
        app.authed(
            Method::POST,
            &format!("/sandbox/customers/+5491155550123/messages/{wamid}/read"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["read"], j!([wamid]));
    let m = wait_message(&app, &id, |m| m["status"] == "read").await;
    let history = statuses_of(&m);
    assert!(
        history.contains(&"delivered".to_owned()) && history.contains(&"read".to_owned()),
        "{m}"
    );
    let outs = json(
        app.authed(Method::GET, "/v1/messages?direction=out")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(outs["data"][0]["status"], "read");
    // Every webhook the sandbox posted was signed well enough to be stored and processed.
    assert!(
        app.store
            .list_receipts("dead", 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Reading an unknown message is a 404.
    let res = app
        .authed(
            Method::POST,
            "/sandbox/customers/+5491155550123/messages/wamid.nope/read",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "not_found");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn templates_go_out_of_the_window_and_customers_read_them_by_themselves() {
    let app = start(&[]).await;
    configure(
        &app,
        j!({"delays_ms": {"sent": 0, "delivered": 20, "read": 40}}),
    )
    .await;
    let id = send_api(
        &app,
        j!({"to": "+52 55 1234 5678", "type": "template", "template": {"name": "reserva_confirmada", "language": {"code": "es_AR"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Carlos"}, {"type": "text", "text": "el service"}, {"type": "text", "text": "martes 14"}]}]}}),
    )
    .await;
    // Webhooks are processed in any order; every status ends up in the history.
    let m = wait_message(&app, &id, |m| {
        m["status"] == "read" && statuses_of(m).contains(&"delivered".to_owned())
    })
    .await;
    // Mexico's mobile form: the contact now carries the 521 id WhatsApp answered with.
    let contact = json(
        app.authed(
            Method::GET,
            &format!("/v1/contacts/{}", m["contact_id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(contact["wa_id"], "5215512345678");
    // The phone shows the template rendered, with its quick replies; tapping one is a reply.
    let view = phone_view(&app, "+5215512345678").await;
    let out = &view["data"][0];
    assert!(
        out["text"].as_str().unwrap().contains(
            "Hola Carlos, tu reserva para el service quedó confirmada para el martes 14."
        ),
        "{out}"
    );
    assert_eq!(out["buttons"][1]["title"], "Cambiar fecha");
    let tap = customer_writes(
        &app,
        "+5215512345678",
        j!({"type": "button", "text": "Cambiar fecha"}),
    )
    .await;
    let reply = wait_inbound(&app, tap["id"].as_str().unwrap()).await;
    assert_eq!(reply["type"], "button");
    assert_eq!(reply["context_message_id"], out["id"]);
    // The tenant's application heard it all as events: sent, then read, then the reply.
    let events = json(
        app.authed(Method::GET, "/v1/events?format=json&limit=200")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let statuses: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.status" && e["data"]["message_id"] == id.as_str())
        .map(|e| e["data"]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"sent") && statuses.contains(&"read"),
        "{statuses:?}"
    );
    assert!(
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "message.received"),
        "{events}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_graph_imitation_answers_like_meta() {
    let app = start(&[]).await;
    let ch = configure(&app, j!({"delays_ms": 0})).await;
    let pnid = ch["phone_number_id"].as_str().unwrap().to_owned();
    let waba = ch["waba_id"].as_str().unwrap().to_owned();

    // Wrong or missing token: Meta's 190 / 463, HTTP 401.
    let (status, body) = graph(
        &app,
        Method::POST,
        &format!("{pnid}/messages"),
        "EAAwrong",
        Some(j!({"messaging_product": "whatsapp", "to": "16505551234", "text": {"body": "x"}})),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], 190);
    assert_eq!(body["error"]["error_subcode"], 463);
    assert_eq!(body["error"]["type"], "OAuthException");
    assert!(
        body["error"]["fbtrace_id"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    // Malformed bodies: Meta's 400 with (#100) and friends.
    for (bad, code) in [
        (j!({"to": "16505551234", "text": {"body": "x"}}), 100),
        (
            j!({"messaging_product": "whatsapp", "text": {"body": "x"}}),
            100,
        ),
        (
            j!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text"}),
            131008,
        ),
        (
            j!({"messaging_product": "whatsapp", "to": "16505551234", "type": "carrier_pigeon"}),
            100,
        ),
        (
            j!({"messaging_product": "whatsapp", "to": "16505551234", "text": {"body": "x".repeat(4097)}}),
            131009,
        ),
    ] {
        let (status, body) = graph(
            &app,
            Method::POST,
            &format!("{pnid}/messages"),
            TOKEN,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (400, Some(code)),
            "{bad} → {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("(#{code})")),
            "{body}"
        );
    }
    // Success: wamid and the canonical wa_id (Argentina 549, Mexico 521), input echoed.
    for (to, wa_id) in [
        ("+54 11 5555-0123", "5491155550123"),
        ("+54 9 11 5555-0124", "5491155550124"),
        ("+52 55 1234 5678", "5215512345678"),
        ("16505551234", "16505551234"),
    ] {
        let (status, body) = send_text(&app, &pnid, to).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["messaging_product"], "whatsapp");
        assert_eq!(body["contacts"], j!([{"input": to, "wa_id": wa_id}]));
        assert!(
            body["messages"][0]["id"]
                .as_str()
                .unwrap()
                .starts_with("wamid.")
        );
    }
    // A BSUID send answers with user_id.
    let (_, body) = graph(&app, Method::POST, &format!("{pnid}/messages"), TOKEN, Some(j!({"messaging_product": "whatsapp", "recipient": "US.13491208655302741918", "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}))).await;
    assert_eq!(body["contacts"][0]["user_id"], "US.13491208655302741918");
    // Templates must exist, be approved and get their parameters.
    let (status, body) = graph(&app, Method::POST, &format!("{pnid}/messages"), TOKEN, Some(j!({"messaging_product": "whatsapp", "to": "16505551234", "type": "template", "template": {"name": "nope", "language": {"code": "en_US"}}}))).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (404, Some(132001))
    );
    let (status, body) = graph(&app, Method::POST, &format!("{pnid}/messages"), TOKEN, Some(j!({"messaging_product": "whatsapp", "to": "16505551234", "type": "template", "template": {"name": "order_update", "language": {"code": "en_US"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "Sam"}]}]}}))).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(132000))
    );
    // Mark as read (with typing indicator) of a customer's message.
    let inbound = customer_writes(&app, "+16505551234", j!({"text": "hi"})).await;
    let (status, body) = graph(&app, Method::POST, &format!("{pnid}/messages"), TOKEN, Some(j!({"messaging_product": "whatsapp", "status": "read", "message_id": inbound["id"], "typing_indicator": {"type": "text"}}))).await;
    assert_eq!((status, body), (200, j!({"success": true})));
    let view = phone_view(&app, "16505551234").await;
    let mine = view["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == inbound["id"])
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "read");
    assert_eq!(view["business_typing"], true);
    // Health: the phone number object, limited to the fields asked for.
    let (status, body) = graph(
        &app,
        Method::GET,
        &format!("{pnid}?fields=display_phone_number,quality_rating"),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        j!({"display_phone_number": "+1 555 010 0001", "quality_rating": "GREEN", "id": pnid})
    );
    // Templates, paginated with Meta's cursors.
    let (status, page1) = graph(
        &app,
        Method::GET,
        &format!("{waba}/message_templates?limit=4"),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page1["data"].as_array().unwrap().len(), 4);
    let next = page1["paging"]["next"].as_str().unwrap();
    let page2: Value = app
        .client
        .get(next)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["data"].as_array().unwrap().len(), 2);
    assert!(page2["paging"].get("next").is_none());
    let names: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["data"].as_array().unwrap())
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"reserva_confirmada") && names.contains(&"order_update"),
        "{names:?}"
    );
    let (status, _) = graph(
        &app,
        Method::GET,
        &format!("{waba}/message_templates"),
        "EAAwrong",
        None,
    )
    .await;
    assert_eq!(status, 401);
    // Unknown objects: 100 / 33.
    let (status, body) = graph(&app, Method::GET, "999999999999", TOKEN, None).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_i64(),
            body["error"]["error_subcode"].as_i64()
        ),
        (400, Some(100), Some(33))
    );
    let (status, body) = send_text(&app, "999999999999", "16505551234").await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)));
    // Every call is in the channel's call log.
    let calls = json(
        app.authed(
            Method::GET,
            &format!("/sandbox/channels/{}/calls", ch["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let ops: Vec<&str> = calls["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert!(
        ops.contains(&"send")
            && ops.contains(&"mark_read")
            && ops.contains(&"health")
            && ops.contains(&"templates"),
        "{ops:?}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_gateway_checks_health_and_syncs_templates_against_the_sandbox() {
    let app = start(&[]).await;
    let ch = sandbox_channel(&app).await;
    let id = ch["id"].as_str().unwrap();
    let health = json(
        app.authed(Method::GET, &format!("/v1/channels/{id}/health"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(health.to_string().contains("+1 555 010 0001"), "{health}");
    let synced = json(
        app.authed(Method::POST, &format!("/v1/channels/{id}/templates/sync"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(synced["synced"], 6, "{synced}");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn free_form_outside_the_window_fails_with_131047() {
    let app = start(&[]).await;
    let ch = configure(&app, j!({"delays_ms": 0})).await;
    let pnid = ch["phone_number_id"].as_str().unwrap().to_owned();
    // Straight to the imitation: the call succeeds, the failure arrives by webhook.
    let (status, body) = send_text(&app, &pnid, "+5491155550777").await;
    assert_eq!(status, 200);
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    let view = wait_phone(&app, "5491155550777", |v| {
        v["data"][0]["status"] == "failed"
    })
    .await;
    assert_eq!(view["data"][0]["id"], wamid.as_str());
    assert_eq!(view["data"][0]["error"]["code"], 131047);
    assert_eq!(view["window_open"], false);

    // Through the sender, for a message the gateway queued (its own window check bypassed).
    let tenant = app.tenant_id.parse().unwrap();
    let queued = app
        .store
        .queue_outbound(
            &chasqui_store::outbound::NewOutbound {
                tenant,
                channel: ch["id"].as_str().unwrap().parse().unwrap(),
                contact: None,
                conversation: None,
                to_address: "5491155550778".into(),
                kind: "text".into(),
                body_text: Some("¿Seguís ahí?".into()),
                request: j!({"messaging_product": "whatsapp", "to": "5491155550778", "type": "text", "text": {"body": "¿Seguís ahí?"}}),
                context_message_id: None,
                max_attempts: 3,
            },
            None,
            |id| j!({ "id": id }),
        )
        .await
        .unwrap();
    let chasqui_store::outbound::Queued::New { id, .. } = queued else {
        panic!("{queued:?}")
    };
    let m = wait_message(&app, &id.to_string(), |m| m["status"] == "failed").await;
    assert_eq!(m["error"]["code"], "131047", "{m}");
    // Once the customer writes, the same kind of message goes through.
    customer_writes(&app, "+5491155550778", j!({"text": "Sí, acá estoy"})).await;
    let (_, body) = send_text(&app, &pnid, "+5491155550778").await;
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_phone(&app, "5491155550778", |v| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == wamid.as_str() && m["status"] == "read")
    })
    .await;
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn failures_are_injected_by_recipient_number() {
    let app = start(&[]).await;
    let ch = configure(&app, j!({"delays_ms": 0, "hang_ms": 400})).await;
    let pnid = ch["phone_number_id"].as_str().unwrap().to_owned();
    // Templates, so the window plays no part.
    let send = |to: &'static str| {
        let pnid = pnid.clone();
        let app = &app;
        async move {
            let body = j!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}});
            graph(
                app,
                Method::POST,
                &format!("{pnid}/messages"),
                TOKEN,
                Some(body),
            )
            .await
        }
    };
    // …0429: throughput once, then success.
    let (s, b) = send("+16505550429").await;
    assert_eq!((s, b["error"]["code"].as_i64()), (400, Some(130429)), "{b}");
    assert_eq!(send("+16505550429").await.0, 200);
    // …6056: pair rate once, then success.
    let (s, b) = send("+16505556056").await;
    assert_eq!((s, b["error"]["code"].as_i64()), (400, Some(131056)), "{b}");
    assert_eq!(send("+16505556056").await.0, 200);
    // …0500: HTTP 500 (transient) three times, then success.
    for _ in 0..3 {
        let (s, b) = send("+16505550500").await;
        assert_eq!(
            (s, b["error"]["is_transient"].as_bool()),
            (500, Some(true)),
            "{b}"
        );
    }
    assert_eq!(send("+16505550500").await.0, 200);
    // …0190: token expired.
    let (s, b) = send("+16505550190").await;
    assert_eq!(
        (
            s,
            b["error"]["code"].as_i64(),
            b["error"]["error_subcode"].as_i64()
        ),
        (401, Some(190), Some(463))
    );
    // …0408: the first call hangs past the client's timeout.
    let hung = app
        .client
        .post(graph_url(&app, &format!("{pnid}/messages")))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_millis(150))
        .json(&j!({"messaging_product": "whatsapp", "to": "+16505550408", "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    assert_eq!(send("+16505550408").await.0, 200);
    // …0001: accepted, then undeliverable by webhook.
    let (s, b) = send("+16505550001").await;
    assert_eq!(s, 200);
    let wamid = b["messages"][0]["id"].as_str().unwrap().to_owned();
    let view = wait_phone(&app, "16505550001", |v| v["data"][0]["status"] == "failed").await;
    assert_eq!(
        (
            view["data"][0]["id"].as_str(),
            view["data"][0]["error"]["code"].as_i64()
        ),
        (Some(wamid.as_str()), Some(131026))
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn failures_are_injected_by_channel_settings() {
    let app = start(&[]).await;
    let ch = configure(&app, j!({"delays_ms": 0, "fail_next_n_with_500": 2})).await;
    let pnid = ch["phone_number_id"].as_str().unwrap().to_owned();
    let to = "+16505551234";
    let body = j!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}});
    let path = format!("{pnid}/messages");
    let post = || graph(&app, Method::POST, &path, TOKEN, Some(body.clone()));
    assert_eq!(post().await.0, 500);
    assert_eq!(post().await.0, 500);
    assert_eq!(post().await.0, 200);
    // Changing the channel re-arms the counter.
    configure(&app, j!({"delays_ms": 0, "fail_next_n_with_500": 1})).await;
    assert_eq!(post().await.0, 500);
    assert_eq!(post().await.0, 200);
    // fail_with: a synchronous code answers the call…
    configure(&app, j!({"delays_ms": 0, "fail_with": 368})).await;
    let (s, b) = post().await;
    assert_eq!((s, b["error"]["code"].as_i64()), (400, Some(368)));
    // …an asynchronous one comes by webhook.
    configure(&app, j!({"delays_ms": 0, "fail_with": 131049})).await;
    let (s, b) = post().await;
    assert_eq!(s, 200);
    let wamid = b["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_phone(&app, to, |v| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == wamid.as_str() && m["error"]["code"] == 131049)
    })
    .await;
    // token_expired: 190 on every call.
    configure(&app, j!({"token_expired": true})).await;
    let (s, b) = post().await;
    assert_eq!((s, b["error"]["code"].as_i64()), (401, Some(190)));
    // fail_next_n_with_timeout: hangs past the client's timeout.
    configure(
        &app,
        j!({"delays_ms": 0, "fail_next_n_with_timeout": 1, "hang_ms": 400}),
    )
    .await;
    let hung = app
        .client
        .post(graph_url(&app, &format!("{pnid}/messages")))
        .bearer_auth(TOKEN)
        .timeout(Duration::from_millis(150))
        .json(&body)
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    assert_eq!(post().await.0, 200);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn injected_failures_reach_the_messages_status() {
    let app = start(&[]).await;
    let ch = configure(&app, j!({"delays_ms": 0})).await;
    let template = j!({"name": "hello_world", "language": {"code": "en_US"}});
    // Undeliverable: the send succeeds, the message fails with Meta's code.
    let undeliverable = send_api(
        &app,
        j!({"to": "+1 650 555 0001", "type": "template", "template": template}),
    )
    .await;
    let m = wait_message(&app, &undeliverable, |m| m["status"] == "failed").await;
    assert_eq!(m["error"]["code"], "131026", "{m}");
    // Throughput once: the sender retries and the message is delivered, sent once.
    let throttled = send_api(
        &app,
        j!({"to": "+1 650 555 0429", "type": "template", "template": template}),
    )
    .await;
    let m = wait_message(&app, &throttled, |m| m["status"] == "read").await;
    let wamid = m["provider_message_id"].as_str().unwrap();
    let calls = json(
        app.authed(
            Method::GET,
            &format!("/sandbox/channels/{}/calls", ch["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let to_it: Vec<&Value> = calls["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["to"] == "16505550429")
        .collect();
    assert_eq!(to_it.len(), 2, "{calls}");
    assert_eq!(to_it[0]["error_code"], 130429);
    assert_eq!(to_it[1]["wamid"], wamid);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn customer_media_can_be_downloaded_through_the_sandbox() {
    let app = start(&[("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true")]).await;
    let sent = customer_writes(
        &app,
        "+5491155550123",
        j!({"type": "image", "caption": "La pantalla rota"}),
    )
    .await;
    let m = wait_inbound(&app, sent["id"].as_str().unwrap()).await;
    assert_eq!(m["type"], "image");
    let id = m["id"].as_str().unwrap();
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    )
    .unwrap();
    let stored = wait_message(&app, id, |m| m["media"][0]["state"] == "stored").await;
    assert_eq!(
        stored["media"][0]["sha256"],
        hex::encode(sha2::Sha256::digest(&png))
    );
    assert_eq!(stored["media"][0]["mime_type"], "image/png");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn more_sandbox_channels_and_the_web_page() {
    let app = start(&[]).await;
    let page = app.get("/sandbox").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'sha256-")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"phone\">") && html.contains("sessionStorage"));

    let second = json(
        app.authed(Method::POST, "/sandbox/channels")
            .json(&j!({"name": "Sucursal Norte", "display_phone_number": "+1 555 010 0002"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(second["kind"], "sandbox");
    assert!(
        second["settings"]["base_url"]
            .as_str()
            .unwrap()
            .ends_with("/sandbox/graph")
    );
    // Two sandbox channels: the simulator needs to be told which one.
    let res = app
        .authed(Method::POST, "/sandbox/customers/+5491155550123/messages")
        .json(&j!({"text": "hola"}))
        .send()
        .await
        .unwrap();
    let body = json(res, 422).await;
    assert_eq!(
        (error_of(&body).0.as_str(), body["error"]["field"].as_str()),
        ("channel_id_required", Some("channel_id"))
    );
    let ok = customer_writes(
        &app,
        "+5491155550123",
        j!({"text": "hola", "channel_id": second["id"]}),
    )
    .await;
    let m = wait_inbound(&app, ok["id"].as_str().unwrap()).await;
    assert_eq!(m["channel_id"], second["id"]);
    // The sandbox only posts webhooks to the server it runs in, whatever a base_url says.
    let elsewhere = json(
        app.authed(Method::POST, "/sandbox/channels")
            .json(&j!({"base_url": "http://127.0.0.1:9/sandbox/graph"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let res = app
        .authed(Method::POST, "/sandbox/customers/+5491155550123/messages")
        .json(&j!({"text": "hola", "channel_id": elsewhere["id"]}))
        .send()
        .await
        .unwrap();
    let (code, message) = error_of(&json(res, 502).await);
    assert_eq!(code, "webhook_not_delivered");
    assert!(message.contains("not the Chasqui server"), "{message}");
    app.shutdown().await.unwrap();
}
