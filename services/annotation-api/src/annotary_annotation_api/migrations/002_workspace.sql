-- The labeling workspace (entrypoints/workspace.py): drafts of held tasks, ambiguity flags and comments.
-- Task, item and project ids come from the orchestrator (no foreign keys across services).

-- One draft per task, written only by the annotator holding its lease; a new holder overwrites it.
CREATE TABLE task_drafts (
    task_id     uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    project_id  uuid NOT NULL,
    draft       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE task_flags (
    id          uuid PRIMARY KEY,
    task_id     uuid NOT NULL,
    item_id     uuid NOT NULL,
    project_id  uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id),
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_flags_project ON task_flags (project_id, created_at);
CREATE INDEX task_flags_task ON task_flags (task_id);

-- Comments belong to the item (every round and reviewer sees them); task_id records where they were written.
CREATE TABLE item_comments (
    id          uuid PRIMARY KEY,
    item_id     uuid NOT NULL,
    project_id  uuid NOT NULL,
    task_id     uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX item_comments_item ON item_comments (item_id, created_at);
