"""Webhooks for the other events a user subscribes to: annotation.rejected, review.required, model.trained,
annotator.paused (from the bus, through the consumer's handlers) and export.failed (from a build that fails), each
delivered signed to a real HTTP receiver on 127.0.0.1 that fails first, retried until it recovers."""

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
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.bus import PermanentError
from annotary_common.events import build_envelope, parse_event
from annotary_common.grpc_util import InvalidArgument
from annotary_common.storage import LocalObjectStore
from annotary_export.service_layer import notify, webhooks
from annotary_export.service_layer.exports import build_export, create_export, get_export

PROJECT = str(uuid.uuid4())
SCHEMA = json.dumps({"modality": "image", "labels": [{"name": "cat"}], "tools": ["bbox"]})
ITEM = events_pb2.ItemSnapshot(item_id=str(uuid.uuid4()), project_id=PROJECT, external_id="a.png", modality="image")
NEW_TYPES = [webhooks.EXPORT_FAILED, topics.ANNOTATION_REJECTED, topics.REVIEW_REQUIRED, topics.MODEL_TRAINED,
             topics.ANNOTATOR_PAUSED]


class Receiver:
    """A real HTTP receiver on 127.0.0.1 that answers 503 to its first ``fail_first`` requests, then 200."""

    def __init__(self, fail_first: int) -> None:
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                code = 503 if len(outer.requests) < fail_first else 200
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


async def handle(pool: asyncpg.Pool, topic: str, payload: Message, producer: str = "qa") -> None:
    event = parse_event(build_envelope(topic, PROJECT, payload, producer).SerializeToString())
    async with pool.acquire() as conn, conn.transaction():
        await notify.HANDLERS[topic](conn, event)


async def deliver_all(pool: asyncpg.Pool) -> None:
    policy = webhooks.DeliveryPolicy(timeout_s=2.0, max_attempts=10, backoff_base_s=0.01, backoff_max_s=0.05)
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            await webhooks.deliver_due(pool, client, policy)
            if await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") == 0:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("deliveries still pending")


async def test_rejected_review_trained_paused_and_export_failed_are_delivered_signed(
        pool: asyncpg.Pool, store: LocalObjectStore, receiver: Receiver) -> None:
    hook = await webhooks.create_webhook(pool, PROJECT, receiver.url, [*NEW_TYPES, topics.EXPORT_COMPLETED],
                                         secret="k3y")
    only_rejected = await webhooks.create_webhook(pool, PROJECT, receiver.url, [topics.ANNOTATION_REJECTED])
    await handle(pool, topics.ANNOTATION_REJECTED, events_pb2.AnnotationRejected(
        item=ITEM, reason="box too loose", reviewer_id="rev1", round=1))
    await handle(pool, topics.REVIEW_REQUIRED, events_pb2.ReviewRequired(
        item=ITEM, reason="agreement 0.40 below 0.80", agreement=0.4, round=1, submissions=[
            events_pb2.Submission(annotator_id="u1", result_json='[{"type": "bbox", "label": "cat"}]')]))
    trained = events_pb2.ModelTrained(project_id=PROJECT, model_version="m@2", plugin="text-choice", promoted=True,
                                      metric="accuracy", candidate_value=0.9, incumbent_value=0.8,
                                      metrics_json='{"accuracy": 0.9}')
    await handle(pool, topics.MODEL_TRAINED, trained, producer="preannotate")
    await handle(pool, topics.ANNOTATOR_PAUSED, events_pb2.AnnotatorPaused(
        project_id=PROJECT, annotator_id="u9", paused=True, reason="gold accuracy 0.3", actor="qa"))
    # A build that fails for real: a file stands where the export's folder must be created.
    (store.root / "exports").write_text("not a folder")
    record = await create_export(pool, PROJECT, "jsonl", SCHEMA, "p")
    assert await build_export(pool, store, record.export_id)
    assert (await get_export(pool, record.export_id)).status == "failed"

    await deliver_all(pool)
    deliveries = await webhooks.list_deliveries(pool, hook.webhook_id)
    assert sorted(d["event_type"] for d in deliveries) == sorted([*NEW_TYPES, topics.EXPORT_COMPLETED])
    assert len(deliveries) == 6 and all(d["status"] == "delivered" for d in deliveries)
    assert len(await webhooks.list_deliveries(pool, only_rejected.webhook_id)) == 1
    bodies: dict[str, dict[str, Any]] = {}
    for headers, body, code in receiver.requests:
        if headers["x-annotary-delivery"] in {d["delivery_id"] for d in deliveries}:  # this hook's (secret k3y)
            expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-annotary-signature"], expected)  # every attempt signed
            if code == 200:
                bodies[headers["x-annotary-event"]] = json.loads(body)
    assert sorted(bodies) == sorted([*NEW_TYPES, topics.EXPORT_COMPLETED])
    assert sum(1 for *_, code in receiver.requests if code == 503) == 2  # the receiver failed first, then recovered
    assert bodies[topics.ANNOTATION_REJECTED]["data"] == {
        "item_id": ITEM.item_id, "external_id": "a.png", "modality": "image", "reason": "box too loose",
        "reviewer_id": "rev1", "round": 1}
    assert bodies[topics.REVIEW_REQUIRED]["data"]["submissions"] == [
        {"annotator_id": "u1", "result": [{"type": "bbox", "label": "cat"}]}]
    assert bodies[topics.MODEL_TRAINED]["data"]["promoted"] is True
    assert bodies[topics.MODEL_TRAINED]["data"]["metrics"] == {"accuracy": 0.9}
    assert bodies[topics.ANNOTATOR_PAUSED]["data"]["annotator_id"] == "u9"
    failed = bodies[webhooks.EXPORT_FAILED]
    assert failed["data"]["status"] == "failed" and failed["data"]["export_id"] == record.export_id
    assert failed["data"]["error"] and failed["event_id"] != bodies[topics.EXPORT_COMPLETED]["event_id"]


async def test_unknown_types_and_bad_events_are_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(InvalidArgument, match=r"'item\.created' is not supported .*export\.failed"):
        await webhooks.create_webhook(pool, PROJECT, "http://127.0.0.1:1/h", ["item.created"])
    with pytest.raises(PermanentError, match="project_id must be a UUID"):
        await handle(pool, topics.MODEL_TRAINED, events_pb2.ModelTrained(project_id="nope"))
