//! Tenants: the organizations using Chasqui.

use chasqui_core::api_key::ApiKey;
use chasqui_core::ids::TenantId;
use chasqui_core::plan::Plan;
use chrono::{DateTime, Utc};

use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Page, Store, api_keys::ApiKeyRecord, from_millis, now_millis};

/// An organization and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// Plan tier.
    pub plan: Plan,
    /// The tenant's own WhatsApp number (E.164), used by wa.me links without a phone.
    pub whatsapp_number: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    plan: String,
    whatsapp_number: Option<String>,
    created_at: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;

    fn try_from(r: TenantRow) -> Result<Self> {
        Ok(Tenant {
            id: parse_id(&r.id, "tenants.id")?,
            name: r.name,
            plan: parse_id(&r.plan, "tenants.plan")?,
            whatsapp_number: r.whatsapp_number,
            created_at: from_millis(r.created_at),
        })
    }
}

impl Tx {
    /// Creates a tenant inside this transaction.
    pub async fn create_tenant(&mut self, name: &str, plan: Plan) -> Result<Tenant> {
        let id = TenantId::new();
        let now = now_millis();
        with_tx!(self, c => sqlx::query(
            "INSERT INTO tenants (id, name, plan, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(plan.as_str())
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        Ok(Tenant {
            id,
            name: name.to_owned(),
            plan,
            whatsapp_number: None,
            created_at: from_millis(now),
        })
    }
}

impl Store {
    /// Creates a tenant and its first API key atomically, and records who did it.
    pub async fn create_tenant_with_key(
        &self,
        name: &str,
        plan: Plan,
        actor: &str,
    ) -> Result<(Tenant, ApiKeyRecord, ApiKey)> {
        let mut tx = self.begin().await?;
        let tenant = tx.create_tenant(name, plan).await?;
        let (record, key) = tx.create_api_key(tenant.id, Some("default")).await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant.id),
            actor,
            action: "tenant.created",
            target: Some(&tenant.id.to_string()),
            details: serde_json::json!({ "name": name, "plan": plan.as_str(), "api_key": record.prefix }),
        })
        .await?;
        tx.commit().await?;
        Ok((tenant, record, key))
    }

    /// One tenant by id.
    pub async fn tenant(&self, id: TenantId) -> Result<Tenant> {
        let row: Option<TenantRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, name, plan, whatsapp_number, created_at FROM tenants WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(p)
        .await?);
        row.ok_or(StoreError::NotFound("tenant"))?.try_into()
    }

    /// All tenants, for operators (the CLI), oldest first.
    pub async fn list_tenants(
        &self,
        limit: usize,
        after: Option<TenantId>,
    ) -> Result<Page<Tenant>> {
        let after = after.map(|t| t.to_string()).unwrap_or_default();
        let rows: Vec<TenantRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, name, plan, whatsapp_number, created_at FROM tenants WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit as i64 + 1)
        .fetch_all(p)
        .await?);
        let tenants = rows
            .into_iter()
            .map(Tenant::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(tenants, limit, |t| t.id.to_string()))
    }

    /// Renames a tenant, recording who did it.
    pub async fn rename_tenant(&self, tenant: TenantId, name: &str, actor: &str) -> Result<Tenant> {
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query("UPDATE tenants SET name = $2, updated_at = $3 WHERE id = $1")
            .bind(tenant.to_string())
            .bind(name)
            .bind(now_millis())
            .execute(c)
            .await?
            .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "tenant.renamed",
            target: Some(&tenant.to_string()),
            details: serde_json::json!({ "name": name }),
        })
        .await?;
        tx.commit().await?;
        self.tenant(tenant).await
    }

    /// Sets (or clears) the tenant's own WhatsApp number.
    pub async fn set_whatsapp_number(
        &self,
        tenant: TenantId,
        e164: Option<&str>,
    ) -> Result<Tenant> {
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE tenants SET whatsapp_number = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(tenant.to_string())
        .bind(e164)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("tenant"));
        }
        self.tenant(tenant).await
    }
}

/// The instance setting that records which tenant is the demo tenant.
pub const DEMO_TENANT_SETTING: &str = "demo_tenant_id";

impl Store {
    /// Creates the demo tenant on an instance's very first start, exactly once even when several
    /// instances start together; `None` when it already exists. The key is returned only here.
    pub async fn create_demo_tenant_once(
        &self,
        name: &str,
        plan: Plan,
    ) -> Result<Option<(Tenant, ApiKey)>> {
        let mut tx = self.begin().await?;
        let tenant = tx.create_tenant(name, plan).await?;
        let claimed = with_tx!(tx, c => sqlx::query(
            "INSERT INTO instance_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(DEMO_TENANT_SETTING)
        .bind(tenant.id.to_string())
        .execute(c)
        .await?
        .rows_affected());
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let (_, key) = tx.create_api_key(tenant.id, Some("demo")).await?;
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant.id),
            actor: "system",
            action: "tenant.created",
            target: Some(&tenant.id.to_string()),
            details: serde_json::json!({ "name": name, "plan": plan.as_str(), "demo": true }),
        })
        .await?;
        tx.commit().await?;
        Ok(Some((tenant, key)))
    }
}
