-- Inbound: channels, the durable webhook inbox, contacts, conversations, messages and their
-- status history, and provider events about channels and templates.

CREATE TABLE channels (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                 TEXT NOT NULL,
    name                 TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'active',
    phone_number_id      TEXT,
    waba_id              TEXT,
    display_phone_number TEXT,
    settings             TEXT NOT NULL DEFAULT '{}',
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    deleted_at           BIGINT
);
CREATE INDEX channels_tenant ON channels(tenant_id, id);
-- A phone_number_id belongs to at most one live channel across all tenants.
CREATE UNIQUE INDEX channels_phone_number_id ON channels(phone_number_id) WHERE deleted_at IS NULL AND phone_number_id IS NOT NULL;
CREATE INDEX channels_waba ON channels(waba_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_receipts (
    id          TEXT PRIMARY KEY,
    provider    TEXT NOT NULL,
    channel_id  TEXT,
    tenant_id   TEXT,
    body        BYTEA NOT NULL,
    headers     TEXT NOT NULL DEFAULT '{}',
    received_at BIGINT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    route_key   TEXT,
    last_error  TEXT,
    processed_at BIGINT
);
CREATE INDEX webhook_receipts_state ON webhook_receipts(state, received_at);
CREATE INDEX webhook_receipts_route ON webhook_receipts(route_key) WHERE state = 'unrouted';

CREATE TABLE contacts (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    wa_id            TEXT,
    user_id          TEXT,
    contact_key      TEXT,
    username         TEXT,
    profile_name     TEXT,
    name             TEXT,
    email            TEXT,
    locale           TEXT,
    external_user_id TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_user_id ON contacts(tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX contacts_key ON contacts(tenant_id, contact_key) WHERE contact_key IS NOT NULL;
CREATE INDEX contacts_tenant ON contacts(tenant_id, id);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id      TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open',
    source          TEXT,
    opened_at       BIGINT NOT NULL,
    last_inbound_at BIGINT,
    last_message_at BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- One open conversation per contact and channel.
CREATE UNIQUE INDEX conversations_open ON conversations(channel_id, contact_id) WHERE status = 'open';
CREATE INDEX conversations_tenant ON conversations(tenant_id, last_message_at);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id          TEXT NOT NULL,
    conversation_id     TEXT,
    contact_id          TEXT,
    direction           TEXT NOT NULL,
    provider_message_id TEXT,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL,
    body_text           TEXT,
    content             TEXT NOT NULL DEFAULT '{}',
    context_message_id  TEXT,
    provider_timestamp  BIGINT,
    error_code          TEXT,
    error_message       TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
-- Duplicate deliveries of one provider message are no-ops.
CREATE UNIQUE INDEX messages_provider_id ON messages(channel_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_tenant ON messages(tenant_id, id);

CREATE TABLE message_events (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    channel_id          TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    status              TEXT NOT NULL,
    occurred_at         BIGINT NOT NULL,
    payload             TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL
);
-- One row per status of a message: a repeated status webhook is a no-op.
CREATE UNIQUE INDEX message_events_once ON message_events(channel_id, provider_message_id, status);

CREATE TABLE channel_events (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT,
    channel_id TEXT,
    field      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX channel_events_channel ON channel_events(channel_id, created_at);
