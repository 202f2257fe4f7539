"""Scheduled source syncs: a source (``s3://bucket/prefix`` or ``file:///dir``) synced every ``interval_s`` seconds.

Every ingest replica runs :func:`run_scheduler`; a due schedule is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``
(the row stays locked, in that transaction, for the whole run), so two replicas never run the same schedule at once
and a replica that dies mid-run releases it (its transaction ends) for the next one. A run is the incremental sync
(:func:`sync_source`): only new or changed keys are imported, and content de-duplication makes a repeated import a
no-op. The run's outcome and the next run time (``interval_s`` after the run ends) commit with the claim.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import ObjectStore
from annotary_ingest.service_layer.importing import ImportLimits, project_or_invalid
from annotary_ingest.service_layer.sources import list_source
from annotary_ingest.service_layer.sync import sync_source

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 30 * 24 * 3600


@dataclass(frozen=True)
class SyncSchedule:
    project_id: str
    uri: str
    interval_s: int
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str
    last_error: str
    last_keys_synced: int
    last_created: int
    runs: int

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> SyncSchedule:
        return cls(str(row["project_id"]), row["source_uri"], row["interval_s"], row["next_run_at"],
                   row["last_run_at"], row["last_status"], row["last_error"], row["last_keys_synced"],
                   row["last_created"], row["runs"])


def _source(uri: str) -> str:
    if not uri:
        raise InvalidArgument("uri: required (s3://bucket/prefix or file:///folder)")
    return uri.rstrip("/")


async def set_schedule(pool: asyncpg.Pool, store: ObjectStore, project_id: str, uri: str,
                       interval_s: int) -> SyncSchedule:
    """Create or change a source's schedule; the first run is due at once. The source is listed first, so a URI
    that is not a readable source (or outside the import roots) is refused and nothing is stored."""
    project = project_or_invalid(project_id)
    source = _source(uri)
    if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise InvalidArgument(f"interval_s: must be {MIN_INTERVAL_S}..{MAX_INTERVAL_S} seconds, got {interval_s}")
    await list_source(store, uri)  # InvalidArgument / NotFound naming what is wrong
    row = await pool.fetchrow(
        """INSERT INTO sync_schedules (project_id, source_uri, interval_s) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, source_uri) DO UPDATE
           SET interval_s = EXCLUDED.interval_s,
               next_run_at = least(sync_schedules.next_run_at,
                                   coalesce(sync_schedules.last_run_at, now()) + make_interval(secs => $3))
           RETURNING *""",
        project, source, interval_s)
    assert row is not None
    return SyncSchedule.from_row(row)


async def clear_schedule(pool: asyncpg.Pool, project_id: str, uri: str) -> SyncSchedule:
    """Stop a source's schedule (a run in progress finishes); NOT_FOUND when it has none."""
    project = project_or_invalid(project_id)
    row = await pool.fetchrow("DELETE FROM sync_schedules WHERE project_id = $1 AND source_uri = $2 RETURNING *",
                              project, _source(uri))
    if row is None:
        raise NotFound(f"uri: {uri} has no sync schedule in project {project_id}")
    return SyncSchedule.from_row(row)


async def list_schedules(pool: asyncpg.Pool, project_id: str) -> list[SyncSchedule]:
    rows = await pool.fetch("SELECT * FROM sync_schedules WHERE project_id = $1 ORDER BY source_uri",
                            project_or_invalid(project_id))
    return [SyncSchedule.from_row(row) for row in rows]


async def run_due(pool: asyncpg.Pool, store: ObjectStore, limits: ImportLimits = ImportLimits()) -> int:
    """Run the schedules that are due and not being run by another replica, one after the other; how many ran."""
    ran = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT project_id, source_uri, interval_s FROM sync_schedules WHERE next_run_at <= now()
                   ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED""")
            if row is None:
                return ran
            status, error, keys, created = "ok", "", 0, 0
            try:
                result = await sync_source(pool, store, str(row["project_id"]), row["source_uri"], limits)
                keys, created = result.keys_synced, result.created
                if result.errors:
                    status = "failed"
                    index, message = result.errors[0]
                    error = f"{len(result.errors)} item(s) refused; first: [{index}] {message}"
            except Exception as exc:  # recorded on the schedule; the next run is still scheduled
                status, error = "failed", f"{type(exc).__name__}: {exc}"
            if status == "failed":
                log.warning("scheduled sync failed", extra={"project_id": str(row["project_id"]),
                                                            "uri": row["source_uri"], "error": error[:500]})
            await conn.execute(
                """UPDATE sync_schedules SET last_run_at = now(), next_run_at = clock_timestamp()
                       + make_interval(secs => interval_s), last_status = $3, last_error = $4, last_keys_synced = $5,
                       last_created = $6, runs = runs + 1
                   WHERE project_id = $1 AND source_uri = $2""",
                row["project_id"], row["source_uri"], status, error[:2000], keys, created)
            ran += 1


async def run_scheduler(pool: asyncpg.Pool, store: ObjectStore, limits: ImportLimits, poll_s: float) -> None:
    """Run due schedules, then look again every ``poll_s`` seconds (a background task of the service)."""
    while True:
        try:
            await run_due(pool, store, limits)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("sync scheduler pass failed", extra={"error": repr(exc)})
        await asyncio.sleep(poll_s)
