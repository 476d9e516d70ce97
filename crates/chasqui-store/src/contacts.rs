//! Reading and editing contacts, always within one tenant.

use chasqui_core::ids::{ContactId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::{with_pool, with_tx};
use crate::error::{Result, StoreError, parse_id};
use crate::{Page, Store, from_millis, now_millis};

/// A customer of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// The WhatsApp id (digits), when known.
    pub wa_id: Option<String>,
    /// The business-scoped user id, when known.
    pub user_id: Option<String>,
    /// WhatsApp username.
    pub username: Option<String>,
    /// Profile name from WhatsApp.
    pub profile_name: Option<String>,
    /// Name set by the tenant.
    pub name: Option<String>,
    /// Email set by the tenant.
    pub email: Option<String>,
    /// Preferred locale.
    pub locale: Option<String>,
    /// The tenant's own user id for this person (`None`: unmapped).
    pub external_user_id: Option<String>,
    /// Tenant tags.
    pub tags: Vec<String>,
    /// When the customer stopped marketing messages on WhatsApp (`None`: not stopped).
    pub marketing_opt_out_at: Option<DateTime<Utc>>,
    /// When first seen.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Changes from the tenant; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    /// Name.
    pub name: Option<Option<String>>,
    /// Email.
    pub email: Option<Option<String>>,
    /// Locale.
    pub locale: Option<Option<String>>,
    /// External user id.
    pub external_user_id: Option<Option<String>>,
    /// Tags, replaced as a whole.
    pub tags: Option<Vec<String>>,
}

/// Filters for listing contacts.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Matches name, profile name, username, number or email (case-insensitive substring).
    pub q: Option<String>,
    /// Only contacts without `external_user_id`.
    pub unmapped: bool,
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: String,
    wa_id: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    profile_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    locale: Option<String>,
    external_user_id: Option<String>,
    tags: String,
    marketing_opt_out_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ContactRow> for Contact {
    type Error = StoreError;

    fn try_from(r: ContactRow) -> Result<Self> {
        Ok(Contact {
            id: parse_id(&r.id, "contacts.id")?,
            wa_id: r.wa_id,
            user_id: r.user_id,
            username: r.username,
            profile_name: r.profile_name,
            name: r.name,
            email: r.email,
            locale: r.locale,
            external_user_id: r.external_user_id,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            marketing_opt_out_at: r.marketing_opt_out_at.map(from_millis),
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        })
    }
}

const SELECT: &str = "SELECT id, wa_id, user_id, username, profile_name, name, email, locale, external_user_id, tags, \
                      marketing_opt_out_at, created_at, updated_at FROM contacts";

impl Store {
    /// One contact of a tenant.
    pub async fn contact(&self, tenant: TenantId, id: ContactId) -> Result<Contact> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1 AND tenant_id = $2"));
        let row: Option<ContactRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(p)
            .await?);
        row.ok_or(StoreError::NotFound("contact"))?.try_into()
    }

    /// The contact a number (any of its variant keys) or a user id belongs to, if any.
    pub async fn find_contact(
        &self,
        tenant: TenantId,
        user_id: Option<&str>,
        keys: &[String],
    ) -> Result<Option<Contact>> {
        if let Some(u) = user_id {
            let sql =
                sqlx::AssertSqlSafe(format!("{SELECT} WHERE tenant_id = $1 AND user_id = $2"));
            let row: Option<ContactRow> = with_pool!(self, p => sqlx::query_as(sql).bind(tenant.to_string()).bind(u).fetch_optional(p).await?);
            if let Some(r) = row {
                return r.try_into().map(Some);
            }
        }
        for key in keys {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE tenant_id = $1 AND contact_key = $2"
            ));
            let row: Option<ContactRow> = with_pool!(self, p => sqlx::query_as(sql).bind(tenant.to_string()).bind(key).fetch_optional(p).await?);
            if let Some(r) = row {
                return r.try_into().map(Some);
            }
        }
        Ok(None)
    }

    /// A tenant's contacts, oldest first, filtered.
    pub async fn list_contacts(
        &self,
        tenant: TenantId,
        filter: &ContactFilter,
        limit: usize,
        after: Option<ContactId>,
    ) -> Result<Page<Contact>> {
        let pattern = filter
            .q
            .as_ref()
            .map(|q| format!("%{}%", q.trim().to_lowercase()));
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND id > $2 \
             AND ($3 = 0 OR external_user_id IS NULL) \
             AND ($4 IS NULL OR LOWER(COALESCE(name, '')) LIKE $4 OR LOWER(COALESCE(profile_name, '')) LIKE $4 \
                  OR LOWER(COALESCE(username, '')) LIKE $4 OR COALESCE(wa_id, '') LIKE $4 \
                  OR LOWER(COALESCE(email, '')) LIKE $4) \
             ORDER BY id LIMIT $5"
        ));
        let rows: Vec<ContactRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(i64::from(filter.unmapped))
            .bind(pattern.clone())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(Contact::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |c| c.id.to_string()))
    }

    /// Applies a tenant's edit to a contact.
    pub async fn update_contact(
        &self,
        tenant: TenantId,
        id: ContactId,
        patch: ContactPatch,
        actor: &str,
    ) -> Result<Contact> {
        let cur = self.contact(tenant, id).await?;
        let name = patch.name.unwrap_or(cur.name);
        let email = patch.email.unwrap_or(cur.email);
        let locale = patch.locale.unwrap_or(cur.locale);
        let external = patch.external_user_id.unwrap_or(cur.external_user_id);
        let tags = patch.tags.unwrap_or(cur.tags);
        let mut tx = self.begin().await?;
        with_tx!(tx, c => sqlx::query(
            "UPDATE contacts SET name = $3, email = $4, locale = $5, external_user_id = $6, tags = $7, updated_at = $8 \
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(&name)
        .bind(&email)
        .bind(&locale)
        .bind(&external)
        .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
        .bind(now_millis())
        .execute(c)
        .await?
        .rows_affected());
        tx.audit(crate::audit::NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "contact.updated",
            target: Some(&id.to_string()),
            details: serde_json::json!({ "external_user_id": external, "tags": tags }),
        })
        .await?;
        tx.commit().await?;
        self.contact(tenant, id).await
    }
}
