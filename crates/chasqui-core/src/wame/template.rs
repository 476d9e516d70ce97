//! Prefilled-text templates: `{{placeholder}}` syntax, tenant overrides and locale fallback.

use std::collections::BTreeMap;

use serde::Serialize;

use super::texts::builtin;
use super::{LinkContext, LinkError, Locale};

/// Longest tenant template, in characters: a prefilled message is a sentence or two, not a letter.
pub const MAX_TEMPLATE_CHARS: usize = 1000;

/// Longest placeholder name.
const MAX_NAME_LEN: usize = 32;

/// Where a rendered text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateSource {
    /// A text shipped with Chasqui.
    Builtin,
    /// The tenant's own text.
    Override,
}

/// A rendered prefilled message and how it was chosen, so the API can say which locale was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedText {
    /// The message, every placeholder filled.
    pub text: String,
    /// The locale asked for.
    pub requested: Locale,
    /// The locale whose text was used (differs from `requested` after a fallback).
    pub locale: Locale,
    /// Shipped or tenant text.
    pub source: TemplateSource,
}

impl RenderedText {
    /// Whether the requested locale had no text and a more general one was used.
    pub fn fell_back(&self) -> bool {
        self.requested != self.locale
    }
}

/// A tenant's own texts by context and locale, each checked when it is added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateOverrides {
    map: BTreeMap<(LinkContext, Locale), String>,
}

impl TemplateOverrides {
    /// No overrides: every text is the shipped one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a text after [`validate_template`]; this is the "save" check.
    pub fn insert(
        &mut self,
        context: LinkContext,
        locale: Locale,
        template: &str,
    ) -> Result<(), LinkError> {
        validate_template(context, template)?;
        self.map.insert((context, locale), template.to_owned());
        Ok(())
    }

    /// Removes a text, so the shipped one applies again.
    pub fn remove(&mut self, context: LinkContext, locale: &Locale) -> Option<String> {
        self.map.remove(&(context, locale.clone()))
    }

    /// The tenant's text for exactly this context and locale.
    pub fn get(&self, context: LinkContext, locale: &Locale) -> Option<&str> {
        self.map.get(&(context, locale.clone())).map(String::as_str)
    }

    /// Every override, for listing and storage.
    pub fn iter(&self) -> impl Iterator<Item = (LinkContext, &Locale, &str)> {
        self.map.iter().map(|((c, l), t)| (*c, l, t.as_str()))
    }
}

/// Checks a tenant template at save time: not empty, not too long, well-formed braces, and only
/// placeholders its context fills (see [`LinkContext::placeholders`]).
pub fn validate_template(context: LinkContext, template: &str) -> Result<(), LinkError> {
    if template.trim().is_empty() {
        return Err(LinkError::EmptyTemplate);
    }
    if template.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(LinkError::TemplateTooLong {
            max: MAX_TEMPLATE_CHARS,
        });
    }
    for piece in pieces(template)? {
        if let Piece::Placeholder(name) = piece
            && !context.placeholders().contains(&name)
        {
            return Err(LinkError::UnknownPlaceholder {
                placeholder: name.to_owned(),
                context: context.as_str(),
                allowed: context.placeholders(),
            });
        }
    }
    Ok(())
}

/// The template that applies: along the locale's fallback chain, the tenant's text for each
/// locale before the shipped one; English always exists.
pub fn resolve<'a>(
    context: LinkContext,
    locale: &Locale,
    overrides: &'a TemplateOverrides,
) -> (&'a str, Locale, TemplateSource) {
    for candidate in locale.fallback_chain() {
        if let Some(t) = overrides.get(context, &candidate) {
            return (t, candidate, TemplateSource::Override);
        }
        if let Some(t) = builtin(context, candidate.as_str()) {
            return (t, candidate, TemplateSource::Builtin);
        }
    }
    (english(context), Locale::english(), TemplateSource::Builtin)
}

/// Renders a context's text in a locale with the request's values.
///
/// A placeholder without a (non-blank) value is an error naming it; the output never contains
/// `{{…}}`, because values may not contain braces and the template's own text has none.
pub fn render(
    context: LinkContext,
    locale: &Locale,
    data: &BTreeMap<String, String>,
    overrides: &TemplateOverrides,
) -> Result<RenderedText, LinkError> {
    let (template, used, source) = resolve(context, locale, overrides);
    let text = fill(context, template, data)?;
    Ok(RenderedText {
        text,
        requested: locale.clone(),
        locale: used,
        source,
    })
}

/// Fills one template's placeholders from `data`.
fn fill(
    context: LinkContext,
    template: &str,
    data: &BTreeMap<String, String>,
) -> Result<String, LinkError> {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(name) => {
                let value = data
                    .get(name)
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| LinkError::MissingValue {
                        placeholder: name.to_owned(),
                        context: context.as_str(),
                    })?;
                if value.contains(['{', '}']) {
                    return Err(LinkError::InvalidValue {
                        placeholder: name.to_owned(),
                        reason: "may not contain `{` or `}`",
                    });
                }
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

/// English always exists, so [`resolve`] cannot come back empty-handed.
fn english(context: LinkContext) -> &'static str {
    match context {
        LinkContext::Invoice => "Hi! I'm writing about invoice {{number}} for {{amount}}.",
        LinkContext::CustomerProfile => "Hi {{customer_name}}!",
        LinkContext::JobConfirmation => {
            "Hi! We're confirming the job \"{{job}}\" on {{date}} at {{address}}."
        }
        LinkContext::Generic => "Hi!",
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into text and `{{name}}` placeholders; any other brace is an error.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, LinkError> {
    let malformed = |reason: String| LinkError::MalformedTemplate { reason };
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        let (text, tail) = rest.split_at(open);
        if !text.is_empty() {
            out.push(Piece::Text(text));
        }
        let Some(inner_and_rest) = tail.strip_prefix("{{") else {
            return Err(malformed(format!(
                "`{}` is not a placeholder; write placeholders as {{{{name}}}}",
                snippet(tail)
            )));
        };
        let close = inner_and_rest
            .find("}}")
            .ok_or_else(|| malformed(format!("`{}` is never closed with `}}}}`", snippet(tail))))?;
        let name = inner_and_rest[..close].trim();
        let valid_name = name.len() <= MAX_NAME_LEN
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(malformed(format!(
                "`{}` is not a placeholder name: use lower-case letters, digits and _",
                snippet(tail)
            )));
        }
        out.push(Piece::Placeholder(name));
        rest = &inner_and_rest[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// The start of the offending text, for error messages.
fn snippet(s: &str) -> String {
    s.chars().take(24).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wame::texts::BUILTIN_LOCALES;
    use proptest::prelude::*;

    fn locale(tag: &str) -> Locale {
        Locale::parse(tag).unwrap()
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn full_data() -> BTreeMap<String, String> {
        data(&[
            ("number", "A-0042"),
            ("amount", "$ 12.500"),
            ("customer_name", "Ana"),
            ("job", "Cambio de termotanque"),
            ("date", "12/03"),
            ("address", "Av. Corrientes 1234"),
        ])
    }

    #[test]
    fn every_shipped_text_is_valid_and_renders_in_every_shipped_locale() {
        for tag in BUILTIN_LOCALES {
            for context in LinkContext::ALL {
                let template =
                    builtin(context, tag).unwrap_or_else(|| panic!("{context} has no {tag} text"));
                validate_template(context, template).unwrap();
                let rendered = render(
                    context,
                    &locale(tag),
                    &full_data(),
                    &TemplateOverrides::new(),
                )
                .unwrap();
                assert_eq!(rendered.locale.as_str(), *tag);
                assert!(!rendered.text.contains('{'), "{}", rendered.text);
            }
            validate_template(LinkContext::Generic, english(LinkContext::Generic)).unwrap();
        }
        for context in LinkContext::ALL {
            validate_template(context, english(context)).unwrap();
        }
    }

    #[test]
    fn argentine_invoice_text_uses_voseo() {
        let rendered = render(
            LinkContext::Invoice,
            &locale("es-AR"),
            &full_data(),
            &TemplateOverrides::new(),
        )
        .unwrap();
        assert_eq!(
            rendered.text,
            "¡Hola! Te escribo por la factura A-0042 de $ 12.500. ¿Me podés ayudar con esto?"
        );
        assert!(!rendered.fell_back());
    }

    #[test]
    fn locales_fall_back_and_say_which_was_used() {
        let none = TemplateOverrides::new();
        let r = render(LinkContext::Generic, &locale("es-MX"), &full_data(), &none).unwrap();
        assert_eq!((r.requested.as_str(), r.locale.as_str()), ("es-MX", "es"));
        assert!(r.fell_back());
        let r = render(LinkContext::Generic, &locale("pt-PT"), &full_data(), &none).unwrap();
        assert_eq!(r.locale.as_str(), "pt");
        let r = render(LinkContext::Generic, &locale("fr-FR"), &full_data(), &none).unwrap();
        assert_eq!(r.locale.as_str(), "fr");
        let r = render(LinkContext::Generic, &locale("de-AT"), &full_data(), &none).unwrap();
        assert_eq!(r.locale.as_str(), "en");
        assert_eq!(r.text, "Hi! I'd like to ask a question.");
    }

    #[test]
    fn a_missing_value_is_named_never_emitted() {
        let err = render(
            LinkContext::Invoice,
            &locale("es"),
            &data(&[("number", "7")]),
            &TemplateOverrides::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing value for `amount`: the `invoice` text needs it"
        );
        assert_eq!((err.code(), err.field()), ("missing_value", "data"));
        let blank = data(&[("number", "7"), ("amount", "  ")]);
        let err = render(
            LinkContext::Invoice,
            &locale("es"),
            &blank,
            &TemplateOverrides::new(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "missing_value");
    }

    #[test]
    fn values_cannot_smuggle_placeholders() {
        let sneaky = data(&[("number", "{{amount}}"), ("amount", "5")]);
        let err = render(
            LinkContext::Invoice,
            &locale("en"),
            &sneaky,
            &TemplateOverrides::new(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_value");
    }

    #[test]
    fn tenant_overrides_win_for_their_locale_only() {
        let mut overrides = TemplateOverrides::new();
        overrides
            .insert(
                LinkContext::Invoice,
                locale("es"),
                "Consulta por factura {{ number }}",
            )
            .unwrap();
        let r = render(
            LinkContext::Invoice,
            &locale("es-CL"),
            &full_data(),
            &overrides,
        )
        .unwrap();
        assert_eq!(
            (r.text.as_str(), r.source),
            ("Consulta por factura A-0042", TemplateSource::Override)
        );
        let r = render(
            LinkContext::Invoice,
            &locale("es-AR"),
            &full_data(),
            &overrides,
        )
        .unwrap();
        assert_eq!(r.source, TemplateSource::Builtin);
        assert_eq!(overrides.iter().count(), 1);
        overrides.remove(LinkContext::Invoice, &locale("es"));
        assert_eq!(overrides.iter().count(), 0);
    }

    #[test]
    fn bad_overrides_are_refused_at_save_time() {
        let mut overrides = TemplateOverrides::new();
        let code = |template: &str| {
            validate_template(LinkContext::Invoice, template)
                .unwrap_err()
                .code()
        };
        assert_eq!(code("Factura {{numero}}"), "unknown_placeholder");
        assert_eq!(code("Factura {{number}"), "malformed_template");
        assert_eq!(code("Factura {number}"), "malformed_template");
        assert_eq!(code("Factura number}}"), "malformed_template");
        assert_eq!(code("Factura {{Number}}"), "malformed_template");
        assert_eq!(code("{{}}"), "malformed_template");
        assert_eq!(code("  "), "empty_template");
        assert_eq!(
            code(&"a".repeat(MAX_TEMPLATE_CHARS + 1)),
            "template_too_long"
        );
        let err = overrides
            .insert(LinkContext::Generic, locale("en"), "Hi {{number}}")
            .unwrap_err();
        assert_eq!(err.field(), "template");
        assert!(
            err.to_string().contains("customer_name, business_name"),
            "{err}"
        );
        assert_eq!(overrides, TemplateOverrides::new());
    }

    proptest! {
        #[test]
        fn validating_never_panics(template in any::<String>()) {
            let _ = validate_template(LinkContext::Invoice, &template);
        }

        #[test]
        fn valid_templates_never_emit_braces(
            pieces in proptest::collection::vec(("[^{}]{0,12}", prop::sample::select(LinkContext::Invoice.placeholders())), 0..5),
            value in "[^{}]{1,12}",
        ) {
            let template: String = pieces.iter().map(|(t, p)| format!("{t}{{{{{p}}}}}")).collect::<String>() + "!";
            validate_template(LinkContext::Invoice, &template).unwrap();
            let values = LinkContext::Invoice.placeholders().iter().map(|p| ((*p).to_owned(), format!("x{value}"))).collect();
            let text = fill(LinkContext::Invoice, &template, &values).unwrap();
            prop_assert!(!text.contains("{{") && !text.contains("}}"));
        }
    }
}
