-- Media: the metadata of every file received from customers or uploaded by a tenant. The bytes
-- live in the object store under `storage_key`, always below `tenants/<tenant_id>/`.

CREATE TABLE media (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- The message it came with (inbound) or was sent in; NULL for an upload not sent yet.
    message_id        TEXT,
    channel_id        TEXT,
    -- Which attachment of the message (0 for the first).
    position          BIGINT NOT NULL DEFAULT 0,
    -- 'in' (received from a customer) or 'out' (uploaded by the tenant).
    direction         TEXT NOT NULL,
    -- WhatsApp media type: image, audio, video, document, sticker.
    kind              TEXT,
    provider_media_id TEXT,
    source_url        TEXT,
    storage_key       TEXT NOT NULL,
    mime_type         TEXT,
    size_bytes        BIGINT,
    -- Hex SHA-256 of the stored bytes.
    sha256            TEXT,
    -- What the provider declared (base64 or hex, as sent), checked against the download.
    expected_sha256   TEXT,
    filename          TEXT,
    -- 'pending', 'stored' or 'failed'.
    state             TEXT NOT NULL DEFAULT 'pending',
    attempts          BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    stored_at         BIGINT
);
CREATE INDEX media_tenant ON media(tenant_id, id);
-- One row per attachment of a message: processing a delivery twice adds nothing.
CREATE UNIQUE INDEX media_message_position ON media(message_id, position) WHERE message_id IS NOT NULL;
