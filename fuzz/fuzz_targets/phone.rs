//! Phone parsing, WhatsApp ids and masking.
//!
//! Input: UTF-8 (lossy) text `REGION \n NUMBER \n WA_ID`; a region line that is no known region
//! reads as none. Properties checked:
//! - a parsed number is E.164 (`+` and 1–15 digits) and re-parses to itself, from its E.164
//!   form (with or without the region) and from its international format;
//! - its WhatsApp id is its digits, matches itself and its own contact key;
//! - `contact_key` is idempotent and is the first lookup key; an allow-list form is the same
//!   person; `send_to` answers the last-seen id or the number's own;
//! - masking (`mask_digits`, `PhoneE164::masked`) keeps the text's length and reveals at most
//!   the last 4 digits of any digit run.
#![no_main]

use chasqui_core::phone::{PhoneE164, RegionCode, WaId, mask_digits, parse, same_person, send_to};
use libfuzzer_sys::fuzz_target;

/// A subset of the joiners `mask_digits` accepts between digits: runs found with fewer joiners
/// lie inside the runs `mask_digits` sees, so each must show at most 4 digits too.
fn joins(c: char) -> bool {
    c == ' ' || matches!(c, '+' | '-' | '.' | '(' | ')' | '/')
}

fn check_mask(input: &str) {
    let out = mask_digits(input);
    let a: Vec<char> = input.chars().collect();
    let b: Vec<char> = out.chars().collect();
    assert_eq!(a.len(), b.len(), "masking keeps the length in characters");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x == y || (*y == '*' && x.is_numeric()),
            "only digits become `*`"
        );
    }
    let mut visible = 0;
    for (x, y) in a.iter().zip(&b) {
        if x.is_numeric() {
            if *y != '*' {
                visible += 1;
                assert!(
                    visible <= 4,
                    "more than 4 digits of a run visible: {input:?} -> {out:?}"
                );
            }
        } else if !joins(*x) {
            visible = 0;
        }
    }
}

fn check_wa_id(w: &WaId) {
    let digits = w.as_str();
    assert!(!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(WaId::parse(digits).as_ref(), Ok(w));
    assert_eq!(WaId::parse(&w.to_twilio_address()).as_ref(), Ok(w));
    let key = w.contact_key();
    assert!(key.as_str().bytes().all(|b| b.is_ascii_digit()));
    let keys = w.lookup_keys();
    assert_eq!(keys.first(), Some(&key));
    let again = WaId::parse(key.as_str()).expect("a contact key is a WhatsApp id");
    assert_eq!(
        again.contact_key(),
        key,
        "contact_key is idempotent for {digits}"
    );
    assert!(same_person(w, w));
    assert!(
        same_person(w, &again),
        "{digits} and its key {} are the same person",
        key.as_str()
    );
    if let Some(allow) = w.allow_list_form() {
        assert!(same_person(w, &allow));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let region = RegionCode::parse(lines.next().unwrap_or_default()).ok();
    let number = lines.next().unwrap_or_default();
    let other = lines.next().unwrap_or_default();

    check_mask(&text);

    let other_id = WaId::parse(other).ok();
    if let Some(w) = &other_id {
        check_wa_id(w);
    }
    if let Ok(w) = WaId::parse(number) {
        check_wa_id(&w);
        if let Some(o) = &other_id {
            let _ = same_person(&w, o);
            let _ = same_person(o, &w);
        }
    }

    let Ok(parsed) = parse(number, region) else {
        return;
    };
    let phone = &parsed.phone;
    let e164 = phone.as_str();
    assert!(e164.starts_with('+'));
    assert!((2..=16).contains(&e164.len()), "{e164}");
    assert!(phone.digits().bytes().all(|b| b.is_ascii_digit()), "{e164}");
    assert!(phone.digits().ends_with(phone.national_number()));
    assert!(
        phone
            .digits()
            .starts_with(&phone.country_code().to_string())
    );
    assert_eq!(
        PhoneE164::parse(e164, None).as_ref(),
        Ok(phone),
        "E.164 re-parses"
    );
    assert_eq!(
        PhoneE164::parse(e164, region).as_ref(),
        Ok(phone),
        "E.164 re-parses with a region"
    );
    let international = phone.format_international();
    assert_eq!(
        PhoneE164::parse(&international, None).as_ref(),
        Ok(phone),
        "{international}"
    );
    let _ = phone.format_national();
    let _ = phone.require_mobile();
    let _ = phone.region();
    let _ = phone.number_type();

    let masked = phone.masked();
    assert_eq!(
        masked.chars().filter(char::is_ascii_digit).count() + masked.matches('*').count(),
        international.chars().filter(char::is_ascii_digit).count()
    );
    assert!(
        masked.contains('*'),
        "a masked number hides something: {masked}"
    );
    check_mask(&international);

    let own = WaId::from(phone);
    assert_eq!(own.as_str(), phone.digits());
    check_wa_id(&own);
    assert_eq!(send_to(phone, None), own);
    if let Some(seen) = &other_id {
        let to = send_to(phone, Some(seen));
        assert!(to == own || &to == seen);
    }
});
