//! Templates: reading Meta's template shape and a send's `template` object, checking the values
//! and rendering.
//!
//! Two input shapes, chosen by the first byte:
//! - even: JSON `{"template": <Meta template>, "message": <send's template object>}` (or an
//!   array of templates under `"templates"`), for the readers;
//! - odd: a structured case (`arbitrary`) whose texts are made of literals, placeholders and
//!   stray braces, with matching or mismatching values, for the checker and the renderer.
//!
//! Properties: nothing panics; a successful render respects the body/header limits; and when
//! every value shown in a text has no braces and a character that cannot be part of a
//! placeholder name, no `{{…}}` placeholder is left in the header, body or button URLs.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use chasqui_core::template::{
    LanguageFallback, MAX_BODY_CHARS, MAX_HEADER_CHARS, RenderedTemplate, Template,
    TemplateMessage, check_params, fallback_chain, find_template, placeholders, prepare, render,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const NAMES: [&str; 4] = ["first_name", "order_id", "x", "_1"];

#[derive(Debug, Arbitrary)]
enum Tok {
    Lit(String),
    Pos(u8),
    Named(u8),
    Spaced(u8),
    Open,
    Close,
    Brace,
}

#[derive(Debug, Arbitrary)]
struct Text(Vec<Tok>);

impl Text {
    fn render(&self) -> String {
        let mut s = String::new();
        for t in &self.0 {
            match t {
                Tok::Lit(l) => s.push_str(l),
                Tok::Pos(n) => s.push_str(&format!("{{{{{}}}}}", n % 5)),
                Tok::Named(n) => s.push_str(&format!("{{{{{}}}}}", NAMES[usize::from(n % 4)])),
                Tok::Spaced(n) => s.push_str(&format!("{{{{ {} }}}}", n % 5 + 1)),
                Tok::Open => s.push_str("{{"),
                Tok::Close => s.push_str("}}"),
                Tok::Brace => s.push('{'),
            }
        }
        s
    }
}

#[derive(Debug, Arbitrary)]
enum HeaderSpec {
    Text(Text),
    Image,
    Video,
    Document,
    Location,
    Other(String),
}

#[derive(Debug, Arbitrary)]
struct ButtonSpec {
    kind: u8,
    text: Option<String>,
    url: Option<Text>,
}

#[derive(Debug, Arbitrary)]
enum ValueSpec {
    Text {
        name: Option<u8>,
        text: String,
    },
    Currency {
        name: Option<u8>,
        fallback: String,
        code: bool,
        amount: i64,
    },
    DateTime {
        name: Option<u8>,
        fallback: String,
    },
    Image(String),
    Document(String, Option<String>),
    Location(f64, f64),
    Payload(String),
    Coupon(String),
    Raw(String),
}

#[derive(Debug, Arbitrary)]
struct ComponentSpec {
    kind: u8,
    index: u8,
    values: Vec<ValueSpec>,
}

#[derive(Debug, Arbitrary)]
struct Case {
    format: u8,
    category: u8,
    header: Option<HeaderSpec>,
    body: Option<Text>,
    security: Option<bool>,
    footer: Option<String>,
    buttons: Vec<ButtonSpec>,
    language: u8,
    components: Vec<ComponentSpec>,
}

const BUTTONS: [&str; 9] = [
    "QUICK_REPLY",
    "URL",
    "PHONE_NUMBER",
    "COPY_CODE",
    "FLOW",
    "OTP",
    "CATALOG",
    "MPM",
    "SPM",
];
const SUB_TYPES: [&str; 7] = [
    "quick_reply",
    "url",
    "copy_code",
    "flow",
    "catalog",
    "mpm",
    "x",
];
const LANGUAGES: [&str; 5] = ["es_AR", "es", "en_US", "pt-br", "fr"];

fn name_field(name: Option<u8>) -> Option<&'static str> {
    name.map(|n| NAMES[usize::from(n % 4)])
}

fn value_json(v: &ValueSpec) -> Value {
    let mut out = match v {
        ValueSpec::Text { text, .. } => json!({"type": "text", "text": text}),
        ValueSpec::Currency {
            fallback,
            code,
            amount,
            ..
        } => json!({"type": "currency", "currency": {
            "fallback_value": fallback, "code": if *code { "USD" } else { "usd" }, "amount_1000": amount}}),
        ValueSpec::DateTime { fallback, .. } => {
            json!({"type": "date_time", "date_time": {"fallback_value": fallback}})
        }
        ValueSpec::Image(link) => json!({"type": "image", "image": {"link": link}}),
        ValueSpec::Document(link, filename) => {
            json!({"type": "document", "document": {"link": link, "filename": filename}})
        }
        ValueSpec::Location(lat, long) => json!({"type": "location", "location": {
            "latitude": if lat.is_finite() { json!(lat) } else { json!(0) },
            "longitude": if long.is_finite() { json!(long) } else { json!(0) }}}),
        ValueSpec::Payload(p) => json!({"type": "payload", "payload": p}),
        ValueSpec::Coupon(c) => json!({"type": "coupon_code", "coupon_code": c}),
        ValueSpec::Raw(s) => serde_json::from_str(s).unwrap_or(Value::Null),
    };
    if let (
        ValueSpec::Text { name, .. }
        | ValueSpec::Currency { name, .. }
        | ValueSpec::DateTime { name, .. },
        Value::Object(o),
    ) = (v, &mut out)
        && let Some(n) = name_field(*name)
    {
        o.insert("parameter_name".into(), json!(n));
    }
    out
}

/// The text a value shows in a rendered text, if it is shown.
fn shown(v: &ValueSpec) -> Option<&str> {
    match v {
        ValueSpec::Text { text, .. } => Some(text),
        ValueSpec::Currency { fallback, .. } | ValueSpec::DateTime { fallback, .. } => {
            Some(fallback)
        }
        _ => None,
    }
}

/// A value that can neither hold nor complete a placeholder.
fn inert(s: &str) -> bool {
    !s.contains(['{', '}'])
        && s.chars().any(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c.is_whitespace())
        })
}

impl Case {
    fn template(&self) -> Value {
        let mut components = Vec::new();
        match &self.header {
            Some(HeaderSpec::Text(t)) => {
                components.push(json!({"type": "HEADER", "format": "TEXT", "text": t.render()}))
            }
            Some(HeaderSpec::Image) => {
                components.push(json!({"type": "HEADER", "format": "IMAGE"}))
            }
            Some(HeaderSpec::Video) => {
                components.push(json!({"type": "HEADER", "format": "VIDEO"}))
            }
            Some(HeaderSpec::Document) => {
                components.push(json!({"type": "HEADER", "format": "DOCUMENT"}))
            }
            Some(HeaderSpec::Location) => {
                components.push(json!({"type": "HEADER", "format": "LOCATION"}))
            }
            Some(HeaderSpec::Other(f)) => components.push(json!({"type": "HEADER", "format": f})),
            None => {}
        }
        if self.body.is_some() || self.security.is_some() {
            let mut body = json!({"type": "BODY"});
            if let Some(t) = &self.body {
                body["text"] = json!(t.render());
            }
            if let Some(s) = self.security {
                body["add_security_recommendation"] = json!(s);
            }
            components.push(body);
        }
        if let Some(f) = &self.footer {
            components.push(json!({"type": "FOOTER", "text": f}));
        }
        if !self.buttons.is_empty() {
            let buttons: Vec<Value> = self
                .buttons
                .iter()
                .take(12)
                .map(|b| {
                    let kind = BUTTONS[usize::from(b.kind) % BUTTONS.len()];
                    let mut v = json!({"type": kind});
                    if let Some(t) = &b.text {
                        v["text"] = json!(t);
                    }
                    if let Some(u) = &b.url {
                        v["url"] = json!(u.render());
                    }
                    v
                })
                .collect();
            components.push(json!({"type": "BUTTONS", "buttons": buttons}));
        }
        let category = ["UTILITY", "MARKETING", "AUTHENTICATION"][usize::from(self.category % 3)];
        let mut t = json!({
            "name": "fuzzed",
            "language": "es_AR",
            "status": "APPROVED",
            "category": category,
            "components": components,
        });
        match self.format % 3 {
            0 => t["parameter_format"] = json!("POSITIONAL"),
            1 => t["parameter_format"] = json!("NAMED"),
            _ => {}
        }
        t
    }

    fn message(&self) -> Value {
        let components: Vec<Value> = self
            .components
            .iter()
            .take(8)
            .map(|c| {
                let parameters: Vec<Value> = c.values.iter().take(8).map(value_json).collect();
                match c.kind % 4 {
                    0 => json!({"type": "body", "parameters": parameters}),
                    1 => json!({"type": "header", "parameters": parameters}),
                    2 => {
                        let sub_type = SUB_TYPES[usize::from(c.index / 16) % SUB_TYPES.len()];
                        json!({"type": "button", "sub_type": sub_type,
                               "index": (c.index % 16).to_string(), "parameters": parameters})
                    }
                    _ => json!({"type": "carousel", "cards": []}),
                }
            })
            .collect();
        let language = LANGUAGES[usize::from(self.language) % LANGUAGES.len()];
        json!({
            "name": "fuzzed",
            "language": {"code": language},
            "components": components,
        })
    }

    fn all_values_inert(&self) -> bool {
        self.components
            .iter()
            .flat_map(|c| &c.values)
            .all(|v| shown(v).is_none_or(inert))
    }
}

fn check_rendered(r: &RenderedTemplate, strict: bool) {
    if let Some(h) = r.header_text() {
        assert!(
            h.chars().count() <= MAX_HEADER_CHARS,
            "header too long: {h:?}"
        );
    }
    assert!(r.body.chars().count() <= MAX_BODY_CHARS, "body too long");
    let _ = r.text();
    serde_json::to_vec(r).expect("a rendered template serialises");
    if strict {
        let mut texts: Vec<&str> = vec![&r.body];
        texts.extend(r.header_text());
        texts.extend(r.buttons.iter().filter_map(|b| b.url.as_deref()));
        for t in texts {
            assert!(
                placeholders(t).is_empty(),
                "a placeholder survived rendering: {t:?} in {r:#?}"
            );
        }
    }
}

fn exercise(templates: &[Template], message: &TemplateMessage, strict: bool) {
    for fallback in [LanguageFallback::Exact, LanguageFallback::Chain] {
        let _ = find_template(templates, message, fallback);
        if let Ok(prepared) = prepare(templates, message, fallback, None) {
            check_rendered(&prepared.rendered, strict);
        }
    }
    let languages: Vec<&str> = templates.iter().map(|t| t.language.as_str()).collect();
    let chain = fallback_chain(&message.language, &languages);
    assert!(!chain.is_empty());
    for t in templates {
        let _ = t.body_placeholders();
        let _ = t.header_placeholders();
        let checked = check_params(t, &message.params, None);
        match render(t, &message.params) {
            Ok(r) => {
                assert!(checked.is_ok(), "render accepted what check_params refused");
                check_rendered(&r, strict);
            }
            Err(_) => assert!(
                checked.is_err(),
                "render refused what check_params accepted"
            ),
        }
    }
    let _ = message.params.to_json();
}

fn json_mode(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let templates: Vec<Template> = match (v.get("templates"), v.get("template")) {
        (Some(list), _) => serde_json::from_value(list.clone()).unwrap_or_default(),
        (None, Some(t)) => serde_json::from_value(t.clone())
            .map(|t| vec![t])
            .unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    for t in &templates {
        // What we read from Meta we store and read again.
        let back: Template = serde_json::from_value(serde_json::to_value(t).expect("serialises"))
            .expect("a template re-reads");
        let _ = back;
    }
    let Some(m) = v.get("message") else {
        return;
    };
    if let Ok(message) = TemplateMessage::from_json(m, "template") {
        exercise(&templates, &message, false);
    }
}

fn structured_mode(data: &[u8]) {
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let Ok(template) = serde_json::from_value::<Template>(case.template()) else {
        return;
    };
    let Ok(message) = TemplateMessage::from_json(&case.message(), "template") else {
        return;
    };
    exercise(
        std::slice::from_ref(&template),
        &message,
        case.all_values_inert(),
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        json_mode(rest);
    } else {
        structured_mode(rest);
    }
});
