//! One HTTP exchange with a provider: the request goes out with the channel's timeout, transport
//! failures become retryable [`SendError`]s, and the answer is read whole with the headers that
//! say how long to wait.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};

use super::SenderKind;
use super::errors::{ResponseHints, SendError, parse_regain_access, parse_retry_after};

/// The most of a non-JSON answer kept in errors.
const RAW_TEXT_CHARS: usize = 2000;

/// A provider's answer, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// How long the provider asked us to wait.
    pub hints: ResponseHints,
    /// The body as JSON, when it is JSON.
    pub json: Option<Value>,
    /// The body as text (lossy), for answers that are not JSON.
    pub text: String,
}

impl Answer {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body for [`SendError::raw`] and receipts: the JSON, or `{"body": "<text>"}`.
    pub fn raw(&self) -> Value {
        match &self.json {
            Some(v) => v.clone(),
            None if self.text.is_empty() => Value::Null,
            None => json!({ "body": self.text.chars().take(RAW_TEXT_CHARS).collect::<String>() }),
        }
    }

    /// A short excerpt of a non-JSON body, to quote in sentences.
    pub fn text_excerpt(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty() && self.json.is_none()).then(|| t.chars().take(200).collect())
    }
}

/// Reads `Retry-After` and Meta's usage headers.
pub(crate) fn hints(headers: &HeaderMap) -> ResponseHints {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let regain_access_after = ["x-business-use-case-usage", "x-app-usage"]
        .into_iter()
        .filter_map(header)
        .filter_map(parse_regain_access)
        .max();
    ResponseHints {
        retry_after,
        regain_access_after,
    }
}

/// Sends `request` with `timeout` and reads the answer.
pub(crate) async fn execute(
    provider: SenderKind,
    timeout: Duration,
    request: reqwest::RequestBuilder,
) -> Result<Answer, SendError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?;
    let status = response.status().as_u16();
    let hints = hints(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, timeout, e))?;
    let json = serde_json::from_slice::<Value>(&bytes).ok();
    let text = if json.is_some() {
        String::new()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Ok(Answer {
        status,
        hints,
        json,
        text,
    })
}

/// A transport failure: timeouts and everything else that kept an answer from arriving are
/// retryable. The URL is dropped from the description (a query may hold a token).
fn transport_error(provider: SenderKind, timeout: Duration, e: reqwest::Error) -> SendError {
    if e.is_timeout() {
        return SendError::timeout(provider, timeout);
    }
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    SendError::connection(provider, &detail)
}
