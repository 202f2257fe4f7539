"""The RBAC matrix: every route of the app (enumerated from the app itself, so a new route without a rule fails
here) against every role and an anonymous caller, on the real app with real users and tokens in Postgres.

Behind the gateway the gRPC services are not running: a request that passes access control gets whatever the
handler answers then (404 for unknown ids, 422 for a bad body, 503 for a missing service) but never 401, nor the
access table's 403. The stack-level twin is tests/integration/test_security_rbac.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts

from annotary_annotation_api.adapters.clients import Clients
from annotary_annotation_api.domain.access import RULES, allowed, rule_for
from annotary_annotation_api.domain.roles import Role
from annotary_annotation_api.entrypoints.access import enforce_access
from annotary_annotation_api.entrypoints.errors import install_error_handlers
from annotary_annotation_api.entrypoints.http import Deps, create_app
from annotary_annotation_api.service_layer import users
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.testing import migrated_pool

CALLERS: list[Role | None] = [None, Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER, Role.ADMIN]


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[Role, str]


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route of ``app``, included routers flattened; HEAD follows GET."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        for method in sorted(ctx.methods or ()):
            if method != "HEAD" and ctx.path:
                out.append((method, ctx.path))
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: "x/y" if m.group(2) else str(uuid.uuid4()), path)


@pytest.fixture()
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with migrated_pool("annotation_api", "annotary_annotation_api") as pool:
        tokens = {}
        async with pool.acquire() as conn:
            for role in Role:
                _, tokens[role] = await users.create_user(conn, f"{role.value}-{uuid.uuid4().hex[:6]}", role)
        # Nothing listens on these ports: calls that get past access control fail fast with UNAVAILABLE (503).
        settings = CommonSettings(data_dir=tmp_path, grpc_timeout_s=2.0, orchestrator_addr="127.0.0.1:9",
                                  qa_addr="127.0.0.1:9", ingest_addr="127.0.0.1:9", export_addr="127.0.0.1:9",
                                  preannotate_addr="127.0.0.1:9")
        clients = Clients.open(settings)
        async with LocalObjectStore(settings) as store:
            wrapped = create_app(Deps(pool=pool, clients=clients, store=store, static_dir=tmp_path), 1 << 20)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t") as client:
                yield World(wrapped.app, client, tokens)
        await clients.close()


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    from annotary_annotation_api.entrypoints.http import create_app as build

    app = build(Deps(pool=None, clients=None, store=None, static_dir=Path("/nonexistent")), 1).app  # type: ignore[arg-type]
    routes = app_routes(app)
    missing = [f"{m} {p}" for m, p in routes if rule_for(m, p) is None]
    assert not missing, f"routes without an access rule in domain/access.py: {missing}"
    stale = sorted(set(RULES) - {f"{m} {p}" for m, p in routes})
    assert not stale, f"access rules for routes that do not exist: {stale}"
    openapi = app.openapi()
    for path, ops in openapi["paths"].items():
        for method in ops:
            assert rule_for(method.upper(), path) is not None, f"{method.upper()} {path} (OpenAPI) has no rule"


async def test_rbac_matrix(world: World) -> None:
    failures = []
    for method, template in app_routes(world.app):
        rule = rule_for(method, template)
        assert rule is not None
        path = concrete(template)
        if template == "/api/v1/audit":
            path += "?entity=project"  # the whole log is an admin's; one entity is a manager's
        for caller in CALLERS:
            headers = {"authorization": f"Bearer {world.tokens[caller]}"} if caller else {}
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            reply = await world.client.request(method, path, headers=headers, **body)
            who = caller.value if caller else "anonymous"
            detail = _detail(reply)
            if allowed(rule, caller):
                if reply.status_code == 401 or (reply.status_code == 403 and "role or above" in detail):
                    failures.append(f"{method} {template} as {who}: allowed by the table, got {reply.status_code} "
                                    f"{detail}")
                if reply.status_code >= 500 and reply.status_code != 503:
                    failures.append(f"{method} {template} as {who}: {reply.status_code} {detail}")
            elif caller is None:
                if reply.status_code != 401 or "token" not in detail:
                    failures.append(f"{method} {template} anonymous: want 401 with a message, got "
                                    f"{reply.status_code} {detail}")
            else:
                assert rule.role is not None
                want = f"needs the {rule.role.value} role or above; you are {caller.value}"
                if reply.status_code != 403 or want not in detail:
                    failures.append(f"{method} {template} as {who}: want 403 '{want}', got {reply.status_code} "
                                    f"{detail}")
    assert not failures, "\n".join(failures)


def _detail(reply: httpx.Response) -> str:
    try:
        data = reply.json()
    except ValueError:
        return reply.text[:200]
    return str(data.get("detail", "")) if isinstance(data, dict) else ""


async def test_bad_revoked_and_expired_tokens_get_401(world: World) -> None:
    for header in ({}, {"authorization": "Bearer"}, {"authorization": "Basic abc"},
                   {"authorization": "Bearer not-a-token"}):
        reply = await world.client.get("/api/v1/me", headers=header)
        assert reply.status_code == 401 and reply.json()["detail"]
    pool = world.app.state.deps.pool
    async with pool.acquire() as conn:
        token = world.tokens[Role.ANNOTATOR]
        await conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
                           users.hash_token(token))
    reply = await world.client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert reply.status_code == 401 and "expired" in reply.json()["detail"]


async def test_a_route_without_a_rule_is_refused_to_everyone() -> None:
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(enforce_access)])

    @api.get("/not-in-the-table")
    async def unlisted() -> dict[str, str]:
        return {"leaked": "yes"}

    app.include_router(api)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        reply = await client.get("/api/v1/not-in-the-table")
    assert reply.status_code == 403
    assert "has no access rule" in reply.json()["detail"]
