//! Webhook authenticity checks: Meta's `X-Hub-Signature-256`, Twilio's `X-Twilio-Signature`,
//! shared-secret tokens (Chatwoot, 360dialog) and Meta's GET verification handshake.
//!
//! Every check works on the exact bytes received and compares in constant time. A missing
//! secret on our side is an error of its own ([`SignatureError::NotConfigured`]): an empty secret
//! never accepts anything.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// Why a request's signature or token was refused; every variant means "answer 401".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// We have no secret to check against (configuration problem, not the sender's).
    #[error("no secret is configured for this check")]
    NotConfigured,
    /// The request carries no signature or token.
    #[error("the signature header is missing")]
    Missing,
    /// The header is there but not in the expected format.
    #[error("the signature header is malformed: {0}")]
    Malformed(&'static str),
    /// Well-formed, but not made with our secret over these bytes.
    #[error("the signature does not match the request")]
    Mismatch,
    /// A Twilio JSON request whose URL lacks the `bodySHA256` parameter.
    #[error("the URL has no bodySHA256 parameter for a request with a body")]
    BodyHashMissing,
    /// A Twilio JSON request whose body does not hash to the signed `bodySHA256`.
    #[error("the body does not match the signed bodySHA256")]
    BodyHashMismatch,
}

/// Checks Meta's `X-Hub-Signature-256: sha256=<hex>` over the raw body with the app secret.
///
/// Meta signs the body with every character outside U+0000–U+007E escaped as `\uXXXX`
/// (lowercase hex), which is also how it sends it. If the exact bytes do not match and the body
/// contains such characters (a proxy re-encoded it), the escaped form is checked too.
pub fn verify_meta(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let expected = hub_header(app_secret, header, "sha256=", 32)?;
    if hmac_matches::<HmacSha256>(app_secret, &[raw_body], &expected) {
        return Ok(());
    }
    match meta_escape(raw_body) {
        Some(escaped) if hmac_matches::<HmacSha256>(app_secret, &[&escaped], &expected) => Ok(()),
        _ => Err(SignatureError::Mismatch),
    }
}

/// Checks the legacy `X-Hub-Signature: sha1=<hex>` (Graph webhooks still send it); use only
/// when the SHA-256 header is absent.
pub fn verify_meta_sha1(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let expected = hub_header(app_secret, header, "sha1=", 20)?;
    if hmac_matches::<HmacSha1>(app_secret, &[raw_body], &expected) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Reads a `<prefix><hex>` header into the expected MAC bytes.
fn hub_header(
    secret: &[u8],
    header: Option<&str>,
    prefix: &str,
    mac_len: usize,
) -> Result<Vec<u8>, SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let header = present(header)?;
    let digits = header
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &header[prefix.len()..])
        .ok_or(SignatureError::Malformed("unexpected algorithm prefix"))?;
    if digits.len() != mac_len * 2 {
        return Err(SignatureError::Malformed("wrong number of hex digits"));
    }
    hex::decode(digits).map_err(|_| SignatureError::Malformed("not hexadecimal"))
}

/// Meta's signing form of a body: `None` when it is already pure printable-range ASCII (or not
/// UTF-8, in which case no escaping can make it match).
fn meta_escape(body: &[u8]) -> Option<Vec<u8>> {
    if body.iter().all(|b| *b <= 0x7E) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(body.len() + body.len() / 2);
    let mut units = [0u16; 2];
    for c in text.chars() {
        if u32::from(c) <= 0x7E {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Some(out.into_bytes())
}

/// Checks `X-Twilio-Signature` for a form-encoded request (inbound messages, status callbacks).
///
/// `url` is the full public URL Twilio requested (scheme, host, port, path, query) — behind a
/// proxy, the configured public URL, not the local one. `params` are the decoded form fields in
/// any order. Twilio's algorithm: the URL, then every `name` + `value` sorted by name then value
/// (byte-wise; identical pairs once), HMAC-SHA1 with the auth token, Base64. As Twilio's SDKs do,
/// the URL is also tried without its port, with the scheme's default port added, and with `'`
/// written as `%27` and back.
pub fn verify_twilio(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let expected = twilio_header(auth_token, header)?;
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then(a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    pairs.dedup();
    let mut tail = Vec::new();
    for (k, v) in pairs {
        tail.extend_from_slice(k.as_bytes());
        tail.extend_from_slice(v.as_bytes());
    }
    let matched = twilio_url_candidates(url).iter().any(|u| {
        hmac_matches::<HmacSha1>(auth_token.as_bytes(), &[u.as_bytes(), &tail], &expected)
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks `X-Twilio-Signature` for a request with a raw (JSON) body: the signature covers the URL
/// alone, which must carry `bodySHA256=<hex SHA-256 of the body>`.
pub fn verify_twilio_body(
    auth_token: &str,
    url: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let expected = twilio_header(auth_token, header)?;
    let signed_hash = query_param(url, "bodySHA256").ok_or(SignatureError::BodyHashMissing)?;
    let matched = twilio_url_candidates(url)
        .iter()
        .any(|u| hmac_matches::<HmacSha1>(auth_token.as_bytes(), &[u.as_bytes()], &expected));
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    let signed = hex::decode(signed_hash.trim()).map_err(|_| SignatureError::BodyHashMismatch)?;
    let actual = Sha256::digest(body);
    if bool::from(actual.as_slice().ct_eq(&signed)) {
        Ok(())
    } else {
        Err(SignatureError::BodyHashMismatch)
    }
}

fn twilio_header(auth_token: &str, header: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    if auth_token.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let header = present(header)?;
    let mac = BASE64
        .decode(header)
        .map_err(|_| SignatureError::Malformed("not Base64"))?;
    if mac.len() != 20 {
        return Err(SignatureError::Malformed("not an HMAC-SHA1"));
    }
    Ok(mac)
}

/// The URL spellings Twilio may have signed for the URL we were reached at.
fn twilio_url_candidates(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    if let Some(parts) = split_authority(url) {
        match parts.port {
            Some(_) => out.push(format!("{}{}{}", parts.head, parts.host, parts.rest)),
            None => {
                if let Some(port) = default_port(parts.scheme) {
                    out.push(format!("{}{}:{port}{}", parts.head, parts.host, parts.rest));
                }
            }
        }
    }
    let spelled: Vec<String> = out
        .iter()
        .flat_map(|u| {
            let mut alt = Vec::new();
            if u.contains('\'') {
                alt.push(u.replace('\'', "%27"));
            }
            if u.contains("%27") {
                alt.push(u.replace("%27", "'"));
            }
            alt
        })
        .collect();
    out.extend(spelled);
    out.dedup();
    out
}

/// A URL cut around its port: `head` is `scheme://userinfo@`, `rest` the path onwards.
struct Authority<'a> {
    scheme: &'a str,
    head: &'a str,
    host: &'a str,
    port: Option<&'a str>,
    rest: &'a str,
}

fn split_authority(url: &str) -> Option<Authority<'_>> {
    let scheme_end = url.find("://")?;
    let start = scheme_end + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let host_start = start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &url[host_start..end];
    let colon = if host_port.starts_with('[') {
        // IPv6 literal: a port can only follow the closing bracket.
        host_port
            .find(']')
            .and_then(|b| host_port[b + 1..].starts_with(':').then_some(b + 1))
    } else {
        host_port.rfind(':')
    };
    let (host, port) = match colon {
        Some(c) => {
            let port = &host_port[c + 1..];
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&host_port[..c], Some(port))
        }
        None => (host_port, None),
    };
    Some(Authority {
        scheme: &url[..scheme_end],
        head: &url[..host_start],
        host,
        port,
        rest: &url[end..],
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}

/// The first value of a query parameter, percent-decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Checks a shared secret presented by the sender (Chatwoot webhook token, 360dialog custom
/// header). Both sides are hashed first, so the comparison leaks neither content nor length.
pub fn verify_shared_secret(expected: &str, presented: Option<&str>) -> Result<(), SignatureError> {
    if expected.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let presented = present(presented)?;
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    if bool::from(a.as_slice().ct_eq(b.as_slice())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Why Meta's GET verification handshake was refused; every variant means "answer 403".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// We have no verify token configured.
    #[error("no verify token is configured")]
    NotConfigured,
    /// `hub.mode` is not `subscribe`.
    #[error("hub.mode is not `subscribe`")]
    WrongMode,
    /// `hub.verify_token` is missing or not ours.
    #[error("hub.verify_token does not match")]
    TokenMismatch,
    /// `hub.challenge` is missing.
    #[error("hub.challenge is missing")]
    MissingChallenge,
    /// `hub.challenge` is not the short printable token Meta sends.
    #[error("hub.challenge is not a short printable token")]
    InvalidChallenge,
}

/// The three `hub.*` parameters of Meta's verification request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubQuery {
    /// `hub.mode` (`subscribe`).
    pub mode: Option<String>,
    /// `hub.verify_token`.
    pub verify_token: Option<String>,
    /// `hub.challenge`, to echo back.
    pub challenge: Option<String>,
}

impl HubQuery {
    /// Reads the parameters from a raw query string (`hub.mode=subscribe&…`), percent-decoded.
    pub fn from_query(query: &str) -> HubQuery {
        let mut q = HubQuery::default();
        for (k, v) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match k.as_ref() {
                "hub.mode" => &mut q.mode,
                "hub.verify_token" => &mut q.verify_token,
                "hub.challenge" => &mut q.challenge,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        q
    }

    /// Checks the handshake and returns the challenge to answer with; see [`verify_challenge`].
    pub fn verify(&self, expected_token: &str) -> Result<&str, ChallengeError> {
        verify_challenge(
            self.mode.as_deref(),
            self.verify_token.as_deref(),
            self.challenge.as_deref(),
            expected_token,
        )
    }
}

/// Longest challenge we echo; Meta's are about ten digits.
const MAX_CHALLENGE_LEN: usize = 512;

/// Checks Meta's GET handshake: `hub.mode=subscribe` and our verify token (constant time); returns
/// the `hub.challenge` to send back as the plain-text body. The challenge is opaque but must be
/// short printable ASCII without blanks (Meta sends digits): a bound on what we echo.
pub fn verify_challenge<'a>(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
    expected_token: &str,
) -> Result<&'a str, ChallengeError> {
    if expected_token.is_empty() {
        return Err(ChallengeError::NotConfigured);
    }
    if mode != Some("subscribe") {
        return Err(ChallengeError::WrongMode);
    }
    verify_shared_secret(expected_token, token).map_err(|_| ChallengeError::TokenMismatch)?;
    let challenge = challenge.ok_or(ChallengeError::MissingChallenge)?;
    let printable = challenge.bytes().all(|b| (0x21..=0x7E).contains(&b));
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_LEN || !printable {
        return Err(ChallengeError::InvalidChallenge);
    }
    Ok(challenge)
}

fn present(header: Option<&str>) -> Result<&str, SignatureError> {
    header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)
}

/// Computes the MAC over the concatenated parts and compares it in constant time.
fn hmac_matches<M: Mac + hmac::digest::KeyInit>(
    key: &[u8],
    parts: &[&[u8]],
    expected: &[u8],
) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_meta(secret: &[u8], body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn meta_node_sdk_vector() {
        let header = "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221";
        assert_eq!(
            verify_meta(b"TEST_APP_SECRET", b"test", Some(header)),
            Ok(())
        );
        assert_eq!(
            verify_meta(b"TEST_APP_SECRET", b"test ", Some(header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn meta_distinct_errors() {
        let body = b"{}";
        let good = sign_meta(b"s", body);
        assert_eq!(verify_meta(b"s", body, Some(&good)), Ok(()));
        assert_eq!(
            verify_meta(b"s", body, Some(&good.to_uppercase())),
            Ok(()),
            "prefix and hex case do not matter"
        );
        assert_eq!(verify_meta(b"s", body, None), Err(SignatureError::Missing));
        assert_eq!(
            verify_meta(b"s", body, Some("  ")),
            Err(SignatureError::Missing)
        );
        assert!(matches!(
            verify_meta(b"s", body, Some("sha1=abcd")),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            verify_meta(b"s", body, Some(&good[..good.len() - 2])),
            Err(SignatureError::Malformed(_))
        ));
        let not_hex = format!("sha256={}", "zz".repeat(32));
        assert!(matches!(
            verify_meta(b"s", body, Some(&not_hex)),
            Err(SignatureError::Malformed(_))
        ));
        assert_eq!(
            verify_meta(b"other", body, Some(&good)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_meta(b"", body, Some(&good)),
            Err(SignatureError::NotConfigured)
        );
    }

    #[test]
    fn meta_escape_matches_metas_form() {
        assert_eq!(meta_escape(b"plain"), None);
        assert_eq!(
            meta_escape("mangé 😀".as_bytes()).unwrap(),
            b"mang\\u00e9 \\ud83d\\ude00".to_vec()
        );
        assert_eq!(meta_escape(&[0x7F]).unwrap(), b"\\u007f".to_vec());
        assert_eq!(meta_escape(&[0xFF, 0xFE]), None, "not UTF-8");
    }

    #[test]
    fn url_candidates_cover_the_port_and_quote_spellings() {
        let c = twilio_url_candidates("https://example.com/hook?a='b'");
        assert!(c.contains(&"https://example.com:443/hook?a='b'".to_owned()));
        assert!(c.contains(&"https://example.com/hook?a=%27b%27".to_owned()));
        let c = twilio_url_candidates("http://u:p@example.com:8080/x");
        assert!(c.contains(&"http://u:p@example.com/x".to_owned()));
        let c = twilio_url_candidates("https://[::1]:8443/x");
        assert!(c.contains(&"https://[::1]/x".to_owned()));
        let c = twilio_url_candidates("https://[::1]/x");
        assert!(c.contains(&"https://[::1]:443/x".to_owned()));
        assert_eq!(
            twilio_url_candidates("not a url"),
            vec!["not a url".to_owned()]
        );
        assert_eq!(
            twilio_url_candidates("https://h:x/"),
            vec!["https://h:x/".to_owned()]
        );
    }

    #[test]
    fn shared_secret() {
        assert_eq!(verify_shared_secret("tok", Some("tok")), Ok(()));
        assert_eq!(
            verify_shared_secret("tok", Some("tok2")),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_shared_secret("tok", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_shared_secret("", Some("")),
            Err(SignatureError::NotConfigured)
        );
    }

    #[test]
    fn challenge_handshake() {
        let q = HubQuery::from_query(
            "?hub.mode=subscribe&hub.challenge=1903260781&hub.verify_token=my%20token",
        );
        assert_eq!(q.verify_token.as_deref(), Some("my token"));
        assert_eq!(q.verify("my token"), Ok("1903260781"));
        assert_eq!(q.verify("other"), Err(ChallengeError::TokenMismatch));
        assert_eq!(q.verify(""), Err(ChallengeError::NotConfigured));
        let wrong_mode = HubQuery {
            mode: Some("unsubscribe".into()),
            ..q
        };
        assert_eq!(
            wrong_mode.verify("my token"),
            Err(ChallengeError::WrongMode)
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("t"), None, "t"),
            Err(ChallengeError::MissingChallenge)
        );
        assert_eq!(
            verify_challenge(Some("subscribe"), None, Some("1"), "t"),
            Err(ChallengeError::TokenMismatch)
        );
        assert_eq!(
            verify_challenge(
                Some("subscribe"),
                Some("t"),
                Some("<script>x</script> "),
                "t"
            ),
            Err(ChallengeError::InvalidChallenge)
        );
        let long = "9".repeat(MAX_CHALLENGE_LEN + 1);
        assert_eq!(
            verify_challenge(Some("subscribe"), Some("t"), Some(&long), "t"),
            Err(ChallengeError::InvalidChallenge)
        );
    }
}
