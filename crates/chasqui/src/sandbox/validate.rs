//! Checking `POST /{phone-number-id}/messages` bodies the way the Cloud API does
//! (`cloud-api.md` §3): `messaging_product`, `to` or `recipient`, `type` and its object, the
//! documented limits. A body Meta would refuse gets Meta's 400 (`(#100) Invalid parameter`,
//! `(#131008) Required parameter is missing`, `(#131009) Parameter value is not valid`).

use serde_json::{Map, Value};

use super::failures::GraphFailure;
use super::numbers;

/// Who a send goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `to`: a phone number, with the `wa_id` WhatsApp knows it by.
    Phone {
        /// As written.
        input: String,
        /// Canonical id.
        wa_id: String,
    },
    /// `recipient`: a business-scoped user id.
    User(String),
}

impl Target {
    /// The key the sandbox files this customer under.
    pub fn key(&self) -> &str {
        match self {
            Target::Phone { wa_id, .. } => wa_id,
            Target::User(u) => u,
        }
    }
}

/// The template a send names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// Name.
    pub name: String,
    /// `language.code`.
    pub language: String,
    /// Parameters given for the header.
    pub header_params: usize,
    /// Parameters given for the body.
    pub body_params: usize,
}

/// A send that passed the checks.
#[derive(Debug, Clone, PartialEq)]
pub struct SendRequest {
    /// The recipient.
    pub target: Target,
    /// `text`, `image`, `template`, …
    pub kind: String,
    /// For templates.
    pub template: Option<TemplateRef>,
    /// `biz_opaque_callback_data`, echoed in statuses.
    pub callback_data: Option<String>,
    /// The whole body.
    pub body: Value,
}

/// What a `POST …/messages` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Send a message.
    Send(Box<SendRequest>),
    /// Mark a received message read (blue ticks), perhaps with the typing indicator.
    MarkRead {
        /// The customer's message.
        message_id: String,
        /// `typing_indicator: {"type": "text"}`.
        typing: bool,
    },
}

type Checked<T> = Result<T, GraphFailure>;

const TYPES: [&str; 11] = [
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
];

fn object<'a>(v: &'a Value, key: &str, path: &str) -> Checked<&'a Map<String, Value>> {
    match v.get(key) {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(GraphFailure::missing(format!(
            "Parameter '{path}' is required."
        ))),
        Some(_) => Err(GraphFailure::invalid_parameter(format!(
            "Param {path} must be a JSON object."
        ))),
    }
}

/// A string field: required or not, at most `max` characters.
fn text<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
    required: bool,
    max: usize,
) -> Checked<Option<&'a str>> {
    match m.get(key) {
        None | Some(Value::Null) if required => Err(GraphFailure::missing(format!(
            "Parameter '{path}' is required."
        ))),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if required && s.trim().is_empty() {
                return Err(GraphFailure::missing(format!(
                    "Parameter '{path}' must not be empty."
                )));
            }
            let n = s.chars().count();
            if n > max {
                return Err(GraphFailure::bad_value(format!(
                    "Param {path} must be at most {max} characters long (got {n})."
                )));
            }
            Ok(Some(s))
        }
        Some(_) => Err(GraphFailure::invalid_parameter(format!(
            "Param {path} must be a string."
        ))),
    }
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads and checks a request body.
pub fn request(raw: &[u8]) -> Checked<Request> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|_| GraphFailure::parameter("The parameter messaging_product is required."))?;
    let Value::Object(top) = &body else {
        return Err(GraphFailure::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    };
    match top.get("messaging_product") {
        None | Some(Value::Null) => {
            return Err(GraphFailure::parameter(
                "The parameter messaging_product is required.",
            ));
        }
        Some(Value::String(p)) if p.eq_ignore_ascii_case("whatsapp") => {}
        Some(other) => {
            return Err(GraphFailure::parameter(format!(
                "Param messaging_product must be one of {{WHATSAPP}} - got {other}."
            )));
        }
    }
    if let Some(status) = top.get("status") {
        if status.as_str() != Some("read") {
            return Err(GraphFailure::invalid_parameter(
                "Param status must be \"read\" to mark a message as read.",
            ));
        }
        let message_id = text(top, "message_id", "message_id", true, 512)?
            .unwrap_or_default()
            .to_owned();
        let typing = match top.get("typing_indicator") {
            None | Some(Value::Null) => false,
            Some(t) if t.get("type").and_then(Value::as_str) == Some("text") => true,
            Some(_) => {
                return Err(GraphFailure::bad_value(
                    "Param typing_indicator['type'] must be \"text\".",
                ));
            }
        };
        return Ok(Request::MarkRead { message_id, typing });
    }
    send(&body, top).map(|s| Request::Send(Box::new(s)))
}

fn send(body: &Value, top: &Map<String, Value>) -> Checked<SendRequest> {
    match top.get("recipient_type").and_then(Value::as_str) {
        None | Some("individual") => {}
        Some("group") => {
            return Err(GraphFailure::bad_value(
                "The sandbox has no groups: recipient_type must be \"individual\".",
            ));
        }
        Some(other) => {
            return Err(GraphFailure::parameter(format!(
                "Param recipient_type must be one of {{INDIVIDUAL, GROUP}} - got \"{other}\"."
            )));
        }
    }
    let target = match (
        text(top, "to", "to", false, 64)?,
        text(top, "recipient", "recipient", false, 128)?,
    ) {
        (Some(to), _) if !to.trim().is_empty() => {
            let wa_id = numbers::wa_id_of(to).ok_or_else(|| {
                GraphFailure::invalid_parameter(format!(
                    "Param to must be a phone number in international format (country code first, digits, optionally a leading +), got \"{to}\"."
                ))
            })?;
            Target::Phone {
                input: to.to_owned(),
                wa_id,
            }
        }
        (_, Some(user)) if !user.trim().is_empty() => Target::User(user.trim().to_owned()),
        _ => return Err(GraphFailure::parameter("The parameter to is required.")),
    };
    let kind = match top.get("type") {
        None | Some(Value::Null) => "text".to_owned(),
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.clone(),
        Some(other) => {
            return Err(GraphFailure::parameter(format!(
                "Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}} - got {other}."
            )));
        }
    };
    if let Some(ctx) = top.get("context") {
        let ctx = ctx.as_object().ok_or_else(|| {
            GraphFailure::invalid_parameter("Param context must be a JSON object.")
        })?;
        text(ctx, "message_id", "context['message_id']", true, 512)?;
    }
    let callback_data = text(
        top,
        "biz_opaque_callback_data",
        "biz_opaque_callback_data",
        false,
        512,
    )?
    .map(str::to_owned);
    let mut template = None;
    match kind.as_str() {
        "text" => {
            let t = object(body, "text", "text")?;
            text(t, "body", "text['body']", true, 4096)?;
            if t.get("preview_url").is_some_and(|p| !p.is_boolean()) {
                return Err(GraphFailure::invalid_parameter(
                    "Param text['preview_url'] must be a boolean.",
                ));
            }
        }
        "image" | "audio" | "video" | "document" | "sticker" => media(body, &kind)?,
        "location" => {
            let l = object(body, "location", "location")?;
            let lat = number(l.get("latitude")).ok_or_else(|| {
                GraphFailure::missing("Parameter 'location['latitude']' is required.")
            })?;
            let lon = number(l.get("longitude")).ok_or_else(|| {
                GraphFailure::missing("Parameter 'location['longitude']' is required.")
            })?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(GraphFailure::bad_value(
                    "Latitude must be within ±90 and longitude within ±180.",
                ));
            }
            text(l, "name", "location['name']", false, 1000)?;
            text(l, "address", "location['address']", false, 1000)?;
        }
        "contacts" => {
            let list = body
                .get("contacts")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    GraphFailure::missing("Parameter 'contacts' is required: a non-empty array.")
                })?;
            for (i, c) in list.iter().enumerate() {
                let name = c.get("name").and_then(Value::as_object).ok_or_else(|| {
                    GraphFailure::missing(format!("Parameter 'contacts[{i}]['name']' is required."))
                })?;
                text(
                    name,
                    "formatted_name",
                    &format!("contacts[{i}]['name']['formatted_name']"),
                    true,
                    1000,
                )?;
            }
        }
        "reaction" => {
            let r = object(body, "reaction", "reaction")?;
            text(r, "message_id", "reaction['message_id']", true, 512)?;
            text(r, "emoji", "reaction['emoji']", false, 16)?;
        }
        "interactive" => interactive(body)?,
        "template" => template = Some(template_ref(body)?),
        _ => {}
    }
    Ok(SendRequest {
        target,
        kind,
        template,
        callback_data,
        body: body.clone(),
    })
}

fn media(body: &Value, kind: &str) -> Checked<()> {
    let m = object(body, kind, kind)?;
    let id = text(m, "id", &format!("{kind}['id']"), false, 64)?;
    let link = text(m, "link", &format!("{kind}['link']"), false, 2048)?;
    match (id, link) {
        (Some(_), Some(_)) => {
            return Err(GraphFailure::invalid_parameter(format!(
                "Param {kind} must have either 'id' or 'link', not both."
            )));
        }
        (None, None) => {
            return Err(GraphFailure::missing(format!(
                "Parameter '{kind}['id']' or '{kind}['link']' is required."
            )));
        }
        (Some(id), None) if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(GraphFailure::bad_value(format!(
                "Param {kind}['id'] must be a media id (digits), got \"{id}\"."
            )));
        }
        (None, Some(link)) if !is_http_url(link) => {
            return Err(GraphFailure::bad_value(format!(
                "Param {kind}['link'] must be an http(s) URL."
            )));
        }
        _ => {}
    }
    match kind {
        "image" | "video" | "document" => {
            text(m, "caption", &format!("{kind}['caption']"), false, 1024)?;
        }
        _ if m.contains_key("caption") => {
            return Err(GraphFailure::bad_value(format!(
                "Param caption is not supported for {kind} messages."
            )));
        }
        _ => {}
    }
    if kind == "document" {
        text(m, "filename", "document['filename']", false, 240)?;
    } else if m.contains_key("filename") {
        return Err(GraphFailure::bad_value(format!(
            "Param filename is only supported for documents, not {kind}."
        )));
    }
    Ok(())
}

const INTERACTIVE_TYPES: [&str; 12] = [
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "catalog_message",
    "location_request_message",
    "address_message",
    "carousel",
    "call_permission_request",
    "voice_call",
];

fn interactive(body: &Value) -> Checked<()> {
    let i = object(body, "interactive", "interactive")?;
    let kind = text(i, "type", "interactive['type']", true, 64)?.unwrap_or_default();
    if !INTERACTIVE_TYPES.contains(&kind) {
        return Err(GraphFailure::parameter(format!(
            "Param interactive['type'] must be one of {{BUTTON, LIST, CTA_URL, FLOW, PRODUCT, PRODUCT_LIST, CATALOG_MESSAGE, LOCATION_REQUEST_MESSAGE, ADDRESS_MESSAGE, CAROUSEL, CALL_PERMISSION_REQUEST, VOICE_CALL}} - got \"{kind}\"."
        )));
    }
    let iv = Value::Object(i.clone());
    let body_required = matches!(
        kind,
        "button"
            | "list"
            | "cta_url"
            | "flow"
            | "product_list"
            | "catalog_message"
            | "location_request_message"
            | "carousel"
    );
    if body_required || i.contains_key("body") {
        let b = object(&iv, "body", "interactive['body']")?;
        text(b, "text", "interactive['body']['text']", true, 1024)?;
    }
    if i.contains_key("footer") {
        let f = object(&iv, "footer", "interactive['footer']")?;
        text(f, "text", "interactive['footer']['text']", true, 60)?;
    }
    if i.contains_key("header") {
        let h = object(&iv, "header", "interactive['header']")?;
        let htype = text(h, "type", "interactive['header']['type']", true, 16)?.unwrap_or_default();
        match htype {
            "text" => {
                text(h, "text", "interactive['header']['text']", true, 60)?;
            }
            "image" | "video" | "document" if kind != "list" => {}
            _ => {
                return Err(GraphFailure::bad_value(format!(
                    "Header type \"{htype}\" is not allowed for {kind} messages."
                )));
            }
        }
    }
    let action = object(&iv, "action", "interactive['action']")?;
    match kind {
        "button" => {
            let buttons = action
                .get("buttons")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    GraphFailure::missing(
                        "Parameter 'interactive['action']['buttons']' is required.",
                    )
                })?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(GraphFailure::bad_value(format!(
                    "Param interactive['action']['buttons'] must have 1 to 3 buttons (got {}).",
                    buttons.len()
                )));
            }
            let mut ids = Vec::new();
            let mut titles = Vec::new();
            for (n, b) in buttons.iter().enumerate() {
                if b.get("type").and_then(Value::as_str) != Some("reply") {
                    return Err(GraphFailure::bad_value(format!(
                        "Param interactive['action']['buttons'][{n}]['type'] must be \"reply\"."
                    )));
                }
                let reply = object(
                    b,
                    "reply",
                    &format!("interactive['action']['buttons'][{n}]['reply']"),
                )?;
                let id = text(
                    reply,
                    "id",
                    &format!("interactive['action']['buttons'][{n}]['reply']['id']"),
                    true,
                    256,
                )?
                .unwrap_or_default();
                let title = text(
                    reply,
                    "title",
                    &format!("interactive['action']['buttons'][{n}]['reply']['title']"),
                    true,
                    20,
                )?
                .unwrap_or_default();
                if ids.contains(&id) || titles.contains(&title) {
                    return Err(GraphFailure::bad_value(
                        "Button ids and titles must be unique.",
                    ));
                }
                ids.push(id);
                titles.push(title);
            }
        }
        "list" => {
            text(
                action,
                "button",
                "interactive['action']['button']",
                true,
                20,
            )?;
            let sections = action
                .get("sections")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    GraphFailure::missing(
                        "Parameter 'interactive['action']['sections']' is required.",
                    )
                })?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(GraphFailure::bad_value(
                    "A list message must have 1 to 10 sections.",
                ));
            }
            let mut ids = Vec::new();
            for (s, section) in sections.iter().enumerate() {
                let sm = section.as_object().ok_or_else(|| {
                    GraphFailure::invalid_parameter(format!(
                        "Param interactive['action']['sections'][{s}] must be a JSON object."
                    ))
                })?;
                text(
                    sm,
                    "title",
                    &format!("interactive['action']['sections'][{s}]['title']"),
                    sections.len() > 1,
                    24,
                )?;
                let rows = sm
                    .get("rows")
                    .and_then(Value::as_array)
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| GraphFailure::missing(format!("Parameter 'interactive['action']['sections'][{s}]['rows']' is required.")))?;
                for (r, row) in rows.iter().enumerate() {
                    let rm = row.as_object().ok_or_else(|| {
                        GraphFailure::invalid_parameter(format!(
                            "Row {r} of section {s} must be a JSON object."
                        ))
                    })?;
                    let path = format!("interactive['action']['sections'][{s}]['rows'][{r}]");
                    let id =
                        text(rm, "id", &format!("{path}['id']"), true, 200)?.unwrap_or_default();
                    text(rm, "title", &format!("{path}['title']"), true, 24)?;
                    text(
                        rm,
                        "description",
                        &format!("{path}['description']"),
                        false,
                        72,
                    )?;
                    if ids.contains(&id) {
                        return Err(GraphFailure::bad_value(
                            "Row ids must be unique across all sections.",
                        ));
                    }
                    ids.push(id);
                }
            }
            if ids.len() > 10 {
                return Err(GraphFailure::bad_value(format!(
                    "A list message may have at most 10 rows in total (got {}).",
                    ids.len()
                )));
            }
        }
        "cta_url" => {
            if action.get("name").and_then(Value::as_str) != Some("cta_url") {
                return Err(GraphFailure::bad_value(
                    "Param interactive['action']['name'] must be \"cta_url\".",
                ));
            }
            let av = Value::Object(action.clone());
            let p = object(&av, "parameters", "interactive['action']['parameters']")?;
            text(
                p,
                "display_text",
                "interactive['action']['parameters']['display_text']",
                true,
                20,
            )?;
            let url = text(
                p,
                "url",
                "interactive['action']['parameters']['url']",
                true,
                2000,
            )?
            .unwrap_or_default();
            if !is_http_url(url) {
                return Err(GraphFailure::bad_value(
                    "Param interactive['action']['parameters']['url'] must be an http(s) URL.",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn template_ref(body: &Value) -> Checked<TemplateRef> {
    let t = object(body, "template", "template")?;
    let name = text(t, "name", "template['name']", true, 512)?
        .unwrap_or_default()
        .to_owned();
    let tv = Value::Object(t.clone());
    let lang = object(&tv, "language", "template['language']")?;
    let language = text(lang, "code", "template['language']['code']", true, 32)?
        .unwrap_or_default()
        .to_owned();
    let components = match t.get("components") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a),
        Some(_) => {
            return Err(GraphFailure::invalid_parameter(
                "Param template['components'] must be an array.",
            ));
        }
    };
    let count = |kind: &str| {
        components
            .into_iter()
            .flatten()
            .filter(|c| {
                c.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .map(|c| {
                c.get("parameters")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum()
    };
    for (n, c) in components.into_iter().flatten().enumerate() {
        let ctype = c.get("type").and_then(Value::as_str).unwrap_or_default();
        if !matches!(
            ctype.to_ascii_lowercase().as_str(),
            "header" | "body" | "button" | "carousel" | "limited_time_offer"
        ) {
            return Err(GraphFailure::bad_value(format!(
                "Param template['components'][{n}]['type'] must be header, body, button, carousel or limited_time_offer."
            )));
        }
    }
    Ok(TemplateRef {
        name,
        language,
        header_params: count("header"),
        body_params: count("body"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)]
    fn check(v: Value) -> Result<Request, i64> {
        request(v.to_string().as_bytes()).map_err(|e| e.code)
    }

    fn send_of(v: Value) -> SendRequest {
        match check(v) {
            Ok(Request::Send(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_reference_send_body_passes() {
        let dir = chasqui_testdata::reference_path(env!("CARGO_MANIFEST_DIR"), "whatsapp");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut seen = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("meta_openapi_send_send_") {
                continue;
            }
            let text = std::fs::read_to_string(e.path())
                .unwrap()
                .replace("{{Recipient-Phone-Number}}", "+16505551234");
            let mut v: Value = serde_json::from_str(&text).unwrap();
            // The official examples use placeholders where ids and links go.
            for kind in ["image", "audio", "video", "document", "sticker"] {
                if let Some(m) = v.get_mut(kind).and_then(Value::as_object_mut) {
                    if m.contains_key("id") {
                        m.insert("id".into(), json!("1234567890"));
                    }
                    if m.contains_key("link") {
                        m.insert("link".into(), json!("https://example.com/file"));
                    }
                }
            }
            if let Err(code) = check(v.clone()) {
                panic!("{name} refused with {code}: {v}");
            }
            seen += 1;
        }
        assert!(seen >= 20, "only {seen} reference bodies checked");
    }

    #[test]
    fn bodies_meta_refuses_are_refused() {
        assert_eq!(
            check(json!({"to": "1650555123", "type": "text", "text": {"body": "x"}})).unwrap_err(),
            100
        );
        assert_eq!(
            check(json!({"messaging_product": "sms", "to": "16505551234"})).unwrap_err(),
            100
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}))
                .unwrap_err(),
            100
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "hello", "text": {"body": "x"}}))
                .unwrap_err(),
            100
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "fax"}))
                .unwrap_err(),
            100
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text"}))
                .unwrap_err(),
            131008
        );
        let long = "x".repeat(4097);
        assert_eq!(check(json!({"messaging_product": "whatsapp", "to": "16505551234", "text": {"body": long}})).unwrap_err(), 131009);
        let four = json!([1, 2, 3, 4].map(
            |i| json!({"type": "reply", "reply": {"id": i.to_string(), "title": i.to_string()}})
        ));
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "interactive",
                "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": four}}}))
            .unwrap_err(),
            131009
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "image", "image": {}})).unwrap_err(),
            131008
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "audio", "audio": {"link": "https://x.test/a.ogg", "caption": "no"}}))
                .unwrap_err(),
            131009
        );
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "status": "read"})).unwrap_err(),
            131008
        );
        assert_eq!(request(b"not json").unwrap_err().code, 100);
    }

    #[test]
    fn good_bodies_are_understood() {
        let s = send_of(
            json!({"messaging_product": "whatsapp", "to": "+54 11 5555-0123", "text": {"body": "hola"}}),
        );
        assert_eq!(s.kind, "text");
        assert_eq!(
            s.target,
            Target::Phone {
                input: "+54 11 5555-0123".into(),
                wa_id: "5491155550123".into()
            }
        );
        let s = send_of(
            json!({"messaging_product": "whatsapp", "recipient": "US.13491208655302741918", "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}}),
        );
        assert_eq!(s.target.key(), "US.13491208655302741918");
        assert_eq!(s.template.unwrap().body_params, 2);
        assert_eq!(
            check(json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X", "typing_indicator": {"type": "text"}})).unwrap(),
            Request::MarkRead { message_id: "wamid.X".into(), typing: true }
        );
    }
}
