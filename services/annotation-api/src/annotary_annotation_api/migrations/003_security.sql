-- Issue 10: API tokens (several per user, stored hashed, revocable, optional expiry) and the append-only audit log.

-- Only a token's SHA-256 is stored; the token itself is shown once, when it is made.
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id),
    name          text NOT NULL DEFAULT '',
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    prefix        text NOT NULL DEFAULT '',       -- the token's first characters, to recognise it in a list
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

-- Every user's existing token moves to api_tokens. Tokens were stored as their SHA-256 already; a value that is not
-- a SHA-256 digest (a token stored in the clear by an older build) is hashed on the way.
INSERT INTO api_tokens (id, user_id, name, token_hash)
SELECT gen_random_uuid(), id, 'initial',
       CASE WHEN token_hash ~ '^[0-9a-f]{64}$' THEN token_hash
            ELSE encode(sha256(convert_to(token_hash, 'UTF8')), 'hex') END
  FROM users;
ALTER TABLE users DROP COLUMN token_hash;

-- Who changed what, when, from what to what: annotations, schemas, policies, projects, users, tokens, exports.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    text NOT NULL,                    -- a user id, or 'consensus' / 'system'
    actor_name  text,
    action      text NOT NULL,
    entity      text NOT NULL CHECK (entity IN ('annotation', 'project', 'schema', 'policy', 'user', 'token',
                                                 'export', 'webhook')),
    entity_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    refs        jsonb NOT NULL DEFAULT '{}'::jsonb,  -- project_id, task_id, round, event_id...
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_task ON audit_log ((refs ->> 'task_id'), id) WHERE entity = 'annotation';

-- Append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
