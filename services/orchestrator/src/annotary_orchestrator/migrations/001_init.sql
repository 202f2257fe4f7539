-- The orchestrator's schema: projects' policies, items, their task slots, predictions, skips and the history.
-- Unqualified names: the search_path is the service's own schema.

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    policy      jsonb NOT NULL,          -- {"overlap", "lease_seconds", "agreement_threshold", "gold_ratio", ...}
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE items (
    item_id     uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id),
    state       text NOT NULL CHECK (state IN ('unassigned', 'assigned', 'in_progress', 'submitted',
                                                'under_review', 'accepted', 'rejected')),
    round       integer NOT NULL DEFAULT 1 CHECK (round >= 1),
    snapshot    bytea NOT NULL,          -- serialized annotary.events.v1.ItemSnapshot
    gold_json   jsonb,                   -- the import's gold result, NULL when none
    priority    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_project_state ON items (project_id, state);

-- One row per slot: overlap N gives N slots per item and round. A skipped slot goes back to 'unassigned'.
CREATE TABLE tasks (
    task_id           uuid PRIMARY KEY,
    seq               bigserial NOT NULL,            -- FIFO order of the queue
    item_id           uuid NOT NULL REFERENCES items (item_id),
    project_id        uuid NOT NULL,
    slot              integer NOT NULL CHECK (slot >= 0),
    round             integer NOT NULL CHECK (round >= 1),
    priority          integer NOT NULL DEFAULT 0,    -- the item's priority, copied so the queue index can order by it
    state             text NOT NULL CHECK (state IN ('unassigned', 'assigned', 'submitted')),
    annotator_id      text,
    lease_expires_at  timestamptz,
    result_json       jsonb,
    lead_time_ms      bigint,
    submitted_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (item_id, round, slot),
    CHECK ((state = 'unassigned') = (annotator_id IS NULL))
);
-- One annotator never holds two slots of the same item in a round (also serves the lease query's NOT EXISTS).
CREATE UNIQUE INDEX tasks_one_slot_per_annotator ON tasks (item_id, round, annotator_id) WHERE annotator_id IS NOT NULL;
-- The lease queue: free slots and (possibly expired) leases, in priority then FIFO order.
CREATE INDEX tasks_lease_queue ON tasks (project_id, priority DESC, seq) WHERE state IN ('unassigned', 'assigned');
-- "Does this annotator already hold a task in this project?"
CREATE INDEX tasks_held ON tasks (project_id, annotator_id) WHERE state = 'assigned';
CREATE INDEX tasks_project_state ON tasks (project_id, state);
CREATE INDEX tasks_submitted_at ON tasks (project_id, submitted_at) WHERE submitted_at IS NOT NULL;

-- An annotator who skipped an item never gets it again.
CREATE TABLE skips (
    item_id       uuid NOT NULL,
    annotator_id  text NOT NULL,
    task_id       uuid NOT NULL,
    round         integer NOT NULL,
    reason        text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, annotator_id)
);

-- No foreign key to items: item.preannotated may arrive before item.ingested (different topics).
CREATE TABLE predictions (
    item_id        uuid NOT NULL,
    model_version  text NOT NULL,
    score          double precision NOT NULL DEFAULT 0,
    result_json    jsonb NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, model_version)
);

-- Every item and task transition: the lineage and the audit trail.
CREATE TABLE item_history (
    id          bigserial PRIMARY KEY,
    subject     text NOT NULL CHECK (subject IN ('item', 'task')),
    item_id     uuid NOT NULL,
    task_id     uuid,
    actor       text NOT NULL,
    from_state  text,
    to_state    text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX item_history_item ON item_history (item_id, id);
CREATE INDEX item_history_task ON item_history (task_id, actor) WHERE task_id IS NOT NULL;
