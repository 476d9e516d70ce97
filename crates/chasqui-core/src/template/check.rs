//! Choosing the template a send names (name, language, status) and checking its values against
//! the template's components: count, kind, names and lengths per component.

use std::collections::BTreeMap;

use crate::send::MediaLookup;
use crate::send::error::{
    Result, SendErrorKind, SendValidationError, duplicate, invalid_format, name, quoted_list,
    shorten,
};
use crate::send::json::chars;
use crate::send::media::{MediaKind, check_uploaded};

use super::model::{Button, ButtonKind, ButtonParam, HeaderFormat, ParameterFormat, Template};
use super::params::{
    ComponentParams, ComponentTarget, Param, ParamValue, TemplateMessage, TemplateParams,
    normalize_language,
};
use super::placeholder::Placeholder;
use super::render::{RenderedTemplate, render_checked};

/// Longest body once its parameters are filled in (Meta 132005).
pub const MAX_BODY_CHARS: usize = 1024;
/// Longest header text once its parameter is filled in.
pub const MAX_HEADER_CHARS: usize = 60;
/// Longest one-time password or coupon code.
pub const MAX_CODE_CHARS: usize = 15;

/// Whether a send may use another language of the template when the one asked for is missing.
///
/// Meta only delivers a template in a language it was approved in, with the exact code
/// (`es_AR` and `es` are different templates), so the default is [`Exact`](Self::Exact): a
/// missing language is an error listing the languages that exist. A tenant may opt in to
/// [`Chain`](Self::Chain): `es_AR` → `es` → other `es_*` → `en` → `en_US` → `en_GB`, first
/// approved one wins, and the send goes out with that language's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LanguageFallback {
    /// Only the exact language asked for.
    #[default]
    Exact,
    /// Walk [`fallback_chain`] for an approved translation.
    Chain,
}

/// The languages tried for `language`, best first: itself, its base language, its other regional
/// variants (from `available`, sorted), then English (`en`, `en_US`, `en_GB`).
pub fn fallback_chain(language: &str, available: &[&str]) -> Vec<String> {
    let language = normalize_language(language);
    let base = language.split('_').next().unwrap_or(&language).to_owned();
    let mut chain = vec![language, base.clone()];
    let mut siblings: Vec<String> = available
        .iter()
        .map(|l| normalize_language(l))
        .filter(|l| l.split('_').next() == Some(base.as_str()))
        .collect();
    siblings.sort();
    chain.extend(siblings);
    chain.extend(["en", "en_US", "en_GB"].map(str::to_owned));
    let mut seen = Vec::new();
    chain.retain(|l| {
        if seen.contains(l) {
            false
        } else {
            seen.push(l.clone());
            true
        }
    });
    chain
}

/// The template chosen for a send.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedTemplate<'a> {
    /// The template, in the language that will be sent.
    pub template: &'a Template,
    /// The language asked for (normalised).
    pub requested_language: String,
    /// Whether [`LanguageFallback::Chain`] picked another language than the one asked for.
    pub fell_back: bool,
    /// The message as the customer will see it.
    pub rendered: RenderedTemplate,
}

/// Finds the template `message` names, checks its values and renders it.
pub fn prepare<'a>(
    templates: &'a [Template],
    message: &TemplateMessage,
    fallback: LanguageFallback,
    media: Option<&dyn MediaLookup>,
) -> Result<PreparedTemplate<'a>> {
    let template = find_template(templates, message, fallback)?;
    check_params(template, &message.params, media)?;
    Ok(PreparedTemplate {
        template,
        requested_language: message.language.clone(),
        fell_back: normalize_language(&template.language) != message.language,
        rendered: render_checked(template, &message.params),
    })
}

/// The template named by `message` in its language (or, with [`LanguageFallback::Chain`], the
/// first approved one along the fallback chain); it must be sendable (approved).
pub fn find_template<'a>(
    templates: &'a [Template],
    message: &TemplateMessage,
    fallback: LanguageFallback,
) -> Result<&'a Template> {
    let named: Vec<&Template> = templates
        .iter()
        .filter(|t| t.name == message.name)
        .collect();
    if named.is_empty() {
        return Err(not_found(templates, message));
    }
    let in_language = |lang: &str| {
        named
            .iter()
            .copied()
            .find(|t| normalize_language(&t.language) == lang)
    };
    let chosen = match fallback {
        LanguageFallback::Exact => in_language(&message.language),
        LanguageFallback::Chain => {
            let available: Vec<&str> = named.iter().map(|t| t.language.as_str()).collect();
            let chain = fallback_chain(&message.language, &available);
            let candidates: Vec<&Template> = chain.iter().filter_map(|l| in_language(l)).collect();
            candidates
                .iter()
                .copied()
                .find(|t| t.status.is_sendable())
                .or_else(|| candidates.first().copied())
        }
    };
    let Some(template) = chosen else {
        let mut available: Vec<String> = named.iter().map(|t| t.language.clone()).collect();
        available.sort();
        available.dedup();
        let hint = match fallback {
            LanguageFallback::Exact => {
                " Meta needs the exact language code of an approved translation: send one of \
                 those, add the translation in WhatsApp Manager, or enable language fallback for \
                 this tenant."
            }
            LanguageFallback::Chain => " No fallback language exists either.",
        };
        return Err(SendValidationError::new(
            SendErrorKind::TemplateLanguageUnavailable {
                requested: message.language.clone(),
                available: available.clone(),
            },
            message.language_path.clone(),
            format!(
                "Template `{}` does not exist in `{}`; it exists in {}.{hint}",
                message.name,
                message.language,
                quoted_list(&available)
            ),
        ));
    };
    if !template.status.is_sendable() {
        return Err(SendValidationError::new(
            SendErrorKind::TemplateNotApproved {
                status: template.status.clone(),
            },
            message.name_path.clone(),
            format!(
                "Template `{}` ({}) is {}, not approved, so WhatsApp will not deliver it: {}.",
                template.name,
                template.language,
                template.status,
                template.status.advice()
            ),
        ));
    }
    Ok(template)
}

fn not_found(templates: &[Template], message: &TemplateMessage) -> SendValidationError {
    let wanted = message.name.to_lowercase();
    let mut similar: Vec<String> = templates
        .iter()
        .map(|t| t.name.clone())
        .filter(|n| {
            let lower = n.to_lowercase();
            lower == wanted || edit_distance(&lower, &wanted) <= 2
        })
        .collect();
    similar.sort();
    similar.dedup();
    similar.truncate(5);
    let hint = if similar.is_empty() {
        String::new()
    } else {
        format!(" Did you mean {}?", quoted_list(&similar))
    };
    SendValidationError::new(
        SendErrorKind::TemplateNotFound { similar },
        message.name_path.clone(),
        format!(
            "No template named `{}` is known for this WhatsApp account: create it in WhatsApp \
             Manager and sync templates, or check the name (GET /v1/templates lists them).{hint}",
            shorten(&message.name, 80)
        ),
    )
}

/// Levenshtein distance, capped for long inputs (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(128).collect();
    let b: Vec<char> = b.chars().take(128).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Checks the values of a send against the template: every component it needs is there with
/// the right number, kinds and names of parameters, values WhatsApp accepts, and the filled-in
/// texts within limits. Components with an empty `parameters` array count as absent.
pub fn check_params(
    template: &Template,
    params: &TemplateParams,
    media: Option<&dyn MediaLookup>,
) -> Result<()> {
    let mut header = None;
    let mut body = None;
    let mut buttons: BTreeMap<usize, &ComponentParams> = BTreeMap::new();
    for c in &params.components {
        let kind_path = format!("{}.type", c.path);
        match &c.target {
            ComponentTarget::Header | ComponentTarget::Body | ComponentTarget::Button { .. }
                if c.parameters.is_empty() => {}
            ComponentTarget::Header => {
                if header.replace(c).is_some() {
                    return Err(duplicate(&kind_path, "component type", "header"));
                }
            }
            ComponentTarget::Body => {
                if body.replace(c).is_some() {
                    return Err(duplicate(&kind_path, "component type", "body"));
                }
            }
            ComponentTarget::Button { index, .. } => {
                if buttons.insert(*index, c).is_some() {
                    return Err(duplicate(
                        &format!("{}.index", c.path),
                        "button index",
                        &index.to_string(),
                    ));
                }
            }
            ComponentTarget::Other(kind) => {
                if !template.has_unmodelled_components() {
                    return Err(SendValidationError::new(
                        SendErrorKind::TemplateComponentUnknown,
                        kind_path,
                        format!(
                            "Template `{}` has no `{}` component: components are `header`, `body` \
                             and `button`.",
                            template.name,
                            shorten(kind, 30)
                        ),
                    ));
                }
            }
        }
    }
    let ctx = Ctx {
        template,
        named: template.parameter_format() == ParameterFormat::Named,
        components_path: &params.path,
    };
    ctx.header(header, media)?;
    ctx.body(body)?;
    ctx.buttons(&buttons)?;
    let rendered = render_checked(template, params);
    if let Some(text) = rendered.header_text() {
        let n = chars(text);
        if n > MAX_HEADER_CHARS {
            let path = header.map_or(params.path.clone(), |h| h.path.clone());
            return Err(text_too_long(&path, "header", MAX_HEADER_CHARS, n));
        }
    }
    let n = chars(&rendered.body);
    if n > MAX_BODY_CHARS {
        let path = body.map_or(params.path.clone(), |b| b.path.clone());
        return Err(text_too_long(&path, "body", MAX_BODY_CHARS, n));
    }
    Ok(())
}

fn text_too_long(path: &str, what: &str, max: usize, actual: usize) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::TemplateTextTooLong { max, actual },
        path,
        format!(
            "With its parameters filled in, the template's {what} is {actual} characters long; \
             WhatsApp allows at most {max}. Shorten the values."
        ),
    )
}

struct Ctx<'a> {
    template: &'a Template,
    named: bool,
    components_path: &'a str,
}

impl Ctx<'_> {
    fn header(
        &self,
        given: Option<&ComponentParams>,
        media: Option<&dyn MediaLookup>,
    ) -> Result<()> {
        let t = self.template;
        let Some(header) = t.header() else {
            return match given {
                Some(c) => Err(self.unknown_component(c, "has no header")),
                None => Ok(()),
            };
        };
        let (wanted, example) = match &header.format {
            HeaderFormat::Text => {
                let expected = t.header_placeholders();
                return self.text_params(given, &expected, "header", TextRule::Header);
            }
            HeaderFormat::Image => (
                "image",
                "{\"type\": \"image\", \"image\": {\"link\": \"https://…\"}}",
            ),
            HeaderFormat::Video => (
                "video",
                "{\"type\": \"video\", \"video\": {\"link\": \"https://…\"}}",
            ),
            HeaderFormat::Document => (
                "document",
                "{\"type\": \"document\", \"document\": {\"link\": \"https://…/file.pdf\", \"filename\": \"file.pdf\"}}",
            ),
            HeaderFormat::Location => (
                "location",
                "{\"type\": \"location\", \"location\": {\"latitude\": …, \"longitude\": …, \"name\": \"…\", \"address\": \"…\"}}",
            ),
            HeaderFormat::Other(_) => return Ok(()),
        };
        let Some(c) = given else {
            return Err(SendValidationError::new(
                SendErrorKind::TemplateComponentMissing,
                self.components_path,
                format!(
                    "Template `{}` has a {} header, so each message must carry it: add \
                     {{\"type\": \"header\", \"parameters\": [{example}]}} to {}.",
                    t.name,
                    wanted,
                    name(self.components_path)
                ),
            ));
        };
        self.count(c, 1, "header")?;
        let p = &c.parameters[0];
        if p.value.type_name() != wanted {
            return Err(param_type(
                p,
                &[wanted],
                &format!("the template's header is {wanted}"),
            ));
        }
        let (source, kind, pdf_only) = match &p.value {
            ParamValue::Image(s) => (s, MediaKind::Image, false),
            ParamValue::Video(s) => (s, MediaKind::Video, false),
            ParamValue::Document(s, _) => (s, MediaKind::Document, true),
            _ => return Ok(()),
        };
        let path = format!("{}.{wanted}.id", p.path);
        check_uploaded(source, kind, pdf_only, media, &path)?;
        Ok(())
    }

    fn body(&self, given: Option<&ComponentParams>) -> Result<()> {
        let expected = self.template.body_placeholders();
        self.text_params(given, &expected, "body", TextRule::Body)
    }

    /// Header or body text parameters against the placeholders of the text.
    fn text_params(
        &self,
        given: Option<&ComponentParams>,
        expected: &[Placeholder],
        what: &str,
        rule: TextRule,
    ) -> Result<()> {
        let t = self.template;
        let listed = expected
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let Some(c) = given else {
            if expected.is_empty() {
                return Ok(());
            }
            let example = if self.named {
                "{\"type\": \"text\", \"parameter_name\": \"…\", \"text\": \"…\"}"
            } else {
                "{\"type\": \"text\", \"text\": \"…\"}"
            };
            return Err(SendValidationError::new(
                SendErrorKind::TemplateComponentMissing,
                self.components_path,
                format!(
                    "Template `{}` has {} {what} parameter{} ({listed}): add {{\"type\": \"{what}\", \
                     \"parameters\": [{example}, …]}} to {}.",
                    t.name,
                    expected.len(),
                    if expected.len() == 1 { "" } else { "s" },
                    name(self.components_path)
                ),
            ));
        };
        if expected.is_empty() {
            return Err(SendValidationError::new(
                SendErrorKind::TemplateParameterCount {
                    expected: 0,
                    actual: c.parameters.len(),
                },
                format!("{}.parameters", c.path),
                format!(
                    "The {what} of template `{}` is fixed text with no parameters: remove this component.",
                    t.name
                ),
            ));
        }
        self.count(c, expected.len(), what)?;
        let allowed: &[&str] = match rule {
            TextRule::Header => &["text"],
            TextRule::Body => &["text", "currency", "date_time"],
        };
        let mut seen: Vec<&str> = Vec::new();
        for p in &c.parameters {
            if !allowed.contains(&p.value.type_name()) {
                return Err(param_type(
                    p,
                    allowed,
                    &format!("{what} parameters are text"),
                ));
            }
            self.param_name(p, expected, &mut seen)?;
            match &p.value {
                ParamValue::Text(text) => text_value(p, text, rule)?,
                ParamValue::Currency { fallback_value, .. }
                | ParamValue::DateTime { fallback_value } => {
                    let field = if matches!(p.value, ParamValue::Currency { .. }) {
                        "currency"
                    } else {
                        "date_time"
                    };
                    let path = format!("{}.{field}.fallback_value", p.path);
                    text_value_at(&path, fallback_value, rule)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A named template needs `parameter_name` on each value, naming one of its placeholders
    /// once; a positional one must not have it.
    fn param_name<'p>(
        &self,
        p: &'p Param,
        expected: &[Placeholder],
        seen: &mut Vec<&'p str>,
    ) -> Result<()> {
        let path = format!("{}.parameter_name", p.path);
        match (&p.name, self.named) {
            (None, false) => Ok(()),
            (Some(_), false) => Err(SendValidationError::new(
                SendErrorKind::TemplateParameterName,
                path,
                format!(
                    "Template `{}` uses positional parameters ({{{{1}}}}, {{{{2}}}}…): remove \
                     `parameter_name` and give the values in order.",
                    self.template.name
                ),
            )),
            (None, true) => Err(SendValidationError::new(
                SendErrorKind::TemplateParameterName,
                path,
                format!(
                    "Template `{}` uses named parameters: add `parameter_name` (one of {}).",
                    self.template.name,
                    names(expected)
                ),
            )),
            (Some(n), true) => {
                let known = expected
                    .iter()
                    .any(|e| matches!(e, Placeholder::Named(x) if x == n));
                if !known {
                    return Err(SendValidationError::new(
                        SendErrorKind::TemplateParameterName,
                        path,
                        format!(
                            "Template `{}` has no parameter `{}` here; its parameters are {}.",
                            self.template.name,
                            shorten(n, 40),
                            names(expected)
                        ),
                    ));
                }
                if seen.contains(&n.as_str()) {
                    return Err(SendValidationError::new(
                        SendErrorKind::TemplateParameterName,
                        path,
                        format!("The parameter `{n}` is given twice; give each parameter once."),
                    ));
                }
                seen.push(n);
                Ok(())
            }
        }
    }

    fn buttons(&self, given: &BTreeMap<usize, &ComponentParams>) -> Result<()> {
        let t = self.template;
        let buttons = t.buttons();
        for (index, c) in given {
            let ComponentTarget::Button { sub_type, .. } = &c.target else {
                continue;
            };
            let Some(button) = buttons.get(*index) else {
                let has = match buttons.len() {
                    0 => "has no buttons".to_owned(),
                    1 => "has one button (index 0)".to_owned(),
                    n => format!("has {n} buttons (index 0 to {})", n - 1),
                };
                return Err(SendValidationError::new(
                    SendErrorKind::TemplateButtonMismatch,
                    format!("{}.index", c.path),
                    format!(
                        "Template `{}` {has}; there is no button {index}. Remove this component or fix its index.",
                        t.name
                    ),
                ));
            };
            if let ButtonKind::Other(_) = button.kind {
                continue;
            }
            let what = button.describe(*index);
            let Some(expected_sub) = button
                .sub_type()
                .filter(|_| button.param() != ButtonParam::None)
            else {
                let why = if button.kind == ButtonKind::Url {
                    "has a fixed URL and takes no parameter"
                } else {
                    "takes no parameters"
                };
                return Err(SendValidationError::new(
                    SendErrorKind::TemplateButtonMismatch,
                    c.path.clone(),
                    format!(
                        "In template `{}`, {what} {why}: remove this component.",
                        t.name
                    ),
                ));
            };
            if sub_type != expected_sub {
                return Err(SendValidationError::new(
                    SendErrorKind::TemplateButtonMismatch,
                    format!("{}.sub_type", c.path),
                    format!(
                        "`sub_type` is `{}` but in template `{}` {what} needs `{expected_sub}`.",
                        shorten(sub_type, 30),
                        t.name
                    ),
                ));
            }
            self.count(c, 1, "button")?;
            button_value(button, &c.parameters[0])?;
        }
        for (index, button) in buttons.iter().enumerate() {
            if given.contains_key(&index) {
                continue;
            }
            let (needs, example) = match button.param() {
                ButtonParam::RequiredText if button.kind == ButtonKind::Otp => (
                    "the one-time password",
                    "{\"type\": \"text\", \"text\": \"123456\"}",
                ),
                ButtonParam::RequiredText => {
                    ("its URL suffix", "{\"type\": \"text\", \"text\": \"…\"}")
                }
                ButtonParam::RequiredCouponCode => (
                    "the coupon code",
                    "{\"type\": \"coupon_code\", \"coupon_code\": \"…\"}",
                ),
                ButtonParam::RequiredAction => (
                    "the products to show",
                    "{\"type\": \"action\", \"action\": {…}}",
                ),
                _ => continue,
            };
            let sub = button.sub_type().unwrap_or("url");
            return Err(SendValidationError::new(
                SendErrorKind::TemplateComponentMissing,
                self.components_path,
                format!(
                    "In template `{}`, {} needs {needs} in each message: add {{\"type\": \"button\", \
                     \"sub_type\": \"{sub}\", \"index\": \"{index}\", \"parameters\": [{example}]}} to {}.",
                    t.name,
                    button.describe(index),
                    name(self.components_path)
                ),
            ));
        }
        Ok(())
    }

    fn count(&self, c: &ComponentParams, expected: usize, what: &str) -> Result<()> {
        let actual = c.parameters.len();
        if actual == expected {
            return Ok(());
        }
        Err(SendValidationError::new(
            SendErrorKind::TemplateParameterCount { expected, actual },
            format!("{}.parameters", c.path),
            format!(
                "The {what} of template `{}` takes {expected} parameter{}, but {actual} {} given.",
                self.template.name,
                if expected == 1 { "" } else { "s" },
                if actual == 1 { "was" } else { "were" }
            ),
        ))
    }

    fn unknown_component(&self, c: &ComponentParams, why: &str) -> SendValidationError {
        SendValidationError::new(
            SendErrorKind::TemplateComponentUnknown,
            c.path.clone(),
            format!(
                "Template `{}` {why}: remove this component.",
                self.template.name
            ),
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextRule {
    Header,
    Body,
}

fn names(expected: &[Placeholder]) -> String {
    let names: Vec<String> = expected
        .iter()
        .filter_map(|p| match p {
            Placeholder::Named(n) => Some(n.clone()),
            Placeholder::Positional(_) => None,
        })
        .collect();
    quoted_list(&names)
}

fn param_type(p: &Param, expected: &[&str], why: &str) -> SendValidationError {
    SendValidationError::new(
        SendErrorKind::TemplateParameterType {
            expected: expected.iter().map(|s| (*s).to_owned()).collect(),
            actual: p.value.type_name().to_owned(),
        },
        format!("{}.type", p.path),
        format!(
            "This parameter is `{}` but {why}: use {}.",
            p.value.type_name(),
            quoted_list(expected)
        ),
    )
}

fn text_value(p: &Param, text: &str, rule: TextRule) -> Result<()> {
    text_value_at(&format!("{}.text", p.path), text, rule)
}

/// Meta refuses empty values, and in template texts new lines, tabs and more than four spaces
/// in a row (132018).
fn text_value_at(path: &str, text: &str, rule: TextRule) -> Result<()> {
    let invalid = |why: &str| {
        SendValidationError::new(
            SendErrorKind::TemplateParameterInvalid,
            path,
            format!("{} {why}.", name(path)),
        )
    };
    if text.trim().is_empty() {
        return Err(invalid(
            "is empty: WhatsApp refuses empty parameters; give a value",
        ));
    }
    if text.contains(['\n', '\r', '\t']) {
        let fix = if rule == TextRule::Header {
            "a header is one line"
        } else {
            "WhatsApp refuses new lines and tabs in parameters; put line breaks in the template's text instead"
        };
        return Err(invalid(&format!("contains a new line or tab: {fix}")));
    }
    if text.contains("     ") {
        return Err(invalid(
            "has more than four spaces in a row, which WhatsApp refuses in parameters",
        ));
    }
    Ok(())
}

fn button_value(button: &Button, p: &Param) -> Result<()> {
    let (wanted, why) = match button.param() {
        ButtonParam::OptionalPayload => ("payload", "quick-reply buttons take a `payload`"),
        ButtonParam::RequiredText => ("text", "this button takes a `text`"),
        ButtonParam::RequiredCouponCode => {
            ("coupon_code", "copy-code buttons take a `coupon_code`")
        }
        ButtonParam::OptionalAction | ButtonParam::RequiredAction => {
            ("action", "this button takes an `action`")
        }
        ButtonParam::None => return Ok(()),
    };
    if p.value.type_name() != wanted {
        return Err(param_type(p, &[wanted], why));
    }
    let invalid = |path: String, message: String| {
        SendValidationError::new(SendErrorKind::TemplateParameterInvalid, path, message)
    };
    match &p.value {
        ParamValue::Payload(payload) if payload.is_empty() => Err(invalid(
            format!("{}.payload", p.path),
            "The payload is empty: give the text your app should receive when the button is tapped, or leave the component out.".to_owned(),
        )),
        ParamValue::Text(code) if button.kind == ButtonKind::Otp => code_value(&format!("{}.text", p.path), code, "one-time password"),
        ParamValue::Text(suffix) => {
            let path = format!("{}.text", p.path);
            if suffix.trim().is_empty() || suffix.chars().any(char::is_whitespace) {
                return Err(invalid(
                    path.clone(),
                    format!(
                        "{} is the end of the button's URL: it must not be empty or contain spaces (percent-encode them as %20).",
                        name(&path)
                    ),
                ));
            }
            let url_len = button.url.as_deref().map_or(0, chars) + chars(suffix);
            if url_len > 2000 {
                return Err(invalid(path, format!("The button's URL would be {url_len} characters long; WhatsApp allows 2000.")));
            }
            Ok(())
        }
        ParamValue::CouponCode(code) => code_value(&format!("{}.coupon_code", p.path), code, "coupon code"),
        _ => Ok(()),
    }
}

fn code_value(path: &str, code: &str, what: &str) -> Result<()> {
    if code.trim().is_empty() || code.chars().any(char::is_whitespace) {
        return Err(invalid_format(
            path,
            format!("{} must be the {what}, with no spaces.", name(path)),
        ));
    }
    let n = chars(code);
    if n > MAX_CODE_CHARS {
        return Err(SendValidationError::new(
            SendErrorKind::TemplateParameterInvalid,
            path,
            format!(
                "{} is {n} characters long; a {what} has at most {MAX_CODE_CHARS}.",
                name(path)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains() {
        assert_eq!(
            fallback_chain("es-ar", &["es_MX", "es_AR", "en_US", "es"]),
            vec!["es_AR", "es", "es_MX", "en", "en_US", "en_GB"]
        );
        assert_eq!(fallback_chain("en_US", &[]), vec!["en_US", "en", "en_GB"]);
        assert_eq!(
            fallback_chain("fr", &["fr_CA"]),
            vec!["fr", "fr_CA", "en", "en_US", "en_GB"]
        );
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("confirmacion_turno", "confirmacion_turno"), 0);
        assert_eq!(
            edit_distance("confirmacion_turno", "confirmacion_turnos"),
            1
        );
        assert_eq!(edit_distance("abc", "xyz"), 3);
    }
}
