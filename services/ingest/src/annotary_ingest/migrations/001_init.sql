-- Items of every project. item_id = uuid5(namespace, "<project_id>:<content_hash>"), so the same content
-- in the same project is always the same item; the unique key makes re-imports no-ops.
CREATE TABLE items (
    item_id       uuid PRIMARY KEY,
    project_id    uuid NOT NULL,
    external_id   text NOT NULL DEFAULT '',
    modality      text NOT NULL CHECK (modality IN ('image', 'text', 'audio', 'video')),
    media_uri     text NOT NULL DEFAULT '',
    media_type    text NOT NULL DEFAULT '',
    text          text,
    width         integer NOT NULL DEFAULT 0,
    height        integer NOT NULL DEFAULT 0,
    meta          jsonb NOT NULL DEFAULT '{}'::jsonb,
    content_hash  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, content_hash)
);
