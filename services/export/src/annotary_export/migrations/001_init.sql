-- The latest accepted annotation of each item (from annotation.accepted; a later round replaces an earlier one).
CREATE TABLE accepted (
    item_id      uuid PRIMARY KEY,
    project_id   uuid NOT NULL,
    snapshot     bytea NOT NULL,            -- annotary.events.v1.ItemSnapshot
    result_json  jsonb NOT NULL,
    agreement    double precision NOT NULL DEFAULT 0,
    round        integer NOT NULL DEFAULT 0,
    annotators   text[] NOT NULL DEFAULT '{}',
    accepted_at  timestamptz NOT NULL
);
CREATE INDEX accepted_by_project ON accepted (project_id);

-- Dataset exports. schema_json and project_name are kept so that an interrupted export can be rebuilt.
CREATE TABLE exports (
    export_id         uuid PRIMARY KEY,
    project_id        uuid NOT NULL,
    format            text NOT NULL,
    schema_json       text NOT NULL DEFAULT '',
    project_name      text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    item_count        integer NOT NULL DEFAULT 0,
    annotation_count  integer NOT NULL DEFAULT 0,
    object_key        text NOT NULL DEFAULT '',
    file_name         text NOT NULL DEFAULT '',
    error             text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX exports_unfinished ON exports (created_at) WHERE status IN ('queued', 'running');
