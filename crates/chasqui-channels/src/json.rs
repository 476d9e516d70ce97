//! Lenient readers over `serde_json::Value`: providers send ids and timestamps as strings or
//! numbers, and a field of an unexpected type must never fail a whole webhook.

use chasqui_core::message::ProviderError;
use serde_json::Value;

/// A string field; numbers are turned into their decimal text (ids sometimes arrive as numbers).
pub(crate) fn string(v: &Value, key: &str) -> Option<String> {
    as_string(v.get(key)?)
}

/// A value as a string: strings as they are, numbers and booleans as text, anything else `None`.
pub(crate) fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-empty string field (empty strings read as absent).
pub(crate) fn nonempty(v: &Value, key: &str) -> Option<String> {
    string(v, key).filter(|s| !s.trim().is_empty())
}

/// An integer field, from a JSON integer, a float (truncated) or a decimal string.
pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    as_int(v.get(key)?)
}

/// A value as an integer, accepting numbers and numeric strings.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            // Truncation is intended; out-of-range values read as absent.
            (f.is_finite() && f.abs() < 9.0e18).then_some(f as i64)
        }),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().ok().or_else(|| {
                let f = t.parse::<f64>().ok()?;
                (f.is_finite() && f.abs() < 9.0e18).then_some(f as i64)
            })
        }
        _ => None,
    }
}

/// A finite float field, from a number or a numeric string.
pub(crate) fn float(v: &Value, key: &str) -> Option<f64> {
    let f = match v.get(key)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then_some(f)
}

/// A boolean field, from a boolean or the strings `true`/`false` (any case).
pub(crate) fn boolean(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// An object field, if it is an object.
pub(crate) fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| x.is_object())
}

/// An array field's items, or nothing when absent or not an array.
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A Meta-style error object (`code`, `title`, `message`, `error_data.details`, `href`); also
/// accepts `details` at the top level and `error_data` as a plain string.
pub(crate) fn provider_error(v: &Value) -> ProviderError {
    let details = match v.get("error_data") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(data @ Value::Object(_)) => string(data, "details"),
        _ => None,
    }
    .or_else(|| string(v, "details"));
    ProviderError {
        code: int(v, "code"),
        title: string(v, "title"),
        message: string(v, "message"),
        details,
        href: string(v, "href"),
    }
}

/// Every item of an `errors` array as a [`ProviderError`] (non-objects skipped).
pub(crate) fn provider_errors(v: &Value, key: &str) -> Vec<ProviderError> {
    items(v, key)
        .iter()
        .filter(|e| e.is_object())
        .map(provider_error)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_timestamps_as_strings_or_numbers() {
        let v = json!({"a": "1700000000", "b": 1700000000, "c": 1.7e9, "d": " 42 ", "e": "x",
                       "f": 1e300, "g": null, "h": [1]});
        assert_eq!(int(&v, "a"), Some(1_700_000_000));
        assert_eq!(int(&v, "b"), Some(1_700_000_000));
        assert_eq!(int(&v, "c"), Some(1_700_000_000));
        assert_eq!(int(&v, "d"), Some(42));
        assert_eq!(int(&v, "e"), None);
        assert_eq!(int(&v, "f"), None);
        assert_eq!(int(&v, "g"), None);
        assert_eq!(int(&v, "h"), None);
        assert_eq!(string(&v, "b").as_deref(), Some("1700000000"));
        assert_eq!(string(&v, "h"), None);
    }

    #[test]
    fn error_details_from_any_place() {
        let a = provider_error(&json!({"code": 1, "error_data": {"details": "x"}}));
        let b = provider_error(&json!({"code": "2", "error_data": "y"}));
        let c = provider_error(&json!({"code": 3, "details": "z"}));
        assert_eq!((a.code, a.details.as_deref()), (Some(1), Some("x")));
        assert_eq!((b.code, b.details.as_deref()), (Some(2), Some("y")));
        assert_eq!((c.code, c.details.as_deref()), (Some(3), Some("z")));
    }
}
