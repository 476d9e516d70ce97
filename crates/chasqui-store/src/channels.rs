//! Channels: a tenant's sending/receiving identities, with their secrets in `credentials`.

use chasqui_core::channel::ChannelKind;
use chasqui_core::ids::{ChannelId, TenantId};
use chasqui_core::secrets::{Keyring, Secret};
use chrono::{DateTime, Utc};

use crate::credentials::CredentialError;
use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Page, Store, from_millis, now_millis};

/// Channel states.
pub mod status {
    /// Sending and receiving.
    pub const ACTIVE: &str = "active";
    /// Switched off by the tenant, or the provider removed access.
    pub const DISCONNECTED: &str = "disconnected";
    /// The provider token expired or was revoked; messages wait.
    pub const NEEDS_REAUTH: &str = "needs_reauth";
}

/// A channel as stored (secrets excluded).
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Its id.
    pub id: ChannelId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The provider.
    pub kind: ChannelKind,
    /// A name for people.
    pub name: String,
    /// `active`, `disconnected` or `needs_reauth`.
    pub status: String,
    /// Meta's phone number id (Meta-speaking kinds).
    pub phone_number_id: Option<String>,
    /// Meta's WhatsApp Business Account id.
    pub waba_id: Option<String>,
    /// The number as shown to customers.
    pub display_phone_number: Option<String>,
    /// Provider-specific settings (base URL, Graph version, account ids…), never secrets.
    pub settings: serde_json::Value,
    /// Names of the secrets that are set (values never leave the store decrypted, except to senders).
    pub secrets_set: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A channel to create.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The provider.
    pub kind: ChannelKind,
    /// A name for people.
    pub name: String,
    /// Meta's phone number id.
    pub phone_number_id: Option<String>,
    /// Meta's WABA id.
    pub waba_id: Option<String>,
    /// The number as shown to customers.
    pub display_phone_number: Option<String>,
    /// Provider settings.
    pub settings: serde_json::Value,
    /// Secrets by name (`access_token`, `app_secret`, `verify_token`, `webhook_secret`, …).
    pub secrets: Vec<(String, Secret)>,
}

/// Changes to a channel; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New display number.
    pub display_phone_number: Option<Option<String>>,
    /// New WABA id.
    pub waba_id: Option<Option<String>>,
    /// Settings replaced as a whole.
    pub settings: Option<serde_json::Value>,
    /// Secrets to set (`Some`) or remove (`None`).
    pub secrets: Vec<(String, Option<Secret>)>,
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: String,
    tenant_id: String,
    kind: String,
    name: String,
    status: String,
    phone_number_id: Option<String>,
    waba_id: Option<String>,
    display_phone_number: Option<String>,
    settings: String,
    created_at: i64,
    updated_at: i64,
}

const SELECT: &str = "SELECT id, tenant_id, kind, name, status, phone_number_id, waba_id, display_phone_number, \
                      settings, created_at, updated_at FROM channels";

/// The credential name of a channel's secret, which binds its ciphertext to the channel.
pub fn secret_name(channel: ChannelId, secret: &str) -> String {
    format!("channel:{channel}:{secret}")
}

impl ChannelRow {
    fn into_channel(self, secrets_set: Vec<String>) -> Result<Channel> {
        Ok(Channel {
            id: parse_id(&self.id, "channels.id")?,
            tenant_id: parse_id(&self.tenant_id, "channels.tenant_id")?,
            kind: parse_id(&self.kind, "channels.kind")?,
            name: self.name,
            status: self.status,
            phone_number_id: self.phone_number_id,
            waba_id: self.waba_id,
            display_phone_number: self.display_phone_number,
            settings: serde_json::from_str(&self.settings).unwrap_or_default(),
            secrets_set,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

impl Tx {
    /// Sets a channel's status inside a transaction (a provider event that disconnects it, an
    /// expired token…); the caller audits.
    pub async fn set_channel_status(
        &mut self,
        tenant: TenantId,
        id: ChannelId,
        status: &str,
    ) -> Result<()> {
        let done = with_tx!(self, c => sqlx::query(
            "UPDATE channels SET status = $3, updated_at = $4 WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(status)
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }
}

impl Store {
    async fn secrets_set(&self, tenant: &str, channel: &str) -> Result<Vec<String>> {
        let prefix = format!("channel:{channel}:");
        let names: Vec<String> = with_pool!(self, p => sqlx::query_scalar(
            "SELECT name FROM credentials WHERE tenant_id = $1 AND substr(name, 1, CAST($3 AS INTEGER)) = $2 ORDER BY name",
        )
        .bind(tenant)
        .bind(&prefix)
        .bind(prefix.len() as i64)
        .fetch_all(p)
        .await?);
        Ok(names
            .into_iter()
            .map(|n| n[prefix.len()..].to_owned())
            .collect())
    }

    async fn finish(&self, row: Option<ChannelRow>) -> Result<Channel> {
        let row = row.ok_or(StoreError::NotFound("channel"))?;
        let set = self.secrets_set(&row.tenant_id, &row.id).await?;
        row.into_channel(set)
    }

    /// Creates a channel with its encrypted secrets; a `phone_number_id` already used by a live
    /// channel of any tenant is a conflict.
    pub async fn create_channel(
        &self,
        tenant: TenantId,
        keys: &Keyring,
        new: NewChannel,
        actor: &str,
    ) -> Result<Channel> {
        let id = ChannelId::new();
        let now = now_millis();
        let mut tx = self.begin().await?;
        with_tx!(tx, c => sqlx::query(
            "INSERT INTO channels (id, tenant_id, kind, name, status, phone_number_id, waba_id, display_phone_number, \
             settings, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(&new.phone_number_id)
        .bind(&new.waba_id)
        .bind(&new.display_phone_number)
        .bind(new.settings.to_string())
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("channel with this phone_number_id".into()),
            other => other,
        })?);
        for (name, value) in &new.secrets {
            tx.put_credential(keys, tenant, &secret_name(id, name), value)
                .await?;
        }
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "channel.created",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "kind": new.kind.as_str(), "name": new.name, "phone_number_id": new.phone_number_id }),
        })
        .await?;
        tx.commit().await?;
        self.channel(tenant, id).await
    }

    /// One channel of a tenant.
    pub async fn channel(&self, tenant: TenantId, id: ChannelId) -> Result<Channel> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL"
        ));
        let row: Option<ChannelRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        self.finish(row).await
    }

    /// A channel by id whatever its tenant: only for routing a webhook that names its channel in
    /// the URL (the tenant is then taken from the channel).
    pub async fn channel_for_webhook(&self, id: ChannelId) -> Result<Channel> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1 AND deleted_at IS NULL"));
        let row: Option<ChannelRow> = with_pool!(self, p => sqlx::query_as(sql).bind(id.to_string()).fetch_optional(p).await?);
        self.finish(row).await
    }

    /// The live channel that owns a Meta `phone_number_id`, for routing app-level webhooks.
    pub async fn channel_by_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<Channel>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE phone_number_id = $1 AND deleted_at IS NULL"
        ));
        let row: Option<ChannelRow> = with_pool!(self, p => sqlx::query_as(sql).bind(phone_number_id).fetch_optional(p).await?);
        match row {
            Some(r) => self.finish(Some(r)).await.map(Some),
            None => Ok(None),
        }
    }

    /// Live channels of a WABA, for WABA-level webhook fields.
    pub async fn channels_by_waba(&self, waba_id: &str) -> Result<Vec<Channel>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE waba_id = $1 AND deleted_at IS NULL ORDER BY id"
        ));
        let rows: Vec<ChannelRow> =
            with_pool!(self, p => sqlx::query_as(sql).bind(waba_id).fetch_all(p).await?);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.finish(Some(r)).await?);
        }
        Ok(out)
    }

    /// A tenant's live channels, oldest first.
    pub async fn list_channels(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<ChannelId>,
    ) -> Result<Page<Channel>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<ChannelRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.finish(Some(r)).await?);
        }
        Ok(Page::from_overfetch(out, limit, |c| c.id.to_string()))
    }

    /// Applies a patch; returns the updated channel.
    pub async fn update_channel(
        &self,
        tenant: TenantId,
        id: ChannelId,
        keys: &Keyring,
        patch: ChannelPatch,
        actor: &str,
    ) -> Result<Channel> {
        let current = self.channel(tenant, id).await?;
        let name = patch.name.clone().unwrap_or(current.name);
        let status = patch.status.clone().unwrap_or(current.status);
        let display = patch
            .display_phone_number
            .clone()
            .unwrap_or(current.display_phone_number);
        let waba = patch.waba_id.clone().unwrap_or(current.waba_id);
        let settings = patch.settings.clone().unwrap_or(current.settings);
        let mut tx = self.begin().await?;
        with_tx!(tx, c => sqlx::query(
            "UPDATE channels SET name = $3, status = $4, display_phone_number = $5, waba_id = $6, settings = $7, updated_at = $8 \
             WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&name)
        .bind(&status)
        .bind(&display)
        .bind(&waba)
        .bind(settings.to_string())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        for (secret, value) in &patch.secrets {
            let cred = secret_name(id, secret);
            match value {
                Some(v) => tx.put_credential(keys, tenant, &cred, v).await?,
                None => {
                    with_tx!(tx, c => sqlx::query("DELETE FROM credentials WHERE tenant_id = $1 AND name = $2")
                        .bind(tenant.to_string())
                        .bind(&cred)
                        .execute(c)
                        .await?
                        .rows_affected());
                }
            }
        }
        let changed: Vec<&str> = patch.secrets.iter().map(|(n, _)| n.as_str()).collect();
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "channel.updated",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "name": name, "status": status, "secrets_changed": changed }),
        })
        .await?;
        tx.commit().await?;
        self.channel(tenant, id).await
    }

    /// Sets a channel's status (e.g. the operator disconnects it), recording who did it.
    pub async fn set_channel_status(
        &self,
        tenant: TenantId,
        id: ChannelId,
        status: &str,
        actor: &str,
    ) -> Result<Channel> {
        let mut tx = self.begin().await?;
        tx.set_channel_status(tenant, id, status).await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "channel.status_changed",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "status": status }),
        })
        .await?;
        tx.commit().await?;
        self.channel(tenant, id).await
    }

    /// Soft-deletes a channel (its messages stay); frees its `phone_number_id`.
    pub async fn delete_channel(&self, tenant: TenantId, id: ChannelId, actor: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "UPDATE channels SET deleted_at = $3, updated_at = $3 WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        let prefix = format!("channel:{id}:");
        with_tx!(tx, c => sqlx::query("DELETE FROM credentials WHERE tenant_id = $1 AND substr(name, 1, CAST($3 AS INTEGER)) = $2")
            .bind(tenant.to_string())
            .bind(&prefix)
            .bind(prefix.len() as i64)
            .execute(c)
            .await?
            .rows_affected());
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "channel.deleted",
            target: Some(&id.to_string()),
            details: serde_json::json!({}),
        })
        .await?;
        tx.commit().await
    }

    /// A decrypted secret of a channel (for verifying its webhooks or calling its provider).
    pub async fn channel_secret(
        &self,
        keys: &Keyring,
        channel: &Channel,
        secret: &str,
    ) -> Result<Option<Secret>, CredentialError> {
        self.credential(keys, channel.tenant_id, &secret_name(channel.id, secret))
            .await
    }
}
