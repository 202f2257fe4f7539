-- Provenance of accepted annotations, a change counter for incremental exports, and export ordering.
CREATE SEQUENCE accepted_revision;
ALTER TABLE accepted
    ADD COLUMN external_id text NOT NULL DEFAULT '',
    ADD COLUMN schema_version integer NOT NULL DEFAULT 0,
    ADD COLUMN prelabel_model_versions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN agreement_metric text NOT NULL DEFAULT '',
    ADD COLUMN decided_by text NOT NULL DEFAULT '',
    ADD COLUMN revision bigint NOT NULL DEFAULT nextval('accepted_revision');
CREATE INDEX accepted_export_order ON accepted (project_id, external_id, item_id);
CREATE INDEX accepted_by_revision ON accepted (project_id, revision);

-- Dataset versions: every export is an immutable snapshot with a manifest; an incremental one holds only what
-- changed (revision > its base's watermark).
ALTER TABLE exports
    ADD COLUMN version integer NOT NULL DEFAULT 0,
    ADD COLUMN base_export_id uuid,          -- incremental: changes since this export
    ADD COLUMN parent_export_id uuid,        -- the snapshot this one differs from (the previous version)
    ADD COLUMN revision_watermark bigint NOT NULL DEFAULT 0,
    ADD COLUMN items_total integer NOT NULL DEFAULT 0,
    ADD COLUMN items_done integer NOT NULL DEFAULT 0,
    ADD COLUMN manifest_key text NOT NULL DEFAULT '',
    ADD COLUMN byte_size bigint NOT NULL DEFAULT 0;
CREATE INDEX exports_by_project ON exports (project_id, version);

-- Webhooks: subscriptions per project and event type; one delivery per (subscription, event); every attempt logged.
CREATE TABLE webhooks (
    webhook_id   uuid PRIMARY KEY,
    project_id   uuid NOT NULL,
    url          text NOT NULL,
    secret       text NOT NULL,
    event_types  text[] NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_by_project ON webhooks (project_id) WHERE active;

CREATE TABLE webhook_deliveries (
    delivery_id      uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    body             bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    status_code  integer,
    error        text NOT NULL DEFAULT '',
    duration_ms  integer NOT NULL DEFAULT 0,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt)
);
