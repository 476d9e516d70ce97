//! Logging: JSON or human-readable lines on stderr, with phone numbers masked in every line
//! whatever field or message they hide in.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::LazyLock;

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// Runs of digits that look like phone numbers: `+` and 8+ digits with separators, or 10 to 15
/// bare digits (a `wa_id`). Dates (`2026-11-22`) and short numbers are left alone.
static PHONE_LIKE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\+\d[\d \-().]{6,18}\d|\b\d{10,15}\b").ok());

/// Masks phone-like runs in a log line, keeping the first 3 and last 4 digits.
pub fn mask_phones(line: &str) -> Cow<'_, str> {
    let Some(re) = PHONE_LIKE.as_ref() else {
        return Cow::Borrowed(line);
    };
    re.replace_all(line, |caps: &regex::Captures<'_>| {
        let m = &caps[0];
        let digits: Vec<char> = m.chars().filter(char::is_ascii_digit).collect();
        let plus = if m.starts_with('+') { "+" } else { "" };
        let head: String = digits.iter().take(3).collect();
        let tail: String = digits.iter().skip(digits.len().saturating_sub(4)).collect();
        format!("{plus}{head}****{tail}")
    })
}

/// A writer that masks a whole formatted event before passing it on.
#[derive(Debug)]
pub struct MaskingWriter<W: Write> {
    buf: Vec<u8>,
    inner: W,
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let _ = self.inner.write_all(mask_phones(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

/// Makes a [`MaskingWriter`] per event.
#[derive(Debug, Clone, Copy)]
pub struct MaskingStderr;

impl<'a> MakeWriter<'a> for MaskingStderr {
    type Writer = MaskingWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskingWriter {
            buf: Vec::with_capacity(256),
            inner: io::stderr(),
        }
    }
}

/// Installs the global subscriber (once; later calls are ignored, as in tests).
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskingStderr);
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phone_numbers_but_not_dates_or_ids() {
        let line = r#"{"ts":"2026-11-22T08:00:00Z","msg":"sent to +54 9 11 2345-6789 and 5491123456789","job":"job_0194f3"}"#;
        let masked = mask_phones(line);
        assert!(
            !masked.contains("2345-6789") && !masked.contains("5491123456789"),
            "{masked}"
        );
        assert!(masked.contains("+549****6789"), "{masked}");
        assert!(masked.contains("2026-11-22T08:00:00Z"), "{masked}");
        assert!(masked.contains("job_0194f3"));
    }

    #[test]
    fn writer_masks_whole_events() {
        let mut out = Vec::new();
        {
            let mut w = MaskingWriter {
                buf: Vec::new(),
                inner: &mut out,
            };
            w.write_all(b"to +33 6 12 34 ").unwrap();
            w.write_all(b"56 78\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "to +336****5678\n");
    }
}
