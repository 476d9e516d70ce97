//! Message templates per tenant, as Meta approves them (synced or registered), keyed by name and
//! language.

use chasqui_core::ids::{ChannelId, TenantId};
use chrono::{DateTime, Utc};

use crate::db::with_pool;
use crate::error::{Result, StoreError, parse_id};
use crate::{Page, Store, from_millis, now_millis};

/// A stored template; `body` is Meta's template object (components, parameter format…).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRecord {
    /// Our id.
    pub id: String,
    /// The channel it was synced from, if any.
    pub channel_id: Option<ChannelId>,
    /// Template name.
    pub name: String,
    /// Language code (`es_AR`).
    pub language: String,
    /// `marketing`, `utility` or `authentication`.
    pub category: String,
    /// `approved`, `pending`, `rejected`, `paused`, `disabled`…
    pub status: String,
    /// Meta's template object.
    pub body: serde_json::Value,
    /// Meta's template id.
    pub provider_id: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A template to store.
#[derive(Debug, Clone)]
pub struct NewTemplate<'a> {
    /// The channel it comes from.
    pub channel: Option<ChannelId>,
    /// Name.
    pub name: &'a str,
    /// Language code.
    pub language: &'a str,
    /// Category.
    pub category: &'a str,
    /// Status.
    pub status: &'a str,
    /// Meta's template object.
    pub body: &'a serde_json::Value,
    /// Meta's id.
    pub provider_id: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: String,
    channel_id: Option<String>,
    name: String,
    language: String,
    category: String,
    status: String,
    body: String,
    provider_id: Option<String>,
    updated_at: i64,
}

impl TryFrom<TemplateRow> for TemplateRecord {
    type Error = StoreError;

    fn try_from(r: TemplateRow) -> Result<Self> {
        Ok(TemplateRecord {
            id: r.id,
            channel_id: r
                .channel_id
                .as_deref()
                .map(|c| parse_id(c, "templates.channel_id"))
                .transpose()?,
            name: r.name,
            language: r.language,
            category: r.category,
            status: r.status,
            body: serde_json::from_str(&r.body).unwrap_or_default(),
            provider_id: r.provider_id,
            updated_at: from_millis(r.updated_at),
        })
    }
}

const SELECT: &str = "SELECT id, channel_id, name, language, category, status, body, provider_id, updated_at FROM templates";

impl Store {
    /// Creates or replaces the template with this name and language.
    pub async fn upsert_template(
        &self,
        tenant: TenantId,
        t: &NewTemplate<'_>,
    ) -> Result<TemplateRecord> {
        let now = now_millis();
        with_pool!(self, p => sqlx::query(
            "INSERT INTO templates (id, tenant_id, channel_id, name, language, category, status, body, provider_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
             ON CONFLICT (tenant_id, name, language) DO UPDATE SET channel_id = COALESCE($3, templates.channel_id), \
             category = $6, status = $7, body = $8, provider_id = COALESCE($9, templates.provider_id), updated_at = $10",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(tenant.to_string())
        .bind(t.channel.map(|c| c.to_string()))
        .bind(t.name)
        .bind(t.language)
        .bind(t.category)
        .bind(t.status)
        .bind(t.body.to_string())
        .bind(t.provider_id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        self.template(tenant, t.name, t.language)
            .await?
            .ok_or(StoreError::NotFound("template"))
    }

    /// A template by name and exact language.
    pub async fn template(
        &self,
        tenant: TenantId,
        name: &str,
        language: &str,
    ) -> Result<Option<TemplateRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND name = $2 AND language = $3"
        ));
        let row: Option<TemplateRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(name)
            .bind(language)
            .fetch_optional(p)
            .await?);
        row.map(TemplateRecord::try_from).transpose()
    }

    /// Every language of a template name.
    pub async fn templates_named(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Vec<TemplateRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND name = $2 ORDER BY language"
        ));
        let rows: Vec<TemplateRow> = with_pool!(self, p => sqlx::query_as(sql).bind(tenant.to_string()).bind(name).fetch_all(p).await?);
        rows.into_iter().map(TemplateRecord::try_from).collect()
    }

    /// A tenant's templates, by name then language.
    pub async fn list_templates(
        &self,
        tenant: TenantId,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<TemplateRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ));
        let rows: Vec<TemplateRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.unwrap_or_default())
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(TemplateRecord::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |t| t.id.clone()))
    }

    /// Applies a status webhook (`message_template_status_update`) to a tenant's template,
    /// found by Meta's id or by name and language; returns whether one matched.
    pub async fn set_template_status(
        &self,
        tenant: TenantId,
        provider_id: Option<&str>,
        name: Option<&str>,
        language: Option<&str>,
        status: &str,
    ) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query(
            "UPDATE templates SET status = $5, updated_at = $6 WHERE tenant_id = $1 \
             AND (($2 IS NOT NULL AND provider_id = $2) OR ($2 IS NULL AND name = $3 AND language = $4))",
        )
        .bind(tenant.to_string())
        .bind(provider_id)
        .bind(name)
        .bind(language)
        .bind(status)
        .bind(now_millis())
        .execute(p)
        .await?
        .rows_affected());
        Ok(done > 0)
    }
}

/// Filters of [`Store::list_templates_filtered`]; `None` matches everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateFilter<'a> {
    /// Exact name.
    pub name: Option<&'a str>,
    /// Exact language code (normalised by the caller: `es_AR`).
    pub language: Option<&'a str>,
    /// Status, any case (`approved`, `PAUSED`).
    pub status: Option<&'a str>,
}

/// What a provider event (`message_template_status_update`, `template_category_update`,
/// `message_template_quality_update`) changes on a stored template. The template is found by
/// Meta's id, else by name and language; `None` fields are left as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateChange<'a> {
    /// Meta's template id.
    pub provider_id: Option<&'a str>,
    /// Template name.
    pub name: Option<&'a str>,
    /// Language code, any spelling (`en-US`, `en_US`).
    pub language: Option<&'a str>,
    /// New status, any case.
    pub status: Option<&'a str>,
    /// New category, any case.
    pub category: Option<&'a str>,
    /// New quality score (`GREEN`, `YELLOW`, `RED`).
    pub quality_score: Option<&'a str>,
}

impl Store {
    /// A tenant's templates matching `filter`, in the order of [`Store::list_templates`].
    pub async fn list_templates_filtered(
        &self,
        tenant: TenantId,
        filter: &TemplateFilter<'_>,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<TemplateRecord>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE tenant_id = $1 AND id > $2 AND ($3 IS NULL OR name = $3) \
             AND ($4 IS NULL OR language = $4) AND ($5 IS NULL OR status = $5) ORDER BY id LIMIT $6"
        ));
        let rows: Vec<TemplateRow> = with_pool!(self, p => sqlx::query_as(sql)
            .bind(tenant.to_string())
            .bind(after.clone().unwrap_or_default())
            .bind(filter.name)
            .bind(filter.language)
            .bind(filter.status.map(str::to_ascii_lowercase))
            .bind(limit as i64 + 1)
            .fetch_all(p)
            .await?);
        let items = rows
            .into_iter()
            .map(TemplateRecord::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |t| t.id.clone()))
    }

    /// Forgets a tenant's template in one language; returns whether it existed.
    pub async fn delete_template(
        &self,
        tenant: TenantId,
        name: &str,
        language: &str,
    ) -> Result<bool> {
        let done = with_pool!(self, p => sqlx::query(
            "DELETE FROM templates WHERE tenant_id = $1 AND name = $2 AND language = $3",
        )
        .bind(tenant.to_string())
        .bind(name)
        .bind(language)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done > 0)
    }
}

impl crate::Tx {
    /// Applies a provider event to a tenant's template inside a transaction: the `status` and
    /// `category` columns (lower-case) and the same fields of the stored Meta object (upper-case,
    /// which is what the send validator reads), plus Meta's id when the template had none.
    /// Returns how many templates changed (0 when none is known).
    pub async fn set_template_status(
        &mut self,
        tenant: TenantId,
        change: &TemplateChange<'_>,
    ) -> Result<usize> {
        use crate::db::with_tx;

        let mut rows: Vec<(String, String)> = Vec::new();
        if let Some(pid) = change.provider_id {
            rows = with_tx!(self, c => sqlx::query_as("SELECT id, body FROM templates WHERE tenant_id = $1 AND provider_id = $2")
                .bind(tenant.to_string())
                .bind(pid)
                .fetch_all(c)
                .await?);
        }
        if rows.is_empty()
            && let (Some(name), Some(language)) = (change.name, change.language)
        {
            let language = chasqui_core::template::normalize_language(language);
            rows = with_tx!(self, c => sqlx::query_as(
                "SELECT id, body FROM templates WHERE tenant_id = $1 AND name = $2 AND language = $3",
            )
            .bind(tenant.to_string())
            .bind(name)
            .bind(&language)
            .fetch_all(c)
            .await?);
        }
        let now = now_millis();
        for (id, body) in &rows {
            let mut body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if let Some(obj) = body.as_object_mut() {
                let upper = |s: &str| serde_json::Value::String(s.trim().to_ascii_uppercase());
                if let Some(s) = change.status {
                    obj.insert("status".into(), upper(s));
                }
                if let Some(c) = change.category {
                    obj.insert("category".into(), upper(c));
                }
                if let Some(q) = change.quality_score {
                    obj.insert(
                        "quality_score".into(),
                        serde_json::json!({ "score": q.trim().to_ascii_uppercase() }),
                    );
                }
                if let Some(pid) = change.provider_id {
                    obj.entry("id")
                        .or_insert_with(|| serde_json::Value::String(pid.to_owned()));
                }
            }
            with_tx!(self, c => sqlx::query(
                "UPDATE templates SET status = COALESCE($3, status), category = COALESCE($4, category), body = $5, \
                 provider_id = COALESCE(provider_id, $6), updated_at = $7 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant.to_string())
            .bind(change.status.map(|s| s.trim().to_ascii_lowercase()))
            .bind(change.category.map(|s| s.trim().to_ascii_lowercase()))
            .bind(body.to_string())
            .bind(change.provider_id)
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        }
        Ok(rows.len())
    }
}
