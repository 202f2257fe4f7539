"""The flywheel on the real Postgres (127.0.0.1:5432): accepted labels -> training request -> candidate
trained, evaluated on the held-out slice, registered and promoted -> the queue predicted and scored;
and the gRPC servicer. A bag-of-words encoder stands in for MiniLM (conftest), so no torch here."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from annotary.events.v1 import events_pb2
from annotary.preannotate.v1 import preannotate_pb2
from annotary_common.bus import PermanentError
from annotary_common.events import Event, build_envelope, parse_event
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.topics import ANNOTATION_ACCEPTED, ITEM_INGESTED
from annotary_preannotate.entrypoints.grpc_api import PreannotateServicer
from annotary_preannotate.models.text_choice import Encoder
from annotary_preannotate.service_layer import flywheel
from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

from .conftest import deliver, split_ids

pytestmark = pytest.mark.asyncio

PROJECT = "11111111-1111-4111-8111-111111111111"
CONFIG = flywheel.FlywheelConfig(retrain_every=10, holdout_fraction=0.3)
POS = ["great wonderful film", "loved it wonderful", "great acting loved", "wonderful great story", "loved great"]
NEG = ["awful boring film", "hated it boring", "awful acting hated", "boring awful story", "hated awful"]

handle = partial(deliver, config=CONFIG)  # the event through the service's own handler, once


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    async with LocalObjectStore(CommonSettings(data_dir=tmp_path)) as store:
        yield store


@pytest_asyncio.fixture
async def worker(pool: asyncpg.Pool, store: LocalObjectStore, encoder: Encoder) -> Worker:
    return Worker(pool, store, WorkerConfig(selection="uncertainty"), encoder=encoder)


item_ids = partial(split_ids, CONFIG.holdout_fraction)


def snapshot(item_id: str, text: str, modality: str = "text") -> events_pb2.ItemSnapshot:
    return events_pb2.ItemSnapshot(item_id=item_id, project_id=PROJECT, modality=modality, text=text)


def ingested(item_id: str, text: str) -> Event:
    payload = events_pb2.ItemIngested(item=snapshot(item_id, text))
    return parse_event(build_envelope(ITEM_INGESTED, item_id, payload, "ingest").SerializeToString())


def accepted(item_id: str, text: str, value: str, modality: str = "text") -> Event:
    result = [{"type": "choice", "name": "sentiment", "value": value}]
    payload = events_pb2.AnnotationAccepted(item=snapshot(item_id, text, modality), result_json=json.dumps(result))
    return parse_event(build_envelope(ANNOTATION_ACCEPTED, item_id, payload, "qa").SerializeToString())


async def drain_outbox(pool: asyncpg.Pool) -> list[tuple[str, str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("DELETE FROM outbox RETURNING id, topic, key, envelope")
    return [(r["topic"], r["key"], parse_event(bytes(r["envelope"])).payload) for r in sorted(rows, key=lambda r: r[0])]


async def label_round(pool: asyncpg.Pool, start: int) -> None:
    """10 accepted labels: 7 to train on (both classes), 3 held out (both classes)."""
    train, held = item_ids(False, 7, start), item_ids(True, 3, start)
    texts = [(POS + NEG)[i % 10] for i in range(10)]
    values = ["pos" if (i % 10) < 5 else "neg" for i in range(10)]
    order = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]
    for n, iid in zip(order, train + held, strict=True):
        await handle(pool, ingested(iid, texts[n]))
        await handle(pool, accepted(iid, texts[n], values[n]))


async def test_flywheel_trains_promotes_and_scores(pool: asyncpg.Pool, worker: Worker) -> None:
    queue = item_ids(False, 3, 500)
    for iid, text in zip(queue, ["wonderful loved", "boring hated", "great but boring"], strict=True):
        await handle(pool, ingested(iid, text))
    assert not await worker.score_once()  # no model yet: nothing to predict
    assert not await worker.train_once()

    await label_round(pool, 0)
    await drain_outbox(pool)
    assert await worker.train_once()
    [(topic, key, trained)] = await drain_outbox(pool)
    assert (topic, key) == ("model.trained", PROJECT)
    v1 = f"text-choice-minilm-logreg@{PROJECT}/v1"
    assert (trained.model_version, trained.promoted, trained.promoted_by, trained.incumbent_version) == (
        v1, True, "flywheel", "")
    assert (trained.training_items, trained.heldout_items, trained.metric) == (7, 3, "accuracy")
    assert trained.candidate_value == 1.0 and trained.candidate_value > trained.incumbent_value
    assert json.loads(trained.metrics_json)["incumbent_kind"] == "majority_baseline"

    assert await worker.score_once()
    events = await drain_outbox(pool)
    assert sorted({key for _, key, _ in events}) == sorted(queue)  # only unlabeled items
    pre = {key: p for topic, key, p in events if topic == "item.preannotated"}
    scored = {key: p for topic, key, p in events if topic == "item.scored"}
    assert set(pre) == set(scored) == set(queue)
    values = {k: json.loads(p.predictions[0].result_json)[0]["value"] for k, p in pre.items()}
    assert (values[queue[0]], values[queue[1]]) == ("pos", "neg")
    assert all(p.predictions[0].model_version == v1 for p in pre.values())
    assert all(s.model_version == v1 and 0.0 <= s.score <= 1.0 for s in scored.values())
    assert scored[queue[2]].score > max(scored[queue[0]].score, scored[queue[1]].score)  # mixed: most uncertain
    assert not await worker.score_once()  # everything is scored with the serving version

    # A new item is predicted by the serving model as it arrives.
    late = item_ids(False, 1, 900)[0]
    await handle(pool, ingested(late, "loved it great"))
    assert await worker.score_once()
    assert {t for t, k, _ in await drain_outbox(pool) if k == late} == {"item.preannotated", "item.scored"}

    # A second batch of labels: a candidate v2 is compared with v1 on the same held-out slice.
    await label_round(pool, 100)
    assert await worker.train_once()
    [(topic, _, second)] = await drain_outbox(pool)
    assert topic == "model.trained" and second.model_version.endswith("/v2") and second.incumbent_version == v1
    assert second.training_items == 14 and second.heldout_items == 6
    rescored = await worker.score_once()
    assert rescored == second.promoted  # promotion re-scores the queue; a rejected candidate changes nothing

    # The registry over gRPC: lineage, prediction on demand, manual promotion.
    servicer = PreannotateServicer(pool, worker)
    listed = await servicer.ListModelVersions(preannotate_pb2.ListModelVersionsRequest(project_id=PROJECT), None)
    assert [v.model_version for v in listed.versions] == [second.model_version, v1]
    first = listed.versions[1]
    assert first.status == "promoted" and first.promoted_by == "flywheel" and first.parent_version == ""
    lineage = json.loads(first.training_data_json)
    assert (lineage["train_items"], lineage["heldout_items"], lineage["classes"]) == (7, 3, ["neg", "pos"])
    assert listed.versions[0].parent_version == v1
    reply = await servicer.Predict(preannotate_pb2.PredictRequest(
        project_id=PROJECT, model_version=v1, items=[preannotate_pb2.PredictItem(item_id="q", text="awful boring")]),
        None)
    [p] = reply.predictions
    assert (p.item_id, p.model_version, json.loads(p.result_json)[0]["value"]) == ("q", v1, "neg")
    promoted = await servicer.PromoteModelVersion(preannotate_pb2.PromoteModelVersionRequest(
        project_id=PROJECT, model_version=v1, actor="manager-1"), None)
    assert promoted.serving and promoted.promoted_by == "manager-1"


async def test_accepted_labels_are_counted_once_and_filtered(pool: asyncpg.Pool) -> None:
    [iid] = item_ids(False, 1)
    await handle(pool, accepted(iid, "loved it", "pos"))
    await handle(pool, accepted(iid, "loved it", "neg"))      # a later round: the label changes, not the count
    await handle(pool, accepted(item_ids(False, 1, 50)[0], "x", "pos", modality="image"))  # not a text item
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT accepted FROM projects") == 1
        assert await conn.fetchval("SELECT value FROM labels") == "neg"
        assert await conn.fetchval("SELECT count(*) FROM training_jobs") == 0
    with pytest.raises(PermanentError, match="not a UUID"):
        await handle(pool, accepted("item-1", "t", "pos"))


async def test_training_waits_for_both_classes(pool: asyncpg.Pool, worker: Worker) -> None:
    for iid in item_ids(False, 7) + item_ids(True, 3):
        await handle(pool, accepted(iid, "loved it", "pos"))
    assert await worker.train_once()
    async with pool.acquire() as conn:
        job = await conn.fetchrow("SELECT state, error FROM training_jobs")
        assert await conn.fetchval("SELECT count(*) FROM model_versions") == 0
    assert job is not None and job["state"] == "done" and "two classes" in job["error"]


# -- the queue order beyond per-item uncertainty: information density, and batch selection ------------------------
async def serving_model(pool: asyncpg.Pool, worker: Worker) -> None:
    await label_round(pool, 0)
    assert await worker.train_once()
    await drain_outbox(pool)


async def test_density_puts_typical_uncertain_items_before_outliers(
        pool: asyncpg.Pool, store: LocalObjectStore, encoder: Encoder) -> None:
    worker = Worker(pool, store, WorkerConfig(selection="density", density_neighbours=3), encoder=encoder)
    typical = item_ids(False, 6, 500)
    texts = ["great but boring", "great but boring story", "loved it but boring", "great yet boring film",
             "wonderful but boring", "great but hated"]
    for iid, text in zip(typical, texts, strict=True):
        await handle(pool, ingested(iid, text))
    [outlier] = item_ids(False, 1, 700)
    await handle(pool, ingested(outlier, "zebra quantum teapot"))  # no word the model knows: as uncertain as it gets
    await serving_model(pool, worker)
    assert await worker.score_once()
    scored = {key: p.score for topic, key, p in await drain_outbox(pool) if topic == "item.scored"}
    uncertainty = {str(r["item_id"]): r["uncertainty"] for r in await pool.fetch(
        "SELECT item_id, uncertainty FROM items WHERE NOT labeled")}
    assert uncertainty[outlier] >= max(uncertainty[i] for i in typical)  # by uncertainty alone it would come first
    assert scored[outlier] < min(scored[i] for i in typical)  # weighted by density it waits
    assert all(0.0 <= scored[i] <= uncertainty[i] + 1e-6 for i in scored)


@pytest.mark.parametrize("selection", ["hybrid", "diversity"])
async def test_batch_selection_comes_first_and_is_chosen_again_as_labels_come_in(
        pool: asyncpg.Pool, store: LocalObjectStore, encoder: Encoder, selection: str) -> None:
    worker = Worker(pool, store, WorkerConfig(selection=selection, selection_size=3), encoder=encoder)
    queue = item_ids(False, 10, 500)
    words = ["great", "boring", "loved", "awful", "story", "acting", "film", "hated", "wonderful", "plot"]
    for n, iid in enumerate(queue):
        await handle(pool, ingested(iid, f"{words[n]} {words[(n + 3) % 10]} but {words[(n + 7) % 10]}"))
    assert not await worker.select_once()  # no model: nothing to select from
    await serving_model(pool, worker)
    assert await worker.score_once()
    await drain_outbox(pool)
    assert await worker.select_once()
    first = [(key, p.score) for topic, key, p in await drain_outbox(pool) if topic == "item.scored"]
    assert len(first) == 3 and all(1.0 < score <= 2.0 for _, score in first)
    assert [score for _, score in first] == sorted((score for _, score in first), reverse=True)  # its order
    ranks = {str(r["item_id"]): r["selected_rank"] for r in await pool.fetch(
        "SELECT item_id, selected_rank FROM items WHERE selected_rank IS NOT NULL")}
    assert ranks == {key: n + 1 for n, (key, _) in enumerate(first)}
    assert not await worker.select_once()  # nothing new: not chosen again

    # two of the batch get labeled (half a batch, rounded up): the next batch is chosen; the third item of the
    # first batch is either chosen again or goes back to its uncertainty
    for key, _ in first[:2]:
        await handle(pool, accepted(key, "great", "pos"))
    await drain_outbox(pool)
    assert await worker.select_once()
    second = {key: p.score for topic, key, p in await drain_outbox(pool) if topic == "item.scored"}
    boosted = {k for k, v in second.items() if v > 1.0}
    assert len(boosted) == 3 and not boosted & {key for key, _ in first[:2]}  # labeled items are not chosen
    leftover = first[2][0]
    assert leftover in boosted or second[leftover] <= 1.0
    assert await pool.fetchval("SELECT count(*) FROM items WHERE selected_rank IS NOT NULL") == 3


async def test_a_new_serving_version_rescores_only_the_window_of_the_queue_served_next(
        pool: asyncpg.Pool, store: LocalObjectStore, encoder: Encoder) -> None:
    worker = Worker(pool, store, WorkerConfig(selection="uncertainty", rescore_window=2), encoder=encoder)
    queue = item_ids(False, 5, 500)
    for iid, text in zip(queue, ["great but boring", "loved it", "awful", "wonderful film", "hated it"], strict=True):
        await handle(pool, ingested(iid, text))
    await serving_model(pool, worker)  # promoted: the first two unlabeled items (never scored, by arrival) queued
    while await worker.score_once():
        pass
    scored = [str(r["item_id"]) for r in await pool.fetch("SELECT item_id FROM predictions ORDER BY item_id")]
    assert sorted(scored) == sorted(queue[:2])
    late = item_ids(False, 1, 900)[0]
    await handle(pool, ingested(late, "loved it great"))  # a new item is scored as it arrives, window or not
    assert await worker.score_once()
    assert await pool.fetchval("SELECT count(*) FROM predictions WHERE item_id = $1", uuid.UUID(late)) == 1
