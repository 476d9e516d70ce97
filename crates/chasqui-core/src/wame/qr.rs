//! QR codes for links: SVG for documents, PNG for images, Unicode half blocks for terminals.
//!
//! Defaults suit a printed invoice: error correction M (15 % damage tolerated, still a small
//! code), 6 px per module and the standard 4-module quiet zone. The PNG says 300 dpi, so a
//! typical link (~57 modules with the quiet zone) prints about 29 mm wide, above the ~2 cm phones
//! read comfortably; on screen it is ~340 px.

use std::fmt::{self, Write as _};
use std::ops::RangeInclusive;
use std::str::FromStr;

use qrcode::{Color, QrCode};
use serde::{Deserialize, Serialize};

use super::error::echo;
use super::{LinkError, WaMeLink};

/// Pixels per module accepted (less for large codes: no image is wider than [`TOTAL_PX`]).
pub const MODULE_PX: RangeInclusive<u32> = 1..=40;
/// Total image sizes accepted, in pixels.
pub const TOTAL_PX: RangeInclusive<u32> = 64..=4096;
/// Pixels per module when nothing is asked.
pub const DEFAULT_MODULE_PX: u32 = 6;
/// The quiet zone the QR standard asks for, in modules.
const QUIET_ZONE: usize = 4;
/// A smaller quiet zone for terminals, where space is short and phones cope.
const TERMINAL_QUIET_ZONE: usize = 2;
/// 300 dpi in pixels per metre, for the PNG `pHYs` chunk.
const PRINT_PX_PER_METRE: u32 = 11_811;

/// How much damage a code survives; higher levels make larger codes for the same link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum EcLevel {
    /// ~7 %: smallest code, for screens.
    L,
    /// ~15 %: the default, for print.
    #[default]
    M,
    /// ~25 %: for rough surfaces.
    Q,
    /// ~30 %: for codes that may be scratched or have a logo on them.
    H,
}

impl EcLevel {
    /// Parses `L`, `M`, `Q` or `H` in any case.
    pub fn parse(level: &str) -> Result<Self, LinkError> {
        match level.trim().to_ascii_uppercase().as_str() {
            "L" => Ok(Self::L),
            "M" => Ok(Self::M),
            "Q" => Ok(Self::Q),
            "H" => Ok(Self::H),
            _ => Err(LinkError::InvalidEcLevel { given: echo(level) }),
        }
    }

    /// The level's letter.
    pub fn letter(self) -> char {
        match self {
            Self::L => 'L',
            Self::M => 'M',
            Self::Q => 'Q',
            Self::H => 'H',
        }
    }

    fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            Self::L => qrcode::EcLevel::L,
            Self::M => qrcode::EcLevel::M,
            Self::Q => qrcode::EcLevel::Q,
            Self::H => qrcode::EcLevel::H,
        }
    }
}

impl fmt::Display for EcLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl FromStr for EcLevel {
    type Err = LinkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// How big to draw a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrSize {
    /// Pixels per module ([`MODULE_PX`]).
    ModulePx(u32),
    /// The largest image no wider than this many pixels ([`TOTAL_PX`]), quiet zone included.
    TotalPx(u32),
}

impl Default for QrSize {
    fn default() -> Self {
        Self::ModulePx(DEFAULT_MODULE_PX)
    }
}

/// How to draw a code: error correction and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QrOptions {
    /// Error-correction level.
    pub ec_level: EcLevel,
    /// Size.
    pub size: QrSize,
}

/// Which way round to draw a code in a terminal; the quiet zone must be the light colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TerminalBackground {
    /// Light text on a dark background (most terminals): light modules are drawn as blocks.
    #[default]
    Dark,
    /// Dark text on a light background: dark modules are drawn as blocks.
    Light,
}

/// A QR code's modules, ready to draw in any format.
#[derive(Clone, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

/// Encodes data (a link) as a QR code at the given error-correction level.
pub fn qr_matrix(data: &str, ec_level: EcLevel) -> Result<QrMatrix, LinkError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), ec_level.to_qrcode()).map_err(
        |_| LinkError::QrDataTooLong {
            ec_level: ec_level.letter(),
        },
    )?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok(QrMatrix { width, dark })
}

impl QrMatrix {
    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; outside the code (quiet zone) it is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Modules per side including the standard quiet zone.
    pub fn width_with_quiet_zone(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// Pixels per module for a size, or why the size cannot be drawn.
    pub fn module_px(&self, size: QrSize) -> Result<u32, LinkError> {
        let modules = u32::try_from(self.width_with_quiet_zone()).unwrap_or(u32::MAX);
        match size {
            QrSize::ModulePx(px) => {
                // Large codes get a smaller maximum, so no image is wider than TOTAL_PX allows.
                let max = (TOTAL_PX.end() / modules).clamp(*MODULE_PX.start(), *MODULE_PX.end());
                if (*MODULE_PX.start()..=max).contains(&px) {
                    Ok(px)
                } else {
                    Err(LinkError::SizeOutOfRange {
                        given: px,
                        min: *MODULE_PX.start(),
                        max,
                        unit: "px per module",
                    })
                }
            }
            QrSize::TotalPx(px) => {
                let min = modules.max(*TOTAL_PX.start());
                if !TOTAL_PX.contains(&px) || px < modules {
                    return Err(LinkError::SizeOutOfRange {
                        given: px,
                        min,
                        max: *TOTAL_PX.end(),
                        unit: "px",
                    });
                }
                Ok((px / modules).min(*MODULE_PX.end()))
            }
        }
    }

    /// An SVG image (`viewBox` in modules, `width`/`height` in pixels), crisp at any scale.
    pub fn to_svg(&self, size: QrSize) -> Result<String, LinkError> {
        let px = self.module_px(size)?;
        let n = self.width_with_quiet_zone();
        let side = u64::from(px) * n as u64;
        let mut path = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let (left, top, run) = (start + QUIET_ZONE, y + QUIET_ZONE, x - start);
                // Writing to a String cannot fail.
                let _ = write!(path, "M{left},{top}h{run}v1h-{run}z");
            }
        }
        Ok(format!(
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}" height="{side}" "#,
                r#"viewBox="0 0 {n} {n}" shape-rendering="crispEdges">"#,
                r##"<rect width="{n}" height="{n}" fill="#ffffff"/>"##,
                r##"<path fill="#000000" d="{path}"/></svg>"##
            ),
            side = side,
            n = n,
            path = path
        ))
    }

    /// A 1-bit greyscale PNG marked 300 dpi for print.
    pub fn to_png(&self, size: QrSize) -> Result<Vec<u8>, LinkError> {
        let px = self.module_px(size)? as usize;
        let side = self.width_with_quiet_zone() * px;
        let side_u32 = u32::try_from(side).map_err(|_| png_error("image too large"))?;
        let row_bytes = side.div_ceil(8);
        let mut pixels = vec![0u8; row_bytes * side];
        for y in 0..side {
            for x in 0..side {
                let light = !self.is_dark(
                    (x / px).wrapping_sub(QUIET_ZONE),
                    (y / px).wrapping_sub(QUIET_ZONE),
                );
                if light {
                    pixels[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: PRINT_PX_PER_METRE,
            yppu: PRINT_PX_PER_METRE,
            unit: png::Unit::Meter,
        }));
        let mut writer = encoder
            .write_header()
            .map_err(|e| png_error(&e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| png_error(&e.to_string()))?;
        writer.finish().map_err(|e| png_error(&e.to_string()))?;
        Ok(out)
    }

    /// Lines of Unicode half blocks (two rows of modules per line) for a terminal.
    pub fn to_terminal(&self, background: TerminalBackground) -> String {
        let ink = |x: usize, y: usize| {
            let dark = self.is_dark(
                x.wrapping_sub(TERMINAL_QUIET_ZONE),
                y.wrapping_sub(TERMINAL_QUIET_ZONE),
            );
            match background {
                TerminalBackground::Dark => !dark,
                TerminalBackground::Light => dark,
            }
        };
        let n = self.width + 2 * TERMINAL_QUIET_ZONE;
        let mut out = String::with_capacity((n + 1) * n.div_ceil(2) * 3);
        for y in (0..n).step_by(2) {
            for x in 0..n {
                let bottom = y + 1 < n && ink(x, y + 1);
                out.push(match (ink(x, y), bottom) {
                    (true, true) => '\u{2588}',
                    (true, false) => '\u{2580}',
                    (false, true) => '\u{2584}',
                    (false, false) => ' ',
                });
            }
            out.push('\n');
        }
        out
    }
}

impl WaMeLink {
    /// The link's QR code at an error-correction level.
    pub fn qr(&self, ec_level: EcLevel) -> Result<QrMatrix, LinkError> {
        qr_matrix(self.as_str(), ec_level)
    }

    /// The link's QR code as SVG.
    pub fn qr_svg(&self, options: &QrOptions) -> Result<String, LinkError> {
        self.qr(options.ec_level)?.to_svg(options.size)
    }

    /// The link's QR code as PNG.
    pub fn qr_png(&self, options: &QrOptions) -> Result<Vec<u8>, LinkError> {
        self.qr(options.ec_level)?.to_png(options.size)
    }

    /// The link's QR code for a terminal (the CLI's `--terminal`).
    pub fn qr_terminal(
        &self,
        ec_level: EcLevel,
        background: TerminalBackground,
    ) -> Result<String, LinkError> {
        Ok(self.qr(ec_level)?.to_terminal(background))
    }
}

fn png_error(reason: &str) -> LinkError {
    LinkError::PngEncoding {
        reason: reason.to_owned(),
    }
}

impl fmt::Debug for QrMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrMatrix")
            .field("width", &self.width)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LINK: &str = "https://wa.me/5491123456789?text=Hola";

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!(EcLevel::parse("h").unwrap(), EcLevel::H);
        assert_eq!(EcLevel::default(), EcLevel::M);
        let err = EcLevel::parse("X").unwrap_err();
        assert_eq!((err.code(), err.field()), ("invalid_ec_level", "ec_level"));
    }

    #[test]
    fn sizes_out_of_range_are_refused() {
        let m = qr_matrix(LINK, EcLevel::M).unwrap();
        for bad in [
            QrSize::ModulePx(0),
            QrSize::ModulePx(41),
            QrSize::TotalPx(10),
            QrSize::TotalPx(5000),
        ] {
            let err = m.to_png(bad).unwrap_err();
            assert_eq!(
                (err.code(), err.field()),
                ("size_out_of_range", "size"),
                "{bad:?}"
            );
        }
        let modules = u32::try_from(m.width_with_quiet_zone()).unwrap();
        assert_eq!(m.module_px(QrSize::TotalPx(300)).unwrap(), 300 / modules);
        assert_eq!(m.module_px(QrSize::TotalPx(64)).unwrap(), 64 / modules);
        let big = qr_matrix(&"a".repeat(600), EcLevel::H).unwrap();
        let big_modules = u32::try_from(big.width_with_quiet_zone()).unwrap();
        assert!(big_modules > 64);
        let err = big.module_px(QrSize::ModulePx(40)).unwrap_err();
        assert_eq!(
            err,
            LinkError::SizeOutOfRange {
                given: 40,
                min: 1,
                max: 4096 / big_modules,
                unit: "px per module"
            }
        );
        let err = big.module_px(QrSize::TotalPx(64)).unwrap_err();
        assert_eq!(
            err,
            LinkError::SizeOutOfRange {
                given: 64,
                min: big_modules,
                max: 4096,
                unit: "px"
            }
        );
    }

    #[test]
    fn data_too_long_for_the_level_says_so() {
        let long = "a".repeat(2000);
        assert!(qr_matrix(&long, EcLevel::L).is_ok());
        let err = qr_matrix(&long, EcLevel::H).unwrap_err();
        assert_eq!(err.code(), "qr_data_too_long");
        assert!(err.to_string().contains("level H"));
    }

    #[test]
    fn svg_and_png_have_the_asked_size() {
        let m = qr_matrix(LINK, EcLevel::M).unwrap();
        let n = m.width_with_quiet_zone();
        let svg = m.to_svg(QrSize::ModulePx(5)).unwrap();
        assert!(
            svg.contains(&format!(r#"width="{}" height="{}""#, n * 5, n * 5)),
            "{svg}"
        );
        let png = m.to_png(QrSize::ModulePx(3)).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        assert_eq!(width as usize, n * 3);
    }

    #[test]
    fn terminal_rendering_uses_half_blocks() {
        let m = qr_matrix(LINK, EcLevel::L).unwrap();
        let text = m.to_terminal(TerminalBackground::Dark);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), (m.width() + 4).div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == m.width() + 4));
        assert!(
            lines[0].chars().all(|c| c == '\u{2588}'),
            "quiet zone is light ink on dark terminals"
        );
    }
}
