//! The list of settings: TOML key, environment variable names, value kind and what is expected.
//!
//! Every setting can be set from the environment as `CHASQUI_<SECTION>_<KEY>` (the TOML key in
//! upper case with `.` as `_`: `workers.concurrency` ↔ `CHASQUI_WORKERS_CONCURRENCY`). The
//! common ones also have a short name (`CHASQUI_LISTEN`), and a few are read under names other
//! programs and our users' plans already use (`DATABASE_URL`, `RUST_LOG`, `WHATSAPP_*`).
//!
//! When several names of one setting are set, `CHASQUI_` names win over the others, short
//! `CHASQUI_` names over the long form, and a warning names the ones ignored.

/// The TOML tables, in the order they are documented and printed.
pub(super) const SECTIONS: &[&str] = &[
    "server", "storage", "security", "meta", "log", "workers", "events", "whatsapp",
];

/// How a value is written and checked before its type's own parser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// TOML `true`/`false`; in the environment also `1`/`0`, `yes`/`no`, `on`/`off`.
    Bool,
    /// A whole number within the bounds.
    Int { min: i64, max: i64 },
    /// A string, parsed further by the field's deserializer.
    Str,
}

/// What must not be echoed in an error message or a printout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sensitivity {
    /// Safe to show.
    Plain,
    /// Never shown.
    Secret,
    /// A URL: shown with its password replaced by `***`.
    UrlPassword,
}

/// One setting.
#[derive(Debug)]
pub(super) struct Setting {
    /// TOML key, `section.name`.
    pub key: &'static str,
    /// Environment names besides the long `CHASQUI_<SECTION>_<KEY>` form, by precedence.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// For [`Kind::Str`]: what is accepted, for error messages.
    pub expected: &'static str,
    pub sensitivity: Sensitivity,
}

impl Setting {
    /// The TOML table.
    pub fn section(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(s, _)| s)
    }

    /// The key inside its table.
    pub fn name(&self) -> &'static str {
        self.key.split_once('.').map_or(self.key, |(_, n)| n)
    }

    /// Every environment name of the setting, highest precedence first.
    pub fn env_names(&self) -> Vec<String> {
        let long = format!(
            "CHASQUI_{}",
            self.key.replace('.', "_").to_ascii_uppercase()
        );
        let mut names: Vec<String> = self
            .aliases
            .iter()
            .filter(|n| n.starts_with("CHASQUI_"))
            .map(|n| (*n).to_owned())
            .collect();
        if !names.contains(&long) {
            names.push(long);
        }
        names.extend(
            self.aliases
                .iter()
                .filter(|n| !n.starts_with("CHASQUI_"))
                .map(|n| (*n).to_owned()),
        );
        names
    }

    /// What is accepted, in words.
    pub fn expected(&self, from_env: bool) -> String {
        match self.kind {
            Kind::Bool if from_env => "true or false (also 1/0, yes/no, on/off)".to_owned(),
            Kind::Bool => "true or false".to_owned(),
            Kind::Int { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Str => self.expected.to_owned(),
        }
    }
}

const fn plain(key: &'static str, aliases: &'static [&'static str], kind: Kind) -> Setting {
    Setting {
        key,
        aliases,
        kind,
        expected: "",
        sensitivity: Sensitivity::Plain,
    }
}

const fn string(
    key: &'static str,
    aliases: &'static [&'static str],
    expected: &'static str,
) -> Setting {
    Setting {
        key,
        aliases,
        kind: Kind::Str,
        expected,
        sensitivity: Sensitivity::Plain,
    }
}

const fn secret(
    key: &'static str,
    aliases: &'static [&'static str],
    expected: &'static str,
) -> Setting {
    Setting {
        key,
        aliases,
        kind: Kind::Str,
        expected,
        sensitivity: Sensitivity::Secret,
    }
}

const fn int(key: &'static str, aliases: &'static [&'static str], min: i64, max: i64) -> Setting {
    plain(key, aliases, Kind::Int { min, max })
}

const fn boolean(key: &'static str, aliases: &'static [&'static str]) -> Setting {
    plain(key, aliases, Kind::Bool)
}

/// Every setting, in documentation order. A test checks this list against the structs,
/// `config.default.toml` and `docs/configuration.md`.
pub(super) const SETTINGS: &[Setting] = &[
    // [server]
    string(
        "server.listen",
        &["CHASQUI_LISTEN"],
        "HOST:PORT such as 127.0.0.1:8080",
    ),
    string(
        "server.public_url",
        &["CHASQUI_PUBLIC_URL"],
        "an http:// or https:// URL without query, such as https://chasqui.example.com",
    ),
    int("server.body_limit_bytes", &[], 1024, 1 << 30),
    int("server.request_timeout_secs", &[], 1, 3600),
    int("server.shutdown_grace_secs", &[], 0, 3600),
    // [storage]
    string(
        "storage.data_dir",
        &["CHASQUI_DATA_DIR"],
        "a directory path such as ./data",
    ),
    Setting {
        key: "storage.database_url",
        aliases: &["CHASQUI_DATABASE_URL", "DATABASE_URL"],
        kind: Kind::Str,
        expected: "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        sensitivity: Sensitivity::UrlPassword,
    },
    int("storage.max_connections", &[], 1, 1000),
    string(
        "storage.media_dir",
        &[],
        "a directory path such as ./data/media",
    ),
    Setting {
        key: "storage.media_url",
        aliases: &["CHASQUI_MEDIA_URL"],
        kind: Kind::Str,
        expected: super::media_url::EXPECTED,
        sensitivity: Sensitivity::UrlPassword,
    },
    // [security]
    secret(
        "security.master_key",
        &["CHASQUI_MASTER_KEY"],
        "ID:BASE64 entries of 32 random bytes separated by commas, primary first, \
         such as k1:$(openssl rand -base64 32)",
    ),
    boolean(
        "security.allow_private_webhook_urls",
        &["CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS"],
    ),
    // [meta]
    secret(
        "meta.app_secret",
        &["CHASQUI_META_APP_SECRET"],
        "the app secret from the Meta app dashboard (App settings > Basic)",
    ),
    secret(
        "meta.verify_token",
        &["CHASQUI_META_VERIFY_TOKEN"],
        "the non-empty token you typed in the Meta webhook settings",
    ),
    string("meta.graph_version", &[], "vMAJOR.MINOR such as v23.0"),
    // [log]
    string("log.format", &["CHASQUI_LOG_FORMAT"], "json or pretty"),
    string(
        "log.level",
        &["CHASQUI_LOG", "RUST_LOG"],
        "a RUST_LOG-style filter such as info or info,chasqui=debug",
    ),
    // [workers]
    boolean("workers.enabled", &[]),
    int("workers.concurrency", &[], 1, 256),
    int("workers.poll_interval_ms", &[], 10, 60_000),
    int("workers.lease_secs", &[], 5, 86_400),
    int("workers.max_attempts", &[], 1, 1000),
    // [events]
    int("events.retention_days", &[], 0, 36_500),
    // [whatsapp]
    boolean(
        "whatsapp.notifications_enabled",
        &["WHATSAPP_NOTIFICATIONS_ENABLED"],
    ),
    boolean("whatsapp.fallback_enabled", &["WHATSAPP_FALLBACK_ENABLED"]),
    int(
        "whatsapp.retry_attempts",
        &["WHATSAPP_RETRY_ATTEMPTS"],
        0,
        10,
    ),
    int(
        "whatsapp.timeout_ms",
        &["WHATSAPP_TIMEOUT_MS"],
        100,
        120_000,
    ),
    int("whatsapp.breaker_reset_ms", &[], 100, 3_600_000),
    boolean("whatsapp.debug", &["WHATSAPP_DEBUG"]),
    boolean("whatsapp.wame_enabled", &["WHATSAPP_WAME_ENABLED"]),
    boolean("whatsapp.bsp_enabled", &["WHATSAPP_BSP_ENABLED"]),
    boolean("whatsapp.bsp_new_signups", &["WHATSAPP_BSP_NEW_SIGNUPS"]),
    boolean(
        "whatsapp.ai_enabled",
        &["CHASQUI_WHATSAPP_AI_ENABLED", "AI_WHATSAPP_ENABLED"],
    ),
];

/// The setting with this TOML key.
pub(super) fn by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Every environment name Chasqui reads, settings and others.
pub(super) fn all_env_names() -> Vec<String> {
    let mut names: Vec<String> = SETTINGS.iter().flat_map(Setting::env_names).collect();
    names.extend(super::OTHER_KNOWN_ENV.iter().map(|n| (*n).to_owned()));
    names
}

/// Whether Chasqui reads this environment variable.
pub(super) fn is_known_env(name: &str) -> bool {
    all_env_names().iter().any(|n| n == name)
}

/// Reads an environment boolean: true/false, 1/0, yes/no, on/off, in any case.
pub(super) fn parse_env_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The optimal-string-alignment distance (Levenshtein plus adjacent transpositions), used to
/// spot typos.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidate closest to `name` within an edit distance of 2, if any.
pub(super) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| c.len().abs_diff(name.len()) <= 2)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
