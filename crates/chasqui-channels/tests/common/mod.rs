//! Shared helpers: where the reference corpus lives and how to read it.

#![allow(dead_code)]

use std::path::PathBuf;

/// A path inside the reference folder; panics loudly if the folder is missing.
pub fn reference(relative: &str) -> PathBuf {
    chasqui_testdata::reference_path(env!("CARGO_MANIFEST_DIR"), relative)
}

/// Reads a reference file's exact bytes.
pub fn read_bytes(relative: &str) -> Vec<u8> {
    let path = reference(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Reads and decodes a reference JSON file.
pub fn read_json(relative: &str) -> serde_json::Value {
    let bytes = read_bytes(relative);
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// The `.json` files of a reference sub-folder, sorted by name.
pub fn json_files(folder: &str) -> Vec<String> {
    let dir = reference(folder);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    names
}
