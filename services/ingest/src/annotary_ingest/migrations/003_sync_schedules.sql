-- Scheduled source syncs: a source synced every interval_s seconds by whichever ingest replica locks its row first
-- (SELECT ... FOR UPDATE SKIP LOCKED over the due index), with the incremental sync (source_objects).
CREATE TABLE sync_schedules (
    project_id        uuid NOT NULL,
    source_uri        text NOT NULL,
    interval_s        integer NOT NULL CHECK (interval_s > 0),
    next_run_at       timestamptz NOT NULL DEFAULT now(),
    last_run_at       timestamptz,
    last_status       text NOT NULL DEFAULT '' CHECK (last_status IN ('', 'ok', 'failed')),
    last_error        text NOT NULL DEFAULT '',
    last_keys_synced  integer NOT NULL DEFAULT 0,
    last_created      integer NOT NULL DEFAULT 0,
    runs              integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, source_uri)
);
CREATE INDEX sync_schedules_due ON sync_schedules (next_run_at);
