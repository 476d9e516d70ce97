//! The `template` object of a send (Cloud API shape): name, language and the values for each
//! component, read with every error naming its JSON path.

use serde_json::{Map, Value, json};

use crate::send::MediaSource;
use crate::send::error::{
    Result, invalid_format, invalid_value, missing, name as quote, wrong_type,
};
use crate::send::json::{Obj, at, strip_nulls};
use crate::send::media::parse_source;

/// A send's `template` object: which template, in which language, with which values.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateMessage {
    /// The template's name.
    pub name: String,
    /// The language code asked for, normalised (`es-ar` → `es_AR`).
    pub language: String,
    /// `language.policy` when given (legacy `deterministic`).
    pub policy: Option<String>,
    /// The values.
    pub params: TemplateParams,
    pub(crate) name_path: String,
    pub(crate) language_path: String,
}

/// The values for a template's components (`components` in a send).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TemplateParams {
    /// One entry per component given, in order.
    pub components: Vec<ComponentParams>,
    /// The JSON path of the `components` array.
    pub(crate) path: String,
}

/// The values for one component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentParams {
    /// Which component.
    pub target: ComponentTarget,
    /// Its parameters, in order.
    pub parameters: Vec<Param>,
    /// The component as it will be sent (normalised: lower-case type, string index, no nulls).
    pub raw: Value,
    pub(crate) path: String,
}

/// Which component a set of values is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentTarget {
    /// `header`.
    Header,
    /// `body`.
    Body,
    /// `button` with its `sub_type` and `index`.
    Button {
        /// `quick_reply`, `url`, `copy_code`, `flow`, `catalog`, `mpm`…
        sub_type: String,
        /// The button's position in the template (0-based).
        index: usize,
    },
    /// `carousel`, `limited_time_offer`… passed through unchecked.
    Other(String),
}

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// `parameter_name` (templates with named parameters).
    pub name: Option<String>,
    /// The value.
    pub value: ParamValue,
    pub(crate) path: String,
}

/// A parameter value by type.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// `text`.
    Text(String),
    /// `currency`: shown as its `fallback_value` (Cloud API does not localise).
    Currency {
        /// What the customer sees (`$100.99`).
        fallback_value: String,
        /// ISO 4217 code.
        code: String,
        /// The amount × 1000.
        amount_1000: i64,
    },
    /// `date_time`: shown as its `fallback_value`.
    DateTime {
        /// What the customer sees (`February 25, 1977`).
        fallback_value: String,
    },
    /// `image` (headers).
    Image(MediaSource),
    /// `video` (headers).
    Video(MediaSource),
    /// `document` (headers), with its optional file name.
    Document(MediaSource, Option<String>),
    /// `location` (headers).
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
    /// `payload` (quick-reply buttons).
    Payload(String),
    /// `coupon_code` (copy-code buttons).
    CouponCode(String),
    /// `action` (flow, catalog and multi-product buttons).
    Action(Value),
}

impl ParamValue {
    /// The parameter `type` as sent.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Currency { .. } => "currency",
            Self::DateTime { .. } => "date_time",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Document(..) => "document",
            Self::Location { .. } => "location",
            Self::Payload(_) => "payload",
            Self::CouponCode(_) => "coupon_code",
            Self::Action(_) => "action",
        }
    }
}

const PARAM_TYPES: &[&str] = &[
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "location",
    "payload",
    "coupon_code",
    "action",
];

/// Normalises a language code to Meta's spelling (`language[_REGION]`): `es-ar` → `es_AR`,
/// `EN` → `en`.
pub fn normalize_language(code: &str) -> String {
    let code = code.trim().replace('-', "_");
    match code.split_once('_') {
        Some((lang, region)) => format!(
            "{}_{}",
            lang.to_ascii_lowercase(),
            region.to_ascii_uppercase()
        ),
        None => code.to_ascii_lowercase(),
    }
}

impl TemplateMessage {
    /// Reads a send's `template` object at `path` (`template` in a send; `""` for a preview body
    /// `{"name", "language", "components"}`). `language` may be Meta's object
    /// `{"code": "es_AR"}` or just the code.
    pub fn from_json(value: &Value, path: &str) -> Result<Self> {
        let obj = Obj::of(value, path)?;
        obj.allow(&["name", "language", "components"])?;
        let name_path = obj.field("name");
        let name = obj
            .req_text(
                "name",
                512,
                "the name of an approved template (GET /v1/templates lists them)",
                "",
            )?
            .trim()
            .to_owned();
        let language_path = obj.field("language");
        let (language, policy, language_path) = match obj.get("language") {
            None => {
                return Err(missing(
                    &language_path,
                    "the template's language, e.g. {\"code\": \"es_AR\"}",
                ));
            }
            Some(Value::String(code)) => (code.as_str(), None, language_path),
            Some(v @ Value::Object(_)) => {
                let lang = Obj::of(v, language_path.as_str())?;
                lang.allow(&["code", "policy"])?;
                let code = lang.req_str("code", "the language code, e.g. `es_AR` or `en_US`")?;
                let policy = match lang.str("policy")? {
                    Some(p) if p == "deterministic" => Some(p.to_owned()),
                    Some(p) => {
                        return Err(invalid_value(&lang.field("policy"), p, &["deterministic"]));
                    }
                    None => None,
                };
                (code, policy, lang.field("code"))
            }
            Some(other) => {
                return Err(wrong_type(
                    &language_path,
                    "an object like {\"code\": \"es_AR\"}",
                    other,
                ));
            }
        };
        let valid_code = !language.trim().is_empty()
            && language.len() <= 16
            && language
                .trim()
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
        if !valid_code {
            return Err(invalid_format(
                &language_path,
                format!(
                    "{} must be a language code such as `es_AR`, `es` or `en_US`.",
                    quote(&language_path)
                ),
            ));
        }
        let params =
            TemplateParams::from_components(obj.get("components"), &obj.field("components"))?;
        Ok(Self {
            name,
            language: normalize_language(language),
            policy,
            params,
            name_path,
            language_path,
        })
    }
}

impl TemplateParams {
    /// Reads a `components` array at `path` (absent or `null`: no values).
    pub fn from_components(value: Option<&Value>, path: &str) -> Result<Self> {
        let mut out = Self {
            components: Vec::new(),
            path: path.to_owned(),
        };
        let items = match value {
            None | Some(Value::Null) => return Ok(out),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(wrong_type(path, "an array of components", other)),
        };
        for (i, item) in items.iter().enumerate() {
            out.components.push(component(item, &at(path, i))?);
        }
        Ok(out)
    }

    /// The components as they will be sent.
    pub fn to_json(&self) -> Value {
        Value::Array(self.components.iter().map(|c| c.raw.clone()).collect())
    }
}

fn component(value: &Value, path: &str) -> Result<ComponentParams> {
    let obj = Obj::of(value, path)?;
    let kind = obj
        .req_str("type", "`header`, `body` or `button`")?
        .to_ascii_lowercase();
    let target = match kind.as_str() {
        "header" | "body" => {
            obj.allow(&["type", "parameters"])?;
            if kind == "header" {
                ComponentTarget::Header
            } else {
                ComponentTarget::Body
            }
        }
        "button" => {
            obj.allow(&["type", "sub_type", "index", "parameters"])?;
            let sub_type = obj
                .req_str(
                    "sub_type",
                    "the button's kind: `quick_reply`, `url`, `copy_code`, `flow`…",
                )?
                .to_ascii_lowercase();
            let index = button_index(&obj)?;
            ComponentTarget::Button { sub_type, index }
        }
        "footer" | "buttons" => {
            return Err(invalid_value(
                &obj.field("type"),
                &kind,
                &["header", "body", "button"],
            )
            .with_hint(if kind == "footer" {
                "A footer is fixed text and takes no parameters: remove this component."
            } else {
                "Give one component per button: {\"type\": \"button\", \"sub_type\": …, \"index\": \"0\", \"parameters\": […]}."
            }));
        }
        _ => {
            return Ok(ComponentParams {
                target: ComponentTarget::Other(kind),
                parameters: Vec::new(),
                raw: strip_nulls(value),
                path: path.to_owned(),
            });
        }
    };
    let params_path = obj.field("parameters");
    let mut parameters = Vec::new();
    let mut raw_params = Vec::new();
    if let Some(items) = obj.arr("parameters")? {
        for (i, item) in items.iter().enumerate() {
            let p = param(item, &at(&params_path, i))?;
            raw_params.push(strip_nulls(item));
            parameters.push(p);
        }
    }
    let mut raw = Map::new();
    raw.insert("type".into(), json!(kind));
    if let ComponentTarget::Button { sub_type, index } = &target {
        raw.insert("sub_type".into(), json!(sub_type));
        raw.insert("index".into(), json!(index.to_string()));
    }
    raw.insert("parameters".into(), Value::Array(raw_params));
    Ok(ComponentParams {
        target,
        parameters,
        raw: Value::Object(raw),
        path: path.to_owned(),
    })
}

fn button_index(obj: &Obj<'_>) -> Result<usize> {
    let path = obj.field("index");
    let bad = || {
        invalid_format(
            &path,
            format!(
                "{} must be the button's position in the template, from \"0\" to \"9\".",
                quote(&path)
            ),
        )
    };
    match obj.get("index") {
        None => Err(missing(
            &path,
            "the button's position in the template, from \"0\"",
        )),
        Some(Value::String(s)) => s
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|i| *i < 10)
            .ok_or_else(bad),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < 10)
            .ok_or_else(bad),
        Some(other) => Err(wrong_type(&path, "a string such as \"0\"", other)),
    }
}

fn param(value: &Value, path: &str) -> Result<Param> {
    let obj = Obj::of(value, path)?;
    let kind = obj.req_str("type", "the parameter's type, e.g. `text`")?;
    if !PARAM_TYPES.contains(&kind) {
        return Err(invalid_value(&obj.field("type"), kind, PARAM_TYPES));
    }
    let named_ok = matches!(kind, "text" | "currency" | "date_time");
    let mut allowed = vec!["type", kind];
    if named_ok {
        allowed.push("parameter_name");
    }
    obj.allow(&allowed)?;
    let name = if named_ok {
        obj.str("parameter_name")?.map(str::to_owned)
    } else {
        None
    };
    let value = match kind {
        "text" => ParamValue::Text(obj.req_str("text", "the value")?.to_owned()),
        "payload" => ParamValue::Payload(
            obj.req_str(
                "payload",
                "the text your app receives when the button is tapped",
            )?
            .to_owned(),
        ),
        "coupon_code" => {
            ParamValue::CouponCode(obj.req_str("coupon_code", "the code to copy")?.to_owned())
        }
        "currency" => {
            let c = sub_obj(
                &obj,
                "currency",
                "{\"fallback_value\", \"code\", \"amount_1000\"}",
            )?;
            c.allow(&["fallback_value", "code", "amount_1000"])?;
            let fallback_value = c
                .req_str(
                    "fallback_value",
                    "the amount as the customer reads it, e.g. `$100.99`",
                )?
                .to_owned();
            let code = c.req_str("code", "the ISO 4217 currency code, e.g. `ARS`")?;
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(invalid_format(
                    &c.field("code"),
                    format!(
                        "{} must be an ISO 4217 currency code in capitals, such as `ARS`, `EUR` or `USD`.",
                        quote(&c.field("code"))
                    ),
                ));
            }
            let amount_path = c.field("amount_1000");
            let amount_1000 = match c.get("amount_1000") {
                None => {
                    return Err(missing(
                        &amount_path,
                        "the amount × 1000, e.g. 100990 for 100.99",
                    ));
                }
                Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
                    invalid_format(
                        &amount_path,
                        format!(
                            "{} must be a whole number (the amount × 1000).",
                            quote(&amount_path)
                        ),
                    )
                })?,
                Some(other) => return Err(wrong_type(&amount_path, "a whole number", other)),
            };
            ParamValue::Currency {
                fallback_value,
                code: code.to_owned(),
                amount_1000,
            }
        }
        "date_time" => {
            let d = sub_obj(&obj, "date_time", "{\"fallback_value\": \"…\"}")?;
            d.allow(&[
                "fallback_value",
                "calendar",
                "day_of_month",
                "day_of_week",
                "hour",
                "minute",
                "month",
                "year",
                "timestamp",
            ])?;
            ParamValue::DateTime {
                fallback_value: d
                    .req_str("fallback_value", "the date as the customer reads it")?
                    .to_owned(),
            }
        }
        "image" | "video" | "document" => {
            let m = sub_obj(&obj, kind, "{\"link\": \"https://…\"} or {\"id\": \"…\"}")?;
            if kind == "document" {
                m.allow(&["link", "id", "filename"])?;
            } else {
                m.allow(&["link", "id"])?;
            }
            let source = parse_source(&m, kind)?;
            match kind {
                "image" => ParamValue::Image(source),
                "video" => ParamValue::Video(source),
                _ => {
                    let filename = m.text("filename", 255, "")?.map(str::to_owned);
                    ParamValue::Document(source, filename)
                }
            }
        }
        "location" => {
            let l = sub_obj(
                &obj,
                "location",
                "{\"latitude\", \"longitude\", \"name\", \"address\"}",
            )?;
            let (latitude, longitude, name, address) = crate::send::location_fields(&l)?;
            ParamValue::Location {
                latitude,
                longitude,
                name,
                address,
            }
        }
        _ => {
            let path = obj.field("action");
            match obj.get("action") {
                Some(v @ Value::Object(_)) => ParamValue::Action(v.clone()),
                Some(other) => return Err(wrong_type(&path, "an object", other)),
                None => return Err(missing(&path, "the button's action object")),
            }
        }
    };
    Ok(Param {
        name,
        value,
        path: path.to_owned(),
    })
}

fn sub_obj<'a>(obj: &Obj<'a>, key: &str, shape: &str) -> Result<Obj<'a>> {
    obj.req_obj(key, shape)
}
