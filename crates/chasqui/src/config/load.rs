//! Reading the layers (file, environment, flags), checking each value where it enters, and
//! merging them over the defaults.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::settings::{self, Kind, SECTIONS, SETTINGS, Sensitivity, Setting};
use super::{
    CliOverrides, Config, ConfigError, ObjectStoreEnv, ObjectStoreEnvField, Origin, Origins,
    redact_url_password,
};

/// Finds and reads the layers. `default_file` is the file read when none is named
/// (`chasqui.toml` in the working directory; tests point it elsewhere).
#[derive(Debug)]
pub(super) struct Loader<'a> {
    default_file: &'a Path,
}

/// Checked values by TOML key, each with where it came from; later layers overwrite.
#[derive(Debug, Default)]
struct Layers(BTreeMap<&'static str, (Value, Origin)>);

impl<'a> Loader<'a> {
    pub(super) fn new(default_file: &'a Path) -> Self {
        Self { default_file }
    }

    pub(super) fn load(
        &self,
        overrides: &CliOverrides,
        env: &HashMap<String, String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let mut layers = Layers::default();
        let mut warnings = Vec::new();
        if let Some(path) = self.config_file(overrides, env)? {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::FileUnreadable {
                    path: path.clone(),
                    source,
                })?;
            read_toml(&text, &path, &mut layers)?;
        }
        read_env(env, &mut layers, &mut warnings)?;
        read_flags(overrides, &mut layers)?;
        warn_unknown_env(env, &mut warnings);
        let mut config = layers.build()?;
        config.object_store_env = ObjectStoreEnvField(ObjectStoreEnv::from_env(env));
        Ok((config, warnings))
    }

    pub(super) fn load_toml_str(&self, text: &str) -> Result<Config, ConfigError> {
        let mut layers = Layers::default();
        read_toml(text, self.default_file, &mut layers)?;
        layers.build()
    }

    /// The file to read, if any: `--config`, else `CHASQUI_CONFIG` (both must exist), else the
    /// default file when it exists.
    fn config_file(
        &self,
        overrides: &CliOverrides,
        env: &HashMap<String, String>,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let named = match &overrides.config_file {
            Some(path) => Some((path.clone(), "--config")),
            None => env
                .get("CHASQUI_CONFIG")
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(|p| (PathBuf::from(p), "CHASQUI_CONFIG")),
        };
        match named {
            Some((path, named_by)) if !path.exists() => {
                Err(ConfigError::FileMissing { path, named_by })
            }
            Some((path, _)) => Ok(Some(path)),
            None if self.default_file.exists() => Ok(Some(self.default_file.to_path_buf())),
            None => Ok(None),
        }
    }
}

impl Layers {
    fn set(&mut self, setting: &'static Setting, value: Value, origin: Origin) {
        self.0.insert(setting.key, (value, origin));
    }

    /// Deserializes the merged values over the defaults.
    fn build(self) -> Result<Config, ConfigError> {
        let mut root = Table::new();
        let mut origins = BTreeMap::new();
        for (key, (value, origin)) in self.0 {
            let (section, name) = key.split_once('.').unwrap_or(("", key));
            if let Value::Table(t) = root
                .entry(section.to_owned())
                .or_insert_with(|| Value::Table(Table::new()))
            {
                t.insert(name.to_owned(), value);
            }
            origins.insert(key, origin);
        }
        // Every value was checked on entry, so this only fails on a bug.
        let mut config: Config = Value::Table(root)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                key: String::new(),
                source_text: "the merged configuration".to_owned(),
                problem: e.message().to_owned(),
                expected: "settings that each pass their own checks to also pass together"
                    .to_owned(),
            })?;
        config.origins = Origins(origins);
        Ok(config)
    }
}

/// Checks one value for one setting: its TOML type and bounds, then its type's own parser (by
/// deserializing a configuration holding that value alone), so the message names `origin`.
fn check(setting: &Setting, value: &Value, origin: &Origin, raw: &str) -> Result<(), ConfigError> {
    let from_env = matches!(origin, Origin::Env(_));
    let invalid = |problem: String| ConfigError::Invalid {
        key: setting.key.to_owned(),
        source_text: describe(setting, origin, raw),
        problem,
        expected: setting.expected(from_env),
    };
    match (setting.kind, value) {
        (Kind::Bool, Value::Boolean(_)) | (Kind::Str, Value::String(_)) => {}
        (Kind::Int { min, max }, Value::Integer(i)) => {
            if *i < min || *i > max {
                return Err(invalid("out of range".to_owned()));
            }
        }
        (Kind::Bool, v) => return Err(invalid(format!("a {}, not a boolean", v.type_str()))),
        (Kind::Int { .. }, v) => {
            return Err(invalid(format!("a {}, not a whole number", v.type_str())));
        }
        (Kind::Str, v) => return Err(invalid(format!("a {}, not a string", v.type_str()))),
    }
    let mut inner = Table::new();
    inner.insert(setting.name().to_owned(), value.clone());
    let mut outer = Table::new();
    outer.insert(setting.section().to_owned(), Value::Table(inner));
    Value::Table(outer)
        .try_into::<Config>()
        .map(drop)
        .map_err(|e| invalid(e.message().to_owned()))
}

/// Names where a value came from, showing the value unless it is secret.
fn describe(setting: &Setting, origin: &Origin, raw: &str) -> String {
    let shown = match setting.sensitivity {
        Sensitivity::Plain => Some(raw.to_owned()),
        Sensitivity::UrlPassword => Some(redact_url_password(raw)),
        Sensitivity::Secret => None,
    };
    match (origin, shown) {
        (Origin::Env(name), Some(v)) => format!("{name}={v:?}"),
        (Origin::Env(name), None) => format!("{name} (value hidden)"),
        (Origin::Flag(flag), Some(v)) => format!("{flag} {v:?}"),
        (Origin::Flag(flag), None) => format!("{flag} (value hidden)"),
        (Origin::File(path), Some(v)) => {
            // In a file the value is TOML already; show it the way it was written.
            format!("{} = {v} in {}", setting.key, path.display())
        }
        (Origin::File(path), None) => {
            format!("{} in {} (value hidden)", setting.key, path.display())
        }
        (Origin::Default, _) => format!("the default of {}", setting.key),
    }
}

/// Reads a TOML document: unknown tables and keys are errors naming them.
fn read_toml(text: &str, path: &Path, layers: &mut Layers) -> Result<(), ConfigError> {
    let table: Table = toml::from_str(text).map_err(|e| ConfigError::FileSyntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let origin = Origin::File(path.to_path_buf());
    for (section, value) in &table {
        let Some(section_tbl) = value
            .as_table()
            .filter(|_| SECTIONS.contains(&section.as_str()))
        else {
            return Err(unknown_top_level(path, section, value));
        };
        for (name, value) in section_tbl {
            let key = format!("{section}.{name}");
            let Some(setting) = settings::by_key(&key) else {
                return Err(unknown_key(path, section, name));
            };
            let raw = match value {
                Value::String(s) => format!("{s:?}"),
                other => other.to_string(),
            };
            check(setting, value, &origin, &raw)?;
            layers.set(setting, value.clone(), origin.clone());
        }
    }
    Ok(())
}

fn unknown_top_level(path: &Path, name: &str, value: &Value) -> ConfigError {
    let file = path.display();
    let known = SECTIONS
        .iter()
        .map(|s| format!("[{s}]"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = if SECTIONS.contains(&name) {
        format!(
            "`{name}` at the top level of {file} is a {}, but it must be the table [{name}]",
            value.type_str()
        )
    } else if let Some(s) = SETTINGS.iter().find(|s| s.name() == name) {
        format!(
            "unknown key `{name}` at the top level of {file}: settings belong in tables; \
             did you mean `{name}` in table [{}]?",
            s.section()
        )
    } else {
        let hint = settings::closest(name, SECTIONS.iter().copied())
            .map(|s| format!("did you mean [{s}]? "))
            .unwrap_or_default();
        format!("unknown table [{name}] in {file}; {hint}the tables are {known}")
    };
    ConfigError::UnknownKey {
        path: path.to_path_buf(),
        key: name.to_owned(),
        message,
    }
}

fn unknown_key(path: &Path, section: &str, name: &str) -> ConfigError {
    let keys: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.section() == section)
        .map(Setting::name)
        .collect();
    let hint = settings::closest(name, keys.iter().copied())
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    ConfigError::UnknownKey {
        path: path.to_path_buf(),
        key: format!("{section}.{name}"),
        message: format!(
            "unknown key `{name}` in table [{section}] of {}; {hint}the keys of [{section}] are {}",
            path.display(),
            keys.join(", ")
        ),
    }
}

/// Reads the environment variables of every setting. Empty values count as unset.
fn read_env(
    env: &HashMap<String, String>,
    layers: &mut Layers,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for setting in SETTINGS {
        let names = setting.env_names();
        let present: Vec<(&String, &str)> = names
            .iter()
            .filter_map(|n| env.get(n).map(|v| (n, v.trim())))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let Some(&(name, raw)) = present.first() else {
            continue;
        };
        for (other, value) in &present[1..] {
            if *value != raw {
                warnings.push(format!(
                    "environment variable {other} is ignored: {name} is also set and takes precedence"
                ));
            }
        }
        let origin = Origin::Env(name.clone());
        let value = match setting.kind {
            Kind::Bool => settings::parse_env_bool(raw)
                .map(Value::Boolean)
                .ok_or("not a boolean"),
            Kind::Int { .. } => raw
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| "not a whole number"),
            Kind::Str => Ok(Value::String(raw.to_owned())),
        };
        let value = value.map_err(|problem| ConfigError::Invalid {
            key: setting.key.to_owned(),
            source_text: describe(setting, &origin, raw),
            problem: problem.to_owned(),
            expected: setting.expected(true),
        })?;
        check(setting, &value, &origin, raw)?;
        layers.set(setting, value, origin);
    }
    Ok(())
}

/// Applies the command-line flags.
fn read_flags(overrides: &CliOverrides, layers: &mut Layers) -> Result<(), ConfigError> {
    let flags: [(&str, &'static str, Option<String>); 3] = [
        (
            "server.listen",
            "--listen",
            overrides.listen.map(|a| a.to_string()),
        ),
        (
            "storage.data_dir",
            "--data-dir",
            overrides
                .data_dir
                .as_ref()
                .map(|p| path_to_string(p, "--data-dir"))
                .transpose()?,
        ),
        (
            "storage.database_url",
            "--database-url",
            overrides.database_url.clone(),
        ),
    ];
    for (key, flag, value) in flags {
        let (Some(raw), Some(setting)) = (value, settings::by_key(key)) else {
            continue;
        };
        let origin = Origin::Flag(flag);
        let value = Value::String(raw.clone());
        check(setting, &value, &origin, &raw)?;
        layers.set(setting, value, origin);
    }
    Ok(())
}

fn path_to_string(path: &Path, flag: &'static str) -> Result<String, ConfigError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Invalid {
            key: "storage.data_dir".to_owned(),
            source_text: format!("{flag} {}", path.display()),
            problem: "the path is not valid UTF-8".to_owned(),
            expected: "a directory path in UTF-8".to_owned(),
        })
}

/// Warns about `CHASQUI_*` variables Chasqui does not read, and about any variable that looks
/// like a typo of one it does.
fn warn_unknown_env(env: &HashMap<String, String>, warnings: &mut Vec<String>) {
    let known = settings::all_env_names();
    let mut unknown: Vec<&String> = env
        .keys()
        .filter(|k| !known.iter().any(|n| n == *k))
        .collect();
    unknown.sort();
    for name in unknown {
        let hint = settings::closest(name, known.iter().map(String::as_str));
        match hint {
            Some(k) => warnings.push(format!(
                "environment variable {name} is not a Chasqui setting and is ignored; did you mean {k}?"
            )),
            None if name.starts_with("CHASQUI_") => warnings.push(format!(
                "environment variable {name} is not a Chasqui setting and is ignored"
            )),
            None => {}
        }
    }
}
