-- Model plugins, the model registry and the flywheel (issue 6).

-- Text items seen on item.ingested (or first on annotation.accepted); the embedding is a cache.
CREATE TABLE items (
    item_id         uuid PRIMARY KEY,
    project_id      text NOT NULL,
    modality        text NOT NULL,
    text            text NOT NULL DEFAULT '',
    embedding       bytea,                 -- float32 MiniLM vector, computed on first need
    scored_version  text,                  -- the serving version it was last predicted and scored with (lineage of its pre-label)
    labeled         boolean NOT NULL DEFAULT false,
    needs_score     boolean NOT NULL DEFAULT false,  -- its project has a serving model it was not scored by
    seq             bigserial
);
CREATE INDEX items_to_score ON items (seq) WHERE needs_score;
CREATE INDEX items_project ON items (project_id) WHERE NOT labeled;

-- Accepted annotations usable as training data (latest accepted round wins).
CREATE TABLE labels (
    item_id      uuid PRIMARY KEY,
    project_id   text NOT NULL,
    choice_name  text NOT NULL,
    value        text NOT NULL,
    result_json  jsonb NOT NULL,
    heldout      boolean NOT NULL,
    seq          bigserial,
    accepted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX labels_project ON labels (project_id, seq);

-- Per project: counters of the flywheel and the serving model.
CREATE TABLE projects (
    project_id         text PRIMARY KEY,
    accepted           integer NOT NULL DEFAULT 0,
    last_requested_at  integer NOT NULL DEFAULT 0,    -- `accepted` when the last training was requested
    serving_version    text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The registry: every trained version with its lineage.
CREATE TABLE model_versions (
    model_version   text PRIMARY KEY,
    project_id      text NOT NULL,
    plugin          text NOT NULL,
    number          integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('promoted', 'rejected')),
    parent_version  text,                  -- the serving version when it was trained
    metrics         jsonb NOT NULL,        -- {"candidate": {...}, "incumbent": {...}, "metric": "accuracy"}
    training_items  integer NOT NULL,
    heldout_items   integer NOT NULL,
    training_data   jsonb NOT NULL,        -- {"labels": n, "last_label_seq": s, "items_digest": d, "classes": ...}
    artifact_key    text NOT NULL,
    promoted_by     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    promoted_at     timestamptz,
    UNIQUE (project_id, number)
);

-- Training requests, taken by the workers with FOR UPDATE SKIP LOCKED.
CREATE TABLE training_jobs (
    id            bigserial PRIMARY KEY,
    project_id    text NOT NULL,
    accepted      integer NOT NULL,
    state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX training_jobs_queued ON training_jobs (id) WHERE state IN ('queued', 'running');
