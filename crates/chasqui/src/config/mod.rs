//! The binary's configuration: typed, documented, layered and validated at start-up.
//!
//! Settings come from four layers, each overriding the one before it:
//!
//! 1. built-in defaults (documented in [`DEFAULT_TOML`], printed by `chasqui config default`);
//! 2. a TOML file: `--config PATH` or `CHASQUI_CONFIG` (which must exist), otherwise
//!    `chasqui.toml` in the working directory when there is one;
//! 3. environment variables (`CHASQUI_<SECTION>_<KEY>`, short names for the common settings and
//!    the names our users' deployment plans already use, see [`settings`]);
//! 4. command-line flags ([`CliOverrides`]).
//!
//! Every value is checked where it enters, so an error names the place to fix: the TOML key and
//! its file, the environment variable, or the flag. Unknown keys in the file stop start-up;
//! unknown `CHASQUI_*` environment variables only produce warnings (with a "did you mean" for
//! likely typos), because environments carry variables meant for other programs.

mod load;
mod media_url;
mod render;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chasqui_core::secrets::{Keyring, Secret, SecretsError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

pub use media_url::{MediaUrl, ObjectStoreEnv};

/// The documented defaults, one commented entry per setting; `chasqui config default` prints it.
/// Parsing it yields exactly [`Config::default()`] (a test keeps the two from drifting apart).
pub const DEFAULT_TOML: &str = include_str!("../../config.default.toml");

/// Environment variables the binary reads that are not settings (so they are not reported as
/// unknown).
pub const OTHER_KNOWN_ENV: &[&str] = &["CHASQUI_CONFIG"];

/// What the command line can override; `None` leaves the lower layers' value in place.
#[derive(Clone, Default)]
pub struct CliOverrides {
    /// `--config PATH`: the TOML file to read (it must exist).
    pub config_file: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url URL`.
    pub database_url: Option<String>,
    /// `--listen ADDR`.
    pub listen: Option<SocketAddr>,
}

impl fmt::Debug for CliOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliOverrides")
            .field("config_file", &self.config_file)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url_password),
            )
            .field("listen", &self.listen)
            .finish()
    }
}

/// The whole configuration. Build it with [`Config::load`] (or `Config::default()` in tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the HTTP listener.
    pub server: ServerConfig,
    /// `[storage]`: database and files.
    pub storage: StorageConfig,
    /// `[security]`: master key and outbound URL policy.
    pub security: SecurityConfig,
    /// `[meta]`: Meta (WhatsApp Cloud API) app settings.
    pub meta: MetaConfig,
    /// `[log]`: log format and filter.
    pub log: LogConfig,
    /// `[workers]`: the background job workers.
    pub workers: WorkersConfig,
    /// `[events]`: how long outgoing events are kept.
    pub events: EventsConfig,
    /// `[whatsapp]`: feature switches named after our users' deployment plans.
    pub whatsapp: WhatsappConfig,
    /// Where each value came from; not part of the value (ignored by `==`).
    #[serde(skip)]
    origins: Origins,
    /// The `AWS_*` / `GOOGLE_*` variables of the environment it was loaded from, for the S3 and
    /// GCS clients of `storage.media_url`; not settings (ignored by `==`, never printed).
    #[serde(skip)]
    object_store_env: ObjectStoreEnvField,
}

/// [`ObjectStoreEnv`] as a field of [`Config`]: equal to any other, like [`Origins`], so two
/// configurations with the same settings compare equal whatever else the environment held.
#[derive(Debug, Clone, Default)]
struct ObjectStoreEnvField(ObjectStoreEnv);

impl PartialEq for ObjectStoreEnvField {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ObjectStoreEnvField {}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port the HTTP server binds.
    #[serde(deserialize_with = "de_socket_addr")]
    pub listen: SocketAddr,
    /// The address the world reaches this server at (for webhook URLs shown to users).
    #[serde(
        deserialize_with = "de_public_url",
        serialize_with = "ser_opt_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_url: Option<Url>,
    /// Largest request body accepted; larger requests get 413.
    pub body_limit_bytes: usize,
    /// Time allowed for one request before it fails with 408/503.
    pub request_timeout_secs: u64,
    /// Time allowed at shutdown for in-flight requests and jobs to finish.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)),
            public_url: None,
            body_limit_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
        }
    }
}

impl ServerConfig {
    /// [`Self::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// [`Self::shutdown_grace_secs`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Directory for the SQLite database, media and the master key file.
    #[serde(deserialize_with = "de_path", serialize_with = "ser_path")]
    pub data_dir: PathBuf,
    /// The database; `None` means `sqlite://<data_dir>/chasqui.db` (see [`Config::database_url`]).
    #[serde(
        deserialize_with = "de_database_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub database_url: Option<DatabaseUrl>,
    /// Connection pool size (PostgreSQL; SQLite uses a single writer).
    pub max_connections: u32,
    /// Media directory; `None` means `<data_dir>/media` (see [`Config::media_dir`]).
    #[serde(
        deserialize_with = "de_opt_path",
        serialize_with = "ser_opt_path",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_dir: Option<PathBuf>,
    /// The object store for media (`s3://…`, `gs://…`, `file:///…`); `None` means the local
    /// [`Config::media_dir`]. Lets several instances share media without a shared disk.
    #[serde(
        deserialize_with = "media_url::de_media_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_url: Option<MediaUrl>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database_url: None,
            max_connections: 10,
            media_dir: None,
            media_url: None,
        }
    }
}

/// `[security]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Master keys, `ID:BASE64[,ID:BASE64…]`, primary first (already checked to parse as a
    /// [`Keyring`]). `None`: the binary uses the key file [`Config::master_key_file`].
    #[serde(
        deserialize_with = "de_master_key",
        serialize_with = "ser_redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub master_key: Option<Secret>,
    /// Allow tenant webhook URLs that resolve to private, loopback or link-local addresses.
    pub allow_private_webhook_urls: bool,
}

/// `[meta]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// App secret that signs Meta's webhooks (`X-Hub-Signature-256`).
    #[serde(
        deserialize_with = "de_secret",
        serialize_with = "ser_redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_secret: Option<Secret>,
    /// Token Meta echoes when it verifies the webhook subscription (`hub.verify_token`).
    #[serde(
        deserialize_with = "de_secret",
        serialize_with = "ser_redacted",
        skip_serializing_if = "Option::is_none"
    )]
    pub verify_token: Option<Secret>,
    /// Graph API version, such as `v23.0`.
    #[serde(deserialize_with = "de_graph_version")]
    pub graph_version: String,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_secret: None,
            verify_token: None,
            graph_version: "v23.0".to_owned(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (one object per line) or `pretty` (for people).
    pub format: LogFormat,
    /// A `RUST_LOG`-style filter such as `info,chasqui=debug` (already checked to parse).
    #[serde(deserialize_with = "de_log_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info,chasqui=info".to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    #[default]
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("not a log format".to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[workers]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkersConfig {
    /// Run the job workers inside `chasqui serve`.
    pub enabled: bool,
    /// Jobs run at the same time by this process (1..=256).
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs (it is also woken when work is enqueued).
    pub poll_interval_ms: u64,
    /// How long a claimed job stays reserved before another worker may take it over (≥ 5).
    pub lease_secs: u64,
    /// Attempts before a job is parked as dead.
    pub max_attempts: u32,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 4,
            poll_interval_ms: 1000,
            lease_secs: 300,
            max_attempts: 10,
        }
    }
}

impl WorkersConfig {
    /// [`Self::poll_interval_ms`] as a duration.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// [`Self::lease_secs`] as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// `[events]`: the tenant's event log (webhook deliveries and `GET /v1/events`) would grow
/// forever without a retention.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Days an event is kept once all its deliveries finished; 0 keeps events forever.
    pub retention_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

impl EventsConfig {
    /// [`Self::retention_days`] as a duration; `None` when events are kept forever.
    pub fn retention(&self) -> Option<Duration> {
        (self.retention_days > 0)
            .then(|| Duration::from_secs(u64::from(self.retention_days) * 86_400))
    }
}

/// `[whatsapp]`: feature switches, read under the names our users' deployment plans use
/// (`WHATSAPP_NOTIFICATIONS_ENABLED`, `WHATSAPP_RETRY_ATTEMPTS`, `AI_WHATSAPP_ENABLED`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsappConfig {
    /// Send WhatsApp notifications at all (the global kill switch).
    pub notifications_enabled: bool,
    /// Carry a failed notification on to the next channel of its cascade (SMS, email…).
    pub fallback_enabled: bool,
    /// Retries of a failed WhatsApp send (0..=10).
    pub retry_attempts: u32,
    /// Timeout of one WhatsApp provider call, in milliseconds (100..=120000).
    pub timeout_ms: u64,
    /// How long a channel's open circuit breaker waits before trying again, in milliseconds.
    pub breaker_reset_ms: u64,
    /// Log provider requests and responses (phone numbers stay masked).
    pub debug: bool,
    /// Offer wa.me click-to-chat links and QR codes.
    pub wame_enabled: bool,
    /// Send through a Business Solution Provider (Cloud API, 360dialog, Twilio, Zaptra…).
    pub bsp_enabled: bool,
    /// Let new tenants connect a BSP number (existing connections keep working).
    pub bsp_new_signups: bool,
    /// The AI auto-responder.
    pub ai_enabled: bool,
}

impl Default for WhatsappConfig {
    fn default() -> Self {
        Self {
            notifications_enabled: true,
            fallback_enabled: true,
            retry_attempts: 3,
            timeout_ms: 10_000,
            breaker_reset_ms: 60_000,
            debug: false,
            wame_enabled: true,
            bsp_enabled: true,
            bsp_new_signups: true,
            ai_enabled: false,
        }
    }
}

impl WhatsappConfig {
    /// [`Self::timeout_ms`] as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// [`Self::breaker_reset_ms`] as a duration.
    pub fn breaker_reset(&self) -> Duration {
        Duration::from_millis(self.breaker_reset_ms)
    }
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `sqlite:…`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

/// A database URL whose password never reaches a log: `Debug`, `Display` and `Serialize` show
/// it as `***`. [`DatabaseUrl::expose`] gives the real URL, for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    kind: DatabaseKind,
}

impl DatabaseUrl {
    /// Accepts `sqlite:…`, `postgres://…` and `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let kind = if url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DatabaseKind::Postgres
        } else {
            return Err("not a supported database URL".to_owned());
        };
        if url.len() <= "sqlite:".len() {
            return Err("the URL names no database".to_owned());
        }
        Ok(Self {
            url: url.to_owned(),
            kind,
        })
    }

    /// The URL with its password, for connecting; never log it.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The engine the URL selects.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// The URL with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url_password(&self.url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// Database URLs are redacted by the store, which also prints them: one rule for both.
pub use chasqui_store::redact_url as redact_url_password;

/// Where a setting's value came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    #[default]
    Default,
    /// The configuration file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(p) => write!(f, "file {}", p.display()),
            Self::Env(name) => write!(f, "env {name}"),
            Self::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// Provenance of the loaded values by TOML key (`server.listen`); absent means default.
/// Metadata only: two configurations with the same values are equal wherever they came from.
#[derive(Debug, Clone, Default)]
struct Origins(BTreeMap<&'static str, Origin>);

impl PartialEq for Origins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Origins {}

/// Why the configuration could not be loaded. Every message names what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file named explicitly does not exist.
    #[error("configuration file {} (named by {named_by}) does not exist", path.display())]
    FileMissing {
        /// The path as given.
        path: PathBuf,
        /// `--config` or `CHASQUI_CONFIG`.
        named_by: &'static str,
    },
    /// The configuration file exists but cannot be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("configuration file {} is not valid TOML: {message}", path.display())]
    FileSyntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The configuration file has a key or table Chasqui does not know.
    #[error("{message}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The unknown key as a dotted path (`server.lisen`, or `serevr` for a table).
        key: String,
        /// The full explanation, naming the key, its table and the file.
        message: String,
    },
    /// A value is malformed or out of range.
    #[error("{source_text}: {problem}; expected {expected}")]
    Invalid {
        /// The setting as a TOML key (`server.listen`).
        key: String,
        /// Where the bad value came from, named so it can be found and fixed
        /// (`CHASQUI_LISTEN="abc"`, `server.listen = "abc" in ./chasqui.toml`, `--listen …`).
        source_text: String,
        /// What is wrong.
        problem: String,
        /// What would be accepted.
        expected: String,
    },
}

impl Config {
    /// Loads the configuration from the layers described in the module documentation, reading
    /// variables from `env` (not from the process). Returns warnings to log once logging is up.
    pub fn load(
        overrides: &CliOverrides,
        env: &HashMap<String, String>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        load::Loader::new(Path::new("chasqui.toml")).load(overrides, env)
    }

    /// [`Config::load`] with the process environment (variables that are not UTF-8 are
    /// skipped with a warning when they look like ours).
    pub fn from_process_env(
        overrides: &CliOverrides,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let mut env = HashMap::new();
        let mut skipped = Vec::new();
        for (k, v) in std::env::vars_os() {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.insert(k, v);
                }
                (Ok(k), Err(_)) if settings::is_known_env(&k) => skipped.push(format!(
                    "environment variable {k} is not valid UTF-8 and is ignored"
                )),
                _ => {}
            }
        }
        let (config, mut warnings) = Self::load(overrides, &env)?;
        skipped.append(&mut warnings);
        Ok((config, skipped))
    }

    /// Parses one TOML document on top of the defaults (no environment, no flags), with the
    /// same checks as a configuration file. Handy for tests.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        load::Loader::new(Path::new("chasqui.toml")).load_toml_str(text)
    }

    /// The effective database URL: `storage.database_url`, or `sqlite://<data_dir>/chasqui.db`.
    /// It contains the password: never log it (use [`Config::database_url_redacted`]).
    pub fn database_url(&self) -> String {
        match &self.storage.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}",
                self.storage.data_dir.join("chasqui.db").display()
            ),
        }
    }

    /// [`Config::database_url`] with the password replaced by `***`.
    pub fn database_url_redacted(&self) -> String {
        redact_url_password(&self.database_url())
    }

    /// The engine [`Config::database_url`] selects.
    pub fn database_kind(&self) -> DatabaseKind {
        self.storage
            .database_url
            .as_ref()
            .map_or(DatabaseKind::Sqlite, DatabaseUrl::kind)
    }

    /// The effective media directory: `storage.media_dir`, or `<data_dir>/media`.
    pub fn media_dir(&self) -> PathBuf {
        self.storage
            .media_dir
            .clone()
            .unwrap_or_else(|| self.storage.data_dir.join("media"))
    }

    /// The variables the S3 and GCS clients read (`AWS_*`, `GOOGLE_*`), from the environment
    /// this configuration was loaded from (empty for [`Config::from_toml_str`] and defaults).
    pub fn object_store_env(&self) -> &ObjectStoreEnv {
        &self.object_store_env.0
    }

    /// The key file used when `security.master_key` is not set: `<data_dir>/master.key`.
    pub fn master_key_file(&self) -> PathBuf {
        self.storage.data_dir.join("master.key")
    }

    /// Where the value of a setting (a TOML key such as `server.listen`) came from.
    pub fn origin(&self, key: &str) -> &Origin {
        static DEFAULT: Origin = Origin::Default;
        self.origins.0.get(key).unwrap_or(&DEFAULT)
    }

    /// The effective settings as TOML, for `chasqui config check`: secrets as `"<redacted>"`,
    /// the database password as `***`, unset optional settings commented out, and each value
    /// followed by where it came from.
    pub fn effective_toml_redacted(&self) -> String {
        render::effective_toml(self)
    }
}

// ---- serde helpers: each parses one kind of value, with the message errors will show ----

fn de_socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    s.trim()
        .parse()
        .map_err(|_| serde::de::Error::custom("not a socket address"))
}

fn de_public_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let s = String::deserialize(d)?;
    parse_public_url(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn parse_public_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the scheme is `{}`", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL has a query or fragment".to_owned());
    }
    Ok(url)
}

fn de_path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("the path is empty"));
    }
    Ok(PathBuf::from(s))
}

fn de_opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    de_path(d).map(Some)
}

fn de_database_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DatabaseUrl>, D::Error> {
    let s = String::deserialize(d)?;
    DatabaseUrl::parse(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom("the value is empty"));
    }
    Ok(Some(Secret::new(s.trim())))
}

fn de_master_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    let s = String::deserialize(d)?;
    // The keyring's messages name key ids and lengths, never key material.
    Keyring::from_spec(&s).map_err(|e| {
        serde::de::Error::custom(match e {
            SecretsError::BadKeySpec(problem) => problem,
            other => other.to_string(),
        })
    })?;
    Ok(Some(Secret::new(s.trim())))
}

fn de_graph_version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let s = s.trim();
    let ok = s
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(serde::de::Error::custom("not a Graph API version"))
    }
}

fn de_log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    let s = s.trim();
    if s.is_empty() {
        return Err(serde::de::Error::custom("the filter is empty"));
    }
    tracing_subscriber::EnvFilter::try_new(s)
        .map_err(|e| serde::de::Error::custom(format!("not a log filter ({e})")))?;
    Ok(s.to_owned())
}

fn ser_redacted<S: Serializer>(value: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_str(render::REDACTED),
        None => s.serialize_none(),
    }
}

fn ser_opt_url<S: Serializer>(value: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(url) => s.serialize_str(url.as_str()),
        None => s.serialize_none(),
    }
}

fn ser_path<S: Serializer>(value: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_string_lossy())
}

fn ser_opt_path<S: Serializer>(value: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(p) => ser_path(p, s),
        None => s.serialize_none(),
    }
}
