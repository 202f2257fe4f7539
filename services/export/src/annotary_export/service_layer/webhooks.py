"""Webhooks: subscriptions per project and event type, HMAC-SHA256-signed deliveries, retries with backoff and a
delivery log.

An event a subscription matches becomes a ``webhook_deliveries`` row in the same transaction as the consumer's inbox
record (so it is fanned out exactly once); the deliverer sends due deliveries (``FOR UPDATE SKIP LOCKED``, so
replicas share the work), logs every attempt in ``webhook_attempts`` and reschedules failures with exponential
backoff until ``max_attempts``. Headers: ``X-Annotary-Signature: sha256=<hex HMAC-SHA256 of the body with the
subscription's secret>``, ``X-Annotary-Event``, ``X-Annotary-Delivery``, ``X-Annotary-Timestamp``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import asyncpg
import httpx

from annotary_common import topics
from annotary_common.grpc_util import InvalidArgument, NotFound

log = logging.getLogger(__name__)

EXPORT_FAILED = "export.failed"  # a webhook event only (the bus carries export.completed with status failed)
EVENT_TYPES = (topics.ANNOTATION_ACCEPTED, topics.EXPORT_COMPLETED, EXPORT_FAILED, topics.ANNOTATION_REJECTED,
               topics.REVIEW_REQUIRED, topics.MODEL_TRAINED, topics.ANNOTATOR_PAUSED)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before attempt ``attempt + 1`` (attempt counts from 1): base, 2 base, 4 base, ... capped."""
    return float(min(max_s, base_s * (2 ** max(0, attempt - 1))))


def _uuid(name: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{name}: {value!r} is not a UUID") from None


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    project_id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    secret: str = ""

    @classmethod
    def from_row(cls, row: asyncpg.Record, with_secret: bool = False) -> Webhook:
        return cls(str(row["webhook_id"]), str(row["project_id"]), row["url"], list(row["event_types"]),
                   row["active"], row["created_at"], row["secret"] if with_secret else "")


async def create_webhook(pool: asyncpg.Pool, project_id: str, url: str, event_types: list[str],
                         secret: str = "") -> Webhook:
    project = _uuid("project_id", project_id)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidArgument(f"url: {url!r} is not an http(s) URL")
    types = list(dict.fromkeys(event_types)) or [topics.ANNOTATION_ACCEPTED]
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise InvalidArgument(f"event_types: {unknown[0]!r} is not supported (supported: {', '.join(EVENT_TYPES)})")
    row = await pool.fetchrow(
        """INSERT INTO webhooks (webhook_id, project_id, url, secret, event_types) VALUES ($1, $2, $3, $4, $5)
           RETURNING *""",
        uuid.uuid4(), project, url, secret or secrets.token_urlsafe(32), types,
    )
    assert row is not None
    return Webhook.from_row(row, with_secret=True)


async def list_webhooks(pool: asyncpg.Pool, project_id: str) -> list[Webhook]:
    rows = await pool.fetch("SELECT * FROM webhooks WHERE project_id = $1 AND active ORDER BY created_at",
                            _uuid("project_id", project_id))
    return [Webhook.from_row(row) for row in rows]


async def delete_webhook(pool: asyncpg.Pool, webhook_id: str) -> None:
    done = await pool.fetchval("UPDATE webhooks SET active = false WHERE webhook_id = $1 AND active RETURNING true",
                               _uuid("webhook_id", webhook_id))
    if not done:
        raise NotFound(f"webhook_id: webhook {webhook_id} not found")


async def list_deliveries(pool: asyncpg.Pool, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
    hook = _uuid("webhook_id", webhook_id)
    if not await pool.fetchval("SELECT true FROM webhooks WHERE webhook_id = $1", hook):
        raise NotFound(f"webhook_id: webhook {webhook_id} not found")
    rows = await pool.fetch(
        """SELECT d.*, coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
                      'error', a.error, 'duration_ms', a.duration_ms, 'at', a.at) ORDER BY a.attempt)
                      FROM webhook_attempts a WHERE a.delivery_id = d.delivery_id), '[]') AS log
           FROM webhook_deliveries d WHERE webhook_id = $1 ORDER BY created_at DESC LIMIT $2""",
        hook, min(max(limit, 1), 1000),
    )
    return [{"delivery_id": str(r["delivery_id"]), "event_id": str(r["event_id"]), "event_type": r["event_type"],
             "status": r["status"], "attempts": r["attempts"], "last_status_code": r["last_status_code"],
             "last_error": r["last_error"], "created_at": r["created_at"].isoformat(),
             "delivered_at": r["delivered_at"].isoformat() if r["delivered_at"] else None,
             "log": json.loads(r["log"]) if isinstance(r["log"], str) else r["log"]} for r in rows]


async def fan_out(conn: asyncpg.Connection, event_type: str, event_id: str, project_id: uuid.UUID,
                  data: dict[str, Any]) -> int:
    """Queue one delivery per active subscription of the project to this event type (inside the caller's
    transaction); returns how many."""
    hooks = await conn.fetch(
        "SELECT webhook_id FROM webhooks WHERE project_id = $1 AND active AND $2 = ANY(event_types)",
        project_id, event_type,
    )
    if not hooks:
        return 0
    eid = uuid.UUID(event_id) if event_id else uuid.uuid4()
    body = json.dumps({"event_id": str(eid), "type": event_type, "project_id": str(project_id), "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()
    await conn.executemany(
        """INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_id, event_type, body)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (webhook_id, event_id) DO NOTHING""",
        [(uuid.uuid4(), h["webhook_id"], eid, event_type, body) for h in hooks],
    )
    await conn.execute("SELECT pg_notify(current_schema() || '_webhooks', '')")
    return len(hooks)


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    max_attempts: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    batch: int = 20


async def deliver_due(pool: asyncpg.Pool, client: httpx.AsyncClient, policy: DeliveryPolicy) -> int:
    """Attempt every due delivery once; returns how many were attempted."""
    attempted = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT d.delivery_id, d.event_id, d.event_type, d.body, d.attempts, w.url, w.secret
               FROM webhook_deliveries d JOIN webhooks w USING (webhook_id)
               WHERE d.status = 'pending' AND d.next_attempt_at <= now()
               ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED""",
            policy.batch,
        )
        for row in rows:
            attempted += 1
            attempt = row["attempts"] + 1
            body: bytes = row["body"]
            headers = {"content-type": "application/json", "user-agent": "annotary-webhooks/1",
                       "x-annotary-event": row["event_type"], "x-annotary-delivery": str(row["delivery_id"]),
                       "x-annotary-timestamp": str(int(time.time())), "x-annotary-signature": sign(row["secret"], body)}
            started = time.monotonic()
            code: int | None = None
            error = ""
            try:
                reply = await client.post(row["url"], content=body, headers=headers, timeout=policy.timeout_s)
                code = reply.status_code
                if not 200 <= code < 300:
                    error = f"HTTP {code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            duration = int((time.monotonic() - started) * 1000)
            await conn.execute(
                """INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                row["delivery_id"], attempt, code, error, duration,
            )
            if not error:
                status, delay = "delivered", 0.0
            elif attempt >= policy.max_attempts:
                status, delay = "failed", 0.0
            else:
                status, delay = "pending", backoff_s(attempt, policy.backoff_base_s, policy.backoff_max_s)
            await conn.execute(
                """UPDATE webhook_deliveries SET status = $2, attempts = $3, last_status_code = $4, last_error = $5,
                          next_attempt_at = now() + make_interval(secs => $6),
                          delivered_at = CASE WHEN $2 = 'delivered' THEN now() END
                   WHERE delivery_id = $1""",
                row["delivery_id"], status, attempt, code, error, delay,
            )
    return attempted


async def run_deliverer(pool: asyncpg.Pool, policy: DeliveryPolicy, poll_s: float = 0.5) -> None:
    """Deliver forever: after a batch, again at once; when idle, every ``poll_s``."""
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if await deliver_due(pool, client, policy):
                    continue
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("webhook delivery pass failed", extra={"error": repr(exc)})
            await asyncio.sleep(poll_s)
