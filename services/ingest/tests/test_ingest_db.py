"""Service-layer tests on the real Postgres (a fresh database per test) and a local object store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import LocalObjectStore
from annotary_ingest.domain.items import RawItem
from annotary_ingest.service_layer import importing
from annotary_ingest.service_layer.importing import import_items
from annotary_ingest.service_layer.sources import import_source

PROJECT = str(uuid.uuid4())


async def outbox_events(pool: asyncpg.Pool) -> list[events_pb2.ItemIngested]:
    rows = await pool.fetch("SELECT topic, key, envelope FROM outbox ORDER BY id")
    out = []
    for row in rows:
        assert row["topic"] == topics.ITEM_INGESTED
        env = events_pb2.Envelope.FromString(row["envelope"])
        payload = events_pb2.ItemIngested.FromString(env.payload)
        assert env.key == row["key"] == payload.item.item_id
        out.append(payload)
    return out


def three_items(import_root: Path, make_png: Callable[..., bytes]) -> list[RawItem]:
    (import_root / "pics").mkdir(exist_ok=True)
    (import_root / "pics" / "blue.png").write_bytes(make_png(10, 6, (0, 0, 255)))
    return [
        RawItem(text="a sentence to tag", external_id="t1", meta_json='{"lang": "en"}',
                predictions_json='[{"result": [{"type": "span", "label": "X", "start": 0, "end": 1}]}]',
                gold_json='[{"type": "span", "label": "X", "start": 0, "end": 1}]'),
        RawItem(data=make_png(4, 3), filename="red.png"),
        RawItem(media_uri=(import_root / "pics" / "blue.png").as_uri(), modality="image"),
    ]


async def test_import_creates_items_events_and_media(pool: asyncpg.Pool, store: LocalObjectStore,
                                                      import_root: Path, make_png: Callable[..., bytes]) -> None:
    result = await import_items(pool, store, PROJECT, three_items(import_root, make_png))
    assert (result.created, result.duplicates, result.errors) == (3, 0, [])
    assert len(result.item_ids) == 3

    events = await outbox_events(pool)
    assert [e.item.item_id for e in events] == result.item_ids
    text, red, blue = (e.item for e in events)
    assert (text.modality, text.text, text.media_uri, json.loads(text.meta_json)) == ("text", "a sentence to tag", "",
                                                                                       {"lang": "en"})
    assert events[0].predictions[0].model_version == "import"
    assert json.loads(events[0].gold_json)[0]["label"] == "X"
    assert (red.external_id, red.width, red.height, red.media_type) == ("red.png", 4, 3, "image/png")
    assert (blue.external_id, blue.width, blue.height) == ("blue.png", 10, 6)
    for snap in (red, blue):
        assert snap.media_uri == f"local://media/{snap.content_hash}.png"
        assert await store.read_uri(snap.media_uri) == await store.get(f"media/{snap.content_hash}.png")
    rows = await pool.fetch("SELECT project_id, modality, width, meta FROM items ORDER BY modality")
    assert [(str(r["project_id"]), r["modality"]) for r in rows] == [(PROJECT, "image")] * 2 + [(PROJECT, "text")]


async def test_reimport_is_all_duplicates(pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path,
                                          make_png: Callable[..., bytes]) -> None:
    items = three_items(import_root, make_png)
    first = await import_items(pool, store, PROJECT, items)
    again = await import_items(pool, store, PROJECT, items)
    assert (again.created, again.duplicates, again.errors) == (0, 3, [])
    assert again.item_ids == first.item_ids
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 3
    assert await pool.fetchval("SELECT count(*) FROM items") == 3
    # the same content twice in one batch is one item; another project gets its own
    twice = await import_items(pool, store, PROJECT, [RawItem(text="new"), RawItem(text="new")])
    assert (twice.created, twice.duplicates) == (1, 1) and twice.item_ids[0] == twice.item_ids[1]
    other = await import_items(pool, store, str(uuid.uuid4()), [RawItem(text="new")])
    assert other.created == 1 and other.item_ids[0] != twice.item_ids[0]


async def test_one_bad_item_writes_nothing(pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path,
                                           make_png: Callable[..., bytes]) -> None:
    items = [*three_items(import_root, make_png), RawItem(data=b"\x89PNG\r\n\x1a\ngarbage", filename="bad.png")]
    result = await import_items(pool, store, PROJECT, items)
    assert (result.created, result.duplicates, result.item_ids) == (0, 0, [])
    assert len(result.errors) == 1
    index, message = result.errors[0]
    assert index == 3 and message.startswith("data: bad.png is not a decodable image")
    assert await pool.fetchval("SELECT count(*) FROM items") == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert await store.list_keys("media/") == []

    checks = await import_items(pool, store, PROJECT, [RawItem(text="ok"), RawItem(text="x", meta_json="[]"),
                                                       RawItem(media_uri="file:///nope/missing.png")])
    assert checks.errors == [(1, "meta: must be a JSON object, got list")]  # field errors first, no reads
    missing = await import_items(pool, store, PROJECT, [RawItem(media_uri=(import_root / "no.png").as_uri())])
    assert missing.errors == [(0, f"media_uri: {(import_root / 'no.png').as_uri()} not found")]


async def test_file_outside_the_roots_is_refused(pool: asyncpg.Pool, store: LocalObjectStore, tmp_path: Path,
                                                 make_png: Callable[..., bytes]) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(make_png())
    with pytest.raises(InvalidArgument, match=f"items\\[1\\]: media_uri: {outside.as_uri()} is outside"):
        await import_items(pool, store, PROJECT, [RawItem(text="fine"), RawItem(media_uri=outside.as_uri())])
    with pytest.raises(InvalidArgument, match="is outside the allowed import roots"):
        await import_source(pool, store, PROJECT, tmp_path.as_uri())
    with pytest.raises(InvalidArgument, match="needs the S3 object store"):
        await import_source(pool, store, PROJECT, "s3://bucket/prefix")
    with pytest.raises(InvalidArgument, match="project_id: 'nope' is not a UUID"):
        await import_items(pool, store, "nope", [RawItem(text="x")])
    assert await pool.fetchval("SELECT count(*) FROM items") == 0


async def test_import_source_folder(pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path,
                                    make_png: Callable[..., bytes]) -> None:
    src = import_root / "batch"
    (src / "img").mkdir(parents=True)
    (src / "img" / "a.png").write_bytes(make_png(2, 2, (1, 2, 3)))
    (src / "img" / "b.png").write_bytes(make_png(3, 3, (4, 5, 6)))
    (src / "note.txt").write_text("a note")
    (src / "README.md").write_text("skipped")
    (src / "items.jsonl").write_text("\n".join([
        json.dumps({"text": "from jsonl", "external_id": "j1"}),
        json.dumps({"image": "img/a.png", "external_id": "dup-of-a"}),   # same bytes as img/a.png
    ]))
    result = await import_source(pool, store, PROJECT, src.as_uri())
    assert result.errors == []
    assert (result.created, result.duplicates, len(result.item_ids)) == (4, 1, 5)
    by_id = {str(r["item_id"]): r for r in await pool.fetch("SELECT * FROM items")}
    assert sorted(r["external_id"] for r in by_id.values()) == ["img/a.png", "img/b.png", "j1", "note.txt"]
    assert by_id[result.item_ids[-1]]["text"] == "a note"

    with pytest.raises(NotFound, match="is not a folder"):
        await import_source(pool, store, PROJECT, (import_root / "nothing").as_uri())
    (src / "broken.json").write_text('[{"text": "x", "meta": 3}]')
    broken = await import_source(pool, store, PROJECT, src.as_uri())
    assert broken.created == 0 and broken.errors == [(0, "broken.json [0]: meta: must be a JSON object, got int")]


async def test_chunked_write_keeps_order_and_skips_a_concurrent_duplicate(
        pool: asyncpg.Pool, store: LocalObjectStore, make_png: Callable[..., bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are written a chunk per statement; an item another import creates between the existence check and the
    write (here: while the media is uploaded) is a duplicate with no event, and the others keep their order."""
    monkeypatch.setattr(importing, "WRITE_CHUNK", 2)
    texts = [RawItem(text=f"sentence {i}", external_id=f"t{i}") for i in range(5)]
    image = RawItem(data=make_png(5, 5, (9, 9, 9)), filename="racer.png")
    racer = importing.item_id_for(PROJECT, (await importing._describe_all(
        store, [(0, image, importing.check_item(image))], importing.ImportLimits()))[0][1].content_hash)
    uploaded = store.put

    async def put_while_another_import_writes(key: str, data: bytes, media_type: str) -> str:
        await pool.execute("INSERT INTO items (item_id, project_id, modality, content_hash) VALUES ($1, $2, 'image',"
                           " 'by-another-import')", uuid.UUID(racer), uuid.UUID(PROJECT))
        return await uploaded(key, data, media_type)

    monkeypatch.setattr(store, "put", put_while_another_import_writes)
    result = await import_items(pool, store, PROJECT, [*texts[:3], image, *texts[3:]])
    assert (result.created, result.duplicates, result.errors) == (5, 1, [])
    assert result.item_ids[3] == racer
    events = await outbox_events(pool)
    assert [e.item.item_id for e in events] == [i for n, i in enumerate(result.item_ids) if n != 3]
    assert [e.item.external_id for e in events] == [f"t{i}" for i in range(5)]
    rows = await pool.fetch("SELECT external_id FROM items WHERE content_hash <> 'by-another-import'"
                            " ORDER BY external_id")
    assert [r["external_id"] for r in rows] == [f"t{i}" for i in range(5)]
