-- Outgoing events: the tenant's event log, the endpoints its application registered, and one
-- delivery per event and endpoint with every attempt made.

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, id);
CREATE INDEX events_tenant_time ON events(tenant_id, created_at);

-- The signing secret is not here: it lives encrypted in `credentials`
-- (`webhook_endpoint:<id>:secret`), so key rotation re-encrypts it with the rest.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    tenant_id                  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url                        TEXT NOT NULL,
    description                TEXT,
    -- JSON array of event types; empty means every type.
    event_types                TEXT NOT NULL DEFAULT '[]',
    -- NULL while enabled.
    disabled_at                INTEGER,
    disabled_reason            TEXT,
    -- The first failed attempt since the last successful one (NULL when healthy).
    failing_since              INTEGER,
    last_success_at            INTEGER,
    -- Until then deliveries are also signed with the secret replaced by the last rotation.
    previous_secret_expires_at INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints(tenant_id, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    -- The job currently responsible; a job that is not this one (superseded by a replay) does nothing.
    job_id          TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);

CREATE TABLE webhook_delivery_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    status       INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL,
    attempted_at INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
