//! `chasqui link` as people use it: a real process, no database, only the URL on stdout.
#![allow(clippy::unwrap_used)]

#[path = "api/qr.rs"]
mod qr;

use std::path::Path;
use std::process::{Command, Output};

use chasqui_core::wame::{decode_text, extract_ref};

/// The binary with a clean environment whose database could not be opened: if `link` touched
/// the database it would fail (PostgreSQL on a closed port) or create the data directory.
fn chasqui(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chasqui"));
    c.env_clear()
        .current_dir(dir)
        .env("CHASQUI_DATA_DIR", dir.join("data"))
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .env("CHASQUI_LOG", "warn")
        .arg("link");
    c
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "a command panicked: {stderr}");
    out
}

/// Runs a command that must succeed; returns (stdout, stderr).
fn ok(cmd: &mut Command) -> (String, String) {
    let out = run(cmd);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Runs a command that must fail with exit code 1 and print nothing on stdout; returns stderr.
fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout must stay empty on failure");
    stderr
}

#[test]
fn prints_only_the_url_and_needs_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) =
        ok(chasqui(dir.path()).args(["+54 9 11 2345-6789", "--text", "Hola & chau\n👋"]));
    assert_eq!(
        stdout,
        "https://wa.me/5491123456789?text=Hola%20%26%20chau%0A%F0%9F%91%8B\n"
    );
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "no data directory, no database"
    );

    let (stdout, _) = ok(chasqui(dir.path()).args(["011 15-2345-6789", "--region", "AR"]));
    assert_eq!(stdout, "https://wa.me/5491123456789\n");
}

#[test]
fn an_invoice_link_with_a_png_qr_code() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = ok(chasqui(dir.path()).args([
        "0343 15 555 1212",
        "--region",
        "AR",
        "--context",
        "invoice",
        "--data",
        "number=A-0042",
        "--data",
        "amount=$ 12.500",
        "--ref",
        "INV-0042",
        "--qr",
        "factura.png",
    ]));
    let url = stdout.strip_suffix('\n').unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let text = decode_text(url.split_once("?text=").unwrap().1).unwrap();
    assert_eq!(
        text,
        "¡Hola! Te escribo por la factura A-0042 de $ 12.500. ¿Me podés ayudar con esto?\n[ref:INV-0042]"
    );
    assert_eq!(extract_ref(&text).unwrap().as_str(), "INV-0042");
    let png = std::fs::read(dir.path().join("factura.png")).unwrap();
    assert_eq!(qr::decode_png(&png).1, url);

    // --px sets the total width.
    ok(chasqui(dir.path()).args([url_phone(), "--qr", "small.png", "--px", "200"]));
    let (width, decoded) = qr::decode_png(&std::fs::read(dir.path().join("small.png")).unwrap());
    assert!(width <= 200, "{width}");
    assert_eq!(decoded, "https://wa.me/5491123456789");
}

fn url_phone() -> &'static str {
    "+5491123456789"
}

#[test]
fn an_svg_qr_code_with_size_and_error_correction() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = ok(chasqui(dir.path()).args([
        "+33 6 12 34 56 78",
        "--context",
        "generic",
        "--qr",
        "bonjour.SVG",
        "--size",
        "4",
        "--ec",
        "h",
    ]));
    // A French number gets the French text by default.
    assert_eq!(
        stdout,
        "https://wa.me/33612345678?text=Bonjour%2C%20j%27aurais%20une%20question.\n"
    );
    let svg = std::fs::read_to_string(dir.path().join("bonjour.SVG")).unwrap();
    assert_eq!(qr::decode_svg(&svg), stdout.trim_end());
}

#[test]
fn terminal_drawing_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) =
        ok(chasqui(dir.path()).args([url_phone(), "--text", "Hola", "--terminal"]));
    assert_eq!(stdout, "https://wa.me/5491123456789?text=Hola\n");
    assert!(
        stderr.contains('\u{2588}') && stderr.lines().count() > 10,
        "{stderr}"
    );
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(chasqui(dir.path()).args(["123", "--region", "AR"]));
    assert!(
        err.contains("invalid phone number `123`: too short"),
        "{err}"
    );
    let err = fails(chasqui(dir.path()).arg("5491123456789"));
    assert!(err.contains("did you mean +5491123456789?"), "{err}");
    assert!(err.contains("--region"), "{err}");
    let err = fails(chasqui(dir.path()).args(["+5491123456789", "--region", "XX"]));
    assert!(err.contains("unknown region code `XX`"), "{err}");
    let err = fails(chasqui(dir.path()).args([url_phone(), "--qr", "out.jpg"]));
    assert!(err.contains("name the file *.png or *.svg"), "{err}");
    assert!(!dir.path().join("out.jpg").exists());
    let err = fails(chasqui(dir.path()).args([
        url_phone(),
        "--context",
        "invoice",
        "--data",
        "number=1",
    ]));
    assert!(err.contains("pass --data amount=VALUE"), "{err}");
    let err = fails(chasqui(dir.path()).args([url_phone(), "--context", "receipt"]));
    assert!(err.contains("unknown context `receipt`"), "{err}");
    let err = fails(chasqui(dir.path()).args([url_phone(), "--qr", "x.png", "--size", "99"]));
    assert!(err.contains("invalid --size"), "{err}");
    let err = fails(chasqui(dir.path()).args([url_phone(), "--text", "hola", "--ref", "a b"]));
    assert!(err.contains("--ref"), "{err}");
    // Usage errors are clap's (exit code 2).
    let out = run(chasqui(dir.path()).args([url_phone(), "--ec", "Z"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_landline_is_linked_with_a_warning_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = ok(chasqui(dir.path()).arg("+54 11 2345-6789"));
    assert_eq!(stdout, "https://wa.me/541123456789\n");
    assert!(
        stderr.starts_with("warning: ") && stderr.contains("+5491123456789"),
        "{stderr}"
    );
}
