//! `{{1}}` and `{{first_name}}` placeholders in template texts: finding them and filling them in.

use std::fmt;

/// One placeholder in a template text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    /// `{{1}}`, `{{2}}`… (1-based).
    Positional(usize),
    /// `{{first_name}}` (templates with `parameter_format: NAMED`).
    Named(String),
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Positional(n) => write!(f, "{{{{{n}}}}}"),
            Self::Named(name) => write!(f, "{{{{{name}}}}}"),
        }
    }
}

/// A piece of a template text: literal text or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Slot(Placeholder),
}

/// Splits a text into literals and placeholders. `{{ 1 }}` is read like `{{1}}`; braces that
/// hold anything else (`{{}}`, `{{Hola!}}`, an unclosed `{{`) are literal text.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut literal_start = 0usize;
    let mut offset = 0usize;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            break;
        };
        let inner = after_open[..close].trim();
        let consumed = open + 2 + close + 2;
        match parse_name(inner) {
            Some(p) => {
                let start = offset + open;
                if start > literal_start {
                    out.push(Piece::Literal(&text[literal_start..start]));
                }
                out.push(Piece::Slot(p));
                literal_start = offset + consumed;
                offset += consumed;
                rest = &rest[consumed..];
            }
            None => {
                // Skip one brace only, so `{{{1}}` still finds `{{1}}`.
                offset += open + 1;
                rest = &rest[open + 1..];
            }
        }
    }
    if literal_start < text.len() {
        out.push(Piece::Literal(&text[literal_start..]));
    }
    out
}

fn parse_name(inner: &str) -> Option<Placeholder> {
    if !inner.is_empty() && inner.len() <= 4 && inner.bytes().all(|b| b.is_ascii_digit()) {
        return inner
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Placeholder::Positional);
    }
    let mut bytes = inner.bytes();
    let first = bytes.next()?;
    let ok = (first.is_ascii_lowercase() || first == b'_')
        && inner.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then(|| Placeholder::Named(inner.to_owned()))
}

/// The distinct placeholders of `text`: positional ones sorted by number, named ones in order
/// of first appearance.
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut found: Vec<Placeholder> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Slot(p) = piece
            && !found.contains(&p)
        {
            found.push(p);
        }
    }
    found.sort_by(|a, b| match (a, b) {
        (Placeholder::Positional(x), Placeholder::Positional(y)) => x.cmp(y),
        (Placeholder::Positional(_), Placeholder::Named(_)) => std::cmp::Ordering::Less,
        (Placeholder::Named(_), Placeholder::Positional(_)) => std::cmp::Ordering::Greater,
        (Placeholder::Named(_), Placeholder::Named(_)) => std::cmp::Ordering::Equal,
    });
    found
}

/// How many positional parameters a text takes: its highest `{{n}}` (Meta numbers them 1…n).
pub fn positional_count(text: &str) -> usize {
    placeholders(text)
        .iter()
        .filter_map(|p| match p {
            Placeholder::Positional(n) => Some(*n),
            Placeholder::Named(_) => None,
        })
        .max()
        .unwrap_or(0)
}

/// Fills every placeholder in one pass (a value that itself contains `{{1}}` is not re-read);
/// a placeholder `value` has no answer for becomes empty, so no `{{…}}` placeholder survives.
pub fn fill(text: &str, value: impl Fn(&Placeholder) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Slot(p) => out.push_str(&value(&p).unwrap_or_default()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_positional_and_named() {
        assert_eq!(
            placeholders("Hola {{1}}, tu turno es el {{2}} a las {{3}}. {{1}}"),
            vec![
                Placeholder::Positional(1),
                Placeholder::Positional(2),
                Placeholder::Positional(3)
            ]
        );
        assert_eq!(
            placeholders("Hi {{first_name}}, order {{ order_id }}"),
            vec![
                Placeholder::Named("first_name".into()),
                Placeholder::Named("order_id".into())
            ]
        );
        assert_eq!(positional_count("{{2}} and {{1}}"), 2);
        assert_eq!(positional_count("no params"), 0);
    }

    #[test]
    fn odd_braces_are_literal() {
        assert!(placeholders("{{}} {{Hola!}} {{ 0 }} {{1").is_empty());
        assert_eq!(placeholders("{{{1}}}"), vec![Placeholder::Positional(1)]);
        assert_eq!(fill("{{{1}}}", |_| Some("x".into())), "{x}");
        assert_eq!(fill("a {{b c}} d", |_| Some("x".into())), "a {{b c}} d");
    }

    #[test]
    fn fills_in_one_pass() {
        let text = "Hola {{1}}, código {{2}}";
        let out = fill(text, |p| match p {
            Placeholder::Positional(1) => Some("{{2}}".into()),
            Placeholder::Positional(2) => Some("123".into()),
            _ => None,
        });
        assert_eq!(out, "Hola {{2}}, código 123");
        assert_eq!(Placeholder::Positional(3).to_string(), "{{3}}");
        assert_eq!(Placeholder::Named("x".into()).to_string(), "{{x}}");
    }

    proptest! {
        #[test]
        fn filled_text_has_no_placeholders_left(
            text in "[^{}]{0,40}", value in "[^{}]{0,10}", n in 1usize..5
        ) {
            let template = format!("{text}{{{{{n}}}}}{text}{{{{name}}}}{{{{ 1 }}}}");
            let out = fill(&template, |_| Some(value.clone()));
            prop_assert!(!out.contains("{{"), "{}", out);
            prop_assert!(placeholders(&out).is_empty());
            let plain = fill("A {{1}} B {{x}}", |_| None);
            prop_assert_eq!(plain, "A  B ");
        }

        #[test]
        fn never_panics(text in "\\PC{0,60}") {
            let _ = placeholders(&text);
            let _ = fill(&text, |_| Some("é".into()));
        }
    }
}
