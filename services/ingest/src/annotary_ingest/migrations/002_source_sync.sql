-- Incremental source syncs: what was seen of each key of a source (S3 ETag and size; a folder's mtime and size),
-- so that the next sync reads and imports only new or changed keys.
CREATE TABLE source_objects (
    project_id  uuid NOT NULL,
    source_uri  text NOT NULL,
    key         text NOT NULL,
    etag        text NOT NULL,
    size        bigint NOT NULL,
    synced_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, source_uri, key)
);
