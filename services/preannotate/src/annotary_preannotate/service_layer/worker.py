"""Background work of a preannotate process: training requested by the flywheel, batch inference.

- **Training**: a queued ``training_jobs`` row is claimed with ``FOR UPDATE SKIP LOCKED`` (any number of
  replicas), the project's accepted labels are split by item id into train / held-out, a candidate is fitted,
  both it and the serving model (or the majority-class baseline when none) are evaluated on the held-out
  slice, and the candidate is registered, promoted only when strictly better, with ``model.trained``.
- **Scoring**: every unlabeled text item of a project whose serving version differs from the one it was
  last scored with is predicted in batches: ``item.preannotated`` (the prediction with its model version)
  and ``item.scored`` (its uncertainty) go out through the outbox, in one transaction per batch. New items
  and a newly promoted model (the whole queue is re-scored) take the same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.storage import ObjectStore
from annotary_preannotate.domain.active_learning import UNCERTAINTY
from annotary_preannotate.domain.flywheel import Evaluation, better, evaluate, lineage_digest, majority_baseline
from annotary_preannotate.domain.plugin import Accepted, ItemPrediction, ModelPlugin, NotEnoughData, PredictItem
from annotary_preannotate.models import PLUGINS
from annotary_preannotate.models.text_choice import TextChoiceClassifier
from annotary_preannotate.service_layer import flywheel, registry

log = logging.getLogger(__name__)

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]
PRODUCER = "preannotate"
STALE_JOB = "10 minutes"


@dataclass(frozen=True)
class WorkerConfig:
    sampling: str = "margin"
    predict_batch: int = 128
    poll_interval_s: float = 0.5
    model_prefix: str = "preannotate/models"
    device: str = "auto"


def _default_encoder(device: str) -> Encoder:
    def encode(texts: Sequence[str]) -> NDArray[np.float32]:
        from annotary_preannotate.models.embeddings import MiniLMEncoder

        return MiniLMEncoder.shared(device).encode(texts)

    return encode


class Worker:
    def __init__(self, pool: asyncpg.Pool, store: ObjectStore, config: WorkerConfig,
                 encoder: Encoder | None = None) -> None:
        self.pool = pool
        self.store = store
        self.config = config
        self.encoder = encoder or _default_encoder(config.device)
        self._models: dict[str, ModelPlugin] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.train_once()
                busy = await self.score_once() or busy
            except Exception:  # a bad artifact or a lost connection must not stop the service; log and go on
                log.exception("worker step failed; retrying")
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval_s)

    # -- models ------------------------------------------------------------------------------
    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return await asyncio.to_thread(self.encoder, list(texts))

    async def model(self, model_version: str) -> ModelPlugin:
        cached = self._models.get(model_version)
        if cached is not None:
            return cached
        async with self.pool.acquire() as conn:
            found = await registry.artifact_of(conn, model_version)
        if found is None:
            raise KeyError(model_version)
        plugin, key = found
        if plugin not in PLUGINS:
            raise KeyError(f"{model_version}: unknown plugin {plugin!r}")
        data = await self.store.get(key)
        model = TextChoiceClassifier.loads(data, model_version, self.encoder)
        await asyncio.to_thread(model.setup)
        self._models[model_version] = model
        return model

    async def predict(self, model_version: str, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        model = await self.model(model_version)
        return await asyncio.to_thread(model.predict, items)

    def uncertainty(self, prediction: ItemPrediction) -> float:
        if not prediction.probabilities:
            return 1.0 - prediction.score
        return float(UNCERTAINTY[self.config.sampling]([list(prediction.probabilities)])[0])

    # -- training ----------------------------------------------------------------------------
    async def train_once(self) -> bool:
        async with self.pool.acquire() as conn:
            job = await conn.fetchrow(
                f"""
                UPDATE training_jobs SET state = 'running', attempts = attempts + 1, started_at = now()
                WHERE id = (SELECT id FROM training_jobs
                            WHERE state = 'queued'
                               OR (state = 'running' AND started_at < now() - interval '{STALE_JOB}')
                            ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING id, project_id, attempts
                """)
        if job is None:
            return False
        try:
            outcome = await self.train(job["project_id"], job["id"])
        except Exception as exc:
            log.exception("training failed", extra={"project_id": job["project_id"], "job": job["id"]})
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE training_jobs SET state = CASE WHEN attempts >= 3 THEN 'failed' ELSE 'queued' END, "
                    "error = $2, finished_at = now() WHERE id = $1", job["id"], repr(exc)[:2000])
            return True
        log.info("training done", extra={"project_id": job["project_id"], "job": job["id"], "outcome": outcome})
        return True

    async def _finish(self, conn: asyncpg.Connection, job_id: int, note: str | None) -> None:
        await conn.execute("UPDATE training_jobs SET state = 'done', error = $2, finished_at = now() WHERE id = $1",
                           job_id, note)

    async def train(self, project_id: str, job_id: int) -> str:
        async with self.pool.acquire() as conn:
            rows = await flywheel.load_labels(conn, project_id)
            incumbent_version = await registry.serving_version(conn, project_id)
        missing = [r for r in rows if r.embedding is None]
        vectors: dict[str, NDArray[np.float32]] = {
            r.item_id: np.frombuffer(r.embedding, dtype=np.float32) for r in rows if r.embedding is not None}
        if missing:
            fresh = await self.embed([r.text for r in missing])
            vectors.update({r.item_id: fresh[i] for i, r in enumerate(missing)})
            async with self.pool.acquire() as conn:
                await flywheel.store_embeddings(conn, [(r.item_id, fresh[i].tobytes()) for i, r in enumerate(missing)])
        train = [r for r in rows if not r.heldout]
        heldout = [r for r in rows if r.heldout]
        if not heldout:
            async with self.pool.acquire() as conn:
                await self._finish(conn, job_id, "no held-out labels yet")
            return "skipped: no held-out labels"
        examples = [Accepted(r.item_id, r.result, r.text, embedding=vectors[r.item_id]) for r in train]
        base = TextChoiceClassifier("untrained", encoder=self.encoder)
        try:
            candidate, report = await asyncio.to_thread(base.fit, examples, "candidate")
        except NotEnoughData as exc:
            async with self.pool.acquire() as conn:
                await self._finish(conn, job_id, str(exc))
            return f"skipped: {exc}"
        held_items = [PredictItem(r.item_id, r.text, embedding=vectors[r.item_id]) for r in heldout]
        truth = [r.value for r in heldout]
        cand_eval = _evaluate(await asyncio.to_thread(candidate.predict, held_items), truth)
        inc_eval: Evaluation
        if incumbent_version is not None:
            inc_eval = _evaluate(await self.predict(incumbent_version, held_items), truth)
        else:
            inc_eval = majority_baseline([r.value for r in train], truth)
        promoted = better(cand_eval, inc_eval)
        key = f"{self.config.model_prefix}/{project_id}/{uuid.uuid4().hex}.npz"
        await self.store.put(key, candidate.dumps())
        metrics: dict[str, Any] = {"metric": "accuracy", "candidate": cand_eval.as_dict(),
                                   "incumbent": inc_eval.as_dict(),
                                   "incumbent_kind": "model" if incumbent_version else "majority_baseline"}
        training_data = {"labels": len(rows), "train_items": len(train), "heldout_items": len(heldout),
                         "last_label_seq": max(r.seq for r in rows), "items_digest": lineage_digest(
                             [r.item_id for r in train]), "classes": list(report.classes),
                         "class_counts": report.details.get("class_counts", {}), "encoder": "all-MiniLM-L6-v2"}
        async with self.pool.acquire() as conn, conn.transaction():
            number = await registry.next_number(conn, project_id)
            version = registry.version_name(TextChoiceClassifier.name, project_id, number)
            candidate.model_version = version
            await registry.record_trained(
                conn, model_version=version, project_id=project_id, plugin=TextChoiceClassifier.name, number=number,
                promoted=promoted, parent_version=incumbent_version, metrics=metrics,
                training_items=report.training_items, heldout_items=len(heldout), training_data=training_data,
                artifact_key=key)
            await self._finish(conn, job_id, None)
        self._models[version] = candidate
        self.wake()
        return f"{version} {'promoted' if promoted else 'rejected'}: accuracy {cand_eval.accuracy:.3f} vs " \
               f"{inc_eval.accuracy:.3f}"

    # -- scoring -----------------------------------------------------------------------------
    async def score_once(self) -> bool:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT i.item_id, i.project_id, i.text, i.embedding, p.serving_version
                FROM items i JOIN projects p USING (project_id)
                WHERE i.needs_score AND p.serving_version IS NOT NULL
                ORDER BY i.seq LIMIT $1
                """, self.config.predict_batch)
        if not rows:
            return False
        by_version: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_version.setdefault(row["serving_version"], []).append(row)
        for version, group in by_version.items():
            await self._score(version, group)
        return True

    async def _score(self, version: str, rows: Sequence[asyncpg.Record]) -> None:
        missing = [r for r in rows if r["embedding"] is None]
        vectors: dict[str, NDArray[np.float32]] = {
            str(r["item_id"]): np.frombuffer(r["embedding"], dtype=np.float32) for r in rows
            if r["embedding"] is not None}
        if missing:
            fresh = await self.embed([r["text"] for r in missing])
            vectors.update({str(r["item_id"]): fresh[i] for i, r in enumerate(missing)})
        items = [PredictItem(str(r["item_id"]), r["text"], embedding=vectors[str(r["item_id"])]) for r in rows]
        predictions = await self.predict(version, items)
        async with self.pool.acquire() as conn, conn.transaction():
            for row, prediction in zip(rows, predictions, strict=True):
                await self._publish(conn, row, prediction, vectors[prediction.item_id])
        log.info("items scored", extra={"model_version": version, "items": len(rows)})

    async def _publish(self, conn: asyncpg.Connection, row: asyncpg.Record, prediction: ItemPrediction,
                       vector: NDArray[np.float32]) -> None:
        item_id, project_id = prediction.item_id, row["project_id"]
        claimed = await conn.fetchval(
            "UPDATE items SET scored_version = $2, needs_score = false, embedding = coalesce(embedding, $3) "
            "WHERE item_id = $1 AND needs_score AND NOT labeled "
            "AND $2 = (SELECT serving_version FROM projects p WHERE p.project_id = items.project_id) RETURNING true",
            row["item_id"], prediction.model_version, vector.tobytes())
        if not claimed:
            return  # labeled meanwhile, scored by another replica, or a newer version serves now
        result_json = json.dumps(prediction.result)
        inserted = await conn.fetchval(
            "INSERT INTO predictions (item_id, model_version, project_id, score, result_json) "
            "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (item_id, model_version) DO NOTHING RETURNING true",
            row["item_id"], prediction.model_version, project_id, prediction.score, result_json)
        if inserted:
            await outbox.add_event(conn, topics.ITEM_PREANNOTATED, key=item_id, producer=PRODUCER,
                                   payload=events_pb2.ItemPreannotated(
                                       item_id=item_id, project_id=project_id, predictions=[events_pb2.Prediction(
                                           model_version=prediction.model_version, score=prediction.score,
                                           result_json=result_json)]))
        await outbox.add_event(conn, topics.ITEM_SCORED, key=item_id, producer=PRODUCER,
                               payload=events_pb2.ItemScored(item_id=item_id, project_id=project_id,
                                                             score=self.uncertainty(prediction),
                                                             model_version=prediction.model_version))


def _evaluate(predictions: Sequence[ItemPrediction], truth: Sequence[str]) -> Evaluation:
    predicted: list[str] = []
    prob_of_truth: list[float] = []
    for p, t in zip(predictions, truth, strict=True):
        best = int(np.argmax(p.probabilities))
        predicted.append(p.classes[best])
        prob_of_truth.append(p.probabilities[p.classes.index(t)] if t in p.classes else 0.0)
    return evaluate(truth, predicted, prob_of_truth)
