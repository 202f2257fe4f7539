-- Label migrations (entrypoints/manage.py): a mapping from the labels of one schema version to those of a newer
-- one, applied by qa to the accepted annotations of the old version (published again with the new version).
CREATE TABLE label_migrations (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects (id),
    from_version  int NOT NULL,
    to_version    int NOT NULL,
    mapping       jsonb NOT NULL,
    migrated      int NOT NULL,
    relabeled     int NOT NULL,
    dropped       int NOT NULL,
    actor_id      uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (to_version > from_version)
);
CREATE INDEX label_migrations_by_project ON label_migrations (project_id, created_at);
