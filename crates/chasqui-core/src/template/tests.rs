//! Templates as a tenant would have them: a Spanish booking confirmation, an authentication (OTP)
//! template in both of Meta's shapes, and a marketing template with an image header.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ids::MediaId;
use crate::send::media::med;
use crate::send::{MediaInfo, MediaLookup, MediaSource};

/// `confirmacion_turno` (es_AR): 3 body params and a URL button with a dynamic suffix.
fn booking() -> Template {
    serde_json::from_value(json!({
        "id": "1689556908129832",
        "name": "confirmacion_turno",
        "language": "es_AR",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Turno confirmado"},
            {"type": "BODY",
             "text": "Hola {{1}}, tu turno en {{2}} quedó confirmado para el {{3}}. Si no podés venir, avisanos.",
             "example": {"body_text": [["Ana", "Taller Centro", "martes 12/05 a las 10:30"]]}},
            {"type": "FOOTER", "text": "Taller Centro · Av. Corrientes 1234"},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Ver turno", "url": "https://turnos.example.com/t/{{1}}",
                 "example": ["https://turnos.example.com/t/AB12"]},
                {"type": "QUICK_REPLY", "text": "Cancelar turno"}
            ]}
        ]
    }))
    .unwrap()
}

/// The same template in neutral Spanish, and an English one still in review.
fn booking_family() -> Vec<Template> {
    let ar = booking();
    let mut es = booking();
    es.language = "es".into();
    es.id = Some("2".into());
    let mut en = booking();
    en.language = "en_US".into();
    en.status = TemplateStatus::Pending;
    vec![ar, es, en]
}

/// An authentication template as created (Meta writes the texts).
fn otp_created() -> Template {
    serde_json::from_value(json!({
        "name": "codigo_verificacion",
        "language": "es_AR",
        "status": "APPROVED",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "add_security_recommendation": true},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar código"}]}
        ]
    }))
    .unwrap()
}

/// An authentication template as `GET message_templates` returns it.
fn otp_synced() -> Template {
    serde_json::from_value(json!({
        "name": "codigo_verificacion",
        "language": "es",
        "status": "APPROVED",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "text": "*{{1}}* es tu código de verificación. Por tu seguridad, no lo compartas.",
             "add_security_recommendation": true},
            {"type": "FOOTER", "text": "Este código vence en 10 minutos.", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copiar código",
                "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}"}]}
        ]
    }))
    .unwrap()
}

/// A marketing template with an image header, named parameters and three kinds of buttons.
fn promo() -> Template {
    serde_json::from_value(json!({
        "name": "promo_invierno",
        "language": "es_AR",
        "status": "APPROVED",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2UvanBn:ARY"]}},
            {"type": "BODY", "text": "¡Hola {{first_name}}! Este invierno tenés {{discount}} de descuento en el service de tu equipo.",
             "example": {"body_text_named_params": [
                 {"param_name": "first_name", "example": "Ana"},
                 {"param_name": "discount", "example": "20%"}]}},
            {"type": "FOOTER", "text": "Respondé BAJA para no recibir promociones"},
            {"type": "BUTTONS", "buttons": [
                {"type": "COPY_CODE", "example": "INVIERNO20"},
                {"type": "URL", "text": "Ver promos", "url": "https://taller.example.com/promos"},
                {"type": "PHONE_NUMBER", "text": "Llamar", "phone_number": "+541143210000"}
            ]}
        ]
    }))
    .unwrap()
}

#[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
fn booking_send(components: Value) -> Value {
    json!({"name": "confirmacion_turno", "language": {"code": "es_AR"}, "components": components})
}

fn booking_ok() -> Value {
    json!([
        {"type": "body", "parameters": [
            {"type": "text", "text": "Ana"},
            {"type": "text", "text": "Taller Centro"},
            {"type": "text", "text": "martes 12/05 a las 10:30"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "AB12"}]}
    ])
}

fn promo_ok() -> Value {
    json!({"name": "promo_invierno", "language": {"code": "es_AR"}, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/invierno.jpg"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "parameter_name": "discount", "text": "20%"},
            {"type": "text", "parameter_name": "first_name", "text": "Ana"}]},
        {"type": "button", "sub_type": "copy_code", "index": 0, "parameters": [{"type": "coupon_code", "coupon_code": "INVIERNO20"}]}
    ]})
}

fn otp_send(code: &str) -> Value {
    json!({"name": "codigo_verificacion", "language": "es_AR", "components": [
        {"type": "body", "parameters": [{"type": "text", "text": code}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": code}]}
    ]})
}

fn message(v: &Value) -> TemplateMessage {
    TemplateMessage::from_json(v, "template").unwrap()
}

/// Runs the whole preparation and returns the error's (code, field).
#[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
fn fails(templates: &[Template], v: Value) -> (String, String) {
    let e = match TemplateMessage::from_json(&v, "template") {
        Err(e) => e,
        Ok(m) => match prepare(templates, &m, LanguageFallback::Exact, None) {
            Err(e) => e,
            Ok(p) => panic!("should fail: {:?}", p.rendered),
        },
    };
    assert!(e.message().ends_with(['.', '?']), "{}", e.message());
    (e.code().to_owned(), e.field().to_owned())
}

fn pair(code: &str, field: &str) -> (String, String) {
    (code.to_owned(), field.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Model

#[test]
fn meta_shapes_round_trip() {
    // `GET /{waba-id}/message_templates` example from Meta's OpenAPI spec, plus fields we don't model.
    let listed = json!({
        "data": [
            {"category": "MARKETING", "components": [
                {"format": "TEXT", "text": "Hello World", "type": "HEADER"},
                {"text": "Welcome and congratulations!! This message demonstrates your ability to send a message notification from WhatsApp Business Platform’s Cloud API. Thank you for taking the time to test with us.", "type": "BODY"},
                {"text": "WhatsApp Business API Team", "type": "FOOTER"}],
             "id": "1192339204654487", "language": "en_US", "name": "hello_world",
             "previous_category": "ACCOUNT_UPDATE", "status": "APPROVED"},
            {"category": "MARKETING", "components": [
                {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
                {"example": {"body_text": [["Mark", "FALL25"]]}, "text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}} Get an extra 25% off every order above $350!", "type": "BODY"},
                {"text": "Not interested in any of our sales? Tap Stop Promotions", "type": "FOOTER"},
                {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"}],
             "id": "920070352646140", "language": "en_US", "name": "2023_april_promo", "status": "APPROVED",
             "quality_score": {"score": "GREEN"}},
            {"category": "MARKETING", "components": [
                {"type": "CAROUSEL", "cards": [{"components": []}]},
                {"type": "BODY", "text": "Mirá"}],
             "id": 77, "language": "es", "name": "carrusel", "status": "LIMIT_EXCEEDED"}
        ],
        "paging": {"cursors": {"after": "MjQZD", "before": "MAZDZD"}}
    });
    let data: Vec<Template> = serde_json::from_value(listed["data"].clone()).unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0].extra["previous_category"], json!("ACCOUNT_UPDATE"));
    assert_eq!(data[1].body_placeholders().len(), 2);
    assert_eq!(data[1].buttons()[0].kind, ButtonKind::QuickReply);
    assert_eq!(data[2].id.as_deref(), Some("77"));
    assert_eq!(data[2].status, TemplateStatus::LimitExceeded);
    assert!(data[2].has_unmodelled_components());
    let mut expected = listed["data"].clone();
    expected[2]["id"] = json!("77");
    assert_eq!(serde_json::to_value(&data).unwrap(), expected);

    for t in [booking(), otp_created(), otp_synced(), promo()] {
        let back: Template = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
    // Meta's create examples use `"type": "body"`; statuses and categories may be new.
    let t: Template = serde_json::from_value(json!({"name": "x", "language": "en_US",
        "status": "in_appeal", "category": "TRANSACTIONAL", "components": [{"type": "body", "text": "Hi"}]})).unwrap();
    assert_eq!(t.status, TemplateStatus::InAppeal);
    assert_eq!(t.category, TemplateCategory::Other("TRANSACTIONAL".into()));
    assert_eq!(t.body_text().as_deref(), Some("Hi"));
    assert_eq!(
        serde_json::to_value(&t).unwrap()["status"],
        json!("IN_APPEAL")
    );
    assert!(
        serde_json::from_value::<Template>(
            json!({"name": "x", "language": "en", "status": "APPROVED",
        "category": "UTILITY", "components": [{"text": "no type"}]})
        )
        .is_err()
    );
}

#[test]
fn derived_parameters() {
    assert_eq!(booking().parameter_format(), ParameterFormat::Positional);
    assert_eq!(booking().body_placeholders().len(), 3);
    assert!(booking().header_placeholders().is_empty());
    assert!(booking().buttons()[0].has_dynamic_url());
    assert_eq!(booking().buttons()[0].param(), ButtonParam::RequiredText);
    assert_eq!(booking().buttons()[1].param(), ButtonParam::OptionalPayload);
    let mut inferred = promo();
    inferred.parameter_format = None;
    assert_eq!(inferred.parameter_format(), ParameterFormat::Named);
    assert_eq!(
        promo().body_placeholders(),
        vec![
            Placeholder::Named("first_name".into()),
            Placeholder::Named("discount".into())
        ]
    );
    assert_eq!(promo().buttons()[1].param(), ButtonParam::None, "fixed URL");
    assert_eq!(promo().buttons()[2].sub_type(), None);
    assert_eq!(
        otp_created().body_placeholders(),
        vec![Placeholder::Positional(1)]
    );
    assert_eq!(
        otp_created().body_text().as_deref(),
        Some("*{{1}}* is your verification code. For your security, do not share this code.")
    );
    assert_eq!(
        otp_created().footer_text().as_deref(),
        Some("This code expires in 10 minutes.")
    );
    assert!(TemplateStatus::Flagged.is_sendable());
    assert!(!TemplateStatus::Paused.is_sendable());
    assert_eq!(normalize_language(" es-ar "), "es_AR");
    assert_eq!(normalize_language("EN"), "en");
}

// ---------------------------------------------------------------------------------------------
// Rendering

#[test]
fn renders_the_booking_confirmation_as_the_customer_sees_it() {
    let t = booking();
    let m = message(&booking_send(booking_ok()));
    let r = render(&t, &m.params).unwrap();
    assert_eq!(
        r.header,
        Some(RenderedHeader::Text {
            text: "Turno confirmado".into()
        })
    );
    assert_eq!(
        r.body,
        "Hola Ana, tu turno en Taller Centro quedó confirmado para el martes 12/05 a las 10:30. Si no podés venir, avisanos."
    );
    assert_eq!(
        r.footer.as_deref(),
        Some("Taller Centro · Av. Corrientes 1234")
    );
    assert_eq!(r.buttons.len(), 2);
    assert_eq!(
        r.buttons[0].url.as_deref(),
        Some("https://turnos.example.com/t/AB12")
    );
    assert_eq!(r.buttons[1].payload.as_deref(), Some("Cancelar turno"));
    assert_eq!(
        r.text(),
        "Turno confirmado\nHola Ana, tu turno en Taller Centro quedó confirmado para el martes 12/05 a las 10:30. Si no podés venir, avisanos.\nTaller Centro · Av. Corrientes 1234\nVer turno\nCancelar turno"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["header"],
        json!({"type": "text", "text": "Turno confirmado"})
    );
    assert_eq!(
        json["buttons"][0],
        json!({"type": "URL", "text": "Ver turno", "url": "https://turnos.example.com/t/AB12"})
    );
}

#[test]
fn renders_otp_and_media_templates() {
    let m = message(&otp_send("482913"));
    let r = render(&otp_created(), &m.params).unwrap();
    assert_eq!(
        r.body,
        "*482913* is your verification code. For your security, do not share this code."
    );
    assert_eq!(
        r.footer.as_deref(),
        Some("This code expires in 10 minutes.")
    );
    assert_eq!(r.buttons[0].text, "Copiar código");
    assert_eq!(r.buttons[0].code.as_deref(), Some("482913"));
    let r = render(&otp_synced(), &m.params).unwrap();
    assert_eq!(
        r.body,
        "*482913* es tu código de verificación. Por tu seguridad, no lo compartas."
    );
    assert_eq!(
        r.buttons[0].url.as_deref(),
        Some("https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp482913")
    );

    let m = message(&promo_ok());
    let r = render(&promo(), &m.params).unwrap();
    assert_eq!(
        r.header,
        Some(RenderedHeader::Image {
            media: Some(MediaSource::Link(
                "https://cdn.example.com/invierno.jpg".into()
            ))
        })
    );
    assert_eq!(
        r.body,
        "¡Hola Ana! Este invierno tenés 20% de descuento en el service de tu equipo."
    );
    assert_eq!(r.buttons[0].code.as_deref(), Some("INVIERNO20"));
    assert_eq!(
        r.buttons[1].url.as_deref(),
        Some("https://taller.example.com/promos")
    );
    assert_eq!(r.buttons[2].phone_number.as_deref(), Some("+541143210000"));
    assert_eq!(r.buttons[2].text, "Llamar");
}

#[test]
fn renders_currency_date_time_location_and_document_headers() {
    let t: Template = serde_json::from_value(
        json!({"name": "envio", "language": "es", "status": "APPROVED",
        "category": "UTILITY", "components": [
            {"type": "HEADER", "format": "LOCATION"},
            {"type": "BODY", "text": "Tu pedido de {{1}} llega el {{2}}."}]}),
    )
    .unwrap();
    let m = message(&json!({"name": "envio", "language": "es", "components": [
        {"type": "header", "parameters": [{"type": "location", "location": {"latitude": "-34.6", "longitude": -58.38, "name": "Sucursal Centro"}}]},
        {"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "$ 12.500", "code": "ARS", "amount_1000": 12500000}},
            {"type": "date_time", "date_time": {"fallback_value": "jueves 14 de mayo", "day_of_month": 14}}]}]}));
    let r = render(&t, &m.params).unwrap();
    assert_eq!(r.body, "Tu pedido de $ 12.500 llega el jueves 14 de mayo.");
    assert_eq!(
        r.header,
        Some(RenderedHeader::Location {
            latitude: Some(-34.6),
            longitude: Some(-58.38),
            name: Some("Sucursal Centro".into()),
            address: None
        })
    );

    let t: Template = serde_json::from_value(
        json!({"name": "factura", "language": "fr", "status": "APPROVED",
        "category": "UTILITY", "components": [
            {"type": "HEADER", "format": "DOCUMENT"},
            {"type": "BODY", "text": "Votre facture est prête."}]}),
    )
    .unwrap();
    let m = message(&json!({"name": "factura", "language": "fr", "components": [
        {"type": "header", "parameters": [{"type": "document", "document": {"id": med("factura").to_string(), "filename": "facture.pdf"}}]}]}));
    let r = render(&t, &m.params).unwrap();
    assert_eq!(
        r.header,
        Some(RenderedHeader::Document {
            media: Some(MediaSource::Id(med("factura").to_string())),
            filename: Some("facture.pdf".into())
        })
    );
    let pdf = |id: &MediaId| {
        (*id == med("factura")).then(|| MediaInfo {
            mime_type: "image/png".into(),
            size_bytes: 10,
            ..MediaInfo::default()
        })
    };
    let lookup: &dyn MediaLookup = &pdf;
    let e = check_params(&t, &m.params, Some(lookup)).unwrap_err();
    assert_eq!(e.code(), "unsupported_media_type");
    assert_eq!(
        e.field(),
        "template.components[0].parameters[0].document.id"
    );
}

/// Values people put in templates: letters, digits, accents, punctuation, emoji, spaces.
const VALUE: &str = "[a-zA-Z0-9áéíóúñÑ¡!¿?.,:;/$%#@()*_'\"😀 -]{1,30}";

proptest! {
    #[test]
    fn rendering_never_leaves_placeholders(
        a in VALUE, b in VALUE, c in VALUE, suffix in "[A-Za-z0-9]{1,10}"
    ) {
        prop_assume!(!a.trim().is_empty() && !b.trim().is_empty() && !c.trim().is_empty());
        prop_assume!(!a.contains("     ") && !b.contains("     ") && !c.contains("     "));
        let v = booking_send(json!([
            {"type": "body", "parameters": [{"type": "text", "text": a}, {"type": "text", "text": b}, {"type": "text", "text": c}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": suffix}]}
        ]));
        let r = render(&booking(), &message(&v).params).unwrap();
        let all = format!("{}{}", r.text(), r.buttons[0].url.clone().unwrap_or_default());
        prop_assert!(!all.contains("{{"), "{}", all);
        prop_assert!(r.body.contains(a.as_str()));
    }

    #[test]
    fn template_checks_never_panic(components in arb_json(3)) {
        let v = json!({"name": "confirmacion_turno", "language": "es_AR", "components": components});
        if let Ok(m) = TemplateMessage::from_json(&v, "template") {
            for t in [booking(), otp_created(), otp_synced(), promo()] {
                let _ = check_params(&t, &m.params, None);
                let _ = super::render::render_checked(&t, &m.params);
            }
        }
    }
}

fn arb_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "header", "body", "button", "text", "url", "0", "1", "image", "payload", "{{1}}", ""
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "type",
            "parameters",
            "sub_type",
            "index",
            "text",
            "image",
            "link",
            "id",
            "parameter_name",
            "payload",
            "coupon_code",
            "currency",
            "fallback_value",
            "code",
            "amount_1000",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..5).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

// ---------------------------------------------------------------------------------------------
// Choosing the template

#[test]
fn finds_by_name_and_exact_language() {
    let family = booking_family();
    let p = prepare(
        &family,
        &message(&booking_send(booking_ok())),
        LanguageFallback::Exact,
        None,
    )
    .unwrap();
    assert_eq!(p.template.language, "es_AR");
    assert!(!p.fell_back);
    // `es-ar` is the same code, written differently.
    let mut v = booking_send(booking_ok());
    v["language"] = json!({"code": "es-ar", "policy": "deterministic"});
    let m = message(&v);
    assert_eq!(m.language, "es_AR");
    assert_eq!(m.policy.as_deref(), Some("deterministic"));
    assert_eq!(
        prepare(&family, &m, LanguageFallback::Exact, None)
            .unwrap()
            .template
            .language,
        "es_AR"
    );
}

#[test]
fn unknown_templates_and_languages() {
    let family = booking_family();
    let mut v = booking_send(booking_ok());
    v["name"] = json!("confirmacion_turnos");
    let m = message(&v);
    let e = prepare(&family, &m, LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_not_found", "template.name")
    );
    assert!(
        e.message().contains("Did you mean `confirmacion_turno`?"),
        "{}",
        e.message()
    );
    assert_eq!(
        e.details(),
        Some(json!({"similar_templates": ["confirmacion_turno"]}))
    );
    assert_eq!(
        fails(&[], booking_send(booking_ok())),
        pair("template_not_found", "template.name")
    );

    let mut v = booking_send(booking_ok());
    v["language"] = json!({"code": "es_MX"});
    let e = prepare(&family, &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_language_unavailable", "template.language.code")
    );
    assert!(
        e.message().contains("`en_US`, `es`, `es_AR`"),
        "{}",
        e.message()
    );
    assert_eq!(
        e.details(),
        Some(
            json!({"requested_language": "es_MX", "available_languages": ["en_US", "es", "es_AR"]})
        )
    );
    // With fallback, es_MX → es.
    let p = prepare(&family, &message(&v), LanguageFallback::Chain, None).unwrap();
    assert_eq!(p.template.language, "es");
    assert!(p.fell_back);
    assert_eq!(p.requested_language, "es_MX");
    // Nothing along the chain: still unavailable (field names the language string).
    let v = json!({"name": "confirmacion_turno", "language": "pt_BR", "components": booking_ok()});
    let e = prepare(&[booking()], &message(&v), LanguageFallback::Chain, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_language_unavailable", "template.language")
    );
}

#[test]
fn status_must_be_approved() {
    let mut paused = booking();
    paused.status = TemplateStatus::Paused;
    let e = prepare(
        &[paused.clone()],
        &message(&booking_send(booking_ok())),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_not_approved", "template.name")
    );
    assert!(e.message().contains("PAUSED"), "{}", e.message());
    assert_eq!(e.details(), Some(json!({"template_status": "PAUSED"})));
    // Fallback skips a paused exact match for an approved sibling…
    let mut es = booking();
    es.language = "es".into();
    let both = [paused.clone(), es];
    let p = prepare(
        &both,
        &message(&booking_send(booking_ok())),
        LanguageFallback::Chain,
        None,
    )
    .unwrap();
    assert_eq!(p.template.language, "es");
    // …and reports the status when nothing along the chain is approved.
    let mut v = booking_send(booking_ok());
    v["language"] = json!("en_US");
    let e = prepare(
        &booking_family(),
        &message(&v),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_not_approved");
    let e = prepare(
        &[paused],
        &message(&booking_send(booking_ok())),
        LanguageFallback::Chain,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_not_approved");
}

// ---------------------------------------------------------------------------------------------
// Every error path

#[test]
fn reading_the_template_object() {
    let t = [booking()];
    assert_eq!(
        fails(&t, json!("confirmacion_turno")),
        pair("wrong_type", "template")
    );
    assert_eq!(
        fails(&t, json!({"language": "es_AR"})),
        pair("missing_field", "template.name")
    );
    assert_eq!(
        fails(&t, json!({"name": " ", "language": "es_AR"})),
        pair("empty_value", "template.name")
    );
    assert_eq!(
        fails(&t, json!({"name": "x"})),
        pair("missing_field", "template.language")
    );
    assert_eq!(
        fails(&t, json!({"name": "x", "language": 5})),
        pair("wrong_type", "template.language")
    );
    assert_eq!(
        fails(&t, json!({"name": "x", "language": {"code": "español!"}})),
        pair("invalid_format", "template.language.code")
    );
    assert_eq!(
        fails(
            &t,
            json!({"name": "x", "language": {"code": "es", "policy": "fallback"}})
        ),
        pair("invalid_value", "template.language.policy")
    );
    assert_eq!(
        fails(&t, json!({"name": "x", "language": "es", "namespace": "x"})),
        pair("unknown_field", "template.namespace")
    );
    assert_eq!(
        fails(&t, booking_send(json!({"type": "body"}))),
        pair("wrong_type", "template.components")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(json!([{"type": "footer", "parameters": []}]))
        ),
        pair("invalid_value", "template.components[0].type")
    );
    assert_eq!(
        fails(&t, booking_send(json!([{"parameters": []}]))),
        pair("missing_field", "template.components[0].type")
    );
    assert_eq!(
        fails(&t, booking_send(json!([{"type": "body", "params": []}]))),
        pair("unknown_field", "template.components[0].params")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(json!([{"type": "body", "parameters": {}}]))
        ),
        pair("wrong_type", "template.components[0].parameters")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(json!([{"type": "button", "index": "0", "parameters": []}]))
        ),
        pair("missing_field", "template.components[0].sub_type")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(json!([{"type": "button", "sub_type": "url", "parameters": []}]))
        ),
        pair("missing_field", "template.components[0].index")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "button", "sub_type": "url", "index": "primero", "parameters": []}])
            )
        ),
        pair("invalid_format", "template.components[0].index")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "body", "parameters": [{"type": "emoji", "emoji": "x"}]}])
            )
        ),
        pair("invalid_value", "template.components[0].parameters[0].type")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(json!([{"type": "body", "parameters": [{"type": "text"}]}]))
        ),
        pair("missing_field", "template.components[0].parameters[0].text")
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "body", "parameters": [{"type": "text", "text": "a", "value": "b"}]}])
            )
        ),
        pair(
            "unknown_field",
            "template.components[0].parameters[0].value"
        )
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "pesos", "amount_1000": 1000}}]}])
            )
        ),
        pair(
            "invalid_format",
            "template.components[0].parameters[0].currency.code"
        )
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "ARS", "amount_1000": 1.5}}]}])
            )
        ),
        pair(
            "invalid_format",
            "template.components[0].parameters[0].currency.amount_1000"
        )
    );
    assert_eq!(
        fails(
            &t,
            booking_send(
                json!([{"type": "header", "parameters": [{"type": "image", "image": {"link": "ftp://x"}}]}])
            )
        ),
        pair(
            "invalid_url",
            "template.components[0].parameters[0].image.link"
        )
    );
}

#[test]
fn components_missing_or_unknown() {
    let t = [booking()];
    assert_eq!(
        fails(&t, booking_send(json!([]))),
        pair("template_component_missing", "template.components")
    );
    let e = prepare(
        &t,
        &message(&booking_send(json!([booking_ok()[1].clone()]))),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_component_missing");
    assert!(
        e.message()
            .contains("3 body parameters ({{1}}, {{2}}, {{3}})"),
        "{}",
        e.message()
    );
    let e = prepare(
        &t,
        &message(&booking_send(json!([booking_ok()[0].clone()]))),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_component_missing");
    assert!(
        e.message()
            .contains("button 0 (URL \"Ver turno\") needs its URL suffix"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("\"index\": \"0\""), "{}", e.message());
    // The header is fixed text: values for it are refused.
    let mut c = booking_ok();
    c.as_array_mut()
        .unwrap()
        .push(json!({"type": "header", "parameters": [{"type": "text", "text": "x"}]}));
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_count",
            "template.components[2].parameters"
        )
    );
    // No header at all in the OTP template.
    let mut v = otp_send("123456");
    v["components"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "header", "parameters": [{"type": "text", "text": "x"}]}));
    assert_eq!(
        fails(&[otp_created()], v),
        pair("template_component_unknown", "template.components[2]")
    );
    let mut c = booking_ok();
    c.as_array_mut()
        .unwrap()
        .push(json!({"type": "carousel", "cards": []}));
    assert_eq!(
        fails(&t, booking_send(c)),
        pair("template_component_unknown", "template.components[2].type")
    );
    let mut c = booking_ok();
    c.as_array_mut().unwrap().push(booking_ok()[0].clone());
    assert_eq!(
        fails(&t, booking_send(c)),
        pair("duplicate_value", "template.components[2].type")
    );
    let mut c = booking_ok();
    c.as_array_mut().unwrap().push(booking_ok()[1].clone());
    assert_eq!(
        fails(&t, booking_send(c)),
        pair("duplicate_value", "template.components[2].index")
    );
    // Media headers need their media.
    let mut v = promo_ok();
    v["components"].as_array_mut().unwrap().remove(0);
    let e = prepare(&[promo()], &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_component_missing", "template.components")
    );
    assert!(e.message().contains("image header"), "{}", e.message());
    // Copy-code and OTP buttons need their code.
    let mut v = promo_ok();
    v["components"].as_array_mut().unwrap().remove(2);
    let e = prepare(&[promo()], &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert!(
        e.message().contains("needs the coupon code"),
        "{}",
        e.message()
    );
    let mut v = otp_send("123456");
    v["components"].as_array_mut().unwrap().remove(1);
    let e = prepare(
        &[otp_created()],
        &message(&v),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "template_component_missing");
    assert!(
        e.message().contains("needs the one-time password"),
        "{}",
        e.message()
    );
    // A component with an empty parameters array counts as absent (quick replies may be omitted).
    let mut c = booking_ok();
    c.as_array_mut()
        .unwrap()
        .push(json!({"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": []}));
    assert!(
        prepare(
            &t,
            &message(&booking_send(c)),
            LanguageFallback::Exact,
            None
        )
        .is_ok()
    );
    // Templates with unmodelled components accept their components unchecked.
    let carousel: Template = serde_json::from_value(json!({"name": "carrusel", "language": "es", "status": "APPROVED",
        "category": "MARKETING", "components": [{"type": "BODY", "text": "Mirá"}, {"type": "CAROUSEL", "cards": []}]})).unwrap();
    let v = json!({"name": "carrusel", "language": "es", "components": [{"type": "carousel", "cards": [{"card_index": 0}]}]});
    let p = prepare(
        std::slice::from_ref(&carousel),
        &message(&v),
        LanguageFallback::Exact,
        None,
    )
    .unwrap();
    assert_eq!(p.rendered.body, "Mirá");
}

#[test]
fn parameter_counts_kinds_and_names() {
    let t = [booking()];
    let mut c = booking_ok();
    c[0]["parameters"].as_array_mut().unwrap().pop();
    let e = prepare(
        &t,
        &message(&booking_send(c)),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        (
            "template_parameter_count",
            "template.components[0].parameters"
        )
    );
    assert_eq!(e.details(), Some(json!({"expected": 3, "actual": 2})));
    assert_eq!(
        e.message(),
        "The body of template `confirmacion_turno` takes 3 parameters, but 2 were given."
    );
    let mut c = booking_ok();
    c[0]["parameters"][1] = json!({"type": "image", "image": {"link": "https://x.example/a.jpg"}});
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_type",
            "template.components[0].parameters[1].type"
        )
    );
    let mut c = booking_ok();
    c[1]["parameters"][0] = json!({"type": "payload", "payload": "x"});
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_type",
            "template.components[1].parameters[0].type"
        )
    );
    let mut c = booking_ok();
    c[1]["parameters"] = json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]);
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_count",
            "template.components[1].parameters"
        )
    );
    let mut c = booking_ok();
    c[0]["parameters"][0]["parameter_name"] = json!("nombre");
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_name",
            "template.components[0].parameters[0].parameter_name"
        )
    );

    // Header media of the wrong kind (Meta 132012).
    let p = [promo()];
    let mut v = promo_ok();
    v["components"][0]["parameters"][0] =
        json!({"type": "video", "video": {"link": "https://cdn.example.com/a.mp4"}});
    let e = prepare(&p, &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        (
            "template_parameter_type",
            "template.components[0].parameters[0].type"
        )
    );
    assert_eq!(
        e.details(),
        Some(json!({"expected_types": ["image"], "actual_type": "video"}))
    );
    // Named parameters: missing name, unknown name, repeated name.
    let mut v = promo_ok();
    v["components"][1]["parameters"][0]
        .as_object_mut()
        .unwrap()
        .remove("parameter_name");
    assert_eq!(
        fails(&p, v),
        pair(
            "template_parameter_name",
            "template.components[1].parameters[0].parameter_name"
        )
    );
    let mut v = promo_ok();
    v["components"][1]["parameters"][0]["parameter_name"] = json!("descuento");
    let e = prepare(&p, &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(e.code(), "template_parameter_name");
    assert!(
        e.message().contains("`first_name`, `discount`"),
        "{}",
        e.message()
    );
    let mut v = promo_ok();
    v["components"][1]["parameters"][0]["parameter_name"] = json!("first_name");
    assert_eq!(
        fails(&p, v),
        pair(
            "template_parameter_name",
            "template.components[1].parameters[1].parameter_name"
        )
    );
}

#[test]
fn parameter_values() {
    let t = [booking()];
    let with_value = |i: usize, text: &str| {
        let mut c = booking_ok();
        c[0]["parameters"][i]["text"] = json!(text);
        booking_send(c)
    };
    assert_eq!(
        fails(&t, with_value(0, "  ")),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[0].text"
        )
    );
    assert_eq!(
        fails(&t, with_value(1, "Taller\nCentro")),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[1].text"
        )
    );
    assert_eq!(
        fails(&t, with_value(2, "martes\t12")),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[2].text"
        )
    );
    assert_eq!(
        fails(&t, with_value(2, "martes      12")),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[2].text"
        )
    );
    let e = prepare(
        &t,
        &message(&with_value(0, &"a".repeat(1000))),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_text_too_long", "template.components[0]")
    );
    let mut c = booking_ok();
    c[1]["parameters"][0]["text"] = json!("AB 12");
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_invalid",
            "template.components[1].parameters[0].text"
        )
    );
    let mut c = booking_ok();
    c.as_array_mut().unwrap().push(json!({"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": ""}]}));
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_invalid",
            "template.components[2].parameters[0].payload"
        )
    );
    let mut c = booking_ok();
    c[0]["parameters"][0] = json!({"type": "date_time", "date_time": {"fallback_value": ""}});
    assert_eq!(
        fails(&t, booking_send(c)),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[0].date_time.fallback_value"
        )
    );

    // OTP: at most 15 characters, no spaces; the same rules for coupon codes.
    let o = [otp_created()];
    assert!(
        prepare(
            &o,
            &message(&otp_send("J$FpnYnP")),
            LanguageFallback::Exact,
            None
        )
        .is_ok()
    );
    assert_eq!(
        fails(&o, otp_send("1234567890123456")),
        pair(
            "template_parameter_invalid",
            "template.components[1].parameters[0].text"
        )
    );
    let mut v = otp_send("123456");
    v["components"][1]["parameters"][0]["text"] = json!("12 34");
    assert_eq!(
        fails(&o, v),
        pair(
            "invalid_format",
            "template.components[1].parameters[0].text"
        )
    );
    let mut v = promo_ok();
    v["components"][2]["parameters"][0]["coupon_code"] = json!("INVIERNO-2026-SUPER");
    assert_eq!(
        fails(&[promo()], v),
        pair(
            "template_parameter_invalid",
            "template.components[2].parameters[0].coupon_code"
        )
    );

    // A text header longer than 60 characters once filled.
    let h: Template = serde_json::from_value(json!({"name": "aviso", "language": "es", "status": "APPROVED",
        "category": "UTILITY", "components": [{"type": "HEADER", "format": "TEXT", "text": "Aviso para {{1}}"},
            {"type": "BODY", "text": "Tu equipo está listo."}]})).unwrap();
    let v = json!({"name": "aviso", "language": "es", "components": [
        {"type": "header", "parameters": [{"type": "text", "text": "x".repeat(60)}]}]});
    assert_eq!(
        fails(std::slice::from_ref(&h), v),
        pair("template_text_too_long", "template.components[0]")
    );
    let v = json!({"name": "aviso", "language": "es", "components": [
        {"type": "header", "parameters": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "ARS", "amount_1000": 1000}}]}]});
    assert_eq!(
        fails(std::slice::from_ref(&h), v),
        pair(
            "template_parameter_type",
            "template.components[0].parameters[0].type"
        )
    );
    let v = json!({"name": "aviso", "language": "es", "components": [
        {"type": "header", "parameters": [{"type": "text", "text": "Ana\nPérez"}]}]});
    assert_eq!(
        fails(&[h], v),
        pair(
            "template_parameter_invalid",
            "template.components[0].parameters[0].text"
        )
    );
}

#[test]
fn buttons_must_match_the_template() {
    let t = [booking()];
    let mut c = booking_ok();
    c[1]["index"] = json!("5");
    let e = prepare(
        &t,
        &message(&booking_send(c)),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_button_mismatch", "template.components[1].index")
    );
    assert!(
        e.message().contains("has 2 buttons (index 0 to 1)"),
        "{}",
        e.message()
    );
    let mut c = booking_ok();
    c[1]["sub_type"] = json!("quick_reply");
    let e = prepare(
        &t,
        &message(&booking_send(c)),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        (
            "template_button_mismatch",
            "template.components[1].sub_type"
        )
    );
    assert!(e.message().contains("needs `url`"), "{}", e.message());
    let p = [promo()];
    let mut v = promo_ok();
    v["components"].as_array_mut().unwrap().push(json!({"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "x"}]}));
    let e = prepare(&p, &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_button_mismatch", "template.components[3]")
    );
    assert!(e.message().contains("fixed URL"), "{}", e.message());
    let mut v = promo_ok();
    v["components"].as_array_mut().unwrap().push(json!({"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "x"}]}));
    let e = prepare(&p, &message(&v), LanguageFallback::Exact, None).unwrap_err();
    assert!(
        e.message()
            .contains("PHONE_NUMBER \"Llamar\") takes no parameters"),
        "{}",
        e.message()
    );
    let e = prepare(&[otp_created()], &message(&json!({"name": "codigo_verificacion", "language": "es_AR", "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "1"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "1"}]},
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "1"}]}]})), LanguageFallback::Exact, None).unwrap_err();
    assert!(
        e.message().contains("has one button (index 0)"),
        "{}",
        e.message()
    );
    let no_buttons: Template = serde_json::from_value(
        json!({"name": "simple", "language": "es", "status": "APPROVED",
        "category": "UTILITY", "components": [{"type": "BODY", "text": "Listo."}]}),
    )
    .unwrap();
    let e = prepare(&[no_buttons], &message(&json!({"name": "simple", "language": "es", "components": [
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "x"}]}]})), LanguageFallback::Exact, None).unwrap_err();
    assert!(e.message().contains("has no buttons"), "{}", e.message());
}

#[test]
fn parameters_for_a_positional_or_named_template_without_them() {
    let simple: Template = serde_json::from_value(
        json!({"name": "simple", "language": "es", "status": "APPROVED",
        "category": "UTILITY", "components": [{"type": "BODY", "text": "Tu equipo está listo."}]}),
    )
    .unwrap();
    let v = json!({"name": "simple", "language": "es", "components": [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]});
    let e = prepare(
        std::slice::from_ref(&simple),
        &message(&v),
        LanguageFallback::Exact,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        (
            "template_parameter_count",
            "template.components[0].parameters"
        )
    );
    assert!(
        e.message().contains("fixed text with no parameters"),
        "{}",
        e.message()
    );
    let ok = json!({"name": "simple", "language": "es"});
    let templates = [simple];
    let p = prepare(&templates, &message(&ok), LanguageFallback::Exact, None).unwrap();
    assert_eq!(p.rendered.body, "Tu equipo está listo.");
}
