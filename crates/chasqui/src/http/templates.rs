//! `/v1/templates`: a tenant's WhatsApp message templates.
//!
//! - `GET /v1/templates` (`?name=&language=&status=`, list convention), `GET /v1/templates/{name}`
//!   (every language), `GET|DELETE /v1/templates/{name}/{language}`.
//! - `POST /v1/templates` registers a template in Meta's `message_templates` shape (one the
//!   tenant already has approved at Meta, or one for a sandbox channel), checked field by field.
//! - `POST /v1/channels/{id}/templates/sync` pulls every template of the channel's WhatsApp
//!   Business Account from the provider (`GET /{waba-id}/message_templates`, all pages).
//! - `POST /v1/templates/{name}/preview` renders a template with a send's parameters exactly as
//!   the customer will see it, or names the parameter at fault.
//!
//! Storage convention: the `status` and `category` columns are lower-case (`approved`,
//! `utility`); the stored `body` is Meta's template object with Meta's upper-case spelling
//! (`APPROVED`, `UTILITY`) and is what `POST /v1/messages` validates against. The API shows
//! Meta's spelling. Template status webhooks update both (`inbound::process`).
//! `docs/templates.md` is the user-facing description.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chasqui_channels::send::{ErrorClass, SendError, Sender, fetch_all_templates};
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::ChannelId;
use chasqui_core::send::{SendErrorKind, SendValidationError};
use chasqui_core::template::{
    ButtonKind, ButtonParam, Component, HeaderFormat, ParameterFormat, Placeholder, Template,
    TemplateCategory, TemplateMessage, TemplateStatus, normalize_language, placeholders, render,
};
use chasqui_store::channels::{Channel, status as channel_status};
use chasqui_store::templates::{NewTemplate, TemplateFilter, TemplateRecord};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::list::{ListParams, ListResponse};

/// Most pages one sync reads (100 templates each): a guard against a provider that keeps
/// returning a cursor.
pub const MAX_SYNC_PAGES: usize = 50;
/// Longest template name Meta accepts.
pub const MAX_NAME_CHARS: usize = 512;
/// Longest header text (before parameters are filled in).
const MAX_HEADER_TEXT: usize = 60;
/// Longest body text.
const MAX_BODY_TEXT: usize = 1024;
/// Longest footer text.
const MAX_FOOTER_TEXT: usize = 60;
/// Longest button label.
const MAX_BUTTON_TEXT: usize = 25;
/// Most buttons in a template.
const MAX_BUTTONS: usize = 10;

const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];
const STATUSES: [&str; 14] = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "FLAGGED",
    "REINSTATED",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "UNARCHIVED",
    "LIMIT_EXCEEDED",
    "LOCKED",
];
const HEADER_FORMATS: [&str; 5] = ["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];

/// The routes of this module, merged into `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(register))
        .route("/templates/{name}", get(get_named))
        .route("/templates/{name}/preview", post(preview))
        .route("/templates/{name}/{language}", get(get_one).delete(remove))
        .route("/channels/{id}/templates/sync", post(sync))
}

// ---------------------------------------------------------------------------------------------
// Views

/// A template as the API shows it.
#[derive(Debug, Serialize)]
pub struct TemplateView {
    id: String,
    name: String,
    language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    category: String,
    /// Meta's review status (`APPROVED`, `PAUSED`…).
    status: String,
    /// Whether `POST /v1/messages` accepts it (approved, reinstated or flagged).
    sendable: bool,
    channel_id: Option<ChannelId>,
    /// Meta's template id.
    provider_id: Option<String>,
    /// `POSITIONAL` or `NAMED`.
    parameter_format: Option<ParameterFormat>,
    /// Meta's latest quality score, when known (`GREEN`, `YELLOW`, `RED`).
    quality_score: Option<String>,
    /// Meta's components, as stored.
    components: Value,
    /// What each send must (or may) carry, component by component.
    parameters: Vec<Value>,
    updated_at: DateTime<Utc>,
}

impl TemplateView {
    fn new(r: TemplateRecord) -> Self {
        let parsed: Option<Template> = serde_json::from_value(r.body.clone()).ok();
        let status = r.status.to_ascii_uppercase();
        let quality_score = r
            .body
            .get("quality_score")
            .and_then(|q| q.get("score").or(Some(q)))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            sendable: TemplateStatus::parse(&status).is_sendable(),
            parameter_format: parsed.as_ref().map(Template::parameter_format),
            parameters: parsed.as_ref().map(parameters).unwrap_or_default(),
            components: r.body.get("components").cloned().unwrap_or(json!([])),
            id: r.id,
            name: r.name,
            language: r.language,
            category: r.category.to_ascii_uppercase(),
            status,
            channel_id: r.channel_id,
            provider_id: r.provider_id,
            quality_score,
            updated_at: r.updated_at,
        }
    }
}

fn placeholder_name(p: &Placeholder) -> String {
    match p {
        Placeholder::Positional(n) => n.to_string(),
        Placeholder::Named(s) => s.clone(),
    }
}

/// The parameters a send of `t` carries: `{"component": "body", "name": "1", "type": "text"}`…
fn parameters(t: &Template) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(h) = t.header() {
        match &h.format {
            HeaderFormat::Text => out.extend(t.header_placeholders().iter().map(|p| {
                json!({"component": "header", "name": placeholder_name(p), "type": "text", "required": true})
            })),
            HeaderFormat::Other(_) => {}
            media => out.push(json!({
                "component": "header",
                "type": media.as_str().to_ascii_lowercase(),
                "required": true
            })),
        }
    }
    out.extend(t.body_placeholders().iter().map(|p| {
        json!({"component": "body", "name": placeholder_name(p), "type": "text", "required": true})
    }));
    for (index, b) in t.buttons().iter().enumerate() {
        let (kind, required) = match b.param() {
            ButtonParam::OptionalPayload => ("payload", false),
            ButtonParam::RequiredText => ("text", true),
            ButtonParam::RequiredCouponCode => ("coupon_code", true),
            ButtonParam::OptionalAction => ("action", false),
            ButtonParam::RequiredAction => ("action", true),
            ButtonParam::None => continue,
        };
        out.push(json!({
            "component": "button",
            "index": index,
            "sub_type": b.sub_type(),
            "type": kind,
            "required": required
        }));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A template or send validation error as a 422 (or 404 for an unknown template), with its
/// machine-readable details, in the shape `POST /v1/messages` uses.
fn invalid(e: &SendValidationError) -> ApiError {
    let status = match e.kind() {
        SendErrorKind::TemplateNotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let err = ApiError::new(status, e.code(), e.message().to_owned()).with_field(e.field());
    match e.details() {
        Some(d) => err.with_extra(json!({ "details": d })),
        None => err,
    }
}

fn invalid_value(field: &str, given: &str, allowed: &[&str]) -> ApiError {
    ApiError::invalid(
        "invalid_value",
        field,
        format!(
            "`{field}` is `{given}`; use one of {}.",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_extra(json!({ "details": { "allowed_values": allowed } }))
}

fn missing(field: &str, what: &str) -> ApiError {
    ApiError::invalid(
        "missing_field",
        field,
        format!("`{field}` is required: {what}."),
    )
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::invalid(
        "invalid_type",
        field,
        format!("`{field}` must be {expected}."),
    )
}

fn too_long(field: &str, max: usize, actual: usize) -> ApiError {
    ApiError::invalid(
        "too_long",
        field,
        format!("`{field}` is {actual} characters long; WhatsApp allows at most {max}."),
    )
    .with_extra(json!({ "details": { "max": max, "actual": actual } }))
}

fn template_not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "template_not_found",
        format!(
            "No template named `{name}` is known for this tenant: register it with POST \
             /v1/templates or pull it from Meta with POST /v1/channels/{{id}}/templates/sync."
        ),
    )
    .with_field("name")
}

/// A provider's failure as a 502 carrying its code and sentence.
fn provider_error(e: &SendError) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.message.clone()).with_extra(json!({
        "provider": {
            "name": e.provider.label(),
            "code": e.code,
            "subcode": e.subcode,
            "http_status": e.http_status,
            "title": e.title,
            "class": e.class.as_str(),
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// `GET /v1/templates` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    name: Option<String>,
    language: Option<String>,
    status: Option<String>,
}

/// `GET /v1/templates`.
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuth,
    Query(q): Query<ListQuery>,
) -> Result<Json<ListResponse<TemplateView>>, ApiError> {
    let params = ListParams::new(q.limit, q.cursor);
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let parsed = TemplateStatus::parse(s);
            if matches!(parsed, TemplateStatus::Other(_)) {
                return Err(invalid_value("status", s, &STATUSES));
            }
            Some(parsed.as_str().to_ascii_lowercase())
        }
        None => None,
    };
    let language = q
        .language
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .map(normalize_language);
    let filter = TemplateFilter {
        name: q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()),
        language: language.as_deref(),
        status: status.as_deref(),
    };
    let page = state
        .store
        .list_templates_filtered(auth.tenant_id, &filter, params.limit()?, params.cursor()?)
        .await?;
    Ok(Json(ListResponse::from_page(page, TemplateView::new)))
}

/// `GET /v1/templates/{name}`: every language of a template.
pub async fn get_named(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let records = state.store.templates_named(auth.tenant_id, &name).await?;
    if records.is_empty() {
        return Err(template_not_found(&name));
    }
    let languages: Vec<String> = records.iter().map(|r| r.language.clone()).collect();
    let data: Vec<TemplateView> = records.into_iter().map(TemplateView::new).collect();
    Ok(Json(
        json!({ "name": name, "languages": languages, "data": data }),
    ))
}

async fn one(
    state: &AppState,
    auth: &TenantAuth,
    name: &str,
    language: &str,
) -> Result<TemplateRecord, ApiError> {
    let language = normalize_language(language);
    if let Some(r) = state
        .store
        .template(auth.tenant_id, name, &language)
        .await?
    {
        return Ok(r);
    }
    let available: Vec<String> = state
        .store
        .templates_named(auth.tenant_id, name)
        .await?
        .into_iter()
        .map(|r| r.language)
        .collect();
    if available.is_empty() {
        return Err(template_not_found(name));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "template_language_unavailable",
        format!(
            "Template `{name}` does not exist in `{language}`; it exists in {}.",
            available
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_field("language")
    .with_extra(
        json!({ "details": { "requested_language": language, "available_languages": available } }),
    ))
}

/// `GET /v1/templates/{name}/{language}`.
pub async fn get_one(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path((name, language)): Path<(String, String)>,
) -> Result<Json<TemplateView>, ApiError> {
    let r = one(&state, &auth, &name, &language).await?;
    Ok(Json(TemplateView::new(r)))
}

/// `DELETE /v1/templates/{name}/{language}`: forgets Chasqui's copy (Meta's is untouched).
pub async fn remove(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path((name, language)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let r = one(&state, &auth, &name, &language).await?;
    state
        .store
        .delete_template(auth.tenant_id, &r.name, &r.language)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Registering

/// A checked `POST /v1/templates` body.
#[derive(Debug)]
struct Registration {
    channel_id: Option<ChannelId>,
    template: Template,
    status_given: bool,
}

fn str_field<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    path: &str,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(wrong_type(path, "a string")),
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Checks the placeholders of a header or body text: numbered ones run 1…n without gaps, and
/// they agree with `parameter_format`.
fn check_placeholders(
    text: &str,
    path: &str,
    declared: Option<ParameterFormat>,
    max: Option<usize>,
) -> Result<(), ApiError> {
    let found = placeholders(text);
    let numbers: BTreeSet<usize> = found
        .iter()
        .filter_map(|p| match p {
            Placeholder::Positional(n) => Some(*n),
            Placeholder::Named(_) => None,
        })
        .collect();
    let named = found.len() - numbers.len();
    if !numbers.is_empty() && named > 0 {
        return Err(ApiError::invalid(
            "invalid_format",
            path,
            format!(
                "`{path}` mixes numbered (`{{{{1}}}}`) and named (`{{{{name}}}}`) parameters; use one kind."
            ),
        ));
    }
    match declared {
        Some(ParameterFormat::Positional) if named > 0 => {
            return Err(ApiError::invalid(
                "invalid_format",
                path,
                format!(
                    "`{path}` has named parameters but `parameter_format` is `POSITIONAL`: use `{{{{1}}}}`, `{{{{2}}}}`… or declare `NAMED`."
                ),
            ));
        }
        Some(ParameterFormat::Named) if !numbers.is_empty() => {
            return Err(ApiError::invalid(
                "invalid_format",
                path,
                format!(
                    "`{path}` has numbered parameters but `parameter_format` is `NAMED`: use `{{{{first_name}}}}`-style names or declare `POSITIONAL`."
                ),
            ));
        }
        _ => {}
    }
    if let Some(highest) = numbers.last()
        && let Some(gap) = (1..*highest).find(|n| !numbers.contains(n))
    {
        return Err(ApiError::invalid(
            "invalid_format",
            path,
            format!(
                "`{path}` uses `{{{{{highest}}}}}` but not `{{{{{gap}}}}}`: WhatsApp numbers parameters 1, 2, 3… without gaps."
            ),
        ));
    }
    if let Some(max) = max
        && found.len() > max
    {
        return Err(ApiError::invalid(
            "invalid_format",
            path,
            format!(
                "`{path}` has {} parameters; WhatsApp allows {max} here.",
                found.len()
            ),
        ));
    }
    Ok(())
}

/// Checks one component (`components[i]`) beyond what its types say.
fn check_component(
    raw: &Map<String, Value>,
    component: &Component,
    path: &str,
    category: &TemplateCategory,
    declared: Option<ParameterFormat>,
) -> Result<(), ApiError> {
    match component {
        Component::Header(h) => {
            if raw.get("format").is_none_or(Value::is_null) {
                return Err(missing(
                    &format!("{path}.format"),
                    "one of `TEXT`, `IMAGE`, `VIDEO`, `DOCUMENT`, `LOCATION`",
                ));
            }
            if let HeaderFormat::Other(f) = &h.format {
                return Err(invalid_value(&format!("{path}.format"), f, &HEADER_FORMATS));
            }
            if h.format == HeaderFormat::Text {
                let field = format!("{path}.text");
                let text = h
                    .text
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| missing(&field, "a `TEXT` header needs its text"))?;
                if chars(text) > MAX_HEADER_TEXT {
                    return Err(too_long(&field, MAX_HEADER_TEXT, chars(text)));
                }
                check_placeholders(text, &field, declared, Some(1))?;
            }
        }
        Component::Body(b) => {
            let field = format!("{path}.text");
            match b.text.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(text) => {
                    if chars(text) > MAX_BODY_TEXT {
                        return Err(too_long(&field, MAX_BODY_TEXT, chars(text)));
                    }
                    check_placeholders(text, &field, declared, None)?;
                }
                None if *category == TemplateCategory::Authentication => {}
                None => {
                    return Err(missing(
                        &field,
                        "the body text, e.g. \"Hola {{1}}, tu turno es el {{2}}.\"",
                    ));
                }
            }
        }
        Component::Footer(f) => {
            let field = format!("{path}.text");
            match (&f.text, f.code_expiration_minutes) {
                (Some(text), _) => {
                    if chars(text) > MAX_FOOTER_TEXT {
                        return Err(too_long(&field, MAX_FOOTER_TEXT, chars(text)));
                    }
                    if !placeholders(text).is_empty() {
                        return Err(ApiError::invalid(
                            "invalid_format",
                            field,
                            "A template footer cannot have parameters.",
                        ));
                    }
                }
                (None, Some(_)) => {}
                (None, None) => return Err(missing(&field, "the footer text")),
            }
        }
        Component::Buttons(buttons) => {
            let field = format!("{path}.buttons");
            if buttons.is_empty() {
                return Err(missing(&field, "at least one button"));
            }
            if buttons.len() > MAX_BUTTONS {
                return Err(ApiError::invalid(
                    "too_many",
                    field,
                    format!(
                        "A template has at most {MAX_BUTTONS} buttons; {} were given.",
                        buttons.len()
                    ),
                ));
            }
            for (j, b) in buttons.iter().enumerate() {
                let bpath = format!("{field}[{j}]");
                let labelled = matches!(
                    b.kind,
                    ButtonKind::QuickReply | ButtonKind::Url | ButtonKind::PhoneNumber
                );
                match b.text.as_deref().filter(|t| !t.trim().is_empty()) {
                    Some(t) if chars(t) > MAX_BUTTON_TEXT => {
                        return Err(too_long(
                            &format!("{bpath}.text"),
                            MAX_BUTTON_TEXT,
                            chars(t),
                        ));
                    }
                    None if labelled => {
                        return Err(missing(&format!("{bpath}.text"), "the button's label"));
                    }
                    _ => {}
                }
                if b.kind == ButtonKind::Url && b.url.as_deref().is_none_or(|u| u.trim().is_empty())
                {
                    return Err(missing(
                        &format!("{bpath}.url"),
                        "the address the button opens",
                    ));
                }
                if b.kind == ButtonKind::PhoneNumber
                    && b.phone_number
                        .as_deref()
                        .is_none_or(|u| u.trim().is_empty())
                {
                    return Err(missing(
                        &format!("{bpath}.phone_number"),
                        "the number the button calls",
                    ));
                }
                if let Some(url) = &b.url {
                    let found = placeholders(url);
                    if found.len() > 1 || found.iter().any(|p| *p != Placeholder::Positional(1)) {
                        return Err(ApiError::invalid(
                            "invalid_format",
                            format!("{bpath}.url"),
                            "A URL button may only end in one `{{1}}` suffix.",
                        ));
                    }
                }
            }
        }
        Component::Other(_) => {}
    }
    Ok(())
}

/// Reads a `POST /v1/templates` body: Meta's template object plus an optional `channel_id`.
fn parse_registration(body: &Value) -> Result<Registration, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The body must be a JSON object in Meta's template shape: {\"name\", \"language\", \"category\", \"components\"}.",
        ));
    };
    let mut obj = obj.clone();
    let channel_id = match obj.remove("channel_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<ChannelId>().map_err(|_| {
            ApiError::invalid(
                "channel_not_found",
                "channel_id",
                "No channel with this id belongs to this API key's tenant.",
            )
        })?),
        Some(_) => return Err(wrong_type("channel_id", "a channel id string")),
    };

    let name = str_field(&obj, "name", "name")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            missing(
                "name",
                "the template's name as approved by Meta, e.g. `confirmacion_turno`",
            )
        })?
        .to_owned();
    if chars(&name) > MAX_NAME_CHARS {
        return Err(too_long("name", MAX_NAME_CHARS, chars(&name)));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::invalid(
            "invalid_format",
            "name",
            format!(
                "`{name}` is not a template name WhatsApp accepts: use lower-case letters, digits and underscores only (e.g. `confirmacion_turno`)."
            ),
        ));
    }

    let language = match obj.get("language") {
        None | Some(Value::Null) => {
            return Err(missing(
                "language",
                "the language code it was approved in, e.g. `es_AR`",
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m)) => match m.get("code") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(missing("language.code", "the language code, e.g. `es_AR`")),
        },
        Some(_) => return Err(wrong_type("language", "a language code such as `es_AR`")),
    };
    let code = language.trim();
    if code.is_empty()
        || code.len() > 16
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            "invalid_format",
            "language",
            format!(
                "`{language}` is not a language code; use one such as `es_AR`, `es` or `en_US`."
            ),
        ));
    }
    let language = normalize_language(code);

    let category = str_field(&obj, "category", "category")?
        .ok_or_else(|| missing("category", "`MARKETING`, `UTILITY` or `AUTHENTICATION`"))?;
    let category_parsed = TemplateCategory::parse(category);
    if matches!(category_parsed, TemplateCategory::Other(_)) {
        return Err(invalid_value("category", category, &CATEGORIES));
    }

    let status = match str_field(&obj, "status", "status")? {
        Some(s) => {
            let parsed = TemplateStatus::parse(s);
            if matches!(parsed, TemplateStatus::Other(_)) {
                return Err(invalid_value("status", s, &STATUSES));
            }
            Some(parsed)
        }
        None => None,
    };

    let declared = match str_field(&obj, "parameter_format", "parameter_format")? {
        Some(f) => match f.trim().to_ascii_uppercase().as_str() {
            "POSITIONAL" => Some(ParameterFormat::Positional),
            "NAMED" => Some(ParameterFormat::Named),
            _ => {
                return Err(invalid_value(
                    "parameter_format",
                    f,
                    &["POSITIONAL", "NAMED"],
                ));
            }
        },
        None => None,
    };

    match obj.get("id") {
        None | Some(Value::Null) | Some(Value::Number(_)) => {}
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => return Err(wrong_type("id", "Meta's template id (a string of digits)")),
    }

    let components = match obj.get("components") {
        None | Some(Value::Null) => {
            return Err(missing(
                "components",
                "Meta's components: at least a `BODY` with its `text`",
            ));
        }
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(wrong_type("components", "an array of components")),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut has_body = false;
    for (i, item) in components.iter().enumerate() {
        let path = format!("components[{i}]");
        let Value::Object(raw) = item else {
            return Err(wrong_type(
                &path,
                "an object like {\"type\": \"BODY\", \"text\": \"…\"}",
            ));
        };
        let kind = match raw.get("type") {
            Some(Value::String(t)) => t.trim().to_ascii_uppercase(),
            Some(_) => return Err(wrong_type(&format!("{path}.type"), "a string")),
            None => {
                return Err(missing(
                    &format!("{path}.type"),
                    "`HEADER`, `BODY`, `FOOTER` or `BUTTONS`",
                ));
            }
        };
        if seen.contains(&kind) {
            return Err(ApiError::invalid(
                "duplicate_component",
                format!("{path}.type"),
                format!("A template has at most one `{kind}` component."),
            ));
        }
        seen.push(kind.clone());
        has_body |= kind == "BODY";
        let component = Component::try_from(item.clone())
            .map_err(|e| ApiError::invalid("invalid_component", path.clone(), format!("{e}.")))?;
        check_component(raw, &component, &path, &category_parsed, declared)?;
    }
    if !has_body {
        return Err(ApiError::invalid(
            "template_component_missing",
            "components",
            "A template needs a `BODY` component: add {\"type\": \"BODY\", \"text\": \"…\"}.",
        ));
    }

    obj.insert("name".into(), Value::String(name));
    obj.insert("language".into(), Value::String(language));
    obj.insert(
        "category".into(),
        Value::String(category_parsed.as_str().to_owned()),
    );
    obj.insert(
        "status".into(),
        Value::String(
            status
                .as_ref()
                .unwrap_or(&TemplateStatus::Approved)
                .as_str()
                .to_owned(),
        ),
    );
    if let Some(f) = declared {
        obj.insert(
            "parameter_format".into(),
            serde_json::to_value(f).unwrap_or_default(),
        );
    }
    let template: Template = serde_json::from_value(Value::Object(obj)).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_template",
            format!("The template does not have Meta's shape: {e}."),
        )
    })?;
    Ok(Registration {
        channel_id,
        template,
        status_given: status.is_some(),
    })
}

/// Whether a registration without `status` may default to `APPROVED`: only for sandbox channels
/// (the named one, or, without `channel_id`, when every Meta-speaking channel is a sandbox).
async fn sandbox_only(
    state: &AppState,
    auth: &TenantAuth,
    channel: Option<&Channel>,
) -> Result<bool, ApiError> {
    if let Some(c) = channel {
        return Ok(c.kind == ChannelKind::Sandbox);
    }
    let page = state.store.list_channels(auth.tenant_id, 200, None).await?;
    let kinds: Vec<ChannelKind> = page
        .items
        .iter()
        .map(|c| c.kind)
        .filter(ChannelKind::speaks_meta)
        .collect();
    Ok(!kinds.is_empty() && kinds.iter().all(|k| *k == ChannelKind::Sandbox))
}

/// `POST /v1/templates`: 201 when new, 200 when it replaced the same name and language.
pub async fn register(
    State(state): State<AppState>,
    auth: TenantAuth,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<TemplateView>), ApiError> {
    let Registration {
        channel_id,
        template,
        status_given,
    } = parse_registration(&body)?;
    let channel = match channel_id {
        Some(id) => Some(state.store.channel(auth.tenant_id, id).await.map_err(|_| {
            ApiError::invalid(
                "channel_not_found",
                "channel_id",
                "No channel with this id belongs to this API key's tenant.",
            )
        })?),
        None => None,
    };
    if !status_given && !sandbox_only(&state, &auth, channel.as_ref()).await? {
        return Err(ApiError::invalid(
            "status_required",
            "status",
            "Chasqui cannot check Meta's review from here: pull the template with its real status \
             (POST /v1/channels/{id}/templates/sync), or state it with `\"status\": \"APPROVED\"` \
             if Meta approved it. Only templates for sandbox channels default to APPROVED.",
        ));
    }
    let existed = state
        .store
        .template(auth.tenant_id, &template.name, &template.language)
        .await?
        .is_some();
    let stored = serde_json::to_value(&template).map_err(|e| ApiError::internal(&e))?;
    let record = state
        .store
        .upsert_template(
            auth.tenant_id,
            &NewTemplate {
                channel: channel.as_ref().map(|c| c.id),
                name: &template.name,
                language: &template.language,
                category: &template.category.as_str().to_ascii_lowercase(),
                status: &template.status.as_str().to_ascii_lowercase(),
                body: &stored,
                provider_id: template.id.as_deref(),
            },
        )
        .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(TemplateView::new(record))))
}

// ---------------------------------------------------------------------------------------------
// Preview

/// `POST /v1/templates/{name}/preview` answer: the rendered template and what it is.
#[derive(Debug, Serialize)]
struct Preview {
    name: String,
    language: String,
    category: String,
    status: String,
    sendable: bool,
    #[serde(flatten)]
    rendered: chasqui_core::template::RenderedTemplate,
    /// Header, body, footer and button labels, one per line.
    text: String,
}

/// `POST /v1/templates/{name}/preview` with a send's `{"language", "components"}`.
pub async fn preview(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(mut obj) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "The body must be a JSON object: {\"language\": {\"code\": \"es_AR\"}, \"components\": [...]}.",
        ));
    };
    match obj.get("name") {
        None | Some(Value::Null) => {}
        Some(Value::String(n)) if n.trim() == name => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "template_name_mismatch",
                "name",
                format!("The body names another template than the URL (`{name}`); omit `name`."),
            ));
        }
    }
    obj.insert("name".into(), Value::String(name.clone()));
    let message = TemplateMessage::from_json(&Value::Object(obj), "").map_err(|e| invalid(&e))?;
    let templates: Vec<Template> = state
        .store
        .templates_named(auth.tenant_id, &name)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_value(r.body).ok())
        .collect();
    if templates.is_empty() {
        return Err(template_not_found(&name));
    }
    let Some(template) = templates
        .iter()
        .find(|t| normalize_language(&t.language) == message.language)
    else {
        let mut available: Vec<String> = templates
            .iter()
            .map(|t| normalize_language(&t.language))
            .collect();
        available.sort();
        available.dedup();
        let e = SendValidationError::new(
            SendErrorKind::TemplateLanguageUnavailable {
                requested: message.language.clone(),
                available: available.clone(),
            },
            "language",
            format!(
                "Template `{name}` does not exist in `{}`; it exists in {}.",
                message.language,
                available
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return Err(invalid(&e));
    };
    let rendered = render(template, &message.params).map_err(|e| invalid(&e))?;
    let preview = Preview {
        name: template.name.clone(),
        language: normalize_language(&template.language),
        category: template.category.as_str().to_owned(),
        status: template.status.as_str().to_owned(),
        sendable: template.status.is_sendable(),
        text: rendered.text(),
        rendered,
    };
    Ok(Json(
        serde_json::to_value(preview).map_err(|e| ApiError::internal(&e))?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Sync

async fn sender_for(state: &AppState, channel: &Channel) -> Result<Arc<dyn Sender>, ApiError> {
    crate::outbound::runtime::sender_for(state, channel)
        .await
        .map_err(|e| match e {
            crate::outbound::runtime::SenderError::Misconfigured(reason) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "channel_misconfigured",
                format!("{reason}."),
            ),
            other => ApiError::internal(&other),
        })
}

/// `POST /v1/channels/{id}/templates/sync`: every template of the channel's WhatsApp Business
/// Account, upserted; `{"synced": n, "templates": [...], "skipped": [...]}`.
pub async fn sync(
    State(state): State<AppState>,
    auth: TenantAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: ChannelId = id.parse().map_err(|_| ApiError::not_found("channel"))?;
    let channel = state.store.channel(auth.tenant_id, id).await?;
    let waba_id = match channel.kind {
        // 360dialog and Zaptra list the templates of the key's account.
        ChannelKind::Dialog360 | ChannelKind::Zaptra => channel.waba_id.clone().unwrap_or_default(),
        ChannelKind::WhatsappCloud | ChannelKind::Sandbox => {
            channel.waba_id.clone().ok_or_else(|| {
                ApiError::invalid(
                    "missing_waba_id",
                    "waba_id",
                    format!(
                        "Templates belong to a WhatsApp Business Account and this channel has no \
                         `waba_id`: set it with PATCH /v1/channels/{id} {{\"waba_id\": \"…\"}} \
                         (WhatsApp Manager → Account tools → Phone numbers shows it)."
                    ),
                )
            })?
        }
        ChannelKind::Twilio | ChannelKind::Chatwoot => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "templates_not_supported",
                format!(
                    "A `{}` channel cannot list templates through Chasqui: register them with \
                     POST /v1/templates instead.",
                    channel.kind
                ),
            ));
        }
    };
    let sender = sender_for(&state, &channel).await?;
    let fetched = match fetch_all_templates(sender.as_ref(), &waba_id, MAX_SYNC_PAGES).await {
        Ok(f) => f,
        Err(e) => {
            if e.class == ErrorClass::AuthExpired {
                // As for a send: the token is expired or revoked, so the channel needs it renewed.
                state
                    .store
                    .set_channel_status(
                        auth.tenant_id,
                        channel.id,
                        channel_status::NEEDS_REAUTH,
                        "provider",
                    )
                    .await?;
            }
            return Err(provider_error(&e));
        }
    };
    let mut views = Vec::with_capacity(fetched.len());
    let mut skipped = Vec::new();
    for p in fetched {
        let template: Template = match serde_json::from_value(p.raw.clone()) {
            Ok(t) => t,
            Err(e) => {
                skipped.push(json!({
                    "name": p.name,
                    "language": p.language,
                    "reason": format!("not in Meta's template shape: {e}"),
                }));
                continue;
            }
        };
        let language = normalize_language(&p.language);
        let record = state
            .store
            .upsert_template(
                auth.tenant_id,
                &NewTemplate {
                    channel: Some(channel.id),
                    name: &p.name,
                    language: &language,
                    category: &template.category.as_str().to_ascii_lowercase(),
                    status: &template.status.as_str().to_ascii_lowercase(),
                    body: &p.raw,
                    provider_id: p.id.as_deref(),
                },
            )
            .await?;
        views.push(TemplateView::new(record));
    }
    tracing::info!(channel_id = %channel.id, synced = views.len(), skipped = skipped.len(), "templates synced");
    Ok(Json(json!({
        "channel_id": channel.id,
        "synced": views.len(),
        "templates": views,
        "skipped": skipped,
    })))
}
