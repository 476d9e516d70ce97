-- A tenant's own prefilled texts for wa.me links, one per context and locale; they take the
-- place of the shipped texts (see docs/links.md). Validated by the API before they are saved.

CREATE TABLE link_templates (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    context    TEXT NOT NULL,
    locale     TEXT NOT NULL,
    template   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, context, locale)
);
