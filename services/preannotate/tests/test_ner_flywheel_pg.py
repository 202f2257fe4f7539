"""The NER flywheel on the real Postgres: accepted spans -> a token-classification transformer trained (the
tiny from-scratch variant here, for speed; the service default fine-tunes MiniLM), evaluated by span F1 on
the held-out slice against the no-span baseline, promoted, and pre-labeling the queue with spans."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from annotary.events.v1 import events_pb2
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.topics import ANNOTATION_ACCEPTED, ITEM_INGESTED
from annotary_preannotate.domain.flywheel import span_f1
from annotary_preannotate.models.text_choice import Encoder
from annotary_preannotate.service_layer import flywheel
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

from .conftest import deliver

PROJECT = "33333333-3333-4333-8333-333333333333"
CONFIG = flywheel.FlywheelConfig(retrain_every=48, holdout_fraction=0.25)
NAMES = ["Alice", "Bruno", "Chen", "Dalia", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lucia"]
CITIES = ["Paris", "Lagos", "Osaka", "Lima", "Oslo", "Quito", "Hanoi", "Accra"]
FRAMES = ["Yesterday {n} flew to {c} for work.", "{n} lives in {c} now.", "In {c} we met {n} again.",
          "Our friend {n} moved from {c} last year."]

handle = partial(deliver, config=CONFIG)  # the event through the service's own handler, once


def sentence(k: int) -> tuple[str, list[dict[str, object]]]:
    name, city = NAMES[k % len(NAMES)], CITIES[(k * 5) % len(CITIES)]
    text = FRAMES[k % len(FRAMES)].format(n=name, c=city)
    n, c = text.index(name), text.index(city)
    return text, [{"type": "span", "label": "PER", "start": n, "end": n + len(name)},
                  {"type": "span", "label": "LOC", "start": c, "end": c + len(city)}]


@pytest_asyncio.fixture
async def worker(pool: asyncpg.Pool, tmp_path: Path, encoder: Encoder) -> AsyncIterator[Worker]:
    config = WorkerConfig(ner_base="tiny", ner_epochs=25, ner_learning_rate=3e-3, device="cpu", torch_threads=1)
    async with LocalObjectStore(CommonSettings(data_dir=tmp_path)) as store:
        yield Worker(pool, store, config, encoder=encoder)


def event(topic: str, item_id: str, text: str, result: list[dict[str, object]] | None = None) -> Event:
    snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality="text", text=text)
    payload = (events_pb2.ItemIngested(item=snapshot) if result is None
               else events_pb2.AnnotationAccepted(item=snapshot, result_json=json.dumps(result)))
    return parse_event(build_envelope(topic, item_id, payload, "test").SerializeToString())


def test_span_f1() -> None:
    a = {"type": "span", "label": "PER", "start": 0, "end": 5}
    b = {"type": "span", "label": "LOC", "start": 9, "end": 14}
    assert span_f1([[a, b]], [[a, b]]) == 1.0
    assert span_f1([[a, b]], [[a]]) == pytest.approx(2 / 3)
    assert span_f1([[a]], [[{**a, "label": "LOC"}]]) == 0.0
    assert span_f1([[]], [[]]) == 1.0


@pytest.mark.asyncio
async def test_accepted_spans_train_promote_and_prelabel_ner(pool: asyncpg.Pool, worker: Worker) -> None:
    queue = [str(uuid.uuid4()) for _ in range(3)]
    queue_texts = ["Yesterday Hana flew to Oslo for work.", "Kofi lives in Lima now.", "nothing to find here"]
    for iid, text in zip(queue, queue_texts, strict=True):
        await handle(pool, event(ITEM_INGESTED, iid, text))
    for k in range(CONFIG.retrain_every):
        iid = str(uuid.uuid4())
        text, spans = sentence(k)
        await handle(pool, event(ITEM_INGESTED, iid, text))
        await handle(pool, event(ANNOTATION_ACCEPTED, iid, text, spans))
    assert await pool.fetchval("SELECT count(*) FROM labels WHERE kind = 'span'") == CONFIG.retrain_every

    assert await worker.train_once()
    row = await pool.fetchrow("SELECT model_version, plugin, status, metrics::text AS m FROM model_versions")
    metrics = json.loads(row["m"])
    assert row["plugin"] == "token-ner-minilm" and metrics["metric"] == "span_f1"
    assert metrics["incumbent_kind"] == "no_spans_baseline" and metrics["incumbent"]["span_f1"] == 0.0
    assert row["status"] == "promoted" and metrics["candidate"]["span_f1"] >= 0.8, metrics
    events = await pool.fetch("SELECT topic FROM outbox WHERE topic = 'model.trained'")
    assert len(events) == 1

    assert await worker.score_once()
    found = {str(r["item_id"]): json.loads(r["result_json"]) for r in await pool.fetch(
        "SELECT item_id, result_json::text AS result_json FROM predictions WHERE model_version = $1",
        row["model_version"])}
    assert set(found) == set(queue)
    first = [(r["label"], queue_texts[0][r["start"]:r["end"]]) for r in found[queue[0]]]
    assert ("PER", "Hana") in first and ("LOC", "Oslo") in first, first
    assert all(0.0 <= r["score"] <= 1.0 for r in found[queue[0]])
