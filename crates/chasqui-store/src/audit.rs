//! The audit log: who changed what, kept append-only.

use chasqui_core::ids::TenantId;
use chrono::{DateTime, Utc};

use crate::db::{Tx, with_pool, with_tx};
use crate::error::{Result, parse_id};
use crate::{Page, Store, from_millis, now_millis};

/// An entry to record.
#[derive(Debug)]
pub struct NewAuditEntry<'a> {
    /// The tenant concerned (`None` for instance-wide actions).
    pub tenant: Option<TenantId>,
    /// Who acted: `cli`, `api:key_…`, `system`.
    pub actor: &'a str,
    /// What happened, dotted (`api_key.revoked`).
    pub action: &'a str,
    /// The object acted upon.
    pub target: Option<&'a str>,
    /// Anything else worth keeping (never secrets).
    pub details: serde_json::Value,
}

/// A recorded entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// The tenant concerned.
    pub tenant_id: Option<TenantId>,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// The object acted upon.
    pub target: Option<String>,
    /// Extra details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    tenant_id: Option<String>,
    actor: String,
    action: String,
    target: Option<String>,
    details: String,
    created_at: i64,
}

impl Tx {
    /// Records an entry as part of the change it describes.
    pub async fn audit(&mut self, e: NewAuditEntry<'_>) -> Result<()> {
        with_tx!(self, c => sqlx::query(
            "INSERT INTO audit_log (tenant_id, actor, action, target, details, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.tenant.map(|t| t.to_string()))
        .bind(e.actor)
        .bind(e.action)
        .bind(e.target)
        .bind(e.details.to_string())
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        Ok(())
    }
}

impl Store {
    /// Records an entry on its own.
    pub async fn audit(&self, e: NewAuditEntry<'_>) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.audit(e).await?;
        tx.commit().await
    }

    /// A tenant's audit entries, oldest first.
    pub async fn list_audit(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<i64>,
    ) -> Result<Page<AuditEntry>> {
        let rows: Vec<AuditRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT id, tenant_id, actor, action, target, details, created_at FROM audit_log \
             WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(tenant.to_string())
        .bind(after.unwrap_or(0))
        .bind(limit as i64 + 1)
        .fetch_all(p)
        .await?);
        let entries = rows
            .into_iter()
            .map(
                |AuditRow {
                     id,
                     tenant_id: t,
                     actor,
                     action,
                     target,
                     details,
                     created_at: at,
                 }| {
                    Ok(AuditEntry {
                        id,
                        tenant_id: t
                            .as_deref()
                            .map(|t| parse_id(t, "audit_log.tenant_id"))
                            .transpose()?,
                        actor,
                        action,
                        target,
                        details: serde_json::from_str(&details)
                            .unwrap_or(serde_json::Value::String(details)),
                        created_at: from_millis(at),
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(entries, limit, |e| e.id.to_string()))
    }
}
