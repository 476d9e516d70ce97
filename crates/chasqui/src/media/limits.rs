//! WhatsApp's media types, the MIME types each accepts and their size limits
//! (`cloud-api.md` §5.1), and the checks an upload must pass before it is kept.
//!
//! Sizes are in decimal megabytes, as Meta writes them: 5 MB is 5,000,000 bytes. Being a little
//! stricter than a binary reading means an upload we accept is never refused by Meta for size.

use std::fmt;

/// The largest inbound file we download (customers can send up to 100 MB).
pub const INBOUND_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// The largest upload any type allows (documents).
pub const UPLOAD_MAX_BYTES: u64 = 100_000_000;

/// The request body limit of `POST /v1/media`: the largest file plus room for the multipart
/// envelope and the other fields.
pub const UPLOAD_BODY_LIMIT: usize = 100_000_000 + 1024 * 1024;

/// A WhatsApp media message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `image`: JPEG or PNG, 5 MB.
    Image,
    /// `audio`: AAC, AMR, MP3, MP4 audio, OGG (Opus only), 16 MB.
    Audio,
    /// `video`: MP4 or 3GPP, 16 MB.
    Video,
    /// `document`: text, PDF and Office files, 100 MB.
    Document,
    /// `sticker`: WebP, 100 KB static or 500 KB animated.
    Sticker,
}

const IMAGE: &[&str] = &["image/jpeg", "image/png"];
const AUDIO: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
const VIDEO: &[&str] = &["video/mp4", "video/3gpp"];
const DOCUMENT: &[&str] = &[
    "text/plain",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];
const STICKER: &[&str] = &["image/webp"];

impl MediaKind {
    /// Every type.
    pub const ALL: [MediaKind; 5] = [
        MediaKind::Image,
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Document,
        MediaKind::Sticker,
    ];

    /// The name WhatsApp uses (`image`, `audio`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }

    /// The type of that name.
    pub fn parse(s: &str) -> Option<MediaKind> {
        let s = s.trim();
        MediaKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The MIME types this type accepts (parameters aside).
    pub fn mime_types(&self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => IMAGE,
            MediaKind::Audio => AUDIO,
            MediaKind::Video => VIDEO,
            MediaKind::Document => DOCUMENT,
            MediaKind::Sticker => STICKER,
        }
    }

    /// The type a MIME type is sent as when the caller does not say (`image/webp` is a sticker).
    pub fn for_mime(mime: &Mime) -> Option<MediaKind> {
        MediaKind::ALL
            .into_iter()
            .find(|k| k.mime_types().contains(&mime.essence()))
    }

    /// The largest file of this type, in bytes.
    pub fn max_bytes(&self, animated: bool) -> u64 {
        match self {
            MediaKind::Image => 5_000_000,
            MediaKind::Audio | MediaKind::Video => 16_000_000,
            MediaKind::Document => UPLOAD_MAX_BYTES,
            MediaKind::Sticker if animated => 500_000,
            MediaKind::Sticker => 100_000,
        }
    }

    /// The limit as people read it (`5 MB`, `100 KB`).
    fn max_text(&self, animated: bool) -> String {
        let max = self.max_bytes(animated);
        if max >= 1_000_000 {
            format!("{} MB", max / 1_000_000)
        } else {
            format!("{} KB", max / 1_000)
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A MIME type, lower-cased, with its parameters (`audio/ogg; codecs=opus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mime {
    essence: String,
    params: Vec<(String, String)>,
}

impl Mime {
    /// Parses `type/subtype; name=value…`; `None` when it is not of that shape.
    pub fn parse(raw: &str) -> Option<Mime> {
        let mut parts = raw.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (ty, sub) = essence.split_once('/')?;
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        if !token(ty) || !token(sub) {
            return None;
        }
        let essence = match essence.as_str() {
            // Meta's list writes `video/3gp`; the registered name is `video/3gpp`.
            "video/3gp" => "video/3gpp".to_owned(),
            "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
            "audio/mp3" => "audio/mpeg".to_owned(),
            _ => essence,
        };
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_ascii_lowercase(),
                ))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Some(Mime { essence, params })
    }

    /// `type/subtype`.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it is unspecific (`application/octet-stream`), i.e. says nothing about the file.
    pub fn is_generic(&self) -> bool {
        self.essence == "application/octet-stream"
    }
}

impl fmt::Display for Mime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (k, v) in &self.params {
            write!(f, "; {k}={v}")?;
        }
        Ok(())
    }
}

/// The MIME type a file name's extension suggests, for uploads sent without a usable type.
pub fn mime_from_filename(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "3gp" | "3gpp" => "video/3gpp",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" => "audio/ogg",
        "txt" => "text/plain",
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

/// A file extension for a MIME type (for download names when the file has none).
pub fn extension_for(mime: &str) -> Option<&'static str> {
    let essence = Mime::parse(mime)?;
    Some(match essence.essence() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "text/plain" => "txt",
        "application/pdf" => "pdf",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.ms-powerpoint" => "ppt",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        _ => return None,
    })
}

/// Whether a WebP file (its first bytes) is animated: a `VP8X` header with the animation flag.
pub fn webp_is_animated(head: &[u8]) -> bool {
    head.len() >= 21 && &head[12..16] == b"VP8X" && head[20] & 0x02 != 0
}

/// Whether a file's first bytes contradict its declared image type. Only the image formats,
/// whose signatures are fixed, are checked; other types are taken as declared.
fn contradicts(mime: &str, head: &[u8]) -> bool {
    match mime {
        "image/jpeg" => !head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => !head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/webp" => !(head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP"),
        _ => false,
    }
}

/// Why an upload was refused: a 422 naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable error code.
    pub code: &'static str,
    /// The form field at fault (`file` or `type`).
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refuse(code: &'static str, field: &'static str, message: String) -> Refusal {
    Refusal {
        code,
        field,
        message,
    }
}

/// What the uploader said about the file.
#[derive(Debug, Clone, Default)]
pub struct Declared<'a> {
    /// The `type` form field: a WhatsApp type (`image`…) or a MIME type (`image/png`).
    pub type_field: Option<&'a str>,
    /// The `Content-Type` of the `file` part.
    pub part_content_type: Option<&'a str>,
    /// The file name (the `filename` field, or the part's).
    pub filename: Option<&'a str>,
}

/// An upload that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Its WhatsApp type.
    pub kind: MediaKind,
    /// Its MIME type, normalised.
    pub mime: String,
}

/// Decides an upload's type and MIME type and checks them, its size and its first bytes
/// against WhatsApp's rules.
pub fn check_upload(declared: &Declared<'_>, size: u64, head: &[u8]) -> Result<Accepted, Refusal> {
    let (kind_field, mime_field) = match declared
        .type_field
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) if t.contains('/') => (None, Some(t)),
        Some(t) => match MediaKind::parse(t) {
            Some(k) => (Some(k), None),
            None => {
                return Err(refuse(
                    "invalid_media_type",
                    "type",
                    format!(
                        "`type` is `{t}`: use one of image, audio, video, document, sticker, or a MIME type such as image/png."
                    ),
                ));
            }
        },
        None => (None, None),
    };
    let (mime, mime_source) = match mime_field {
        Some(raw) => match Mime::parse(raw) {
            Some(m) => (m, "type"),
            None => {
                return Err(refuse(
                    "invalid_mime_type",
                    "type",
                    format!("`type` is `{raw}`, which is not a MIME type such as image/png."),
                ));
            }
        },
        None => {
            let from_part = declared
                .part_content_type
                .and_then(Mime::parse)
                .filter(|m| !m.is_generic());
            let from_name = declared
                .filename
                .and_then(mime_from_filename)
                .and_then(Mime::parse);
            match from_part.or(from_name) {
                Some(m) => (m, "file"),
                None => {
                    return Err(refuse(
                        "missing_mime_type",
                        "type",
                        "The file's MIME type is unknown: send the `file` part with its Content-Type \
                         (curl: -F 'file=@photo.jpg;type=image/jpeg') or add a `type` field such as image/jpeg."
                            .to_owned(),
                    ));
                }
            }
        }
    };
    let kind = match kind_field.or_else(|| MediaKind::for_mime(&mime)) {
        Some(k) => k,
        None => {
            return Err(refuse(
                "unsupported_mime_type",
                mime_source,
                format!(
                    "WhatsApp does not accept {} files. Images: JPEG or PNG; video: MP4 or 3GPP; audio: AAC, AMR, MP3, MP4 or OGG (Opus); \
                     stickers: WebP; documents: text, PDF, Word, Excel or PowerPoint.",
                    mime.essence()
                ),
            ));
        }
    };
    if !kind.mime_types().contains(&mime.essence()) {
        return Err(refuse(
            "unsupported_mime_type",
            mime_source,
            format!(
                "A WhatsApp {kind} cannot be {}; accepted: {}.",
                mime.essence(),
                kind.mime_types().join(", ")
            ),
        ));
    }
    if mime.essence() == "audio/ogg"
        && let Some(codecs) = mime.param("codecs")
        && codecs != "opus"
    {
        return Err(refuse(
            "unsupported_mime_type",
            mime_source,
            format!(
                "WhatsApp plays OGG audio only with the Opus codec, not `{codecs}`; convert it to Opus (audio/ogg; codecs=opus)."
            ),
        ));
    }
    if size == 0 {
        return Err(refuse(
            "empty_file",
            "file",
            "The file is empty.".to_owned(),
        ));
    }
    let animated = kind == MediaKind::Sticker && webp_is_animated(head);
    let max = kind.max_bytes(animated);
    if size > max {
        let what = match (kind, animated) {
            (MediaKind::Sticker, true) => "An animated sticker".to_owned(),
            (MediaKind::Sticker, false) => "A static sticker".to_owned(),
            (MediaKind::Image, _) => "An image".to_owned(),
            (MediaKind::Audio, _) => "An audio file".to_owned(),
            (k, _) => format!("A {k}"),
        };
        let hint = match kind {
            MediaKind::Image => " Compress it, or send it as a document.",
            MediaKind::Video | MediaKind::Audio => " Compress it, or send it as a document.",
            _ => "",
        };
        return Err(refuse(
            "media_too_large",
            "file",
            format!(
                "{what} may be at most {} ({max} bytes); this file is {size} bytes.{hint}",
                kind.max_text(animated)
            ),
        ));
    }
    if contradicts(mime.essence(), head) {
        return Err(refuse(
            "media_content_mismatch",
            "file",
            format!(
                "The file is declared as {} but its content is not {}; send the right file or the right type.",
                mime.essence(),
                mime.essence()
            ),
        ));
    }
    Ok(Accepted {
        kind,
        mime: mime.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0";

    fn webp(animated: bool) -> Vec<u8> {
        let mut h = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        h.push(if animated { 0x02 } else { 0 });
        h.extend_from_slice(&[0; 9]);
        h
    }

    fn declared<'a>(
        ty: Option<&'a str>,
        part: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Declared<'a> {
        Declared {
            type_field: ty,
            part_content_type: part,
            filename: name,
        }
    }

    #[test]
    fn the_type_comes_from_the_field_the_part_or_the_name() {
        let ok = check_upload(&declared(None, Some("image/jpeg"), None), 10, JPEG).unwrap();
        assert_eq!(
            (ok.kind, ok.mime.as_str()),
            (MediaKind::Image, "image/jpeg")
        );
        let ok = check_upload(
            &declared(Some("image/png"), Some("application/octet-stream"), None),
            10,
            PNG,
        )
        .unwrap();
        assert_eq!(ok.mime, "image/png");
        let ok = check_upload(
            &declared(None, Some("application/octet-stream"), Some("a.PDF")),
            10,
            b"%PDF",
        )
        .unwrap();
        assert_eq!(ok.kind, MediaKind::Document);
        let ok = check_upload(
            &declared(Some("audio"), Some("audio/ogg; codecs=opus"), None),
            10,
            b"OggS",
        )
        .unwrap();
        assert_eq!(
            (ok.kind, ok.mime.as_str()),
            (MediaKind::Audio, "audio/ogg; codecs=opus")
        );
        assert_eq!(
            check_upload(&declared(None, Some("image/webp"), None), 10, &webp(false))
                .unwrap()
                .kind,
            MediaKind::Sticker
        );
        assert_eq!(
            check_upload(&declared(None, Some("video/3gp"), None), 10, b"")
                .unwrap()
                .mime,
            "video/3gpp"
        );
    }

    #[test]
    fn wrong_types_name_the_field_at_fault() {
        let e = check_upload(&declared(None, Some("image/gif"), None), 10, b"GIF8").unwrap_err();
        assert_eq!((e.code, e.field), ("unsupported_mime_type", "file"));
        let e = check_upload(&declared(Some("image/gif"), None, None), 10, b"GIF8").unwrap_err();
        assert_eq!((e.code, e.field), ("unsupported_mime_type", "type"));
        let e = check_upload(
            &declared(Some("image"), Some("application/pdf"), None),
            10,
            b"%PDF",
        )
        .unwrap_err();
        assert_eq!((e.code, e.field), ("unsupported_mime_type", "file"));
        assert!(e.message.contains("image/jpeg, image/png"), "{}", e.message);
        let e = check_upload(&declared(Some("gif"), None, None), 10, b"").unwrap_err();
        assert_eq!((e.code, e.field), ("invalid_media_type", "type"));
        let e = check_upload(&declared(None, None, Some("noext")), 10, b"").unwrap_err();
        assert_eq!((e.code, e.field), ("missing_mime_type", "type"));
        let e = check_upload(
            &declared(None, Some("audio/ogg; codecs=vorbis"), None),
            10,
            b"",
        )
        .unwrap_err();
        assert!(e.message.contains("Opus"), "{}", e.message);
        let e = check_upload(&declared(None, Some("image/png"), None), 10, JPEG).unwrap_err();
        assert_eq!((e.code, e.field), ("media_content_mismatch", "file"));
        let e = check_upload(&declared(None, Some("image/png"), None), 0, b"").unwrap_err();
        assert_eq!(e.code, "empty_file");
    }

    #[test]
    fn sizes_follow_each_type_and_sticker_animation() {
        let d = declared(None, Some("image/jpeg"), None);
        assert!(check_upload(&d, 5_000_000, JPEG).is_ok());
        let e = check_upload(&d, 5_000_001, JPEG).unwrap_err();
        assert_eq!((e.code, e.field), ("media_too_large", "file"));
        assert!(
            e.message.contains("5 MB") && e.message.contains("5000001"),
            "{}",
            e.message
        );
        let s = declared(None, Some("image/webp"), None);
        assert!(
            check_upload(&s, 100_001, &webp(false))
                .unwrap_err()
                .message
                .contains("100 KB")
        );
        assert!(check_upload(&s, 400_000, &webp(true)).is_ok());
        assert!(
            check_upload(&s, 500_001, &webp(true))
                .unwrap_err()
                .message
                .contains("500 KB")
        );
        let doc = declared(None, Some("application/pdf"), None);
        assert!(check_upload(&doc, UPLOAD_MAX_BYTES, b"%PDF").is_ok());
        assert!(check_upload(&doc, UPLOAD_MAX_BYTES + 1, b"%PDF").is_err());
        assert!(check_upload(&declared(None, Some("video/mp4"), None), 16_000_001, b"").is_err());
    }

    #[test]
    fn mime_parsing_normalises_and_refuses_junk() {
        assert_eq!(
            Mime::parse(" Image/JPG ").unwrap().to_string(),
            "image/jpeg"
        );
        assert_eq!(
            Mime::parse("audio/ogg;codecs=\"OPUS\"")
                .unwrap()
                .to_string(),
            "audio/ogg; codecs=opus"
        );
        assert!(Mime::parse("nonsense").is_none());
        assert!(Mime::parse("a b/c").is_none());
        assert_eq!(extension_for("audio/ogg; codecs=opus"), Some("ogg"));
    }
}
