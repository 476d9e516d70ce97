//! Interactive messages: reply buttons, lists, CTA URL, location request, flows, products.
//! Limits from `cloud-api.md` §3.1 and Meta's OpenAPI schemas.

use std::collections::HashSet;

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::error::{
    Result, SendErrorKind, SendValidationError, duplicate, empty, invalid_value, missing, name,
    not_allowed, shorten, too_few, too_long, too_many, wrong_type,
};
use super::json::{Obj, at, chars, is_url, strip_nulls};
use super::media::{MediaSource, parse_source};

/// Longest interactive body.
pub const MAX_BODY_CHARS: usize = 1024;
/// Longest header or footer text.
pub const MAX_HEADER_FOOTER_CHARS: usize = 60;
/// Most reply buttons.
pub const MAX_REPLY_BUTTONS: usize = 3;
/// Longest reply-button title.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Longest reply-button id.
pub const MAX_BUTTON_ID_CHARS: usize = 256;
/// Longest list button label.
pub const MAX_LIST_BUTTON_CHARS: usize = 20;
/// Most list sections.
pub const MAX_SECTIONS: usize = 10;
/// Most rows across all sections of a list.
pub const MAX_LIST_ROWS: usize = 10;
/// Longest row (and section) title.
pub const MAX_ROW_TITLE_CHARS: usize = 24;
/// Longest row description.
pub const MAX_ROW_DESCRIPTION_CHARS: usize = 72;
/// Longest row id.
pub const MAX_ROW_ID_CHARS: usize = 200;
/// Most products across the sections of a product list.
pub const MAX_PRODUCT_ITEMS: usize = 30;

/// The interactive message types we send.
pub const INTERACTIVE_TYPES: &[&str] = &[
    "button",
    "list",
    "cta_url",
    "location_request_message",
    "flow",
    "product",
    "product_list",
    "catalog_message",
];

/// What an interactive message yields for the send: its type, the content, and its texts.
pub(crate) struct Interactive {
    pub kind: &'static str,
    pub content: Value,
    pub body: Option<String>,
    pub texts: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderRule {
    None,
    TextOnly,
    TextOrMedia,
    RequiredText,
}

pub(crate) fn interactive(obj: &Obj<'_>) -> Result<Interactive> {
    obj.allow(&["type", "header", "body", "footer", "action"])?;
    let type_path = obj.field("type");
    let given = obj.req_str("type", "the interactive type: `button`, `list`, `cta_url`…")?;
    let Some(kind) = INTERACTIVE_TYPES.iter().copied().find(|t| *t == given) else {
        return Err(invalid_value(&type_path, given, INTERACTIVE_TYPES));
    };
    let (header_rule, body_required, footer_allowed) = match kind {
        "button" | "cta_url" => (HeaderRule::TextOrMedia, true, true),
        "list" | "flow" => (HeaderRule::TextOnly, true, true),
        "product_list" => (HeaderRule::RequiredText, true, true),
        "product" => (HeaderRule::None, false, true),
        "catalog_message" => (HeaderRule::None, true, true),
        _ => (HeaderRule::None, true, false),
    };
    let mut texts = Vec::new();
    header(obj, header_rule, kind, &mut texts)?;
    let body = match obj.obj("body")? {
        Some(b) => {
            b.allow(&["text"])?;
            let t = b.req_text("text", MAX_BODY_CHARS, "the message text", "")?;
            texts.push(t.to_owned());
            Some(t.to_owned())
        }
        None if body_required => {
            return Err(missing(
                &obj.field("body"),
                "an object {\"text\": \"…\"} with the message text",
            ));
        }
        None => None,
    };
    if let Some(f) = obj.obj("footer")? {
        if !footer_allowed {
            return Err(not_allowed(
                &obj.field("footer"),
                &format!("`{kind}` messages have no footer"),
            ));
        }
        f.allow(&["text"])?;
        let t = f.req_text("text", MAX_HEADER_FOOTER_CHARS, "the footer text", "")?;
        texts.push(t.to_owned());
    }
    let action = obj.req_obj(
        "action",
        "what the customer can do (buttons, list sections…)",
    )?;
    match kind {
        "button" => reply_buttons(&action, &mut texts)?,
        "list" => list(&action, &mut texts)?,
        "cta_url" => cta_url(&action, &mut texts)?,
        "location_request_message" => {
            action.allow(&["name"])?;
            named_action(&action, "send_location")?;
        }
        "flow" => flow(&action, &mut texts)?,
        "product" => {
            action.allow(&["catalog_id", "product_retailer_id"])?;
            action.req_text(
                "catalog_id",
                128,
                "the id of the catalog linked to the WhatsApp account",
                "",
            )?;
            action.req_text(
                "product_retailer_id",
                256,
                "the product's id in the catalog",
                "",
            )?;
        }
        "product_list" => product_list(&action)?,
        _ => {
            action.allow(&["name", "parameters"])?;
            named_action(&action, "catalog_message")?;
            if let Some(p) = action.obj("parameters")? {
                p.allow(&["thumbnail_product_retailer_id"])?;
                p.text("thumbnail_product_retailer_id", 256, "")?;
            }
        }
    }
    Ok(Interactive {
        kind,
        content: strip_nulls(&Value::Object(obj.map.clone())),
        body,
        texts,
    })
}

fn header(obj: &Obj<'_>, rule: HeaderRule, kind: &str, texts: &mut Vec<String>) -> Result<()> {
    let path = obj.field("header");
    let Some(h) = obj.obj("header")? else {
        if rule == HeaderRule::RequiredText {
            return Err(missing(
                &path,
                &format!(
                    "`{kind}` messages need a text header: {{\"type\": \"text\", \"text\": \"…\"}}"
                ),
            ));
        }
        return Ok(());
    };
    if rule == HeaderRule::None {
        return Err(not_allowed(
            &path,
            &format!("`{kind}` messages have no header"),
        ));
    }
    let media_ok = rule == HeaderRule::TextOrMedia;
    let allowed: &[&str] = if media_ok {
        &["text", "image", "video", "document"]
    } else {
        &["text"]
    };
    let t = h.req_str("type", "the header type, e.g. `text`")?;
    if !allowed.contains(&t) {
        return Err(
            invalid_value(&h.field("type"), t, allowed).with_hint(if media_ok {
                ""
            } else {
                "This message type takes a text header only."
            }),
        );
    }
    let mut keys = vec!["type", t];
    if t == "text" {
        keys.push("sub_text");
    }
    h.allow(&keys)?;
    if t == "text" {
        let text = h.req_text("text", MAX_HEADER_FOOTER_CHARS, "the header text", "")?;
        h.text("sub_text", MAX_HEADER_FOOTER_CHARS, "")?;
        texts.push(text.to_owned());
        return Ok(());
    }
    let media = h.req_obj(t, "{\"link\": \"https://…\"}")?;
    if t == "document" {
        media.allow(&["link", "id", "filename"])?;
        media.text("filename", 255, "")?;
    } else {
        media.allow(&["link", "id"])?;
    }
    if let MediaSource::Id(_) = parse_source(&media, t)? {
        return Err(SendValidationError::new(
            SendErrorKind::MediaLinkRequired,
            media.field("id"),
            format!(
                "{} is a media id, but interactive headers take media by `link` only: give the \
                 https URL of the {t}.",
                name(&media.field("id"))
            ),
        ));
    }
    Ok(())
}

fn named_action(action: &Obj<'_>, expected: &str) -> Result<()> {
    let n = action.req_str("name", &format!("`{expected}`"))?;
    if n != expected {
        return Err(invalid_value(&action.field("name"), n, &[expected]));
    }
    Ok(())
}

fn reply_buttons(action: &Obj<'_>, texts: &mut Vec<String>) -> Result<()> {
    action.allow(&["buttons"])?;
    let path = action.field("buttons");
    let buttons = action.req_arr("buttons", "1 to 3 reply buttons")?;
    if buttons.is_empty() {
        return Err(too_few(&path, 1, 0, "buttons"));
    }
    if buttons.len() > MAX_REPLY_BUTTONS {
        return Err(too_many(&path, MAX_REPLY_BUTTONS, buttons.len(), "buttons")
            .with_hint("Use a list message (`\"type\": \"list\"`) for up to 10 options."));
    }
    let mut ids = HashSet::new();
    let mut titles = HashSet::new();
    for (i, b) in buttons.iter().enumerate() {
        let b = Obj::of(b, at(&path, i))?;
        b.allow(&["type", "reply"])?;
        let t = b.req_str("type", "`reply`")?;
        if t != "reply" {
            return Err(invalid_value(&b.field("type"), t, &["reply"]));
        }
        let reply = b.req_obj("reply", "{\"id\": \"…\", \"title\": \"…\"}")?;
        reply.allow(&["id", "title"])?;
        let id = id_field(
            &reply,
            MAX_BUTTON_ID_CHARS,
            "the id your app receives when the button is tapped",
        )?;
        let title = reply.req_text(
            "title",
            MAX_BUTTON_TITLE_CHARS,
            "the button's label",
            "Use a shorter label.",
        )?;
        if !ids.insert(id) {
            return Err(duplicate(&reply.field("id"), "button id", id));
        }
        if !titles.insert(title.trim().to_lowercase()) {
            return Err(duplicate(&reply.field("title"), "button title", title));
        }
        texts.push(title.to_owned());
    }
    Ok(())
}

/// A required id: not empty, no surrounding spaces, at most `max` characters.
fn id_field<'a>(obj: &Obj<'a>, max: usize, what: &str) -> Result<&'a str> {
    let path = obj.field("id");
    let id = obj.req_str("id", what)?;
    if id.is_empty() {
        return Err(empty(&path, what));
    }
    if id.trim() != id {
        return Err(super::error::invalid_format(
            &path,
            format!(
                "{} has spaces at its start or end; remove them.",
                name(&path)
            ),
        ));
    }
    let n = chars(id);
    if n > max {
        return Err(too_long(&path, max, n, ""));
    }
    Ok(id)
}

fn list(action: &Obj<'_>, texts: &mut Vec<String>) -> Result<()> {
    action.allow(&["button", "sections"])?;
    let label = action.req_text(
        "button",
        MAX_LIST_BUTTON_CHARS,
        "the label of the button that opens the list",
        "Use a shorter label.",
    )?;
    texts.push(label.to_owned());
    let path = action.field("sections");
    let sections = action.req_arr("sections", "1 to 10 sections with rows")?;
    if sections.is_empty() {
        return Err(too_few(&path, 1, 0, "sections"));
    }
    if sections.len() > MAX_SECTIONS {
        return Err(too_many(&path, MAX_SECTIONS, sections.len(), "sections"));
    }
    let mut ids = HashSet::new();
    let mut total = 0usize;
    for (i, s) in sections.iter().enumerate() {
        let s = Obj::of(s, at(&path, i))?;
        s.allow(&["title", "rows"])?;
        section_title(&s, sections.len(), texts)?;
        let rows_path = s.field("rows");
        let rows = s.req_arr("rows", "the options of this section")?;
        if rows.is_empty() {
            return Err(too_few(&rows_path, 1, 0, "rows"));
        }
        total += rows.len();
        if total > MAX_LIST_ROWS {
            return Err(too_many(
                &rows_path,
                MAX_LIST_ROWS,
                total,
                "rows counting earlier sections",
            )
            .with_hint("A list holds at most 10 rows across all its sections."));
        }
        for (j, r) in rows.iter().enumerate() {
            let r = Obj::of(r, at(&rows_path, j))?;
            r.allow(&["id", "title", "description"])?;
            let id = id_field(
                &r,
                MAX_ROW_ID_CHARS,
                "the id your app receives when the row is chosen",
            )?;
            if !ids.insert(id) {
                return Err(duplicate(&r.field("id"), "row id", id));
            }
            let title = r.req_text(
                "title",
                MAX_ROW_TITLE_CHARS,
                "the row's title",
                "Use a shorter title.",
            )?;
            texts.push(title.to_owned());
            if let Some(d) = r.text("description", MAX_ROW_DESCRIPTION_CHARS, "")? {
                texts.push(d.to_owned());
            }
        }
    }
    Ok(())
}

fn section_title(s: &Obj<'_>, sections: usize, texts: &mut Vec<String>) -> Result<()> {
    match s.text("title", MAX_ROW_TITLE_CHARS, "")? {
        Some(t) => texts.push(t.to_owned()),
        None if sections > 1 => {
            return Err(missing(
                &s.field("title"),
                "every section needs a title when there is more than one",
            ));
        }
        None => {}
    }
    Ok(())
}

fn cta_url(action: &Obj<'_>, texts: &mut Vec<String>) -> Result<()> {
    action.allow(&["name", "parameters"])?;
    named_action(action, "cta_url")?;
    let p = action.req_obj(
        "parameters",
        "{\"display_text\": \"…\", \"url\": \"https://…\"}",
    )?;
    p.allow(&["display_text", "url"])?;
    let label = p.req_text(
        "display_text",
        MAX_BUTTON_TITLE_CHARS,
        "the button's label",
        "Use a shorter label.",
    )?;
    texts.push(label.to_owned());
    let url_path = p.field("url");
    let url = p.req_str("url", "the address the button opens")?;
    if !is_url(url.trim(), &["https", "http"]) {
        return Err(SendValidationError::new(
            SendErrorKind::InvalidUrl,
            url_path.clone(),
            format!(
                "{} (`{}`) must be an absolute http(s):// URL.",
                name(&url_path),
                shorten(url, 80)
            ),
        ));
    }
    Ok(())
}

fn flow(action: &Obj<'_>, texts: &mut Vec<String>) -> Result<()> {
    action.allow(&["name", "parameters"])?;
    named_action(action, "flow")?;
    let p = action.req_obj(
        "parameters",
        "the flow's parameters (`flow_id`, `flow_cta`…)",
    )?;
    p.allow(&[
        "flow_message_version",
        "flow_token",
        "flow_id",
        "flow_name",
        "flow_cta",
        "flow_action",
        "flow_action_payload",
        "mode",
    ])?;
    let version = p.req_str("flow_message_version", "`\"3\"`")?;
    if version != "3" {
        return Err(invalid_value(
            &p.field("flow_message_version"),
            version,
            &["3"],
        ));
    }
    match (p.str("flow_id")?, p.str("flow_name")?) {
        (Some(_), Some(_)) => {
            return Err(super::error::conflict(
                &[p.field("flow_id"), p.field("flow_name")],
                format!(
                    "{} has both `flow_id` and `flow_name`: give one.",
                    name(&p.path)
                ),
            ));
        }
        (None, None) => {
            return Err(missing(
                &p.field("flow_id"),
                "the flow's id (or its `flow_name`)",
            ));
        }
        (Some(_), None) => {
            p.req_text("flow_id", 128, "the flow's id", "")?;
        }
        (None, Some(_)) => {
            p.req_text("flow_name", 512, "the flow's name", "")?;
        }
    }
    let cta = p.req_text(
        "flow_cta",
        30,
        "the label of the button that opens the flow",
        "",
    )?;
    texts.push(cta.to_owned());
    p.str("flow_token")?;
    if let Some(mode) = p.str("mode")?
        && !matches!(mode, "draft" | "published")
    {
        return Err(invalid_value(
            &p.field("mode"),
            mode,
            &["draft", "published"],
        ));
    }
    let flow_action = p.str("flow_action")?.unwrap_or("navigate");
    if !matches!(flow_action, "navigate" | "data_exchange") {
        return Err(invalid_value(
            &p.field("flow_action"),
            flow_action,
            &["navigate", "data_exchange"],
        ));
    }
    if let Some(payload) = p.obj("flow_action_payload")? {
        payload.allow(&["screen", "data"])?;
        payload.str("screen")?;
        if let Some(data) = payload.get("data") {
            match data {
                Value::Object(m) if !m.is_empty() => {}
                Value::Object(_) => {
                    return Err(empty(
                        &payload.field("data"),
                        "give the first screen's data, or leave `data` out",
                    ));
                }
                other => return Err(wrong_type(&payload.field("data"), "an object", other)),
            }
        }
    }
    Ok(())
}

fn product_list(action: &Obj<'_>) -> Result<()> {
    action.allow(&["catalog_id", "sections"])?;
    action.req_text(
        "catalog_id",
        128,
        "the id of the catalog linked to the WhatsApp account",
        "",
    )?;
    let path = action.field("sections");
    let sections = action.req_arr("sections", "1 to 10 sections of products")?;
    if sections.is_empty() {
        return Err(too_few(&path, 1, 0, "sections"));
    }
    if sections.len() > MAX_SECTIONS {
        return Err(too_many(&path, MAX_SECTIONS, sections.len(), "sections"));
    }
    let mut total = 0usize;
    let mut ignored = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let s = Obj::of(s, at(&path, i))?;
        s.allow(&["title", "product_items"])?;
        section_title(&s, sections.len(), &mut ignored)?;
        let items_path = s.field("product_items");
        let items = s.req_arr("product_items", "the products of this section")?;
        if items.is_empty() {
            return Err(too_few(&items_path, 1, 0, "products"));
        }
        total += items.len();
        if total > MAX_PRODUCT_ITEMS {
            return Err(too_many(
                &items_path,
                MAX_PRODUCT_ITEMS,
                total,
                "products counting earlier sections",
            ));
        }
        for (j, item) in items.iter().enumerate() {
            let item = Obj::of(item, at(&items_path, j))?;
            item.allow(&["product_retailer_id"])?;
            item.req_text(
                "product_retailer_id",
                256,
                "the product's id in the catalog",
                "",
            )?;
        }
    }
    Ok(())
}

/// The interactive content as JSON, for tests.
#[cfg(test)]
#[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
pub(crate) fn check(v: Value) -> Result<Interactive> {
    interactive(&Obj::of(&v, "interactive")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buttons(n: usize) -> Value {
        let b: Vec<Value> = (0..n)
            .map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("Opción {i}")}}))
            .collect();
        json!({"type": "button", "body": {"text": "¿Confirmás el turno?"}, "action": {"buttons": b}})
    }

    fn err(v: Value) -> (String, String) {
        let e = check(v).err().expect("should fail");
        (e.code().to_owned(), e.field().to_owned())
    }

    #[test]
    fn reply_buttons() {
        let ok = check(buttons(3)).ok().unwrap();
        assert_eq!(ok.kind, "button");
        assert_eq!(ok.body.as_deref(), Some("¿Confirmás el turno?"));
        assert!(ok.texts.contains(&"Opción 2".to_owned()));
        assert_eq!(
            err(buttons(0)),
            ("too_few".into(), "interactive.action.buttons".into())
        );
        assert_eq!(
            err(buttons(4)),
            ("too_many".into(), "interactive.action.buttons".into())
        );
        let mut v = buttons(3);
        v["action"]["buttons"][2]["reply"]["title"] = json!("Un título demasiado largo");
        assert_eq!(
            err(v),
            (
                "too_long".into(),
                "interactive.action.buttons[2].reply.title".into()
            )
        );
        let mut v = buttons(2);
        v["action"]["buttons"][1]["reply"]["id"] = json!("b0");
        assert_eq!(
            err(v),
            (
                "duplicate_value".into(),
                "interactive.action.buttons[1].reply.id".into()
            )
        );
        let mut v = buttons(2);
        v["action"]["buttons"][1]["reply"]["title"] = json!("opción 0");
        assert_eq!(err(v).0, "duplicate_value");
        let mut v = buttons(1);
        v["action"]["buttons"][0]["reply"]["id"] = json!("x".repeat(257));
        assert_eq!(err(v).0, "too_long");
        let mut v = buttons(1);
        v["action"]["buttons"][0]["reply"]["id"] = json!(" b0");
        assert_eq!(err(v).0, "invalid_format");
        let mut v = buttons(1);
        v["action"]["buttons"][0]["type"] = json!("url");
        assert_eq!(
            err(v),
            (
                "invalid_value".into(),
                "interactive.action.buttons[0].type".into()
            )
        );
        let mut v = buttons(1);
        v["body"]["text"] = json!("x".repeat(1025));
        assert_eq!(err(v), ("too_long".into(), "interactive.body.text".into()));
        let mut v = buttons(1);
        v["footer"] = json!({"text": "x".repeat(61)});
        assert_eq!(
            err(v),
            ("too_long".into(), "interactive.footer.text".into())
        );
        let mut v = buttons(1);
        v["header"] = json!({"type": "text", "text": "x".repeat(61)});
        assert_eq!(
            err(v),
            ("too_long".into(), "interactive.header.text".into())
        );
        let mut v = buttons(1);
        v["header"] = json!({"type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}});
        assert!(check(v).is_ok());
        let mut v = buttons(1);
        v["header"] = json!({"type": "image", "image": {"id": "123456"}});
        assert_eq!(
            err(v),
            (
                "media_link_required".into(),
                "interactive.header.image.id".into()
            )
        );
        let mut v = buttons(1);
        v.as_object_mut().unwrap().remove("body");
        assert_eq!(err(v), ("missing_field".into(), "interactive.body".into()));
        assert_eq!(
            err(json!({"type": "carousel", "action": {}})),
            ("invalid_value".into(), "interactive.type".into())
        );
    }

    fn list_with(rows_per_section: &[usize]) -> Value {
        let mut n = 0;
        let sections: Vec<Value> = rows_per_section
            .iter()
            .enumerate()
            .map(|(s, rows)| {
                let rows: Vec<Value> = (0..*rows)
                    .map(|_| {
                        n += 1;
                        json!({"id": format!("r{n}"), "title": format!("Fila {n}"), "description": "Detalle"})
                    })
                    .collect();
                json!({"title": format!("Sección {s}"), "rows": rows})
            })
            .collect();
        json!({"type": "list", "header": {"type": "text", "text": "Servicios"}, "body": {"text": "Elegí"},
               "action": {"button": "Ver opciones", "sections": sections}})
    }

    #[test]
    fn lists() {
        assert!(check(list_with(&[3, 7])).is_ok());
        assert_eq!(
            err(list_with(&[5, 6])),
            (
                "too_many".into(),
                "interactive.action.sections[1].rows".into()
            )
        );
        assert_eq!(err(list_with(&[1; 11])).0, "too_many");
        assert_eq!(err(list_with(&[])).0, "too_few");
        assert_eq!(
            err(list_with(&[1, 0])),
            (
                "too_few".into(),
                "interactive.action.sections[1].rows".into()
            )
        );
        let mut v = list_with(&[1, 1]);
        v["action"]["sections"][1]
            .as_object_mut()
            .unwrap()
            .remove("title");
        assert_eq!(
            err(v),
            (
                "missing_field".into(),
                "interactive.action.sections[1].title".into()
            )
        );
        let mut v = list_with(&[1]);
        v["action"]["sections"][0]
            .as_object_mut()
            .unwrap()
            .remove("title");
        assert!(check(v).is_ok(), "one section needs no title");
        let mut v = list_with(&[2]);
        v["action"]["sections"][0]["rows"][1]["id"] = json!("r1");
        assert_eq!(
            err(v),
            (
                "duplicate_value".into(),
                "interactive.action.sections[0].rows[1].id".into()
            )
        );
        let mut v = list_with(&[1]);
        v["action"]["sections"][0]["rows"][0]["title"] = json!("x".repeat(25));
        assert_eq!(err(v).0, "too_long");
        let mut v = list_with(&[1]);
        v["action"]["sections"][0]["rows"][0]["description"] = json!("x".repeat(73));
        assert_eq!(
            err(v),
            (
                "too_long".into(),
                "interactive.action.sections[0].rows[0].description".into()
            )
        );
        let mut v = list_with(&[1]);
        v["action"]["sections"][0]["rows"][0]["id"] = json!("x".repeat(201));
        assert_eq!(err(v).0, "too_long");
        let mut v = list_with(&[1]);
        v["action"]["button"] = json!("Un botón con texto muy largo");
        assert_eq!(
            err(v),
            ("too_long".into(), "interactive.action.button".into())
        );
        let mut v = list_with(&[1]);
        v["header"] = json!({"type": "image", "image": {"link": "https://x.example/a.jpg"}});
        assert_eq!(
            err(v),
            ("invalid_value".into(), "interactive.header.type".into())
        );
    }

    #[test]
    fn cta_location_flow_products() {
        let cta = json!({"type": "cta_url", "body": {"text": "Mirá las fechas"},
            "action": {"name": "cta_url", "parameters": {"display_text": "Ver fechas", "url": "https://example.com/x"}}});
        assert!(check(cta.clone()).is_ok());
        let mut v = cta.clone();
        v["action"]["parameters"]["url"] = json!("example.com");
        assert_eq!(
            err(v),
            (
                "invalid_url".into(),
                "interactive.action.parameters.url".into()
            )
        );
        let mut v = cta;
        v["action"]["name"] = json!("url");
        assert_eq!(err(v).0, "invalid_value");

        let loc = json!({"type": "location_request_message", "body": {"text": "¿Dónde estás?"},
            "action": {"name": "send_location"}});
        assert!(check(loc.clone()).is_ok());
        let mut v = loc;
        v["footer"] = json!({"text": "x"});
        assert_eq!(
            err(v),
            ("field_not_allowed".into(), "interactive.footer".into())
        );

        let flow = json!({"type": "flow", "body": {"text": "Reservá"},
            "action": {"name": "flow", "parameters": {"flow_message_version": "3", "flow_id": "123",
                "flow_cta": "Reservar", "flow_token": "t", "flow_action": "navigate",
                "flow_action_payload": {"screen": "START", "data": {"a": 1}}}}});
        assert!(check(flow.clone()).is_ok());
        let mut v = flow.clone();
        v["action"]["parameters"]["flow_name"] = json!("reservas");
        assert_eq!(err(v).0, "conflicting_fields");
        let mut v = flow.clone();
        v["action"]["parameters"]["flow_message_version"] = json!("2");
        assert_eq!(err(v).0, "invalid_value");
        let mut v = flow.clone();
        v["action"]["parameters"]["flow_action_payload"]["data"] = json!({});
        assert_eq!(err(v).0, "empty_value");
        let mut v = flow;
        v["action"]["parameters"]["mode"] = json!("test");
        assert_eq!(
            err(v),
            (
                "invalid_value".into(),
                "interactive.action.parameters.mode".into()
            )
        );

        let product =
            json!({"type": "product", "action": {"catalog_id": "1", "product_retailer_id": "sku"}});
        assert!(check(product.clone()).is_ok());
        let mut v = product;
        v["header"] = json!({"type": "text", "text": "x"});
        assert_eq!(
            err(v),
            ("field_not_allowed".into(), "interactive.header".into())
        );

        let items: Vec<Value> = (0..31)
            .map(|i| json!({"product_retailer_id": format!("sku{i}")}))
            .collect();
        let pl = json!({"type": "product_list", "header": {"type": "text", "text": "Ofertas"},
            "body": {"text": "Mirá"}, "action": {"catalog_id": "1",
            "sections": [{"title": "A", "product_items": items}]}});
        assert_eq!(
            err(pl.clone()),
            (
                "too_many".into(),
                "interactive.action.sections[0].product_items".into()
            )
        );
        let mut v = pl;
        v["action"]["sections"][0]["product_items"] = json!([{"product_retailer_id": "a"}]);
        assert!(check(v.clone()).is_ok());
        v.as_object_mut().unwrap().remove("header");
        assert_eq!(
            err(v),
            ("missing_field".into(), "interactive.header".into())
        );
    }
}
