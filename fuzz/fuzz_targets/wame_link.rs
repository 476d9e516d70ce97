//! wa.me links, attribution codes, link requests, tenant texts and QR codes.
//!
//! Properties: `extract_ref(append_ref(text, code)) == code`; a link's `text` query decodes back
//! to its text and the link fits `MAX_URL_LEN`; `decode_text(encode_text(t)) == t`; a rendered
//! context text has no braces left; QR codes of accepted links render at small sizes.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use chasqui_core::phone::{PhoneE164, RegionCode};
use chasqui_core::wame::{
    EcLevel, LinkContext, LinkDefaults, LinkRequest, Locale, MAX_URL_LEN, QrSize, RefCode,
    TemplateOverrides, TerminalBackground, WaMeLink, append_ref, decode_text, encode_text,
    extract_ref, qr_matrix, render, validate_template,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Case {
    text: String,
    code: String,
    message: String,
    phone: Option<String>,
    region: Option<String>,
    context: Option<String>,
    locale: Option<String>,
    data: Vec<(String, DataValue)>,
    override_text: Option<String>,
    ec: u8,
    size: (bool, u32),
    qr: bool,
}

#[derive(Debug, Arbitrary)]
enum DataValue {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
    List,
}

static TENANT_PHONE: LazyLock<Option<PhoneE164>> =
    LazyLock::new(|| PhoneE164::parse("+5491123456789", None).ok());
static SPANISH: LazyLock<Locale> = LazyLock::new(|| Locale::parse("es-AR").expect("locale"));

fn query_text(url: &str) -> Option<&str> {
    url.split_once("?text=").map(|(_, t)| t)
}

fuzz_target!(|case: Case| {
    // Encoding round-trips for any text; decoding arbitrary text never panics.
    assert_eq!(
        decode_text(&encode_text(&case.text)).as_deref(),
        Ok(case.text.as_str())
    );
    let _ = decode_text(&case.message);

    // Attribution codes survive being appended to any message.
    let _ = extract_ref(&case.message);
    if let Ok(code) = RefCode::parse(&case.code) {
        assert!(code.as_str().len() <= chasqui_core::wame::MAX_REF_LEN);
        let with_ref = append_ref(&case.text, &code);
        assert_eq!(extract_ref(&with_ref).as_ref(), Some(&code), "{with_ref:?}");
    }

    // A bare link.
    let region = case
        .region
        .as_deref()
        .and_then(|r| RegionCode::parse(r).ok());
    let phone = case
        .phone
        .as_deref()
        .and_then(|p| PhoneE164::parse(p, region).ok());
    if let Ok(link) = WaMeLink::new(phone.as_ref(), Some(&case.text)) {
        let url = link.as_str();
        assert!(url.starts_with("https://wa.me/") && url.len() <= MAX_URL_LEN);
        match (link.text(), query_text(url)) {
            (Some(t), Some(q)) => assert_eq!(decode_text(q).as_deref(), Ok(t)),
            (None, None) => {}
            other => panic!("text and query disagree: {other:?}"),
        }
    }

    // Tenant texts and the whole request.
    let mut overrides = TemplateOverrides::new();
    let context = case
        .context
        .as_deref()
        .and_then(|c| LinkContext::parse(c).ok());
    let locale = case.locale.as_deref().and_then(|l| Locale::parse(l).ok());
    if let (Some(c), Some(t)) = (context, &case.override_text) {
        let ok = validate_template(c, t).is_ok();
        let inserted = overrides.insert(c, locale.clone().unwrap_or_else(Locale::english), t);
        assert_eq!(ok, inserted.is_ok());
    }
    let data: BTreeMap<String, serde_json::Value> = case
        .data
        .iter()
        .take(8)
        .map(|(k, v)| {
            let v = match v {
                DataValue::Text(s) => serde_json::json!(s),
                DataValue::Int(i) => serde_json::json!(i),
                DataValue::Bool(b) => serde_json::json!(b),
                DataValue::Null => serde_json::Value::Null,
                DataValue::List => serde_json::json!([1]),
            };
            (k.clone(), v)
        })
        .collect();
    if let (Some(c), Some(l)) = (context, &locale) {
        let text_data: BTreeMap<String, String> = data
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect();
        if let Ok(rendered) = render(c, l, &text_data, &overrides) {
            assert!(!rendered.text.contains(['{', '}']), "{:?}", rendered.text);
        }
    }
    let request = LinkRequest {
        phone: case.phone.clone(),
        region: case.region.clone(),
        text: (case.ec & 0x80 == 0).then(|| case.text.clone()),
        context: case.context.clone(),
        data,
        locale: case.locale.clone(),
        ref_code: (case.ec & 0x40 == 0).then(|| case.code.clone()),
    };
    let defaults = LinkDefaults {
        phone: TENANT_PHONE.as_ref(),
        region: RegionCode::parse("AR").ok(),
        locale: &SPANISH,
        overrides: &overrides,
    };
    let Ok(built) = request.build(&defaults) else {
        return;
    };
    let url = built.link.as_str();
    assert!(url.len() <= MAX_URL_LEN);
    if let Some(code) = &built.ref_code {
        let text = built.link.text().expect("a ref makes a text");
        assert_eq!(extract_ref(text).as_ref(), Some(code));
    }
    if let Some(t) = built.link.text() {
        assert!(!t.trim().is_empty());
    }

    // Choosing a QR code's mask costs milliseconds under coverage instrumentation and is the
    // `qrcode` crate's code, not ours: draw one for about every 32nd case only.
    if !case.qr || case.ec & 0x3c != 0 {
        return;
    }
    let ec = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][usize::from(case.ec % 4)];
    let Ok(matrix) = qr_matrix(url, ec) else {
        return;
    };
    let size = if case.size.0 {
        QrSize::ModulePx(case.size.1)
    } else {
        QrSize::TotalPx(case.size.1)
    };
    if let Ok(px) = matrix.module_px(size) {
        let side = u64::from(px) * matrix.width_with_quiet_zone() as u64;
        assert!(side <= 4096, "{side} px");
    }
    // Draw small images only: the cost of a big PNG would swamp the fuzzer.
    let small = QrSize::ModulePx(1 + case.size.1 % 2);
    let svg = matrix.to_svg(small).expect("small sizes draw");
    assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
    let png = matrix.to_png(small).expect("small sizes draw");
    assert!(png.starts_with(b"\x89PNG"));
    let _ = matrix.to_terminal(if case.ec & 0x20 == 0 {
        TerminalBackground::Dark
    } else {
        TerminalBackground::Light
    });
});
