//! One link request as the API and CLI receive it, turned into a link in one call.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    LinkContext, LinkError, Locale, RefCode, TemplateOverrides, TemplateSource, WaMeLink,
    append_ref, render,
};
use crate::phone::{PhoneE164, RegionCode};

/// The fields of `POST /v1/links` (and of the QR endpoints' query string), unvalidated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkRequest {
    /// The number to chat with, as typed; the tenant's own number when absent.
    pub phone: Option<String>,
    /// The region to read a national `phone` in; the tenant's default when absent.
    pub region: Option<String>,
    /// A free prefilled message (alone, or with the `generic` context).
    pub text: Option<String>,
    /// A template context (`invoice`, `customer_profile`, `job_confirmation`, `generic`).
    pub context: Option<String>,
    /// Values for the context's placeholders; strings, numbers and booleans are accepted.
    pub data: BTreeMap<String, serde_json::Value>,
    /// The locale of the text; the tenant's default when absent.
    pub locale: Option<String>,
    /// An attribution code appended to the text as `[ref:CODE]`.
    #[serde(rename = "ref")]
    pub ref_code: Option<String>,
}

/// A tenant's link settings: what a request falls back on.
#[derive(Debug, Clone, Copy)]
pub struct LinkDefaults<'a> {
    /// The tenant's WhatsApp number, used when a request names none.
    pub phone: Option<&'a PhoneE164>,
    /// The tenant's default region for reading national numbers.
    pub region: Option<RegionCode>,
    /// The tenant's default locale for template texts.
    pub locale: &'a Locale,
    /// The tenant's own template texts.
    pub overrides: &'a TemplateOverrides,
}

/// A finished link and how it was made, for the API answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLink {
    /// The link.
    pub link: WaMeLink,
    /// The locale whose template text was used, when a context was rendered.
    pub locale_used: Option<Locale>,
    /// Shipped or tenant text, when a context was rendered.
    pub template_source: Option<TemplateSource>,
    /// The attribution code carried in the text.
    pub ref_code: Option<RefCode>,
}

impl LinkRequest {
    /// Validates every field and builds the link; the first problem found is returned.
    ///
    /// Order: region, phone, ref, context, locale, text/template, link length. A request with
    /// neither `text` nor `context` makes a link with no prefilled message; a `ref` alone
    /// becomes the whole message.
    pub fn build(&self, defaults: &LinkDefaults<'_>) -> Result<BuiltLink, LinkError> {
        let region = match non_blank(&self.region) {
            Some(r) => Some(RegionCode::parse(r)?),
            None => defaults.region,
        };
        let phone = match non_blank(&self.phone) {
            Some(p) => Some(PhoneE164::parse(p, region)?),
            None => defaults.phone.cloned(),
        };
        let ref_code = non_blank(&self.ref_code).map(RefCode::parse).transpose()?;
        let context = non_blank(&self.context)
            .map(LinkContext::parse)
            .transpose()?;
        let locale = non_blank(&self.locale).map(Locale::parse).transpose()?;
        let free_text = non_blank(&self.text);

        let (text, locale_used, template_source) = match (free_text, context) {
            (Some(_), Some(c)) if c != LinkContext::Generic => {
                return Err(LinkError::TextWithContext);
            }
            (Some(t), _) => (Some(t.to_owned()), None, None),
            (None, Some(c)) => {
                let locale = locale.as_ref().unwrap_or(defaults.locale);
                let rendered = render(c, locale, &self.data_as_text()?, defaults.overrides)?;
                (
                    Some(rendered.text),
                    Some(rendered.locale),
                    Some(rendered.source),
                )
            }
            (None, None) => (None, None, None),
        };
        let text = match (&ref_code, text) {
            (Some(code), text) => Some(append_ref(text.as_deref().unwrap_or(""), code)),
            (None, text) => text,
        };
        let link = WaMeLink::new(phone.as_ref(), text.as_deref())?;
        Ok(BuiltLink {
            link,
            locale_used,
            template_source,
            ref_code,
        })
    }

    /// `data` as text: numbers and booleans as written in JSON, `null` as absent.
    fn data_as_text(&self) -> Result<BTreeMap<String, String>, LinkError> {
        let mut out = BTreeMap::new();
        for (key, value) in &self.data {
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(LinkError::InvalidValue {
                        placeholder: key.clone(),
                        reason: "must be text or a number",
                    });
                }
            };
            out.insert(key.clone(), text);
        }
        Ok(out)
    }
}

fn non_blank(field: &Option<String>) -> Option<&str> {
    field.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wame::{decode_text, extract_ref};

    fn request(json: &str) -> LinkRequest {
        serde_json::from_str(json).unwrap()
    }

    fn build(json: &str) -> Result<BuiltLink, LinkError> {
        let tenant = PhoneE164::parse("+54 9 343 555 1212", None).unwrap();
        let locale = Locale::parse("es-AR").unwrap();
        let overrides = TemplateOverrides::new();
        let defaults = LinkDefaults {
            phone: Some(&tenant),
            region: Some(RegionCode::parse("AR").unwrap()),
            locale: &locale,
            overrides: &overrides,
        };
        request(json).build(&defaults)
    }

    fn text_of(link: &WaMeLink) -> String {
        let encoded = link.as_str().split_once("?text=").unwrap().1;
        decode_text(encoded).unwrap()
    }

    #[test]
    fn an_invoice_link_with_ref_for_the_tenants_number() {
        let built =
            build(r#"{"context": "invoice", "data": {"number": "A-0042", "amount": 12500}, "ref": "inv-0042"}"#).unwrap();
        assert!(
            built
                .link
                .as_str()
                .starts_with("https://wa.me/5493435551212?text=")
        );
        assert_eq!(
            text_of(&built.link),
            "¡Hola! Te escribo por la factura A-0042 de 12500. ¿Me podés ayudar con esto?\n[ref:INV-0042]"
        );
        assert_eq!(
            extract_ref(&text_of(&built.link)).unwrap().as_str(),
            "INV-0042"
        );
        assert_eq!(built.locale_used.unwrap().as_str(), "es-AR");
        assert_eq!(built.template_source, Some(TemplateSource::Builtin));
    }

    #[test]
    fn a_typed_number_in_the_tenants_region() {
        let built = build(r#"{"phone": "011 15-2345-6789", "text": "Hola"}"#).unwrap();
        assert_eq!(built.link.as_str(), "https://wa.me/5491123456789?text=Hola");
        assert_eq!(built.link.phone().unwrap().as_str(), "+5491123456789");
        let built = build(r#"{"phone": "06 12 34 56 78", "region": "fr"}"#).unwrap();
        assert_eq!(built.link.as_str(), "https://wa.me/33612345678");
    }

    #[test]
    fn each_bad_field_gets_its_own_error() {
        let field = |json: &str| {
            let e = build(json).unwrap_err();
            (e.code(), e.field())
        };
        assert_eq!(field(r#"{"phone": "123"}"#), ("too_short", "phone"));
        assert_eq!(
            field(r#"{"phone": "123", "region": "XX"}"#),
            ("unknown_region", "region")
        );
        assert_eq!(
            field(r#"{"context": "receipt"}"#),
            ("unknown_context", "context")
        );
        assert_eq!(
            field(r#"{"context": "invoice", "locale": "xx-!!"}"#),
            ("invalid_locale", "locale")
        );
        assert_eq!(
            field(r#"{"context": "invoice", "data": {"number": "1"}}"#),
            ("missing_value", "data")
        );
        assert_eq!(
            field(r#"{"context": "invoice", "data": {"number": [1]}}"#),
            ("invalid_value", "data")
        );
        assert_eq!(
            field(r#"{"context": "invoice", "text": "hola"}"#),
            ("text_with_context", "text")
        );
        assert_eq!(
            field(r#"{"text": "hola", "ref": "a b"}"#),
            ("ref_invalid_char", "ref")
        );
        let long = format!(r#"{{"text": "{}"}}"#, "é".repeat(400));
        assert_eq!(field(&long), ("text_too_long", "text"));
    }

    #[test]
    fn generic_takes_a_free_text_or_greets() {
        let built = build(r#"{"context": "generic", "text": "Quiero un turno"}"#).unwrap();
        assert_eq!(text_of(&built.link), "Quiero un turno");
        let built = build(r#"{"context": "generic", "locale": "pt_BR"}"#).unwrap();
        assert_eq!(text_of(&built.link), "Olá! Gostaria de tirar uma dúvida.");
        let built = build(r#"{"context": "generic", "locale": "it"}"#).unwrap();
        assert_eq!(built.locale_used.unwrap().as_str(), "en");
    }

    #[test]
    fn no_phone_anywhere_makes_a_share_link() {
        let locale = Locale::english();
        let overrides = TemplateOverrides::new();
        let defaults = LinkDefaults {
            phone: None,
            region: None,
            locale: &locale,
            overrides: &overrides,
        };
        let built = request(r#"{"text": "Mirá esto"}"#)
            .build(&defaults)
            .unwrap();
        assert_eq!(built.link.as_str(), "https://wa.me/?text=Mir%C3%A1%20esto");
        assert_eq!(
            request("{}").build(&defaults).unwrap_err().code(),
            "empty_link"
        );
    }
}
