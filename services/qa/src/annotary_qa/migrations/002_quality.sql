-- Issue 4: quality policy, decisions with metrics and review outcomes, submissions, gold scores,
-- choice ratings (kappa/alpha, Dawid-Skene history), pair agreement.

ALTER TABLE projects
    ADD COLUMN gold_min_accuracy          double precision NOT NULL DEFAULT 0.85
        CHECK (gold_min_accuracy >= 0 AND gold_min_accuracy <= 1),
    ADD COLUMN qualification_items        integer NOT NULL DEFAULT 0 CHECK (qualification_items >= 0),
    ADD COLUMN qualification_min_accuracy double precision NOT NULL DEFAULT 0.85
        CHECK (qualification_min_accuracy >= 0 AND qualification_min_accuracy <= 1),
    ADD COLUMN overlap                    integer NOT NULL DEFAULT 0 CHECK (overlap >= 0);

ALTER TABLE decisions DROP CONSTRAINT decisions_outcome_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_outcome_check
    CHECK (outcome IN ('accepted', 'review_required', 'rejected'));
ALTER TABLE decisions
    ADD COLUMN agreement_metric text NOT NULL DEFAULT 'exact',
    ADD COLUMN metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,  -- per-item figures, keyed by metric name
    ADD COLUMN task_submitted   bytea,        -- the TaskSubmitted payload (item snapshot, submissions)
    ADD COLUMN decided_by       text,         -- 'consensus' or the reviewer's id; NULL while in review
    ADD COLUMN feedback         text,         -- a reviewer's rejection feedback
    ADD COLUMN reviewed_at      timestamptz;
CREATE INDEX decisions_by_project ON decisions (project_id, decided_at);

-- Every submission qa has seen: regular ones (with their decision), gold and qualification ones.
CREATE TABLE submissions (
    item_id        uuid NOT NULL,
    round          integer NOT NULL,
    annotator_id   text NOT NULL,
    task_id        text NOT NULL,
    project_id     text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('regular', 'gold', 'qualification')),
    valid          boolean NOT NULL,
    result_json    jsonb,                     -- NULL when it was not even JSON
    lead_time_ms   bigint NOT NULL DEFAULT 0,
    submitted_at   timestamptz NOT NULL,
    schema_version integer NOT NULL DEFAULT 0,
    score          double precision,          -- gold/qualification: vs gold; regular: vs the accepted result
    outcome        text CHECK (outcome IN ('accepted', 'rejected')),  -- regular: the round's final outcome
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round, annotator_id, task_id)
);
CREATE INDEX submissions_by_annotator ON submissions (project_id, annotator_id);

-- Each valid regular submission's answer to each choice: the raw data of kappa/alpha and Dawid-Skene.
CREATE TABLE choice_ratings (
    item_id      uuid NOT NULL,
    round        integer NOT NULL,
    annotator_id text NOT NULL,
    choice_name  text NOT NULL,
    project_id   text NOT NULL,
    value        text NOT NULL,              -- the option, or a JSON list for a multiple choice
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, round, annotator_id, choice_name)
);
CREATE INDEX choice_ratings_by_project ON choice_ratings (project_id, choice_name, recorded_at);

-- Agreement of each annotator pair on each decided item-round (the item's agreement metric).
CREATE TABLE pair_agreement (
    item_id     uuid NOT NULL,
    round       integer NOT NULL,
    annotator_a text NOT NULL,
    annotator_b text NOT NULL,
    project_id  text NOT NULL,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (item_id, round, annotator_a, annotator_b)
);
CREATE INDEX pair_agreement_by_pair ON pair_agreement (project_id, annotator_a, annotator_b);

-- Gold and qualification tallies and the pause latch of each annotator in a project.
CREATE TABLE annotators (
    project_id    text NOT NULL,
    annotator_id  text NOT NULL,
    gold_scored   integer NOT NULL DEFAULT 0,
    gold_sum      double precision NOT NULL DEFAULT 0,
    window_scored integer NOT NULL DEFAULT 0,    -- gold scored since the last reinstatement
    window_sum    double precision NOT NULL DEFAULT 0,
    paused        boolean NOT NULL DEFAULT false,
    pause_reason  text NOT NULL DEFAULT '',
    paused_at     timestamptz,
    qual_scored   integer NOT NULL DEFAULT 0,
    qual_sum      double precision NOT NULL DEFAULT 0,
    qualified     boolean,                       -- the verdict once published, NULL before
    PRIMARY KEY (project_id, annotator_id)
);
