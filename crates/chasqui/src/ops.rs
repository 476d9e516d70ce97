//! Operator commands for channels and webhook receipts: `chasqui channel …`, `chasqui receipts …`,
//! `chasqui replay …`.

use anyhow::{Context, bail};
use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::{ReceiptId, TenantId};
use chasqui_core::secrets::Secret;
use chasqui_store::channels::NewChannel;
use chasqui_store::receipts::state;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::app;
use crate::config::Config;
use crate::master_key::MasterKeys;

/// `chasqui channel …`.
#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    /// Connect a channel (a WhatsApp number, a Twilio sender, a Chatwoot inbox…) to a tenant.
    Add(ChannelAdd),
    /// List a tenant's channels.
    List {
        /// The tenant (`ten_…`).
        #[arg(long)]
        tenant: TenantId,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

/// `chasqui channel add`.
#[derive(Debug, Args)]
pub struct ChannelAdd {
    /// The tenant (`ten_…`).
    #[arg(long)]
    tenant: TenantId,
    /// whatsapp_cloud, 360dialog, twilio, chatwoot, zaptra or sandbox.
    #[arg(long)]
    kind: ChannelKind,
    /// A name for people.
    #[arg(long)]
    name: Option<String>,
    /// Meta's phone number id.
    #[arg(long)]
    phone_number_id: Option<String>,
    /// Meta's WhatsApp Business Account id.
    #[arg(long)]
    waba_id: Option<String>,
    /// The number as customers see it.
    #[arg(long)]
    display_phone_number: Option<String>,
    /// Provider settings as JSON (`{"base_url": …, "account_sid": …}`).
    #[arg(long, value_name = "JSON")]
    settings: Option<String>,
    /// A secret as NAME=VALUE (access_token, app_secret, verify_token, webhook_secret, api_key,
    /// auth_token); repeatable. Prefer the environment for values: NAME=@ENV_VAR reads one.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `chasqui receipts …`.
#[derive(Debug, Subcommand)]
pub enum ReceiptsCmd {
    /// List stored webhook deliveries that are unrouted (no channel yet) or dead (could not be
    /// processed).
    List {
        /// Deliveries waiting for a channel.
        #[arg(long, conflicts_with = "dead")]
        unrouted: bool,
        /// Deliveries parked as dead letters.
        #[arg(long)]
        dead: bool,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

fn secret_value(spec: &str) -> anyhow::Result<(String, Secret)> {
    let (name, value) = spec.split_once('=').context("--secret takes NAME=VALUE")?;
    let value = match value.strip_prefix('@') {
        Some(var) => std::env::var(var)
            .with_context(|| format!("--secret {name}=@{var}: {var} is not set"))?,
        None => value.to_owned(),
    };
    if value.is_empty() {
        bail!("--secret {name} is empty");
    }
    Ok((name.to_owned(), Secret::new(value)))
}

/// Runs `chasqui channel …`.
pub async fn channel(config: &Config, cmd: ChannelCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    match cmd {
        ChannelCmd::Add(a) => {
            let (keys, _) = MasterKeys::load(config)?;
            let settings: serde_json::Value = match &a.settings {
                Some(s) => serde_json::from_str(s).context("--settings must be a JSON object")?,
                None => json!({}),
            };
            if !settings.is_object() {
                bail!("--settings must be a JSON object");
            }
            let secrets = a
                .secrets
                .iter()
                .map(|s| secret_value(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if a.kind == ChannelKind::WhatsappCloud && a.phone_number_id.is_none() {
                bail!("a whatsapp_cloud channel needs --phone-number-id");
            }
            let new = NewChannel {
                kind: a.kind,
                name: a.name.clone().unwrap_or_else(|| a.kind.to_string()),
                phone_number_id: a.phone_number_id.clone(),
                waba_id: a.waba_id.clone(),
                display_phone_number: a.display_phone_number.clone(),
                settings,
                secrets,
            };
            let c = store
                .create_channel(a.tenant, &keys.current(), new, "cli")
                .await?;
            if let Some(p) = &c.phone_number_id {
                store
                    .requeue_unrouted(&format!("phone_number_id:{p}"))
                    .await?;
            }
            if a.json {
                println!(
                    "{}",
                    json!({ "channel_id": c.id, "kind": c.kind, "secrets": c.secrets_set })
                );
            } else {
                println!("{}", c.id);
            }
        }
        ChannelCmd::List { tenant, json } => {
            for c in store.list_channels(tenant, 200, None).await?.items {
                if json {
                    println!(
                        "{}",
                        json!({ "id": c.id, "kind": c.kind, "name": c.name, "status": c.status, "phone_number_id": c.phone_number_id })
                    );
                } else {
                    println!("{}  {:<14} {:<12} {}", c.id, c.kind, c.status, c.name);
                }
            }
        }
    }
    Ok(())
}

/// Runs `chasqui receipts …`.
pub async fn receipts(config: &Config, cmd: ReceiptsCmd) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    let ReceiptsCmd::List {
        unrouted,
        dead,
        json,
    } = cmd;
    let wanted = match (unrouted, dead) {
        (true, _) => state::UNROUTED,
        (_, true) => state::DEAD,
        _ => bail!("say which: --unrouted or --dead"),
    };
    let mut cursor = None;
    loop {
        let page = store.list_receipts(wanted, 200, cursor).await?;
        for r in &page.items {
            if json {
                println!(
                    "{}",
                    json!({ "id": r.id, "provider": r.provider, "received_at": r.received_at,
                            "route_key": r.route_key, "error": r.last_error, "tenant_id": r.tenant_id })
                );
            } else {
                let why = r
                    .route_key
                    .as_deref()
                    .or(r.last_error.as_deref())
                    .unwrap_or("");
                println!(
                    "{}  {:<9} {}  {}",
                    r.id,
                    r.provider,
                    r.received_at.format("%Y-%m-%d %H:%M:%S"),
                    why
                );
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c.parse()?),
            None => break,
        }
    }
    Ok(())
}

/// Runs `chasqui replay RECEIPT…`: processes stored deliveries again.
pub async fn replay(config: &Config, ids: Vec<ReceiptId>) -> anyhow::Result<()> {
    let store = app::open_store(config).await?;
    for id in ids {
        store
            .requeue_receipt(id, None)
            .await
            .with_context(|| format!("receipt {id}"))?;
        println!("{id} queued for processing");
    }
    Ok(())
}
