"""Exports: create (queued), build in the background (running -> done | failed), read; resume unfinished ones.

A build holds a Postgres advisory lock on its export id for its whole run, so two processes never build the same
export; a process that dies leaves its exports 'running' and loses the lock, and the next sweep rebuilds them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import ObjectStore
from annotary_export.domain.formats import FormatUnsupported, build_file, check_format
from annotary_export.domain.model import SchemaInvalid, schema_labels
from annotary_export.service_layer.accepted import accepted_items

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    project_id: str
    format: str
    status: str
    item_count: int
    annotation_count: int
    object_key: str
    file_name: str
    error: str
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ExportRecord:
        return cls(export_id=str(row["export_id"]), project_id=str(row["project_id"]), format=row["format"],
                   status=row["status"], item_count=row["item_count"], annotation_count=row["annotation_count"],
                   object_key=row["object_key"], file_name=row["file_name"], error=row["error"],
                   created_at=row["created_at"], finished_at=row["finished_at"])


def _uuid(name: str, value: str) -> uuid.UUID:
    if not value:
        raise InvalidArgument(f"{name}: required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{name}: {value!r} is not a UUID") from None


async def create_export(pool: asyncpg.Pool, project_id: str, fmt: str, schema_json: str,
                        project_name: str) -> ExportRecord:
    """Record a queued export after checking the request; the caller starts its build."""
    project = _uuid("project_id", project_id)
    try:
        check_format(fmt)
        schema_labels(schema_json)
    except (FormatUnsupported, SchemaInvalid) as exc:
        raise InvalidArgument(str(exc)) from None
    row = await pool.fetchrow(
        """INSERT INTO exports (export_id, project_id, format, schema_json, project_name)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        uuid.uuid4(), project, fmt, schema_json, project_name,
    )
    assert row is not None
    return ExportRecord.from_row(row)


async def get_export(pool: asyncpg.Pool, export_id: str) -> ExportRecord:
    row = await pool.fetchrow("SELECT * FROM exports WHERE export_id = $1", _uuid("export_id", export_id))
    if row is None:
        raise NotFound(f"export_id: export {export_id} not found")
    return ExportRecord.from_row(row)


async def unfinished_exports(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT export_id FROM exports WHERE status = ANY($1::text[]) ORDER BY created_at",
                            list(UNFINISHED))
    return [str(row["export_id"]) for row in rows]


async def build_export(pool: asyncpg.Pool, store: ObjectStore, export_id: str) -> bool:
    """Build one export unless another process holds it or it is finished; True when this call built it."""
    lock_key = f"annotary-export-{export_id}"
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", lock_key):
            return False
        try:
            row = await conn.fetchrow(
                """UPDATE exports SET status = 'running', error = '' WHERE export_id = $1 AND status = ANY($2::text[])
                   RETURNING project_id, format, schema_json, project_name""",
                uuid.UUID(export_id), list(UNFINISHED),
            )
            if row is None:
                return False
            try:
                items = await accepted_items(conn, row["project_id"])
                built = await asyncio.to_thread(build_file, row["format"], items, schema_labels(row["schema_json"]),
                                                row["project_name"])
                key = f"exports/{row['project_id']}/{export_id}/{built.file_name}"
                await store.put(key, built.data, built.content_type)
            except asyncio.CancelledError:
                raise  # stays 'running': rebuilt by the next sweep or start
            except Exception as exc:
                log.exception("export failed", extra={"export_id": export_id})
                await conn.execute(
                    "UPDATE exports SET status = 'failed', error = $2, finished_at = now() WHERE export_id = $1",
                    uuid.UUID(export_id), f"{type(exc).__name__}: {exc}"[:2000],
                )
                return True
            await conn.execute(
                """UPDATE exports SET status = 'done', item_count = $2, annotation_count = $3, object_key = $4,
                                      file_name = $5, finished_at = now() WHERE export_id = $1""",
                uuid.UUID(export_id), built.item_count, built.annotation_count, key, built.file_name,
            )
            log.info("export done", extra={"export_id": export_id, "items": built.item_count, "object_key": key})
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)


class ExportRunner:
    """Runs builds as background tasks of this process, a few at a time."""

    def __init__(self, pool: asyncpg.Pool, store: ObjectStore, max_concurrent: int = 2) -> None:
        self._pool = pool
        self._store = store
        self._gate = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, export_id: str) -> None:
        if export_id in self._tasks:
            return
        task = asyncio.create_task(self._run(export_id), name=f"export-{export_id}")
        self._tasks[export_id] = task
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        export_id = task.get_name().removeprefix("export-")
        if self._tasks.get(export_id) is task:
            del self._tasks[export_id]

    async def _run(self, export_id: str) -> None:
        async with self._gate:
            try:
                await build_export(self._pool, self._store, export_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("export build crashed; a later sweep retries it", extra={"export_id": export_id})

    async def resume(self) -> int:
        """Start every unfinished export not already running here; returns how many were started."""
        started = 0
        for export_id in await unfinished_exports(self._pool):
            if export_id not in self._tasks:
                self.start(export_id)
                started += 1
        return started

    async def sweep(self, interval_s: float) -> None:
        """Resume unfinished exports now and then every ``interval_s`` (exports of processes that died)."""
        while True:
            try:
                started = await self.resume()
                if started:
                    log.info("unfinished exports resumed", extra={"count": started})
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("export sweep failed", extra={"error": repr(exc)})
            await asyncio.sleep(interval_s)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
