//! `POST /v1/messages` bodies: `SendRequest::from_value` then `validate` against fixed contexts
//! (an open window in Argentina with templates, media and a contact; a closed window with no
//! region). Nothing may panic, and an accepted send must be coherent: the Cloud API body names
//! the recipient and type, its local references point into it, the preview fits, and a closed
//! window only lets templates through.
#![no_main]

use std::sync::LazyLock;

use chasqui_core::ids::MediaId;
use chasqui_core::phone::{PhoneE164, RegionCode, WaId};
use chasqui_core::send::{
    ContactRecipient, MediaInfo, PREVIEW_CHARS, SendKind, SendRequest, ValidatedRecipient,
    ValidationContext, validate,
};
use chasqui_core::template::{LanguageFallback, Template};
use chrono::{DateTime, TimeDelta};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(templates);

fn templates() -> Vec<Template> {
    let list = json!([
        {"name": "confirmacion_turno", "language": "es_AR", "status": "APPROVED", "category": "UTILITY",
         "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Turno {{1}}"},
            {"type": "BODY", "text": "Hola {{1}}, el total es {{2}} para el {{3}}."},
            {"type": "FOOTER", "text": "Taller Centro"},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Ver", "url": "https://turnos.example.com/t/{{1}}"},
                {"type": "QUICK_REPLY", "text": "Cancelar"},
                {"type": "COPY_CODE", "text": "Copiar"}]}]},
        {"name": "confirmacion_turno", "language": "es", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hola {{1}}"}]},
        {"name": "promo", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
         "parameter_format": "NAMED",
         "components": [
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{first_name}}, {{discount}} off"},
            {"type": "BUTTONS", "buttons": [{"type": "FLOW", "text": "Open"}, {"type": "MPM", "text": "View"}]}]},
        {"name": "codigo", "language": "es", "status": "APPROVED", "category": "AUTHENTICATION",
         "components": [
            {"type": "BODY", "add_security_recommendation": true},
            {"type": "FOOTER", "code_expiration_minutes": 10},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copiar"}]}]},
        {"name": "documento", "language": "pt_BR", "status": "PAUSED", "category": "UTILITY",
         "components": [{"type": "HEADER", "format": "DOCUMENT"}, {"type": "BODY", "text": "Segue"}]}
    ]);
    serde_json::from_value(list).expect("fixed templates")
}

/// Every fourth id is unknown; the rest are one of a few kinds of upload.
fn media(id: &MediaId) -> Option<MediaInfo> {
    let n = id.as_uuid().as_u128();
    let (mime, size, animated) = match n % 8 {
        0 | 4 => return None,
        1 => ("image/jpeg", 800_000, None),
        2 => ("application/pdf", 200_000, None),
        3 => ("video/mp4", 20 << 20, None),
        5 => ("audio/ogg; codecs=opus", 30_000, None),
        6 => ("image/webp", 400_000, Some(n % 16 == 6)),
        _ => ("application/octet-stream", u64::MAX, None),
    };
    Some(MediaInfo {
        mime_type: mime.into(),
        size_bytes: size,
        animated,
        filename: n.is_multiple_of(3).then(|| "f.pdf".to_owned()),
    })
}

fn check(req: &SendRequest, ctx: &ValidationContext<'_>, window_open: bool) {
    let Ok(sent) = validate(req, ctx) else {
        return;
    };
    assert_eq!(sent.kind, req.kind);
    if !window_open {
        assert_eq!(
            sent.kind,
            SendKind::Template,
            "only templates outside the window"
        );
    }
    assert!(sent.preview_text.chars().count() <= PREVIEW_CHARS);
    let body = &sent.body;
    assert_eq!(body["messaging_product"], json!("whatsapp"));
    assert_eq!(body["type"], json!(req.kind.as_str()));
    assert!(body.get(req.kind.as_str()).is_some());
    match &sent.recipient {
        ValidatedRecipient::Phone { wa_id, .. } => {
            assert_eq!(body["to"], json!(wa_id.as_str()));
            assert!(WaId::parse(wa_id.as_str()).is_ok());
        }
        ValidatedRecipient::Bsuid { bsuid } => assert_eq!(body["recipient"], json!(bsuid)),
    }
    for r in &sent.local_refs {
        assert!(
            body.pointer(&r.pointer).is_some_and(Value::is_string),
            "local ref {} not in {body}",
            r.pointer
        );
    }
    assert_eq!(sent.template.is_some(), req.kind == SendKind::Template);
    serde_json::to_vec(&sent).expect("a validated send serialises");
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(req) = SendRequest::from_value(&value) else {
        return;
    };
    let _ = req.template_name();
    let ar = RegionCode::parse("AR").ok();
    let _ = req.parse_to(ar);

    let now = DateTime::from_timestamp(1_780_000_000, 0).expect("fixed time");
    let templates: &[Template] = &TEMPLATES;
    let lookup = media;
    let phone = PhoneE164::parse("+5491123456789", None).ok();
    let contact = ContactRecipient {
        phone,
        wa_id: WaId::parse("5491123456789").ok(),
        bsuid: Some("AR.1234567890".into()),
    };
    let open = ValidationContext::new(now)
        .with_region(ar)
        .with_last_inbound_at(Some(now - TimeDelta::hours(1)))
        .with_last_seen_wa_id(WaId::parse("541123456789").ok())
        .with_contact(Some(contact))
        .with_templates(templates)
        .with_language_fallback(LanguageFallback::Chain)
        .with_media(&lookup);
    check(&req, &open, true);

    let bsuid_only = ContactRecipient {
        bsuid: Some("US.13491208655302741918".into()),
        ..ContactRecipient::default()
    };
    let closed = ValidationContext::new(now)
        .with_last_inbound_at(Some(now - TimeDelta::hours(25)))
        .with_contact(Some(bsuid_only))
        .with_templates(templates);
    check(&req, &closed, false);
});
