//! A small reader over `serde_json::Value` that knows where it is, so every error names its path.
//!
//! `null` counts as absent everywhere: clients often send `"caption": null` for "no caption".

use serde_json::{Map, Value};

use super::error::{
    Result, SendErrorKind, SendValidationError, empty, missing, name, quoted_list, too_long,
    wrong_type,
};

/// `parent.key` (or `key` at the root).
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn at(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Characters as WhatsApp counts them for limits (Unicode scalar values).
pub(crate) fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A JSON object and its path.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

impl<'a> Obj<'a> {
    /// `value` as an object, or `wrong_type` on `path`.
    pub fn of(value: &'a Value, path: impl Into<String>) -> Result<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(wrong_type(&path, "an object", other)),
        }
    }

    /// The path of one of its fields.
    pub fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A required nested object.
    pub fn req_obj(&self, key: &str, what: &str) -> Result<Obj<'a>> {
        match self.get(key) {
            Some(v) => Obj::of(v, self.field(key)),
            None => Err(missing(&self.field(key), what)),
        }
    }

    /// An optional nested object.
    pub fn obj(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.get(key)
            .map(|v| Obj::of(v, self.field(key)))
            .transpose()
    }

    /// A field's value; `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether a field is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Refuses fields outside `allowed`, naming all of them and what is accepted.
    pub fn allow(&self, allowed: &[&str]) -> Result<()> {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| self.field(k))
            .collect();
        let Some(first) = unknown.first().cloned() else {
            return Ok(());
        };
        let what = if unknown.len() == 1 {
            format!("Unknown field {}", quoted_list(&unknown))
        } else {
            format!("Unknown fields {}", quoted_list(&unknown))
        };
        Err(SendValidationError::new(
            SendErrorKind::UnknownField {
                fields: unknown,
                allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
            },
            first,
            format!(
                "{what}: {} accepts only {}. Check the spelling or remove it.",
                name(&self.path),
                quoted_list(allowed)
            ),
        ))
    }

    /// An optional string.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(&self.field(key), "a string", other)),
        }
    }

    /// A required string (may be empty).
    pub fn req_str(&self, key: &str, what: &str) -> Result<&'a str> {
        self.str(key)?
            .ok_or_else(|| missing(&self.field(key), what))
    }

    /// An optional text: when present, not blank and at most `max` characters.
    pub fn text(&self, key: &str, max: usize, hint: &str) -> Result<Option<&'a str>> {
        let Some(s) = self.str(key)? else {
            return Ok(None);
        };
        let path = self.field(key);
        if s.trim().is_empty() {
            return Err(empty(&path, "write some text or leave the field out"));
        }
        let n = chars(s);
        if n > max {
            return Err(too_long(&path, max, n, hint));
        }
        Ok(Some(s))
    }

    /// A required text: not blank, at most `max` characters.
    pub fn req_text(&self, key: &str, max: usize, what: &str, hint: &str) -> Result<&'a str> {
        let Some(s) = self.str(key)? else {
            return Err(missing(&self.field(key), what));
        };
        let path = self.field(key);
        if s.trim().is_empty() {
            return Err(empty(&path, what));
        }
        let n = chars(s);
        if n > max {
            return Err(too_long(&path, max, n, hint));
        }
        Ok(s)
    }

    /// An optional boolean.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(wrong_type(
                &self.field(key),
                "a boolean (true or false)",
                other,
            )),
        }
    }

    /// An optional number; numeric strings are accepted too (Meta's spec types latitude as string).
    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(wrong_type(
                    &self.field(key),
                    "a number",
                    &Value::String(s.clone()),
                )),
            },
            Some(other) => Err(wrong_type(&self.field(key), "a number", other)),
        }
    }

    /// An optional array.
    pub fn arr(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(wrong_type(&self.field(key), "an array", other)),
        }
    }

    /// A required array.
    pub fn req_arr(&self, key: &str, what: &str) -> Result<&'a Vec<Value>> {
        self.arr(key)?
            .ok_or_else(|| missing(&self.field(key), what))
    }
}

/// A copy of `value` without `null` members, so "absent" stays absent in what we send.
pub(crate) fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Whether `url` is an absolute URL with one of `schemes`, a host and no spaces or control characters.
pub(crate) fn is_url(url: &str, schemes: &[&str]) -> bool {
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '[' || c == ']')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_join() {
        assert_eq!(join("", "to"), "to");
        assert_eq!(join("text", "body"), "text.body");
        assert_eq!(
            at("interactive.action.buttons", 2),
            "interactive.action.buttons[2]"
        );
    }

    #[test]
    fn unknown_fields_are_all_named() {
        let v = json!({"body": "x", "bodyy": 1, "colour": 2});
        let o = Obj::of(&v, "text").unwrap();
        let e = o.allow(&["body", "preview_url"]).unwrap_err();
        assert_eq!(e.code(), "unknown_field");
        assert_eq!(e.field(), "text.bodyy");
        assert!(
            e.message().contains("`text.bodyy`, `text.colour`"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("`body`, `preview_url`"));
    }

    #[test]
    fn null_is_absent_and_types_are_checked() {
        let v = json!({"a": null, "b": 3, "c": "4.5", "d": "x"});
        let o = Obj::of(&v, "").unwrap();
        assert_eq!(o.str("a").unwrap(), None);
        assert_eq!(o.str("b").unwrap_err().code(), "wrong_type");
        assert_eq!(o.number("b").unwrap(), Some(3.0));
        assert_eq!(o.number("c").unwrap(), Some(4.5));
        assert_eq!(o.number("d").unwrap_err().field(), "d");
        assert_eq!(o.req_str("a", "x").unwrap_err().code(), "missing_field");
        assert_eq!(Obj::of(&json!([1]), "x").unwrap_err().code(), "wrong_type");
        assert_eq!(strip_nulls(&v), json!({"b": 3, "c": "4.5", "d": "x"}));
    }

    #[test]
    fn urls() {
        let https = ["https"];
        assert!(is_url("https://example.com/a.jpg", &https));
        assert!(is_url("HTTPS://cdn.example.com:8443/x?y=1#z", &https));
        assert!(!is_url("http://example.com/a.jpg", &https));
        assert!(is_url("http://example.com/a.jpg", &["http", "https"]));
        assert!(!is_url("https://", &https));
        assert!(!is_url("https:///path", &https));
        assert!(!is_url("https://exa mple.com", &https));
        assert!(!is_url("example.com/a.jpg", &https));
        assert!(!is_url("ftp://example.com", &https));
        assert!(!is_url("https://<bad>/x", &https));
    }
}
