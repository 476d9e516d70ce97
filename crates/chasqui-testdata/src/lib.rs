//! Where the shared reference material lives, for tests that replay real provider payloads.
//!
//! The material (`shared/reference/` beside the repository: webhook payloads, signature vectors,
//! phone corpora) is not part of the repository. It is found, in order, at
//! `$CHASQUI_REFERENCE_DIR`, at `shared/reference` in any ancestor of the crate's directory (a
//! checkout at `/work/main` finds `/work/shared/reference`), and at `/work/shared/reference`.
//! Tests that need it fail loudly when it is missing rather than passing vacuously.

use std::path::{Path, PathBuf};

/// The reference folder, or a panic that says where it was looked for and how to point at it.
pub fn reference_dir(manifest_dir: &str) -> PathBuf {
    find(manifest_dir).unwrap_or_else(|| {
        panic!(
            "the shared reference material was not found: set CHASQUI_REFERENCE_DIR to the `shared/reference` \
             folder (searched from {manifest_dir} upwards and at /work/shared/reference)"
        )
    })
}

/// A file or folder inside the reference folder.
pub fn reference_path(manifest_dir: &str, relative: &str) -> PathBuf {
    reference_dir(manifest_dir).join(relative)
}

fn find(manifest_dir: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CHASQUI_REFERENCE_DIR").map(PathBuf::from)
        && dir.is_dir()
    {
        return Some(dir);
    }
    Path::new(manifest_dir)
        .ancestors()
        .map(|a| a.join("shared").join("reference"))
        .find(|p| p.is_dir())
        .or_else(|| Some(PathBuf::from("/work/shared/reference")).filter(|p| p.is_dir()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_reference_folder_from_this_crate() {
        let dir = reference_dir(env!("CARGO_MANIFEST_DIR"));
        assert!(dir.join("whatsapp").is_dir(), "{}", dir.display());
    }
}
