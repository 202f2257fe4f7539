"""The image flywheel on the real Postgres: image items kept with their media URI, accepted choices -> the
small CNN trained on the images read from the object store, evaluated on the held-out slice against the
majority class, promoted, and pre-labeling the image queue (scikit-learn's bundled digits as PNGs)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import asyncpg
import numpy as np
import pytest
import pytest_asyncio
from PIL import Image

from annotary.events.v1 import events_pb2
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.topics import ANNOTATION_ACCEPTED, ITEM_INGESTED
from annotary_preannotate.models.text_choice import Encoder
from annotary_preannotate.service_layer import flywheel
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

from .conftest import deliver

PROJECT = "44444444-4444-4444-8444-444444444444"
CONFIG = flywheel.FlywheelConfig(retrain_every=120, holdout_fraction=0.25)

handle = partial(deliver, config=CONFIG)  # the event through the service's own handler, once


@pytest_asyncio.fixture
async def setup(pool: asyncpg.Pool, tmp_path: Path, encoder: Encoder) -> AsyncIterator[tuple[Worker, LocalObjectStore]]:
    config = WorkerConfig(device="cpu", torch_threads=1, image_epochs=40)
    async with LocalObjectStore(CommonSettings(data_dir=tmp_path)) as store:
        yield Worker(pool, store, config, encoder=encoder), store


async def png(store: LocalObjectStore, image: np.ndarray, name: str) -> str:
    buf = io.BytesIO()
    Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((32, 32)).save(buf, format="PNG")
    await store.put(f"media/{name}.png", buf.getvalue(), "image/png")
    return store.uri_for(f"media/{name}.png")


def event(topic: str, item_id: str, uri: str, value: str | None = None) -> Event:
    snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality="image", media_uri=uri,
                                       width=32, height=32)
    payload = (events_pb2.ItemIngested(item=snapshot) if value is None else events_pb2.AnnotationAccepted(
        item=snapshot, result_json=json.dumps([{"type": "choice", "name": "digit", "value": value}])))
    return parse_event(build_envelope(topic, item_id, payload, "test").SerializeToString())


@pytest.mark.asyncio
async def test_accepted_image_choices_train_promote_and_prelabel(
        pool: asyncpg.Pool, setup: tuple[Worker, LocalObjectStore]) -> None:
    from sklearn.datasets import load_digits

    worker, store = setup
    digits = load_digits()
    keep = [i for i, t in enumerate(digits.target) if t in (0, 1)]
    # 40 queued items judged at 90%: one borderline digit out of ten failed a clean-clone run (8 of 10 right,
    # the held-out accuracy 0.9), a figure over ten items being too coarse for what the model does
    labeled, queue = keep[:CONFIG.retrain_every], keep[CONFIG.retrain_every:CONFIG.retrain_every + 40]
    queue_ids = {}
    for i in queue:
        iid = str(uuid.uuid4())
        queue_ids[iid] = str(digits.target[i])
        await handle(pool, event(ITEM_INGESTED, iid, await png(store, digits.images[i], f"q{i}")))
    for i in labeled:
        iid = str(uuid.uuid4())
        uri = await png(store, digits.images[i], f"l{i}")
        await handle(pool, event(ITEM_INGESTED, iid, uri))
        await handle(pool, event(ANNOTATION_ACCEPTED, iid, uri, str(digits.target[i])))
    assert await pool.fetchval("SELECT count(*) FROM items WHERE modality = 'image'") == len(labeled) + len(queue)

    assert await worker.train_once()
    row = await pool.fetchrow("SELECT model_version, plugin, status, metrics::text AS m FROM model_versions")
    metrics = json.loads(row["m"])
    assert (row["plugin"], row["status"], metrics["incumbent_kind"]) == ("image-choice-cnn", "promoted",
                                                                          "majority_baseline")
    assert metrics["candidate"]["accuracy"] >= 0.9 > metrics["incumbent"]["accuracy"], metrics

    assert await worker.score_once()
    found = {str(r["item_id"]): json.loads(r["result_json"])[0] for r in await pool.fetch(
        "SELECT item_id, result_json::text AS result_json FROM predictions WHERE model_version = $1",
        row["model_version"])}
    assert set(found) == set(queue_ids)
    right = sum(found[i]["value"] == queue_ids[i] for i in queue_ids)
    assert right >= 0.9 * len(queue_ids), (right, found)
    scored = await pool.fetch("SELECT topic FROM outbox WHERE topic = 'item.scored'")
    assert len(scored) == len(queue_ids)
