"""The detection flywheel on the real Postgres: accepted boxes on image items -> the small CenterNet-style detector
trained on the images read from the object store, evaluated by box F1 (IoU 0.5) on the held-out slice against
predicting no box, promoted, and pre-labeling the queue with boxes.

Real labeled data: StarDist's bundled fluorescence image of nuclei with its instance mask (PyPI ``stardist``, data
only, installed by the Makefile), cut into 16 tiles of 128 x 128; each nucleus's box is its mask's extent."""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

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
from annotary_preannotate.domain.flywheel import box_f1
from annotary_preannotate.models.text_choice import Encoder
from annotary_preannotate.service_layer import flywheel
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

from .conftest import deliver, split_ids

PROJECT = "55555555-5555-4555-8555-555555555555"
CONFIG = flywheel.FlywheelConfig(retrain_every=13, holdout_fraction=0.25)
TILE = 128

handle = partial(deliver, config=CONFIG)  # the event through the service's own handler, once


def nuclei_tiles() -> list[tuple[Image.Image, list[dict[str, Any]]]]:
    spec = importlib.util.find_spec("stardist")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the detection data needs the data-only package: pip install --no-deps stardist==0.9.2 "
                    "(make install does)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "images"
    image = np.asarray(Image.open(folder / "img2d.tif")).astype(np.float32)
    mask = np.asarray(Image.open(folder / "mask2d.tif"))
    gray = np.clip(image / image.max() * 255, 0, 255).astype(np.uint8)
    tiles = []
    for top in range(0, gray.shape[0], TILE):
        for left in range(0, gray.shape[1], TILE):
            part = mask[top:top + TILE, left:left + TILE]
            boxes = []
            for instance in np.unique(part):
                ys, xs = np.nonzero(part == instance)
                if instance == 0 or len(xs) < 20:  # background, or a sliver cut by the tile's edge
                    continue
                boxes.append({"type": "bbox", "label": "nucleus", "x": float(xs.min()), "y": float(ys.min()),
                              "w": float(xs.max() - xs.min() + 1), "h": float(ys.max() - ys.min() + 1)})
            tiles.append((Image.fromarray(gray[top:top + TILE, left:left + TILE]), boxes))
    return tiles


def event(topic: str, item_id: str, uri: str, boxes: list[dict[str, Any]] | None = None) -> Event:
    snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality="image", media_uri=uri,
                                       width=TILE, height=TILE)
    payload = (events_pb2.ItemIngested(item=snapshot) if boxes is None else events_pb2.AnnotationAccepted(
        item=snapshot, result_json=json.dumps(boxes)))
    return parse_event(build_envelope(topic, item_id, payload, "test").SerializeToString())


@pytest_asyncio.fixture
async def setup(pool: asyncpg.Pool, tmp_path: Path, encoder: Encoder) -> AsyncIterator[tuple[Worker, LocalObjectStore]]:
    config = WorkerConfig(device="cpu", torch_threads=1, box_epochs=40)
    async with LocalObjectStore(CommonSettings(data_dir=tmp_path)) as store:
        yield Worker(pool, store, config, encoder=encoder), store


ids = partial(split_ids, CONFIG.holdout_fraction, prefix=0x55555555)


@pytest.mark.asyncio
async def test_accepted_boxes_train_a_detector_that_prelabels_the_queue(
        pool: asyncpg.Pool, setup: tuple[Worker, LocalObjectStore]) -> None:
    worker, store = setup
    tiles = nuclei_tiles()
    assert len(tiles) == 16 and sum(len(b) for _, b in tiles) > 100
    labeled_ids = ids(False, 10, 0) + ids(True, 3, 1000)  # 10 to train on, 3 held out
    queue_ids = [str(uuid.uuid4()) for _ in range(3)]
    truth: dict[str, list[dict[str, Any]]] = {}
    for item_id, (tile, boxes) in zip(labeled_ids + queue_ids, tiles, strict=True):
        buf = io.BytesIO()
        tile.save(buf, format="PNG")
        await store.put(f"media/{item_id}.png", buf.getvalue(), "image/png")
        uri = store.uri_for(f"media/{item_id}.png")
        await handle(pool, event(ITEM_INGESTED, item_id, uri))
        if item_id in labeled_ids:
            await handle(pool, event(ANNOTATION_ACCEPTED, item_id, uri, boxes))
        truth[item_id] = boxes
    # a project with both tools: one image labeled with a choice instead of boxes; the detector trains on the boxes
    # (the kind with more labels) and the choice stays out of its training and its held-out judgement
    extra = ids(False, 1, 5000)[0]
    await handle(pool, event(ITEM_INGESTED, extra, uri))
    await handle(pool, event(ANNOTATION_ACCEPTED, extra, uri, [{"type": "choice", "name": "kind", "value": "dense"}]))
    assert await pool.fetchval("SELECT count(*) FROM labels WHERE kind = 'box'") == len(labeled_ids)
    assert await pool.fetchval("SELECT count(*) FROM labels WHERE kind = 'choice'") == 1
    assert await pool.fetchval("SELECT count(*) FROM training_jobs") == 1

    assert await worker.train_once()
    row = await pool.fetchrow("SELECT model_version, plugin, status, metrics::text AS m FROM model_versions")
    metrics = json.loads(row["m"])
    assert (row["plugin"], row["status"], metrics["incumbent_kind"]) == ("image-bbox-centernet", "promoted",
                                                                          "no_boxes_baseline")
    assert metrics["candidate"]["box_f1"] >= 0.5 > metrics["incumbent"]["box_f1"], metrics

    assert await worker.score_once()
    found = {str(r["item_id"]): json.loads(r["result_json"]) for r in await pool.fetch(
        "SELECT item_id, result_json::text AS result_json FROM predictions WHERE model_version = $1",
        row["model_version"])}
    assert set(found) == set(queue_ids)
    assert all(r["type"] == "bbox" and r["label"] == "nucleus" and 0 < r["score"] <= 1 for rs in found.values()
               for r in rs)
    queue_f1 = box_f1([truth[i] for i in queue_ids], [found[i] for i in queue_ids])
    assert queue_f1 >= 0.5, queue_f1  # pre-labels an annotator can mostly keep


def test_box_f1_matches_each_true_box_once_by_label_and_overlap() -> None:
    truth = [[{"type": "bbox", "label": "a", "x": 0, "y": 0, "w": 10, "h": 10},
              {"type": "bbox", "label": "b", "x": 20, "y": 20, "w": 10, "h": 10}]]
    assert box_f1(truth, truth) == 1.0
    assert box_f1(truth, [[]]) == 0.0
    assert box_f1([[]], [[]]) == 1.0
    shifted = [[{"type": "bbox", "label": "a", "x": 2, "y": 0, "w": 10, "h": 10, "score": 0.9},   # IoU 0.67: hit
                {"type": "bbox", "label": "a", "x": 1, "y": 0, "w": 10, "h": 10, "score": 0.5},   # a second: miss
                {"type": "bbox", "label": "a", "x": 20, "y": 20, "w": 10, "h": 10, "score": 0.8}]]  # wrong label
    assert box_f1(truth, shifted) == pytest.approx(2 * 1 / (3 + 2))
