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
import dataclasses
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.metrics import MODEL_ACCURACY, PREANNOTATE_LATENCY
from annotary_common.storage import ObjectStore
from annotary_preannotate.domain.active_learning import (
    UNCERTAINTY,
    density_weighted,
    hybrid_from_scores,
    information_density,
    k_center_greedy,
)
from annotary_preannotate.domain.flywheel import (
    Evaluation,
    better,
    box_f1,
    evaluate,
    lineage_digest,
    majority_baseline,
    span_f1,
)
from annotary_preannotate.domain.plugin import (
    Accepted,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
)
from annotary_preannotate.models import PLUGINS, REMOTE, load_plugin
from annotary_preannotate.models.box_detector import BoxDetector
from annotary_preannotate.models.energy_vad import decode_audio
from annotary_preannotate.models.image_choice import ImageChoiceCNN
from annotary_preannotate.models.ner_transformer import TransformerNER
from annotary_preannotate.models.text_choice import TextChoiceClassifier
from annotary_preannotate.service_layer import flywheel, registry

log = logging.getLogger(__name__)

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]
PRODUCER = "preannotate"
STALE_JOB = "10 minutes"


@dataclass(frozen=True)
class WorkerConfig:
    sampling: str = "margin"
    selection: str = "density"         # uncertainty | density | diversity | hybrid (see settings.py)
    selection_size: int = 100          # a batch of the diversity and hybrid selections
    density_neighbours: int = 50       # information density: mean similarity to this many nearest items...
    density_reference: int = 2000      # ...among a sample of this many of the project's items
    density_power: float = 2.0
    predict_batch: int = 128
    poll_interval_s: float = 0.5
    model_prefix: str = "preannotate/models"
    device: str = "auto"
    ner_base: str = "minilm"          # the NER flywheel's transformer: minilm (fine-tuned) | tiny (from scratch)
    ner_epochs: int = 8
    ner_learning_rate: float = 5e-5
    torch_threads: int = 0             # torch's threads while training (0: torch's default)
    image_epochs: int = 30             # the image classifier's training epochs
    box_epochs: int = 60               # the box detector's training epochs
    rescore_window: int = registry.RESCORE_WINDOW  # unlabeled items a newly serving version re-scores


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
        self._accuracy_label: dict[str, str] = {}  # project -> the model version its accuracy gauge names
        self._references: dict[str, tuple[float, NDArray[np.float32]]] = {}  # project -> (when, sampled embeddings)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.train_once()
                busy = await self.score_once() or busy
                busy = await self.select_once() or busy
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
        model = load_plugin(plugin, data, model_version, self.encoder)
        await asyncio.to_thread(model.setup)
        self._models[model_version] = model
        return model

    async def image(self, uri: str) -> Any:
        """An item's image, decoded (PIL), from the object store or its source URI."""
        from PIL import Image

        data = await self.store.read_uri(uri)

        def decode() -> Any:
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB")

        return await asyncio.to_thread(decode)

    async def _decodable(self, rows: Sequence[asyncpg.Record], into: dict[str, tuple[Any, int]]
                         ) -> list[asyncpg.Record]:
        """The rows whose audio decodes (decoded into ``into``); one that does not is logged and taken off the
        scoring queue, so a bad file never holds up the rest."""
        kept = []
        for r in rows:
            try:
                into[str(r["item_id"])] = await self.audio(r["media_uri"])
            except Exception as exc:
                log.warning("audio not decodable; not pre-labeled", extra={"item_id": str(r["item_id"]),
                                                                          "error": repr(exc)[:500]})
                async with self.pool.acquire() as conn:
                    await conn.execute("UPDATE items SET needs_score = false WHERE item_id = $1", r["item_id"])
                continue
            kept.append(r)
        return kept

    async def audio(self, uri: str) -> tuple[Any, int]:
        """An item's audio, decoded to mono float32 samples and their rate, from the object store or its source."""
        data = await self.store.read_uri(uri)
        return await asyncio.to_thread(decode_audio, data)

    async def predict(self, model_version: str, items: Sequence[PredictItem],
                      project_id: str = "") -> list[ItemPrediction]:
        model = await self.model(model_version)
        start = time.perf_counter()
        predictions = await asyncio.to_thread(model.predict, items)
        # A prediction carries the registry's name of the model (a remote model reports its own version too,
        # recorded when it was connected): the pre-label traces back to the registry and its lineage.
        predictions = [p if p.model_version == model_version else dataclasses.replace(p, model_version=model_version)
                       for p in predictions]
        if project_id:  # one predict call (a batch); evaluations on held-out data are not serving latency
            PREANNOTATE_LATENCY.labels(project_id, model_version).observe(time.perf_counter() - start)
        return predictions

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
        async with self.pool.acquire() as conn:
            # This run reads every label there is now, so the project's other queued requests are covered by it: a
            # busy project never holds many runs' worth of requests ahead of another project's first one.
            await conn.execute(
                "UPDATE training_jobs SET state = 'done', error = 'superseded by job ' || $2::text, "
                "finished_at = now() WHERE project_id = $1 AND state = 'queued' AND id <> $2",
                job["project_id"], job["id"])
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
            incumbent = await registry.artifact_of(conn, incumbent_version) if incumbent_version else None
            if incumbent is not None and incumbent[0] in REMOTE:
                await self._finish(conn, job_id, f"{incumbent_version} is a connected {incumbent[0]} model; "
                                                 "it trains on its own side")
                return f"skipped: {incumbent_version} is a connected model"
        try:
            if rows and all(r.kind == "span" for r in rows):
                return await self._train_spans(project_id, job_id, rows, incumbent_version)
            if rows and all(r.modality == "image" for r in rows):
                # an image project with both boxes and choices trains one kind of model: the serving one's, else
                # the kind with more labels; each model learns from (and is judged on) its own kind of label only
                boxes, choices = [r for r in rows if r.kind == "box"], [r for r in rows if r.kind == "choice"]
                serving = incumbent[0] if incumbent is not None else None
                if boxes and (serving == BoxDetector.name or (serving != ImageChoiceCNN.name
                                                             and len(boxes) >= len(choices))):
                    return await self._train_boxes(project_id, job_id, boxes, incumbent_version)
                return await self._train_images(project_id, job_id, choices, incumbent_version)
            return await self._train_texts(project_id, job_id, rows, incumbent_version)
        except _Skipped as skipped:  # no candidate this time; the job's note says why
            async with self.pool.acquire() as conn:
                await self._finish(conn, job_id, str(skipped))
            return f"skipped: {skipped}"

    async def _train_texts(self, project_id: str, job_id: int, rows: Sequence[flywheel.LabeledRow],
                           incumbent_version: str | None) -> str:
        """The text flywheel: the MiniLM + logistic-regression classifier on the accepted text choices, judged by
        accuracy on the held-out slice against the serving model (or the majority class)."""
        rows = [r for r in rows if r.kind == "choice"]
        missing = [r for r in rows if r.embedding is None]
        vectors: dict[str, NDArray[np.float32]] = {
            r.item_id: np.frombuffer(r.embedding, dtype=np.float32) for r in rows if r.embedding is not None}
        if missing:
            fresh = await self.embed([r.text for r in missing])
            vectors.update({r.item_id: fresh[i] for i, r in enumerate(missing)})
            async with self.pool.acquire() as conn:
                await flywheel.store_embeddings(conn, [(r.item_id, fresh[i].tobytes()) for i, r in enumerate(missing)])
        train, heldout = _split(rows)
        examples = [Accepted(r.item_id, r.result, r.text, embedding=vectors[r.item_id]) for r in train]
        candidate, report = await _fit(TextChoiceClassifier("untrained", encoder=self.encoder), examples)
        held_items = [PredictItem(r.item_id, r.text, embedding=vectors[r.item_id]) for r in heldout]
        return await self._judge_choice_model(
            project_id, job_id, candidate, report, incumbent_version, rows, train, heldout, held_items,
            lineage={"class_counts": report.details.get("class_counts", {}), "encoder": "all-MiniLM-L6-v2"})

    async def _train_images(self, project_id: str, job_id: int, rows: Sequence[flywheel.LabeledRow],
                            incumbent_version: str | None) -> str:
        """The image flywheel: train the small CNN on the accepted choices, compare it with the serving model (or
        the majority class) by accuracy on the held-out slice, promote only when strictly better."""
        train, heldout, held_items, candidate, report = await self._fit_pictures(rows, ImageChoiceCNN(
            "untrained", epochs=self.config.image_epochs, device=self.config.device,
            threads=self.config.torch_threads))
        return await self._judge_choice_model(
            project_id, job_id, candidate, report, incumbent_version, rows, train, heldout, held_items,
            lineage={"class_counts": report.details.get("class_counts", {})})

    async def _judge_choice_model(
        self, project_id: str, job_id: int, candidate: ModelPlugin, report: FitReport, incumbent_version: str | None,
        rows: Sequence[flywheel.LabeledRow], train: Sequence[flywheel.LabeledRow],
        heldout: Sequence[flywheel.LabeledRow], held_items: list[PredictItem], lineage: dict[str, Any],
    ) -> str:
        """A choice model (text or image) against the serving model, or the majority class when none serves, by
        accuracy on the held-out slice; registered either way, promoted only when strictly better."""
        truth = [r.value for r in heldout]
        cand_eval = _evaluate(await asyncio.to_thread(candidate.predict, held_items), truth)
        inc_eval: Evaluation
        if incumbent_version is not None:
            inc_eval = _evaluate(await self.predict(incumbent_version, held_items), truth)
        else:
            inc_eval = majority_baseline([r.value for r in train], truth)
        promoted = better(cand_eval, inc_eval)
        metrics: dict[str, Any] = {"metric": "accuracy", "candidate": cand_eval.as_dict(),
                                   "incumbent": inc_eval.as_dict(),
                                   "incumbent_kind": "model" if incumbent_version else "majority_baseline"}
        version = await self._register(
            project_id, job_id, candidate, report, promoted=promoted, incumbent_version=incumbent_version,
            metrics=metrics, rows=rows, train=train, heldout=heldout, lineage=lineage,
            artifact=(candidate.dumps(), "npz", "application/octet-stream"),
            serving=(cand_eval.accuracy, inc_eval.accuracy))
        return f"{version} {'promoted' if promoted else 'rejected'}: accuracy {cand_eval.accuracy:.3f} vs " \
               f"{inc_eval.accuracy:.3f}"

    async def _train_boxes(self, project_id: str, job_id: int, rows: Sequence[flywheel.LabeledRow],
                           incumbent_version: str | None) -> str:
        """The detection flywheel: train the small CenterNet-style detector on the accepted boxes (pixels read from
        the object store), compare it with the serving model (or with predicting no box at all) by box F1 at IoU
        0.5 on the held-out slice, promote only when strictly better."""
        train, heldout, held_items, candidate, report = await self._fit_pictures(rows, BoxDetector(
            "untrained", epochs=self.config.box_epochs, device=self.config.device, threads=self.config.torch_threads))
        return await self._judge_regions(
            project_id, job_id, candidate, report, incumbent_version, rows, train, heldout, held_items,
            score=box_f1, metric="box_f1", baseline="no_boxes_baseline",
            lineage={"box_counts": report.details.get("box_counts", {}), "epochs": report.details.get("epochs")},
            artifact=(candidate.dumps(), "npz", "application/octet-stream"))

    async def _train_spans(self, project_id: str, job_id: int, rows: Sequence[flywheel.LabeledRow],
                           incumbent_version: str | None) -> str:
        """The NER flywheel: fine-tune the token-classification transformer on the accepted spans, compare it
        with the serving model (or with predicting no span at all) by span F1 on the held-out slice, promote
        only when strictly better."""
        train, heldout = _split(rows)
        base = TransformerNER("untrained", base=self.config.ner_base, epochs=self.config.ner_epochs,
                              learning_rate=self.config.ner_learning_rate, device=self.config.device,
                              threads=self.config.torch_threads)
        candidate, report = await _fit(base, [Accepted(r.item_id, r.result, r.text) for r in train])
        return await self._judge_regions(
            project_id, job_id, candidate, report, incumbent_version, rows, train, heldout,
            [PredictItem(r.item_id, r.text) for r in heldout], score=span_f1, metric="span_f1",
            baseline="no_spans_baseline",
            lineage={"base": report.details.get("base"), "epochs": report.details.get("epochs")},
            artifact=(await asyncio.to_thread(candidate.dumps), "tar.gz", "application/gzip"))

    async def _fit_pictures(self, rows: Sequence[flywheel.LabeledRow], base: ModelPlugin) -> tuple[
            list[flywheel.LabeledRow], list[flywheel.LabeledRow], list[PredictItem], ModelPlugin, FitReport]:
        """An image model fitted on the training slice's pictures (read once from the object store): (train, held
        out, the held-out items to judge it on, the candidate, its report)."""
        train, heldout = _split(rows)
        pictures = {r.item_id: await self.image(r.media_uri) for r in rows}
        candidate, report = await _fit(base, [Accepted(r.item_id, r.result, image=pictures[r.item_id])
                                              for r in train])
        return train, heldout, [PredictItem(r.item_id, image=pictures[r.item_id]) for r in heldout], candidate, report

    async def _judge_regions(
        self, project_id: str, job_id: int, candidate: ModelPlugin, report: FitReport, incumbent_version: str | None,
        rows: Sequence[flywheel.LabeledRow], train: Sequence[flywheel.LabeledRow],
        heldout: Sequence[flywheel.LabeledRow], held_items: list[PredictItem], *,
        score: Callable[[Sequence[Any], Sequence[Any]], float], metric: str, baseline: str,
        lineage: dict[str, Any], artifact: tuple[bytes, str, str],
    ) -> str:
        """A region model (spans, boxes) against the serving model, or against predicting no region at all, by
        ``score`` (an F1) on the held-out slice; registered either way, promoted only when strictly better."""
        truth = [r.result for r in heldout]
        cand = score(truth, [p.result for p in await asyncio.to_thread(candidate.predict, held_items)])
        if incumbent_version is not None:
            inc = score(truth, [p.result for p in await self.predict(incumbent_version, held_items)])
        else:
            inc = score(truth, [[] for _ in heldout])
        promoted = cand > inc
        metrics: dict[str, Any] = {"metric": metric, "candidate": {metric: cand, "items": len(heldout)},
                                   "incumbent": {metric: inc, "items": len(heldout)},
                                   "incumbent_kind": "model" if incumbent_version else baseline}
        version = await self._register(
            project_id, job_id, candidate, report, promoted=promoted, incumbent_version=incumbent_version,
            metrics=metrics, rows=rows, train=train, heldout=heldout, lineage=lineage, artifact=artifact,
            serving=(cand, inc))
        return f"{version} {'promoted' if promoted else 'rejected'}: {metric} {cand:.3f} vs {inc:.3f}"

    async def _register(self, project_id: str, job_id: int, candidate: ModelPlugin, report: FitReport, *,
                        promoted: bool, incumbent_version: str | None, metrics: dict[str, Any],
                        rows: Sequence[flywheel.LabeledRow], train: Sequence[flywheel.LabeledRow],
                        heldout: Sequence[flywheel.LabeledRow], lineage: dict[str, Any],
                        artifact: tuple[bytes, str, str], serving: tuple[float, float]) -> str:
        """Store a trained candidate's weights, register it with its lineage (serving it when promoted), finish
        the job, and set the serving model's held-out figure (``serving``: candidate's, incumbent's)."""
        data, suffix, content_type = artifact
        key = f"{self.config.model_prefix}/{project_id}/{uuid.uuid4().hex}.{suffix}"
        await self.store.put(key, data, content_type)
        training_data = {"labels": len(rows), "train_items": len(train), "heldout_items": len(heldout),
                         "last_label_seq": max(r.seq for r in rows),
                         "items_digest": lineage_digest([r.item_id for r in train]), "classes": list(report.classes),
                         **lineage}
        async with self.pool.acquire() as conn, conn.transaction():
            number = await registry.next_number(conn, project_id)
            version = registry.version_name(candidate.name, project_id, number)
            candidate.model_version = version
            await registry.record_trained(
                conn, model_version=version, project_id=project_id, plugin=candidate.name, number=number,
                promoted=promoted, parent_version=incumbent_version, metrics=metrics,
                training_items=report.training_items, heldout_items=len(heldout), training_data=training_data,
                artifact_key=key, window=self.config.rescore_window)
            await self._finish(conn, job_id, None)
        self._models[version] = candidate
        if promoted:
            self._serving_accuracy(project_id, version, serving[0])
        elif incumbent_version is not None:
            self._serving_accuracy(project_id, incumbent_version, serving[1])
        self.wake()
        return version

    def _serving_accuracy(self, project_id: str, model_version: str, accuracy: float) -> None:
        previous = self._accuracy_label.get(project_id)
        if previous is not None and previous != model_version:
            with contextlib.suppress(KeyError):
                MODEL_ACCURACY.remove(project_id, previous)
        MODEL_ACCURACY.labels(project_id, model_version).set(accuracy)
        self._accuracy_label[project_id] = model_version

    # -- scoring -----------------------------------------------------------------------------
    async def score_once(self) -> bool:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """
                SELECT i.item_id, i.project_id, i.text, i.embedding, i.modality, i.media_uri, p.serving_version
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
            model = await self.model(version)
            # media is decoded whole: at most the plugin's batch of images or recordings in memory at once
            step = model.capabilities.batch_size if model.capabilities.modality in ("image", "audio") else len(group)
            for start in range(0, len(group), max(1, step)):
                await self._score(version, group[start:start + max(1, step)])
        return True

    async def _score(self, version: str, rows: Sequence[asyncpg.Record]) -> None:
        vectors: dict[str, NDArray[np.float32]] = {
            str(r["item_id"]): np.frombuffer(r["embedding"], dtype=np.float32) for r in rows
            if r["embedding"] is not None}
        # Embeddings only for a model that reads them (a connected remote model does not wait for the encoder).
        missing = [r for r in rows if r["embedding"] is None]
        if missing and (await self.model(version)).capabilities.needs_embedding:
            fresh = await self.embed([r["text"] for r in missing])
            vectors.update({str(r["item_id"]): fresh[i] for i, r in enumerate(missing)})
        model = await self.model(version)
        images: dict[str, Any] = {}
        audio: dict[str, tuple[Any, int]] = {}
        if model.capabilities.modality == "image":
            images = {str(r["item_id"]): await self.image(r["media_uri"]) for r in rows}
        elif model.capabilities.modality == "audio":
            rows = await self._decodable(rows, audio)
            if not rows:
                return
        items = [PredictItem(str(r["item_id"]), r["text"], embedding=vectors.get(str(r["item_id"])),
                             image=images.get(str(r["item_id"])), media_uri=r["media_uri"],
                             audio=audio.get(str(r["item_id"]), (None, 0))[0],
                             sample_rate=audio.get(str(r["item_id"]), (None, 0))[1]) for r in rows]
        predictions = await self.predict(version, items, project_id=str(rows[0]["project_id"]))
        uncertainty = [self.uncertainty(p) for p in predictions]
        queue_scores = await self._queue_scores(str(rows[0]["project_id"]), predictions, uncertainty, vectors)
        async with self.pool.acquire() as conn, conn.transaction():
            for row, prediction, u, score in zip(rows, predictions, uncertainty, queue_scores, strict=True):
                await self._publish(conn, row, prediction, vectors.get(prediction.item_id), u, score)
            if self.config.selection in ("diversity", "hybrid"):
                await conn.execute("UPDATE projects SET selection_due = true WHERE project_id = $1",
                                   str(rows[0]["project_id"]))
        log.info("items scored", extra={"model_version": version, "items": len(rows)})

    async def _queue_scores(self, project_id: str, predictions: Sequence[ItemPrediction], uncertainty: list[float],
                            vectors: dict[str, NDArray[np.float32]]) -> list[float]:
        """What item.scored carries for each prediction: its uncertainty, times its information density squared
        under the density selection (items without an embedding keep their uncertainty)."""
        if self.config.selection != "density" or not vectors:
            return uncertainty
        embedded = [i for i, p in enumerate(predictions) if p.item_id in vectors]
        points = np.vstack([vectors[predictions[i].item_id] for i in embedded])
        reference = await self._reference(project_id, points)
        density = information_density(points.astype(np.float64), reference.astype(np.float64),
                                      self.config.density_neighbours)
        weighted = density_weighted(np.asarray([uncertainty[i] for i in embedded]), density,
                                    self.config.density_power)
        out = list(uncertainty)
        for j, i in enumerate(embedded):
            out[i] = float(weighted[j])
        return out

    async def _reference(self, project_id: str, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """A sample of the project's item embeddings (with the batch's own), for information density; sampled again
        every 30 s while the project holds fewer embeddings than the sample's size, every 10 minutes after (a project
        whose data changes gets a current picture); the last 256 projects' samples are kept."""
        now = time.monotonic()
        cached = self._references.get(project_id)
        size = self.config.density_reference
        if cached is None or now - cached[0] > (30.0 if len(cached[1]) < size else 600.0):
            async with self.pool.acquire() as conn:
                rows = await _sample(conn, project_id, "embedding IS NOT NULL", size)
            sample = (np.vstack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows]) if rows
                      else np.zeros((0, batch.shape[1]), dtype=np.float32))
            cached = (now, sample)
            self._references.pop(project_id, None)
            self._references[project_id] = cached
            while len(self._references) > 256:  # the projects scored least recently go first
                self._references.pop(next(iter(self._references)))
        reference = cached[1]
        if len(reference) < size:
            reference = np.vstack([reference, batch]) if len(reference) else batch
        return reference

    async def select_once(self) -> bool:
        """Under the diversity and hybrid selections: choose the next batch of one project whose queue is scored and
        whose selection is due (a scoring pass finished, or half a batch of labels came in since the last one), and
        publish it as item.scored above every uncertainty (1 < score <= 2, in the batch's order); items of the last
        batch not chosen again go back to their uncertainty."""
        if self.config.selection not in ("diversity", "hybrid"):
            return False
        k = self.config.selection_size
        async with self.pool.acquire() as conn, conn.transaction():
            project = await conn.fetchrow(
                """
                SELECT project_id, serving_version, accepted FROM projects p
                WHERE serving_version IS NOT NULL AND (selection_due OR accepted - selected_at_accepted >= $1)
                  AND NOT EXISTS (SELECT 1 FROM items i WHERE i.project_id = p.project_id AND i.needs_score)
                ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED
                """, max(1, k // 2))
            if project is None:
                return False
            project_id = project["project_id"]
            await conn.execute("UPDATE projects SET selection_due = false, selected_at_accepted = $2"
                               " WHERE project_id = $1", project_id, project["accepted"])
            if self.config.selection == "hybrid":
                candidates = await conn.fetch(
                    "SELECT item_id, embedding, uncertainty FROM items WHERE project_id = $1 AND NOT labeled"
                    " AND uncertainty IS NOT NULL AND embedding IS NOT NULL ORDER BY uncertainty DESC LIMIT $2",
                    project_id, 5 * k)
            else:
                candidates = await _sample(conn, project_id, "NOT labeled AND uncertainty IS NOT NULL"
                                           " AND embedding IS NOT NULL", self.config.density_reference)
            labeled = await _sample(conn, project_id, "labeled AND embedding IS NOT NULL",
                                    self.config.density_reference)
            previous = {r["item_id"]: r["uncertainty"] for r in await conn.fetch(
                "SELECT item_id, uncertainty FROM items WHERE project_id = $1 AND selected_rank IS NOT NULL"
                " AND NOT labeled", project_id)}
            if not candidates:
                return True
            pool_x = _vectors(candidates)
            labeled_x = _vectors(labeled) if labeled else np.zeros((0, pool_x.shape[1]))
            scores = np.asarray([r["uncertainty"] for r in candidates], dtype=np.float64)
            if self.config.selection == "hybrid":
                order = await asyncio.to_thread(hybrid_from_scores, pool_x, labeled_x, scores, k)
            else:
                order = await asyncio.to_thread(k_center_greedy, pool_x, labeled_x, k)
            chosen = [candidates[i]["item_id"] for i in order]
            await conn.execute("UPDATE items SET selected_rank = NULL WHERE project_id = $1"
                               " AND selected_rank IS NOT NULL", project_id)
            await conn.execute("UPDATE items SET selected_rank = r.rank FROM unnest($1::uuid[]) WITH ORDINALITY"
                               " AS r(item_id, rank) WHERE items.item_id = r.item_id", chosen)
            version = project["serving_version"]
            for rank, item_id in enumerate(chosen):
                await self._scored(conn, str(item_id), project_id, 2.0 - rank / len(chosen), version)
            kept = set(chosen)
            for item_id, uncertainty in previous.items():
                if item_id not in kept and uncertainty is not None:
                    await self._scored(conn, str(item_id), project_id, float(uncertainty), version)
        log.info("selection made", extra={"project_id": project_id, "selection": self.config.selection,
                                          "items": len(chosen), "candidates": len(candidates)})
        return True

    async def _scored(self, conn: asyncpg.Connection, item_id: str, project_id: str, score: float,
                      model_version: str) -> None:
        await outbox.add_event(conn, topics.ITEM_SCORED, key=item_id, producer=PRODUCER,
                               payload=events_pb2.ItemScored(item_id=item_id, project_id=project_id, score=score,
                                                             model_version=model_version))

    async def _publish(self, conn: asyncpg.Connection, row: asyncpg.Record, prediction: ItemPrediction,
                       vector: NDArray[np.float32] | None, uncertainty: float, score: float) -> None:
        item_id, project_id = prediction.item_id, row["project_id"]
        claimed = await conn.fetchval(
            "UPDATE items SET scored_version = $2, needs_score = false, embedding = coalesce(embedding, $3),"
            " uncertainty = $4 WHERE item_id = $1 AND needs_score AND NOT labeled "
            "AND $2 = (SELECT serving_version FROM projects p WHERE p.project_id = items.project_id) RETURNING true",
            row["item_id"], prediction.model_version, vector.tobytes() if vector is not None else None, uncertainty)
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
        await self._scored(conn, item_id, project_id, score, prediction.model_version)


async def _sample(conn: asyncpg.Connection, project_id: str, condition: str, size: int) -> list[asyncpg.Record]:
    """Up to ``size`` of the project's items where ``condition`` (a constant of this module) holds, uniformly at
    random without sorting the project: item ids are hashes (UUID v4 or v5), so the ones from a random id onwards
    along the primary key, wrapping around, are a random sample."""
    start = uuid.uuid4()
    query = ("SELECT item_id, embedding, uncertainty FROM items WHERE project_id = $1 AND {} AND item_id {} $2"
             " ORDER BY item_id LIMIT $3")
    rows = list(await conn.fetch(query.format(condition, ">="), project_id, start, size))
    if len(rows) < size:
        rows += await conn.fetch(query.format(condition, "<"), project_id, start, size - len(rows))
    return rows


class _Skipped(Exception):
    """A training job that ends without a candidate (no held-out labels yet, not enough data); the message says why."""


def _split(rows: Sequence[flywheel.LabeledRow]) -> tuple[list[flywheel.LabeledRow], list[flywheel.LabeledRow]]:
    """(train, held out); :class:`_Skipped` while nothing is held out (nothing to judge a candidate on)."""
    train, heldout = [r for r in rows if not r.heldout], [r for r in rows if r.heldout]
    if not heldout:
        raise _Skipped("no held-out labels yet")
    return train, heldout


async def _fit(base: Any, examples: Sequence[Accepted]) -> tuple[Any, FitReport]:
    """A candidate fitted (in a thread) on ``examples``; :class:`_Skipped` when they cannot train it."""
    try:
        return await asyncio.to_thread(base.fit, examples, "candidate")
    except NotEnoughData as exc:
        raise _Skipped(str(exc)) from None


def _vectors(rows: Sequence[asyncpg.Record]) -> NDArray[np.float64]:
    """The rows' stored float32 embeddings as one float64 matrix."""
    return np.vstack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows]).astype(np.float64)


def _evaluate(predictions: Sequence[ItemPrediction], truth: Sequence[str]) -> Evaluation:
    predicted: list[str] = []
    prob_of_truth: list[float] = []
    for p, t in zip(predictions, truth, strict=True):
        best = int(np.argmax(p.probabilities))
        predicted.append(p.classes[best])
        prob_of_truth.append(p.probabilities[p.classes.index(t)] if t in p.classes else 0.0)
    return evaluate(truth, predicted, prob_of_truth)
