"""Importing items: check every item, read and describe its content, then write the new items and their
``item.ingested`` events in one transaction. All or nothing: one bad item and nothing is written."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.grpc_util import InvalidArgument
from annotary_common.metrics import ITEMS_INGESTED
from annotary_common.storage import LocalObjectStore, ObjectNotFound, ObjectStore, SourceNotAllowed
from annotary_common.telemetry import set_ids
from annotary_ingest.domain.content import Content, describe_media, describe_text
from annotary_ingest.domain.items import (
    BadEntry,
    CheckedItem,
    ItemInvalid,
    RawItem,
    check_item,
    check_project_id,
    item_id_for,
)

log = logging.getLogger(__name__)

PRODUCER = "ingest"


@dataclass
class ImportResult:
    created: int = 0
    duplicates: int = 0
    item_ids: list[str] = field(default_factory=list)   # one per input item, in order (duplicates included)
    errors: list[tuple[int, str]] = field(default_factory=list)
    annotations: int = 0     # accepted annotations published (foreign imports)
    predictions: int = 0
    unchanged: int = 0       # source syncs: keys already imported and unchanged
    keys_synced: int = 0


@dataclass(frozen=True)
class AcceptedImport:
    """An annotation that arrives already accepted (another tool's export): published as ``annotation.accepted``
    with its provenance when its item is created."""

    result: list[Any]
    annotators: list[str]
    source: str


@dataclass(frozen=True)
class ImportLimits:
    fetch_concurrency: int = 8
    max_bytes: int = 1 << 30


def project_or_invalid(project_id: str) -> str:
    try:
        return check_project_id(project_id)
    except ItemInvalid as exc:
        raise InvalidArgument(str(exc)) from None


async def import_items(pool: asyncpg.Pool, store: ObjectStore, project_id: str,
                       entries: Sequence[RawItem | BadEntry], limits: ImportLimits = ImportLimits(),
                       accepted: Sequence[AcceptedImport | None] = ()) -> ImportResult:
    """Import a batch; errors come back in ``ImportResult.errors`` (index, message naming the field).

    Raises ``InvalidArgument`` for a bad project id, a refused source (file:// outside the import roots,
    s3:// without an S3 store) or a batch over ``limits.max_bytes``.
    """
    project = project_or_invalid(project_id)
    checked: list[tuple[int, RawItem, CheckedItem]] = []
    errors: list[tuple[int, str]] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, BadEntry):
            errors.append((index, entry.message))
            continue
        try:
            checked.append((index, entry, check_item(entry)))
        except ItemInvalid as exc:
            errors.append((index, f"{entry.origin}{exc}"))
    if errors:  # fail fast: no media is read for a batch that is already refused
        return ImportResult(errors=errors)
    described = await _describe_all(store, checked, limits)
    errors = [(index, message) for index, message in described if isinstance(message, str)]
    if errors:
        return ImportResult(errors=errors)
    contents = [content for _, content in described if isinstance(content, Content)]
    return await _write(pool, store, project, [item for _, _, item in checked], contents, limits, accepted)


async def _describe_all(store: ObjectStore, checked: list[tuple[int, RawItem, CheckedItem]],
                        limits: ImportLimits) -> list[tuple[int, Content | str]]:
    gate = asyncio.Semaphore(limits.fetch_concurrency)
    total = 0
    described: dict[int, Content | str] = {}
    media: list[tuple[int, RawItem, CheckedItem]] = []
    for index, raw, item in checked:  # text is described here, at once: a task per item cost more than the hashing
        if item.text is None:
            media.append((index, raw, item))
        else:
            described[index] = describe_text(item.text)

    async def one(index: int, raw: RawItem, item: CheckedItem) -> tuple[int, Content | str]:
        nonlocal total
        try:
            async with gate:
                data = item.data if item.data is not None else await _fetch(store, index, raw, item)
            total += len(data)
            if total > limits.max_bytes:
                raise InvalidArgument(f"items: the import holds more than {limits.max_bytes} bytes of media; "
                                      "import it in smaller parts")
            return index, await asyncio.to_thread(describe_media, item, data)
        except ItemInvalid as exc:
            return index, f"{raw.origin}{exc}"

    tasks = [asyncio.ensure_future(one(index, raw, item)) for index, raw, item in media]
    try:
        described.update(await asyncio.gather(*tasks))
        return [(index, described[index]) for index, _, _ in checked]
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _fetch(store: ObjectStore, index: int, raw: RawItem, item: CheckedItem) -> bytes:
    uri = item.media_uri or ""
    where = raw.origin or f"items[{index}]: "
    if uri.startswith("s3://") and isinstance(store, LocalObjectStore):
        raise InvalidArgument(f"{where}media_uri: {uri} needs the S3 object store (ANNOTARY_OBJECT_STORE=s3)")
    try:
        return await store.read_uri(uri)
    except SourceNotAllowed as exc:
        raise InvalidArgument(f"{where}media_uri: {exc}") from None
    except ObjectNotFound:
        raise ItemInvalid(f"media_uri: {uri} not found") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ItemInvalid(f"media_uri: cannot read {uri} ({code})") from None
    except (httpx.HTTPError, BotoCoreError, OSError) as exc:
        raise ItemInvalid(f"media_uri: cannot read {uri} ({exc})") from None


def _snapshot(project: str, item_id: str, item: CheckedItem, content: Content,
              media_uri: str) -> events_pb2.ItemSnapshot:
    return events_pb2.ItemSnapshot(
        item_id=item_id, project_id=project, external_id=item.external_id, modality=content.modality,
        media_uri=media_uri, text=content.text or "", width=content.width, height=content.height,
        meta_json=json.dumps({**content.meta, **item.meta}, ensure_ascii=False), content_hash=content.content_hash,
        media_type=content.media_type,
    )


def _event(snapshot: events_pb2.ItemSnapshot, item: CheckedItem, accepted: bool = False) -> events_pb2.ItemIngested:
    return events_pb2.ItemIngested(
        accepted=accepted,
        item=snapshot,
        predictions=[events_pb2.Prediction(model_version=p.model_version, score=p.score,
                                           result_json=json.dumps(p.result, ensure_ascii=False))
                     for p in item.predictions],
        gold_json="" if item.gold is None else json.dumps(item.gold, ensure_ascii=False),
    )


def _accepted_event(snapshot: events_pb2.ItemSnapshot, imported: AcceptedImport) -> events_pb2.AnnotationAccepted:
    result_json = json.dumps(imported.result, ensure_ascii=False)
    return events_pb2.AnnotationAccepted(
        item=snapshot, result_json=result_json, agreement=1.0, round=0, annotator_ids=imported.annotators,
        submissions=[events_pb2.Submission(annotator_id=a, result_json=result_json) for a in imported.annotators],
        agreement_metric="import", decided_by=f"import:{imported.source}",
    )


# Items written per statement: one round trip for the rows and one for their events, however many items.
WRITE_CHUNK = 5000

_INSERT_SQL = """
INSERT INTO items (item_id, project_id, external_id, modality, media_uri, media_type, text, width, height, meta,
                   content_hash)
SELECT r.item_id, $1, r.external_id, r.modality, r.media_uri, r.media_type, r.text, r.width, r.height,
       r.meta::jsonb, r.content_hash
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[],
            $10::text[], $11::text[])
     AS r(item_id, external_id, modality, media_uri, media_type, text, width, height, meta, content_hash)
ON CONFLICT DO NOTHING
RETURNING item_id
"""


async def _insert_items(conn: asyncpg.Connection, project: str, items: list[CheckedItem], contents: list[Content],
                        rows: list[tuple[str, int, str]]) -> set[str]:
    """Insert ``(item id, position, media uri)`` rows; returns the ids this statement created."""
    picked = [(items[p], contents[p]) for _, p, _ in rows]
    created = await conn.fetch(
        _INSERT_SQL, project, [item_id for item_id, _, _ in rows],
        [item.external_id for item, _ in picked], [content.modality for _, content in picked],
        [media_uri for _, _, media_uri in rows], [content.media_type for _, content in picked],
        [content.text for _, content in picked], [content.width for _, content in picked],
        [content.height for _, content in picked],
        [json.dumps({**content.meta, **item.meta}, ensure_ascii=False) for item, content in picked],
        [content.content_hash for _, content in picked],
    )
    return {str(row["item_id"]) for row in created}


async def _write(pool: asyncpg.Pool, store: ObjectStore, project: str, items: list[CheckedItem],
                 contents: list[Content], limits: ImportLimits,
                 accepted: Sequence[AcceptedImport | None] = ()) -> ImportResult:
    item_ids = [item_id_for(project, content.content_hash) for content in contents]
    first: dict[str, int] = {}
    for position, item_id in enumerate(item_ids):
        first.setdefault(item_id, position)
    async with pool.acquire() as conn:
        existing = {str(row["item_id"]) for row in
                    await conn.fetch("SELECT item_id FROM items WHERE item_id = ANY($1::uuid[])", list(first))}
    new = [(item_id, position) for item_id, position in first.items() if item_id not in existing]

    # Media first (content-addressed, so a retry or a concurrent import writes the same object), rows after.
    uploads = {contents[p].object_key: contents[p] for _, p in new if contents[p].data is not None}
    gate = asyncio.Semaphore(limits.fetch_concurrency)

    async def put(key: str, content: Content) -> None:
        async with gate:
            await store.put(key, content.data or b"", content.media_type)

    await asyncio.gather(*(put(key, content) for key, content in uploads.items()))

    rows = []
    for item_id, position in new:
        content = contents[position]
        media_uri = store.uri_for(content.object_key) if content.data is not None else ""
        rows.append((item_id, position, media_uri))
    created = annotations = predictions = 0
    async with pool.acquire() as conn, conn.transaction():
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start:start + WRITE_CHUNK]
            inserted = await _insert_items(conn, project, items, contents, chunk)
            events: list[tuple[str, str, Message]] = []
            for item_id, position, media_uri in chunk:
                if item_id not in inserted:  # a concurrent import created it first: a duplicate, no event
                    continue
                item, content = items[position], contents[position]
                created += 1
                snapshot = _snapshot(project, item_id, item, content, media_uri)
                imported = accepted[position] if position < len(accepted) else None
                # Already accepted elsewhere (another tool's export): the orchestrator makes no labeling tasks.
                events.append((topics.ITEM_INGESTED, item_id, _event(snapshot, item, accepted=imported is not None)))
                predictions += len(item.predictions)
                if imported is not None:  # round 0: any later review round replaces it downstream
                    events.append((topics.ANNOTATION_ACCEPTED, item_id, _accepted_event(snapshot, imported)))
                    annotations += 1
            await outbox.add_events(conn, events, PRODUCER)
    ITEMS_INGESTED.labels(project).inc(created)  # committed: counted once, whatever retries follow
    set_ids(project_id=project)
    log.info("items imported", extra={"project_id": project, "items_created": created,
                                      "duplicates": len(item_ids) - created})
    return ImportResult(created=created, duplicates=len(item_ids) - created, item_ids=item_ids,
                        annotations=annotations, predictions=predictions)
