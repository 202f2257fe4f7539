"""Scheduled source syncs on the real Postgres and a folder source: due runs import only new keys, two replicas
running at once never run the same schedule twice, failures are recorded and retried on the next run, bad input is
refused and stores nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import LocalObjectStore
from annotary_ingest.service_layer import schedules

PROJECT = str(uuid.uuid4())


async def make_due(pool: asyncpg.Pool) -> None:
    await pool.execute("UPDATE sync_schedules SET next_run_at = now() - interval '1 second'")


async def test_due_schedules_run_incrementally_and_once_across_replicas(
        pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path, make_png: Callable[..., bytes]) -> None:
    folder = import_root / "drop"
    folder.mkdir()
    (folder / "a.png").write_bytes(make_png(3, 3))
    uri = folder.as_uri()
    made = await schedules.set_schedule(pool, store, PROJECT, uri + "/", 3600)
    assert (made.uri, made.interval_s, made.runs, made.last_run_at) == (uri, 3600, 0, None)

    # Two replicas look at the same moment: the row lock (SKIP LOCKED) lets exactly one run it.
    ran = await asyncio.gather(schedules.run_due(pool, store), schedules.run_due(pool, store))
    assert sorted(ran) == [0, 1]
    (first,) = await schedules.list_schedules(pool, PROJECT)
    assert (first.runs, first.last_status, first.last_keys_synced, first.last_created) == (1, "ok", 1, 1)
    assert first.last_run_at is not None and (first.next_run_at - first.last_run_at).total_seconds() >= 3599
    assert await schedules.run_due(pool, store) == 0  # not due again for an hour

    (folder / "b.txt").write_text("a new key")
    await make_due(pool)
    assert await schedules.run_due(pool, store) == 1
    (second,) = await schedules.list_schedules(pool, PROJECT)
    assert (second.runs, second.last_keys_synced, second.last_created) == (2, 1, 1)  # only the new key
    await make_due(pool)
    assert await schedules.run_due(pool, store) == 1
    assert (await schedules.list_schedules(pool, PROJECT))[0].last_keys_synced == 0
    assert await pool.fetchval("SELECT count(*) FROM items") == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'item.ingested'") == 2  # never twice

    cleared = await schedules.clear_schedule(pool, PROJECT, uri)
    assert cleared.runs == 3 and await schedules.list_schedules(pool, PROJECT) == []
    with pytest.raises(NotFound, match="has no sync schedule"):
        await schedules.clear_schedule(pool, PROJECT, uri)


async def test_a_failing_run_is_recorded_and_the_schedule_goes_on(
        pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path) -> None:
    folder = import_root / "gone"
    folder.mkdir()
    await schedules.set_schedule(pool, store, PROJECT, folder.as_uri(), 5)
    folder.rmdir()
    assert await schedules.run_due(pool, store) == 1
    (failed,) = await schedules.list_schedules(pool, PROJECT)
    assert failed.last_status == "failed" and "not a folder" in failed.last_error and failed.runs == 1
    assert failed.next_run_at > failed.last_run_at  # type: ignore[operator]


async def test_bad_schedules_are_refused_and_store_nothing(pool: asyncpg.Pool, store: LocalObjectStore,
                                                           import_root: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"interval_s: must be 1\.\.2592000 seconds, got 0"):
        await schedules.set_schedule(pool, store, PROJECT, import_root.as_uri(), 0)
    with pytest.raises(InvalidArgument, match="uri"):
        await schedules.set_schedule(pool, store, PROJECT, "file:///etc", 60)
    with pytest.raises(InvalidArgument, match="project_id"):
        await schedules.set_schedule(pool, store, "nope", import_root.as_uri(), 60)
    assert await pool.fetchval("SELECT count(*) FROM sync_schedules") == 0
