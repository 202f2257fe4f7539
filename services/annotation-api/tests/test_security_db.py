"""Tokens, the audit log and signed links on the real Postgres; the rate limiter on an in-process ASGI app."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from annotary_annotation_api.domain.roles import Role
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.entrypoints.http import Deps, create_app
from annotary_annotation_api.entrypoints.ratelimit import RateLimit, TokenBuckets
from annotary_annotation_api.entrypoints.security import sign_link, verify_link
from annotary_annotation_api.service_layer import audit, users
from annotary_common.db import create_pool, migrate
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.testing import fresh_database, migrated_pool

SCHEMA = "annotation_api"
PACKAGE = "annotary_annotation_api"


@pytest.fixture()
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(SCHEMA, PACKAGE) as p:
        yield p


async def test_migration_moves_tokens_and_hashes_plaintext_ones() -> None:
    """A database from before migration 003 (tokens on users; one stored in the clear by an older build)."""
    migrations = resources.files(PACKAGE).joinpath("migrations")
    async with fresh_database("annotary_test_tokmig") as dsn:
        pool = await create_pool(dsn, SCHEMA, max_size=2)
        try:
            async with pool.acquire() as conn:
                await conn.execute(f"CREATE SCHEMA {SCHEMA}")
                await conn.execute(f"SET search_path TO {SCHEMA}, public")
                await conn.execute("CREATE TABLE schema_migrations"
                                   " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
                for name in ("001_init.sql", "002_workspace.sql"):
                    await conn.execute(migrations.joinpath(name).read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                hashed_token, plain_token = "hashed-token-" + uuid.uuid4().hex, "plain-token-" + uuid.uuid4().hex
                await conn.execute(
                    "INSERT INTO users (id, username, role, token_hash) VALUES ($1, 'old', 'manager', $2),"
                    " ($3, 'legacy', 'annotator', $4)",
                    uuid.uuid4(), hashlib.sha256(hashed_token.encode()).hexdigest(), uuid.uuid4(), plain_token,
                )
            applied = await migrate(pool, SCHEMA, PACKAGE)
            assert "003_security.sql" in applied
            async with pool.acquire() as conn:
                stored = {r["token_hash"] for r in await conn.fetch("SELECT token_hash FROM api_tokens")}
                assert plain_token not in stored
                assert stored == {hashlib.sha256(t.encode()).hexdigest() for t in (hashed_token, plain_token)}
                columns = {r["column_name"] for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name"
                    " = 'users'", SCHEMA)}
                assert "token_hash" not in columns
                for token, name in ((hashed_token, "old"), (plain_token, "legacy")):
                    user = await users.user_for_token(conn, token)
                    assert user is not None and user.username == name
        finally:
            await pool.close()


async def test_tokens_hashed_listed_without_secret_revocable_and_expiring(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        admin, _ = await users.create_user(conn, "root", Role.ADMIN)
        user, first = await users.create_user(conn, "ann", Role.ANNOTATOR, actor=admin)
        assert first.startswith("ant_") and len(first) > 40
        view, second = await users.create_token(conn, user.id, "ci", None, admin)
        stored = [r["token_hash"] for r in await conn.fetch("SELECT token_hash FROM api_tokens")]
        assert first not in stored and second not in stored and users.hash_token(second) in stored
        listed = await users.list_tokens(conn, user.id)
        assert [t["name"] for t in listed] == ["initial", "ci"]
        assert all("token" not in t and "token_hash" not in t for t in listed)
        assert all(second[:12] not in str(t) or t["prefix"] == second[:8] for t in listed)
        assert (await users.user_for_token(conn, second)) is not None
        revoked = await users.revoke_token(conn, uuid.UUID(view["id"]), admin)
        assert revoked["revoked_at"] and not revoked["active"]
        assert await users.user_for_token(conn, second) is None
        assert (await users.user_for_token(conn, first)) is not None  # the other token is untouched
        from datetime import UTC, datetime, timedelta

        _, token = await users.create_token(conn, user.id, "short", datetime.now(UTC) + timedelta(seconds=4), admin)
        assert await users.user_for_token(conn, token) is not None
        await conn.execute("SELECT pg_sleep(4.1)")
        assert await users.user_for_token(conn, token) is None
        actions = [(e["entity"], e["action"]) for e in await audit.entries(conn, entity="token", entity_id=None)]
        assert actions.count(("token", "create")) == 4 and ("token", "revoke") in actions


async def test_admin_token_from_config(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await users.ensure_admin(conn, "config-token-one-" + "x" * 10)
        await users.ensure_admin(conn, "config-token-one-" + "x" * 10)  # restart: nothing changes
        one = await users.user_for_token(conn, "config-token-one-" + "x" * 10)
        assert one is not None and one.role is Role.ADMIN and one.username == "admin"
        await users.ensure_admin(conn, "config-token-two-" + "y" * 10)  # rotated in the config
        assert await users.user_for_token(conn, "config-token-one-" + "x" * 10) is None
        two = await users.user_for_token(conn, "config-token-two-" + "y" * 10)
        assert two is not None and two.id == one.id
        assert two.token_id is not None
        await users.revoke_token(conn, two.token_id, two)
        assert await users.user_for_token(conn, "config-token-two-" + "y" * 10) is None
        await users.ensure_admin(conn, "config-token-two-" + "y" * 10)  # the config still names it: active again
        assert await users.user_for_token(conn, "config-token-two-" + "y" * 10) is not None


async def test_audit_log_is_append_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await audit.record(conn, actor_id="u1", actor_name="ann", action="submit", entity="annotation",
                           entity_id="item-1", before=None, after={"result": [1]}, refs={"task_id": "t-1"})
        for statement in ("UPDATE audit_log SET actor_id = 'someone else'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)
        rows = await audit.entries(conn, entity="annotation", entity_id="item-1")
        assert len(rows) == 1 and rows[0]["actor"]["id"] == "u1" and rows[0]["after"] == {"result": [1]}
        assert (await audit.annotation_history(conn, "t-1"))[0]["entity_id"] == "item-1"  # by task id
        with pytest.raises(ValueError, match="unknown audit entity"):
            await audit.record(conn, actor_id="u1", actor_name=None, action="x", entity="nonsense", entity_id="1")


def test_signed_links() -> None:
    key = b"k" * 32
    token = sign_link(key, {"u": "local://exports/a.zip", "t": "application/zip", "n": "a.zip",
                            "exp": int(time.time()) + 60})
    assert verify_link(key, token)["u"] == "local://exports/a.zip"
    body, _, mac = token.partition(".")
    forged = sign_link(key, {"u": "local://media/other.png", "t": "image/png", "n": "", "exp": 9_999_999_999})
    for bad in (f"{forged.partition('.')[0]}.{mac}", f"{body}.{mac[:-2]}AA", body, sign_link(b"z" * 32, {"exp": 1})):
        with pytest.raises(ApiError, match="signature"):
            verify_link(key, bad)
    with pytest.raises(ApiError, match="expired"):
        verify_link(key, token, now=time.time() + 61)


async def test_signed_route_serves_until_expiry(pool: asyncpg.Pool, tmp_path: Path) -> None:
    settings = CommonSettings(data_dir=tmp_path)
    async with LocalObjectStore(settings) as store:
        await store.put("exports/x.jsonl", b'{"a": 1}\n')
        deps = Deps(pool=pool, clients=None, store=store, static_dir=tmp_path)  # type: ignore[arg-type]
        app = create_app(deps, 1 << 20)
        expires = int(time.time()) + 6
        live = sign_link(deps.signing_key, {"u": "local://exports/x.jsonl", "t": "application/jsonl",
                                            "n": "x.jsonl", "exp": expires})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            reply = await client.get(f"/api/v1/signed/{live}")
            assert reply.status_code == 200 and reply.content == b'{"a": 1}\n', reply.text
            assert 'filename="x.jsonl"' in reply.headers["content-disposition"]
            other_key = sign_link(b"q" * 32, {"u": "local://exports/x.jsonl", "t": "a", "n": "", "exp": 2 ** 40})
            reply = await client.get(f"/api/v1/signed/{other_key}")
            assert reply.status_code == 403 and "signature" in reply.json()["detail"]
            await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
            reply = await client.get(f"/api/v1/signed/{live}")
            assert reply.status_code == 403 and "expired" in reply.json()["detail"]


def test_token_buckets() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # keys are independent
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


async def test_rate_limit_answers_429_with_retry_after() -> None:
    app = FastAPI()

    @app.get("/api/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/v1/secret")
    async def secret() -> dict[str, bool]:
        from fastapi.responses import JSONResponse

        return JSONResponse({"detail": "invalid token"}, status_code=401)  # type: ignore[return-value]

    limited = RateLimit(app, per_s=1.0, burst=3.0, anon_per_s=0.5, anon_burst=2.0)
    transport = httpx.ASGITransport(app=limited, client=("10.0.0.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        auth = {"authorization": "Bearer token-a"}
        codes = [(await client.get("/api/v1/ping", headers=auth)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        reply = await client.get("/api/v1/ping", headers=auth)
        assert reply.status_code == 429 and int(reply.headers["retry-after"]) >= 1
        assert "rate limit exceeded for this token" in reply.json()["detail"]
        other = await client.get("/api/v1/ping", headers={"authorization": "Bearer token-b"})
        assert other.status_code == 200  # per token
        anon = [(await client.get("/api/v1/ping")).status_code for _ in range(3)]
        assert anon == [200, 200, 429]
        assert (await client.get("/healthz")).status_code == 404  # not limited (and not served by this app)
    # refused tokens drain the address's bucket: guessing tokens is throttled too
    limited = RateLimit(app, per_s=100.0, burst=100.0, anon_per_s=0.5, anon_burst=2.0)
    transport = httpx.ASGITransport(app=limited, client=("10.0.0.8", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        guesses = [(await client.get("/api/v1/secret", headers={"authorization": f"Bearer guess-{k}"})).status_code
                   for k in range(4)]
        assert guesses == [401, 401, 429, 429]
