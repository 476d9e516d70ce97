//! Recipient numbers as the sandbox reads them, the `wa_id` WhatsApp would answer with, and the
//! identifiers Meta hands out (`wamid.…`, media ids, `fbtrace_id`).

use base64::Engine;
use rand::Rng;

/// The digits of a number as a sender wrote it (`+54 9 11 5555-0123`, `5491155550123`), or
/// `None` when it is not a phone number: only digits, spaces, `+ - . ( )` are allowed, and 6 to
/// 15 digits must remain.
pub fn digits_of(input: &str) -> Option<String> {
    let s = input.trim();
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'))
    {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (6..=15).contains(&digits.len()).then_some(digits)
}

/// The WhatsApp id the Cloud API answers with for these digits: Argentine mobiles gain the `9`
/// after `54` (`54 11 …` → `549 11 …`), Mexican mobiles keep the `1` after `52`
/// (`52 55 …` → `521 55 …`); everything else is its own id. In the sandbox every number is a
/// mobile with WhatsApp.
pub fn wa_id_for(digits: &str) -> String {
    if let Some(rest) = digits.strip_prefix("54").filter(|r| r.len() == 10) {
        return format!("549{rest}");
    }
    if let Some(rest) = digits.strip_prefix("52").filter(|r| r.len() == 10) {
        return format!("521{rest}");
    }
    digits.to_owned()
}

/// The `wa_id` for a number as written, if it is one.
pub fn wa_id_of(input: &str) -> Option<String> {
    digits_of(input).map(|d| wa_id_for(&d))
}

fn random_hex(n: usize) -> String {
    const HEX: &[u8] = b"0123456789ABCDEF";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| HEX[rng.random_range(0..HEX.len())] as char)
        .collect()
}

/// A message id shaped like Meta's: base64 of the customer's id and a random reference, with
/// the direction marker Meta uses (`0x11` sent by the business, `0x12` received from the
/// customer). URL-safe base64, so the id can stand in a URL path as it is.
pub fn wamid(wa_id: &str, outbound: bool) -> String {
    let reference = random_hex(if outbound { 18 } else { 32 });
    let mut raw = vec![0x1c, 0x18, wa_id.len() as u8];
    raw.extend_from_slice(wa_id.as_bytes());
    raw.extend_from_slice(&[
        0x15,
        0x02,
        0x00,
        if outbound { 0x11 } else { 0x12 },
        0x18,
        reference.len() as u8,
    ]);
    raw.extend_from_slice(reference.as_bytes());
    raw.push(0);
    format!(
        "wamid.{}",
        base64::engine::general_purpose::URL_SAFE.encode(raw)
    )
}

/// A numeric id like Meta's object ids (phone number ids, WABA ids, media ids): `len` digits,
/// never starting with 0.
pub fn numeric_id(len: usize) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(len);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..len {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

/// A trace id like the `fbtrace_id` of every Graph error.
pub fn fbtrace_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..23)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A random token of letters and digits.
pub fn token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
        .collect()
}

/// A random lowercase hex string (`len` characters).
pub fn hex_id(len: usize) -> String {
    random_hex(len).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_like_meta_reads_them() {
        assert_eq!(
            digits_of("+54 9 11 5555-0123").as_deref(),
            Some("5491155550123")
        );
        assert_eq!(digits_of("(650) 555.1234").as_deref(), Some("6505551234"));
        assert_eq!(digits_of("abc"), None);
        assert_eq!(digits_of("+1 23"), None);
        assert_eq!(digits_of("1234567890123456"), None);
        assert_eq!(digits_of(""), None);
    }

    #[test]
    fn wa_ids_follow_whatsapps_forms() {
        assert_eq!(
            wa_id_of("+54 9 11 5555-0123").as_deref(),
            Some("5491155550123")
        );
        assert_eq!(
            wa_id_of("+54 11 5555-0123").as_deref(),
            Some("5491155550123")
        );
        assert_eq!(
            wa_id_of("+52 55 1234 5678").as_deref(),
            Some("5215512345678")
        );
        assert_eq!(
            wa_id_of("+52 1 55 1234 5678").as_deref(),
            Some("5215512345678")
        );
        assert_eq!(wa_id_of("+1 650 555 1234").as_deref(), Some("16505551234"));
        assert_eq!(
            wa_id_of("+55 11 98765 4321").as_deref(),
            Some("5511987654321")
        );
    }

    #[test]
    fn wamids_look_like_metas_and_fit_in_a_path() {
        let out = wamid("5491155550123", true);
        assert!(out.starts_with("wamid.HBgN"), "{out}");
        assert!(!out.contains('/') && !out.contains('+'));
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(out.trim_start_matches("wamid."))
            .unwrap();
        assert_eq!(&raw[3..16], b"5491155550123");
        assert_eq!(raw[19], 0x11);
        assert_ne!(wamid("1", false), wamid("1", false));
        assert_eq!(numeric_id(15).len(), 15);
        assert!(!numeric_id(15).starts_with('0'));
        assert_eq!(fbtrace_id().len(), 23);
    }
}
