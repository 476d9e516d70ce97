//! Text, location, contacts and reaction bodies; message ids; the single-emoji check.

use std::str::FromStr;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::error::{
    Result, SendErrorKind, SendValidationError, empty, invalid_format, missing, name, shorten,
    too_few, too_many, wrong_type,
};
use super::json::{Obj, at, chars, strip_nulls};
use crate::ids::MessageId;

/// Longest text message (`cloud-api.md` §3.1).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Most contact cards in one message (Meta's OpenAPI spec: 1–5).
pub const MAX_CONTACTS: usize = 5;

/// A message referred to by a reply (`context.message_id`) or a reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRef {
    /// A WhatsApp message id (`wamid.…`), sent as is.
    Provider(String),
    /// One of our message ids (`msg_…`); the sender swaps in its provider id.
    Ours(MessageId),
}

/// Reads a message id: WhatsApp's (`wamid.…`) or ours (`msg_…`).
pub(crate) fn message_ref(path: &str, id: &str) -> Result<MessageRef> {
    let id = id.trim();
    if let Some(rest) = id.strip_prefix("wamid.")
        && (1..=512).contains(&rest.len())
        && rest.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'.')
        })
    {
        return Ok(MessageRef::Provider(id.to_owned()));
    }
    if id.starts_with(MessageId::PREFIX)
        && let Ok(ours) = MessageId::from_str(id)
    {
        return Ok(MessageRef::Ours(ours));
    }
    Err(SendValidationError::new(
        SendErrorKind::InvalidMessageId,
        path,
        format!(
            "{} (`{}`) is not a message id: use the WhatsApp id of the message (`wamid.…`, from \
             the inbound webhook or GET /v1/messages) or our id (`msg_…`).",
            name(path),
            shorten(id, 60)
        ),
    ))
}

/// Text content: `{"body", "preview_url"?}`.
pub(crate) fn text(obj: &Obj<'_>) -> Result<(Value, String)> {
    obj.allow(&["body", "preview_url"])?;
    let body = obj.req_text(
        "body",
        MAX_TEXT_CHARS,
        "the message text",
        "Split it into several messages.",
    )?;
    let preview_url = obj.bool("preview_url")?;
    let mut out = json!({ "body": body });
    if let Some(p) = preview_url {
        out["preview_url"] = json!(p);
    }
    Ok((out, body.to_owned()))
}

/// Latitude, longitude (required, in range), name and address.
pub(crate) fn location_fields(obj: &Obj<'_>) -> Result<(f64, f64, Option<String>, Option<String>)> {
    obj.allow(&["latitude", "longitude", "name", "address"])?;
    let coordinate = |key: &str, max: f64| -> Result<f64> {
        let path = obj.field(key);
        let value = obj
            .number(key)?
            .ok_or_else(|| missing(&path, &format!("the {key} in decimal degrees")))?;
        if !(-max..=max).contains(&value) {
            return Err(SendValidationError::new(
                SendErrorKind::OutOfRange,
                path.clone(),
                format!(
                    "{} is {value}; a {key} is between -{max} and {max} degrees.",
                    name(&path)
                ),
            ));
        }
        Ok(value)
    };
    let latitude = coordinate("latitude", 90.0)?;
    let longitude = coordinate("longitude", 180.0)?;
    let name = obj.text("name", 1000, "")?.map(str::to_owned);
    let address = obj.text("address", 1000, "")?.map(str::to_owned);
    Ok((latitude, longitude, name, address))
}

/// Location content, with coordinates normalised to numbers.
pub(crate) fn location(obj: &Obj<'_>) -> Result<(Value, Vec<String>)> {
    let (latitude, longitude, place, address) = location_fields(obj)?;
    let mut out = json!({ "latitude": latitude, "longitude": longitude });
    let mut texts = Vec::new();
    if let Some(n) = place {
        out["name"] = json!(n);
        texts.push(n);
    }
    if let Some(a) = address {
        out["address"] = json!(a);
        texts.push(a);
    }
    Ok((out, texts))
}

/// Contacts content: 1–5 cards, each with `name.formatted_name`.
pub(crate) fn contacts(value: &Value, path: &str) -> Result<(Value, Vec<String>)> {
    let Value::Array(cards) = value else {
        return Err(wrong_type(path, "an array of contact cards", value));
    };
    if cards.is_empty() {
        return Err(too_few(path, 1, 0, "contact cards"));
    }
    if cards.len() > MAX_CONTACTS {
        return Err(too_many(path, MAX_CONTACTS, cards.len(), "contact cards"));
    }
    let mut names = Vec::new();
    for (i, card) in cards.iter().enumerate() {
        let card = Obj::of(card, at(path, i))?;
        card.allow(&[
            "addresses",
            "birthday",
            "emails",
            "name",
            "org",
            "phones",
            "urls",
        ])?;
        let n = card.req_obj("name", "an object with at least `formatted_name`")?;
        n.allow(&[
            "formatted_name",
            "first_name",
            "last_name",
            "middle_name",
            "suffix",
            "prefix",
        ])?;
        let formatted = n.req_text(
            "formatted_name",
            1000,
            "the name as WhatsApp shows it on the card",
            "",
        )?;
        for key in ["first_name", "last_name", "middle_name", "suffix", "prefix"] {
            n.text(key, 1000, "")?;
        }
        names.push(formatted.to_owned());
        if let Some(birthday) = card.str("birthday")?
            && NaiveDate::parse_from_str(birthday, "%Y-%m-%d").is_err()
        {
            let p = card.field("birthday");
            return Err(invalid_format(
                &p,
                format!(
                    "{} must be a date written YYYY-MM-DD, e.g. 1990-08-18.",
                    name(&p)
                ),
            ));
        }
        if let Some(org) = card.obj("org")? {
            org.allow(&["company", "department", "title"])?;
            for key in ["company", "department", "title"] {
                org.text(key, 1000, "")?;
            }
        }
        each(&card, "addresses", |a| {
            a.allow(&[
                "street",
                "city",
                "state",
                "zip",
                "country",
                "country_code",
                "type",
            ])?;
            for key in [
                "street",
                "city",
                "state",
                "zip",
                "country",
                "country_code",
                "type",
            ] {
                a.str(key)?;
            }
            Ok(())
        })?;
        each(&card, "emails", |e| {
            e.allow(&["email", "type"])?;
            let email = e.req_text("email", 320, "the e-mail address", "")?;
            if !email.contains('@') || email.contains(char::is_whitespace) {
                let p = e.field("email");
                return Err(invalid_format(
                    &p,
                    format!(
                        "{} (`{}`) is not an e-mail address.",
                        name(&p),
                        shorten(email, 60)
                    ),
                ));
            }
            e.str("type")?;
            Ok(())
        })?;
        each(&card, "phones", |p| {
            p.allow(&["phone", "type", "wa_id"])?;
            p.req_text("phone", 64, "the phone number as shown on the card", "")?;
            p.str("type")?;
            if let Some(wa_id) = p.str("wa_id")?
                && crate::phone::WaId::parse(wa_id).is_err()
            {
                let f = p.field("wa_id");
                return Err(invalid_format(
                    &f,
                    format!(
                        "{} must be the WhatsApp id, digits only (e.g. 5491123456789); it makes \
                         the card's \"Message\" button appear.",
                        name(&f)
                    ),
                ));
            }
            Ok(())
        })?;
        each(&card, "urls", |u| {
            u.allow(&["url", "type"])?;
            u.req_text("url", 2048, "the address", "")?;
            u.str("type")?;
            Ok(())
        })?;
    }
    Ok((strip_nulls(value), names))
}

fn each(card: &Obj<'_>, key: &str, f: impl Fn(&Obj<'_>) -> Result<()>) -> Result<()> {
    let Some(items) = card.arr(key)? else {
        return Ok(());
    };
    let path = card.field(key);
    for (i, item) in items.iter().enumerate() {
        f(&Obj::of(item, at(&path, i))?)?;
    }
    Ok(())
}

/// Reaction content: `{"message_id", "emoji"}`; an empty emoji removes the reaction.
pub(crate) fn reaction(obj: &Obj<'_>) -> Result<(Value, MessageRef, String)> {
    obj.allow(&["message_id", "emoji"])?;
    let id_path = obj.field("message_id");
    let id = obj.req_str(
        "message_id",
        "the id of the message to react to (`wamid.…` or `msg_…`)",
    )?;
    if id.trim().is_empty() {
        return Err(empty(&id_path, "give the id of the message to react to"));
    }
    let target = message_ref(&id_path, id)?;
    let emoji = obj.req_str("emoji", "one emoji, or \"\" to remove an earlier reaction")?;
    if !emoji.is_empty() && !is_single_emoji(emoji) {
        let p = obj.field("emoji");
        return Err(SendValidationError::new(
            SendErrorKind::InvalidEmoji,
            p.clone(),
            format!(
                "{} (`{}`) must be exactly one emoji (such as 👍 or ❤️), or \"\" to remove a reaction.",
                name(&p),
                shorten(emoji, 20)
            ),
        ));
    }
    let mut out = Map::new();
    out.insert("message_id".into(), json!(id.trim()));
    out.insert("emoji".into(), json!(emoji));
    let preview = if emoji.is_empty() {
        "[reaction removed]".to_owned()
    } else {
        format!("[reaction] {emoji}")
    };
    Ok((Value::Object(out), target, preview))
}

/// Whether `s` is exactly one emoji: a pictograph with optional variation selector, skin tone
/// and tag sequence, several joined by ZWJ (👩‍💻, 👨‍👩‍👧), a flag (two regional indicators) or a
/// keycap (1️⃣).
pub fn is_single_emoji(s: &str) -> bool {
    let cs: Vec<char> = s.chars().collect();
    let n = cs.len();
    if n == 0 || n > 32 {
        return false;
    }
    if n == 2 && cs.iter().all(|c| ('\u{1F1E6}'..='\u{1F1FF}').contains(c)) {
        return true;
    }
    if matches!(cs.as_slice(), [k, '\u{FE0F}', '\u{20E3}'] | [k, '\u{20E3}'] if k.is_ascii_digit() || *k == '#' || *k == '*')
    {
        return true;
    }
    let mut i = 0;
    loop {
        if !is_pictographic(cs[i]) {
            return false;
        }
        i += 1;
        while i < n && (matches!(cs[i], '\u{FE0E}' | '\u{FE0F}') || is_skin_tone(cs[i])) {
            i += 1;
        }
        if i < n && is_tag(cs[i]) {
            while i < n && is_tag(cs[i]) {
                i += 1;
            }
            if cs[i - 1] != '\u{E007F}' {
                return false;
            }
        }
        if i == n {
            return true;
        }
        if cs[i] != '\u{200D}' || i + 1 == n {
            return false;
        }
        i += 1;
    }
}

fn is_skin_tone(c: char) -> bool {
    ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

fn is_tag(c: char) -> bool {
    ('\u{E0020}'..='\u{E007F}').contains(&c)
}

fn is_pictographic(c: char) -> bool {
    let u = c as u32;
    if is_skin_tone(c) || (0x1F1E6..=0x1F1FF).contains(&u) {
        return false;
    }
    matches!(u,
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x2194..=0x2199 | 0x21A9..=0x21AA | 0x231A..=0x231B | 0x2328 | 0x23CF
        | 0x23E9..=0x23F3 | 0x23F8..=0x23FA | 0x24C2 | 0x25AA..=0x25AB | 0x25B6 | 0x25C0
        | 0x25FB..=0x25FE | 0x2600..=0x27BF | 0x2934..=0x2935 | 0x2B05..=0x2B07
        | 0x2B1B..=0x2B1C | 0x2B50 | 0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x1F000..=0x1FAFF | 0x1FC00..=0x1FFFD)
}

/// `[label] text` for previews, or just the label.
pub(crate) fn labelled(label: &str, text: Option<&str>) -> String {
    match text.map(str::trim) {
        Some(t) if !t.is_empty() => format!("{label} {t}"),
        _ => label.to_owned(),
    }
}

/// Collapses whitespace and cuts to `max` characters with an ellipsis.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if chars(&collapsed) <= max {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji() {
        for ok in [
            "👍",
            "❤️",
            "❤",
            "😀",
            "👍🏽",
            "👩‍💻",
            "👨‍👩‍👧",
            "🇦🇷",
            "1️⃣",
            "#⃣",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "🙏🏻",
            "☕",
            "✅",
            "🫶",
        ] {
            assert!(is_single_emoji(ok), "{ok}");
        }
        for bad in [
            "",
            "ok",
            "a",
            "👍👍",
            "🇦",
            "👍 ",
            " 👍",
            "👩‍",
            "‍👩",
            "1",
            "🇦🇷🇧🇷",
            ":)",
            "👍a",
        ] {
            assert!(!is_single_emoji(bad), "{bad:?}");
        }
    }

    #[test]
    fn message_ids() {
        let id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA";
        assert_eq!(
            message_ref("x", id).unwrap(),
            MessageRef::Provider(id.into())
        );
        assert!(message_ref("x", "wamid.HBgLM...").is_ok());
        let ours = MessageId::new();
        assert_eq!(
            message_ref("x", &ours.to_string()).unwrap(),
            MessageRef::Ours(ours)
        );
        for bad in [
            "",
            "wamid.",
            "12345",
            "msg_nope",
            "wamid.a b",
            "<MSGID_OF_PREV_MSG>",
        ] {
            let e = message_ref("context.message_id", bad).unwrap_err();
            assert_eq!(e.code(), "invalid_message_id");
            assert_eq!(e.field(), "context.message_id");
        }
    }

    #[test]
    fn one_line_previews() {
        assert_eq!(one_line("a\n b\t c", 10), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(labelled("[image]", Some(" ")), "[image]");
        assert_eq!(labelled("[image]", Some("la foto")), "[image] la foto");
    }
}
