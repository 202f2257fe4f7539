"""Users and API tokens.

A token is 256 random bits (``ant_`` + URL-safe base64); only its SHA-256 is stored (table ``api_tokens``), so
the token itself is shown once, when it is made. A user may hold several tokens, each with an optional expiry,
each revocable. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from annotary_annotation_api.domain.roles import Role
from annotary_annotation_api.service_layer import audit

TOKEN_PREFIX = "ant_"
CONFIG_TOKEN_NAME = "ANNOTARY_ADMIN_TOKEN"


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    role: Role
    token_id: uuid.UUID | None = None


class UsernameTaken(Exception):
    pass


class NotFound(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def token_view(row: asyncpg.Record) -> dict[str, Any]:
    """A token without its secret."""
    now = datetime.now(UTC)
    expired = row["expires_at"] is not None and row["expires_at"] <= now
    return {
        "id": str(row["id"]),
        "user_id": str(row["user_id"]),
        "name": row["name"],
        "prefix": row["prefix"],
        "created_at": _iso(row["created_at"]),
        "expires_at": _iso(row["expires_at"]),
        "revoked_at": _iso(row["revoked_at"]),
        "last_used_at": _iso(row["last_used_at"]),
        "active": row["revoked_at"] is None and not expired,
    }


def user_view(row: asyncpg.Record) -> dict[str, Any]:
    return {"id": str(row["id"]), "username": row["username"], "role": row["role"],
            "created_at": _iso(row["created_at"])}


async def user_for_token(conn: asyncpg.Connection, token: str) -> User | None:
    """The user behind an active (not revoked, not expired) token, else None."""
    digest = hash_token(token)
    row = await conn.fetchrow(
        """SELECT t.id AS token_id, t.token_hash, t.last_used_at, u.id, u.username, u.role
             FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())""",
        digest,
    )
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return None
    last = row["last_used_at"]
    if last is None or (datetime.now(UTC) - last).total_seconds() > 60:  # at most one write a minute per token
        await conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", row["token_id"])
    return User(row["id"], row["username"], Role(row["role"]), row["token_id"])


async def _insert_token(
    conn: asyncpg.Connection, user_id: uuid.UUID, token: str, name: str, expires_at: datetime | None
) -> asyncpg.Record:
    prefix = token[: len(TOKEN_PREFIX) + 4] if token.startswith(TOKEN_PREFIX) else ""
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        uuid.uuid4(),
        user_id,
        name,
        hash_token(token),
        prefix,
        expires_at,
    )
    return row


async def create_user(
    conn: asyncpg.Connection, username: str, role: Role, actor: User | None = None, token: str | None = None
) -> tuple[User, str]:
    token = token or new_token()
    user_id = uuid.uuid4()
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                "INSERT INTO users (id, username, role) VALUES ($1, $2, $3) RETURNING *", user_id, username, role.value
            )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(username) from exc
        token_row = await _insert_token(conn, user_id, token, "initial", None)
        who = (actor.id, actor.username) if actor else ("system", None)
        await audit.record(conn, actor_id=who[0], actor_name=who[1], action="create", entity="user",
                           entity_id=user_id, after=user_view(row))
        await audit.record(conn, actor_id=who[0], actor_name=who[1], action="create", entity="token",
                           entity_id=token_row["id"], after=token_view(token_row), refs={"user_id": str(user_id)})
    return User(user_id, username, role), token


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM users WHERE id = $1", user_id)
    return row


async def list_users(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [user_view(r) for r in await conn.fetch("SELECT * FROM users ORDER BY created_at, username")]


async def create_token(
    conn: asyncpg.Connection, user_id: uuid.UUID, name: str, expires_at: datetime | None, actor: User
) -> tuple[dict[str, Any], str]:
    """A new token for ``user_id``: its view and the token itself (shown this once)."""
    token = new_token()
    async with conn.transaction():
        if await get_user(conn, user_id) is None:
            raise NotFound(f"user {user_id} not found")
        row = await _insert_token(conn, user_id, token, name, expires_at)
        view = token_view(row)
        await audit.record(conn, actor_id=actor.id, actor_name=actor.username, action="create", entity="token",
                           entity_id=row["id"], after=view, refs={"user_id": str(user_id)})
    return view, token


async def list_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id", user_id)
    return [token_view(r) for r in rows]


async def token_owner(conn: asyncpg.Connection, token_id: uuid.UUID) -> uuid.UUID | None:
    owner: uuid.UUID | None = await conn.fetchval("SELECT user_id FROM api_tokens WHERE id = $1", token_id)
    return owner


async def revoke_token(conn: asyncpg.Connection, token_id: uuid.UUID, actor: User) -> dict[str, Any]:
    """Revoke a token (at once: the next request with it gets 401). Revoking a revoked token changes nothing."""
    async with conn.transaction():
        before = await conn.fetchrow("SELECT * FROM api_tokens WHERE id = $1 FOR UPDATE", token_id)
        if before is None:
            raise NotFound(f"token {token_id} not found")
        if before["revoked_at"] is not None:
            return token_view(before)
        row = await conn.fetchrow("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 RETURNING *", token_id)
        await audit.record(conn, actor_id=actor.id, actor_name=actor.username, action="revoke", entity="token",
                           entity_id=token_id, before=token_view(before), after=token_view(row),
                           refs={"user_id": str(row["user_id"])})
    return token_view(row)


async def ensure_admin(conn: asyncpg.Connection, token: str) -> None:
    """The admin user's token is ANNOTARY_ADMIN_TOKEN: create the admin, or make this the admin's configured token
    (an earlier configured token is revoked; this one is re-activated if it was revoked)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('annotary-ensure-admin'))")
        admin = await conn.fetchrow("SELECT * FROM users WHERE username = 'admin'")
        if admin is None:
            admin = await conn.fetchrow(
                "INSERT INTO users (id, username, role) VALUES ($1, 'admin', 'admin') RETURNING *", uuid.uuid4()
            )
            await audit.record(conn, actor_id="system", actor_name=None, action="create", entity="user",
                               entity_id=admin["id"], after=user_view(admin), refs={"source": CONFIG_TOKEN_NAME})
        elif admin["role"] != "admin":
            after = await conn.fetchrow("UPDATE users SET role = 'admin' WHERE id = $1 RETURNING *", admin["id"])
            await audit.record(conn, actor_id="system", actor_name=None, action="update", entity="user",
                               entity_id=admin["id"], before=user_view(admin), after=user_view(after),
                               refs={"source": CONFIG_TOKEN_NAME})
        digest = hash_token(token)
        current = await conn.fetchrow("SELECT * FROM api_tokens WHERE token_hash = $1", digest)
        if current is not None and current["user_id"] != admin["id"]:
            raise ValueError("ANNOTARY_ADMIN_TOKEN is the token of another user; choose a new one")
        stale = await conn.fetch(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND name = $2 AND token_hash <> $3"
            " AND revoked_at IS NULL RETURNING *",
            admin["id"], CONFIG_TOKEN_NAME, digest,
        )
        for row in stale:
            await audit.record(conn, actor_id="system", actor_name=None, action="revoke", entity="token",
                               entity_id=row["id"], after=token_view(row), refs={"source": CONFIG_TOKEN_NAME})
        if current is None:
            row = await _insert_token(conn, admin["id"], token, CONFIG_TOKEN_NAME, None)
            await audit.record(conn, actor_id="system", actor_name=None, action="create", entity="token",
                               entity_id=row["id"], after=token_view(row), refs={"source": CONFIG_TOKEN_NAME})
        elif current["revoked_at"] is not None or current["expires_at"] is not None:
            row = await conn.fetchrow(
                "UPDATE api_tokens SET revoked_at = NULL, expires_at = NULL WHERE id = $1 RETURNING *", current["id"]
            )
            await audit.record(conn, actor_id="system", actor_name=None, action="reactivate", entity="token",
                               entity_id=row["id"], before=token_view(current), after=token_view(row),
                               refs={"source": CONFIG_TOKEN_NAME})


async def usernames(conn: asyncpg.Connection, ids: list[str]) -> dict[str, str]:
    valid = []
    for raw in ids:
        try:
            valid.append(uuid.UUID(raw))
        except ValueError:
            continue
    rows = await conn.fetch("SELECT id, username FROM users WHERE id = ANY($1::uuid[])", valid)
    return {str(r["id"]): r["username"] for r in rows}
