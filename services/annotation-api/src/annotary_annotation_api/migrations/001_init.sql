CREATE TABLE users (
    id          uuid PRIMARY KEY,
    username    text NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'manager', 'reviewer', 'annotator')),
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    schema          jsonb NOT NULL,
    schema_version  int NOT NULL DEFAULT 1,
    policy          jsonb NOT NULL,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every schema change makes a new version; old annotations keep theirs.
CREATE TABLE schema_versions (
    project_id  uuid NOT NULL REFERENCES projects (id),
    version     int NOT NULL,
    schema      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, version)
);
