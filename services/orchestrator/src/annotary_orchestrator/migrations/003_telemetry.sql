-- Issue 9: what the metrics and traces need, read in the same statements as before (no extra round trips).

-- The project's kind, "<modality>:<tool>+<tool>" from its label schema: the task_type label of the submission metrics.
ALTER TABLE projects ADD COLUMN task_type text NOT NULL DEFAULT '';

-- The W3C trace context of the item's ingestion (a JSON object of propagation headers): the task.submitted event of
-- the item's round continues that trace, so one trace follows the item from ingest to export.
ALTER TABLE items ADD COLUMN trace_context jsonb;
