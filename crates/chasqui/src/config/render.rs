//! The effective configuration as TOML, for `chasqui config check`.

use std::fmt::Write as _;

use toml::{Table, Value};

use super::settings::{SECTIONS, SETTINGS, Setting};
use super::{Config, MediaUrl};

/// What a secret is printed as.
pub(super) const REDACTED: &str = "<redacted>";

/// Column the provenance comments start at, when the line is short enough.
const COMMENT_COLUMN: usize = 44;

pub(super) fn effective_toml(config: &Config) -> String {
    // `Serialize` already redacts: secrets become "<redacted>", database passwords `***`.
    let table = match Table::try_from(config) {
        Ok(t) => t,
        Err(e) => return format!("# the configuration cannot be shown as TOML: {e}\n"),
    };
    let mut out = String::from(
        "# Effective Chasqui configuration. Secrets are shown as \"<redacted>\" and database\n\
         # passwords as ***; after each value, where it came from.\n",
    );
    for section in SECTIONS {
        let _ = write!(out, "\n[{section}]\n");
        let values = table.get(*section).and_then(Value::as_table);
        for setting in SETTINGS.iter().filter(|s| s.section() == *section) {
            let line = match values.and_then(|t| t.get(setting.name())) {
                Some(value) => {
                    let origin = config.origin(setting.key);
                    pad(
                        &format!("{} = {value}", setting.name()),
                        &format!("# {origin}"),
                    )
                }
                None => unset(config, setting),
            };
            out.push_str(&line);
            out.push('\n');
            if setting.key == "storage.media_url" {
                out.push_str(&media_store_env(config));
            }
        }
    }
    out
}

/// The line for an optional setting that is not set: commented out, with what applies instead.
fn unset(config: &Config, setting: &Setting) -> String {
    let derived = |value: String| {
        pad(
            &format!("# {} = {}", setting.name(), Value::String(value)),
            "# not set: derived from data_dir",
        )
    };
    match setting.key {
        "storage.database_url" => derived(config.database_url_redacted()),
        "storage.media_dir" => derived(config.media_dir().to_string_lossy().into_owned()),
        "storage.media_url" => format!(
            "# media_url is not set: media files are kept in media_dir ({})",
            config.media_dir().display()
        ),
        "security.master_key" => format!(
            "# master_key is not set: the key file {} is used",
            config.master_key_file().display()
        ),
        _ => format!("# {} is not set", setting.name()),
    }
}

/// For an S3 or GCS `media_url`: which of the variables its client reads are set, by name only
/// (they hold credentials).
fn media_store_env(config: &Config) -> String {
    let prefixes: &[&str] = match &config.storage.media_url {
        Some(MediaUrl::S3 { .. }) => &["AWS_"],
        Some(MediaUrl::Gcs { .. }) => &["GOOGLE_", "SERVICE_ACCOUNT"],
        Some(MediaUrl::File { .. }) | None => return String::new(),
    };
    let names: Vec<&str> = config
        .object_store_env()
        .names()
        .into_iter()
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
        .collect();
    if names.is_empty() {
        format!(
            "# media store settings from the environment: none of {}* is set\n",
            prefixes[0]
        )
    } else {
        format!(
            "# media store settings from the environment (values hidden): {}\n",
            names.join(", ")
        )
    }
}

fn pad(line: &str, comment: &str) -> String {
    let width = COMMENT_COLUMN.max(line.chars().count() + 2);
    format!("{line:<width$}{comment}")
}
