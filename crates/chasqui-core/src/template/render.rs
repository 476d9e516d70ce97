//! A template with its values filled in, exactly as the customer will see it (for
//! `POST /v1/templates/{name}/preview` and for storing the sent message's text).

use serde::Serialize;

use crate::send::MediaSource;
use crate::send::error::Result;

use super::check::check_params;
use super::model::{ButtonKind, HeaderFormat, Template};
use super::params::{ComponentParams, ComponentTarget, ParamValue, TemplateParams};
use super::placeholder::{Placeholder, fill};

/// A template as the customer will see it. Never contains a `{{…}}` placeholder of the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedTemplate {
    /// The header, if the template has one.
    pub header: Option<RenderedHeader>,
    /// The body text.
    pub body: String,
    /// The footer text.
    pub footer: Option<String>,
    /// The buttons, in order.
    pub buttons: Vec<RenderedButton>,
}

/// A rendered header.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RenderedHeader {
    /// A text header.
    Text {
        /// The text.
        text: String,
    },
    /// An image header.
    Image {
        /// The image sent.
        media: Option<MediaSource>,
    },
    /// A video header.
    Video {
        /// The video sent.
        media: Option<MediaSource>,
    },
    /// A document header.
    Document {
        /// The document sent.
        media: Option<MediaSource>,
        /// Its file name.
        filename: Option<String>,
    },
    /// A location header.
    Location {
        /// Latitude.
        latitude: Option<f64>,
        /// Longitude.
        longitude: Option<f64>,
        /// Place name.
        name: Option<String>,
        /// Address.
        address: Option<String>,
    },
}

/// A rendered button.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedButton {
    /// What it does.
    #[serde(rename = "type")]
    pub kind: ButtonKind,
    /// Its label.
    pub text: String,
    /// The URL it opens, with its suffix filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The number it calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// What a quick reply sends back (its label when no payload was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The code a copy-code or one-time-password button copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl RenderedTemplate {
    /// The header's text, for text headers.
    pub fn header_text(&self) -> Option<&str> {
        match &self.header {
            Some(RenderedHeader::Text { text }) => Some(text),
            _ => None,
        }
    }

    /// Header text, body, footer and button labels, one per line, for storage and search.
    pub fn text(&self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        if let Some(h) = self.header_text() {
            lines.push(h);
        }
        lines.push(&self.body);
        if let Some(f) = &self.footer {
            lines.push(f);
        }
        for b in &self.buttons {
            lines.push(&b.text);
        }
        lines.retain(|l| !l.trim().is_empty());
        lines.join("\n")
    }
}

/// Checks `params` against `template` (as [`check_params`] without media lookups) and renders it.
pub fn render(template: &Template, params: &TemplateParams) -> Result<RenderedTemplate> {
    check_params(template, params, None)?;
    Ok(render_checked(template, params))
}

/// Renders without checking: a value that is missing renders empty, never as `{{1}}`.
pub(crate) fn render_checked(template: &Template, params: &TemplateParams) -> RenderedTemplate {
    let given = |target: &dyn Fn(&ComponentTarget) -> bool| {
        params
            .components
            .iter()
            .find(|c| target(&c.target) && !c.parameters.is_empty())
    };
    let header_params = given(&|t| *t == ComponentTarget::Header);
    let body_params = given(&|t| *t == ComponentTarget::Body);
    let header = template.header().and_then(|h| {
        let first = header_params
            .and_then(|c| c.parameters.first())
            .map(|p| &p.value);
        let media = |v: Option<&ParamValue>| match v {
            Some(ParamValue::Image(s) | ParamValue::Video(s) | ParamValue::Document(s, _)) => {
                Some(s.clone())
            }
            _ => None,
        };
        Some(match &h.format {
            HeaderFormat::Text => RenderedHeader::Text {
                text: fill(h.text.as_deref().unwrap_or_default(), |p| {
                    value(header_params, p)
                }),
            },
            HeaderFormat::Image => RenderedHeader::Image {
                media: media(first),
            },
            HeaderFormat::Video => RenderedHeader::Video {
                media: media(first),
            },
            HeaderFormat::Document => RenderedHeader::Document {
                media: media(first),
                filename: match first {
                    Some(ParamValue::Document(_, f)) => f.clone(),
                    _ => None,
                },
            },
            HeaderFormat::Location => match first {
                Some(ParamValue::Location {
                    latitude,
                    longitude,
                    name,
                    address,
                }) => RenderedHeader::Location {
                    latitude: Some(*latitude),
                    longitude: Some(*longitude),
                    name: name.clone(),
                    address: address.clone(),
                },
                _ => RenderedHeader::Location {
                    latitude: None,
                    longitude: None,
                    name: None,
                    address: None,
                },
            },
            HeaderFormat::Other(_) => return None,
        })
    });
    let body = template
        .body_text()
        .map(|t| fill(&t, |p| value(body_params, p)))
        .unwrap_or_default();
    let footer = template.footer_text().map(|t| t.into_owned());
    let buttons = template
        .buttons()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let param = params
                .components
                .iter()
                .find(|c| matches!(c.target, ComponentTarget::Button { index, .. } if index == i))
                .and_then(|c| c.parameters.first())
                .map(|p| &p.value);
            let text_param = match param {
                Some(ParamValue::Text(t)) => Some(t.clone()),
                _ => None,
            };
            let label = b.text.clone().unwrap_or_else(|| match b.kind {
                ButtonKind::Otp | ButtonKind::CopyCode => "Copy code".to_owned(),
                _ => b.kind.as_str().to_owned(),
            });
            RenderedButton {
                kind: b.kind.clone(),
                url: match b.kind {
                    ButtonKind::Url => b
                        .url
                        .as_deref()
                        .map(|u| fill(u, |_| Some(text_param.clone().unwrap_or_default()))),
                    _ => None,
                },
                phone_number: b.phone_number.clone(),
                payload: match (&b.kind, param) {
                    (ButtonKind::QuickReply, Some(ParamValue::Payload(p))) => Some(p.clone()),
                    (ButtonKind::QuickReply, _) => Some(label.clone()),
                    _ => None,
                },
                code: match (&b.kind, param) {
                    (ButtonKind::CopyCode, Some(ParamValue::CouponCode(c))) => Some(c.clone()),
                    (ButtonKind::Otp, _) => text_param,
                    _ => None,
                },
                text: label,
            }
        })
        .collect();
    RenderedTemplate {
        header,
        body,
        footer,
        buttons,
    }
}

/// The text shown for a placeholder: the positional value or the named one.
fn value(component: Option<&ComponentParams>, placeholder: &Placeholder) -> Option<String> {
    let params = &component?.parameters;
    let param = match placeholder {
        Placeholder::Positional(n) => params.get(n.checked_sub(1)?),
        Placeholder::Named(name) => params.iter().find(|p| p.name.as_deref() == Some(name)),
    }?;
    match &param.value {
        ParamValue::Text(t) => Some(t.clone()),
        ParamValue::Currency { fallback_value, .. } | ParamValue::DateTime { fallback_value } => {
            Some(fallback_value.clone())
        }
        _ => None,
    }
}
