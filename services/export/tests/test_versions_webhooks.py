"""Dataset versions (manifest, incremental exports, progress, export.completed through the outbox) and webhooks
(HMAC-signed deliveries retried with backoff until a real HTTP receiver on 127.0.0.1 recovers) on the real
Postgres."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.storage import LocalObjectStore
from annotary_export.service_layer import webhooks
from annotary_export.service_layer.accepted import on_annotation_accepted
from annotary_export.service_layer.exports import build_export, create_export, get_export, list_versions

PROJECT = str(uuid.uuid4())
SCHEMA = json.dumps({"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}], "tools": ["bbox"]})
CAT = {"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 30, "h": 40}
DOG = {"type": "bbox", "label": "dog", "x": 5, "y": 5, "w": 10, "h": 10}


def accepted(external_id: str, result: list[dict[str, Any]], *, round_: int = 1) -> Event:
    item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PROJECT}/{external_id}"))
    payload = events_pb2.AnnotationAccepted(
        item=events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, external_id=external_id, modality="image",
                                     media_uri=f"local://media/{external_id}", width=100, height=80),
        result_json=json.dumps(result), agreement=0.75, round=round_, schema_version=2,
        annotator_ids=["u1", "u2"], prelabel_model_versions=["yolo@3"], agreement_metric="box_f1@0.5",
        decided_by="consensus",
    )
    return parse_event(build_envelope(topics.ANNOTATION_ACCEPTED, item_id, payload, "qa").SerializeToString())


async def handle(pool: asyncpg.Pool, event: Event) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await on_annotation_accepted(conn, event)


async def _build(pool: asyncpg.Pool, store: LocalObjectStore, since: str = "", fmt: str = "jsonl") -> Any:
    record = await create_export(pool, PROJECT, fmt, SCHEMA, "p", since)
    assert await build_export(pool, store, record.export_id)
    return await get_export(pool, record.export_id)


async def test_versions_manifest_incremental_progress_and_completed_event(
        pool: asyncpg.Pool, store: LocalObjectStore) -> None:
    for name in ("a.png", "b.png", "c.png"):
        await handle(pool, accepted(name, [CAT]))
    v1 = await _build(pool, store)
    assert (v1.status, v1.version, v1.item_count, v1.items_total, v1.items_done) == ("done", 1, 3, 3, 3)
    manifest = json.loads(await store.get(v1.manifest_key))
    assert manifest["version"] == 1 and manifest["parent_export_id"] is None and not manifest["incremental"]
    assert [e["external_id"] for e in manifest["items"]] == ["a.png", "b.png", "c.png"]
    entry = manifest["items"][0]
    assert entry["annotators"] == ["u1", "u2"] and entry["agreement"] == 0.75 and entry["annotation_version"] == 1
    assert (entry["schema_version"], entry["prelabel_model_versions"], entry["agreement_metric"]) == (
        2, ["yolo@3"], "box_f1@0.5")
    assert manifest["schema_versions"] == [2] and manifest["prelabel_model_versions"] == ["yolo@3"]

    await handle(pool, accepted("b.png", [DOG], round_=2))  # changed
    await handle(pool, accepted("d.png", [DOG]))             # new
    v2 = await _build(pool, store, since=v1.export_id)
    assert (v2.version, v2.base_export_id, v2.parent_export_id, v2.item_count) == (2, v1.export_id, v1.export_id, 2)
    lines = [json.loads(line) for line in (await store.get(v2.object_key)).decode().splitlines()]
    assert [(line["external_id"], line["annotations"][0]["round"]) for line in lines] == [("b.png", 2), ("d.png", 1)]
    manifest2 = json.loads(await store.get(v2.manifest_key))
    assert manifest2["incremental"] and manifest2["base_export_id"] == v1.export_id

    v3 = await _build(pool, store, since=v2.export_id)  # nothing changed since v2
    assert (v3.version, v3.item_count) == (3, 0)
    v4 = await _build(pool, store, fmt="coco")           # full snapshot again
    assert v4.item_count == 4 and v4.parent_export_id == v3.export_id
    assert [r.version for r in await list_versions(pool, PROJECT)] == [4, 3, 2, 1]

    rows = await pool.fetch("SELECT envelope FROM outbox WHERE topic = $1 ORDER BY id", topics.EXPORT_COMPLETED)
    assert len(rows) == 4
    env = events_pb2.Envelope.FromString(rows[-1]["envelope"])
    done = events_pb2.ExportCompleted.FromString(env.payload)
    assert (done.export_id, done.status, done.format, done.item_count) == (v4.export_id, "done", "coco", 4)


class Receiver:
    """A real HTTP receiver on 127.0.0.1 that fails its first ``fail_first`` requests with 503."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                code = 503 if len(outer.requests) < outer.fail_first else 200
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=3)
    yield r
    r.close()


async def test_webhooks_are_signed_and_retried_until_the_receiver_recovers(
        pool: asyncpg.Pool, store: LocalObjectStore, receiver: Receiver) -> None:
    hook = await webhooks.create_webhook(pool, PROJECT, receiver.url,
                                         [topics.ANNOTATION_ACCEPTED, topics.EXPORT_COMPLETED], secret="s3cret")
    other = await webhooks.create_webhook(pool, str(uuid.uuid4()), receiver.url, [topics.ANNOTATION_ACCEPTED])
    await handle(pool, accepted("a.png", [CAT]))
    await _build(pool, store)
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 2  # other project: nothing

    policy = webhooks.DeliveryPolicy(timeout_s=2.0, max_attempts=10, backoff_base_s=0.01, backoff_max_s=0.05)
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            await webhooks.deliver_due(pool, client, policy)
            if await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") == 0:
                break
            await asyncio.sleep(0.02)
    deliveries = await webhooks.list_deliveries(pool, hook.webhook_id)
    assert sorted(d["status"] for d in deliveries) == ["delivered", "delivered"]
    assert sum(d["attempts"] for d in deliveries) == 5  # 3 failures (503) then one success each
    failed_then_ok = next(d for d in deliveries if d["attempts"] > 1)
    assert [a["status_code"] for a in failed_then_ok["log"]][-1] == 200
    assert all(a["status_code"] == 503 for a in failed_then_ok["log"][:-1])
    assert len(receiver.requests) == 5
    for headers, body, _ in receiver.requests:  # every delivery signed
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-annotary-signature"], expected)
        assert headers["x-annotary-event"] in (topics.ANNOTATION_ACCEPTED, topics.EXPORT_COMPLETED)
    events = {json.loads(body)["type"] for _, body, code in receiver.requests if code == 200}
    assert events == {topics.ANNOTATION_ACCEPTED, topics.EXPORT_COMPLETED}
    assert await webhooks.list_deliveries(pool, other.webhook_id) == []

    await webhooks.delete_webhook(pool, hook.webhook_id)
    assert [h.webhook_id for h in await webhooks.list_webhooks(pool, PROJECT)] == []


def test_backoff_doubles_and_caps() -> None:
    assert [webhooks.backoff_s(n, 1.0, 5.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
