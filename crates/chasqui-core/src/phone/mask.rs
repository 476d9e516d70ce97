//! Hiding phone numbers in logs and UI lists while keeping enough to recognise them.

use rlibphonenumber::PHONE_NUMBER_UTIL;

use super::PhoneE164;

/// How many trailing digits stay visible; the same rule as card numbers.
const VISIBLE_TAIL: usize = 4;

impl PhoneE164 {
    /// The international format with the subscriber's middle hidden: `+54 9 11 ****-6789`.
    ///
    /// Country code and area code stay readable (they say where, not who) and the last 4 digits
    /// stay visible; when the number is too short for that to hide at least 3 digits, the area
    /// code is hidden too.
    pub fn masked(&self) -> String {
        let formatted = self.format_international();
        let national_len = self.national_number().len();
        let area_len = self.metadata().map_or(0, |n| {
            PHONE_NUMBER_UTIL.get_length_of_national_destination_code(&n)
        });
        let tail = VISIBLE_TAIL.min(national_len / 2);
        let area = if national_len.saturating_sub(area_len + tail) >= 3 {
            area_len
        } else {
            0
        };
        let head = self.digits().len() - national_len + area;
        let total = formatted.chars().filter(char::is_ascii_digit).count();
        let mut seen = 0;
        formatted
            .chars()
            .map(|c| {
                if !c.is_ascii_digit() {
                    return c;
                }
                seen += 1;
                if seen <= head || seen > total.saturating_sub(tail) {
                    c
                } else {
                    '*'
                }
            })
            .collect()
    }
}

/// Masks every phone-like run of digits in free text (log lines, provider error messages).
///
/// A run is digits joined only by spaces or `+ - . ( ) /` (and their Unicode look-alikes); in a
/// run of 5 or more digits every digit but the last 4 becomes `*`. Digits of any script count,
/// the text keeps its length in characters, and nothing can make it panic. It over-masks
/// (dates, amounts) rather than leak.
pub fn mask_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_numeric() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut j = i;
        while j < chars.len() && (chars[j].is_numeric() || is_joiner(chars[j])) {
            if chars[j].is_numeric() {
                end = j;
            }
            j += 1;
        }
        let digits: Vec<usize> = (start..=end).filter(|&k| chars[k].is_numeric()).collect();
        if digits.len() > VISIBLE_TAIL {
            for &k in &digits[..digits.len() - VISIBLE_TAIL] {
                out[k] = '*';
            }
        }
        i = end + 1;
    }
    out.into_iter().collect()
}

fn is_joiner(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '+' | '-' | '.' | '(' | ')' | '/' | '\u{AD}' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{FF0B}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::phone::RegionCode;
    use proptest::prelude::*;

    fn masked(input: &str) -> String {
        PhoneE164::parse(input, None).unwrap().masked()
    }

    #[test]
    fn country_and_area_stay_readable_the_middle_is_hidden() {
        assert_eq!(masked("+54 9 11 2345-6789"), "+54 9 11 ****-6789");
        assert_eq!(masked("+54 11 2345-6789"), "+54 11 ****-6789");
        assert_eq!(masked("+1 650 253 0000"), "+1 650-***-0000");
        assert_eq!(masked("+33 6 12 34 56 78"), "+33 6 ** ** 56 78");
        assert_eq!(masked("+91 98765 43210"), "+91 ***** *3210");
        assert_eq!(masked("+55 11 96123-4567"), "+55 11 *****-4567");
    }

    #[test]
    fn short_numbers_hide_the_area_code_too() {
        let niue = PhoneE164::parse("+683 7012", None).unwrap();
        let masked = niue.masked();
        assert!(masked.ends_with("12"), "{masked}");
        assert_eq!(
            masked.chars().filter(char::is_ascii_digit).count(),
            5,
            "{masked}"
        );
        let br = PhoneE164::parse("4004-1234", Some(RegionCode::parse("BR").unwrap())).unwrap();
        assert_eq!(br.masked(), "+55 ****-1234");
    }

    #[test]
    fn free_text_keeps_only_the_last_four_digits() {
        assert_eq!(
            mask_digits("sent to +54 9 11 2345-6789 ok"),
            "sent to +** * ** ****-6789 ok"
        );
        assert_eq!(mask_digits("wa_id=5491123456789,"), "wa_id=*********6789,");
        assert_eq!(mask_digits("code 1234 and 56"), "code 1234 and 56");
        assert_eq!(
            mask_digits("011   15   2345   6789"),
            "***   **   ****   6789"
        );
        assert_eq!(mask_digits("tel:+١٢١٢٢٣٢٣٢٣٢"), "tel:+*******٣٢٣٢");
        assert_eq!(mask_digits(""), "");
        assert_eq!(mask_digits("no numbers"), "no numbers");
    }

    proptest! {
        #[test]
        fn masking_never_panics_and_keeps_length(text in any::<String>()) {
            let out = mask_digits(&text);
            prop_assert_eq!(out.chars().count(), text.chars().count());
        }

        #[test]
        fn a_number_in_text_reveals_at_most_its_last_four_digits(
            before in "[a-zA-Z,:=]{0,10}[a-zA-Z,:=]",
            after in "[a-zA-Z,:=][a-zA-Z,:= ]{0,10}",
            groups in proptest::collection::vec(("[0-9]{1,4}", "[ .()/+-]{0,3}"), 2..6),
        ) {
            let number: String = groups.iter().map(|(d, j)| format!("{d}{j}")).collect();
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            let out = mask_digits(&format!("{before}{number}{after}"));
            let visible: String = out.chars().filter(char::is_ascii_digit).collect();
            if digits.len() > 4 {
                prop_assert_eq!(visible, digits[digits.len() - 4..].to_owned());
            } else {
                prop_assert_eq!(visible, digits);
            }
        }

        #[test]
        fn masked_numbers_keep_only_country_area_and_last_four(sub in 10_000_000u32..99_999_999) {
            let parsed = PhoneE164::parse(&format!("+54 9 11 {sub}"), None);
            prop_assume!(parsed.is_ok());
            let phone = parsed.unwrap();
            let masked = phone.masked();
            let visible: String = masked.chars().filter(char::is_ascii_digit).collect();
            let digits = phone.digits();
            prop_assert_eq!(visible, format!("{}{}", &digits[..5], &digits[digits.len() - 4..]));
        }
    }
}
