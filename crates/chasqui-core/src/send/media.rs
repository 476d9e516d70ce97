//! Media in sends: by `link` (an https URL WhatsApp downloads) or by `id` (ours, `med_…`, or a
//! provider's), and the MIME types and sizes WhatsApp accepts per type (`cloud-api.md` §5.1).

use std::str::FromStr;

use serde::Serialize;

use super::error::{Result, SendErrorKind, SendValidationError, conflict, missing, name, shorten};
use super::json::{Obj, is_url};
use crate::ids::MediaId;

/// The prefix of our media ids (`POST /v1/media`).
pub const OUR_MEDIA_PREFIX: &str = "med_";

const MB: u64 = 1024 * 1024;
const KB: u64 = 1024;

/// A kind of media message (or template header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// JPEG or PNG, ≤ 5 MB.
    Image,
    /// MP4 or 3GPP, ≤ 16 MB.
    Video,
    /// AAC, AMR, MP3, MP4 audio or OGG (Opus), ≤ 16 MB.
    Audio,
    /// Any file, ≤ 100 MB.
    Document,
    /// WebP, ≤ 100 KB static or 500 KB animated.
    Sticker,
}

impl MediaKind {
    /// The message type name (`image`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// The MIME types WhatsApp accepts; empty means any (documents).
    pub fn allowed_mime_types(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["image/jpeg", "image/png"],
            Self::Video => &["video/mp4", "video/3gpp", "video/3gp"],
            Self::Audio => &[
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
            ],
            Self::Document => &[],
            Self::Sticker => &["image/webp"],
        }
    }

    /// The largest file WhatsApp accepts, in bytes (1 MB = 1,048,576 bytes). Stickers: 100 KB
    /// static, 500 KB animated; when it is not known whether a sticker is animated, 500 KB.
    pub fn max_bytes(self, animated: Option<bool>) -> u64 {
        match self {
            Self::Image => 5 * MB,
            Self::Video | Self::Audio => 16 * MB,
            Self::Document => 100 * MB,
            Self::Sticker if animated == Some(false) => 100 * KB,
            Self::Sticker => 500 * KB,
        }
    }
}

/// What the caller knows about one of our uploaded media (`med_…`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaInfo {
    /// As stored at upload (`image/jpeg`, `audio/ogg; codecs=opus`).
    pub mime_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// For WebP stickers: whether the file is animated, when known.
    pub animated: Option<bool>,
    /// The uploaded file's name; documents sent without `filename` get it.
    pub filename: Option<String>,
}

/// Finds our uploaded media by id, so the validator can check MIME type and size per type.
pub trait MediaLookup {
    /// The media with this id, or `None` when this tenant has no such media.
    fn media(&self, id: &MediaId) -> Option<MediaInfo>;
}

impl<F: Fn(&MediaId) -> Option<MediaInfo>> MediaLookup for F {
    fn media(&self, id: &MediaId) -> Option<MediaInfo> {
        self(id)
    }
}

/// Where media comes from; serialises as Meta's `{"link": …}` / `{"id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaSource {
    /// An https URL WhatsApp downloads.
    Link(String),
    /// Our media id (`med_…`, resolved to a provider id by the sender) or a provider media id.
    Id(String),
}

impl MediaSource {
    /// Our media id (`med_…`), when it is one.
    pub fn our_id(&self) -> Option<MediaId> {
        match self {
            Self::Id(id) => MediaId::from_str(id).ok(),
            Self::Link(_) => None,
        }
    }
}

/// Reads `link` xor `id` from a media object.
pub(crate) fn parse_source(obj: &Obj<'_>, what: &str) -> Result<MediaSource> {
    let link = obj.str("link")?;
    let id = obj.str("id")?;
    match (link, id) {
        (Some(_), Some(_)) => Err(conflict(
            &[obj.field("link"), obj.field("id")],
            format!(
                "{} has both `link` and `id`: give one, the URL of the {what} or its media id.",
                name(&obj.path)
            ),
        )),
        (None, None) => Err(missing(
            &obj.field("link"),
            &format!(
                "give `link` (an https URL of the {what}) or `id` (a media id from POST /v1/media)"
            ),
        )),
        (Some(link), None) => {
            check_link(&obj.field("link"), link)?;
            Ok(MediaSource::Link(link.trim().to_owned()))
        }
        (None, Some(id)) => {
            check_id(&obj.field("id"), id)?;
            Ok(MediaSource::Id(id.to_owned()))
        }
    }
}

fn check_link(path: &str, link: &str) -> Result<()> {
    let link = link.trim();
    if is_url(link, &["https"]) {
        return Ok(());
    }
    let why = if is_url(link, &["http"]) {
        "use https: WhatsApp downloads the file, and plain http exposes it"
    } else {
        "it must be an absolute https:// URL that WhatsApp can download"
    };
    Err(SendValidationError::new(
        SendErrorKind::InvalidUrl,
        path,
        format!(
            "{} is not a valid media URL (`{}`): {why}.",
            name(path),
            shorten(link, 80)
        ),
    ))
}

fn check_id(path: &str, id: &str) -> Result<()> {
    let ok = if id.starts_with(OUR_MEDIA_PREFIX) {
        MediaId::from_str(id).is_ok()
    } else {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if ok {
        return Ok(());
    }
    Err(SendValidationError::new(
        SendErrorKind::InvalidMediaId,
        path,
        format!(
            "{} (`{}`) is not a media id: use the `id` POST /v1/media returned (`med_…`) or a \
             WhatsApp media id (digits), or send the file by `link` instead.",
            name(path),
            shorten(id, 60)
        ),
    ))
}

/// Checks our uploaded media against `kind`'s MIME types and size; `pdf_only` for template
/// document headers. Links and provider ids cannot be checked here.
pub(crate) fn check_uploaded(
    source: &MediaSource,
    kind: MediaKind,
    pdf_only: bool,
    lookup: Option<&dyn MediaLookup>,
    path: &str,
) -> Result<Option<MediaInfo>> {
    let (Some(id), Some(lookup)) = (source.our_id(), lookup) else {
        return Ok(None);
    };
    let Some(info) = lookup.media(&id) else {
        return Err(SendValidationError::new(
            SendErrorKind::MediaNotFound,
            path,
            format!(
                "No uploaded media has the id `{}`: upload the file with POST /v1/media and use the \
                 id it returns (uploads expire after 30 days).",
                id
            ),
        ));
    };
    let mime = essence(&info.mime_type);
    let allowed: &[&str] = if pdf_only {
        &["application/pdf"]
    } else {
        kind.allowed_mime_types()
    };
    if !allowed.is_empty() && !allowed.contains(&mime.as_str()) {
        let what = if pdf_only {
            "a template document header".to_owned()
        } else {
            format!(
                "a{} {} message",
                if kind == MediaKind::Image || kind == MediaKind::Audio {
                    "n"
                } else {
                    ""
                },
                kind.as_str()
            )
        };
        return Err(SendValidationError::new(
            SendErrorKind::UnsupportedMediaType {
                mime_type: mime.clone(),
                allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
            },
            path,
            format!(
                "The uploaded media `{id}` is `{mime}`, which WhatsApp does not accept for {what}; \
                 accepted: {}. Convert the file or send it as a document.",
                allowed.join(", ")
            ),
        ));
    }
    let max = kind.max_bytes(info.animated);
    if info.size_bytes > max {
        return Err(SendValidationError::new(
            SendErrorKind::MediaTooLarge {
                size: info.size_bytes,
                max,
            },
            path,
            format!(
                "The uploaded media `{id}` is {}, larger than the {} WhatsApp accepts for {} \
                 messages: compress it or send a link to it in a text.",
                human_size(info.size_bytes),
                human_size(max),
                kind.as_str()
            ),
        ));
    }
    Ok(Some(info))
}

/// `image/jpeg` from `Image/JPEG; charset=x`.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn human_size(bytes: u64) -> String {
    if bytes >= MB {
        let tenths = bytes * 10 / MB;
        format!("{}.{} MB", tenths / 10, tenths % 10)
    } else if bytes >= KB {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A fixed media id per name, for tests.
#[cfg(test)]
pub(crate) fn med(name: &str) -> MediaId {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    MediaId::from_uuid(uuid::Uuid::from_u128(hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(id: &MediaId) -> Option<MediaInfo> {
        let name = ["photo", "big", "voice", "sticker"]
            .into_iter()
            .find(|n| med(n) == *id)?;
        match name {
            "photo" => Some(MediaInfo {
                mime_type: "image/JPEG".into(),
                size_bytes: 300 * KB,
                ..MediaInfo::default()
            }),
            "big" => Some(MediaInfo {
                mime_type: "image/png".into(),
                size_bytes: 6 * MB,
                ..MediaInfo::default()
            }),
            "voice" => Some(MediaInfo {
                mime_type: "audio/ogg; codecs=opus".into(),
                size_bytes: 40 * KB,
                ..MediaInfo::default()
            }),
            "sticker" => Some(MediaInfo {
                mime_type: "image/webp".into(),
                size_bytes: 200 * KB,
                animated: Some(false),
                ..MediaInfo::default()
            }),
            _ => None,
        }
    }

    #[allow(clippy::needless_pass_by_value)] // test helper: takes `json!(…)` literals
    fn source(v: serde_json::Value) -> Result<MediaSource> {
        let o = Obj::of(&v, "image")?;
        parse_source(&o, "image")
    }

    #[test]
    fn link_xor_id() {
        assert_eq!(
            source(json!({"link": "https://x.example/a.jpg"})).unwrap(),
            MediaSource::Link("https://x.example/a.jpg".into())
        );
        assert_eq!(
            source(json!({"id": "1234567890"})).unwrap(),
            MediaSource::Id("1234567890".into())
        );
        let e = source(json!({"link": "https://x.example/a.jpg", "id": "1"})).unwrap_err();
        assert_eq!((e.code(), e.field()), ("conflicting_fields", "image.id"));
        let e = source(json!({})).unwrap_err();
        assert_eq!((e.code(), e.field()), ("missing_field", "image.link"));
        let e = source(json!({"link": "http://x.example/a.jpg"})).unwrap_err();
        assert_eq!(e.code(), "invalid_url");
        assert!(e.message().contains("use https"));
        let e = source(json!({"id": "med_"})).unwrap_err();
        assert_eq!(e.code(), "invalid_media_id");
        let e = source(json!({"id": "med_factura"})).unwrap_err();
        assert_eq!(e.code(), "invalid_media_id");
        let e = source(json!({"id": "<IMAGE ID>"})).unwrap_err();
        assert_eq!(e.code(), "invalid_media_id");
    }

    #[test]
    fn uploaded_media_is_checked_by_type_and_size() {
        let l: &dyn MediaLookup = &lookup;
        let ours = |id: &str| MediaSource::Id(id.into());
        assert!(
            check_uploaded(
                &ours(&med("photo").to_string()),
                MediaKind::Image,
                false,
                Some(l),
                "image.id"
            )
            .is_ok()
        );
        let e = check_uploaded(
            &ours(&med("photo").to_string()),
            MediaKind::Sticker,
            false,
            Some(l),
            "sticker.id",
        )
        .unwrap_err();
        assert_eq!(e.code(), "unsupported_media_type");
        assert!(e.message().contains("image/jpeg"), "{}", e.message());
        let e = check_uploaded(
            &ours(&med("big").to_string()),
            MediaKind::Image,
            false,
            Some(l),
            "image.id",
        )
        .unwrap_err();
        assert_eq!(e.code(), "media_too_large");
        assert!(
            e.message().contains("6.0 MB") && e.message().contains("5.0 MB"),
            "{}",
            e.message()
        );
        assert!(
            check_uploaded(
                &ours(&med("voice").to_string()),
                MediaKind::Audio,
                false,
                Some(l),
                "audio.id"
            )
            .is_ok()
        );
        let e = check_uploaded(
            &ours(&med("sticker").to_string()),
            MediaKind::Sticker,
            false,
            Some(l),
            "sticker.id",
        )
        .unwrap_err();
        assert_eq!(e.code(), "media_too_large");
        let e = check_uploaded(
            &ours(&med("photo").to_string()),
            MediaKind::Document,
            true,
            Some(l),
            "h",
        )
        .unwrap_err();
        assert_eq!(e.code(), "unsupported_media_type");
        assert!(
            check_uploaded(
                &ours(&med("photo").to_string()),
                MediaKind::Document,
                false,
                Some(l),
                "d"
            )
            .is_ok()
        );
        let e = check_uploaded(
            &ours(&med("gone").to_string()),
            MediaKind::Image,
            false,
            Some(l),
            "image.id",
        )
        .unwrap_err();
        assert_eq!(e.code(), "media_not_found");
        // Provider ids, links and a missing hook are not checked.
        assert!(
            check_uploaded(&ours("12345"), MediaKind::Image, false, Some(l), "x")
                .unwrap()
                .is_none()
        );
        assert!(
            check_uploaded(
                &ours(&med("gone").to_string()),
                MediaKind::Image,
                false,
                None,
                "x"
            )
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn limits_follow_the_reference() {
        assert_eq!(MediaKind::Image.max_bytes(None), 5 * 1024 * 1024);
        assert_eq!(MediaKind::Sticker.max_bytes(Some(false)), 100 * 1024);
        assert_eq!(MediaKind::Sticker.max_bytes(Some(true)), 500 * 1024);
        assert_eq!(MediaKind::Document.max_bytes(None), 100 * 1024 * 1024);
        assert!(MediaKind::Document.allowed_mime_types().is_empty());
        assert_eq!(human_size(512), "512 bytes");
    }
}
