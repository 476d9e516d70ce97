//! A tenant's own prefilled texts for wa.me links (one per context and locale), which take the
//! place of the texts Chasqui ships. Texts are checked with
//! [`validate_template`](chasqui_core::wame::validate_template) by the caller before they are saved.

use chasqui_core::ids::TenantId;
use chasqui_core::wame::{LinkContext, Locale, TemplateOverrides};
use chrono::{DateTime, Utc};

use crate::audit::NewAuditEntry;
use crate::db::{with_pool, with_tx};
use crate::error::Result;
use crate::{Store, from_millis, now_millis};

/// One tenant override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate {
    /// Where the link appears.
    pub context: LinkContext,
    /// The locale the text is written in (normalised, `es-AR`).
    pub locale: Locale,
    /// The text with its `{{placeholders}}`.
    pub template: String,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct LinkTemplateRow {
    context: String,
    locale: String,
    template: String,
    updated_at: i64,
}

impl LinkTemplateRow {
    /// `None` (with a warning) for a row this version cannot read, e.g. a context added by a
    /// newer version: the shipped text applies instead of failing every link.
    fn decode(self, tenant: TenantId) -> Option<LinkTemplate> {
        match (
            LinkContext::parse(&self.context),
            Locale::parse(&self.locale),
        ) {
            (Ok(context), Ok(locale)) => Some(LinkTemplate {
                context,
                locale,
                template: self.template,
                updated_at: from_millis(self.updated_at),
            }),
            _ => {
                tracing::warn!(
                    tenant_id = %tenant,
                    context = %self.context,
                    locale = %self.locale,
                    "ignoring a stored link template this version cannot read"
                );
                None
            }
        }
    }
}

/// `invoice/es-AR`, the audit-log target of an override.
fn target(context: LinkContext, locale: &Locale) -> String {
    format!("{context}/{locale}")
}

impl Store {
    /// The tenant's overrides, ordered by context and locale.
    pub async fn link_templates(&self, tenant: TenantId) -> Result<Vec<LinkTemplate>> {
        let rows: Vec<LinkTemplateRow> = with_pool!(self, p => sqlx::query_as(
            "SELECT context, locale, template, updated_at FROM link_templates \
             WHERE tenant_id = $1 ORDER BY context, locale",
        )
        .bind(tenant.to_string())
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().filter_map(|r| r.decode(tenant)).collect())
    }

    /// The tenant's overrides as the renderer takes them; a stored text that no longer passes
    /// validation is skipped with a warning (the shipped text applies).
    pub async fn link_template_overrides(&self, tenant: TenantId) -> Result<TemplateOverrides> {
        let mut overrides = TemplateOverrides::new();
        for t in self.link_templates(tenant).await? {
            if let Err(e) = overrides.insert(t.context, t.locale.clone(), &t.template) {
                tracing::warn!(
                    tenant_id = %tenant,
                    target = %target(t.context, &t.locale),
                    error = %e,
                    "ignoring a stored link template that no longer validates"
                );
            }
        }
        Ok(overrides)
    }

    /// Saves (creates or replaces) an override and records who did it.
    pub async fn put_link_template(
        &self,
        tenant: TenantId,
        context: LinkContext,
        locale: &Locale,
        template: &str,
        actor: &str,
    ) -> Result<LinkTemplate> {
        let now = now_millis();
        let mut tx = self.begin().await?;
        with_tx!(tx, c => sqlx::query(
            "INSERT INTO link_templates (tenant_id, context, locale, template, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, context, locale) \
             DO UPDATE SET template = excluded.template, updated_at = excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(context.as_str())
        .bind(locale.as_str())
        .bind(template)
        .bind(now)
        .execute(c)
        .await?
        .rows_affected());
        tx.audit(NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "link_template.saved",
            target: Some(&target(context, locale)),
            details: serde_json::json!({
                "context": context.as_str(),
                "locale": locale.as_str(),
                "template": template,
            }),
        })
        .await?;
        tx.commit().await?;
        Ok(LinkTemplate {
            context,
            locale: locale.clone(),
            template: template.to_owned(),
            updated_at: from_millis(now),
        })
    }

    /// Deletes an override (the shipped text applies again); `false` when there was none.
    pub async fn delete_link_template(
        &self,
        tenant: TenantId,
        context: LinkContext,
        locale: &Locale,
        actor: &str,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = with_tx!(tx, c => sqlx::query(
            "DELETE FROM link_templates WHERE tenant_id = $1 AND context = $2 AND locale = $3",
        )
        .bind(tenant.to_string())
        .bind(context.as_str())
        .bind(locale.as_str())
        .execute(c)
        .await?
        .rows_affected());
        if done == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.audit(NewAuditEntry {
            tenant: Some(tenant),
            actor,
            action: "link_template.deleted",
            target: Some(&target(context, locale)),
            details: serde_json::json!({ "context": context.as_str(), "locale": locale.as_str() }),
        })
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
