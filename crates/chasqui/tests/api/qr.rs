//! Decoding the QR codes Chasqui draws, so tests compare them with their links.
//! Shared by the `api` and `cli_link` test crates.
#![allow(dead_code)]

/// Decodes the single QR code in a greyscale image (0 = black, 255 = white).
pub fn decode_grey(width: usize, height: usize, pixels: &[u8]) -> String {
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "expected exactly one QR code");
    grids[0].decode().expect("the QR code does not decode").1
}

/// The width and height of a PNG, and its decoded QR code.
pub fn decode_png(bytes: &[u8]) -> (u32, String) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "expanded to 8 bits");
    let (w, h) = (info.width as usize, info.height as usize);
    let grey: Vec<u8> = (0..h)
        .flat_map(|y| buf[y * info.line_size..y * info.line_size + w].to_vec())
        .collect();
    (info.width, decode_grey(w, h, &grey))
}

/// Rasterises the SVG Chasqui draws (a `viewBox` counted in modules and one path of
/// `Mx,yhNv1h-Nz` runs) at 4 px per module and decodes it.
pub fn decode_svg(svg: &str) -> String {
    assert!(svg.starts_with("<svg"), "not an SVG: {svg}");
    let modules: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("a viewBox")
        .parse()
        .unwrap();
    let path = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a path");
    let scale = 4;
    let side = modules * scale;
    let mut grey = vec![255u8; side * side];
    for run in path.split('M').filter(|r| !r.is_empty()) {
        let (xy, rest) = run.split_once('h').expect("Mx,yh…");
        let (x, y) = xy.split_once(',').expect("x,y");
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let len: usize = rest.split_once('v').expect("hNv…").0.parse().unwrap();
        for py in y * scale..(y + 1) * scale {
            for px in x * scale..(x + len) * scale {
                grey[py * side + px] = 0;
            }
        }
    }
    decode_grey(side, side, &grey)
}
