-- Outbound: idempotent send requests, the attempt count of each message, and approved templates.

CREATE TABLE idempotency_keys (
    tenant_id       TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys(created_at);

ALTER TABLE messages ADD COLUMN to_address TEXT;
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_attempt_at INTEGER;

CREATE TABLE templates (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id   TEXT,
    name         TEXT NOT NULL,
    language     TEXT NOT NULL,
    category     TEXT NOT NULL,
    status       TEXT NOT NULL,
    body         TEXT NOT NULL,
    provider_id  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX templates_name ON templates(tenant_id, name, language);
CREATE INDEX templates_provider ON templates(provider_id) WHERE provider_id IS NOT NULL;
