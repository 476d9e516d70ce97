//! Meta Cloud API and 360dialog senders against local imitation servers: every request is
//! asserted field by field, and the imitations answer with Meta's own bodies from the reference
//! folder (`whatsapp/meta_openapi_send_*`, `graph_error_*`, the OpenAPI error examples).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions panic on purpose

mod common;
mod imitation;

use std::time::Duration;

use chasqui_channels::resilience::breaker::{BreakerState, CircuitBreaker};
use chasqui_channels::resilience::retry::{RetryDecision, RetryPolicy};
use chasqui_channels::send::{
    ErrorClass, MarkReadOutcome, OutboundMessage, SendError, SendReceipt, Sender, SenderConfig,
    SenderKind, build_sender, fetch_all_templates,
};
use chasqui_core::backoff::Backoff;
use chasqui_core::secrets::Secret;
use common::read_json;
use imitation::{Imitation, Reply, closed_port_url};
use serde_json::{Value, json};

const PNID: &str = "106540352242922";
const TOKEN: &str = "EAAGtestTOKEN";

fn meta(base: &str) -> std::sync::Arc<dyn Sender> {
    build_sender(
        &SenderConfig::cloud_api(PNID, Secret::new(TOKEN))
            .with_base_url(base)
            .with_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

fn d360(base: &str) -> std::sync::Arc<dyn Sender> {
    build_sender(&SenderConfig::dialog360(Secret::new("D360KEY")).with_base_url(base)).unwrap()
}

fn send_response() -> Value {
    read_json("whatsapp/meta_openapi_send_response_example.json")
}

fn text_body(to: &str) -> Value {
    let mut body = read_json("whatsapp/meta_openapi_send_send_text_message.json");
    body["to"] = json!(to);
    body
}

#[tokio::test]
async fn meta_text_send_is_asserted_field_by_field() {
    let server = Imitation::always(Reply::json(200, &send_response())).await;
    let body = text_body("16505551234");
    let msg = OutboundMessage::new("msg-1", body.clone()).unwrap();
    let receipt = meta(&server.base_url).send(&msg).await.unwrap();

    let req = server.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/v23.0/{PNID}/messages"));
    assert_eq!(req.query, None);
    assert_eq!(req.header("authorization"), Some("Bearer EAAGtestTOKEN"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(req.header("user-agent").unwrap().starts_with("chasqui/"));
    assert_eq!(req.header("d360-api-key"), None);
    let sent = req.json();
    assert_eq!(sent["messaging_product"], "whatsapp");
    assert_eq!(sent["recipient_type"], "individual");
    assert_eq!(sent["to"], "16505551234");
    assert_eq!(sent["type"], "text");
    assert_eq!(
        sent["text"],
        json!({"body": "text-message-content", "preview_url": false})
    );
    assert_eq!(sent, body, "nothing added or dropped");

    assert_eq!(
        receipt.provider_message_id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA"
    );
    assert_eq!(receipt.wa_id.as_deref(), Some("16505551234"));
    assert_eq!(receipt.raw, send_response());
}

#[tokio::test]
async fn the_wa_id_meta_returns_is_the_one_whatsapp_uses() {
    // Argentina: sent without the 9, WhatsApp answers with its 549… form.
    let mut answer = send_response();
    answer["contacts"] = json!([{"input": "541155551234", "wa_id": "5491155551234"}]);
    answer["messages"][0]["message_status"] = json!("accepted");
    let server = Imitation::always(Reply::json(200, &answer)).await;
    let msg = OutboundMessage::new("m", text_body("541155551234")).unwrap();
    let r = meta(&server.base_url).send(&msg).await.unwrap();
    assert_eq!(r.wa_id.as_deref(), Some("5491155551234"));
    assert_eq!(r.message_status.as_deref(), Some("accepted"));
}

#[tokio::test]
async fn every_official_send_example_goes_out_verbatim() {
    let server = Imitation::always(Reply::json(200, &send_response())).await;
    let sender = meta(&server.base_url);
    let files: Vec<String> = common::json_files("whatsapp")
        .into_iter()
        .filter(|f| f.starts_with("meta_openapi_send_send_"))
        .collect();
    let mut sent = 0;
    for file in &files {
        let body = read_json(&format!("whatsapp/{file}"));
        let Ok(msg) = OutboundMessage::new(file.clone(), body.clone()) else {
            // The read-receipt example has no recipient: it is a mark-read body (tested below).
            assert!(file.contains("read_receipt"), "{file} was refused");
            continue;
        };
        sender.send(&msg).await.unwrap();
        let req = server.requests().pop().unwrap();
        assert_eq!(req.path, format!("/v23.0/{PNID}/messages"), "{file}");
        assert_eq!(req.json(), body, "{file} went out changed");
        sent += 1;
    }
    assert!(sent >= 20, "only {sent} examples sent");
}

#[tokio::test]
async fn graph_version_and_base_url_come_from_the_channel() {
    let server = Imitation::always(Reply::json(200, &send_response())).await;
    let sender = build_sender(
        &SenderConfig::cloud_api("42", Secret::new("t"))
            .with_base_url(format!("{}/sandbox/", server.base_url))
            .with_graph_version("v26.0"),
    )
    .unwrap();
    sender
        .send(&OutboundMessage::new("m", text_body("1")).unwrap())
        .await
        .unwrap();
    assert_eq!(server.only_request().path, "/sandbox/v26.0/42/messages");
}

/// One row: the answer the imitation gives, and what the sender must make of it.
struct Row {
    name: &'static str,
    reply: Reply,
    class: ErrorClass,
    code: Option<i64>,
    subcode: Option<i64>,
    retry_after: Option<Duration>,
    says: &'static str,
}

/// A status webhook's error object (`statuses[0].errors[0]`) as a synchronous Graph error.
fn webhook_error_as_graph(file: &str) -> Value {
    let v = read_json(file);
    let e = &v["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0];
    json!({ "error": e })
}

fn openapi_error(
    message: &str,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    transient: bool,
) -> Value {
    // The shapes of the OpenAPI spec's 401/429/500 examples (whatsapp/meta_business-messaging-api_v23.0.openapi.yaml).
    let mut e = json!({"message": message, "type": kind, "code": code, "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"});
    if let Some(s) = subcode {
        e["error_subcode"] = json!(s);
    }
    if transient {
        e["is_transient"] = json!(true);
    }
    json!({ "error": e })
}

fn error_rows() -> Vec<Row> {
    vec![
        Row {
            name: "131030 not in allowed list (reference body)",
            reply: Reply::json(400, &read_json("whatsapp/graph_error_131030_recipient_not_in_allowed_list.json")),
            class: ErrorClass::Permanent,
            code: Some(131030),
            subcode: None,
            retry_after: None,
            says: "allowed list",
        },
        Row {
            name: "190/463 token expired (reference body)",
            reply: Reply::json(401, &read_json("whatsapp/graph_error_190_463_token_expired.json")),
            class: ErrorClass::AuthExpired,
            code: Some(190),
            subcode: Some(463),
            retry_after: None,
            says: "reconnect the channel",
        },
        Row {
            name: "131053 media upload, host said 429 (reference object)",
            reply: Reply::json(400, &json!({"error": read_json("whatsapp/graph_error_131053_media_upload_error_object.json")})),
            class: ErrorClass::Retryable,
            code: Some(131053),
            subcode: None,
            retry_after: None,
            says: "http code 429",
        },
        Row {
            name: "131047 window closed (reference webhook error, synchronously)",
            reply: Reply::json(400, &webhook_error_as_graph("whatsapp/javaapi_reEngagementMessageError.json")),
            class: ErrorClass::WindowClosed,
            code: Some(131047),
            subcode: None,
            retry_after: None,
            says: "send an approved template instead (Meta 131047)",
        },
        Row {
            name: "100/33 unknown phone number id (reference body)",
            reply: Reply::json(400, &read_json("whatsapp/javaapi_phoneNumberNotFoundError.json")),
            class: ErrorClass::Permanent,
            code: Some(100),
            subcode: Some(33),
            retry_after: None,
            says: "phone number id",
        },
        Row {
            name: "4/2446079 app rate limit with Retry-After seconds",
            reply: Reply::json(429, &openapi_error("Application request limit reached", "OAuthException", 4, Some(2446079), true))
                .with_header("retry-after", "7"),
            class: ErrorClass::RateLimited,
            code: Some(4),
            subcode: Some(2446079),
            retry_after: Some(Duration::from_secs(7)),
            says: "rate limit",
        },
        Row {
            name: "80007 WABA limit with Meta's usage header",
            reply: Reply::json(429, &openapi_error("Business request limit reached for WhatsApp Business Account", "OAuthException", 80007, Some(2446079), true))
                .with_header(
                    "x-business-use-case-usage",
                    r#"{"102290129340398":[{"type":"whatsapp","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":2}]}"#,
                ),
            class: ErrorClass::RateLimited,
            code: Some(80007),
            subcode: Some(2446079),
            retry_after: Some(Duration::from_secs(120)),
            says: "(Meta 80007)",
        },
        Row {
            name: "2 transient server error",
            reply: Reply::json(500, &openapi_error("An unexpected error occurred. Please retry your request", "GraphMethodException", 2, None, true)),
            class: ErrorClass::Retryable,
            code: Some(2),
            subcode: None,
            retry_after: None,
            says: "will be retried",
        },
        Row {
            name: "200/1349174 permission (OpenAPI 403 example)",
            reply: Reply::json(403, &openapi_error("Your app doesn't have permission to access connected client businesses for this application", "OAuthException", 200, Some(1349174), false)),
            class: ErrorClass::AuthExpired,
            code: Some(200),
            subcode: Some(1349174),
            retry_after: None,
            says: "permission",
        },
        Row {
            name: "130429 throughput",
            reply: Reply::json(400, &json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."}, "fbtrace_id": "X"}})),
            class: ErrorClass::RateLimited,
            code: Some(130429),
            subcode: None,
            retry_after: None,
            says: "throughput",
        },
        Row {
            name: "131056 pair rate",
            reply: Reply::json(400, &json!({"error": {"message": "(#131056) (Business Account, Consumer Account) pair rate limit hit", "type": "OAuthException", "code": 131056, "fbtrace_id": "X"}})),
            class: ErrorClass::RateLimited,
            code: Some(131056),
            subcode: None,
            retry_after: None,
            says: "this customer",
        },
        Row {
            name: "503 HTML from a proxy, Retry-After as an HTTP date in the past",
            reply: Reply::text(503, "<html><body>Service Unavailable</body></html>")
                .with_header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
            class: ErrorClass::Retryable,
            code: None,
            subcode: None,
            retry_after: Some(Duration::ZERO),
            says: "(Meta Cloud API HTTP 503)",
        },
    ]
}

#[tokio::test]
async fn each_error_body_is_classified() {
    for row in error_rows() {
        let server = Imitation::always(row.reply.clone()).await;
        let msg = OutboundMessage::new("m", text_body("16505551234")).unwrap();
        let e = meta(&server.base_url).send(&msg).await.unwrap_err();
        assert_eq!(e.class, row.class, "{}: {}", row.name, e.message);
        assert_eq!(e.code, row.code, "{}", row.name);
        assert_eq!(e.subcode, row.subcode, "{}", row.name);
        assert_eq!(e.http_status, Some(row.reply.status), "{}", row.name);
        assert_eq!(e.retry_after, row.retry_after, "{}", row.name);
        assert!(e.message.contains(row.says), "{}: {}", row.name, e.message);
        assert_eq!(e.provider, SenderKind::CloudApi);
        if let Some(code) = row.code {
            assert!(
                e.message.ends_with(&format!("(Meta {code})")),
                "{}: {}",
                row.name,
                e.message
            );
        }
        assert!(!e.message.contains(TOKEN) && !e.raw.to_string().contains(TOKEN));
    }
}

/// What the sender worker does around one message: breaker, call, retry decision. Sleeps the
/// (tiny) pauses for real.
async fn send_with_policy(
    sender: &dyn Sender,
    msg: &OutboundMessage,
    policy: &RetryPolicy,
    breaker: &mut CircuitBreaker,
) -> (Result<SendReceipt, SendError>, u32) {
    let mut failures = 0;
    loop {
        breaker
            .allow(std::time::Instant::now())
            .expect("breaker closed");
        let outcome = sender.send(msg).await;
        breaker.record(&outcome, std::time::Instant::now());
        match &outcome {
            Ok(_) => return (outcome, failures),
            Err(e) => {
                failures += 1;
                match policy.decide(failures, e, 0.5) {
                    RetryDecision::RetryAfter(d) => tokio::time::sleep(d).await,
                    RetryDecision::Hold | RetryDecision::Fail => return (outcome, failures),
                }
            }
        }
    }
}

fn fast_policy(retries: u32) -> RetryPolicy {
    RetryPolicy {
        retries,
        backoff: Backoff {
            base: Duration::from_millis(2),
            max: Duration::from_millis(20),
            factor: 2.0,
        },
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn three_5xx_then_success_yields_one_send() {
    let ok = Reply::json(200, &send_response());
    let down = Reply::json(
        500,
        &openapi_error(
            "An unexpected error occurred. Please retry your request",
            "GraphMethodException",
            2,
            None,
            true,
        ),
    );
    let server = Imitation::replies(vec![
        down.clone(),
        Reply::text(502, "Bad Gateway"),
        down,
        ok,
    ])
    .await;
    let sender = meta(&server.base_url);
    let msg = OutboundMessage::new("m-5xx", text_body("16505551234")).unwrap();
    let mut breaker = CircuitBreaker::default();
    let (outcome, failures) = send_with_policy(&*sender, &msg, &fast_policy(3), &mut breaker).await;
    assert!(outcome.is_ok());
    assert_eq!(failures, 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    assert!(
        reqs.iter().all(|r| r.json() == reqs[0].json()),
        "the same body each time"
    );
    assert_eq!(
        breaker.state(std::time::Instant::now()),
        BreakerState::Closed
    );
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let server = Imitation::always(Reply::json(
        400,
        &read_json("whatsapp/graph_error_131030_recipient_not_in_allowed_list.json"),
    ))
    .await;
    let sender = meta(&server.base_url);
    let msg = OutboundMessage::new("m", text_body("16505551234")).unwrap();
    let mut breaker = CircuitBreaker::default();
    let (outcome, failures) = send_with_policy(&*sender, &msg, &fast_policy(3), &mut breaker).await;
    assert_eq!(outcome.unwrap_err().class, ErrorClass::Permanent);
    assert_eq!((failures, server.requests().len()), (1, 1));
}

#[tokio::test]
async fn a_provider_down_opens_the_breaker() {
    let server = Imitation::always(Reply::text(503, "down")).await;
    let sender = meta(&server.base_url);
    let msg = OutboundMessage::new("m", text_body("16505551234")).unwrap();
    let mut breaker = CircuitBreaker::default();
    for call in 1..=5 {
        let now = std::time::Instant::now();
        breaker.allow(now).unwrap();
        let outcome = sender.send(&msg).await;
        assert_eq!(outcome.as_ref().unwrap_err().class, ErrorClass::Retryable);
        breaker.record(&outcome, now);
        let expected = if call < 5 {
            BreakerState::Closed
        } else {
            BreakerState::Open
        };
        assert_eq!(breaker.state(now), expected, "after call {call}");
    }
    // While open, the message waits: the breaker says until when, and nothing is sent.
    let now = std::time::Instant::now();
    let wait = breaker.allow(now).unwrap_err();
    assert!(wait.until > now + Duration::from_secs(55));
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server =
        Imitation::always(Reply::json(200, &send_response()).after(Duration::from_secs(3))).await;
    let sender = build_sender(
        &SenderConfig::cloud_api(PNID, Secret::new(TOKEN))
            .with_base_url(&server.base_url)
            .with_timeout(Duration::from_millis(150)),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let e = sender
        .send(&OutboundMessage::new("m", text_body("1")).unwrap())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.class, ErrorClass::Retryable);
    assert_eq!(e.http_status, None);
    assert_eq!(
        e.message,
        "Meta Cloud API did not answer within 150 ms: the message will be retried"
    );
}

#[tokio::test]
async fn a_connection_error_is_retryable() {
    let sender = meta(&closed_port_url().await);
    let e = sender
        .send(&OutboundMessage::new("m", text_body("1")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Retryable, "{}", e.message);
    assert!(
        e.message.starts_with("Could not connect to Meta Cloud API"),
        "{}",
        e.message
    );
    let health = sender.health().await;
    assert!(!health.reachable);
    assert_eq!(health.credentials_valid, None);
}

#[tokio::test]
async fn mark_read_with_and_without_typing() {
    let server = Imitation::always(Reply::json(
        200,
        &read_json("whatsapp/javaapi_reponse.json"),
    ))
    .await;
    let sender = meta(&server.base_url);
    let expected =
        read_json("whatsapp/meta_openapi_send_send_typing_indicator_and_read_receipt.json");
    let id = expected["message_id"].as_str().unwrap();
    assert_eq!(
        sender.mark_read(id, true).await.unwrap(),
        MarkReadOutcome::Marked
    );
    assert_eq!(
        sender.mark_read(id, false).await.unwrap(),
        MarkReadOutcome::Marked
    );
    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, format!("/v23.0/{PNID}/messages"));
        assert_eq!(r.header("authorization"), Some("Bearer EAAGtestTOKEN"));
    }
    assert_eq!(reqs[0].json(), expected);
    assert_eq!(
        reqs[1].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": id})
    );
}

fn template_entry(name: &str, status: &str) -> Value {
    // The OpenAPI example's template, renamed.
    json!({"category": "MARKETING", "components": [
            {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
            {"example": {"body_text": [["Mark", "FALL25"]]}, "text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}}", "type": "BODY"},
            {"text": "Not interested? Tap Stop Promotions", "type": "FOOTER"},
            {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"}],
        "id": "920070352646140", "language": "en_US", "name": name, "status": status})
}

#[tokio::test]
async fn templates_are_listed_page_by_page() {
    let server = Imitation::start(|n, _| match n {
        0 => Reply::json(200, &json!({"data": [template_entry("a", "APPROVED"), template_entry("b", "REJECTED")],
            "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}, "next": "https://graph.facebook.com/v23.0/1/message_templates?after=MjQZD"}})),
        1 => Reply::json(200, &json!({"data": [template_entry("c", "PENDING")],
            "paging": {"cursors": {"before": "MjQZD", "after": "MzQZD"}}})),
        _ => Reply::text(599, "no third page"),
    })
    .await;
    let sender = meta(&server.base_url);
    let all = fetch_all_templates(&*sender, "102290129340398", 10)
        .await
        .unwrap();
    let names: Vec<_> = all
        .iter()
        .map(|t| (t.name.as_str(), t.status.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("a", Some("APPROVED")),
            ("b", Some("REJECTED")),
            ("c", Some("PENDING"))
        ]
    );
    assert_eq!(all[0].language, "en_US");
    assert_eq!(all[0].category.as_deref(), Some("MARKETING"));
    assert_eq!(all[0].components.as_array().unwrap().len(), 4);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/v23.0/102290129340398/message_templates");
        assert_eq!(r.header("authorization"), Some("Bearer EAAGtestTOKEN"));
        assert!(r.body.is_empty());
    }
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(reqs[0].query_pairs(), q(&[("limit", "100")]));
    assert_eq!(
        reqs[1].query_pairs(),
        q(&[("limit", "100"), ("after", "MjQZD")])
    );
}

#[tokio::test]
async fn health_reads_the_phone_number_and_spots_an_expired_token() {
    let server = Imitation::replies(vec![
        Reply::json(200, &read_json("whatsapp/javaapi_phoneNumber.json")),
        Reply::json(
            401,
            &read_json("whatsapp/graph_error_190_463_token_expired.json"),
        ),
    ])
    .await;
    let sender = meta(&server.base_url);
    let ok = sender.health().await;
    assert!(ok.reachable);
    assert_eq!(ok.credentials_valid, Some(true));
    assert!(
        ok.summary
            .contains("11111111111 (Test Number), quality GREEN"),
        "{}",
        ok.summary
    );
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, format!("/v23.0/{PNID}"));
    assert_eq!(
        req.query_pairs(),
        vec![(
            "fields".to_string(),
            "id,display_phone_number,verified_name,quality_rating,throughput".to_string()
        )]
    );
    let bad = sender.health().await;
    assert!(bad.reachable);
    assert_eq!(bad.credentials_valid, Some(false));
    assert_eq!(bad.can_send, Some(false));
    assert_eq!(bad.error.unwrap().class, ErrorClass::AuthExpired);
}

#[tokio::test]
async fn dialog360_sends_meta_bodies_with_its_key_and_no_prefix() {
    let server = Imitation::always(Reply::json(200, &send_response())).await;
    let sender = d360(&server.base_url);
    let body = read_json("whatsapp/meta_openapi_send_send_message_template_text.json");
    let r = sender
        .send(&OutboundMessage::new("m", body.clone()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.wa_id.as_deref(), Some("16505551234"));
    let req = server.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/messages");
    assert_eq!(req.header("d360-api-key"), Some("D360KEY"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.json(), body);
}

#[tokio::test]
async fn dialog360_mark_read_health_templates_and_errors() {
    let server = Imitation::start(|_, r| match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/messages") if r.json()["status"] == "read" => {
            Reply::json(200, &json!({"success": true}))
        }
        ("POST", "/messages") => Reply::json(
            400,
            &webhook_error_as_graph("whatsapp/javaapi_reEngagementMessageError.json"),
        ),
        ("GET", "/health_status") => Reply::json(
            200,
            &json!({"health_status": {"can_send_message": "LIMITED", "entities": [
            {"entity_type": "PHONE_NUMBER", "id": "1", "can_send_message": "LIMITED"}]}}),
        ),
        ("GET", "/v1/configs/templates") => Reply::json(
            200,
            &json!({"count": 1, "total": 1, "offset": 0, "limit": 1000,
            "waba_templates": [template_entry("hello", "approved")]}),
        ),
        _ => Reply::text(404, "no such route"),
    })
    .await;
    let sender = d360(&server.base_url);
    assert_eq!(
        sender.mark_read("wamid.A", true).await.unwrap(),
        MarkReadOutcome::Marked
    );
    assert_eq!(
        server.requests()[0].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.A", "typing_indicator": {"type": "text"}})
    );
    let e = sender
        .send(&OutboundMessage::new("m", text_body("1")).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::WindowClosed);
    assert!(
        e.message.ends_with("(Meta 131047 via 360dialog)"),
        "{}",
        e.message
    );
    let h = sender.health().await;
    assert_eq!(
        (h.reachable, h.credentials_valid, h.can_send),
        (true, Some(true), Some(true))
    );
    assert!(h.summary.contains("LIMITED"));
    let page = sender.list_templates("ignored", None).await.unwrap();
    assert_eq!(page.templates[0].name, "hello");
    assert_eq!(page.after, None);
    for r in server.requests() {
        assert_eq!(r.header("d360-api-key"), Some("D360KEY"));
    }
}
