//! Meta Graph API error bodies (`{"error": {…}}` from a failed call), and the bare error objects
//! found in status webhooks, read into one shape so retry rules can key on `code`/`subcode`.

use chasqui_core::message::ProviderError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{boolean, int, string};

/// A Graph API error, every field optional except that at least a code or message is present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphError {
    /// Error code (131030, 190, 100, …): what handling keys on.
    pub code: Option<i64>,
    /// `error_subcode` (463 expired token, 33 missing object, …).
    pub subcode: Option<i64>,
    /// `type` (`OAuthException`, `GraphMethodException`, …).
    pub error_type: Option<String>,
    /// `message`, e.g. `(#131030) Recipient phone number not in allowed list`.
    pub message: Option<String>,
    /// `title`, on webhook-style error objects.
    pub title: Option<String>,
    /// `error_data.details` (or `error_data` itself when it is a string).
    pub details: Option<String>,
    /// Localised title for end users.
    pub user_title: Option<String>,
    /// Localised message for end users.
    pub user_message: Option<String>,
    /// Meta's hint that retrying may work.
    pub is_transient: Option<bool>,
    /// Meta's trace id, for support requests.
    pub fbtrace_id: Option<String>,
    /// `error_data` as received (an object or a string).
    pub error_data: Option<Value>,
}

impl GraphError {
    /// The same error in the provider-neutral shape stored with messages and statuses.
    pub fn to_provider_error(&self) -> ProviderError {
        ProviderError {
            code: self.code,
            title: self.title.clone().or_else(|| self.user_title.clone()),
            message: self.message.clone(),
            details: self.details.clone(),
            href: None,
        }
    }
}

/// Why a body is not a Graph error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphErrorParseError {
    /// The body is not JSON.
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// JSON, but neither `{"error": {…}}` nor an error object with a code or message.
    #[error("body is not a Graph API error")]
    NotAnError,
}

/// Reads a Graph API error body, or a bare error object (`{"code": …, "title": …}`).
pub fn parse_graph_error(raw: &[u8]) -> Result<GraphError, GraphErrorParseError> {
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| GraphErrorParseError::Json(e.to_string()))?;
    graph_error_from_value(&v)
}

/// Reads an already-decoded Graph API error body or error object.
pub fn graph_error_from_value(v: &Value) -> Result<GraphError, GraphErrorParseError> {
    let e = match v.get("error") {
        Some(inner) if inner.is_object() => inner,
        _ if v.is_object() => v,
        _ => return Err(GraphErrorParseError::NotAnError),
    };
    let error_data = e.get("error_data").filter(|d| !d.is_null()).cloned();
    let details = match &error_data {
        Some(Value::String(s)) => Some(s.clone()),
        Some(d) => string(d, "details"),
        None => None,
    };
    let err = GraphError {
        code: int(e, "code"),
        subcode: int(e, "error_subcode"),
        error_type: string(e, "type"),
        message: string(e, "message"),
        title: string(e, "title"),
        details,
        user_title: string(e, "error_user_title"),
        user_message: string(e, "error_user_msg"),
        is_transient: boolean(e, "is_transient"),
        fbtrace_id: string(e, "fbtrace_id"),
        error_data,
    };
    if err.code.is_none() && err.message.is_none() {
        return Err(GraphErrorParseError::NotAnError);
    }
    Ok(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_errors_may_carry_error_data_as_a_string() {
        let e = parse_graph_error(
            br#"{"error":{"message":"Invalid parameter","code":100,"error_data":"bad name"}}"#,
        )
        .unwrap();
        assert_eq!(e.details.as_deref(), Some("bad name"));
        assert_eq!(e.to_provider_error().code, Some(100));
    }

    #[test]
    fn non_errors_are_refused() {
        assert_eq!(
            parse_graph_error(br#"{"messaging_product":"whatsapp"}"#),
            Err(GraphErrorParseError::NotAnError)
        );
        assert_eq!(
            parse_graph_error(b"[1]"),
            Err(GraphErrorParseError::NotAnError)
        );
        assert!(matches!(
            parse_graph_error(b"<html>"),
            Err(GraphErrorParseError::Json(_))
        ));
    }
}
