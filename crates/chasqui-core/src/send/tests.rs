//! `validate` end to end: recipients, the window, every type, templates, and no panics.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::media::med;
use super::*;
use crate::ids::{ContactId, MediaId, MessageId};
use crate::phone::{PhoneE164, RegionCode, WaId};
use crate::template::{LanguageFallback, Template, TemplateCategory};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

fn ar() -> Option<RegionCode> {
    RegionCode::parse("AR").ok()
}

/// A customer who wrote an hour ago, in Argentina.
fn open() -> ValidationContext<'static> {
    ValidationContext::new(now())
        .with_region(ar())
        .with_last_inbound_at(Some(now() - TimeDelta::hours(1)))
}

fn media(id: &MediaId) -> Option<MediaInfo> {
    let name = ["factura", "foto", "gif", "video", "nota"]
        .into_iter()
        .find(|n| med(n) == *id)?;
    let (mime, size, filename) = match name {
        "factura" => ("application/pdf", 200_000, Some("factura-0042.pdf")),
        "foto" => ("image/jpeg", 800_000, None),
        "gif" => ("image/gif", 800_000, None),
        "video" => ("video/mp4", 20 * 1024 * 1024, None),
        "nota" => ("audio/ogg; codecs=opus", 30_000, None),
        _ => return None,
    };
    Some(MediaInfo {
        mime_type: mime.into(),
        size_bytes: size,
        animated: None,
        filename: filename.map(str::to_owned),
    })
}

#[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
fn run(ctx: &ValidationContext<'_>, body: Value) -> Result<ValidatedSend, SendValidationError> {
    let req = SendRequest::from_value(&body)?;
    validate(&req, ctx)
}

fn ok(ctx: &ValidationContext<'_>, body: Value) -> ValidatedSend {
    match run(ctx, body) {
        Ok(v) => v,
        Err(e) => panic!("{} at {}: {}", e.code(), e.field(), e.message()),
    }
}

fn fails(ctx: &ValidationContext<'_>, body: Value) -> (String, String) {
    let e = run(ctx, body).expect_err("should be refused");
    assert!(!e.message().is_empty());
    (e.code().to_owned(), e.field().to_owned())
}

fn pair(code: &str, field: &str) -> (String, String) {
    (code.to_owned(), field.to_owned())
}

fn text_to(to: &str) -> Value {
    json!({"to": to, "type": "text", "text": {"body": "Hola"}})
}

// ---------------------------------------------------------------------------------------------
// Recipients

#[test]
fn text_in_the_cloud_api_shape() {
    let v = ok(
        &open(),
        json!({"to": "011 15-2345-6789", "type": "text", "text": {"body": "Hola Ana,\n¿confirmás el turno?", "preview_url": false},
               "biz_opaque_callback_data": "booking-42"}),
    );
    assert_eq!(
        v.body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5491123456789",
               "type": "text", "text": {"body": "Hola Ana,\n¿confirmás el turno?", "preview_url": false},
               "biz_opaque_callback_data": "booking-42"})
    );
    assert_eq!(v.kind, SendKind::Text);
    assert_eq!(v.preview_text, "Hola Ana, ¿confirmás el turno?");
    assert_eq!(v.search_text, "Hola Ana, ¿confirmás el turno?");
    assert!(v.template.is_none() && v.local_refs.is_empty() && v.warnings.is_empty());
    match &v.recipient {
        ValidatedRecipient::Phone { wa_id, phone } => {
            assert_eq!(wa_id.as_str(), "5491123456789");
            assert_eq!(
                phone.as_ref().map(PhoneE164::as_str),
                Some("+5491123456789")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sends_to_the_form_whatsapp_knows() {
    // Mexico: the last id Meta gave (521…) wins over the number's own digits.
    let ctx = open().with_last_seen_wa_id(WaId::parse("5215512345678").ok());
    let v = ok(&ctx, text_to("+52 55 1234 5678"));
    assert_eq!(v.body["to"], json!("5215512345678"));
    // Someone else's id is ignored.
    let ctx = open().with_last_seen_wa_id(WaId::parse("5215599999999").ok());
    assert_eq!(
        ok(&ctx, text_to("+52 55 1234 5678")).body["to"],
        json!("525512345678")
    );
    // Cloud-API style digits with the country code and no `+`.
    assert_eq!(
        ok(&open(), text_to("5491123456789")).body["to"],
        json!("5491123456789")
    );
}

#[test]
fn phone_errors_keep_the_phone_module_codes() {
    let e = run(&open(), text_to("11 2345")).unwrap_err();
    assert_eq!(e.field(), "to");
    assert!(
        [
            "too_short",
            "missing_area_code",
            "invalid_length",
            "not_valid"
        ]
        .contains(&e.code()),
        "{}",
        e.code()
    );
    // An Argentine landline gets a warning (and what was probably meant), not an error.
    let v = ok(&open(), text_to("+54 11 4321-0000"));
    assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
    assert!(v.warnings[0].contains("landline"), "{:?}", v.warnings);
    assert!(
        v.warnings[0].contains("Did you mean +5491143210000?"),
        "{:?}",
        v.warnings
    );
}

#[test]
fn contacts_and_bsuids() {
    let id = ContactId::new();
    let body = json!({"contact_id": id.to_string(), "type": "text", "text": {"body": "Hola"}});
    assert_eq!(
        fails(&open(), body.clone()),
        pair("contact_not_found", "contact_id")
    );
    let ctx = open().with_contact(Some(ContactRecipient::default()));
    assert_eq!(
        fails(&ctx, body.clone()),
        pair("contact_unreachable", "contact_id")
    );
    let ctx = open().with_contact(Some(ContactRecipient {
        phone: PhoneE164::parse("+5491123456789", None).ok(),
        wa_id: WaId::parse("5491123456789").ok(),
        bsuid: Some("AR.1234".into()),
    }));
    let v = ok(&ctx, body.clone());
    assert_eq!(v.body["to"], json!("5491123456789"));
    assert_eq!(v.contact_id, Some(id));
    let ctx = open().with_contact(Some(ContactRecipient {
        wa_id: WaId::parse("5215512345678").ok(),
        ..ContactRecipient::default()
    }));
    assert_eq!(ok(&ctx, body.clone()).body["to"], json!("5215512345678"));
    let ctx = open().with_contact(Some(ContactRecipient {
        bsuid: Some("US.13491208655302741918".into()),
        ..ContactRecipient::default()
    }));
    let v = ok(&ctx, body);
    assert_eq!(v.body["recipient"], json!("US.13491208655302741918"));
    assert!(v.body.get("to").is_none());
    let v = ok(
        &open(),
        json!({"recipient": "US.13491208655302741918", "text": {"body": "Hola"}}),
    );
    assert_eq!(
        v.recipient,
        ValidatedRecipient::Bsuid {
            bsuid: "US.13491208655302741918".into()
        }
    );
    assert_eq!(v.body["type"], json!("text"));
}

// ---------------------------------------------------------------------------------------------
// The 24-hour window

#[test]
fn free_form_only_inside_the_window() {
    let last = now() - TimeDelta::hours(30);
    let ctx = ValidationContext::new(now())
        .with_region(ar())
        .with_last_inbound_at(Some(last));
    let e = run(&ctx, text_to("+5491123456789")).unwrap_err();
    assert_eq!((e.code(), e.field()), ("window_closed", "type"));
    assert!(
        e.message().contains("closed at 2026-05-28T14:26:40Z"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("template"), "{}", e.message());
    assert_eq!(
        e.details(),
        Some(
            json!({"last_inbound_at": "2026-05-27T14:26:40Z", "window_closed_at": "2026-05-28T14:26:40Z"})
        )
    );
    // Never written.
    let ctx = ValidationContext::new(now()).with_region(ar());
    let e = run(&ctx, text_to("+5491123456789")).unwrap_err();
    assert_eq!(e.code(), "window_closed");
    assert!(e.message().contains("never written"), "{}", e.message());
    assert_eq!(
        e.details(),
        Some(json!({"last_inbound_at": null, "window_closed_at": null}))
    );
    // Exactly 24 h later is closed; a second before is open.
    let edge =
        ValidationContext::new(now()).with_last_inbound_at(Some(now() - TimeDelta::hours(24)));
    assert_eq!(fails(&edge, text_to("+5491123456789")).0, "window_closed");
    let inside = ValidationContext::new(now())
        .with_last_inbound_at(Some(now() - TimeDelta::hours(24) + TimeDelta::seconds(1)));
    ok(&inside, text_to("+5491123456789"));
    // Reactions are free-form too.
    let reaction = json!({"to": "+5491123456789", "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}});
    assert_eq!(fails(&ctx, reaction).0, "window_closed");
    // The window is checked before the content: fixing the text would not help.
    let long = json!({"to": "+5491123456789", "type": "text", "text": {"body": "x".repeat(5000)}});
    assert_eq!(fails(&ctx, long).0, "window_closed");
    // Templates are always allowed.
    let templates = [hello_world()];
    let ctx = ctx.with_templates(&templates);
    ok(
        &ctx,
        json!({"to": "+5491123456789", "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}),
    );
}

// ---------------------------------------------------------------------------------------------
// Types

#[test]
fn text_limits() {
    let t = |text: Value| json!({"to": "+5491123456789", "type": "text", "text": text});
    ok(&open(), t(json!({"body": "x".repeat(4096)})));
    assert_eq!(
        fails(&open(), t(json!({"body": "x".repeat(4097)}))),
        pair("too_long", "text.body")
    );
    assert_eq!(
        fails(&open(), t(json!({"body": "ñ".repeat(4097)}))),
        pair("too_long", "text.body")
    );
    assert_eq!(
        fails(&open(), t(json!({"body": "  "}))),
        pair("empty_value", "text.body")
    );
    assert_eq!(
        fails(&open(), t(json!({}))),
        pair("missing_field", "text.body")
    );
    assert_eq!(
        fails(&open(), t(json!({"body": "x", "preview_url": "yes"}))),
        pair("wrong_type", "text.preview_url")
    );
    assert_eq!(
        fails(&open(), t(json!({"body": "x", "previewUrl": true}))),
        pair("unknown_field", "text.previewUrl")
    );
    assert_eq!(fails(&open(), t(json!("Hola"))), pair("wrong_type", "text"));
    let e = run(&open(), t(json!({"body": "x".repeat(4097)}))).unwrap_err();
    assert_eq!(e.details(), Some(json!({"max": 4096, "actual": 4097})));
}

#[test]
fn media_by_link_or_by_our_id() {
    let lookup: &dyn MediaLookup = &media;
    let ctx = open().with_media(lookup);
    let m = |kind: &str, obj: Value| json!({"to": "+5491123456789", "type": kind, kind: obj});
    let v = ok(
        &ctx,
        m(
            "image",
            json!({"link": "https://cdn.example.com/equipo.jpg", "caption": "Tu equipo reparado"}),
        ),
    );
    assert_eq!(v.preview_text, "[image] Tu equipo reparado");
    assert_eq!(
        v.body["image"],
        json!({"link": "https://cdn.example.com/equipo.jpg", "caption": "Tu equipo reparado"})
    );
    // Our document: its file name is filled in from the upload, and the id is listed for the sender.
    let v = ok(
        &ctx,
        m(
            "document",
            json!({"id": med("factura").to_string(), "caption": null}),
        ),
    );
    assert_eq!(
        v.body["document"],
        json!({"id": med("factura").to_string(), "filename": "factura-0042.pdf"})
    );
    assert_eq!(v.preview_text, "[document] factura-0042.pdf");
    assert_eq!(
        v.local_refs,
        vec![LocalRef {
            pointer: "/document/id".into(),
            target: LocalTarget::Media(med("factura"))
        }]
    );
    assert_eq!(
        v.body.pointer("/document/id"),
        Some(&json!(med("factura").to_string()))
    );
    let v = ok(&ctx, m("audio", json!({"id": med("nota").to_string()})));
    assert_eq!(v.preview_text, "[audio]");
    ok(&ctx, m("video", json!({"id": "987654321"})));

    assert_eq!(
        fails(&ctx, m("image", json!({"id": med("gif").to_string()}))),
        pair("unsupported_media_type", "image.id")
    );
    assert_eq!(
        fails(&ctx, m("video", json!({"id": med("video").to_string()}))),
        pair("media_too_large", "video.id")
    );
    assert_eq!(
        fails(&ctx, m("image", json!({"id": med("nada").to_string()}))),
        pair("media_not_found", "image.id")
    );
    assert_eq!(
        fails(&ctx, m("sticker", json!({"id": med("foto").to_string()}))),
        pair("unsupported_media_type", "sticker.id")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "audio",
                json!({"id": med("nota").to_string(), "caption": "x"})
            )
        ),
        pair("field_not_allowed", "audio.caption")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "sticker",
                json!({"link": "https://x.example/s.webp", "caption": "x"})
            )
        ),
        pair("field_not_allowed", "sticker.caption")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "image",
                json!({"link": "https://x.example/a.jpg", "filename": "a.jpg"})
            )
        ),
        pair("unknown_field", "image.filename")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "image",
                json!({"link": "https://x.example/a.jpg", "caption": "x".repeat(1025)})
            )
        ),
        pair("too_long", "image.caption")
    );
    assert_eq!(
        fails(&ctx, m("image", json!({"link": "http://x.example/a.jpg"}))),
        pair("invalid_url", "image.link")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "image",
                json!({"link": "https://x.example/a.jpg", "id": "1"})
            )
        ),
        pair("conflicting_fields", "image.id")
    );
    assert_eq!(
        fails(&ctx, m("image", json!({"caption": "x"}))),
        pair("missing_field", "image.link")
    );
    assert_eq!(
        fails(
            &ctx,
            m(
                "document",
                json!({"id": med("factura").to_string(), "filename": " "})
            )
        ),
        pair("empty_value", "document.filename")
    );
    // Without a media hook our ids are not checked (the caller said it cannot).
    ok(&open(), m("image", json!({"id": med("nada").to_string()})));
}

#[test]
fn locations_contacts_reactions() {
    let m = |kind: &str, obj: Value| json!({"to": "+5491123456789", "type": kind, kind: obj});
    let v = ok(
        &open(),
        m(
            "location",
            json!({"latitude": "-34.6037", "longitude": -58.3816, "name": "Taller Centro", "address": "Av. Corrientes 1234"}),
        ),
    );
    assert_eq!(
        v.body["location"],
        json!({"latitude": -34.6037, "longitude": -58.3816, "name": "Taller Centro", "address": "Av. Corrientes 1234"})
    );
    assert_eq!(v.preview_text, "[location] Taller Centro");
    assert_eq!(
        fails(
            &open(),
            m("location", json!({"latitude": 91, "longitude": 0}))
        ),
        pair("out_of_range", "location.latitude")
    );
    assert_eq!(
        fails(
            &open(),
            m("location", json!({"latitude": 0, "longitude": -180.5}))
        ),
        pair("out_of_range", "location.longitude")
    );
    assert_eq!(
        fails(&open(), m("location", json!({"latitude": 0}))),
        pair("missing_field", "location.longitude")
    );
    assert_eq!(
        fails(
            &open(),
            m("location", json!({"latitude": "norte", "longitude": 0}))
        ),
        pair("wrong_type", "location.latitude")
    );

    let card = json!({"name": {"formatted_name": "Taller Centro", "first_name": "Taller"},
        "phones": [{"phone": "+54 11 4321-0000", "type": "WORK", "wa_id": "541143210000"}],
        "emails": [{"email": "hola@taller.example.com"}], "birthday": "1990-08-18"});
    let v = ok(&open(), m("contacts", json!([card])));
    assert_eq!(v.preview_text, "[contacts] Taller Centro");
    assert_eq!(
        fails(&open(), m("contacts", json!([]))),
        pair("too_few", "contacts")
    );
    assert_eq!(
        fails(&open(), m("contacts", json!(vec![card.clone(); 6]))),
        pair("too_many", "contacts")
    );
    assert_eq!(
        fails(&open(), m("contacts", card.clone())),
        pair("wrong_type", "contacts")
    );
    let mut c = card.clone();
    c["name"].as_object_mut().unwrap().remove("formatted_name");
    assert_eq!(
        fails(&open(), m("contacts", json!([c]))),
        pair("missing_field", "contacts[0].name.formatted_name")
    );
    let mut c = card.clone();
    c["birthday"] = json!("18/08/1990");
    assert_eq!(
        fails(&open(), m("contacts", json!([&card, c]))),
        pair("invalid_format", "contacts[1].birthday")
    );
    let mut c = card.clone();
    c["emails"][0]["email"] = json!("hola");
    assert_eq!(
        fails(&open(), m("contacts", json!([c]))),
        pair("invalid_format", "contacts[0].emails[0].email")
    );
    let mut c = card.clone();
    c["phones"][0]["wa_id"] = json!("+54 11");
    assert_eq!(
        fails(&open(), m("contacts", json!([c]))),
        pair("invalid_format", "contacts[0].phones[0].wa_id")
    );
    let mut c = card;
    c["nickname"] = json!("x");
    assert_eq!(
        fails(&open(), m("contacts", json!([c]))),
        pair("unknown_field", "contacts[0].nickname")
    );

    let v = ok(
        &open(),
        m(
            "reaction",
            json!({"message_id": "wamid.HBgM", "emoji": "👍🏽"}),
        ),
    );
    assert_eq!(v.preview_text, "[reaction] 👍🏽");
    let ours = MessageId::new();
    let v = ok(
        &open(),
        m(
            "reaction",
            json!({"message_id": ours.to_string(), "emoji": ""}),
        ),
    );
    assert_eq!(v.preview_text, "[reaction removed]");
    assert_eq!(
        v.local_refs,
        vec![LocalRef {
            pointer: "/reaction/message_id".into(),
            target: LocalTarget::Message(ours)
        }]
    );
    assert_eq!(
        fails(
            &open(),
            m("reaction", json!({"message_id": "wamid.X", "emoji": "ok"}))
        ),
        pair("invalid_emoji", "reaction.emoji")
    );
    assert_eq!(
        fails(
            &open(),
            m(
                "reaction",
                json!({"message_id": "wamid.X", "emoji": "👍👍"})
            )
        ),
        pair("invalid_emoji", "reaction.emoji")
    );
    assert_eq!(
        fails(&open(), m("reaction", json!({"emoji": "👍"}))),
        pair("missing_field", "reaction.message_id")
    );
    assert_eq!(
        fails(&open(), m("reaction", json!({"message_id": "wamid.X"}))),
        pair("missing_field", "reaction.emoji")
    );
    assert_eq!(
        fails(
            &open(),
            m("reaction", json!({"message_id": "42", "emoji": "👍"}))
        ),
        pair("invalid_message_id", "reaction.message_id")
    );
}

#[test]
fn replies_and_interactive() {
    let ours = MessageId::new();
    let v = ok(
        &open(),
        json!({"to": "+5491123456789", "type": "text", "text": {"body": "Sí"},
        "context": {"message_id": ours.to_string()}}),
    );
    assert_eq!(v.body["context"], json!({"message_id": ours.to_string()}));
    assert_eq!(
        v.local_refs,
        vec![LocalRef {
            pointer: "/context/message_id".into(),
            target: LocalTarget::Message(ours)
        }]
    );

    let v = ok(
        &open(),
        json!({"to": "+5491123456789", "type": "interactive", "interactive": {
        "type": "button", "header": {"type": "text", "text": "Turno"}, "body": {"text": "¿Confirmás el turno del martes?"},
        "footer": {"text": "Taller Centro"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "si", "title": "Sí"}}, {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}}),
    );
    assert_eq!(v.interactive_type, Some("button"));
    assert_eq!(v.preview_text, "¿Confirmás el turno del martes?");
    assert_eq!(
        v.search_text,
        "Turno ¿Confirmás el turno del martes? Taller Centro Sí No"
    );
    let e = run(
        &open(),
        json!({"to": "+5491123456789", "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "x"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "A"}},
            {"type": "reply", "reply": {"id": "b", "title": "B"}},
            {"type": "reply", "reply": {"id": "c", "title": "Una opción demasiado larga"}}]}}}),
    )
    .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("too_long", "interactive.action.buttons[2].reply.title")
    );
    let v = ok(
        &open(),
        json!({"to": "+5491123456789", "type": "interactive", "interactive": {
        "type": "product", "action": {"catalog_id": "1", "product_retailer_id": "sku-1"}}}),
    );
    assert_eq!(v.preview_text, "[product]");
}

// ---------------------------------------------------------------------------------------------
// Templates

fn hello_world() -> Template {
    serde_json::from_value(json!({"category": "UTILITY", "components": [
        {"format": "TEXT", "text": "Hello World", "type": "HEADER"},
        {"text": "Welcome and congratulations!! This message demonstrates your ability to send a message notification from WhatsApp Business Platform’s Cloud API. Thank you for taking the time to test with us.", "type": "BODY"},
        {"text": "WhatsApp Business API Team", "type": "FOOTER"}],
        "id": "1192339204654487", "language": "en_US", "name": "hello_world", "status": "APPROVED"}))
    .unwrap()
}

fn booking(language: &str) -> Template {
    serde_json::from_value(json!({"name": "confirmacion_turno", "language": language, "status": "APPROVED",
        "category": "UTILITY", "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hola {{1}}, tu turno es el {{2}}."},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver turno", "url": "https://turnos.example.com/t/{{1}}"}]}]}))
    .unwrap()
}

fn otp() -> Template {
    serde_json::from_value(json!({"name": "codigo", "language": "es", "status": "APPROVED", "category": "AUTHENTICATION",
        "components": [{"type": "BODY", "add_security_recommendation": true},
                       {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar"}]}]}))
    .unwrap()
}

fn booking_body(language: &str) -> Value {
    json!({"to": "+5491123456789", "type": "template", "template": {"name": "confirmacion_turno", "language": {"code": language},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"id": med("foto").to_string()}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "martes 12/05"}]},
            {"type": "body", "parameters": []},
            {"type": "button", "sub_type": "url", "index": 0, "parameters": [{"type": "text", "text": "AB12"}]}]}})
}

#[test]
fn templates_are_checked_rendered_and_normalised() {
    let templates = [booking("es_AR"), booking("es"), otp(), hello_world()];
    let lookup: &dyn MediaLookup = &media;
    let closed = ValidationContext::new(now())
        .with_region(ar())
        .with_templates(&templates)
        .with_media(lookup);
    let v = ok(&closed, booking_body("es_AR"));
    assert_eq!(
        v.body["template"],
        json!({"name": "confirmacion_turno", "language": {"code": "es_AR"}, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"id": med("foto").to_string()}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "martes 12/05"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "AB12"}]}]})
    );
    assert_eq!(
        v.local_refs,
        vec![LocalRef {
            pointer: "/template/components/0/parameters/0/image/id".into(),
            target: LocalTarget::Media(med("foto"))
        }]
    );
    assert_eq!(
        v.body.pointer(&v.local_refs[0].pointer),
        Some(&json!(med("foto").to_string()))
    );
    assert_eq!(v.preview_text, "Hola Ana, tu turno es el martes 12/05.");
    let t = v.template.as_ref().unwrap();
    assert_eq!(
        (
            t.name.as_str(),
            t.language.as_str(),
            t.requested_language.as_str()
        ),
        ("confirmacion_turno", "es_AR", "es_AR")
    );
    assert_eq!(t.category, TemplateCategory::Utility);
    assert_eq!(
        t.rendered.buttons[0].url.as_deref(),
        Some("https://turnos.example.com/t/AB12")
    );
    assert_eq!(
        v.search_text,
        "Hola Ana, tu turno es el martes 12/05. Ver turno"
    );

    // A language that does not exist, with and without the tenant's fallback.
    let e = run(&closed, booking_body("es_MX")).unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("template_language_unavailable", "template.language.code")
    );
    let fallback = closed
        .clone()
        .with_language_fallback(LanguageFallback::Chain);
    let v = ok(&fallback, booking_body("es_MX"));
    assert_eq!(v.body["template"]["language"], json!({"code": "es"}));
    assert_eq!(
        v.template.as_ref().map(|t| t.requested_language.as_str()),
        Some("es_MX")
    );

    // Template errors carry their paths from the send.
    let mut body = booking_body("es_AR");
    body["template"]["components"][1]["parameters"][1]["text"] = json!("martes\n12/05");
    assert_eq!(
        fails(&closed, body),
        pair(
            "template_parameter_invalid",
            "template.components[1].parameters[1].text"
        )
    );
    let mut body = booking_body("es_AR");
    body["template"]["components"][0]["parameters"][0]["image"]["id"] =
        json!(med("gif").to_string());
    assert_eq!(
        fails(&closed, body),
        pair(
            "unsupported_media_type",
            "template.components[0].parameters[0].image.id"
        )
    );

    // Authentication templates cannot go to a BSUID (Meta 131062).
    let otp_body = |recipient: Value| {
        let mut b = json!({"type": "template", "template": {"name": "codigo", "language": "es", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]}]}});
        b.as_object_mut()
            .unwrap()
            .extend(recipient.as_object().unwrap().clone());
        b
    };
    let v = ok(&closed, otp_body(json!({"to": "+5491123456789"})));
    assert_eq!(
        v.body["template"]["language"],
        json!({"code": "es"}),
        "string shorthand normalised to Meta's object"
    );
    assert_eq!(
        fails(&closed, otp_body(json!({"recipient": "AR.1234"}))),
        pair("bsuid_not_supported", "recipient")
    );
}

// ---------------------------------------------------------------------------------------------
// Never panics

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        Just(json!(med("foto").to_string())),
        prop::sample::select(vec![
            "text",
            "image",
            "button",
            "list",
            "reply",
            "url",
            "template",
            "header",
            "body",
            "0",
            "https://x.example/a.jpg",
            "med_foto",
            "wamid.X",
            "👍",
            "+5491123456789",
            "es_AR",
            "confirmacion_turno",
            "cta_url",
            "flow",
            "send_location",
            "3",
            "",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let keys = prop::sample::select(vec![
            "type",
            "text",
            "body",
            "preview_url",
            "link",
            "id",
            "caption",
            "filename",
            "latitude",
            "longitude",
            "name",
            "address",
            "message_id",
            "emoji",
            "header",
            "footer",
            "action",
            "buttons",
            "reply",
            "title",
            "sections",
            "rows",
            "description",
            "button",
            "parameters",
            "display_text",
            "url",
            "flow_message_version",
            "flow_id",
            "flow_cta",
            "catalog_id",
            "product_retailer_id",
            "product_items",
            "language",
            "code",
            "components",
            "sub_type",
            "index",
            "formatted_name",
            "phones",
            "phone",
            "emails",
            "email",
            "zzz",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn check_never_panics(body: &Value, templates: &[Template]) {
    let lookup: &dyn MediaLookup = &media;
    let ctx = open().with_templates(templates).with_media(lookup);
    if let Ok(req) = SendRequest::from_value(body) {
        let _ = req.parse_to(ar());
        let _ = req.template_name();
        for fallback in [LanguageFallback::Exact, LanguageFallback::Chain] {
            let _ = validate(&req, &ctx.clone().with_language_fallback(fallback));
        }
        let _ = validate(&req, &ValidationContext::new(now()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_json_never_panics(value in arb_json()) {
        let templates = [booking("es_AR"), otp(), hello_world()];
        check_never_panics(&value, &templates);
    }

    #[test]
    fn arbitrary_content_in_a_valid_envelope_never_panics(
        kind in prop::sample::select(SendKind::ALL.to_vec()), content in arb_json()
    ) {
        let templates = [booking("es_AR"), otp(), hello_world()];
        let body = json!({"to": "+5491123456789", "type": kind.as_str(), kind.as_str(): content});
        check_never_panics(&body, &templates);
    }

    #[test]
    fn errors_always_name_a_field_and_say_what_to_fix(
        kind in prop::sample::select(SendKind::ALL.to_vec()), content in arb_json()
    ) {
        let templates = [booking("es_AR")];
        let ctx = open().with_templates(&templates);
        let body = json!({"to": "+5491123456789", "type": kind.as_str(), kind.as_str(): content});
        if let Err(e) = SendRequest::from_value(&body).and_then(|r| validate(&r, &ctx)) {
            prop_assert!(e.field() == kind.as_str() || e.field().starts_with(kind.as_str()), "{} {}", e.field(), e.message());
            prop_assert!(e.message().len() > 20);
            prop_assert!(e.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}
