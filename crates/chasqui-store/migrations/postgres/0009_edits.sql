-- Edits and deletions of earlier messages (WhatsApp `edit` and `revoke`, coexistence and 2025+
-- webhooks). Each change is recorded once in `message_changes`, whether or not the message it
-- names is known yet (Meta does not guarantee order), and applied to that message when both exist:
-- the message shows the latest edit (by provider time), keeps every version in its content JSON,
-- and carries when it was last edited and when it was deleted.

CREATE TABLE message_changes (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    channel_id          TEXT NOT NULL,
    -- The provider id of the message changed (`edit.original_message_id`).
    original_message_id TEXT NOT NULL,
    -- The provider id of the edit or revoke itself: the deduplication key.
    provider_message_id TEXT NOT NULL,
    -- 'edit' or 'revoke'.
    action              TEXT NOT NULL,
    -- When the customer made the change (provider time, Unix ms): the latest edit wins.
    occurred_at         BIGINT NOT NULL,
    -- For edits: the new content (JSON) and its searchable text.
    content             TEXT,
    body_text           TEXT,
    created_at          BIGINT NOT NULL
);
-- A repeated edit or revoke webhook is a no-op.
CREATE UNIQUE INDEX message_changes_once ON message_changes(channel_id, provider_message_id);
-- The changes waiting for (or applied to) one message.
CREATE INDEX message_changes_original ON message_changes(channel_id, original_message_id);

-- Provider time of the edit the message now shows, and of its deletion.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN revoked_at BIGINT;
