//! Failures the sandbox answers with, in Meta's shapes, and when it injects them.
//!
//! Two kinds, as on the real Cloud API (`cloud-api.md` §3.3–§4):
//! - **synchronous**: the send call itself fails with a Graph error
//!   (`{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}`);
//! - **asynchronous**: the call succeeds with a `wamid` and a `failed` status webhook carrying
//!   the error follows (131026 undeliverable, 131047 window closed…).
//!
//! Injection, by recipient number (last four digits) or by the channel's `settings.sandbox`:
//!
//! | trigger | effect |
//! |---|---|
//! | `settings.sandbox.token_expired: true` or a number ending `0190` | HTTP 401, code 190 / 463 |
//! | `settings.sandbox.fail_next_n_with_timeout: N` | the next N calls hang past the client timeout |
//! | `settings.sandbox.fail_next_n_with_500: N` | the next N calls answer HTTP 500 (code 1, transient) |
//! | `settings.sandbox.fail_with: CODE` | every send fails with CODE (sync or async, as Meta does) |
//! | number ending `0408` | the first call to it hangs past the client timeout |
//! | number ending `0500` | the first `settings.sandbox.http_500_count` (3) calls to it answer HTTP 500 |
//! | number ending `0429` | the first call to it answers 130429 (throughput) |
//! | number ending `6056` | the first call to it answers 131056 (pair rate) |
//! | number ending `0001` | accepted, then a `failed` webhook with 131026 (undeliverable) |
//!
//! "Next N" counters re-arm whenever the channel changes (each `PATCH /v1/channels/{id}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::numbers::fbtrace_id;

/// A synchronous Graph error, ready to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphFailure {
    /// The HTTP status.
    pub status: StatusCode,
    /// Meta's code.
    pub code: i64,
    /// Meta's subcode.
    pub subcode: Option<i64>,
    /// `error.message`.
    pub message: String,
    /// `error.type`.
    pub kind: &'static str,
    /// `error.error_data.details`.
    pub details: Option<String>,
    /// `error.is_transient`.
    pub transient: bool,
}

impl GraphFailure {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            subcode: None,
            message: message.into(),
            kind: "OAuthException",
            details: None,
            transient: false,
        }
    }

    fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// The JSON body Meta answers with.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(s) = self.subcode {
            error["error_subcode"] = json!(s);
        }
        if let Some(d) = &self.details {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": d });
        }
        if self.transient {
            error["is_transient"] = json!(true);
        }
        json!({ "error": error })
    }

    /// (#100) for a body Meta cannot use.
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter").details(details)
    }

    /// (#100) with Meta's own sentence in `message` (`The parameter to is required.`).
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            format!("(#100) {}", message.into()),
        )
    }

    /// (#131008) a required field is missing.
    pub fn missing(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            131008,
            "(#131008) Required parameter is missing",
        )
        .details(details)
    }

    /// (#131009) a field's value is not allowed.
    pub fn bad_value(details: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            131009,
            "(#131009) Parameter value is not valid",
        )
        .details(details)
    }

    /// 190 / 463: the token is wrong or expired (HTTP 401).
    pub fn token(expired: bool) -> Self {
        let message = if expired {
            "Error validating access token: Session has expired. The sandbox was told to expire this channel's token (settings.sandbox.token_expired, or a recipient ending in 0190)."
        } else {
            "Error validating access token: The session is invalid or has expired. Use the channel's access_token as the Bearer token."
        };
        Self {
            subcode: Some(463),
            ..Self::new(StatusCode::UNAUTHORIZED, 190, message)
        }
    }

    /// 100 / 33: no such object (an unknown phone number id, WABA id or media id).
    pub fn unknown_object(method: &str, id: &str) -> Self {
        Self {
            subcode: Some(33),
            kind: "GraphMethodException",
            ..Self::new(
                StatusCode::BAD_REQUEST,
                100,
                format!(
                    "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
                ),
            )
        }
    }

    /// An API version the Graph API does not know (`/v1/…`, `/latest/…`).
    pub fn unknown_path(path: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            format!("Unknown path components: {path}"),
        )
    }

    /// A call that was left hanging; whoever is still waiting gets this.
    pub fn hung() -> Self {
        Self {
            transient: true,
            ..Self::new(StatusCode::GATEWAY_TIMEOUT, 131016, "(#131016) Service unavailable")
        }
        .details("The sandbox held this call past the client's timeout on purpose (a recipient ending in 0408, or settings.sandbox.fail_next_n_with_timeout).")
    }

    /// HTTP 500, code 1, transient: Meta having a bad moment.
    pub fn internal() -> Self {
        Self {
            transient: true,
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                1,
                "An unknown error occurred (injected by the sandbox)",
            )
        }
    }

    /// The synchronous error for an injected code.
    pub fn for_code(code: i64) -> Self {
        let s = StatusCode::BAD_REQUEST;
        match code {
            190 => Self::token(true),
            1 => Self::internal(),
            2 => Self {
                transient: true,
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, 2, "Service temporarily unavailable")
            },
            4 => Self::new(s, 4, "(#4) Application request limit reached"),
            80007 => Self::new(s, 80007, "(#80007) Rate limit issues")
                .details("There have been too many calls to this WhatsApp Business account. Wait a bit and try again."),
            130429 => Self::new(s, 130429, "(#130429) Rate limit hit")
                .details("Cloud API message throughput has been reached."),
            131056 => Self::new(s, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit").details(
                "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
            ),
            131000 => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 131000, "(#131000) Something went wrong")
                .details("Message failed to send due to an unknown error."),
            131016 => Self::new(StatusCode::SERVICE_UNAVAILABLE, 131016, "(#131016) Service unavailable")
                .details("A service is temporarily unavailable."),
            131021 => Self::new(s, 131021, "(#131021) Recipient cannot be sender")
                .details("Sender and recipient phone number is the same."),
            131030 => Self::new(s, 131030, "(#131030) Recipient phone number not in allowed list").details(
                "Recipient phone number not in allowed list: Add recipient phone number to recipient list and try again.",
            ),
            131031 => Self::new(s, 131031, "(#131031) Business Account locked")
                .details("Business Account has been restricted or disabled for violating a platform policy."),
            131057 => Self::new(s, 131057, "(#131057) Business Account is in maintenance mode")
                .details("Business Account is in maintenance mode."),
            132000 => Self::new(s, 132000, "(#132000) Number of parameters does not match the expected number of params"),
            132001 => Self::new(StatusCode::NOT_FOUND, 132001, "(#132001) Template name does not exist in the translation"),
            132015 => Self::new(s, 132015, "(#132015) Template is Paused")
                .details("Template is paused due to low quality so it cannot be sent in a template message."),
            133010 => Self::new(s, 133010, "(#133010) Account not registered")
                .details("Phone number is not registered on the WhatsApp Business Platform."),
            368 => Self::new(s, 368, "(#368) Temporarily blocked for policies violations"),
            100 => Self::invalid_parameter("Injected by settings.sandbox.fail_with."),
            other => Self::new(s, other, format!("(#{other}) Error injected by the sandbox (settings.sandbox.fail_with)")),
        }
    }

    /// Adds the detail line.
    pub fn with_details(self, details: impl Into<String>) -> Self {
        self.details(details)
    }
}

impl IntoResponse for GraphFailure {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&fbtrace_id()) {
            res.headers_mut().insert("x-fb-trace-id", v);
        }
        res
    }
}

/// An error delivered in a `failed` status webhook after the send call succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncFailure {
    /// Meta's code.
    pub code: i64,
    /// Its title (also the message).
    pub title: &'static str,
    /// `error_data.details`.
    pub details: &'static str,
}

impl AsyncFailure {
    /// The failures Meta reports by webhook rather than on the call.
    pub fn for_code(code: i64) -> Option<Self> {
        let (title, details) = match code {
            131026 => ("Message undeliverable", "Message Undeliverable."),
            131047 => (
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
            131049 => (
                "This message was not delivered to maintain healthy ecosystem engagement.",
                "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
            ),
            131050 => (
                "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
                "The recipient has stopped marketing messages from this business.",
            ),
            130472 => (
                "User's number is part of an experiment",
                "Failed to send message because this user's phone number is part of an experiment.",
            ),
            131053 => (
                "Media upload error",
                "Downloading media from weblink failed with http code 404, status message Not Found",
            ),
            _ => return None,
        };
        Some(Self {
            code,
            title,
            details,
        })
    }

    /// The `errors[]` item of the status.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": { "details": self.details },
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        })
    }
}

/// What an injected failure does to one send call.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    /// Answer with this Graph error.
    Sync(GraphFailure),
    /// Hang longer than the client waits.
    Hang,
    /// Accept, then report this failure by webhook.
    Async(AsyncFailure),
}

/// The recipient patterns, by the last four digits of the `wa_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `…0001`: undeliverable (131026) by webhook.
    Undeliverable,
    /// `…0190`: token expired.
    TokenExpired,
    /// `…0408`: the first call hangs.
    Hang,
    /// `…0429`: 130429 once.
    Throughput,
    /// `…0500`: HTTP 500 for the first N calls.
    ServerError,
    /// `…6056`: 131056 once.
    PairRate,
}

impl Pattern {
    /// The pattern a recipient falls under, if any.
    pub fn of(wa_id: &str) -> Option<Self> {
        let tail = wa_id.get(wa_id.len().saturating_sub(4)..)?;
        Some(match tail {
            "0001" => Self::Undeliverable,
            "0190" => Self::TokenExpired,
            "0408" => Self::Hang,
            "0429" => Self::Throughput,
            "0500" => Self::ServerError,
            "6056" => Self::PairRate,
            _ => return None,
        })
    }

    /// A stable name, for the per-recipient call counters.
    pub fn name(self) -> &'static str {
        match self {
            Self::Undeliverable => "0001",
            Self::TokenExpired => "0190",
            Self::Hang => "0408",
            Self::Throughput => "0429",
            Self::ServerError => "0500",
            Self::PairRate => "6056",
        }
    }

    /// What the `n`-th call (1-based) to a recipient with this pattern does; `http_500_count` is
    /// how many calls the `…0500` pattern fails.
    pub fn effect(self, n: u32, http_500_count: u32) -> Option<Injected> {
        match self {
            Self::Undeliverable => AsyncFailure::for_code(131026).map(Injected::Async),
            Self::TokenExpired => Some(Injected::Sync(GraphFailure::token(true))),
            Self::Hang => (n == 1).then_some(Injected::Hang),
            Self::Throughput => (n == 1).then(|| Injected::Sync(GraphFailure::for_code(130429))),
            Self::ServerError => {
                (n <= http_500_count).then(|| Injected::Sync(GraphFailure::internal()))
            }
            Self::PairRate => (n == 1).then(|| Injected::Sync(GraphFailure::for_code(131056))),
        }
    }
}

/// What `settings.sandbox.fail_with: CODE` does: an async failure for the codes Meta reports by
/// webhook, a Graph error otherwise.
pub fn injected_code(code: i64) -> Injected {
    match AsyncFailure::for_code(code) {
        Some(a) => Injected::Async(a),
        None => Injected::Sync(GraphFailure::for_code(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_by_last_four_digits() {
        assert_eq!(Pattern::of("5491155550001"), Some(Pattern::Undeliverable));
        assert_eq!(Pattern::of("16505556056"), Some(Pattern::PairRate));
        assert_eq!(Pattern::of("16505551234"), None);
        assert_eq!(Pattern::of("12"), None);
        assert!(
            matches!(Pattern::Throughput.effect(1, 3), Some(Injected::Sync(f)) if f.code == 130429)
        );
        assert_eq!(Pattern::Throughput.effect(2, 3), None);
        assert!(Pattern::ServerError.effect(3, 3).is_some());
        assert!(Pattern::ServerError.effect(4, 3).is_none());
        assert_eq!(Pattern::Hang.effect(1, 3), Some(Injected::Hang));
        assert!(
            matches!(Pattern::Undeliverable.effect(9, 3), Some(Injected::Async(a)) if a.code == 131026)
        );
    }

    #[test]
    fn graph_errors_have_metas_shape() {
        let b = GraphFailure::token(false).body();
        assert_eq!(b["error"]["code"], 190);
        assert_eq!(b["error"]["error_subcode"], 463);
        assert_eq!(b["error"]["type"], "OAuthException");
        assert_eq!(b["error"]["fbtrace_id"].as_str().unwrap().len(), 23);
        let b = GraphFailure::invalid_parameter("x").body();
        assert_eq!(b["error"]["message"], "(#100) Invalid parameter");
        assert_eq!(b["error"]["error_data"]["details"], "x");
        assert_eq!(
            GraphFailure::internal().status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert!(matches!(injected_code(131047), Injected::Async(_)));
        assert!(matches!(injected_code(368), Injected::Sync(f) if f.code == 368));
        assert!(
            AsyncFailure::for_code(131047).unwrap().to_json()["error_data"]["details"]
                .as_str()
                .unwrap()
                .len()
                > 10
        );
    }
}
