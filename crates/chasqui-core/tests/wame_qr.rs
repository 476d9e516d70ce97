//! Every QR code we draw decodes back to its link: PNG (decoded with `png`), SVG (its path
//! rasterised here) and terminal half blocks, at every error-correction level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chasqui_core::phone::PhoneE164;
use chasqui_core::wame::{
    EcLevel, QrOptions, QrSize, RefCode, TerminalBackground, WaMeLink, append_ref, decode_text,
    extract_ref,
};

const LEVELS: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];

fn links() -> Vec<WaMeLink> {
    let ar = PhoneE164::parse("+54 9 11 2345-6789", None).unwrap();
    let fr = PhoneE164::parse("+33 6 12 34 56 78", None).unwrap();
    let texts = [
        None,
        Some("Hola"),
        Some("¡Hola! Te escribo por la factura A-0042 de $ 12.500. ¿Me podés ayudar con esto?"),
        Some("Línea 1\nLínea 2 & más #3 + 50% = ¿ok?"),
        Some("Bonjour 👋🏽 ça va ? « été » — 😀🇦🇷"),
    ];
    let mut out: Vec<WaMeLink> = texts
        .iter()
        .map(|t| WaMeLink::new(Some(&ar), *t).unwrap())
        .collect();
    let with_ref = append_ref(
        "Olá! Confirmamos o serviço",
        &RefCode::parse("JOB-7").unwrap(),
    );
    out.push(WaMeLink::new(Some(&fr), Some(&with_ref)).unwrap());
    out.push(WaMeLink::new(None, Some("Compartí esto: https://example.com/?a=1&b=2")).unwrap());
    out
}

/// Decodes the single QR code in a greyscale image.
fn decode(width: usize, height: usize, pixel: impl FnMut(usize, usize) -> u8) -> String {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "expected exactly one QR code");
    grids[0].decode().expect("QR code does not decode").1
}

fn decode_png(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Grayscale, png::BitDepth::One)
    );
    let (w, h) = (info.width as usize, info.height as usize);
    decode(w, h, |x, y| {
        let bit = buf[y * info.line_size + x / 8] & (0x80 >> (x % 8));
        if bit == 0 { 0 } else { 255 }
    })
}

/// Rasterises the SVG we emit (one `viewBox` in modules, a path of `Mx,yhWv1h-Wz` runs).
fn decode_svg(svg: &str) -> String {
    let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
    let modules: usize = view_box.split(' ').next().unwrap().parse().unwrap();
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; modules * modules];
    for run in path.split('M').filter(|r| !r.is_empty()) {
        let (xy, rest) = run.split_once('h').unwrap();
        let (x, y) = xy.split_once(',').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        assert_eq!(rest, format!("{len}v1h-{len}z"), "unexpected path segment");
        for dx in 0..len {
            dark[y * modules + x + dx] = true;
        }
    }
    let scale = 4;
    decode(modules * scale, modules * scale, |x, y| {
        if dark[(y / scale) * modules + x / scale] {
            0
        } else {
            255
        }
    })
}

/// Reads half blocks back into modules (`ink` is light on a dark terminal).
fn decode_terminal(text: &str, background: TerminalBackground) -> String {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let width = lines[0].len();
    let height = lines.len() * 2;
    let mut ink = vec![false; width * height];
    for (row, line) in lines.iter().enumerate() {
        for (x, c) in line.iter().enumerate() {
            let (top, bottom) = match c {
                '\u{2588}' => (true, true),
                '\u{2580}' => (true, false),
                '\u{2584}' => (false, true),
                ' ' => (false, false),
                other => panic!("unexpected character {other:?}"),
            };
            ink[2 * row * width + x] = top;
            ink[(2 * row + 1) * width + x] = bottom;
        }
    }
    let scale = 4;
    // Pad with a light border: the terminal quiet zone is 2 modules, the decoder likes more.
    let pad = 4;
    let (w, h) = (width + 2 * pad, height + 2 * pad);
    decode(w * scale, h * scale, |x, y| {
        let (mx, my) = ((x / scale).wrapping_sub(pad), (y / scale).wrapping_sub(pad));
        let inked = mx < width && my < height && ink[my * width + mx];
        let dark = match background {
            TerminalBackground::Dark => !inked,
            TerminalBackground::Light => inked,
        };
        let in_code = mx < width && my < height;
        if in_code && dark { 0 } else { 255 }
    })
}

#[test]
fn png_codes_decode_to_their_link_at_every_level() {
    for link in links() {
        for ec_level in LEVELS {
            for size in [QrSize::ModulePx(2), QrSize::default(), QrSize::TotalPx(400)] {
                let png = link.qr_png(&QrOptions { ec_level, size }).unwrap();
                assert_eq!(decode_png(&png), link.as_str(), "{ec_level} {size:?}");
            }
        }
    }
}

#[test]
fn svg_codes_decode_to_their_link_at_every_level() {
    for link in links() {
        for ec_level in LEVELS {
            let svg = link
                .qr_svg(&QrOptions {
                    ec_level,
                    size: QrSize::default(),
                })
                .unwrap();
            assert_eq!(decode_svg(&svg), link.as_str(), "{ec_level}");
        }
    }
}

#[test]
fn terminal_codes_decode_to_their_link() {
    for link in links() {
        for background in [TerminalBackground::Dark, TerminalBackground::Light] {
            let text = link.qr_terminal(EcLevel::L, background).unwrap();
            assert_eq!(
                decode_terminal(&text, background),
                link.as_str(),
                "{background:?}"
            );
        }
    }
}

#[test]
fn the_decoded_link_carries_the_exact_text_and_ref() {
    for link in links() {
        let png = link.qr_png(&QrOptions::default()).unwrap();
        let decoded = decode_png(&png);
        let text = decoded
            .split_once("?text=")
            .map(|(_, t)| decode_text(t).unwrap());
        assert_eq!(text.as_deref(), link.text());
        if let Some(t) = &text
            && t.contains("[ref:")
        {
            assert_eq!(extract_ref(t).unwrap().as_str(), "JOB-7");
        }
    }
}
