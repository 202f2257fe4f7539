"""Exports: create (queued), build in the background (running -> done | failed), read; resume unfinished ones.

A build holds a Postgres advisory lock on its export id for its whole run, so two processes never build the same
export; a process that dies leaves its exports 'running' and loses the lock, and the next sweep rebuilds them.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
from opentelemetry import trace

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.metrics import EXPORTS
from annotary_common.storage import ObjectStore
from annotary_common.telemetry import set_ids
from annotary_export.domain.exporters import ExportContext, Writer, Written, open_writer
from annotary_export.domain.formats import FormatUnsupported, check_format
from annotary_export.domain.manifest import ManifestWriter
from annotary_export.domain.model import AcceptedItem, SchemaInvalid, schema_choices, schema_labels
from annotary_export.service_layer import webhooks
from annotary_export.service_layer.accepted import ACCEPTED_COLUMNS, accepted_item

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

UNFINISHED = ("queued", "running")
PRODUCER = "export"


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
    version: int = 0
    base_export_id: str = ""
    parent_export_id: str = ""
    items_total: int = 0
    items_done: int = 0
    manifest_key: str = ""
    byte_size: int = 0

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ExportRecord:
        return cls(export_id=str(row["export_id"]), project_id=str(row["project_id"]), format=row["format"],
                   status=row["status"], item_count=row["item_count"], annotation_count=row["annotation_count"],
                   object_key=row["object_key"], file_name=row["file_name"], error=row["error"],
                   created_at=row["created_at"], finished_at=row["finished_at"], version=row["version"],
                   base_export_id=str(row["base_export_id"] or ""), parent_export_id=str(row["parent_export_id"] or ""),
                   items_total=row["items_total"], items_done=row["items_done"], manifest_key=row["manifest_key"],
                   byte_size=row["byte_size"])


def _uuid(name: str, value: str) -> uuid.UUID:
    if not value:
        raise InvalidArgument(f"{name}: required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{name}: {value!r} is not a UUID") from None


async def create_export(pool: asyncpg.Pool, project_id: str, fmt: str, schema_json: str,
                        project_name: str, since_export_id: str = "") -> ExportRecord:
    """Record a queued export (the project's next version) after checking the request; the caller starts its
    build. With ``since_export_id`` it is incremental: only what changed since that export."""
    project = _uuid("project_id", project_id)
    try:
        check_format(fmt)
        schema_labels(schema_json)
    except (FormatUnsupported, SchemaInvalid) as exc:
        raise InvalidArgument(str(exc)) from None
    base = _uuid("since_export_id", since_export_id) if since_export_id else None
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"annotary-export-v-{project}")
        if base is not None:
            base_row = await conn.fetchrow("SELECT project_id, status FROM exports WHERE export_id = $1", base)
            if base_row is None or base_row["project_id"] != project:
                raise InvalidArgument(f"since_export_id: no export {since_export_id} in project {project_id}")
            if base_row["status"] != "done":
                raise InvalidArgument(f"since_export_id: export {since_export_id} is {base_row['status']}, not done")
        parent = await conn.fetchval(
            "SELECT export_id FROM exports WHERE project_id = $1 ORDER BY version DESC LIMIT 1", project)
        row = await conn.fetchrow(
            """INSERT INTO exports (export_id, project_id, format, schema_json, project_name, version, base_export_id,
                                    parent_export_id)
               VALUES ($1, $2, $3, $4, $5,
                       (SELECT coalesce(max(version), 0) + 1 FROM exports WHERE project_id = $2), $6, $7)
               RETURNING *""",
            uuid.uuid4(), project, fmt, schema_json, project_name, base, parent,
        )
    assert row is not None
    return ExportRecord.from_row(row)


async def list_versions(pool: asyncpg.Pool, project_id: str) -> list[ExportRecord]:
    rows = await pool.fetch("SELECT * FROM exports WHERE project_id = $1 ORDER BY version DESC",
                            _uuid("project_id", project_id))
    return [ExportRecord.from_row(row) for row in rows]


async def get_export(pool: asyncpg.Pool, export_id: str) -> ExportRecord:
    row = await pool.fetchrow("SELECT * FROM exports WHERE export_id = $1", _uuid("export_id", export_id))
    if row is None:
        raise NotFound(f"export_id: export {export_id} not found")
    return ExportRecord.from_row(row)


async def unfinished_exports(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT export_id FROM exports WHERE status = ANY($1::text[]) ORDER BY created_at",
                            list(UNFINISHED))
    return [str(row["export_id"]) for row in rows]


BATCH_ROWS = 1000


async def _stream_build(conn: asyncpg.Connection, pool: asyncpg.Pool, export_id: uuid.UUID, row: asyncpg.Record,
                        folder: Path) -> tuple[Written, Path, Path, int]:
    """Write the export file and its manifest from a consistent snapshot, a batch of rows at a time (server-side
    cursor), updating the progress as it goes. Returns (written, file, manifest file, revision watermark)."""
    since = 0
    if row["base_export_id"] is not None:
        since = await conn.fetchval("SELECT revision_watermark FROM exports WHERE export_id = $1",
                                    row["base_export_id"]) or 0
    ctx = ExportContext(row["project_name"], schema_labels(row["schema_json"]), schema_choices(row["schema_json"]))
    path, manifest_path = folder / "export", folder / "manifest.json"
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        total, watermark = await conn.fetchrow(
            """SELECT count(*), coalesce(max(revision), $2) FROM accepted WHERE project_id = $1 AND revision > $2""",
            row["project_id"], since)
        await pool.execute("UPDATE exports SET items_total = $2, items_done = 0 WHERE export_id = $1", export_id, total)
        writer = await asyncio.to_thread(open_writer, row["format"], path, ctx)
        manifest = ManifestWriter(manifest_path, {
            "export_id": str(export_id), "project_id": str(row["project_id"]), "version": row["version"],
            "format": row["format"], "incremental": row["base_export_id"] is not None,
            "base_export_id": str(row["base_export_id"]) if row["base_export_id"] else None,
            "parent_export_id": str(row["parent_export_id"]) if row["parent_export_id"] else None,
            "since_revision": since, "revision_watermark": watermark, "schema_labels": ctx.labels,
        })
        cursor = await conn.cursor(
            f"""SELECT {ACCEPTED_COLUMNS} FROM accepted WHERE project_id = $1 AND revision > $2 AND revision <= $3
                ORDER BY external_id, item_id""", row["project_id"], since, watermark)
        done = 0
        writing: asyncio.Future[None] | None = None   # batch k is written while batch k+1 is fetched
        try:
            while rows := await cursor.fetch(BATCH_ROWS):
                items = [accepted_item(r) for r in rows]
                if writing is not None:
                    await writing
                    await pool.execute("UPDATE exports SET items_done = $2 WHERE export_id = $1", export_id, done)
                writing = asyncio.ensure_future(asyncio.to_thread(_write_batch, writer, manifest, items))
                done += len(items)
            if writing is not None:
                await writing
        finally:
            if writing is not None and not writing.done():
                await asyncio.wait([writing])
        await pool.execute("UPDATE exports SET items_done = $2 WHERE export_id = $1", export_id, done)
        written = await asyncio.to_thread(writer.close)
        await asyncio.to_thread(manifest.close, written)
    return written, path, manifest_path, watermark


def _write_batch(writer: Writer, manifest: ManifestWriter, items: list[AcceptedItem]) -> None:
    writer.write(items)
    manifest.write(items)


async def build_export(pool: asyncpg.Pool, store: ObjectStore, export_id: str, producer: str = PRODUCER) -> bool:
    """Build one export unless another process holds it or it is finished; True when this call built it."""
    lock_key = f"annotary-export-{export_id}"
    eid = uuid.UUID(export_id)
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", lock_key):
            return False
        try:
            row = await conn.fetchrow(
                """UPDATE exports SET status = 'running', error = '' WHERE export_id = $1 AND status = ANY($2::text[])
                   RETURNING project_id, format, schema_json, project_name, version, base_export_id,
                             parent_export_id""",
                eid, list(UNFINISHED),
            )
            if row is None:
                return False
            set_ids(project_id=row["project_id"])
            try:
                with tempfile.TemporaryDirectory(prefix="annotary-export-") as tmp:
                    written, path, manifest_path, watermark = await _stream_build(conn, pool, eid, row, Path(tmp))
                    prefix = f"exports/{row['project_id']}/{export_id}"
                    key, manifest_key = f"{prefix}/{written.file_name}", f"{prefix}/manifest.json"
                    size = path.stat().st_size
                    await store.put_file(key, path, written.content_type)
                    await store.put_file(manifest_key, manifest_path, "application/json")
            except asyncio.CancelledError:
                raise  # stays 'running': rebuilt by the next sweep or start
            except Exception as exc:
                log.exception("export failed", extra={"export_id": export_id})
                error = f"{type(exc).__name__}: {exc}"[:2000]
                async with conn.transaction():
                    await conn.execute(
                        "UPDATE exports SET status = 'failed', error = $2, finished_at = now() WHERE export_id = $1",
                        eid, error)
                    await _completed(conn, producer, eid, row, "failed", error=error)
                EXPORTS.labels(row["format"], "failed").inc()
                return True
            async with conn.transaction():
                await conn.execute(
                    """UPDATE exports SET status = 'done', item_count = $2, annotation_count = $3, object_key = $4,
                                          file_name = $5, finished_at = now(), manifest_key = $6,
                                          revision_watermark = $7, byte_size = $8
                       WHERE export_id = $1""",
                    eid, written.item_count, written.annotation_count, key, written.file_name, manifest_key,
                    watermark, size,
                )
                await _completed(conn, producer, eid, row, "done", written=written, key=key)
            EXPORTS.labels(row["format"], "succeeded").inc()
            log.info("export done", extra={"export_id": export_id, "items": written.item_count, "object_key": key})
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)


async def _completed(conn: asyncpg.Connection, producer: str, export_id: uuid.UUID, row: asyncpg.Record, status: str,
                     *, written: Written | None = None, key: str = "", error: str = "") -> None:
    """``export.completed`` through the outbox and to the project's webhooks, in the status update's transaction."""
    payload = events_pb2.ExportCompleted(
        export_id=str(export_id), project_id=str(row["project_id"]), format=row["format"], status=status,
        item_count=written.item_count if written else 0, annotation_count=written.annotation_count if written else 0,
        object_key=key, error=error,
    )
    event_id = await outbox.add_event(conn, topics.EXPORT_COMPLETED, str(row["project_id"]), payload, producer)
    data = {"export_id": str(export_id), "format": row["format"], "status": status, "version": row["version"],
            "item_count": payload.item_count, "annotation_count": payload.annotation_count, "object_key": key,
            "error": error}
    await webhooks.fan_out(conn, topics.EXPORT_COMPLETED, event_id, row["project_id"], data)
    if status == "failed":  # its own event id: a subscription to both gets both deliveries
        await webhooks.fan_out(conn, webhooks.EXPORT_FAILED, str(uuid.uuid5(uuid.UUID(event_id), "export.failed")),
                               row["project_id"], data)


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
                # A span of its own: the request that queued the build has answered by now (its trace continues).
                with _tracer.start_as_current_span("export build", attributes={"annotary.export_id": export_id}):
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
