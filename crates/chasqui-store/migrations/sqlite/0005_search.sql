-- Full-text search over message text (FTS5, accents and case folded), kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body_text,
    content = 'messages',
    content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO messages_fts (rowid, body_text) SELECT rowid, body_text FROM messages WHERE body_text IS NOT NULL;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.body_text IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, body_text) VALUES (new.rowid, new.body_text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.body_text IS NOT NULL BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body_text) VALUES ('delete', old.rowid, old.body_text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body_text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body_text) SELECT 'delete', old.rowid, old.body_text WHERE old.body_text IS NOT NULL;
    INSERT INTO messages_fts (rowid, body_text) SELECT new.rowid, new.body_text WHERE new.body_text IS NOT NULL;
END;
