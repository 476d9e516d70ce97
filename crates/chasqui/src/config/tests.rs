use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chasqui_core::secrets::{KeyId, MasterKey, Secret};

use super::load::Loader;
use super::settings::{self, SETTINGS};
use super::*;

const DOCS: &str = include_str!("../../../../docs/configuration.md");

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A loader whose default file lives in a fresh temporary directory (absent unless written).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn default_file(&self) -> PathBuf {
        self.dir.path().join("chasqui.toml")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write config file");
        path
    }

    fn load(
        &self,
        overrides: &CliOverrides,
        env: &HashMap<String, String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        Loader::new(&self.default_file()).load(overrides, env)
    }

    fn load_ok(
        &self,
        overrides: &CliOverrides,
        env: &HashMap<String, String>,
    ) -> (Config, Vec<String>) {
        self.load(overrides, env).expect("configuration loads")
    }

    fn load_err(&self, overrides: &CliOverrides, env: &HashMap<String, String>) -> String {
        match self.load(overrides, env) {
            Ok(_) => panic!("configuration should have been refused"),
            Err(e) => e.to_string(),
        }
    }
}

fn env_err(pairs: &[(&str, &str)]) -> String {
    Scratch::new().load_err(&CliOverrides::default(), &env(pairs))
}

fn env_ok(pairs: &[(&str, &str)]) -> (Config, Vec<String>) {
    Scratch::new().load_ok(&CliOverrides::default(), &env(pairs))
}

fn toml_err(text: &str) -> String {
    match Config::from_toml_str(text) {
        Ok(_) => panic!("TOML should have been refused"),
        Err(e) => e.to_string(),
    }
}

fn master_key_spec() -> String {
    MasterKey::generate(KeyId::parse("k1").expect("key id")).to_spec()
}

// ---- the documented defaults ----

#[test]
fn default_toml_parses_to_exactly_the_defaults() {
    let parsed = Config::from_toml_str(DEFAULT_TOML).expect("DEFAULT_TOML parses");
    assert_eq!(parsed, Config::default());
}

/// The `key = value` lines of DEFAULT_TOML by table, including the commented-out ones.
fn documented_entries() -> Vec<(String, String, bool)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in DEFAULT_TOML.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (commented, body) = match line.strip_prefix("# ") {
            Some(body) => (true, body),
            None => (false, line),
        };
        if let Some((key, _)) = body.split_once(" = ")
            && !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            entries.push((format!("{section}.{key}"), body.to_owned(), commented));
        }
    }
    entries
}

#[test]
fn default_toml_documents_every_setting_once_with_its_env_names() {
    let documented: Vec<String> = documented_entries().into_iter().map(|e| e.0).collect();
    let unique: BTreeSet<&String> = documented.iter().collect();
    assert_eq!(
        unique.len(),
        documented.len(),
        "a setting is documented twice"
    );
    let registry: BTreeSet<String> = SETTINGS.iter().map(|s| s.key.to_owned()).collect();
    let documented: BTreeSet<String> = documented.into_iter().collect();
    assert_eq!(documented, registry);
    for s in SETTINGS {
        if s.aliases.is_empty() {
            let long = &s.env_names()[0];
            assert!(DEFAULT_TOML.contains(long.as_str()), "{long} missing");
        }
        for alias in s.aliases {
            assert!(DEFAULT_TOML.contains(alias), "{alias} missing");
        }
    }
}

#[test]
fn default_toml_examples_of_optional_settings_are_valid() {
    // Uncomment the examples (except the master key, a placeholder on purpose) and load them.
    let mut text = String::new();
    let mut section = String::new();
    for line in DEFAULT_TOML.lines() {
        if line.starts_with('[') {
            section = line.to_owned();
            text.push_str(line);
        } else if let Some(body) = line.strip_prefix("# ")
            && body
                .split_once(" = ")
                .is_some_and(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            if section != "[security]" {
                text.push_str(body);
            }
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    let config = Config::from_toml_str(&text).expect("examples are valid");
    assert!(config.server.public_url.is_some());
    assert!(config.storage.database_url.is_some());
    assert!(config.storage.media_dir.is_some());
    assert!(config.storage.media_url.is_some());
    assert!(config.meta.app_secret.is_some() && config.meta.verify_token.is_some());
}

fn fully_populated() -> Config {
    let mut c = Config::default();
    c.server.public_url = Some(url::Url::parse("https://chasqui.example.com").expect("url"));
    c.storage.database_url = Some(
        DatabaseUrl::parse("postgres://chasqui:hunter2-db@db.internal:5432/chasqui").expect("url"),
    );
    c.storage.media_dir = Some(PathBuf::from("/srv/media"));
    c.storage.media_url = Some(MediaUrl::parse("s3://chasqui-media/prod").expect("url"));
    c.security.master_key = Some(Secret::new(master_key_spec()));
    c.meta.app_secret = Some(Secret::new("app-secret-value-123"));
    c.meta.verify_token = Some(Secret::new("verify-token-value-456"));
    c
}

#[test]
fn the_settings_list_matches_the_structs_field_for_field() {
    let table = toml::Table::try_from(fully_populated()).expect("serializes");
    let mut fields = BTreeSet::new();
    for (section, value) in &table {
        for key in value.as_table().expect("a table per section").keys() {
            fields.insert(format!("{section}.{key}"));
        }
    }
    let registry: BTreeSet<String> = SETTINGS.iter().map(|s| s.key.to_owned()).collect();
    assert_eq!(fields, registry);
    let sections: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    assert_eq!(sections, settings::SECTIONS.iter().copied().collect());
}

#[test]
fn docs_list_every_setting_and_env_name() {
    for s in SETTINGS {
        assert!(
            DOCS.contains(&format!("`{}`", s.key)),
            "{} missing from docs",
            s.key
        );
        for name in s.env_names() {
            assert!(
                DOCS.contains(&format!("`{name}`")),
                "{name} missing from docs"
            );
        }
    }
}

#[test]
fn every_env_name_belongs_to_one_setting_only() {
    let mut seen = BTreeSet::new();
    for name in settings::all_env_names() {
        assert!(seen.insert(name.clone()), "{name} is used twice");
    }
}

// ---- layering ----

#[test]
fn each_layer_overrides_the_one_below() {
    let s = Scratch::new();
    let none = HashMap::new();
    let no_flags = CliOverrides::default();

    let (c, _) = s.load_ok(&no_flags, &none);
    assert_eq!(c.server.listen, "127.0.0.1:8080".parse().expect("addr"));
    assert_eq!(c.origin("server.listen"), &Origin::Default);

    s.write(
        "chasqui.toml",
        "[server]\nlisten = \"127.0.0.1:1001\"\n[storage]\ndata_dir = \"/from/file\"\n[workers]\nconcurrency = 7\n",
    );
    let (c, _) = s.load_ok(&no_flags, &none);
    assert_eq!(c.server.listen.port(), 1001);
    assert_eq!(c.workers.concurrency, 7);
    assert_eq!(c.origin("server.listen"), &Origin::File(s.default_file()));

    let e = env(&[
        ("CHASQUI_LISTEN", "127.0.0.1:1002"),
        ("CHASQUI_DATA_DIR", "/from/env"),
    ]);
    let (c, _) = s.load_ok(&no_flags, &e);
    assert_eq!(c.server.listen.port(), 1002);
    assert_eq!(c.storage.data_dir, PathBuf::from("/from/env"));
    assert_eq!(
        c.workers.concurrency, 7,
        "the file still applies where env is silent"
    );
    assert_eq!(
        c.origin("server.listen"),
        &Origin::Env("CHASQUI_LISTEN".into())
    );

    let flags = CliOverrides {
        listen: Some("127.0.0.1:1003".parse().expect("addr")),
        data_dir: Some(PathBuf::from("/from/flag")),
        database_url: Some("postgres://u@h/db".into()),
        config_file: None,
    };
    let (c, _) = s.load_ok(&flags, &e);
    assert_eq!(c.server.listen.port(), 1003);
    assert_eq!(c.storage.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(c.database_url(), "postgres://u@h/db");
    assert_eq!(c.origin("server.listen"), &Origin::Flag("--listen"));
}

#[test]
fn a_named_config_file_replaces_the_default_file_and_must_exist() {
    let s = Scratch::new();
    s.write("chasqui.toml", "[workers]\nconcurrency = 2\n");
    let other = s.write("other.toml", "[workers]\nconcurrency = 3\n");

    let by_flag = CliOverrides {
        config_file: Some(other.clone()),
        ..CliOverrides::default()
    };
    assert_eq!(
        s.load_ok(&by_flag, &HashMap::new()).0.workers.concurrency,
        3
    );

    let by_env = env(&[("CHASQUI_CONFIG", other.to_str().expect("utf-8"))]);
    let (c, warnings) = s.load_ok(&CliOverrides::default(), &by_env);
    assert_eq!(c.workers.concurrency, 3);
    assert!(warnings.is_empty(), "CHASQUI_CONFIG is known: {warnings:?}");

    let missing = s.dir.path().join("nope.toml");
    let by_flag = CliOverrides {
        config_file: Some(missing.clone()),
        ..CliOverrides::default()
    };
    let err = s.load_err(&by_flag, &HashMap::new());
    assert!(
        err.contains("nope.toml") && err.contains("--config"),
        "{err}"
    );
    let by_env = env(&[("CHASQUI_CONFIG", missing.to_str().expect("utf-8"))]);
    let err = s.load_err(&CliOverrides::default(), &by_env);
    assert!(
        err.contains("nope.toml") && err.contains("CHASQUI_CONFIG"),
        "{err}"
    );
}

#[test]
fn a_missing_default_file_is_fine() {
    let (c, warnings) = env_ok(&[]);
    assert_eq!(c, Config::default());
    assert!(warnings.is_empty());
}

// ---- bad input in the file ----

#[test]
fn unknown_keys_in_the_file_name_the_key_its_table_and_the_file() {
    let err = toml_err("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n");
    assert!(err.contains("`lisen`"), "{err}");
    assert!(err.contains("[server]"), "{err}");
    assert!(err.contains("chasqui.toml"), "{err}");
    assert!(err.contains("did you mean `listen`"), "{err}");

    let err = toml_err("[serevr]\nlisten = \"127.0.0.1:1\"\n");
    assert!(
        err.contains("[serevr]") && err.contains("did you mean [server]"),
        "{err}"
    );

    let err = toml_err("listen = \"127.0.0.1:1\"\n");
    assert!(
        err.contains("top level") && err.contains("[server]"),
        "{err}"
    );

    let err = toml_err("[whatsapp]\nretry = 3\n");
    assert!(
        err.contains("`retry`") && err.contains("[whatsapp]"),
        "{err}"
    );

    match Config::from_toml_str("[log]\nlevle = \"info\"\n") {
        Err(ConfigError::UnknownKey { key, .. }) => assert_eq!(key, "log.levle"),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
}

#[test]
fn bad_values_in_the_file_name_the_key_and_the_file() {
    let s = Scratch::new();
    s.write("chasqui.toml", "[workers]\nconcurrency = \"four\"\n");
    let err = s.load_err(&CliOverrides::default(), &HashMap::new());
    assert!(err.contains("workers.concurrency = \"four\""), "{err}");
    assert!(
        err.contains(s.default_file().to_str().expect("utf-8")),
        "{err}"
    );
    assert!(
        err.contains("not a whole number") && err.contains("from 1 to 256"),
        "{err}"
    );

    let err = toml_err("[workers]\nlease_secs = 2\n");
    assert!(
        err.contains("workers.lease_secs = 2") && err.contains("out of range"),
        "{err}"
    );

    let err = toml_err("[whatsapp]\ndebug = \"yes\"\n");
    assert!(
        err.contains("whatsapp.debug") && err.contains("not a boolean"),
        "{err}"
    );

    let err = toml_err("[server]\nlisten = \"localhost\"\n");
    assert!(err.contains("not a socket address"), "{err}");

    let err = toml_err("[server\n");
    assert!(err.contains("not valid TOML"), "{err}");

    let err = toml_err("server = 1\n");
    assert!(err.contains("must be the table [server]"), "{err}");
}

// ---- bad input in the environment ----

#[test]
fn bad_env_values_name_the_variable_and_what_is_expected() {
    assert_eq!(
        env_err(&[("CHASQUI_LISTEN", "abc")]),
        "CHASQUI_LISTEN=\"abc\": not a socket address; expected HOST:PORT such as 127.0.0.1:8080"
    );
    let err = env_err(&[("WHATSAPP_RETRY_ATTEMPTS", "11")]);
    assert_eq!(
        err,
        "WHATSAPP_RETRY_ATTEMPTS=\"11\": out of range; expected a whole number from 0 to 10"
    );
    let err = env_err(&[("WHATSAPP_TIMEOUT_MS", "ten seconds")]);
    assert!(
        err.starts_with("WHATSAPP_TIMEOUT_MS=\"ten seconds\": not a whole number"),
        "{err}"
    );
    let err = env_err(&[("CHASQUI_WORKERS_CONCURRENCY", "0")]);
    assert!(
        err.starts_with("CHASQUI_WORKERS_CONCURRENCY=\"0\": out of range"),
        "{err}"
    );
    let err = env_err(&[("CHASQUI_LOG_FORMAT", "xml")]);
    assert!(
        err.contains("CHASQUI_LOG_FORMAT") && err.contains("json or pretty"),
        "{err}"
    );
    let err = env_err(&[("CHASQUI_LOG", "info,chasqui=loud")]);
    assert!(
        err.starts_with("CHASQUI_LOG=") && err.contains("not a log filter"),
        "{err}"
    );
    let err = env_err(&[("CHASQUI_PUBLIC_URL", "ftp://example.com")]);
    assert!(
        err.starts_with("CHASQUI_PUBLIC_URL=") && err.contains("scheme"),
        "{err}"
    );
    let err = env_err(&[("CHASQUI_META_GRAPH_VERSION", "23")]);
    assert!(
        err.contains("CHASQUI_META_GRAPH_VERSION") && err.contains("v23.0"),
        "{err}"
    );

    match Scratch::new().load(&CliOverrides::default(), &env(&[("CHASQUI_LISTEN", "abc")])) {
        Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "server.listen"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn database_url_must_name_a_supported_engine() {
    let err = env_err(&[("DATABASE_URL", "mysql://root:topsecret@db/app")]);
    assert!(err.starts_with("DATABASE_URL="), "{err}");
    assert!(err.contains("not a supported database URL"), "{err}");
    assert!(err.contains("postgres://"), "{err}");
    assert!(!err.contains("topsecret"), "the password leaked: {err}");

    let flags = CliOverrides {
        database_url: Some("redis://x".into()),
        ..CliOverrides::default()
    };
    let err = Scratch::new().load_err(&flags, &HashMap::new());
    assert!(err.starts_with("--database-url"), "{err}");

    for ok in [
        "sqlite://./x.db",
        "sqlite::memory:",
        "postgres://u:p@h:5432/db",
        "postgresql://h/db",
    ] {
        let (c, _) = env_ok(&[("DATABASE_URL", ok)]);
        assert_eq!(c.database_url(), ok);
    }
}

#[test]
fn booleans_accept_the_usual_spellings_in_any_case() {
    for (raw, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("Yes", true),
        ("on", true),
        ("ON", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("no", false),
        ("NO", false),
        ("off", false),
        ("Off", false),
        (" true ", true),
    ] {
        let (c, _) = env_ok(&[("WHATSAPP_DEBUG", raw), ("CHASQUI_WORKERS_ENABLED", raw)]);
        assert_eq!(c.whatsapp.debug, expected, "{raw:?}");
        assert_eq!(c.workers.enabled, expected, "{raw:?}");
    }
    for bad in ["maybe", "2", "y", "enabled"] {
        let err = env_err(&[("WHATSAPP_BSP_ENABLED", bad)]);
        assert_eq!(
            err,
            format!(
                "WHATSAPP_BSP_ENABLED={bad:?}: not a boolean; expected true or false \
                 (also 1/0, yes/no, on/off)"
            )
        );
    }
}

#[test]
fn empty_env_values_count_as_unset() {
    let (c, warnings) = env_ok(&[
        ("CHASQUI_LISTEN", ""),
        ("WHATSAPP_DEBUG", " "),
        ("DATABASE_URL", ""),
    ]);
    assert_eq!(c, Config::default());
    assert!(warnings.is_empty(), "{warnings:?}");
}

// ---- names ----

#[test]
fn the_plan_names_and_the_chasqui_names_both_work() {
    let (c, _) = env_ok(&[
        ("WHATSAPP_NOTIFICATIONS_ENABLED", "false"),
        ("WHATSAPP_FALLBACK_ENABLED", "off"),
        ("WHATSAPP_RETRY_ATTEMPTS", "5"),
        ("WHATSAPP_TIMEOUT_MS", "2500"),
        ("WHATSAPP_DEBUG", "yes"),
        ("WHATSAPP_WAME_ENABLED", "0"),
        ("WHATSAPP_BSP_ENABLED", "no"),
        ("WHATSAPP_BSP_NEW_SIGNUPS", "false"),
        ("AI_WHATSAPP_ENABLED", "true"),
    ]);
    let w = &c.whatsapp;
    assert!(!w.notifications_enabled && !w.fallback_enabled && !w.wame_enabled);
    assert!(!w.bsp_enabled && !w.bsp_new_signups);
    assert!(w.debug && w.ai_enabled);
    assert_eq!((w.retry_attempts, w.timeout_ms), (5, 2500));
    assert_eq!(w.timeout(), std::time::Duration::from_millis(2500));

    let (c, _) = env_ok(&[
        ("CHASQUI_WHATSAPP_RETRY_ATTEMPTS", "1"),
        ("CHASQUI_WHATSAPP_AI_ENABLED", "on"),
        ("CHASQUI_SERVER_LISTEN", "0.0.0.0:9000"),
        ("CHASQUI_STORAGE_DATA_DIR", "/long/form"),
        ("CHASQUI_DATABASE_URL", "postgres://h/a"),
        ("RUST_LOG", "debug"),
        ("CHASQUI_MASTER_KEY", &master_key_spec()),
        ("CHASQUI_META_APP_SECRET", "s1"),
        ("CHASQUI_META_VERIFY_TOKEN", "t1"),
        ("CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS", "true"),
        ("CHASQUI_LOG_FORMAT", "JSON"),
        ("CHASQUI_PUBLIC_URL", "https://gw.example.com/base"),
    ]);
    assert_eq!(c.whatsapp.retry_attempts, 1);
    assert!(c.whatsapp.ai_enabled);
    assert_eq!(
        c.server.listen,
        "0.0.0.0:9000".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(c.storage.data_dir, Path::new("/long/form"));
    assert_eq!(c.database_kind(), DatabaseKind::Postgres);
    assert_eq!(c.log.level, "debug");
    assert_eq!(c.log.format, LogFormat::Json);
    assert!(c.security.master_key.is_some() && c.security.allow_private_webhook_urls);
    assert_eq!(c.meta.app_secret.as_ref().map(Secret::expose), Some("s1"));
    assert_eq!(c.meta.verify_token.as_ref().map(Secret::expose), Some("t1"));
    assert_eq!(
        c.server.public_url.as_ref().map(url::Url::as_str),
        Some("https://gw.example.com/base")
    );
}

#[test]
fn chasqui_names_win_over_other_names_and_the_loser_is_reported() {
    let (c, warnings) = env_ok(&[
        ("WHATSAPP_RETRY_ATTEMPTS", "2"),
        ("CHASQUI_WHATSAPP_RETRY_ATTEMPTS", "4"),
        ("DATABASE_URL", "postgres://other-app/db"),
        ("CHASQUI_DATABASE_URL", "sqlite://./mine.db"),
        ("RUST_LOG", "warn"),
        ("CHASQUI_LOG", "info"),
        ("CHASQUI_LISTEN", "127.0.0.1:1"),
        ("CHASQUI_SERVER_LISTEN", "127.0.0.1:1"),
    ]);
    assert_eq!(c.whatsapp.retry_attempts, 4);
    assert_eq!(c.database_url(), "sqlite://./mine.db");
    assert_eq!(c.log.level, "info");
    let text = warnings.join("\n");
    assert!(
        text.contains("WHATSAPP_RETRY_ATTEMPTS is ignored"),
        "{text}"
    );
    assert!(
        text.contains("DATABASE_URL is ignored: CHASQUI_DATABASE_URL"),
        "{text}"
    );
    assert!(text.contains("RUST_LOG is ignored"), "{text}");
    assert!(
        !text.contains("CHASQUI_SERVER_LISTEN"),
        "same value, no warning: {text}"
    );
}

#[test]
fn unknown_chasqui_variables_warn_and_typos_get_a_suggestion() {
    let (c, warnings) = env_ok(&[
        ("CHASQUI_LISTN", "127.0.0.1:9"),
        ("CHASQUI_WORKERS_CONCURENCY", "9"),
        ("CHASQUI_SOMETHING_ELSE", "x"),
        ("WHATSAPP_RETRY_ATTEMPT", "9"),
        ("HOME", "/root"),
        ("PATH", "/usr/bin"),
        ("WHATSAPP_API_TOKEN", "not ours"),
        ("TEST_DATABASE_URL", "postgres://x/y"),
    ]);
    assert_eq!(c, Config::default(), "unknown variables change nothing");
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    let text = warnings.join("\n");
    assert!(
        text.contains(
            "CHASQUI_LISTN is not a Chasqui setting and is ignored; did you mean CHASQUI_LISTEN?"
        ),
        "{text}"
    );
    assert!(
        text.contains("did you mean CHASQUI_WORKERS_CONCURRENCY?"),
        "{text}"
    );
    assert!(
        text.contains("CHASQUI_SOMETHING_ELSE is not a Chasqui setting and is ignored\n")
            || text.ends_with("CHASQUI_SOMETHING_ELSE is not a Chasqui setting and is ignored"),
        "{text}"
    );
    assert!(text.contains("WHATSAPP_RETRY_ATTEMPT is not a Chasqui setting and is ignored; did you mean WHATSAPP_RETRY_ATTEMPTS?"), "{text}");
    assert!(
        !text.contains("HOME")
            && !text.contains("API_TOKEN")
            && !text.contains("TEST_DATABASE_URL"),
        "{text}"
    );
}

#[test]
fn edit_distance_counts_transpositions_as_one() {
    assert_eq!(settings::edit_distance("LISTEN", "LISTEN"), 0);
    assert_eq!(settings::edit_distance("LISTNE", "LISTEN"), 1);
    assert_eq!(settings::edit_distance("LISTN", "LISTEN"), 1);
    assert_eq!(settings::edit_distance("LSTN", "LISTEN"), 2);
    assert_eq!(settings::edit_distance("", "abc"), 3);
}

// ---- derived values ----

#[test]
fn the_database_url_and_media_dir_follow_data_dir_unless_set() {
    let c = Config::default();
    assert_eq!(c.database_url(), "sqlite://./data/chasqui.db");
    assert_eq!(c.database_kind(), DatabaseKind::Sqlite);
    assert_eq!(c.media_dir(), Path::new("./data/media"));
    assert_eq!(c.master_key_file(), Path::new("./data/master.key"));

    let (c, _) = env_ok(&[("CHASQUI_DATA_DIR", "/var/lib/chasqui")]);
    assert_eq!(c.database_url(), "sqlite:///var/lib/chasqui/chasqui.db");
    assert_eq!(c.media_dir(), Path::new("/var/lib/chasqui/media"));
    assert_eq!(
        c.master_key_file(),
        Path::new("/var/lib/chasqui/master.key")
    );

    let flags = CliOverrides {
        data_dir: Some(PathBuf::from("rel/dir/")),
        ..CliOverrides::default()
    };
    let (c, _) = Scratch::new().load_ok(&flags, &HashMap::new());
    assert_eq!(c.database_url(), "sqlite://rel/dir/chasqui.db");

    let c = Config::from_toml_str(
        "[storage]\ndata_dir = \"/d\"\ndatabase_url = \"postgres://h/db\"\nmedia_dir = \"/m\"\n",
    )
    .expect("valid");
    assert_eq!(c.database_url(), "postgres://h/db");
    assert_eq!(c.media_dir(), Path::new("/m"));
}

#[test]
fn duration_helpers_match_the_numbers() {
    let c = Config::default();
    assert_eq!(c.server.request_timeout().as_secs(), 30);
    assert_eq!(c.server.shutdown_grace().as_secs(), 30);
    assert_eq!(c.workers.poll_interval().as_millis(), 1000);
    assert_eq!(c.workers.lease().as_secs(), 300);
    assert_eq!(c.whatsapp.timeout().as_millis(), 10_000);
    assert_eq!(c.server.body_limit_bytes, 4_194_304);
}

// ---- secrets ----

#[test]
fn secrets_and_the_database_password_are_never_printed() {
    let c = fully_populated();
    let key = c
        .security
        .master_key
        .as_ref()
        .map(|k| k.expose().to_owned())
        .expect("key");
    let key_material = key.split_once(':').expect("ID:BASE64").1.to_owned();
    let leaks = |text: &str| {
        for secret in [
            key_material.as_str(),
            "app-secret-value-123",
            "verify-token-value-456",
            "hunter2-db",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in:\n{text}");
        }
    };
    let shown = c.effective_toml_redacted();
    leaks(&shown);
    assert!(shown.contains("master_key = \"<redacted>\""), "{shown}");
    assert!(shown.contains("app_secret = \"<redacted>\""), "{shown}");
    assert!(shown.contains("verify_token = \"<redacted>\""), "{shown}");
    assert!(
        shown.contains("postgres://chasqui:***@db.internal:5432/chasqui"),
        "{shown}"
    );
    leaks(&format!("{c:?}"));
    leaks(&c.database_url_redacted());
    leaks(&format!(
        "{}",
        c.storage.database_url.as_ref().expect("set")
    ));

    let flags = CliOverrides {
        database_url: Some("postgres://u:hunter2-db@h/db".into()),
        ..CliOverrides::default()
    };
    leaks(&format!("{flags:?}"));
}

#[test]
fn bad_secrets_are_refused_without_echoing_them() {
    let err = env_err(&[("CHASQUI_MASTER_KEY", "k1:c2VjcmV0LXRvby1zaG9ydA==")]);
    assert!(
        err.starts_with("CHASQUI_MASTER_KEY (value hidden)"),
        "{err}"
    );
    assert!(err.contains("32"), "{err}");
    assert!(!err.contains("c2VjcmV0LXRvby1zaG9ydA"), "{err}");

    let err = toml_err("[security]\nmaster_key = \"nonsense-key-material\"\n");
    assert!(
        err.contains("security.master_key") && !err.contains("nonsense-key-material"),
        "{err}"
    );

    let spec = format!(
        "{},k0:{}",
        master_key_spec(),
        master_key_spec().split_once(':').expect(":").1
    );
    let (c, _) = env_ok(&[("CHASQUI_MASTER_KEY", &spec)]);
    assert_eq!(
        c.security.master_key.as_ref().map(Secret::expose),
        Some(spec.as_str())
    );
}

#[test]
fn url_passwords_are_masked_wherever_they_are() {
    for (url, expected) in [
        ("postgres://u:p4ss@h:5432/db", "postgres://u:***@h:5432/db"),
        (
            "postgresql://u:p%40ss@h/db?sslmode=require",
            "postgresql://u:***@h/db?sslmode=require",
        ),
        ("postgres://u@h/db", "postgres://u@h/db"),
        (
            "postgres://h/db?user=u&password=p4ss",
            "postgres://h/db?user=u&password=***",
        ),
        ("postgres://u:p:4@ss@h/db", "postgres://u:***@h/db"),
        ("sqlite://./data/chasqui.db", "sqlite://./data/chasqui.db"),
        ("sqlite::memory:", "sqlite::memory:"),
    ] {
        assert_eq!(redact_url_password(url), expected, "{url}");
    }
}

// ---- the printout ----

#[test]
fn the_effective_toml_shows_origins_and_round_trips() {
    let s = Scratch::new();
    s.write("chasqui.toml", "[workers]\nconcurrency = 16\n");
    let flags = CliOverrides {
        listen: Some("0.0.0.0:8088".parse().expect("addr")),
        ..CliOverrides::default()
    };
    let (c, _) = s.load_ok(&flags, &env(&[("WHATSAPP_RETRY_ATTEMPTS", "0")]));
    let shown = c.effective_toml_redacted();
    let line = |prefix: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{shown}"))
            .to_owned()
    };
    assert!(line("listen = \"0.0.0.0:8088\"").ends_with("# flag --listen"));
    assert!(line("concurrency = 16").contains("# file "));
    assert!(line("retry_attempts = 0").ends_with("# env WHATSAPP_RETRY_ATTEMPTS"));
    assert!(line("timeout_ms = 10000").ends_with("# default"));
    assert!(
        line("# database_url = \"sqlite://./data/chasqui.db\"").contains("derived from data_dir")
    );
    assert!(line("# master_key is not set").contains("./data/master.key"));
    assert!(line("# public_url is not set").len() > 10);

    let reparsed = Config::from_toml_str(&shown).expect("the printout is valid TOML");
    assert_eq!(reparsed, c);
}

#[test]
fn log_format_reads_in_any_case() {
    assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
    assert_eq!(" pretty ".parse::<LogFormat>(), Ok(LogFormat::Pretty));
    assert!("text".parse::<LogFormat>().is_err());
    let c = Config::from_toml_str("[log]\nformat = \"json\"\n").expect("valid");
    assert_eq!(c.log.format, LogFormat::Json);
}

// ---- the media store URL ----

#[test]
fn media_url_is_read_from_the_file_and_both_env_names() {
    let (c, _) = env_ok(&[]);
    assert_eq!(c.storage.media_url, None);

    let (c, warnings) = env_ok(&[("CHASQUI_MEDIA_URL", "s3://chasqui-media/prod/")]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        c.storage
            .media_url
            .as_ref()
            .map(MediaUrl::as_url)
            .as_deref(),
        Some("s3://chasqui-media/prod")
    );
    assert_eq!(
        c.origin("storage.media_url"),
        &Origin::Env("CHASQUI_MEDIA_URL".into())
    );
    let (c, _) = env_ok(&[("CHASQUI_STORAGE_MEDIA_URL", "gs://media-bucket")]);
    assert!(matches!(c.storage.media_url, Some(MediaUrl::Gcs { .. })));

    let c = Config::from_toml_str("[storage]\nmedia_url = \"file:///srv/media\"\n").expect("valid");
    assert_eq!(
        c.storage.media_url,
        Some(MediaUrl::File {
            dir: PathBuf::from("/srv/media")
        })
    );
}

#[test]
fn a_bad_media_url_stops_loading_with_the_setting_and_the_accepted_forms() {
    let err = env_err(&[("CHASQUI_MEDIA_URL", "ftp://files.example.com/media")]);
    assert_eq!(
        err,
        format!(
            "CHASQUI_MEDIA_URL=\"ftp://files.example.com/media\": the scheme `ftp` is not a media \
             store; expected {}",
            super::media_url::EXPECTED
        )
    );
    assert!(err.contains("s3://BUCKET/PREFIX") && err.contains("gs://BUCKET/PREFIX"));
    assert!(err.contains("file:///ABSOLUTE/PATH"), "{err}");

    let err = toml_err("[storage]\nmedia_url = \"s3//bucket\"\n");
    assert!(
        err.starts_with("storage.media_url = \"s3//bucket\" in chasqui.toml: not a URL"),
        "{err}"
    );

    match Scratch::new().load(
        &CliOverrides::default(),
        &env(&[("CHASQUI_MEDIA_URL", "minio://bucket")]),
    ) {
        Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "storage.media_url"),
        other => panic!("expected Invalid, got {other:?}"),
    }

    let err = env_err(&[(
        "CHASQUI_MEDIA_URL",
        "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/p",
    )]);
    assert!(
        err.contains("credentials do not belong in the URL"),
        "{err}"
    );
    assert!(
        !err.contains("wJalrXUtnFEMI"),
        "the secret key leaked: {err}"
    );
}

#[test]
fn object_store_variables_are_kept_for_the_media_store_and_never_printed() {
    let (c, warnings) = env_ok(&[
        ("CHASQUI_MEDIA_URL", "s3://chasqui-media/prod"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ("GOOGLE_SERVICE_ACCOUNT", "/etc/gcs.json"),
    ]);
    assert!(
        warnings.is_empty(),
        "AWS_* are not ours to warn about: {warnings:?}"
    );
    assert_eq!(
        c.object_store_env().names(),
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_ENDPOINT_URL",
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_SERVICE_ACCOUNT"
        ]
    );
    let shown = c.effective_toml_redacted();
    assert!(
        shown.contains(
            "# media store settings from the environment (values hidden): AWS_ACCESS_KEY_ID, \
             AWS_ENDPOINT_URL, AWS_SECRET_ACCESS_KEY"
        ),
        "{shown}"
    );
    for text in [shown, format!("{c:?}")] {
        assert!(
            !text.contains("wJalrXUtnFEMI") && !text.contains("AKIAEXAMPLE"),
            "{text}"
        );
    }
    assert_eq!(
        c,
        env_ok(&[("CHASQUI_MEDIA_URL", "s3://chasqui-media/prod")]).0,
        "the environment is not a setting"
    );

    let (c, _) = env_ok(&[]);
    let shown = c.effective_toml_redacted();
    assert!(
        shown.contains("# media_url is not set: media files are kept in media_dir (./data/media)"),
        "{shown}"
    );
}

#[test]
fn event_retention_is_days_and_zero_keeps_forever() {
    let c = Config::default();
    assert_eq!(c.events.retention_days, 30);
    assert_eq!(
        c.events.retention(),
        Some(std::time::Duration::from_secs(30 * 86_400))
    );
    let (c, warnings) = env_ok(&[("CHASQUI_EVENTS_RETENTION_DAYS", "0")]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.events.retention_days, 0);
    assert_eq!(c.events.retention(), None);
    assert_eq!(
        c.origin("events.retention_days"),
        &Origin::Env("CHASQUI_EVENTS_RETENTION_DAYS".into())
    );
    let c = Config::from_toml_str("[events]\nretention_days = 7\n").expect("loads");
    assert_eq!(c.events.retention_days, 7);

    let err = env_err(&[("CHASQUI_EVENTS_RETENTION_DAYS", "-1")]);
    assert!(
        err.contains("CHASQUI_EVENTS_RETENTION_DAYS=\"-1\"")
            && err.contains("out of range")
            && err.contains("from 0 to 36500"),
        "{err}"
    );
    let err = toml_err("[events]\nretention_days = \"30d\"\n");
    assert!(
        err.contains("events.retention_days") && err.contains("not a whole number"),
        "{err}"
    );
    let err = toml_err("[events]\nretention_day = 30\n");
    assert!(err.contains("did you mean `retention_days`"), "{err}");
}
