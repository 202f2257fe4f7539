-- qa schema (search_path is the schema; names are unqualified).

-- The latest label schema and quality policy of each project (ConfigureProject replaces it).
CREATE TABLE projects (
    project_id          text PRIMARY KEY,
    schema              jsonb NOT NULL,
    schema_version      integer NOT NULL CHECK (schema_version >= 1),
    agreement_threshold double precision NOT NULL CHECK (agreement_threshold >= 0 AND agreement_threshold <= 1),
    review              text NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One decision per item and round: the primary key makes a re-delivered task.submitted a no-op.
CREATE TABLE decisions (
    item_id        uuid NOT NULL,   -- the canonical item id (ingest)
    round          integer NOT NULL,
    project_id     text NOT NULL,
    schema_version integer NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('accepted', 'review_required')),
    agreement      double precision NOT NULL,
    result_json    jsonb,           -- the consensus result; NULL when review is required
    decided_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round)
);

-- Items waiting for a reviewer/adjudicator.
CREATE TABLE review_queue (
    item_id     uuid NOT NULL,
    round       integer NOT NULL,
    project_id  text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round),
    FOREIGN KEY (item_id, round) REFERENCES decisions (item_id, round)
);
CREATE INDEX review_queue_by_project ON review_queue (project_id, created_at);
