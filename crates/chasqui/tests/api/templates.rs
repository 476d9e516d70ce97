//! Templates end to end: registering, listing, previewing, syncing from a local imitation of the
//! Graph API (two pages, bearer token asserted), status webhooks that stop sends, and tenant
//! isolation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json as j};
use sha2::Sha256;

use crate::helpers::{Db, TestApp, error_of, json, spawn_app_on};

const APP_SECRET: &str = "templates-app-secret";
const TOKEN: &str = "EAAG-templates-token";
const WABA: &str = "102290129340398";
const PNID: &str = "1000";
const CUSTOMER: &str = "5491123456789";

/// A request the imitation received: path, query, `Authorization`.
type Seen = (String, HashMap<String, String>, Option<String>);

#[derive(Clone, Default)]
struct Graph {
    base: Arc<Mutex<String>>,
    listed: Arc<Mutex<Vec<Seen>>>,
    sent: Arc<Mutex<Vec<Value>>>,
    /// An error to answer template listings with: (HTTP status, body).
    fail: Arc<Mutex<Option<(u16, Value)>>>,
}

async fn graph_templates(
    State(g): State<Graph>,
    Path((version, waba)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    g.listed.lock().unwrap().push((
        format!("/{version}/{waba}/message_templates"),
        q.clone(),
        auth,
    ));
    if let Some((status, body)) = g.fail.lock().unwrap().clone() {
        return (StatusCode::from_u16(status).unwrap(), axum::Json(body));
    }
    let base = g.base.lock().unwrap().clone();
    let page = match q.get("after").map(String::as_str) {
        None => j!({
            "data": [
                {
                    "id": "111",
                    "name": "confirmacion_turno",
                    "language": "es_AR",
                    "status": "APPROVED",
                    "category": "UTILITY",
                    "parameter_format": "POSITIONAL",
                    "components": [
                        {"type": "BODY", "text": "Hola {{1}}, tu turno es el {{2}}.",
                         "example": {"body_text": [["Ana", "martes"]]}}
                    ]
                },
                {
                    "id": "112",
                    "name": "recordatorio_pago",
                    "language": "es_AR",
                    "status": "PAUSED",
                    "category": "UTILITY",
                    "components": [{"type": "BODY", "text": "Tu factura {{1}} vence mañana."}]
                }
            ],
            "paging": {
                "cursors": {"before": "B1", "after": "PAGE2"},
                "next": format!("{base}/{version}/{waba}/message_templates?limit=100&after=PAGE2")
            }
        }),
        Some("PAGE2") => j!({
            "data": [
                {
                    "id": "113",
                    "name": "confirmacion_turno",
                    "language": "en_US",
                    "status": "APPROVED",
                    "category": "UTILITY",
                    "components": [{"type": "BODY", "text": "Hi {{1}}, your booking is on {{2}}."}]
                },
                {
                    "id": "114",
                    "name": "sin_categoria",
                    "language": "es",
                    "status": "APPROVED",
                    "components": [{"type": "BODY", "text": "Hola"}]
                }
            ],
            "paging": {"cursors": {"before": "B2", "after": "A2"}}
        }),
        Some(other) => panic!("unexpected cursor {other}"),
    };
    (StatusCode::OK, axum::Json(page))
}

async fn graph_send(State(g): State<Graph>, axum::Json(v): axum::Json<Value>) -> axum::Json<Value> {
    let n = {
        let mut s = g.sent.lock().unwrap();
        s.push(v.clone());
        s.len()
    };
    let to = v["to"].as_str().unwrap_or_default().to_owned();
    axum::Json(j!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.TPL{n}")}]
    }))
}

async fn start_graph() -> (Graph, String) {
    let g = Graph::default();
    let app = Router::new()
        .route("/{version}/{waba}/message_templates", get(graph_templates))
        .route("/{version}/{pnid}/messages", post(graph_send))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    *g.base.lock().unwrap() = base.clone();
    (g, base)
}

/// A server and a fresh tenant of its own (so nothing the demo tenant gets on start, such as
/// sandbox channels or templates, is counted here).
struct App {
    app: TestApp,
    key: String,
}

impl std::ops::Deref for App {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl App {
    async fn start(db: Db) -> Option<Self> {
        let app = spawn_app_on(
            db,
            &[
                ("CHASQUI_META_APP_SECRET", APP_SECRET),
                ("CHASQUI_WORKERS_POLL_INTERVAL_MS", "50"),
            ],
        )
        .await?;
        let (_, _, key) = app
            .store
            .create_tenant_with_key("Taller Palermo", chasqui_core::plan::Plan::Empresarial, "t")
            .await
            .unwrap();
        Some(Self {
            app,
            key: key.expose().to_owned(),
        })
    }

    /// A request with this tenant's key.
    fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.key)
    }

    async fn shutdown(self) -> anyhow::Result<()> {
        self.app.shutdown().await
    }
}

/// A server with a Cloud API channel (number `1000`, WABA `WABA`) pointing at the imitation.
async fn setup(db: Db) -> Option<(App, Graph, String)> {
    let app = App::start(db).await?;
    let (graph, base) = start_graph().await;
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({
                "kind": "whatsapp_cloud",
                "phone_number_id": PNID,
                "waba_id": WABA,
                "access_token": TOKEN,
                "settings": {"base_url": base}
            }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    Some((app, graph, ch["id"].as_str().unwrap().to_owned()))
}

fn booking_template() -> Value {
    j!({
        "name": "confirmacion_turno",
        "language": "es_AR",
        "category": "UTILITY",
        "status": "APPROVED",
        "id": "1689556908129832",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Turno {{1}}"},
            {"type": "BODY", "text": "Hola {{1}}, tu turno en {{2}} es el {{3}}."},
            {"type": "FOOTER", "text": "Taller Chasqui"},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Ver turno", "url": "https://taller.example/turnos/{{1}}"},
                {"type": "QUICK_REPLY", "text": "Cancelar"}
            ]}
        ]
    })
}

fn booking_values() -> Value {
    j!([
        {"type": "header", "parameters": [{"type": "text", "text": "confirmado"}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Ana"},
            {"type": "text", "text": "Palermo"},
            {"type": "text", "text": "martes 14 a las 10:00"}
        ]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-42"}]}
    ])
}

async fn send_template(
    app: &App,
    channel: &str,
    name: &str,
    lang: &str,
    components: Value,
) -> reqwest::Response {
    app.authed(Method::POST, "/v1/messages")
        .json(&j!({
            "channel_id": channel,
            "to": CUSTOMER,
            "type": "template",
            "template": {"name": name, "language": {"code": lang}, "components": components}
        }))
        .send()
        .await
        .unwrap()
}

async fn register(app: &App, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/templates")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a signed WABA-level webhook with one change, the way Meta does.
async fn waba_webhook(app: &App, field: &str, value: Value) {
    let body = serde_json::to_vec(&j!({
        "entry": [{
            "id": WABA,
            "time": chrono::Utc::now().timestamp(),
            "changes": [{"value": value, "field": field}]
        }],
        "object": "whatsapp_business_account"
    }))
    .unwrap();
    let res = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(&body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Polls one template until `pred` holds (webhooks are processed by a job).
async fn wait_template(app: &App, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let t = json(app.authed(Method::GET, path).send().await.unwrap(), 200).await;
        if pred(&t) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("template {path} never reached the expected state");
}

// ---------------------------------------------------------------------------------------------

async fn register_list_preview_send(db: Db) {
    let Some((app, graph, channel)) = setup(db).await else {
        return;
    };
    // Before it is registered, a send naming it is refused.
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "template_not_found");
    assert_eq!(err["error"]["field"], "template.name");

    // A real channel's template needs its status stated (or a sync).
    let mut no_status = booking_template();
    no_status.as_object_mut().unwrap().remove("status");
    no_status["channel_id"] = j!(channel);
    let err = json(register(&app, &no_status).await, 422).await;
    assert_eq!(error_of(&err).0, "status_required");
    assert_eq!(err["error"]["field"], "status");

    let mut body = booking_template();
    body["channel_id"] = j!(channel);
    body["language"] = j!("es-ar");
    let created = json(register(&app, &body).await, 201).await;
    assert_eq!(created["name"], "confirmacion_turno");
    assert_eq!(created["language"], "es_AR");
    assert_eq!(created["status"], "APPROVED");
    assert_eq!(created["category"], "UTILITY");
    assert_eq!(created["sendable"], true);
    assert_eq!(created["channel_id"], j!(channel));
    assert_eq!(created["provider_id"], "1689556908129832");
    assert_eq!(created["parameter_format"], "POSITIONAL");
    assert_eq!(created["components"].as_array().unwrap().len(), 4);
    let params = created["parameters"].as_array().unwrap();
    assert_eq!(params.len(), 6, "{params:?}");
    assert_eq!(
        params[0],
        j!({"component": "header", "name": "1", "type": "text", "required": true})
    );
    assert_eq!(params[3]["name"], "3");
    assert_eq!(
        params[4],
        j!({"component": "button", "index": 0, "sub_type": "url", "type": "text", "required": true})
    );
    assert_eq!(params[5]["required"], false);
    // Registering again replaces it.
    let again = json(register(&app, &body).await, 200).await;
    assert_eq!(again["id"], created["id"]);

    // Listed, with filters.
    let list = json(
        app.authed(Method::GET, "/v1/templates")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);
    for (query, n) in [
        ("?name=confirmacion_turno", 1),
        ("?name=otra", 0),
        ("?language=es-AR", 1),
        ("?language=en_US", 0),
        ("?status=approved", 1),
        ("?status=PAUSED", 0),
    ] {
        let l = json(
            app.authed(Method::GET, &format!("/v1/templates{query}"))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(l["data"].as_array().unwrap().len(), n, "{query}: {l}");
    }
    let err = json(
        app.authed(Method::GET, "/v1/templates?status=great")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&err).0, "invalid_value");
    assert_eq!(err["error"]["field"], "status");
    let named = json(
        app.authed(Method::GET, "/v1/templates/confirmacion_turno")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(named["languages"], j!(["es_AR"]));
    assert_eq!(named["data"][0]["id"], created["id"]);
    let one = json(
        app.authed(Method::GET, "/v1/templates/confirmacion_turno/es-AR")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(one["id"], created["id"]);

    // The preview is the message as the customer will see it.
    let preview = json(
        app.authed(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"language": {"code": "es_AR"}, "components": booking_values()}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        preview["header"],
        j!({"type": "text", "text": "Turno confirmado"})
    );
    assert_eq!(
        preview["body"],
        "Hola Ana, tu turno en Palermo es el martes 14 a las 10:00."
    );
    assert_eq!(preview["footer"], "Taller Chasqui");
    assert_eq!(preview["buttons"][0]["type"], "URL");
    assert_eq!(preview["buttons"][0]["text"], "Ver turno");
    assert_eq!(
        preview["buttons"][0]["url"],
        "https://taller.example/turnos/A-42"
    );
    assert_eq!(preview["buttons"][1]["text"], "Cancelar");
    assert_eq!(preview["status"], "APPROVED");
    assert_eq!(preview["sendable"], true);
    assert_eq!(
        preview["text"],
        "Turno confirmado\nHola Ana, tu turno en Palermo es el martes 14 a las 10:00.\nTaller Chasqui\nVer turno\nCancelar"
    );
    // A missing parameter is named.
    let mut short = booking_values();
    short[1]["parameters"].as_array_mut().unwrap().pop();
    let err = json(
        app.authed(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"language": "es_AR", "components": short}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&err).0, "template_parameter_count");
    assert!(
        err["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("components[1]"),
        "{err}"
    );
    assert_eq!(err["details"], j!({"expected": 3, "actual": 2}));
    // A wrong parameter type is named too.
    let mut wrong = booking_values();
    wrong[0]["parameters"] = j!([{"type": "image", "image": {"link": "https://x.example/a.jpg"}}]);
    let err = json(
        app.authed(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"language": "es_AR", "components": wrong}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&err).0, "template_parameter_type");
    assert_eq!(err["error"]["field"], "components[0].parameters[0].type");
    // Unknown language: the languages that exist.
    let err = json(
        app.authed(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"language": {"code": "pt_BR"}, "components": booking_values()}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&err).0, "template_language_unavailable");
    assert_eq!(err["error"]["field"], "language");
    assert_eq!(err["details"]["available_languages"], j!(["es_AR"]));
    // Unknown template: 404.
    let err = json(
        app.authed(Method::POST, "/v1/templates/no_existe/preview")
            .json(&j!({"language": "es_AR"}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(error_of(&err).0, "template_not_found");
    // Bad values in the request itself.
    let err = json(
        app.authed(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"components": booking_values()}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(err["error"]["field"], "language");

    // Registered: the send passes validation and goes out with the template.
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    let queued = json(res, 202).await;
    assert_eq!(queued["status"], "queued");
    for _ in 0..200 {
        if !graph.sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    {
        let sent = graph.sent.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["type"], "template");
        assert_eq!(sent[0]["template"]["name"], "confirmacion_turno");
        assert_eq!(sent[0]["template"]["language"]["code"], "es_AR");
    }

    // Deleted: gone, and sends name it unknown again.
    let res = app
        .authed(Method::DELETE, "/v1/templates/confirmacion_turno/es_AR")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .authed(Method::DELETE, "/v1/templates/confirmacion_turno/es_AR")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "template_not_found");
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    assert_eq!(error_of(&json(res, 422).await).0, "template_not_found");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn register_list_preview_send_sqlite() {
    register_list_preview_send(Db::Sqlite).await;
}

#[tokio::test]
async fn register_list_preview_send_postgres() {
    register_list_preview_send(Db::Postgres).await;
}

#[tokio::test]
async fn registration_errors_name_the_field() {
    let Some((app, _graph, _)) = setup(Db::Sqlite).await else {
        return;
    };
    let body = |f: &dyn Fn(&mut Value)| {
        let mut b = booking_template();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            body(&|b| {
                b.as_object_mut().unwrap().remove("name");
            }),
            "missing_field",
            "name",
        ),
        (
            body(&|b| b["name"] = j!("Confirmación Turno")),
            "invalid_format",
            "name",
        ),
        (
            body(&|b| {
                b.as_object_mut().unwrap().remove("language");
            }),
            "missing_field",
            "language",
        ),
        (
            body(&|b| b["language"] = j!("es AR")),
            "invalid_format",
            "language",
        ),
        (
            body(&|b| b["category"] = j!("PROMO")),
            "invalid_value",
            "category",
        ),
        (body(&|b| b["status"] = j!("OK")), "invalid_value", "status"),
        (
            body(&|b| b["parameter_format"] = j!("MIXED")),
            "invalid_value",
            "parameter_format",
        ),
        (
            body(&|b| {
                b.as_object_mut().unwrap().remove("components");
            }),
            "missing_field",
            "components",
        ),
        (
            body(&|b| b["components"] = j!({"type": "BODY"})),
            "invalid_type",
            "components",
        ),
        (
            body(&|b| b["components"][0] = j!({"type": "HEADER", "format": "GIF"})),
            "invalid_value",
            "components[0].format",
        ),
        (
            body(&|b| {
                b["components"][0] =
                    j!({"type": "HEADER", "format": "TEXT", "text": "{{1}} y {{2}}"})
            }),
            "invalid_format",
            "components[0].text",
        ),
        (
            body(&|b| b["components"][1] = j!({"type": "BODY"})),
            "missing_field",
            "components[1].text",
        ),
        (
            body(&|b| b["components"][1]["text"] = j!("Hola {{1}}, el {{3}}")),
            "invalid_format",
            "components[1].text",
        ),
        (
            body(&|b| b["components"][1]["text"] = j!("Hola {{1}}, {{nombre}}")),
            "invalid_format",
            "components[1].text",
        ),
        (
            body(&|b| b["components"][1] = j!({"type": "FOOTER", "text": "x"})),
            "duplicate_component",
            "components[2].type",
        ),
        (
            body(&|b| b["components"][1] = j!({"type": "HEADER", "format": "IMAGE"})),
            "duplicate_component",
            "components[1].type",
        ),
        (
            body(&|b| b["components"][2]["text"] = j!("Pie {{1}}")),
            "invalid_format",
            "components[2].text",
        ),
        (
            body(&|b| {
                b["components"][3]["buttons"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("url");
            }),
            "missing_field",
            "components[3].buttons[0].url",
        ),
        (
            body(&|b| b["components"][3]["buttons"][1]["text"] = j!("Cancelar mi turno de mañana")),
            "too_long",
            "components[3].buttons[1].text",
        ),
        (
            body(&|b| b["components"][3]["buttons"] = j!([])),
            "missing_field",
            "components[3].buttons",
        ),
        (
            body(&|b| b["components"][0] = j!("HEADER")),
            "invalid_type",
            "components[0]",
        ),
        (
            body(&|b| b["components"][0] = j!({"format": "TEXT"})),
            "missing_field",
            "components[0].type",
        ),
        (
            body(&|b| b["components"] = j!([{"type": "FOOTER", "text": "x"}])),
            "template_component_missing",
            "components",
        ),
        (
            body(&|b| b["channel_id"] = j!("ch_nope")),
            "channel_not_found",
            "channel_id",
        ),
        (
            body(&|b| {
                b["parameter_format"] = j!("NAMED");
            }),
            "invalid_format",
            "components[0].text",
        ),
    ];
    for (b, code, field) in cases {
        let err = json(register(&app, &b).await, 422).await;
        assert_eq!(error_of(&err).0, code, "{b} -> {err}");
        assert_eq!(err["error"]["field"], field, "{b} -> {err}");
    }
    // Nothing was stored.
    let list = json(
        app.authed(Method::GET, "/v1/templates")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(list["data"].as_array().unwrap().is_empty(), "{list}");
    // Authentication templates may leave the body text to Meta.
    let otp = j!({
        "name": "codigo_acceso",
        "language": "es",
        "category": "AUTHENTICATION",
        "status": "APPROVED",
        "components": [
            {"type": "BODY", "add_security_recommendation": true},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar código"}]}
        ]
    });
    let t = json(register(&app, &otp).await, 201).await;
    assert_eq!(t["category"], "AUTHENTICATION");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn sandbox_templates_default_to_approved() {
    let Some(app) = App::start(Db::Sqlite).await else {
        return;
    };
    let ch = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "sandbox", "name": "Sandbox"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    // Without `channel_id` either: every channel of the tenant is a sandbox.
    let mut body = booking_template();
    body.as_object_mut().unwrap().remove("status");
    body["name"] = j!("bienvenida");
    let t = json(register(&app, &body).await, 201).await;
    assert_eq!(t["status"], "APPROVED");
    assert_eq!(t["channel_id"], Value::Null);
    body["name"] = j!("confirmacion_turno");
    body["channel_id"] = ch["id"].clone();
    let t = json(register(&app, &body).await, 201).await;
    assert_eq!(t["status"], "APPROVED");
    assert_eq!(t["sendable"], true);
    assert_eq!(t["channel_id"], ch["id"]);
    // A stated status wins.
    body["status"] = j!("pending");
    let t = json(register(&app, &body).await, 200).await;
    assert_eq!(t["status"], "PENDING");
    assert_eq!(t["sendable"], false);
    // Once a real channel exists, a template without a channel must state its status.
    json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "3000", "access_token": TOKEN}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    body.as_object_mut().unwrap().remove("channel_id");
    body.as_object_mut().unwrap().remove("status");
    body["name"] = j!("otra_bienvenida");
    let err = json(register(&app, &body).await, 422).await;
    assert_eq!(error_of(&err).0, "status_required");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn sync_pulls_every_page_from_meta() {
    let Some((app, graph, channel)) = setup(Db::Sqlite).await else {
        return;
    };
    let res = app
        .authed(
            Method::POST,
            &format!("/v1/channels/{channel}/templates/sync"),
        )
        .send()
        .await
        .unwrap();
    let out = json(res, 200).await;
    assert_eq!(out["synced"], 3, "{out}");
    assert_eq!(out["channel_id"], j!(channel));
    let names: Vec<String> = out["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}/{}",
                t["name"].as_str().unwrap(),
                t["language"].as_str().unwrap(),
                t["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "confirmacion_turno/es_AR/APPROVED",
            "recordatorio_pago/es_AR/PAUSED",
            "confirmacion_turno/en_US/APPROVED"
        ]
    );
    assert_eq!(out["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(out["skipped"][0]["name"], "sin_categoria");
    {
        let listed = graph.listed.lock().unwrap();
        assert_eq!(listed.len(), 2, "two pages");
        for (path, _, auth) in listed.iter() {
            assert_eq!(path, &format!("/v23.0/{WABA}/message_templates"));
            assert_eq!(auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
        }
        assert_eq!(listed[0].1.get("limit").map(String::as_str), Some("100"));
        assert_eq!(listed[0].1.get("after"), None);
        assert_eq!(listed[1].1.get("after").map(String::as_str), Some("PAGE2"));
    }
    let t = json(
        app.authed(Method::GET, "/v1/templates/confirmacion_turno/es_AR")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(t["provider_id"], "111");
    assert_eq!(t["channel_id"], j!(channel));
    assert_eq!(t["category"], "UTILITY");
    assert_eq!(
        t["components"][0]["example"]["body_text"],
        j!([["Ana", "martes"]])
    );

    // Synced templates drive send validation: approved goes, paused is refused.
    let body = j!([{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "el martes"}]}]);
    let res = send_template(&app, &channel, "confirmacion_turno", "en_US", body).await;
    json(res, 202).await;
    let res = send_template(
        &app,
        &channel,
        "recordatorio_pago",
        "es_AR",
        j!([{"type": "body", "parameters": [{"type": "text", "text": "A-1"}]}]),
    )
    .await;
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "template_not_approved");

    // Syncing again changes nothing.
    let res = app
        .authed(
            Method::POST,
            &format!("/v1/channels/{channel}/templates/sync"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json(res, 200).await["synced"], 3);
    let list = json(
        app.authed(Method::GET, "/v1/templates")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);

    // The provider's error reaches the caller as a 502 with its code and sentence.
    *graph.fail.lock().unwrap() = Some((
        401,
        j!({"error": {"message": "Error validating access token: Session has expired.", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "x"}}),
    ));
    let res = app
        .authed(
            Method::POST,
            &format!("/v1/channels/{channel}/templates/sync"),
        )
        .send()
        .await
        .unwrap();
    let err = json(res, 502).await;
    let (code, message) = error_of(&err);
    assert_eq!(code, "provider_error");
    assert!(message.contains("190"), "{message}");
    assert_eq!(err["provider"]["code"], 190);
    assert_eq!(err["provider"]["http_status"], 401);
    // As for a send, an expired token marks the channel for re-authorisation.
    let ch = json(
        app.authed(Method::GET, &format!("/v1/channels/{channel}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ch["status"], "needs_reauth");

    // A channel without a WABA id cannot sync; an unknown channel is 404.
    let other = json(
        app.authed(Method::POST, "/v1/channels")
            .json(&j!({"kind": "whatsapp_cloud", "phone_number_id": "2000", "access_token": TOKEN}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let res = app
        .authed(
            Method::POST,
            &format!(
                "/v1/channels/{}/templates/sync",
                other["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "missing_waba_id");
    assert_eq!(err["error"]["field"], "waba_id");
    let res = app
        .authed(Method::POST, "/v1/channels/ch_nope/templates/sync")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.shutdown().await.unwrap();
}

async fn status_webhooks_stop_sends(db: Db) {
    let Some((app, _graph, channel)) = setup(db).await else {
        return;
    };
    let mut body = booking_template();
    body["channel_id"] = j!(channel);
    json(register(&app, &body).await, 201).await;
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    json(res, 202).await;
    let path = "/v1/templates/confirmacion_turno/es_AR";

    // Meta pauses it (by its id): sends are refused with the status and what to do.
    waba_webhook(
        &app,
        "message_template_status_update",
        j!({
            "event": "PAUSED",
            "message_template_id": 1689556908129832u64,
            "message_template_name": "confirmacion_turno",
            "message_template_language": "es_AR",
            "reason": "NONE"
        }),
    )
    .await;
    let t = wait_template(&app, path, |t| t["status"] == "PAUSED").await;
    assert_eq!(t["sendable"], false);
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "template_not_approved");
    assert_eq!(err["details"]["template_status"], "PAUSED");
    let paused = json(
        app.authed(Method::GET, "/v1/templates?status=paused")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(paused["data"].as_array().unwrap().len(), 1);

    // Reinstated: it goes again. Meta also re-categorises it and reports its quality.
    waba_webhook(
        &app,
        "message_template_status_update",
        j!({
            "event": "REINSTATED",
            "message_template_id": 1689556908129832u64,
            "message_template_name": "confirmacion_turno",
            "message_template_language": "es_AR",
            "reason": null
        }),
    )
    .await;
    waba_webhook(
        &app,
        "template_category_update",
        j!({
            "message_template_id": 1689556908129832u64,
            "message_template_name": "confirmacion_turno",
            "message_template_language": "es_AR",
            "previous_category": "UTILITY",
            "new_category": "MARKETING"
        }),
    )
    .await;
    waba_webhook(
        &app,
        "message_template_quality_update",
        j!({
            "previous_quality_score": "GREEN",
            "new_quality_score": "YELLOW",
            "message_template_id": 1689556908129832u64,
            "message_template_name": "confirmacion_turno",
            "message_template_language": "es_AR"
        }),
    )
    .await;
    let t = wait_template(&app, path, |t| {
        t["status"] == "REINSTATED"
            && t["category"] == "MARKETING"
            && t["quality_score"] == "YELLOW"
    })
    .await;
    assert_eq!(t["sendable"], true);
    let res = send_template(
        &app,
        &channel,
        "confirmacion_turno",
        "es_AR",
        booking_values(),
    )
    .await;
    json(res, 202).await;

    // A template registered without Meta's id is found by name and language (Meta may spell it
    // `es-AR`); it is rejected, and learns its id.
    let mut other = booking_template();
    other["name"] = j!("aviso_reparacion");
    other.as_object_mut().unwrap().remove("id");
    json(register(&app, &other).await, 201).await;
    waba_webhook(
        &app,
        "message_template_status_update",
        j!({
            "event": "REJECTED",
            "message_template_id": 905507062668800u64,
            "message_template_name": "aviso_reparacion",
            "message_template_language": "es-AR",
            "reason": "INVALID_FORMAT",
            "message_template_category": "UTILITY",
            "rejection_info": {"reason": "Parameters next to each other.", "recommendation": "Separate them."}
        }),
    )
    .await;
    let t = wait_template(&app, "/v1/templates/aviso_reparacion/es_AR", |t| {
        t["status"] == "REJECTED"
    })
    .await;
    assert_eq!(t["provider_id"], "905507062668800");
    let res = send_template(
        &app,
        &channel,
        "aviso_reparacion",
        "es_AR",
        booking_values(),
    )
    .await;
    let err = json(res, 422).await;
    assert_eq!(error_of(&err).0, "template_not_approved");
    assert_eq!(err["details"]["template_status"], "REJECTED");
    // The first template was not touched by the second's webhook.
    let t = json(app.authed(Method::GET, path).send().await.unwrap(), 200).await;
    assert_eq!(t["status"], "REINSTATED");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn status_webhooks_stop_sends_sqlite() {
    status_webhooks_stop_sends(Db::Sqlite).await;
}

#[tokio::test]
async fn status_webhooks_stop_sends_postgres() {
    status_webhooks_stop_sends(Db::Postgres).await;
}

#[tokio::test]
async fn templates_are_tenant_scoped() {
    let Some((app, _graph, channel)) = setup(Db::Sqlite).await else {
        return;
    };
    let mut body = booking_template();
    body["channel_id"] = j!(channel);
    json(register(&app, &body).await, 201).await;
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Otro taller", chasqui_core::plan::Plan::Inicial, "t")
        .await
        .unwrap();
    let as_other = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(other.expose())
    };

    let list = json(
        as_other(Method::GET, "/v1/templates").send().await.unwrap(),
        200,
    )
    .await;
    assert!(list["data"].as_array().unwrap().is_empty());
    for (method, path) in [
        (Method::GET, "/v1/templates/confirmacion_turno"),
        (Method::GET, "/v1/templates/confirmacion_turno/es_AR"),
        (Method::DELETE, "/v1/templates/confirmacion_turno/es_AR"),
    ] {
        let res = as_other(method, path).send().await.unwrap();
        assert_eq!(
            error_of(&json(res, 404).await).0,
            "template_not_found",
            "{path}"
        );
    }
    let res = as_other(Method::POST, "/v1/templates/confirmacion_turno/preview")
        .json(&j!({"language": "es_AR", "components": booking_values()}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "template_not_found");
    // Someone else's channel is not theirs to sync or register against.
    let res = as_other(
        Method::POST,
        &format!("/v1/channels/{channel}/templates/sync"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let res = as_other(Method::POST, "/v1/templates")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 422).await).0, "channel_not_found");

    // Their own template of the same name is theirs alone.
    let mut theirs = booking_template();
    theirs["components"][1]["text"] = j!("Buenas {{1}}: {{2}}, {{3}}.");
    let t = json(
        as_other(Method::POST, "/v1/templates")
            .json(&theirs)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(t["name"], "confirmacion_turno");
    let preview = json(
        as_other(Method::POST, "/v1/templates/confirmacion_turno/preview")
            .json(&j!({"language": "es_AR", "components": booking_values()}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        preview["body"],
        "Buenas Ana: Palermo, martes 14 a las 10:00."
    );
    // A webhook for our WABA pauses ours, not theirs (same Meta id in their copy).
    waba_webhook(
        &app,
        "message_template_status_update",
        j!({"event": "PAUSED", "message_template_id": 1689556908129832u64,
            "message_template_name": "confirmacion_turno", "message_template_language": "es_AR"}),
    )
    .await;
    wait_template(&app, "/v1/templates/confirmacion_turno/es_AR", |t| {
        t["status"] == "PAUSED"
    })
    .await;
    let t = json(
        as_other(Method::GET, "/v1/templates/confirmacion_turno/es_AR")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(t["status"], "APPROVED");
    let mine = json(
        app.authed(Method::GET, "/v1/templates/confirmacion_turno/es_AR")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(mine["status"], "PAUSED");
    app.shutdown().await.unwrap();
}
