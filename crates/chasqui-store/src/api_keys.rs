//! API keys: stored as a public prefix plus a SHA-256 hash; the key itself exists only once.

use chasqui_core::api_key::{ApiKey, ApiKeyHash};
use chasqui_core::ids::{ApiKeyId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, StoreError, corrupt, parse_id};
use crate::{Page, Store, from_millis, now_millis};

/// Last-use times are written at most this often per key, so authentication stays read-only.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// What is stored about a key: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id (for revoking).
    pub id: ApiKeyId,
    /// The tenant it authenticates.
    pub tenant_id: TenantId,
    /// The public part (`chq_live_ab12cd34`) a person recognises the key by.
    pub prefix: String,
    /// A free-form label.
    pub label: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    tenant_id: String,
    prefix: String,
    label: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    id: String,
    tenant_id: String,
    hash: Vec<u8>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = StoreError;

    fn try_from(r: KeyRow) -> Result<Self> {
        Ok(ApiKeyRecord {
            id: parse_id(&r.id, "api_keys.id")?,
            tenant_id: parse_id(&r.tenant_id, "api_keys.tenant_id")?,
            prefix: r.prefix,
            label: r.label,
            created_at: from_millis(r.created_at),
            last_used_at: r.last_used_at.map(from_millis),
            revoked_at: r.revoked_at.map(from_millis),
        })
    }
}

/// The tenant and key a request authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    /// The tenant every query of the request is scoped to.
    pub tenant_id: TenantId,
    /// The key used (for the audit log).
    pub key_id: ApiKeyId,
}

impl Tx {
    /// Creates a key for `tenant`; the returned [`ApiKey`] must be shown once and then dropped.
    pub async fn create_api_key(
        &mut self,
        tenant: TenantId,
        label: Option<&str>,
    ) -> Result<(ApiKeyRecord, ApiKey)> {
        let key = ApiKey::generate();
        let id = ApiKeyId::new();
        let now = now_millis();
        with_tx!(self, c => sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, prefix, hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(key.prefix())
        .bind(key.hash().0.to_vec())
        .bind(label)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        let record = ApiKeyRecord {
            id,
            tenant_id: tenant,
            prefix: key.prefix().to_owned(),
            label: label.map(str::to_owned),
            created_at: from_millis(now),
            last_used_at: None,
            revoked_at: None,
        };
        Ok((record, key))
    }
}

impl Store {
    /// Creates another key for an existing tenant.
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        label: Option<&str>,
        actor: &str,
    ) -> Result<(ApiKeyRecord, ApiKey)> {
        self.tenant(tenant).await?;
        let mut tx = self.begin().await?;
        let (record, key) = tx.create_api_key(tenant, label).await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "api_key.created",
            target: Some(&record.id.to_string()),
            details: serde_json::json!({ "prefix": record.prefix, "label": label }),
        })
        .await?;
        tx.commit().await?;
        Ok((record, key))
    }

    /// The tenant a presented key belongs to, or `None` if it is unknown or revoked.
    /// The hash comparison is constant-time; the lookup is by the public prefix only.
    pub async fn authenticate(&self, key: &ApiKey) -> Result<Option<Authenticated>> {
        let row: Option<AuthRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, tenant_id, hash, revoked_at, last_used_at FROM api_keys WHERE prefix = $1",
        )
        .bind(key.prefix())
        .fetch_optional(p)
        .await?);
        let Some(AuthRow {
            id,
            tenant_id,
            hash,
            revoked_at,
            last_used_at,
        }) = row
        else {
            return Ok(None);
        };
        let stored = ApiKeyHash::from_slice(&hash)
            .ok_or_else(|| corrupt("api_keys.hash")("wrong length".into()))?;
        if !key.matches(&stored) || revoked_at.is_some() {
            return Ok(None);
        }
        let now = now_millis();
        if last_used_at.is_none_or(|t| now - t >= LAST_USED_GRANULARITY_MS) {
            // A write like any other: on SQLite it waits for the process's write turn rather
            // than for SQLite's busy handler.
            let _turn = self.write_turn().await?;
            with_pool!(self, p => sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(&id)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected());
        }
        Ok(Some(Authenticated {
            tenant_id: parse_id(&tenant_id, "api_keys.tenant_id")?,
            key_id: parse_id(&id, "api_keys.id")?,
        }))
    }

    /// Keys of one tenant, oldest first.
    pub async fn list_api_keys(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<ApiKeyId>,
    ) -> Result<Page<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, tenant_id, prefix, label, created_at, last_used_at, revoked_at \
             FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(tenant.to_string())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(limit as i64 + 1)
        .fetch_all(p)
        .await?);
        let keys = rows
            .into_iter()
            .map(ApiKeyRecord::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(keys, limit, |k| k.id.to_string()))
    }

    /// Revokes a key given its id (`key_…`) or its public prefix (`chq_live_…`); operator-level.
    /// Revoking twice is harmless and keeps the first revocation time.
    pub async fn revoke_api_key(&self, id_or_prefix: &str, actor: &str) -> Result<ApiKeyRecord> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        let row: Option<KeyRow> = with_tx!(tx, c => sqlx::query_as(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 OR prefix = $1 \
             RETURNING id, tenant_id, prefix, label, created_at, last_used_at, revoked_at",
        )
        .bind(id_or_prefix)
        .bind(now)
        .fetch_optional(c)
        .await?);
        let record: ApiKeyRecord = row.ok_or(StoreError::NotFound("API key"))?.try_into()?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(record.tenant_id),
            actor,
            action: "api_key.revoked",
            target: Some(&record.id.to_string()),
            details: serde_json::json!({ "prefix": record.prefix }),
        })
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}
