"""Service-layer tests on the real Postgres (a fresh database per test) and a local object store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pycocotools.coco import COCO

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import LocalObjectStore
from annotary_export.service_layer.accepted import on_annotation_accepted
from annotary_export.service_layer.exports import ExportRunner, build_export, create_export, get_export

PROJECT = str(uuid.uuid4())
SCHEMA = json.dumps({"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}], "tools": ["bbox"]})


def accepted(external_id: str, result: list[dict[str, Any]], *, round_: int = 1, project: str = PROJECT,
             annotators: tuple[str, ...] = ("u1", "u2")) -> Event:
    item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project}/{external_id}"))
    payload = events_pb2.AnnotationAccepted(
        item=events_pb2.ItemSnapshot(item_id=item_id, project_id=project, external_id=external_id, modality="image",
                                     media_uri=f"local://media/{external_id}", width=100, height=80,
                                     meta_json='{"src": "test"}', media_type="image/png"),
        result_json=json.dumps(result), agreement=0.75, round=round_,
        submissions=[events_pb2.Submission(task_id=str(uuid.uuid4()), annotator_id=a, result_json="[]")
                     for a in annotators],
    )
    return parse_event(build_envelope(topics.ANNOTATION_ACCEPTED, item_id, payload, "qa").SerializeToString())


async def handle(pool: asyncpg.Pool, event: Event) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await on_annotation_accepted(conn, event)


CAT = {"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40}
DOG = {"type": "bbox", "label": "dog", "x": 5, "y": 5, "w": 10, "h": 10}


async def test_accepted_upserts_and_later_rounds_win(pool: asyncpg.Pool) -> None:
    first, second = accepted("a.png", [CAT]), accepted("b.png", [DOG, CAT])
    await handle(pool, first)
    await handle(pool, second)
    await handle(pool, first)  # delivered twice: still one row each
    assert await pool.fetchval("SELECT count(*) FROM accepted") == 2
    row = await pool.fetchrow("SELECT * FROM accepted WHERE item_id = $1", uuid.UUID(first.envelope.key))
    assert (row["annotators"], row["round"], row["agreement"], json.loads(row["result_json"])) == (
        ["u1", "u2"], 1, 0.75, [CAT])

    await handle(pool, accepted("a.png", [DOG], round_=2, annotators=("u3",)))
    await handle(pool, accepted("a.png", [CAT, CAT], round_=1))  # an older round arriving late changes nothing
    row = await pool.fetchrow("SELECT * FROM accepted WHERE item_id = $1", uuid.UUID(first.envelope.key))
    assert (row["round"], row["annotators"], json.loads(row["result_json"])) == (2, ["u3"], [DOG])


async def test_undecodable_content_is_a_permanent_error(pool: asyncpg.Pool) -> None:
    with pytest.raises(PermanentError, match=r"item\.project_id: 'p1' is not a UUID"):
        await handle(pool, accepted("a.png", [], project="p1"))
    bad = accepted("a.png", [])
    assert isinstance(bad.payload, events_pb2.AnnotationAccepted)
    bad.payload.result_json = '{"type": "bbox"}'
    with pytest.raises(PermanentError, match="result_json: must be a list of regions"):
        await handle(pool, bad)


async def test_coco_export_is_built_and_loads(pool: asyncpg.Pool, store: LocalObjectStore, tmp_path: Path) -> None:
    await handle(pool, accepted("a.png", [CAT]))
    await handle(pool, accepted("b.png", [DOG, CAT]))
    await handle(pool, accepted("other.png", [DOG], project=str(uuid.uuid4())))  # another project: not exported
    runner = ExportRunner(pool, store)
    record = await create_export(pool, PROJECT, "coco", SCHEMA, "Pets")
    assert record.status == "queued"
    runner.start(record.export_id)
    await runner.wait_idle()

    done = await get_export(pool, record.export_id)
    assert (done.status, done.error, done.item_count, done.annotation_count) == ("done", "", 2, 3)
    assert done.object_key == f"exports/{PROJECT}/{record.export_id}/Pets.coco.json"
    assert done.file_name == "Pets.coco.json" and done.finished_at is not None
    path = tmp_path / "out.json"
    path.write_bytes(await store.get(done.object_key))
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog"]
    b_png = coco.getImgIds()[1]
    assert coco.loadImgs([b_png])[0]["file_name"] == "b.png"
    assert [a["bbox"] for a in coco.loadAnns(coco.getAnnIds(imgIds=[b_png]))] == [[5, 5, 10, 10], [1, 2, 30, 40]]
    assert not await build_export(pool, store, record.export_id)  # finished: never rebuilt

    jsonl = await create_export(pool, PROJECT, "jsonl", "", "")
    runner.start(jsonl.export_id)
    await runner.wait_idle()
    done = await get_export(pool, jsonl.export_id)
    lines = [json.loads(line) for line in (await store.get(done.object_key)).decode().splitlines()]
    assert [line["external_id"] for line in lines] == ["a.png", "b.png"]
    annotation = lines[0]["annotations"][0]
    assert (annotation["result"], annotation["agreement"], annotation["annotators"], annotation["round"]) == (
        [CAT], 0.75, ["u1", "u2"], 1)


async def test_requests_are_checked(pool: asyncpg.Pool) -> None:
    with pytest.raises(InvalidArgument, match="format: 'pdf' is not supported; supported formats: jsonl, coco, voc"):
        await create_export(pool, PROJECT, "pdf", "", "")
    with pytest.raises(InvalidArgument, match="project_id: required"):
        await create_export(pool, "", "coco", "", "")
    with pytest.raises(InvalidArgument, match="schema_json: must be a JSON object"):
        await create_export(pool, PROJECT, "coco", "[]", "")
    with pytest.raises(NotFound, match="not found"):
        await get_export(pool, str(uuid.uuid4()))
    with pytest.raises(InvalidArgument, match="export_id: 'x' is not a UUID"):
        await get_export(pool, "x")
    assert await pool.fetchval("SELECT count(*) FROM exports") == 0


async def test_unfinished_exports_are_resumed(pool: asyncpg.Pool, store: LocalObjectStore) -> None:
    await handle(pool, accepted("a.png", [CAT]))
    left = [await create_export(pool, PROJECT, "jsonl", "", "p") for _ in range(2)]
    await pool.execute("UPDATE exports SET status = 'running' WHERE export_id = $1", uuid.UUID(left[0].export_id))
    runner = ExportRunner(pool, store)
    assert await runner.resume() == 2
    await runner.wait_idle()
    assert [(await get_export(pool, r.export_id)).status for r in left] == ["done", "done"]
    assert await runner.resume() == 0


async def test_an_export_held_by_another_process_is_left_alone(pool: asyncpg.Pool, store: LocalObjectStore) -> None:
    record = await create_export(pool, PROJECT, "jsonl", "", "")
    async with pool.acquire() as other:  # another replica building it holds the lock
        await other.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", f"annotary-export-{record.export_id}")
        assert not await build_export(pool, store, record.export_id)
        await other.execute("SELECT pg_advisory_unlock_all()")
    assert (await get_export(pool, record.export_id)).status == "queued"
    assert await build_export(pool, store, record.export_id)
    assert (await get_export(pool, record.export_id)).status == "done"


async def test_a_failed_build_records_the_error(pool: asyncpg.Pool, store: LocalObjectStore) -> None:
    class BrokenStore:
        async def put_file(self, key: str, path: object, content_type: str = "") -> str:
            raise OSError("disk full")

    record = await create_export(pool, PROJECT, "coco", SCHEMA, "")
    assert await build_export(pool, BrokenStore(), record.export_id)  # type: ignore[arg-type]
    failed = await get_export(pool, record.export_id)
    assert (failed.status, failed.error) == ("failed", "OSError: disk full")
    assert failed.finished_at is not None
