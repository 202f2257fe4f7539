"""Users and API tokens. Tokens are random; only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from annotary_annotation_api.domain.roles import Role


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    username: str
    role: Role


class UsernameTaken(Exception):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def user_for_token(conn: asyncpg.Connection, token: str) -> User | None:
    row = await conn.fetchrow("SELECT id, username, role FROM users WHERE token_hash = $1", hash_token(token))
    return User(row["id"], row["username"], Role(row["role"])) if row else None


async def create_user(
    conn: asyncpg.Connection, username: str, role: Role, token: str | None = None
) -> tuple[User, str]:
    token = token or new_token()
    user_id = uuid.uuid4()
    try:
        await conn.execute(
            "INSERT INTO users (id, username, role, token_hash) VALUES ($1, $2, $3, $4)",
            user_id,
            username,
            role.value,
            hash_token(token),
        )
    except asyncpg.UniqueViolationError as exc:
        raise UsernameTaken(username) from exc
    return User(user_id, username, role), token


async def ensure_admin(conn: asyncpg.Connection, token: str) -> None:
    """The admin user's token is ANNOTARY_ADMIN_TOKEN: create the admin or rotate its token."""
    await conn.execute(
        """INSERT INTO users (id, username, role, token_hash) VALUES ($1, 'admin', 'admin', $2)
           ON CONFLICT (username) DO UPDATE SET token_hash = EXCLUDED.token_hash, role = 'admin'""",
        uuid.uuid4(),
        hash_token(token),
    )


async def usernames(conn: asyncpg.Connection, ids: list[str]) -> dict[str, str]:
    valid = []
    for raw in ids:
        try:
            valid.append(uuid.UUID(raw))
        except ValueError:
            continue
    rows = await conn.fetch("SELECT id, username FROM users WHERE id = ANY($1::uuid[])", valid)
    return {str(r["id"]): r["username"] for r in rows}
