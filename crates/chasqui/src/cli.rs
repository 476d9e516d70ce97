//! The command line: `serve`, `worker`, `migrate`, `tenant`, `key`, `keys`, `config`, `jobs`,
//! `events`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chasqui_core::ids::{JobId, TenantId};
use chasqui_core::plan::Plan;
use chasqui_core::secrets::KeyId;
use chasqui_store::MigrationStatus;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::app::{self, App};
use crate::config::{CliOverrides, Config, DEFAULT_TOML};
use crate::master_key::MasterKeys;
use crate::telemetry;

/// Chasqui: a self-hosted WhatsApp Business messaging gateway.
#[derive(Debug, Parser)]
#[command(name = "chasqui", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Configuration file (default: ./chasqui.toml if present) [env: CHASQUI_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database, media and key file [env: CHASQUI_DATA_DIR] [default: ./data]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// `sqlite:PATH` or `postgres://USER:PASSWORD@HOST/DB` [env: DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server and the workers.
    Serve {
        /// Address to listen on [env: CHASQUI_LISTEN] [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Run only the background workers (to scale them out on PostgreSQL).
    Worker,
    /// Apply database migrations (they are also applied by every command that opens the database).
    Migrate {
        /// Only report whether the schema is current.
        #[arg(long)]
        status: bool,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Manage the master keys that encrypt stored credentials.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Inspect and replay background jobs.
    #[command(subcommand)]
    Jobs(JobsCmd),
    /// Maintain the outgoing event log.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Print a wa.me click-to-chat link (only the URL, on stdout) and optionally its QR code.
    /// Needs no database and no server.
    Link(LinkArgs),
    /// Manage channels.
    #[command(subcommand)]
    Channel(crate::ops::ChannelCmd),
    /// Inspect stored webhook deliveries.
    #[command(subcommand)]
    Receipts(crate::ops::ReceiptsCmd),
    /// Process stored webhook deliveries again (dead letters, unrouted ones).
    Replay {
        /// Receipt ids (`rcp_…`).
        #[arg(required = true)]
        ids: Vec<chasqui_core::ids::ReceiptId>,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Create a tenant and its first API key (shown once).
    Create {
        /// Display name.
        name: String,
        /// Plan tier: INICIAL, PROFESIONAL, EMPRESARIAL or ENTERPRISE.
        #[arg(long, default_value = "INICIAL")]
        plan: Plan,
        /// Print `{"tenant_id", "api_key"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create another API key for a tenant (shown once).
    Create {
        /// The tenant (`ten_…`).
        #[arg(long)]
        tenant: TenantId,
        /// A label to recognise the key by.
        #[arg(long)]
        label: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id (`key_…`) or public prefix (`chq_live_xxxxxxxx`).
    Revoke {
        /// The key id or prefix.
        key: String,
    },
    /// List a tenant's keys (prefixes only; keys are never stored).
    List {
        /// The tenant (`ten_…`).
        #[arg(long)]
        tenant: TenantId,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Re-encrypt every stored credential under the primary key. With the key file, a new
    /// primary key is added first; with CHASQUI_MASTER_KEY, put the new key first there before.
    Rotate,
    /// Show the keys and how many credentials each protects.
    Status,
    /// Remove an old key from the key file once nothing uses it.
    Retire {
        /// The key id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Validate the configuration and print the effective settings, secrets redacted.
    Check,
    /// Print the documented default configuration file.
    Default,
}

#[derive(Debug, Subcommand)]
enum JobsCmd {
    /// List dead jobs (failed for good), with their last error.
    Dead {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<TenantId>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Put a dead job back in the queue.
    Replay {
        /// The job id (`job_…`).
        id: JobId,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCmd {
    /// Delete events older than the retention whose deliveries have all finished, with their
    /// delivery log, now (`serve` and `worker` also do it every hour).
    Prune {
        /// Days to keep [default: events.retention_days, 30].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
        older_than_days: Option<u32>,
    },
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let listen = match &self.command {
            Command::Serve { listen } => *listen,
            _ => None,
        };
        let overrides = CliOverrides {
            config_file: self.global.config.clone(),
            data_dir: self.global.data_dir.clone(),
            database_url: self.global.database_url.clone(),
            listen,
        };
        if let Command::Config(ConfigCmd::Default) = self.command {
            print!("{DEFAULT_TOML}");
            return Ok(());
        }
        let (config, warnings) = Config::from_process_env(&overrides)?;
        telemetry::init(&config.log);
        for w in &warnings {
            tracing::warn!("{w}");
        }
        match self.command {
            Command::Serve { .. } => serve(config).await,
            Command::Worker => worker(config).await,
            Command::Migrate { status } => migrate(&config, status).await,
            Command::Tenant(cmd) => tenant(&config, cmd).await,
            Command::Key(cmd) => key(&config, cmd).await,
            Command::Keys(cmd) => keys(&config, cmd).await,
            Command::Config(ConfigCmd::Check) => {
                print!("{}", config.effective_toml_redacted());
                eprintln!("configuration is valid");
                Ok(())
            }
            Command::Config(ConfigCmd::Default) => Ok(()),
            Command::Jobs(cmd) => jobs(&config, cmd).await,
            Command::Events(cmd) => events(&config, cmd).await,
            Command::Link(args) => link(args),
            Command::Channel(cmd) => crate::ops::channel(&config, cmd).await,
            Command::Receipts(cmd) => crate::ops::receipts(&config, cmd).await,
            Command::Replay { ids } => crate::ops::replay(&config, ids).await,
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = app::shutdown_signal();
    let app = App::build(config).await?;
    let addr = app.local_addr()?;
    let base = format!("http://{addr}");
    tracing::info!(address = %addr, database = app.state.store.redacted_url(), "Chasqui is listening");
    if let Some(demo) = &app.demo {
        let key = demo.api_key.expose();
        println!(
            "\nFirst start: created the demo tenant \"{}\" ({}).\n\
             Its API key is shown only this once; store it now:\n\n    {key}\n\n\
             Try:\n    curl {base}/healthz\n    curl -H \"Authorization: Bearer {key}\" {base}/v1/tenant\n    \
             curl {base}/metrics\n\n\
             It has a sandbox WhatsApp number: chat as a customer at {base}/sandbox, or\n    \
             curl -H \"Authorization: Bearer {key}\" -H 'Content-Type: application/json' \\\n         \
             {base}/sandbox/customers/+5491155550123/messages -d '{{\"text\": \"Hola\"}}'\n    \
             curl -H \"Authorization: Bearer {key}\" '{base}/v1/messages?direction=in'\n\
             (docs/sandbox.md has the five-step tour)\n",
            demo.tenant.name, demo.tenant.id
        );
    }
    app.run(shutdown).await
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let store = app::open_store(&config).await?;
    let (keys, _) = MasterKeys::load(&config)?;
    let state = crate::http::AppState::new(store, config, keys)?;
    let shutdown = app::shutdown_signal();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let workers = state.clone();
    let pool = tokio::spawn(async move { app::run_workers(&workers, rx).await });
    tracing::info!("workers running; Ctrl-C or SIGTERM to stop");
    shutdown.await;
    let _ = tx.send(true);
    let _ = tokio::time::timeout(state.config.server.shutdown_grace(), pool).await;
    state.store.close().await;
    Ok(())
}

async fn migrate(config: &Config, status_only: bool) -> anyhow::Result<()> {
    let mut opts = chasqui_store::ConnectOptions::new(config.database_url());
    opts.max_connections = 2;
    let store = chasqui_store::Store::open(&opts).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            config.database_url_redacted()
        )
    })?;
    if !status_only {
        store.migrate().await?;
    }
    match store.migration_status().await? {
        MigrationStatus::Current => println!("schema is current ({})", store.backend().as_str()),
        MigrationStatus::Pending(v) => {
            println!("pending migrations: {v:?} (run `chasqui migrate`)")
        }
        MigrationStatus::Ahead(v) => {
            bail!("the database has migrations {v:?} that this binary does not know")
        }
        MigrationStatus::Dirty(v) => bail!("migration {v} failed part-way; inspect the database"),
    }
    Ok(())
}

async fn tenant(config: &Config, cmd: TenantCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    match cmd {
        TenantCmd::Create { name, plan, json } => {
            if name.trim().is_empty() {
                bail!("the tenant name must not be empty");
            }
            let (tenant, record, key) = store
                .create_tenant_with_key(name.trim(), plan, "cli")
                .await?;
            if json {
                println!(
                    "{}",
                    json!({ "tenant_id": tenant.id, "api_key": key.expose() })
                );
            } else {
                println!(
                    "tenant_id: {}\nname:      {}\nplan:      {}\napi_key:   {}",
                    tenant.id,
                    tenant.name,
                    tenant.plan,
                    key.expose()
                );
                eprintln!(
                    "The API key ({}) is shown only this once; store it now.",
                    record.prefix
                );
            }
        }
        TenantCmd::List { json } => {
            let mut cursor = None;
            loop {
                let page = store.list_tenants(200, cursor).await?;
                for t in &page.items {
                    if json {
                        println!(
                            "{}",
                            json!({ "id": t.id, "name": t.name, "plan": t.plan, "created_at": t.created_at })
                        );
                    } else {
                        println!("{}  {:<12} {}", t.id, t.plan, t.name);
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c.parse()?),
                    None => break,
                }
            }
        }
    }
    Ok(())
}

async fn key(config: &Config, cmd: KeyCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    match cmd {
        KeyCmd::Create {
            tenant,
            label,
            json,
        } => {
            let (record, key) = store
                .create_api_key(tenant, label.as_deref(), "cli")
                .await?;
            if json {
                println!(
                    "{}",
                    json!({ "key_id": record.id, "tenant_id": tenant, "api_key": key.expose() })
                );
            } else {
                println!("{}", key.expose());
                eprintln!(
                    "key {} ({}) created; it is shown only this once",
                    record.id, record.prefix
                );
            }
        }
        KeyCmd::Revoke { key } => {
            let r = store.revoke_api_key(key.trim(), "cli").await?;
            println!("revoked {} ({}) of tenant {}", r.id, r.prefix, r.tenant_id);
        }
        KeyCmd::List { tenant, json } => {
            store.tenant(tenant).await?;
            for k in store.list_api_keys(tenant, 10_000, None).await?.items {
                if json {
                    println!(
                        "{}",
                        json!({ "id": k.id, "prefix": k.prefix, "label": k.label, "created_at": k.created_at,
                                "last_used_at": k.last_used_at, "revoked_at": k.revoked_at })
                    );
                } else {
                    let state = if k.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!(
                        "{}  {}  {:<8} {}",
                        k.id,
                        k.prefix,
                        state,
                        k.label.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

async fn keys(config: &Config, cmd: KeysCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    let (keys, _) = MasterKeys::load(config)?;
    match cmd {
        KeysCmd::Rotate => {
            let ring = match keys.source() {
                crate::master_key::KeySource::File(path) => {
                    let ring = keys.add_primary_to_file()?;
                    eprintln!(
                        "added key `{}` as the primary in {}",
                        ring.primary(),
                        path.display()
                    );
                    ring
                }
                crate::master_key::KeySource::Configured => keys.current(),
            };
            let report = store.rotate_credentials(&ring, 100).await?;
            println!(
                "re-encrypted {} credential(s) under key `{}`",
                report.rotated,
                ring.primary()
            );
            for f in &report.failed {
                eprintln!("could not re-encrypt {f}");
            }
            if !report.failed.is_empty() {
                bail!(
                    "{} credential(s) could not be re-encrypted",
                    report.failed.len()
                );
            }
        }
        KeysCmd::Status => {
            let ring = keys.current();
            let usage = store.credential_key_usage().await?;
            for id in ring.key_ids() {
                let n = usage
                    .iter()
                    .find(|(k, _)| k == id.as_str())
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                let role = if id == ring.primary() {
                    "primary"
                } else {
                    "decrypt-only"
                };
                println!("{id}  {role:<12} {n} credential(s)");
            }
            for (k, n) in usage
                .iter()
                .filter(|(k, _)| !ring.key_ids().any(|id| id.as_str() == k))
            {
                println!("{k}  MISSING      {n} credential(s) cannot be read: add this key back");
            }
        }
        KeysCmd::Retire { id } => {
            let id = KeyId::parse(&id)?;
            let usage = store.credential_key_usage().await?;
            if let Some((_, n)) = usage.iter().find(|(k, _)| k == id.as_str()) {
                bail!(
                    "key `{id}` still protects {n} credential(s); run `chasqui keys rotate` first"
                );
            }
            keys.retire_from_file(&id)?;
            println!("removed key `{id}`");
        }
    }
    Ok(())
}

async fn jobs(config: &Config, cmd: JobsCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    match cmd {
        JobsCmd::Dead { tenant, json } => {
            let mut cursor = None;
            loop {
                let page = store.dead_jobs(tenant, 200, cursor).await?;
                for j in &page.items {
                    if json {
                        println!(
                            "{}",
                            json!({ "id": j.id, "tenant_id": j.tenant, "kind": j.kind, "attempts": j.attempts,
                                    "last_error": j.last_error, "died_at": j.died_at })
                        );
                    } else {
                        println!(
                            "{}  {}  {} attempts  {}",
                            j.id,
                            j.kind,
                            j.attempts,
                            j.last_error.as_deref().unwrap_or("")
                        );
                    }
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c.parse()?),
                    None => break,
                }
            }
        }
        JobsCmd::Replay { id } => {
            store.replay_job(id).await?;
            println!("job {id} is queued again");
        }
    }
    Ok(())
}

async fn events(config: &Config, cmd: EventsCmd) -> anyhow::Result<()> {
    match cmd {
        EventsCmd::Prune { older_than_days } => {
            let days = match older_than_days.unwrap_or(config.events.retention_days) {
                0 => bail!(
                    "events.retention_days is 0 (events are kept forever); \
                     pass --older-than-days N to prune anyway"
                ),
                days => days,
            };
            let store = app::open_store(config).await?;
            let deleted = app::prune_expired_events(&store, days, None).await?;
            println!(
                "deleted {deleted} events older than {days} days whose deliveries had finished"
            );
            store.close().await;
            Ok(())
        }
    }
}

/// `chasqui link`: see `docs/links.md`.
#[derive(Debug, Args)]
#[command(
    after_help = "Only the URL goes to stdout, so it can be piped; --terminal draws the \
QR code on stderr.\n\nExamples:\n  chasqui link '+54 9 11 2345-6789' --text 'Hola'\n  \
chasqui link '011 15-2345-6789' --region AR --context invoice --data number=A-0042 \
--data amount='$ 12.500' --ref INV-0042 --qr factura.png"
)]
struct LinkArgs {
    /// The number to chat with, as people write it: `+54 9 11 2345-6789`, or a national number
    /// such as `011 15-2345-6789` with --region.
    #[arg(value_name = "PHONE")]
    phone: String,
    /// Two-letter country to read a national PHONE in (AR, MX, FR, …).
    #[arg(long, value_name = "CC")]
    region: Option<String>,
    /// A free prefilled message (alone or with --context generic).
    #[arg(long)]
    text: Option<String>,
    /// A shipped text: invoice, customer_profile, job_confirmation or generic.
    #[arg(long)]
    context: Option<String>,
    /// A value for the context's text (repeatable): --data number=A-0042.
    #[arg(long = "data", value_name = "NAME=VALUE", value_parser = parse_link_data)]
    data: Vec<(String, String)>,
    /// Language of the shipped text (es, es-AR, en, fr, pt, pt-BR; others fall back along
    /// es-AR → es → en). Default: the language of PHONE's country, else en.
    #[arg(long, value_name = "TAG")]
    locale: Option<String>,
    /// An attribution code appended to the text as `[ref:CODE]` (A-Z, 0-9, inner dashes).
    #[arg(long = "ref", value_name = "CODE")]
    ref_code: Option<String>,
    /// Also write the QR code to FILE; the format comes from its extension (.png or .svg).
    #[arg(long, value_name = "FILE")]
    qr: Option<PathBuf>,
    /// Also draw the QR code in the terminal, on stderr.
    #[arg(long)]
    terminal: bool,
    /// Draw for a terminal with a light background (the default suits dark ones).
    #[arg(long, requires = "terminal")]
    light: bool,
    /// QR file size in pixels per module (1 to 40; default 6, about 3 cm at 300 dpi for a
    /// short link).
    #[arg(long, value_name = "PX", requires = "qr", conflicts_with = "px")]
    size: Option<u32>,
    /// QR file size as the total width in pixels (64 to 4096) instead of --size.
    #[arg(long, value_name = "PX", requires = "qr")]
    px: Option<u32>,
    /// Error-correction level: L, M (default), Q or H.
    #[arg(long, value_name = "LEVEL", default_value = "M")]
    ec: chasqui_core::wame::EcLevel,
}

fn parse_link_data(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("expected NAME=VALUE, got `{pair}`")),
    }
}

/// Makes the link with no tenant: no stored number, no overrides, the shipped texts only.
fn link(args: LinkArgs) -> anyhow::Result<()> {
    use chasqui_core::phone::{PhoneE164, RegionCode};
    use chasqui_core::wame::{
        LinkDefaults, LinkError, LinkRequest, QrSize, TemplateOverrides, TerminalBackground,
    };

    let region = args
        .region
        .as_deref()
        .map(RegionCode::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid --region: {e}"))?;
    let phone = PhoneE164::parse(&args.phone, region).map_err(|e| {
        let hint = match e.code() {
            "missing_country_code" => {
                "\nhint: pass --region with the number's country (AR, MX, FR, …)"
            }
            _ => "",
        };
        anyhow::anyhow!("invalid phone number `{}`: {e}{hint}", args.phone.trim())
    })?;
    if let Some(warning) = crate::http::links::not_mobile_warning(&phone) {
        eprintln!("warning: {warning}");
    }
    let locale = crate::http::links::default_locale(phone.region());
    let request = LinkRequest {
        phone: None,
        region: None,
        text: args.text,
        context: args.context,
        data: args
            .data
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
        locale: args.locale,
        ref_code: args.ref_code,
    };
    let overrides = TemplateOverrides::new();
    let built = request
        .build(&LinkDefaults {
            phone: Some(&phone),
            region,
            locale: &locale,
            overrides: &overrides,
        })
        .map_err(|e| match &e {
            LinkError::MissingValue { placeholder, .. } => {
                anyhow::anyhow!("{e}; pass --data {placeholder}=VALUE")
            }
            _ => anyhow::anyhow!("invalid --{}: {e}", e.field().replace('_', "-")),
        })?;
    let link = &built.link;
    if let Some(path) = &args.qr {
        let size = match (args.size, args.px) {
            (_, Some(px)) => QrSize::TotalPx(px),
            (Some(px), None) => QrSize::ModulePx(px),
            (None, None) => QrSize::default(),
        };
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let qr = link.qr(args.ec).map_err(|e| anyhow::anyhow!("{e}"))?;
        let bytes = match extension.as_deref() {
            Some("png") => qr.to_png(size),
            Some("svg") => qr.to_svg(size).map(String::into_bytes),
            _ => bail!(
                "cannot tell the QR format from `{}`: name the file *.png or *.svg",
                path.display()
            ),
        }
        .map_err(|e| match (&e, args.px) {
            (LinkError::SizeOutOfRange { .. }, Some(_)) => anyhow::anyhow!("invalid --px: {e}"),
            (LinkError::SizeOutOfRange { .. }, None) => anyhow::anyhow!("invalid --size: {e}"),
            _ => anyhow::anyhow!("{e}"),
        })?;
        std::fs::write(path, bytes)
            .with_context(|| format!("cannot write the QR code to {}", path.display()))?;
    }
    let terminal = if args.terminal {
        let background = if args.light {
            TerminalBackground::Light
        } else {
            TerminalBackground::Dark
        };
        Some(
            link.qr_terminal(args.ec, background)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
    } else {
        None
    };
    println!("{}", link.as_str());
    if let Some(drawing) = terminal {
        eprint!("{drawing}");
    }
    Ok(())
}
