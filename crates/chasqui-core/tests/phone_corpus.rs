//! Every row of `shared/reference/phone_numbers.tsv` and `wa_id_variants.tsv` as a test case.
//!
//! Where the file's expectation and the current metadata (libphonenumber v9.0.42 via
//! `rlibphonenumber`) disagree, this is what we follow and why:
//!
//! - Rows copied from libphonenumber's own tests ran against its TEST metadata, which invents
//!   numbering plans. Where the PRODUCTION metadata (the `oracle_*` columns, Python
//!   `phonenumbers` 9.0.43) says such a number is invalid, we refuse it: a number nobody can
//!   dial is no use to a gateway (`011xx5481429712` is refused as an Argentine local number
//!   missing its area code, the others as not valid). Rows: `+54 23 1234 0000` and `023 1234 0000` (AR has no area
//!   23), `011xx5481429712` (US), `123-456-7890` (US area code 123 does not exist),
//!   `1800 six-flags` (one digit too many for a US toll-free number).
//! - Mexico: the file expects the pre-2019 mobile form `+5213312345678` for `+52 1 33 1234-5678`,
//!   `044 (33) 1234-5678` and `045 33 1234-5678`. Production metadata rejects all three forms
//!   (oracle `valid=false`). We follow neither: Mexico dropped the mobile `1`, `044` and `045`
//!   in August 2019, so we rewrite them to today's number `+523312345678` (which the metadata
//!   calls valid). WhatsApp still uses `521…` ids; `WaId::contact_key` matches the two forms.
//! - Mexico `01 (449)978-0001`: the metadata no longer strips the retired `01` long-distance
//!   prefix (oracle `+52014499780001`, invalid); we strip it and agree with the file
//!   (`+524499780001`).
//!
//! Rows expected INVALID are refused, each with the error code listed below.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chasqui_core::phone::{self, PhoneType, RegionCode, WaId, same_person};

fn reference(name: &str) -> String {
    let path = chasqui_testdata::reference_path(env!("CARGO_MANIFEST_DIR"), name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reference file {} is missing or unreadable: {e}",
            path.display()
        )
    })
}

/// One data row of a TSV, by column name.
struct Row<'a> {
    line: usize,
    header: &'a [&'a str],
    cells: Vec<&'a str>,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        let i = self
            .header
            .iter()
            .position(|h| *h == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        self.cells.get(i).copied().unwrap_or("")
    }
}

fn rows<'a>(text: &'a str, header: &'a mut Vec<&'a str>) -> Vec<Row<'a>> {
    let mut lines = text.lines().enumerate();
    let (_, first) = lines.next().expect("empty reference file");
    header.extend(first.split('\t'));
    let header: &'a [&'a str] = header;
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Row {
            line: i + 1,
            header,
            cells: l.split('\t').collect(),
        })
        .collect()
}

/// libphonenumber's `PhoneNumberType` numbering, as written in the `oracle_type` column.
fn oracle_type(code: &str) -> PhoneType {
    match code {
        "0" => PhoneType::FixedLine,
        "1" => PhoneType::Mobile,
        "2" => PhoneType::FixedLineOrMobile,
        "3" => PhoneType::TollFree,
        "4" => PhoneType::PremiumRate,
        "5" => PhoneType::SharedCost,
        "6" => PhoneType::Voip,
        "7" => PhoneType::PersonalNumber,
        "8" => PhoneType::Pager,
        "9" => PhoneType::Uan,
        "10" => PhoneType::Voicemail,
        _ => PhoneType::Unknown,
    }
}

/// Rows whose expectation we do not take from the file as is (see the module comment).
fn deviation(input: &str, region: &str) -> Option<Result<(&'static str, PhoneType), &'static str>> {
    Some(match (input, region) {
        ("+54 23 1234 0000" | "023 1234 0000", "AR") => Err("not_valid"),
        ("011xx5481429712", "US") => Err("missing_area_code"),
        ("123-456-7890", "US") => Err("not_valid"),
        ("1800 six-flags", "US") => Err("too_long"),
        ("+52 1 33 1234-5678" | "044 (33) 1234-5678" | "045 33 1234-5678", "MX") => {
            Ok(("+523312345678", PhoneType::FixedLineOrMobile))
        }
        ("01 (449)978-0001", "MX") => Ok(("+524499780001", PhoneType::FixedLineOrMobile)),
        _ => return None,
    })
}

/// The error code each INVALID row gets.
fn invalid_code(input: &str, region: &str) -> &'static str {
    match (input, region) {
        ("011" | "0119" | "1" | "(213) 37" | "+7 (800) 55-35-35", _) => "too_short",
        ("123 456 7890", "ZZ") => "unknown_region",
        ("This is not a phone number" | "abcdefg", _) => "no_digits",
        ("+1 187 215 5230", _) => "not_valid",
        ("011 61 2 3456 7890", "FR") | ("00 61 2 3456 7890", "US") | ("222222222222222222", _) => {
            "too_long"
        }
        _ => panic!("INVALID row `{input}` ({region}) has no expected error code in this test"),
    }
}

fn parse_row(input: &str, region: &str) -> Result<phone::ParsedPhone, phone::PhoneError> {
    let region = if region.is_empty() {
        None
    } else {
        Some(RegionCode::parse(region)?)
    };
    phone::parse(input, region)
}

#[test]
fn every_phone_number_row() {
    let text = reference("phone_numbers.tsv");
    let mut header = Vec::new();
    let rows = rows(&text, &mut header);
    assert!(
        rows.len() >= 100,
        "phone_numbers.tsv looks truncated: {} rows",
        rows.len()
    );
    let mut failures = Vec::new();
    for row in &rows {
        let (input, region, expected) = (
            row.get("input"),
            row.get("default_region"),
            row.get("expected_e164"),
        );
        let want: Result<(String, PhoneType), &str> = match deviation(input, region) {
            Some(Ok((e164, t))) => Ok((e164.to_owned(), t)),
            Some(Err(code)) => Err(code),
            None if expected == "INVALID" => Err(invalid_code(input, region)),
            None if row.get("oracle_valid") == "true" => {
                assert_eq!(
                    row.get("oracle_e164"),
                    expected,
                    "line {}: file disagrees with itself",
                    row.line
                );
                Ok((expected.to_owned(), oracle_type(row.get("oracle_type"))))
            }
            None => panic!(
                "line {}: `{input}` ({region}) expects {expected} but production metadata calls it invalid; \
                 decide and add it to `deviation`",
                row.line
            ),
        };
        let got = parse_row(input, region)
            .map(|p| (p.phone.to_string(), p.number_type))
            .map_err(|e| e.code());
        if got != want {
            failures.push(format!(
                "line {}: `{input}` ({region}): want {want:?}, got {got:?}",
                row.line
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_wa_id_variant_row() {
    let text = reference("wa_id_variants.tsv");
    let mut header = Vec::new();
    let rows = rows(&text, &mut header);
    assert!(
        rows.len() >= 14,
        "wa_id_variants.tsv looks truncated: {} rows",
        rows.len()
    );
    for row in &rows {
        let (incoming_raw, expected_raw, case) = (
            row.get("incoming_wa_id"),
            row.get("expected_resolved_or_normalized"),
            row.get("case"),
        );
        let ctx = format!(
            "line {}: {incoming_raw} → {expected_raw} ({case})",
            row.line
        );
        let incoming = WaId::parse(incoming_raw).unwrap();
        let expected = WaId::parse(expected_raw).unwrap();
        let digits = incoming.as_str();
        if case.starts_with("match:") || case.starts_with("twilio provider:") {
            assert!(
                same_person(&incoming, &expected),
                "{ctx}: should be the same person"
            );
        } else if case.starts_with("no strip:") {
            // Brazil: dropping the 9 would make a landline; the two must never match.
            assert_eq!(incoming.contact_key().as_str(), expected.as_str(), "{ctx}");
            let landline = WaId::parse(&format!("{}{}", &digits[..4], &digits[5..])).unwrap();
            assert!(
                !same_person(&incoming, &landline),
                "{ctx}: mobile matched its landline twin"
            );
            assert!(
                !same_person(&landline, &incoming),
                "{ctx}: landline matched its mobile twin"
            );
        } else if case.starts_with("no match into 549 contact:") {
            assert_eq!(incoming.contact_key().as_str(), expected.as_str(), "{ctx}");
            let mobile_contact = WaId::parse(&format!("549{}", &digits[2..])).unwrap();
            assert!(
                !same_person(&incoming, &mobile_contact),
                "{ctx}: landline routed to a mobile contact"
            );
        } else if case.starts_with("partial")
            || case.starts_with("no normalizer")
            || case.starts_with("normalize():")
        {
            assert_eq!(incoming.contact_key().as_str(), expected.as_str(), "{ctx}");
            if incoming == expected {
                assert_eq!(
                    incoming.lookup_keys(),
                    vec![incoming.contact_key()],
                    "{ctx}"
                );
            }
        } else {
            panic!("{ctx}: unclassified row; teach this test what it means");
        }
    }
}
