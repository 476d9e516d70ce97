//! wa.me click-to-chat links for a tenant: `POST /v1/links`, their QR codes
//! (`GET /v1/links/qr.svg`, `GET /v1/links/qr.png`), the tenant's own prefilled texts
//! (`/v1/link-templates`) and the tenant's WhatsApp number (`/v1/tenant/whatsapp-number`).
//!
//! The domain lives in `chasqui_core::wame` and `chasqui_core::phone`; this module resolves the
//! tenant's defaults (its number, that number's region, the language of the linked number's
//! country), turns every [`LinkError`] into the one error shape, and encodes the answers.
//! `docs/links.md` is the user-facing description.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chasqui_core::phone::{PhoneE164, PhoneError, RegionCode};
use chasqui_core::wame::{
    BUILTIN_LOCALES, BuiltLink, EcLevel, LinkContext, LinkDefaults, LinkError, LinkRequest, Locale,
    QrSize, TemplateOverrides, TemplateSource, resolve, validate_template,
};
use chasqui_store::link_templates::LinkTemplate;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::form_urlencoded;

use super::AppState;
use super::auth::TenantAuth;
use super::error::ApiError;
use super::extract::{Json, Query};
use super::tenant::TenantView;

/// Most overrides one tenant may keep (4 contexts × a generous number of locales); it keeps
/// `GET /v1/link-templates` a single page.
pub const MAX_TENANT_TEMPLATES: usize = 200;

/// How long a browser or proxy may reuse a QR image: the image depends on the tenant's number
/// and texts, which may change, so it is private and short-lived.
const QR_CACHE_CONTROL: &str = "private, max-age=3600";

/// The routes of this module, merged into `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/tenant/whatsapp-number",
            put(put_whatsapp_number).delete(delete_whatsapp_number),
        )
        .route("/links", post(create))
        .route("/links/qr.svg", get(qr_svg))
        .route("/links/qr.png", get(qr_png))
        .route("/link-templates", get(list_templates))
        .route(
            "/link-templates/{context}/{locale}",
            put(put_template).delete(delete_template),
        )
}

// ---------------------------------------------------------------------------------------------
// The switch

/// Present only when wa.me links are enabled on this server (`WHATSAPP_WAME_ENABLED`); placed
/// after [`TenantAuth`] in a handler, so an unauthenticated client learns nothing.
#[derive(Debug, Clone, Copy)]
pub struct WameEnabled;

impl FromRequestParts<AppState> for WameEnabled {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.config.whatsapp.wame_enabled {
            Ok(Self)
        } else {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "wame_disabled",
                "wa.me links are turned off on this server (WHATSAPP_WAME_ENABLED=false); \
                 ask the operator to enable them",
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A link, phone or template error as a 422 naming its field; placeholder values are named
/// `data.<placeholder>`, a phone error carries its `suggestion` beside `error` when there is one.
pub fn link_error(e: &LinkError) -> ApiError {
    match e {
        LinkError::Phone(p) => phone_error(p),
        LinkError::MissingValue { placeholder, .. } => ApiError::invalid(
            e.code(),
            format!("data.{placeholder}"),
            sentence(&format!("{e}; pass it as `data.{placeholder}`")),
        ),
        LinkError::InvalidValue { placeholder, .. } => {
            ApiError::invalid(e.code(), format!("data.{placeholder}"), sentence(e))
        }
        LinkError::UnknownContext { known, .. } => {
            ApiError::invalid(e.code(), e.field(), sentence(e))
                .with_extra(json!({ "known_contexts": known }))
        }
        LinkError::UnknownPlaceholder {
            placeholder,
            allowed,
            ..
        } => ApiError::invalid(e.code(), e.field(), sentence(e)).with_extra(
            json!({ "unknown_placeholders": [placeholder], "allowed_placeholders": allowed }),
        ),
        _ => ApiError::invalid(e.code(), e.field(), sentence(e)),
    }
}

/// A phone error as a 422 on `phone` (or `region`), with what was probably meant.
pub fn phone_error(e: &PhoneError) -> ApiError {
    let err = ApiError::invalid(e.code(), e.field(), sentence(e));
    match e.suggestion() {
        Some(s) => err.with_extra(json!({ "suggestion": s })),
        None => err,
    }
}

/// The domain's message as a sentence: capitalised, with a full stop.
fn sentence(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return text,
    };
    if !out.ends_with(['.', '?', '!']) {
        out.push('.');
    }
    out
}

fn no_phone() -> ApiError {
    ApiError::invalid(
        "phone_required",
        "phone",
        "This link needs a number: pass `phone`, or set the tenant's own number once with \
         `PUT /v1/tenant/whatsapp-number`.",
    )
}

// ---------------------------------------------------------------------------------------------
// Defaults

/// The language a link's text is written in when the request names none: the language of the
/// country of the number the link opens a chat with, English otherwise.
///
/// Argentina gets `es-AR` (voseo), Brazil `pt-BR`, other Spanish- and Portuguese-speaking
/// countries `es` / `pt`, France and its overseas regions and Monaco `fr`.
pub fn default_locale(region: Option<RegionCode>) -> Locale {
    let tag = match region.map(|r| r.to_string()).as_deref() {
        Some("AR") => "es-AR",
        Some("BR") => "pt-BR",
        Some(
            "ES" | "MX" | "CO" | "PE" | "VE" | "CL" | "EC" | "GT" | "CU" | "BO" | "DO" | "HN"
            | "PY" | "SV" | "NI" | "CR" | "PA" | "UY" | "PR" | "GQ",
        ) => "es",
        Some("PT" | "AO" | "MZ" | "CV" | "GW" | "ST") => "pt",
        Some(
            "FR" | "MC" | "RE" | "GP" | "MQ" | "GF" | "YT" | "PM" | "NC" | "PF" | "WF" | "BL"
            | "MF",
        ) => "fr",
        _ => "en",
    };
    Locale::parse(tag).unwrap_or_else(|_| Locale::english())
}

/// A warning when the number is not a mobile: the link is still made (WhatsApp Business runs
/// on landlines too), but an Argentine landline is often a mobile typed without its `9`.
pub fn not_mobile_warning(phone: &PhoneE164) -> Option<String> {
    let Err(e) = phone.require_mobile() else {
        return None;
    };
    let meant = e
        .suggestion()
        .map(|s| format!(" Did you mean {s}?"))
        .unwrap_or_default();
    Some(format!(
        "{} is {}: the chat opens only if that line runs WhatsApp Business.{meant}",
        phone.format_international(),
        phone.number_type().describe()
    ))
}

fn non_blank(field: Option<&str>) -> Option<&str> {
    field.map(str::trim).filter(|s| !s.is_empty())
}

/// The tenant's number as stored; a number the current metadata no longer accepts counts as
/// none (with a warning), so the answer tells the tenant to set it again.
async fn tenant_number(state: &AppState, auth: &TenantAuth) -> Result<Option<PhoneE164>, ApiError> {
    let tenant = state.store.tenant(auth.tenant_id).await?;
    Ok(tenant
        .whatsapp_number
        .and_then(|n| match PhoneE164::parse(&n, None) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "the tenant's stored WhatsApp number no longer parses");
                None
            }
        }))
}

/// A link made for a tenant, with the number it points at and whether the request named it.
#[derive(Debug)]
struct Made {
    built: BuiltLink,
    phone: PhoneE164,
    phone_given: bool,
}

/// Resolves the tenant's defaults and builds the link; every failure is a 422 naming its field.
async fn make_link(
    state: &AppState,
    auth: &TenantAuth,
    request: &LinkRequest,
) -> Result<Made, ApiError> {
    let tenant_phone = tenant_number(state, auth).await?;
    let region = match non_blank(request.region.as_deref()) {
        Some(r) => Some(RegionCode::parse(r).map_err(|e| phone_error(&e))?),
        None => tenant_phone.as_ref().and_then(PhoneE164::region),
    };
    let (phone, phone_given) = match non_blank(request.phone.as_deref()) {
        Some(p) => (
            PhoneE164::parse(p, region).map_err(|e| phone_error(&e))?,
            true,
        ),
        None => (tenant_phone.ok_or_else(no_phone)?, false),
    };
    let locale = default_locale(phone.region());
    let overrides = if non_blank(request.context.as_deref()).is_some() {
        state.store.link_template_overrides(auth.tenant_id).await?
    } else {
        TemplateOverrides::new()
    };
    let rest = LinkRequest {
        phone: None,
        region: None,
        ..request.clone()
    };
    let built = rest
        .build(&LinkDefaults {
            phone: Some(&phone),
            region,
            locale: &locale,
            overrides: &overrides,
        })
        .map_err(|e| link_error(&e))?;
    Ok(Made {
        built,
        phone,
        phone_given,
    })
}

fn source_name(source: TemplateSource) -> &'static str {
    match source {
        TemplateSource::Builtin => "builtin",
        TemplateSource::Override => "tenant",
    }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/links

/// `POST /v1/links` body: every field optional, unknown fields refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    phone: Option<String>,
    region: Option<String>,
    text: Option<String>,
    context: Option<String>,
    data: Option<BTreeMap<String, serde_json::Value>>,
    locale: Option<String>,
    #[serde(rename = "ref")]
    ref_code: Option<String>,
}

impl From<LinkBody> for LinkRequest {
    fn from(b: LinkBody) -> Self {
        LinkRequest {
            phone: b.phone,
            region: b.region,
            text: b.text,
            context: b.context,
            data: b.data.unwrap_or_default(),
            locale: b.locale,
            ref_code: b.ref_code,
        }
    }
}

/// A link as the API answers it.
#[derive(Debug, Serialize)]
pub struct LinkView {
    url: String,
    phone_e164: String,
    text: Option<String>,
    locale_used: Option<String>,
    template_source: Option<&'static str>,
    #[serde(rename = "ref")]
    ref_code: Option<String>,
    qr_svg_url: String,
    qr_png_url: String,
    /// Set when the number is not a mobile (see [`not_mobile_warning`]).
    warning: Option<String>,
}

/// `POST /v1/links`: a wa.me link for the given number (or the tenant's), with its QR URLs.
pub async fn create(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    Json(body): Json<LinkBody>,
) -> Result<Json<LinkView>, ApiError> {
    let request = LinkRequest::from(body);
    let made = make_link(&state, &auth, &request).await?;
    let query = qr_query(&request, made.phone_given.then_some(&made.phone));
    let base = state
        .config
        .server
        .public_url
        .as_ref()
        .map(|u| u.as_str().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let qr_url = |ext: &str| format!("{base}/v1/links/qr.{ext}?{query}");
    let link = &made.built.link;
    Ok(Json(LinkView {
        url: link.as_str().to_owned(),
        phone_e164: made.phone.as_str().to_owned(),
        text: link.text().map(str::to_owned),
        locale_used: made.built.locale_used.as_ref().map(|l| l.to_string()),
        template_source: made.built.template_source.map(source_name),
        ref_code: made.built.ref_code.as_ref().map(|r| r.to_string()),
        qr_svg_url: qr_url("svg"),
        qr_png_url: qr_url("png"),
        warning: not_mobile_warning(&made.phone),
    }))
}

/// The query string that makes the same link at the QR endpoints: the number as E.164 when the
/// request named one (so `region` is no longer needed), none when the tenant's number was used,
/// the other fields as given, and each `data` value as `data.<name>=value`.
fn qr_query(request: &LinkRequest, phone: Option<&PhoneE164>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(p) = phone {
        q.append_pair("phone", p.as_str());
    }
    for (name, value) in [
        ("text", &request.text),
        ("context", &request.context),
        ("locale", &request.locale),
        ("ref", &request.ref_code),
    ] {
        if let Some(v) = non_blank(value.as_deref()) {
            q.append_pair(name, v);
        }
    }
    for (name, value) in &request.data {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            // `null` counts as absent; arrays and objects were refused when the link was built.
            _ => continue,
        };
        q.append_pair(&format!("data.{name}"), &text);
    }
    q.finish()
}

// ---------------------------------------------------------------------------------------------
// GET /v1/links/qr.svg, /v1/links/qr.png

/// What the QR endpoints take besides the link's own fields.
#[derive(Debug, Default)]
struct QrParams {
    ec_level: EcLevel,
    size: QrSize,
    /// `size` or `px`: the parameter a size error names.
    size_field: &'static str,
}

/// The parameters the QR endpoints accept, for error messages.
const QR_PARAMS: &str = "phone, region, text, context, locale, ref, data.<name>, size, px and ec";

fn bad_query(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

/// Reads the QR endpoints' query string: the fields of `POST /v1/links` (each `data` value as
/// `data.<name>=value`) plus `size` (px per module) or `px` (total width) and `ec`.
fn parse_qr_query(raw: Option<&str>) -> Result<(LinkRequest, QrParams), ApiError> {
    let mut request = LinkRequest::default();
    let mut params = QrParams {
        size_field: "size",
        ..QrParams::default()
    };
    let (mut size, mut px, mut ec) = (None, None, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let duplicate = || {
            bad_query(
                &key,
                format!("the query parameter `{key}` is given more than once."),
            )
        };
        let slot = match key.as_ref() {
            "phone" => &mut request.phone,
            "region" => &mut request.region,
            "text" => &mut request.text,
            "context" => &mut request.context,
            "locale" => &mut request.locale,
            "ref" => &mut request.ref_code,
            "size" => &mut size,
            "px" => &mut px,
            "ec" => &mut ec,
            other => {
                let Some(name) = other.strip_prefix("data.").filter(|n| !n.is_empty()) else {
                    return Err(bad_query(
                        other,
                        format!("unknown query parameter `{other}`: expected {QR_PARAMS}."),
                    ));
                };
                if request
                    .data
                    .insert(
                        name.to_owned(),
                        serde_json::Value::String(value.into_owned()),
                    )
                    .is_some()
                {
                    return Err(duplicate());
                }
                continue;
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(duplicate());
        }
    }
    if let Some(level) = non_blank(ec.as_deref()) {
        params.ec_level =
            EcLevel::parse(level).map_err(|e| ApiError::invalid(e.code(), "ec", sentence(&e)))?;
    }
    let whole_px = |field: &'static str, v: &str| {
        v.trim().parse::<u32>().map_err(|_| {
            ApiError::invalid(
                "invalid_size",
                field,
                format!("`{field}` must be a whole number of pixels."),
            )
        })
    };
    match (size.as_deref(), px.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "size_conflict",
                "px",
                "Give either `size` (pixels per module) or `px` (total width), not both.",
            ));
        }
        (Some(s), None) => params.size = QrSize::ModulePx(whole_px("size", s)?),
        (None, Some(p)) => {
            params.size = QrSize::TotalPx(whole_px("px", p)?);
            params.size_field = "px";
        }
        (None, None) => {}
    }
    Ok((request, params))
}

enum QrFormat {
    Svg,
    Png,
}

async fn qr(
    state: &AppState,
    auth: &TenantAuth,
    raw: Option<&str>,
    format: QrFormat,
) -> Result<Response, ApiError> {
    let (request, params) = parse_qr_query(raw)?;
    let made = make_link(state, auth, &request).await?;
    let size_error = |e: LinkError| match e {
        LinkError::SizeOutOfRange { .. } => {
            ApiError::invalid(e.code(), params.size_field, sentence(&e))
        }
        other => link_error(&other),
    };
    let matrix = made
        .built
        .link
        .qr(params.ec_level)
        .map_err(|e| link_error(&e))?;
    let (content_type, body) = match format {
        QrFormat::Svg => (
            "image/svg+xml",
            matrix.to_svg(params.size).map_err(size_error)?.into_bytes(),
        ),
        QrFormat::Png => ("image/png", matrix.to_png(params.size).map_err(size_error)?),
    };
    let filename = match format {
        QrFormat::Svg => "inline; filename=\"whatsapp-link.svg\"",
        QrFormat::Png => "inline; filename=\"whatsapp-link.png\"",
    };
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(QR_CACHE_CONTROL),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(filename),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    Ok(res)
}

/// `GET /v1/links/qr.svg`: the link's QR code as SVG.
pub async fn qr_svg(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    qr(&state, &auth, raw.as_deref(), QrFormat::Svg).await
}

/// `GET /v1/links/qr.png`: the link's QR code as PNG (1 bit greyscale, tagged 300 dpi).
pub async fn qr_png(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    qr(&state, &auth, raw.as_deref(), QrFormat::Png).await
}

// ---------------------------------------------------------------------------------------------
// /v1/link-templates

/// A prefilled text as the API shows it.
#[derive(Debug, Serialize)]
pub struct TemplateView {
    context: &'static str,
    locale: String,
    template: String,
    /// `builtin` (shipped with Chasqui) or `tenant` (the tenant's override).
    source: &'static str,
    allowed_placeholders: &'static [&'static str],
    updated_at: Option<DateTime<Utc>>,
}

impl From<LinkTemplate> for TemplateView {
    fn from(t: LinkTemplate) -> Self {
        Self {
            context: t.context.as_str(),
            locale: t.locale.to_string(),
            template: t.template,
            source: "tenant",
            allowed_placeholders: t.context.placeholders(),
            updated_at: Some(t.updated_at),
        }
    }
}

/// `GET /v1/link-templates` filters. `limit` and `cursor` are accepted, so generic list clients
/// work, and ignored: the list is always one page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateFilter {
    context: Option<String>,
    locale: Option<String>,
    #[serde(rename = "limit")]
    _limit: Option<String>,
    #[serde(rename = "cursor")]
    _cursor: Option<String>,
}

/// `{"data": [...], "next_cursor": null}`: the set is small, so it is always one page.
#[derive(Debug, Serialize)]
pub struct TemplateList {
    data: Vec<TemplateView>,
    next_cursor: Option<String>,
}

/// `GET /v1/link-templates`: the shipped texts and the tenant's overrides, by context then
/// locale (a shipped text before the tenant's text for the same locale, which wins).
pub async fn list_templates(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    Query(filter): Query<TemplateFilter>,
) -> Result<Json<TemplateList>, ApiError> {
    let context = non_blank(filter.context.as_deref())
        .map(LinkContext::parse)
        .transpose()
        .map_err(|e| link_error(&e))?;
    let locale = non_blank(filter.locale.as_deref())
        .map(Locale::parse)
        .transpose()
        .map_err(|e| link_error(&e))?;
    let wanted = |c: LinkContext, l: &Locale| {
        context.is_none_or(|w| w == c) && locale.as_ref().is_none_or(|w| w == l)
    };
    let none = TemplateOverrides::new();
    let mut data = Vec::new();
    for c in LinkContext::ALL {
        for tag in BUILTIN_LOCALES {
            let Ok(l) = Locale::parse(tag) else { continue };
            let (template, used, _) = resolve(c, &l, &none);
            if used == l && wanted(c, &l) {
                data.push(TemplateView {
                    context: c.as_str(),
                    locale: l.to_string(),
                    template: template.to_owned(),
                    source: "builtin",
                    allowed_placeholders: c.placeholders(),
                    updated_at: None,
                });
            }
        }
    }
    let tenant = state.store.link_templates(auth.tenant_id).await?;
    data.extend(
        tenant
            .into_iter()
            .filter(|t| wanted(t.context, &t.locale))
            .map(TemplateView::from),
    );
    let order = |c: &str| LinkContext::NAMES.iter().position(|n| *n == c);
    data.sort_by(|a, b| {
        (order(a.context), &a.locale, a.source == "tenant").cmp(&(
            order(b.context),
            &b.locale,
            b.source == "tenant",
        ))
    });
    Ok(Json(TemplateList {
        data,
        next_cursor: None,
    }))
}

/// `PUT /v1/link-templates/{context}/{locale}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    #[serde(default)]
    template: String,
}

/// The context and locale of a template path, parsed.
fn template_key(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(LinkContext, Locale), ApiError> {
    let Path((context, locale)) =
        path.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))?;
    let context = LinkContext::parse(&context).map_err(|e| link_error(&e))?;
    let locale = Locale::parse(&locale).map_err(|e| link_error(&e))?;
    Ok((context, locale))
}

/// Every `{{name}}` in a well-formed template that its context does not fill, in order.
fn unknown_placeholders(context: LinkContext, template: &str) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    for after_open in template.split("{{").skip(1) {
        let Some((name, _)) = after_open.split_once("}}") else {
            continue;
        };
        let name = name.trim();
        if !context.placeholders().contains(&name) && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_owned());
        }
    }
    unknown
}

/// `PUT /v1/link-templates/{context}/{locale}`: saves the tenant's own text, checked first.
pub async fn put_template(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    path: Result<Path<(String, String)>, PathRejection>,
    Json(body): Json<TemplateBody>,
) -> Result<Json<TemplateView>, ApiError> {
    let (context, locale) = template_key(path)?;
    let template = body.template.trim();
    if let Err(e) = validate_template(context, template) {
        if let LinkError::UnknownPlaceholder { allowed, .. } = &e {
            let unknown = unknown_placeholders(context, template);
            let shown: Vec<String> = unknown.iter().map(|u| format!("{{{{{u}}}}}")).collect();
            return Err(ApiError::invalid(
                e.code(),
                "template",
                format!(
                    "Unknown placeholder{} {} for `{context}`: use only {}.",
                    if unknown.len() == 1 { "" } else { "s" },
                    shown.join(", "),
                    allowed.join(", ")
                ),
            )
            .with_extra(
                json!({ "unknown_placeholders": unknown, "allowed_placeholders": allowed }),
            ));
        }
        return Err(link_error(&e));
    }
    let existing = state.store.link_templates(auth.tenant_id).await?;
    let replaces = existing
        .iter()
        .any(|t| t.context == context && t.locale == locale);
    if !replaces && existing.len() >= MAX_TENANT_TEMPLATES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_templates",
            format!(
                "A tenant may keep at most {MAX_TENANT_TEMPLATES} link templates; delete some first."
            ),
        ));
    }
    let saved = state
        .store
        .put_link_template(auth.tenant_id, context, &locale, template, &auth.actor())
        .await?;
    Ok(Json(saved.into()))
}

/// `DELETE /v1/link-templates/{context}/{locale}`: the shipped text applies again.
pub async fn delete_template(
    State(state): State<AppState>,
    auth: TenantAuth,
    _: WameEnabled,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let (context, locale) = template_key(path)?;
    if state
        .store
        .delete_link_template(auth.tenant_id, context, &locale, &auth.actor())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "This tenant has no template of its own for {context}/{locale}; the shipped text already applies."
            ),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// /v1/tenant/whatsapp-number

/// `PUT /v1/tenant/whatsapp-number` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberBody {
    #[serde(default)]
    phone: String,
    region: Option<String>,
}

/// `PUT /v1/tenant/whatsapp-number`: the number links without a `phone` open a chat with.
///
/// A national number is read in `region`, or in the region of the number already set.
pub async fn put_whatsapp_number(
    State(state): State<AppState>,
    auth: TenantAuth,
    Json(body): Json<NumberBody>,
) -> Result<Json<TenantView>, ApiError> {
    let region = match non_blank(body.region.as_deref()) {
        Some(r) => Some(RegionCode::parse(r).map_err(|e| phone_error(&e))?),
        None => tenant_number(&state, &auth)
            .await?
            .as_ref()
            .and_then(PhoneE164::region),
    };
    let phone = PhoneE164::parse(&body.phone, region).map_err(|e| phone_error(&e))?;
    let tenant = state
        .store
        .set_whatsapp_number(auth.tenant_id, Some(phone.as_str()))
        .await?;
    state
        .store
        .audit(chasqui_store::audit::NewAuditEntry {
            tenant: Some(auth.tenant_id),
            actor: &auth.actor(),
            action: "tenant.whatsapp_number_set",
            target: Some(&auth.tenant_id.to_string()),
            details: json!({ "whatsapp_number": phone.as_str() }),
        })
        .await?;
    Ok(Json(tenant.into()))
}

/// `DELETE /v1/tenant/whatsapp-number`: links must name a `phone` again.
pub async fn delete_whatsapp_number(
    State(state): State<AppState>,
    auth: TenantAuth,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state
        .store
        .set_whatsapp_number(auth.tenant_id, None)
        .await?;
    state
        .store
        .audit(chasqui_store::audit::NewAuditEntry {
            tenant: Some(auth.tenant_id),
            actor: &auth.actor(),
            action: "tenant.whatsapp_number_cleared",
            target: Some(&auth.tenant_id.to_string()),
            details: json!({}),
        })
        .await?;
    Ok(Json(tenant.into()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_locale_follows_the_numbers_country() {
        let locale = |r: &str| default_locale(Some(RegionCode::parse(r).unwrap())).to_string();
        assert_eq!(locale("AR"), "es-AR");
        assert_eq!(locale("MX"), "es");
        assert_eq!(locale("BR"), "pt-BR");
        assert_eq!(locale("PT"), "pt");
        assert_eq!(locale("FR"), "fr");
        assert_eq!(locale("US"), "en");
        assert_eq!(default_locale(None).to_string(), "en");
    }

    #[test]
    fn qr_query_round_trips_through_the_parser() {
        let request: LinkRequest = serde_json::from_str(
            r#"{"phone": "011 15-2345-6789", "region": "AR", "context": "invoice", "locale": "es-AR",
                "data": {"number": "A-0042", "amount": 12500, "note": null}, "ref": "inv-1"}"#,
        )
        .unwrap();
        let phone = PhoneE164::parse("+5491123456789", None).unwrap();
        let query = qr_query(&request, Some(&phone));
        assert!(query.starts_with("phone=%2B5491123456789&"), "{query}");
        let (parsed, params) = parse_qr_query(Some(&query)).unwrap();
        assert_eq!(parsed.phone.as_deref(), Some("+5491123456789"));
        assert_eq!(parsed.region, None);
        assert_eq!(parsed.context.as_deref(), Some("invoice"));
        assert_eq!(parsed.ref_code.as_deref(), Some("inv-1"));
        assert_eq!(parsed.data["amount"], "12500");
        assert_eq!(parsed.data.len(), 2);
        assert_eq!(params.size, QrSize::default());
    }

    #[test]
    fn qr_query_errors_name_their_parameter() {
        let err = |q: &str| {
            let e = parse_qr_query(Some(q)).unwrap_err();
            (e.status().as_u16(), e.code())
        };
        assert_eq!(err("size=0x"), (422, "invalid_size"));
        assert_eq!(err("size=2&px=300"), (422, "size_conflict"));
        assert_eq!(err("ec=Z"), (422, "invalid_ec_level"));
        assert_eq!(err("colour=red"), (400, "invalid_query"));
        assert_eq!(err("data.=1"), (400, "invalid_query"));
        assert_eq!(err("text=a&text=b"), (400, "invalid_query"));
        assert_eq!(err("data.x=a&data.x=b"), (400, "invalid_query"));
    }

    #[test]
    fn every_unknown_placeholder_is_named_once() {
        assert_eq!(
            unknown_placeholders(
                LinkContext::Invoice,
                "{{numero}} {{ amount }} {{monto}} {{numero}}"
            ),
            ["numero", "monto"]
        );
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence(&"too short"), "Too short.");
        assert_eq!(sentence(&"ok?"), "Ok?");
    }
}
