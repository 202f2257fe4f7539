-- Issue 3: the complete assignment model. Gold items, per-annotator standing (pause, qualification, counters),
-- active-learning scores, priorities in the queue order, leases K at a time, the reaper, feedback and provenance.

-- The label schema version the project's annotators work with (recorded on each task when leased).
ALTER TABLE projects ADD COLUMN schema_version integer NOT NULL DEFAULT 1 CHECK (schema_version >= 1);

-- Gold items live in their own state 'gold', outside the item state machine.
ALTER TABLE items DROP CONSTRAINT items_state_check;
ALTER TABLE items ADD CONSTRAINT items_state_check
    CHECK (state IN ('unassigned', 'assigned', 'in_progress', 'submitted', 'under_review', 'accepted', 'rejected',
                     'gold'));
ALTER TABLE items ADD COLUMN seq bigserial NOT NULL;   -- FIFO among gold items
CREATE INDEX items_gold ON items (project_id, seq) WHERE state = 'gold';

ALTER TABLE tasks
    ADD COLUMN score double precision NOT NULL DEFAULT 0,       -- the item's active-learning score (item.scored)
    ADD COLUMN gold boolean NOT NULL DEFAULT false,             -- a gold item's task: one per annotator served
    ADD COLUMN qualification boolean NOT NULL DEFAULT false,    -- served as part of the qualification set
    ADD COLUMN leased_at timestamptz,                           -- when the current holder leased it (oldest first)
    ADD COLUMN feedback text NOT NULL DEFAULT '',               -- the reviewer's feedback that started this round
    ADD COLUMN schema_version integer NOT NULL DEFAULT 0,       -- the project's schema version when leased
    ADD COLUMN prelabel_model_versions text[] NOT NULL DEFAULT '{}';  -- prediction versions the item had when leased
ALTER TABLE tasks ADD CONSTRAINT tasks_gold_round CHECK (NOT gold OR (round = 1 AND slot = 0));
ALTER TABLE tasks ADD CONSTRAINT tasks_qualification_is_gold CHECK (NOT qualification OR gold);
-- Regular slots: (item, round, slot) unique; gold tasks are created per annotator, all with slot 0. Queries about
-- an item's regular slots say NOT gold so that they use this index.
ALTER TABLE tasks DROP CONSTRAINT tasks_item_id_round_slot_key;
CREATE UNIQUE INDEX tasks_slot ON tasks (item_id, round, slot) WHERE NOT gold;
-- One annotator never holds two slots of an item in a round (nor two tasks of a gold item), led by the annotator so
-- that the lease query's anti-join probes it per candidate and "everything this annotator has" is a range.
DROP INDEX tasks_one_slot_per_annotator;
CREATE UNIQUE INDEX tasks_one_slot_per_annotator ON tasks (annotator_id, item_id, round) WHERE annotator_id IS NOT NULL;

-- The lease queue: free regular slots by priority, then score, then FIFO. Re-ordering (a new priority or score) is
-- an UPDATE of the item's free slots (its index entries move), never a re-sort; leases walk this index.
DROP INDEX tasks_lease_queue;
CREATE INDEX tasks_queue ON tasks (project_id, priority DESC, score DESC, seq) WHERE state = 'unassigned' AND NOT gold;
-- An annotator's leases in a project, oldest first (LeaseNextTask returns them before leasing new ones; a pause
-- releases them).
DROP INDEX tasks_held;
CREATE INDEX tasks_held ON tasks (project_id, annotator_id, leased_at, seq) WHERE state = 'assigned';
-- Live and expired leases by expiry: the reaper (all projects) and the expired-lease sweep of a lease call.
CREATE INDEX tasks_lease_expiry ON tasks (lease_expires_at) WHERE state = 'assigned';

-- The latest active-learning score per item (item.scored may arrive before item.ingested: no foreign key).
CREATE TABLE item_scores (
    item_id        uuid PRIMARY KEY,
    project_id     uuid NOT NULL,
    score          double precision NOT NULL,
    model_version  text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One annotator in one project: pause, qualification verdict and the counters leasing decides on. The row lock
-- serialises that annotator's lease and submit calls and the pause (so a pause stops leasing at once).
CREATE TABLE annotators (
    project_id               uuid NOT NULL,
    annotator_id             text NOT NULL,
    paused                   boolean NOT NULL DEFAULT false,
    pause_reason             text NOT NULL DEFAULT '',
    paused_by                text NOT NULL DEFAULT '',
    verdict                  text NOT NULL DEFAULT 'none' CHECK (verdict IN ('none', 'passed', 'failed')),
    qualification_accuracy   double precision,
    served_total             bigint NOT NULL DEFAULT 0,   -- regular-phase leases (gold included)
    gold_served              bigint NOT NULL DEFAULT 0,   -- regular-phase gold leases
    submitted                bigint NOT NULL DEFAULT 0,   -- regular-phase submissions (the max_items cap)
    qualification_submitted  integer NOT NULL DEFAULT 0,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, annotator_id)
);
