//! wa.me links, their QR codes, the tenant's number and its template overrides, end to end.

use chasqui_core::plan::Plan;
use chasqui_core::wame::{decode_text, extract_ref};
use reqwest::Method;
use serde_json::{Value, json as j};

use crate::helpers::{Db, TestApp, error_of, json, spawn_app, spawn_app_on};
use crate::qr::{decode_png, decode_svg};

const AR_MOBILE: &str = "+5491123456789";

async fn post_link(app: &TestApp, body: Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/links")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn link(app: &TestApp, body: Value) -> Value {
    json(post_link(app, body).await, 200).await
}

/// Asserts a 422 (or `status`) with this code and field; returns the body.
async fn refused(res: reqwest::Response, status: u16, code: &str, field: &str) -> Value {
    let body = json(res, status).await;
    let (got, message) = error_of(&body);
    assert_eq!(got, code, "{message}");
    assert_eq!(body["error"]["field"], field, "{body}");
    body
}

async fn get_bytes(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let res = app.authed(Method::GET, path).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let bytes = res.bytes().await.unwrap().to_vec();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    (headers, bytes)
}

/// The prefilled message of a wa.me URL.
fn text_of(url: &str) -> String {
    decode_text(url.split_once("?text=").unwrap().1).unwrap()
}

async fn set_number(app: &TestApp, body: Value) -> reqwest::Response {
    app.authed(Method::PUT, "/v1/tenant/whatsapp-number")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let audit = json(
        app.authed(Method::GET, "/v1/audit-log?limit=200")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_link_and_its_qr_codes_decode_to_the_same_url() {
    let app = spawn_app().await;
    let message = "Hola & chau\n#1 50% ñandú 👋🏽";
    let body = link(
        &app,
        j!({"phone": "011 15-2345-6789", "region": "ar", "text": message}),
    )
    .await;
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://wa.me/5491123456789?text="),
        "{url}"
    );
    assert_eq!(text_of(url), message);
    assert_eq!(body["phone_e164"], AR_MOBILE);
    assert_eq!(body["text"], message);
    for absent in ["locale_used", "template_source", "ref", "warning"] {
        assert!(body[absent].is_null(), "{absent}: {body}");
    }
    let png_url = body["qr_png_url"].as_str().unwrap();
    let svg_url = body["qr_svg_url"].as_str().unwrap();
    assert!(
        png_url.starts_with("/v1/links/qr.png?phone=%2B5491123456789&text="),
        "{png_url}"
    );
    assert_eq!(svg_url.replace("qr.svg", "qr.png"), png_url);

    let (headers, png) = get_bytes(&app, png_url).await;
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private"),
        "{headers:?}"
    );
    assert_eq!(decode_png(&png).1, url);

    let (headers, svg) = get_bytes(&app, svg_url).await;
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(decode_svg(&String::from_utf8(svg).unwrap()), url);

    // Size and error correction are selectable and still decode.
    let (_, big) = get_bytes(&app, &format!("{png_url}&size=3&ec=h")).await;
    assert_eq!(decode_png(&big).1, url);
    let (_, total) = get_bytes(&app, &format!("{png_url}&px=400")).await;
    let (width, decoded) = decode_png(&total);
    assert!(width <= 400 && width > 200, "{width}");
    assert_eq!(decoded, url);

    // The QR endpoints are for the tenant only.
    let res = app.get(png_url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_invoice_link_renders_its_context_with_ref_and_locale_fallback() {
    let app = spawn_app().await;
    json(
        set_number(&app, j!({"phone": "0343 15 555 1212", "region": "AR"})).await,
        200,
    )
    .await;
    let invoice = j!({"number": "A-0042", "amount": "$ 12.500"});
    let body = link(
        &app,
        j!({"context": "invoice", "data": invoice, "ref": "inv-0042"}),
    )
    .await;
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://wa.me/5493435551212?text="),
        "{url}"
    );
    // No locale given: the language of the number's country (Argentina: voseo).
    assert_eq!(body["locale_used"], "es-AR");
    assert_eq!(body["template_source"], "builtin");
    assert_eq!(body["ref"], "INV-0042");
    assert_eq!(
        text_of(url),
        "¡Hola! Te escribo por la factura A-0042 de $ 12.500. ¿Me podés ayudar con esto?\n[ref:INV-0042]"
    );
    assert_eq!(body["text"], text_of(url));
    assert_eq!(extract_ref(&text_of(url)).unwrap().as_str(), "INV-0042");

    // The QR URL carries the same parameters (data as `data.<name>`), not the tenant's number.
    let png_url = body["qr_png_url"].as_str().unwrap();
    assert!(
        png_url.contains("data.number=A-0042") && !png_url.contains("phone="),
        "{png_url}"
    );
    let (_, png) = get_bytes(&app, png_url).await;
    assert_eq!(decode_png(&png).1, url);
    let (_, svg) = get_bytes(&app, body["qr_svg_url"].as_str().unwrap()).await;
    assert_eq!(decode_svg(&String::from_utf8(svg).unwrap()), url);

    // Query-string links work on their own too.
    let (_, png) = get_bytes(
        &app,
        "/v1/links/qr.png?context=invoice&data.number=A-0042&data.amount=%24%2012.500&ref=inv-0042",
    )
    .await;
    assert_eq!(decode_png(&png).1, url);

    for (asked, used) in [
        ("es-MX", "es"),
        ("pt_BR", "pt-BR"),
        ("pt-PT", "pt"),
        ("fr-CA", "fr"),
        ("de", "en"),
        ("en-GB", "en"),
    ] {
        let body = link(
            &app,
            j!({"context": "invoice", "data": invoice, "locale": asked}),
        )
        .await;
        assert_eq!(body["locale_used"], used, "{asked}");
    }
    // JSON numbers are accepted as values.
    let body = link(
        &app,
        j!({"context": "invoice", "data": {"number": 42, "amount": 12.5}, "locale": "en"}),
    )
    .await;
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("invoice 42 for 12.5"),
        "{body}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_tenants_number_is_used_when_phone_is_omitted() {
    let app = spawn_app().await;
    let body = refused(
        post_link(&app, j!({"text": "Hola"})).await,
        422,
        "phone_required",
        "phone",
    )
    .await;
    assert!(
        error_of(&body).1.contains("PUT /v1/tenant/whatsapp-number"),
        "{body}"
    );

    let tenant = json(
        set_number(&app, j!({"phone": "011 15-2345-6789", "region": "AR"})).await,
        200,
    )
    .await;
    assert_eq!(tenant["whatsapp_number"], AR_MOBILE);
    let tenant = json(
        app.authed(Method::GET, "/v1/tenant").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(tenant["whatsapp_number"], AR_MOBILE);

    let body = link(&app, j!({"text": "Hola"})).await;
    assert_eq!(body["url"], "https://wa.me/5491123456789?text=Hola");
    assert_eq!(body["phone_e164"], AR_MOBILE);
    assert_eq!(body["qr_png_url"], "/v1/links/qr.png?text=Hola");
    let (_, png) = get_bytes(&app, "/v1/links/qr.png?text=Hola").await;
    assert_eq!(decode_png(&png).1, "https://wa.me/5491123456789?text=Hola");
    // Without text: a plain chat link to the tenant.
    assert_eq!(
        link(&app, j!({})).await["url"],
        "https://wa.me/5491123456789"
    );
    // A national number is read in the tenant's number's region (AR) when none is given.
    let body = link(&app, j!({"phone": "0343 15 555 1212"})).await;
    assert_eq!(body["url"], "https://wa.me/5493435551212");
    // ... and a region in the request wins.
    let body = link(
        &app,
        j!({"phone": "06 12 34 56 78", "region": "FR", "context": "generic"}),
    )
    .await;
    assert_eq!(body["phone_e164"], "+33612345678");
    assert_eq!(body["locale_used"], "fr");

    // A new number replaces the old one, read in the old one's region.
    let tenant = json(
        set_number(&app, j!({"phone": "0343 15 555 1212"})).await,
        200,
    )
    .await;
    assert_eq!(tenant["whatsapp_number"], "+5493435551212");

    let tenant = json(
        app.authed(Method::DELETE, "/v1/tenant/whatsapp-number")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(tenant["whatsapp_number"].is_null());
    refused(
        post_link(&app, j!({"text": "Hola"})).await,
        422,
        "phone_required",
        "phone",
    )
    .await;
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "tenant.whatsapp_number_set")
            .count(),
        2
    );
    assert_eq!(
        actions.last().map(String::as_str),
        Some("tenant.whatsapp_number_cleared")
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_whatsapp_numbers_say_why_and_what_was_meant() {
    let app = spawn_app().await;
    refused(
        set_number(&app, j!({"phone": "123", "region": "AR"})).await,
        422,
        "too_short",
        "phone",
    )
    .await;
    let body = refused(
        set_number(&app, j!({"phone": "5491123456789"})).await,
        422,
        "missing_country_code",
        "phone",
    )
    .await;
    assert_eq!(body["suggestion"], AR_MOBILE);
    assert!(
        error_of(&body).1.contains("did you mean +5491123456789?"),
        "{body}"
    );
    refused(
        set_number(&app, j!({"phone": "011 15-2345-6789", "region": "XX"})).await,
        422,
        "unknown_region",
        "region",
    )
    .await;
    refused(set_number(&app, j!({})).await, 422, "empty", "phone").await;
    let body = json(
        set_number(&app, j!({"phone": AR_MOBILE, "country": "AR"})).await,
        422,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_body");
    let tenant = json(
        app.authed(Method::GET, "/v1/tenant").send().await.unwrap(),
        200,
    )
    .await;
    assert!(tenant["whatsapp_number"].is_null(), "nothing was stored");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn overrides_win_and_stay_with_their_tenant_on_sqlite() {
    overrides_win_and_stay_with_their_tenant(Db::Sqlite).await;
}

#[tokio::test]
async fn overrides_win_and_stay_with_their_tenant_on_postgres() {
    overrides_win_and_stay_with_their_tenant(Db::Postgres).await;
}

async fn list_templates(app: &TestApp, key: &str, query: &str) -> Vec<Value> {
    let body = json(
        app.client
            .get(app.url(&format!("/v1/link-templates{query}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(body["next_cursor"].is_null(), "one page: {body}");
    body["data"].as_array().unwrap().clone()
}

async fn overrides_win_and_stay_with_their_tenant(db: Db) {
    let Some(app) = spawn_app_on(db, &[]).await else {
        return;
    };
    let (_, _, other) = app
        .store
        .create_tenant_with_key("Otro taller", Plan::Inicial, "test")
        .await
        .unwrap();
    let other = other.expose().to_owned();

    let builtin = list_templates(&app, &app.api_key, "").await;
    assert_eq!(builtin.len(), 4 * 6, "4 contexts × 6 shipped locales");
    assert!(builtin.iter().all(|t| t["source"] == "builtin"));
    let es_ar_invoice = builtin
        .iter()
        .find(|t| t["context"] == "invoice" && t["locale"] == "es-AR")
        .unwrap();
    assert!(
        es_ar_invoice["template"]
            .as_str()
            .unwrap()
            .contains("{{number}}")
    );
    assert_eq!(builtin[0]["context"], "invoice", "ordered by context");
    assert_eq!(
        es_ar_invoice["allowed_placeholders"],
        j!([
            "number",
            "amount",
            "due_date",
            "customer_name",
            "business_name"
        ])
    );

    let saved = json(
        app.authed(Method::PUT, "/v1/link-templates/invoice/es_ar")
            .json(&j!({"template": "Consulta por la factura {{number}} ({{ amount }})"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(saved["source"], "tenant");
    assert_eq!(saved["locale"], "es-AR");
    assert!(saved["updated_at"].is_string());

    let mine = list_templates(&app, &app.api_key, "?context=invoice&locale=es-AR").await;
    let sources: Vec<&str> = mine.iter().map(|t| t["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["builtin", "tenant"]);
    assert_eq!(list_templates(&app, &app.api_key, "").await.len(), 25);
    assert_eq!(
        list_templates(&app, &app.api_key, "?context=generic")
            .await
            .len(),
        6
    );
    assert_eq!(
        list_templates(&app, &app.api_key, "?limit=2&cursor=x")
            .await
            .len(),
        25,
        "one page whatever the list parameters"
    );

    let invoice = j!({"phone": AR_MOBILE, "context": "invoice", "data": {"number": "A-0042", "amount": "$ 12.500"}});
    let body = link(&app, invoice.clone()).await;
    assert_eq!(body["text"], "Consulta por la factura A-0042 ($ 12.500)");
    assert_eq!(body["template_source"], "tenant");
    assert_eq!(body["locale_used"], "es-AR");
    let (_, png) = get_bytes(&app, body["qr_png_url"].as_str().unwrap()).await;
    assert_eq!(decode_png(&png).1, body["url"].as_str().unwrap());
    // An es-AR override does not apply to plain es.
    let mut plain_es = invoice.clone();
    plain_es["locale"] = j!("es");
    assert_eq!(link(&app, plain_es).await["template_source"], "builtin");

    // Another tenant sees none of it.
    assert_eq!(list_templates(&app, &other, "").await.len(), 24);
    let theirs = json(
        app.client
            .post(app.url("/v1/links"))
            .bearer_auth(&other)
            .json(&invoice)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(theirs["template_source"], "builtin");
    assert!(
        theirs["text"]
            .as_str()
            .unwrap()
            .starts_with("¡Hola! Te escribo")
    );
    let res = app
        .client
        .delete(app.url("/v1/link-templates/invoice/es-AR"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(&json(res, 404).await).0, "not_found");

    let res = app
        .authed(Method::DELETE, "/v1/link-templates/invoice/es-AR")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(link(&app, invoice).await["template_source"], "builtin");
    let res = app
        .authed(Method::DELETE, "/v1/link-templates/invoice/es-AR")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let actions = audit_actions(&app).await;
    assert!(actions.contains(&"link_template.saved".to_owned()));
    assert_eq!(
        actions.last().map(String::as_str),
        Some("link_template.deleted")
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_templates_are_refused_at_save_time() {
    let app = spawn_app().await;
    let put = |path: &str, body: Value| {
        app.authed(Method::PUT, &format!("/v1/link-templates/{path}"))
            .json(&body)
            .send()
    };
    let body = refused(
        put(
            "invoice/es",
            j!({"template": "Factura {{numero}} por {{monto}}, {{number}}, {{numero}}"}),
        )
        .await
        .unwrap(),
        422,
        "unknown_placeholder",
        "template",
    )
    .await;
    assert_eq!(body["unknown_placeholders"], j!(["numero", "monto"]));
    let message = error_of(&body).1;
    assert!(
        message.contains("{{numero}}") && message.contains("{{monto}}"),
        "{message}"
    );
    for (template, code) in [
        ("Factura {{number}", "malformed_template"),
        ("Factura {number}", "malformed_template"),
        ("   ", "empty_template"),
        (&"a".repeat(1001), "template_too_long"),
    ] {
        refused(
            put("invoice/es", j!({ "template": template }))
                .await
                .unwrap(),
            422,
            code,
            "template",
        )
        .await;
    }
    let body = refused(
        put("receipt/es", j!({"template": "Hola"})).await.unwrap(),
        422,
        "unknown_context",
        "context",
    )
    .await;
    assert_eq!(
        body["known_contexts"],
        j!(["invoice", "customer_profile", "job_confirmation", "generic"])
    );
    refused(
        put("invoice/spanish", j!({"template": "Hola"}))
            .await
            .unwrap(),
        422,
        "invalid_locale",
        "locale",
    )
    .await;
    let body = json(
        put("invoice/es", j!({"template": "Hola", "locale": "es"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_body");
    refused(
        app.authed(Method::GET, "/v1/link-templates?context=receipt")
            .send()
            .await
            .unwrap(),
        422,
        "unknown_context",
        "context",
    )
    .await;
    assert_eq!(list_templates(&app, &app.api_key, "").await.len(), 24);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_bad_link_input_gets_its_own_code_and_field() {
    let app = spawn_app().await;
    let long_text = "é".repeat(400);
    let cases: Vec<(Value, &str, &str)> = vec![
        (j!({"phone": "123", "region": "AR"}), "too_short", "phone"),
        (
            j!({"phone": "011 15-2345-6789"}),
            "missing_country_code",
            "phone",
        ),
        (
            j!({"phone": "123", "region": "XX"}),
            "unknown_region",
            "region",
        ),
        (j!({"phone": "hola"}), "no_digits", "phone"),
        (
            j!({"phone": AR_MOBILE, "context": "receipt"}),
            "unknown_context",
            "context",
        ),
        (
            j!({"phone": AR_MOBILE, "context": "invoice", "locale": "xx-!!"}),
            "invalid_locale",
            "locale",
        ),
        (
            j!({"phone": AR_MOBILE, "context": "invoice", "data": {"number": "1"}}),
            "missing_value",
            "data.amount",
        ),
        (
            j!({"phone": AR_MOBILE, "context": "invoice", "data": {"number": [1], "amount": "2"}}),
            "invalid_value",
            "data.number",
        ),
        (
            j!({"phone": AR_MOBILE, "context": "invoice", "data": {"number": "{{amount}}", "amount": "2"}}),
            "invalid_value",
            "data.number",
        ),
        (
            j!({"phone": AR_MOBILE, "context": "invoice", "text": "hola"}),
            "text_with_context",
            "text",
        ),
        (
            j!({"phone": AR_MOBILE, "text": long_text}),
            "text_too_long",
            "text",
        ),
        (
            j!({"phone": AR_MOBILE, "text": "hola", "ref": "a b"}),
            "ref_invalid_char",
            "ref",
        ),
        (
            j!({"phone": AR_MOBILE, "ref": "A".repeat(25)}),
            "ref_too_long",
            "ref",
        ),
        (j!({"text": "hola"}), "phone_required", "phone"),
    ];
    for (body, code, field) in cases {
        let res = post_link(&app, body.clone()).await;
        let answer = refused(res, 422, code, field).await;
        if code == "unknown_context" {
            assert_eq!(answer["known_contexts"].as_array().unwrap().len(), 4);
        }
        if code == "missing_value" {
            assert!(error_of(&answer).1.contains("`amount`"), "{answer}");
        }
    }
    let body = json(
        post_link(&app, j!({"phone": AR_MOBILE, "colour": "red"})).await,
        422,
    )
    .await;
    assert_eq!(error_of(&body).0, "invalid_body");

    let p = "phone=%2B5491123456789";
    let long = "a".repeat(1900);
    let qr_cases: Vec<(String, u16, &str, &str)> = vec![
        (format!("{p}&size=0"), 422, "size_out_of_range", "size"),
        (format!("{p}&size=41"), 422, "size_out_of_range", "size"),
        (format!("{p}&px=10"), 422, "size_out_of_range", "px"),
        (format!("{p}&px=5000"), 422, "size_out_of_range", "px"),
        (format!("{p}&size=big"), 422, "invalid_size", "size"),
        (format!("{p}&px=-3"), 422, "invalid_size", "px"),
        (format!("{p}&size=4&px=300"), 422, "size_conflict", "px"),
        (format!("{p}&ec=X"), 422, "invalid_ec_level", "ec"),
        (
            format!("{p}&text={long}&ec=H"),
            422,
            "qr_data_too_long",
            "text",
        ),
        (format!("{p}&colour=red"), 400, "invalid_query", "colour"),
        (format!("{p}&phone=1"), 400, "invalid_query", "phone"),
        ("phone=123&region=AR".to_owned(), 422, "too_short", "phone"),
        (
            format!("{p}&context=invoice&data.number=1"),
            422,
            "missing_value",
            "data.amount",
        ),
        ("text=hola".to_owned(), 422, "phone_required", "phone"),
    ];
    for (query, status, code, field) in qr_cases {
        for ext in ["png", "svg"] {
            let res = app
                .authed(Method::GET, &format!("/v1/links/qr.{ext}?{query}"))
                .send()
                .await
                .unwrap();
            refused(res, status, code, field).await;
        }
    }
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_landline_gets_its_link_with_a_warning() {
    let app = spawn_app().await;
    let body = link(&app, j!({"phone": "+54 11 2345-6789"})).await;
    assert_eq!(body["url"], "https://wa.me/541123456789");
    let warning = body["warning"].as_str().unwrap();
    assert!(
        warning.contains("landline") && warning.contains(AR_MOBILE),
        "{warning}"
    );
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn wame_disabled_answers_503_on_every_link_endpoint() {
    let app = spawn_app_on(Db::Sqlite, &[("WHATSAPP_WAME_ENABLED", "false")])
        .await
        .unwrap();
    let requests = [
        (Method::POST, "/v1/links", Some(j!({"phone": AR_MOBILE}))),
        (Method::POST, "/v1/links", Some(j!({"bad": "body"}))),
        (Method::GET, "/v1/links/qr.png?phone=%2B5491123456789", None),
        (Method::GET, "/v1/links/qr.svg?phone=%2B5491123456789", None),
        (Method::GET, "/v1/link-templates", None),
        (
            Method::PUT,
            "/v1/link-templates/invoice/es",
            Some(j!({"template": "Hola"})),
        ),
        (Method::DELETE, "/v1/link-templates/invoice/es", None),
    ];
    for (method, path, body) in requests {
        let mut req = app.authed(method.clone(), path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = json(req.send().await.unwrap(), 503).await;
        assert_eq!(
            answer,
            j!({"error": {
                "code": "wame_disabled",
                "message": "wa.me links are turned off on this server (WHATSAPP_WAME_ENABLED=false); ask the operator to enable them"
            }}),
            "{method} {path}"
        );
        // Unauthenticated clients learn nothing about the server's settings.
        let res = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }
    // The tenant's number is a tenant setting, kept while links are off.
    let tenant = json(set_number(&app, j!({"phone": AR_MOBILE})).await, 200).await;
    assert_eq!(tenant["whatsapp_number"], AR_MOBILE);
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn qr_urls_are_absolute_when_a_public_url_is_configured() {
    let app = spawn_app_on(
        Db::Sqlite,
        &[("CHASQUI_PUBLIC_URL", "https://chasqui.example.com/gw/")],
    )
    .await
    .unwrap();
    let body = link(&app, j!({"phone": AR_MOBILE, "text": "Hola"})).await;
    assert_eq!(
        body["qr_png_url"],
        "https://chasqui.example.com/gw/v1/links/qr.png?phone=%2B5491123456789&text=Hola"
    );
    assert_eq!(
        body["qr_svg_url"],
        "https://chasqui.example.com/gw/v1/links/qr.svg?phone=%2B5491123456789&text=Hola"
    );
    app.shutdown().await.unwrap();
}
