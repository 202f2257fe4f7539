-- preannotate schema (search_path is the schema; names are unqualified).

-- One prediction per item and model version (imported ones arrive with item.ingested).
CREATE TABLE predictions (
    item_id       uuid NOT NULL,     -- the canonical item id (ingest)
    model_version text NOT NULL,
    project_id    text NOT NULL,
    score         double precision NOT NULL,
    result_json   jsonb NOT NULL,     -- a list of regions (DESIGN.md "Annotation result")
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, model_version)
);
