-- Full-text search over message text: a generated tsvector with a GIN index.
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', coalesce(body_text, ''))) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);
