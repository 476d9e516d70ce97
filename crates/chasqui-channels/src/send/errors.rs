//! What a failed send means and what to do about it: every provider error is classified
//! ([`ErrorClass`]) and explained in a sentence a person can act on.
//!
//! The classification decides what the sender does next:
//!
//! | class | the sender… |
//! |---|---|
//! | [`ErrorClass::Retryable`] | retries with backoff (and the breaker counts it) |
//! | [`ErrorClass::RateLimited`] | retries after the provider's pause (`Retry-After`, Meta's usage headers) |
//! | [`ErrorClass::WindowClosed`] | fails the message: only a template can go out now |
//! | [`ErrorClass::AuthExpired`] | marks the channel `needs_reauth` and holds its messages |
//! | [`ErrorClass::Permanent`] | fails the message with the sentence |
//!
//! # Meta (Cloud API; also 360dialog, the sandbox, and Zaptra when it relays Meta's code)
//!
//! From `cloud-api.md` §4, plus the rate-limit codes seen in Meta's OpenAPI examples (17, 613).
//! A code not in the table falls back on Meta's `is_transient` hint, then on the HTTP status.
//!
//! | code (subcode) | class | why |
//! |---|---|---|
//! | 0 | auth expired | could not authenticate the token |
//! | 1, 2 | retryable | unknown error / service temporarily unavailable |
//! | 3 | permanent | app lacks the capability |
//! | 4, 17, 613 | rate limited | app / user call-rate limits |
//! | 10, 200–299 | auth expired | the token has no permission on this number: re-authorise |
//! | 100 (33) | permanent | object does not exist (wrong phone number id) |
//! | 100 | permanent | invalid parameter |
//! | 190 (463, 460, 467, …) | auth expired | token expired, invalidated or invalid |
//! | 368 | permanent | blocked for policy violations |
//! | 470 | window closed | On-Premises-era code for the 24-hour window |
//! | 80007 | rate limited | WABA business-use-case limit |
//! | 130429 | rate limited | number throughput exceeded |
//! | 130472, 130497 | permanent | experiment / country restriction |
//! | 131000 | retryable | something went wrong |
//! | 131005, 131008, 131009, 131021 | permanent | access denied / bad or missing parameter / to self |
//! | 131016 | retryable | service unavailable |
//! | 131026 | permanent | undeliverable |
//! | 131030 | permanent | not in the test number's allowed list |
//! | 131031, 131037, 131042, 131045 | permanent | account locked / name / payment / certificate |
//! | 131047 | window closed | more than 24 h since the customer wrote |
//! | 131048–131052 | permanent | spam limit / ecosystem / opted out / unsupported / media download |
//! | 131053 | permanent (retryable when the media host answered 429) | media upload error |
//! | 131056 | rate limited | pair rate (same recipient too often) |
//! | 131057 | retryable | account in maintenance |
//! | 131062–131064 | permanent | BSUID not allowed / marketing disabled / limit |
//! | 132000–132016 | permanent | template problems |
//! | 132068, 132069 | permanent | flow blocked / throttled |
//! | 133000–133016 | permanent | registration problems |
//! | 135000 | permanent | generic user error |
//!
//! # Twilio
//!
//! | code | class | why |
//! |---|---|---|
//! | 20003, 20005, 63001 | auth expired | credentials rejected / account not active / channel auth failed |
//! | 20429, 63018 | rate limited | too many requests / WhatsApp rate limit |
//! | 20500, 20503 | retryable | Twilio internal error / unavailable |
//! | 21211, 21212, 21408, 21610, 21614, 21617, 21620, 21654, 21656, 63003, 63007, 63024, 63032, 63049 | permanent | see each sentence |
//! | 63016 | window closed | free-form outside the 24-hour window |
//!
//! # Anything else
//!
//! By HTTP status: 401 auth expired, 408 retryable, 429 rate limited, 5xx retryable, other
//! statuses permanent. Timeouts and connection errors are retryable.

use std::fmt;
use std::time::{Duration, SystemTime};

use chasqui_core::message::ProviderError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::SenderKind;
use crate::graph_error::GraphError;

/// The longest pause a provider may ask for; longer `Retry-After` values are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What a failed send means for the message and the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A passing failure (5xx, timeout, connection error, Meta 1/2/131000/131016/131057):
    /// retry with backoff.
    Retryable,
    /// The provider asked us to slow down (429, Meta 4/80007/130429/131056): retry after its pause.
    RateLimited,
    /// Free-form message outside the 24-hour customer-service window: only a template can go out.
    WindowClosed,
    /// The credentials expired, were revoked or lost their permission (Meta 190): the channel
    /// needs re-authorisation and its messages are held, not failed.
    AuthExpired,
    /// The message itself cannot be sent as it is: fail it with the sentence.
    Permanent,
}

impl ErrorClass {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Retryable | ErrorClass::RateLimited)
    }

    /// Whether the failure says the provider is unwell (what a circuit breaker counts). Rate limits,
    /// refusals and closed windows are answers from a healthy provider.
    pub fn counts_against_breaker(self) -> bool {
        self == ErrorClass::Retryable
    }

    /// The stable name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::WindowClosed => "window_closed",
            ErrorClass::AuthExpired => "auth_expired",
            ErrorClass::Permanent => "permanent",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed provider call, classified, with a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What it means for the message and the channel.
    pub class: ErrorClass,
    /// The provider that answered (or failed to).
    pub provider: SenderKind,
    /// The provider's error code (Meta 131047, Twilio 63016, …).
    pub code: Option<i64>,
    /// Meta's `error_subcode` (463 expired token, 33 missing object, …).
    pub subcode: Option<i64>,
    /// The HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The provider's short title or message, as sent.
    pub title: Option<String>,
    /// What happened and what to do, ending with the provider's code: "The customer has not
    /// written in the last 24 hours: send an approved template instead (Meta 131047)".
    pub message: String,
    /// How long the provider asked us to wait, clamped to [`MAX_RETRY_AFTER`].
    #[serde(rename = "retry_after_ms", with = "duration_ms")]
    pub retry_after: Option<Duration>,
    /// The provider's answer (response body; never our request, which may hold a token). Boxed to
    /// keep `Result<_, SendError>` small.
    pub raw: Box<Value>,
}

impl SendError {
    /// A failure built by hand (unsupported message types, bad answers…).
    pub fn new(provider: SenderKind, class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            provider,
            code: None,
            subcode: None,
            http_status: None,
            title: None,
            message: message.into(),
            retry_after: None,
            raw: Box::new(Value::Null),
        }
    }

    /// The request did not complete within `timeout`: retryable (the provider may or may not have
    /// accepted it).
    pub fn timeout(provider: SenderKind, timeout: Duration) -> Self {
        Self::new(
            provider,
            ErrorClass::Retryable,
            format!(
                "{} did not answer within {} ms: the message will be retried",
                provider.label(),
                timeout.as_millis()
            ),
        )
    }

    /// No connection could be made (DNS, refused, TLS…): retryable.
    pub fn connection(provider: SenderKind, detail: &str) -> Self {
        Self::new(
            provider,
            ErrorClass::Retryable,
            format!(
                "Could not connect to {} ({}): the message will be retried",
                provider.label(),
                detail
            ),
        )
    }

    /// This provider cannot carry the message as it is.
    pub fn unsupported(provider: SenderKind, what: impl fmt::Display) -> Self {
        Self::new(provider, ErrorClass::Permanent, what.to_string())
    }

    /// The same error in the provider-neutral shape stored with messages and statuses.
    pub fn to_provider_error(&self) -> ProviderError {
        ProviderError {
            code: self.code,
            title: self.title.clone(),
            message: Some(self.message.clone()),
            details: None,
            href: None,
        }
    }

    /// Sets the pause the provider asked for (clamped).
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        if let Some(d) = retry_after {
            self.retry_after = Some(d.min(MAX_RETRY_AFTER));
        }
        self
    }
}

/// The headers of an answer that tell us how long to wait.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseHints {
    /// `Retry-After`, parsed and clamped.
    pub retry_after: Option<Duration>,
    /// Meta's `x-business-use-case-usage` / `x-app-usage` `estimated_time_to_regain_access`.
    pub regain_access_after: Option<Duration>,
}

impl ResponseHints {
    /// The pause to honour: `Retry-After` first, then Meta's estimate.
    pub fn pause(&self) -> Option<Duration> {
        self.retry_after.or(self.regain_access_after)
    }
}

/// Reads `Retry-After`: delta-seconds (`120`) or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`),
/// relative to `now`; clamped to [`MAX_RETRY_AFTER`]. A date in the past means "now" (zero).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = value.parse().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at: SystemTime = at.with_timezone(&chrono::Utc).into();
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Reads Meta's usage headers (`x-business-use-case-usage`: `{"<waba>": [{…,
/// "estimated_time_to_regain_access": 15}]}`; `x-app-usage`: `{…}`): the largest
/// `estimated_time_to_regain_access`, in minutes, as a clamped duration. Zero or absent: `None`.
pub fn parse_regain_access(header: &str) -> Option<Duration> {
    fn walk(v: &Value, best: &mut u64) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == "estimated_time_to_regain_access" {
                        if let Some(n) = crate::json::as_int(v).filter(|n| *n > 0) {
                            *best = (*best).max(n as u64);
                        }
                    } else {
                        walk(v, best);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, best)),
            _ => {}
        }
    }
    let v: Value = serde_json::from_str(header).ok()?;
    let mut minutes = 0;
    walk(&v, &mut minutes);
    (minutes > 0).then(|| Duration::from_secs(minutes.saturating_mul(60)).min(MAX_RETRY_AFTER))
}

/// One row of a classification table.
#[derive(Debug, Clone, Copy)]
struct Rule {
    /// Lowest code the row covers.
    from: i64,
    /// Highest code the row covers (inclusive).
    to: i64,
    /// Only this subcode (`None`: any).
    subcode: Option<i64>,
    class: ErrorClass,
    /// The explanation, without the trailing code.
    sentence: &'static str,
    /// Whether to quote the provider's own details after the sentence (they name the field).
    quote_details: bool,
}

const fn rule(code: i64, class: ErrorClass, sentence: &'static str) -> Rule {
    Rule {
        from: code,
        to: code,
        subcode: None,
        class,
        sentence,
        quote_details: false,
    }
}

const fn quoting(code: i64, class: ErrorClass, sentence: &'static str) -> Rule {
    Rule {
        quote_details: true,
        ..rule(code, class, sentence)
    }
}

const fn sub(code: i64, subcode: i64, class: ErrorClass, sentence: &'static str) -> Rule {
    Rule {
        subcode: Some(subcode),
        ..rule(code, class, sentence)
    }
}

const fn range(from: i64, to: i64, class: ErrorClass, sentence: &'static str) -> Rule {
    Rule {
        to,
        ..rule(from, class, sentence)
    }
}

use ErrorClass::{AuthExpired, Permanent, RateLimited, Retryable, WindowClosed};

const WINDOW_SENTENCE: &str =
    "The customer has not written in the last 24 hours: send an approved template instead";
const REAUTH_190: &str = "The access token has expired or was revoked: reconnect the channel \
     (Embedded Signup) to get a new one; its messages are held until then";

/// Meta's codes (first match wins, so subcode rows come before their code's general row).
const META_RULES: &[Rule] = &[
    rule(
        0,
        AuthExpired,
        "Meta could not authenticate the access token: reconnect the channel to get a new one",
    ),
    rule(
        1,
        Retryable,
        "Meta's API had an unknown error: the message will be retried",
    ),
    rule(
        2,
        Retryable,
        "Meta's service is temporarily unavailable: the message will be retried",
    ),
    rule(
        3,
        Permanent,
        "The Meta app lacks the capability for this call: give it the whatsapp_business_messaging permission",
    ),
    rule(
        4,
        RateLimited,
        "The Meta app reached its API call rate limit: sending resumes after a pause",
    ),
    rule(
        10,
        AuthExpired,
        "The access token has no permission for this WhatsApp number: reconnect the channel and grant access to the number",
    ),
    rule(
        17,
        RateLimited,
        "Meta's per-user request limit was reached: sending resumes after a pause",
    ),
    sub(
        100,
        33,
        Permanent,
        "The phone number id does not exist or the token cannot see it: check the channel's phone number id",
    ),
    quoting(
        100,
        Permanent,
        "Meta refused a parameter of the request: correct the message",
    ),
    sub(
        190,
        463,
        AuthExpired,
        "The access token has expired: reconnect the channel (Embedded Signup) to get a new one; its messages are held until then",
    ),
    sub(
        190,
        460,
        AuthExpired,
        "The access token was invalidated (the password changed or the session ended): reconnect the channel; its messages are held until then",
    ),
    sub(
        190,
        467,
        AuthExpired,
        "The access token is invalid: reconnect the channel to get a new one; its messages are held until then",
    ),
    rule(190, AuthExpired, REAUTH_190),
    range(
        200,
        299,
        AuthExpired,
        "The access token has no permission for this WhatsApp account or number: assign the asset to the system user and reconnect the channel",
    ),
    rule(
        368,
        Permanent,
        "The business is temporarily blocked for policy violations: review the account in WhatsApp Manager",
    ),
    rule(470, WindowClosed, WINDOW_SENTENCE),
    rule(
        613,
        RateLimited,
        "Meta's API call rate limit was reached: sending resumes after a pause",
    ),
    rule(
        80007,
        RateLimited,
        "The WhatsApp Business Account reached its API rate limit: sending resumes when Meta allows it",
    ),
    rule(
        130429,
        RateLimited,
        "This number exceeded its messages-per-second throughput: sending slows down and resumes",
    ),
    rule(
        130472,
        Permanent,
        "Meta did not deliver this marketing message because the customer is part of a Meta experiment: nothing can be done",
    ),
    rule(
        130497,
        Permanent,
        "The business is not allowed to message customers in this country: use another channel",
    ),
    rule(
        131000,
        Retryable,
        "Meta reported an unknown error: the message will be retried",
    ),
    rule(
        131005,
        Permanent,
        "Meta denied access: check the token's permissions for this number",
    ),
    quoting(
        131008,
        Permanent,
        "A required parameter is missing from the message: add it",
    ),
    quoting(
        131009,
        Permanent,
        "A parameter of the message is not valid: correct it",
    ),
    rule(
        131016,
        Retryable,
        "WhatsApp is temporarily unavailable: the message will be retried",
    ),
    rule(
        131021,
        Permanent,
        "The recipient is the sending number itself: send to a different number",
    ),
    rule(
        131026,
        Permanent,
        "WhatsApp could not deliver the message: the number may not be on WhatsApp, may not have accepted the latest terms or may have blocked the business; try SMS or another channel",
    ),
    rule(
        131030,
        Permanent,
        "The recipient is not in the test number's allowed list: add it in the Meta app's API Setup or send from a production number",
    ),
    rule(
        131031,
        Permanent,
        "The WhatsApp Business Account is locked or disabled: check its status in WhatsApp Manager",
    ),
    rule(
        131037,
        Permanent,
        "The number's display name is not approved yet: wait for approval in WhatsApp Manager",
    ),
    rule(
        131042,
        Permanent,
        "There is a payment problem with the WhatsApp Business Account: fix the payment method in WhatsApp Manager",
    ),
    rule(
        131045,
        Permanent,
        "The number's registration certificate is wrong: register the number again",
    ),
    rule(131047, WindowClosed, WINDOW_SENTENCE),
    rule(
        131048,
        Permanent,
        "Meta limited this number because too many of its messages were blocked or reported: lower the volume and check the number's quality",
    ),
    rule(
        131049,
        Permanent,
        "Meta held back this marketing message to keep engagement healthy: do not resend it for at least 24 hours",
    ),
    rule(
        131050,
        Permanent,
        "The customer stopped marketing messages from this business: do not send them marketing",
    ),
    rule(
        131051,
        Permanent,
        "WhatsApp does not support this message type: send a supported type",
    ),
    rule(
        131052,
        Permanent,
        "WhatsApp could not download the customer's media: ask them to send it again",
    ),
    quoting(
        131053,
        Permanent,
        "WhatsApp could not fetch the media from its link: check that the URL is public and serves a supported type",
    ),
    rule(
        131056,
        RateLimited,
        "Too many messages went to this customer in a short time: the message goes out after a pause",
    ),
    rule(
        131057,
        Retryable,
        "The business account is in maintenance (e.g. a throughput upgrade): the message will be retried",
    ),
    rule(
        131062,
        Permanent,
        "This message cannot go to a business-scoped user id (e.g. authentication templates): send it to the phone number",
    ),
    rule(
        131063,
        Permanent,
        "Marketing templates are disabled on the Cloud API for this account: send them through Meta's Marketing Messages API",
    ),
    rule(
        131064,
        Permanent,
        "The messaging limit was reached because of template classification violations: review the account's templates",
    ),
    quoting(
        132000,
        Permanent,
        "The number of template parameters does not match the template: send exactly the parameters it defines",
    ),
    rule(
        132001,
        Permanent,
        "The template does not exist in this language or is not approved: check the template name and language code",
    ),
    rule(
        132005,
        Permanent,
        "The template's text is too long once its parameters are filled in: shorten the parameters",
    ),
    rule(
        132007,
        Permanent,
        "The template's content breaks WhatsApp's format policy: correct the parameters",
    ),
    quoting(
        132008,
        Permanent,
        "A template parameter's value is not valid: correct it",
    ),
    quoting(
        132012,
        Permanent,
        "A template parameter has the wrong format (e.g. text where the header expects an image): send the kind the template defines",
    ),
    rule(
        132015,
        Permanent,
        "The template is paused for low quality: edit it or use another template",
    ),
    rule(
        132016,
        Permanent,
        "The template was disabled for low quality: create a new template",
    ),
    rule(
        132068,
        Permanent,
        "The flow is blocked: fix it in WhatsApp Manager",
    ),
    rule(
        132069,
        Permanent,
        "The flow is throttled (10 messages an hour): try again in an hour",
    ),
    range(
        132000,
        132999,
        Permanent,
        "Meta refused the template message: check the template and its parameters",
    ),
    rule(
        133010,
        Permanent,
        "The phone number is not registered on the Cloud API: register it (POST /{phone-number-id}/register)",
    ),
    range(
        133000,
        133016,
        Permanent,
        "The phone number's registration is not complete: finish it in WhatsApp Manager",
    ),
    quoting(
        135000,
        Permanent,
        "Meta rejected the request (generic user error): check the message",
    ),
];

/// Twilio's codes.
const TWILIO_RULES: &[Rule] = &[
    rule(
        20003,
        AuthExpired,
        "Twilio rejected the account SID or auth token: update the channel's credentials; its messages are held until then",
    ),
    rule(
        20005,
        AuthExpired,
        "The Twilio account is not active: reactivate it; the channel's messages are held until then",
    ),
    rule(
        20429,
        RateLimited,
        "Twilio received too many requests: sending resumes after a pause",
    ),
    rule(
        20500,
        Retryable,
        "Twilio had an internal error: the message will be retried",
    ),
    rule(
        20503,
        Retryable,
        "Twilio is temporarily unavailable: the message will be retried",
    ),
    rule(
        21211,
        Permanent,
        "The recipient's number is not valid: correct the number",
    ),
    rule(
        21212,
        Permanent,
        "The channel's sending number is not valid for Twilio: correct the channel's WhatsApp sender",
    ),
    rule(
        21408,
        Permanent,
        "The Twilio account may not send to this country: enable it in Twilio's geo permissions",
    ),
    rule(
        21610,
        Permanent,
        "The recipient unsubscribed from this sender (STOP): do not message them unless they opt in again",
    ),
    rule(
        21614,
        Permanent,
        "The recipient's number cannot receive these messages: use another number or channel",
    ),
    rule(
        21617,
        Permanent,
        "The message body is longer than Twilio allows (1600 characters): shorten it",
    ),
    rule(
        21620,
        Permanent,
        "Twilio refused the media URL: send a public http(s) link",
    ),
    rule(
        21654,
        Permanent,
        "Twilio needs a Content SID to send a template: map the template to its HX… Content SID",
    ),
    rule(
        21656,
        Permanent,
        "The template variables are not valid for the Content template: send the variables it defines",
    ),
    rule(
        63001,
        AuthExpired,
        "Twilio could not authenticate with WhatsApp for this sender: reconnect the sender in Twilio; its messages are held until then",
    ),
    rule(
        63003,
        Permanent,
        "WhatsApp could not find the recipient's address: check the number is on WhatsApp",
    ),
    rule(
        63007,
        Permanent,
        "Twilio has no WhatsApp sender for the channel's From number: check the channel's sender",
    ),
    rule(63016, WindowClosed, WINDOW_SENTENCE),
    rule(
        63018,
        RateLimited,
        "WhatsApp's rate limit for this sender was reached: sending resumes after a pause",
    ),
    rule(
        63024,
        Permanent,
        "The recipient is not a valid WhatsApp user: check the number or use another channel",
    ),
    rule(
        63032,
        Permanent,
        "Meta did not deliver this marketing message because the customer is part of a Meta experiment: nothing can be done",
    ),
    rule(
        63049,
        Permanent,
        "Meta held back this marketing message to keep engagement healthy: do not resend it for at least 24 hours",
    ),
];

fn find(rules: &[Rule], code: i64, subcode: Option<i64>) -> Option<&Rule> {
    rules
        .iter()
        .find(|r| (r.from..=r.to).contains(&code) && (r.subcode.is_none() || r.subcode == subcode))
}

/// The class and sentence of an HTTP status when the provider gave no code we know.
pub fn classify_http_status(status: u16) -> (ErrorClass, &'static str) {
    match status {
        401 => (
            AuthExpired,
            "The provider rejected the channel's credentials: reconnect the channel; its messages are held until then",
        ),
        408 => (
            Retryable,
            "The provider timed out handling the request: the message will be retried",
        ),
        429 => (
            RateLimited,
            "The provider asked us to slow down: sending resumes after a pause",
        ),
        500..=599 => (
            Retryable,
            "The provider had a server error: the message will be retried",
        ),
        402 => (
            Permanent,
            "The provider refused the request for billing reasons (no credit or an expired plan): top up the account",
        ),
        403 => (
            Permanent,
            "The provider refused the request as forbidden: check the channel's account and permissions",
        ),
        404 => (
            Permanent,
            "The provider does not know this address: check the channel's base URL and ids",
        ),
        _ => (Permanent, "The provider refused the request"),
    }
}

/// Meta's classification of a code (and subcode), or `None` for a code not in the table.
pub fn classify_meta_code(code: i64, subcode: Option<i64>) -> Option<(ErrorClass, &'static str)> {
    find(META_RULES, code, subcode).map(|r| (r.class, r.sentence))
}

/// Twilio's classification of a code, or `None` for a code not in the table.
pub fn classify_twilio_code(code: i64) -> Option<(ErrorClass, &'static str)> {
    find(TWILIO_RULES, code, None).map(|r| (r.class, r.sentence))
}

/// `(Meta 131047)`, `(Meta 131047 via 360dialog)`, `(Twilio 63016)`, `(HTTP 503)`.
fn suffix(provider: SenderKind, code: Option<i64>, http_status: Option<u16>, meta: bool) -> String {
    match (code, meta, provider) {
        (Some(c), true, SenderKind::CloudApi) => format!("(Meta {c})"),
        (Some(c), true, p) => format!("(Meta {c} via {})", p.label()),
        (Some(c), false, p) => format!("({} {c})", p.label()),
        (None, _, p) => match http_status {
            Some(s) => format!("({} HTTP {s})", p.label()),
            None => format!("({})", p.label()),
        },
    }
}

fn quote(text: &str) -> String {
    let t = text.trim().trim_end_matches('.');
    let mut out: String = t.chars().take(300).collect();
    if t.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Classifies a Graph API error (from a Meta, 360dialog or sandbox answer, or relayed by a
/// reseller) into a [`SendError`].
pub fn meta_error(
    provider: SenderKind,
    http_status: Option<u16>,
    err: &GraphError,
    hints: &ResponseHints,
    raw: Value,
) -> SendError {
    let details = err
        .details
        .clone()
        .or_else(|| err.user_message.clone())
        .filter(|d| !d.trim().is_empty());
    let provider_text = details.clone().or_else(|| err.message.clone());
    let known = err.code.and_then(|c| find(META_RULES, c, err.subcode));
    let (mut class, sentence) = match known {
        Some(r) => {
            let sentence = match (&details, r.quote_details) {
                (Some(d), true) => format!("{}. Meta says: “{}”", r.sentence, quote(d)),
                _ => r.sentence.to_owned(),
            };
            (r.class, sentence)
        }
        None => {
            let class = if err.is_transient == Some(true) {
                Retryable
            } else {
                http_status.map_or(Permanent, |s| classify_http_status(s).0)
            };
            let base = match class {
                Retryable => "Meta reported a temporary error: the message will be retried",
                RateLimited => "Meta asked us to slow down: sending resumes after a pause",
                AuthExpired => {
                    "Meta rejected the channel's credentials: reconnect the channel; its messages are held until then"
                }
                _ => "Meta refused the message",
            };
            let sentence = match &provider_text {
                Some(t) => format!("{base}. Meta says: “{}”", quote(t)),
                None => base.to_owned(),
            };
            (class, sentence)
        }
    };
    // Meta fetches media by link; when the media host itself said 429, a later try can work.
    if err.code == Some(131053)
        && details
            .as_deref()
            .is_some_and(|d| d.contains("429") || d.contains("Too Many Requests"))
    {
        class = Retryable;
    }
    let code_for_suffix = err.code;
    let message = format!(
        "{sentence} {}",
        suffix(provider, code_for_suffix, http_status, true)
    );
    SendError {
        class,
        provider,
        code: err.code,
        subcode: err.subcode,
        http_status,
        title: err.title.clone().or_else(|| err.message.clone()),
        message,
        retry_after: hints.pause(),
        raw: Box::new(raw),
    }
}

/// Classifies a Twilio error answer (`{"code", "message", "more_info", "status"}`).
pub fn twilio_error(
    http_status: Option<u16>,
    code: Option<i64>,
    twilio_message: Option<&str>,
    hints: &ResponseHints,
    raw: Value,
) -> SendError {
    let provider = SenderKind::Twilio;
    let known = code.and_then(classify_twilio_code);
    let (class, sentence) = match known {
        Some((class, s)) => (class, s.to_owned()),
        None => {
            let (class, base) = http_status
                .map_or((Permanent, "Twilio refused the message"), |s| {
                    classify_http_status(s)
                });
            let sentence = match twilio_message {
                Some(t) if !t.trim().is_empty() => format!("{base}. Twilio says: “{}”", quote(t)),
                _ => base.to_owned(),
            };
            (class, sentence)
        }
    };
    SendError {
        class,
        provider,
        code,
        subcode: None,
        http_status,
        title: twilio_message.map(str::to_owned),
        message: format!("{sentence} {}", suffix(provider, code, http_status, false)),
        retry_after: hints.pause(),
        raw: Box::new(raw),
    }
}

/// Classifies an answer that carries no provider code: by HTTP status, quoting the provider.
pub fn http_error(
    provider: SenderKind,
    http_status: u16,
    provider_text: Option<&str>,
    hints: &ResponseHints,
    raw: Value,
) -> SendError {
    let (class, base) = classify_http_status(http_status);
    let sentence = match provider_text {
        Some(t) if !t.trim().is_empty() => {
            format!("{base}. {} says: “{}”", provider.label(), quote(t))
        }
        _ => base.to_owned(),
    };
    SendError {
        class,
        provider,
        code: None,
        subcode: None,
        http_status: Some(http_status),
        title: provider_text.map(str::to_owned),
        message: format!(
            "{sentence} {}",
            suffix(provider, None, Some(http_status), false)
        ),
        retry_after: hints.pause(),
        raw: Box::new(raw),
    }
}

/// `Option<Duration>` as whole milliseconds.
mod duration_ms {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis().min(u64::MAX as u128) as u64)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(code: i64, subcode: Option<i64>) -> GraphError {
        GraphError {
            code: Some(code),
            subcode,
            ..GraphError::default()
        }
    }

    #[test]
    fn every_code_the_issue_names_as_retryable_is_retried() {
        for code in [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057] {
            let (class, _) = classify_meta_code(code, None).unwrap();
            assert!(
                class.is_retryable(),
                "{code} should be retried, got {class}"
            );
        }
    }

    #[test]
    fn meta_table_rows() {
        let rows: &[(i64, Option<i64>, ErrorClass)] = &[
            (0, None, AuthExpired),
            (1, None, Retryable),
            (2, None, Retryable),
            (3, None, Permanent),
            (4, Some(2446079), RateLimited),
            (10, None, AuthExpired),
            (17, Some(2446079), RateLimited),
            (100, Some(33), Permanent),
            (100, None, Permanent),
            (190, Some(463), AuthExpired),
            (190, Some(460), AuthExpired),
            (190, Some(467), AuthExpired),
            (190, None, AuthExpired),
            (200, Some(1349174), AuthExpired),
            (299, None, AuthExpired),
            (368, None, Permanent),
            (470, None, WindowClosed),
            (613, None, RateLimited),
            (80007, Some(2446079), RateLimited),
            (130429, None, RateLimited),
            (130472, None, Permanent),
            (130497, None, Permanent),
            (131000, None, Retryable),
            (131005, None, Permanent),
            (131008, None, Permanent),
            (131009, None, Permanent),
            (131016, None, Retryable),
            (131021, None, Permanent),
            (131026, None, Permanent),
            (131030, None, Permanent),
            (131031, None, Permanent),
            (131037, None, Permanent),
            (131042, None, Permanent),
            (131045, None, Permanent),
            (131047, None, WindowClosed),
            (131048, None, Permanent),
            (131049, None, Permanent),
            (131050, None, Permanent),
            (131051, None, Permanent),
            (131052, None, Permanent),
            (131053, None, Permanent),
            (131056, None, RateLimited),
            (131057, None, Retryable),
            (131062, None, Permanent),
            (131063, None, Permanent),
            (131064, None, Permanent),
            (132000, None, Permanent),
            (132001, None, Permanent),
            (132005, None, Permanent),
            (132007, None, Permanent),
            (132008, None, Permanent),
            (132012, None, Permanent),
            (132015, None, Permanent),
            (132016, None, Permanent),
            (132068, None, Permanent),
            (132069, None, Permanent),
            (133010, None, Permanent),
            (133005, None, Permanent),
            (133016, None, Permanent),
            (135000, None, Permanent),
        ];
        for &(code, subcode, want) in rows {
            let (class, sentence) = classify_meta_code(code, subcode)
                .unwrap_or_else(|| panic!("{code} is not in the table"));
            assert_eq!(class, want, "Meta {code}/{subcode:?}");
            assert!(
                sentence.contains(':'),
                "{code}: says what to do: {sentence}"
            );
        }
        assert!(classify_meta_code(999_999, None).is_none());
    }

    #[test]
    fn twilio_table_rows() {
        let rows: &[(i64, ErrorClass)] = &[
            (20003, AuthExpired),
            (20005, AuthExpired),
            (20429, RateLimited),
            (20500, Retryable),
            (20503, Retryable),
            (21211, Permanent),
            (21212, Permanent),
            (21408, Permanent),
            (21610, Permanent),
            (21614, Permanent),
            (21617, Permanent),
            (21620, Permanent),
            (21654, Permanent),
            (21656, Permanent),
            (63001, AuthExpired),
            (63003, Permanent),
            (63007, Permanent),
            (63016, WindowClosed),
            (63018, RateLimited),
            (63024, Permanent),
            (63032, Permanent),
            (63049, Permanent),
        ];
        for &(code, want) in rows {
            assert_eq!(classify_twilio_code(code).unwrap().0, want, "Twilio {code}");
        }
        assert!(classify_twilio_code(12345).is_none());
    }

    #[test]
    fn window_sentence_is_the_one_people_read() {
        let e = meta_error(
            SenderKind::CloudApi,
            Some(400),
            &graph(131047, None),
            &ResponseHints::default(),
            Value::Null,
        );
        assert_eq!(
            e.message,
            "The customer has not written in the last 24 hours: send an approved template instead (Meta 131047)"
        );
        let e = meta_error(
            SenderKind::Dialog360,
            Some(400),
            &graph(131047, None),
            &ResponseHints::default(),
            Value::Null,
        );
        assert!(
            e.message.ends_with("(Meta 131047 via 360dialog)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unknown_meta_codes_fall_back_on_is_transient_then_http() {
        let mut g = graph(999_001, None);
        g.message = Some("Something odd".into());
        let hints = ResponseHints::default();
        let e = meta_error(SenderKind::CloudApi, Some(400), &g, &hints, Value::Null);
        assert_eq!(e.class, Permanent);
        assert!(e.message.contains("“Something odd”") && e.message.ends_with("(Meta 999001)"));
        g.is_transient = Some(true);
        assert_eq!(
            meta_error(SenderKind::CloudApi, Some(400), &g, &hints, Value::Null).class,
            Retryable
        );
        g.is_transient = None;
        assert_eq!(
            meta_error(SenderKind::CloudApi, Some(503), &g, &hints, Value::Null).class,
            Retryable
        );
    }

    #[test]
    fn media_host_429_makes_131053_retryable() {
        let mut g = graph(131053, None);
        g.details = Some(
            "Downloading media from weblink failed with http code 429, status message Too Many Requests"
                .into(),
        );
        let e = meta_error(
            SenderKind::CloudApi,
            None,
            &g,
            &ResponseHints::default(),
            Value::Null,
        );
        assert_eq!(e.class, Retryable);
        assert!(
            e.message.contains("Meta says: “Downloading media"),
            "{}",
            e.message
        );
        g.details = Some("Unsupported Video mime type text/html.".into());
        let e = meta_error(
            SenderKind::CloudApi,
            None,
            &g,
            &ResponseHints::default(),
            Value::Null,
        );
        assert_eq!(e.class, Permanent);
    }

    #[test]
    fn http_statuses() {
        assert_eq!(classify_http_status(401).0, AuthExpired);
        assert_eq!(classify_http_status(408).0, Retryable);
        assert_eq!(classify_http_status(429).0, RateLimited);
        assert_eq!(classify_http_status(500).0, Retryable);
        assert_eq!(classify_http_status(503).0, Retryable);
        assert_eq!(classify_http_status(400).0, Permanent);
        assert_eq!(classify_http_status(402).0, Permanent);
        assert_eq!(classify_http_status(404).0, Permanent);
    }

    #[test]
    fn retry_after_seconds_dates_and_clamping() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn regain_access_from_meta_usage_headers() {
        let buc = r#"{"102290129340398":[{"type":"whatsapp","call_count":100,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":15}]}"#;
        assert_eq!(parse_regain_access(buc), Some(Duration::from_secs(900)));
        let app = r#"{"call_count":100,"total_cputime":3,"total_time":4}"#;
        assert_eq!(parse_regain_access(app), None);
        assert_eq!(parse_regain_access("not json"), None);
        let zero = r#"{"1":[{"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(parse_regain_access(zero), None);
    }

    #[test]
    fn serialises_for_the_api() {
        let e = SendError::timeout(SenderKind::CloudApi, Duration::from_millis(10_000))
            .with_retry_after(Some(Duration::from_secs(2)));
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["class"], "retryable");
        assert_eq!(v["provider"], "cloud_api");
        assert_eq!(v["retry_after_ms"], 2000);
        assert_eq!(
            e.message,
            "Meta Cloud API did not answer within 10000 ms: the message will be retried"
        );
    }
}
