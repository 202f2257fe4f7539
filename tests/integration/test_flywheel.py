"""The model flywheel end to end: import text, label a seed set through the API, a text classifier
(MiniLM embeddings + logistic regression) is trained and promoted, new tasks carry its pre-labels with
its version, and the queue is served by its active-learning score instead of first-in first-out.

Uses the service's default ``ANNOTARY_PREANNOTATE_RETRAIN_EVERY`` (50): the seed set is 50 labels.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

from annotary_cli.stack import Stack
from annotary_common.events import Event
from tests.integration.bus import read_events
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SEED = 50  # = the default retrain interval
SCHEMA = {"modality": "text", "labels": [], "tools": ["choice"],
          "choices": [{"name": "sentiment", "options": ["pos", "neg"]}]}
RESULT_NAME = "sentiment"

GOOD = ["wonderful", "delightful", "brilliant", "moving", "superb", "charming", "beautiful", "excellent"]
BAD = ["awful", "boring", "dreadful", "tedious", "terrible", "painful", "dull", "horrible"]
THINGS = ["film", "movie", "story", "performance", "script", "ending", "cast"]


def seed_items() -> list[tuple[str, str, str]]:
    """(external_id, text, truth): clear-cut reviews, alternating classes."""
    out = []
    good = itertools.cycle(itertools.product(GOOD, THINGS))
    bad = itertools.cycle(itertools.product(BAD, THINGS))
    for i in range(SEED):
        if i % 2 == 0:
            adj, thing = next(good)
            out.append((f"seed-{i}", f"What a {adj} {thing}, I loved every minute of it.", "pos"))
        else:
            adj, thing = next(bad)
            out.append((f"seed-{i}", f"What a {adj} {thing}, I hated every minute of it.", "neg"))
    return out


def pool_items(prefix: str, n: int, offset: int = 0) -> list[tuple[str, str]]:
    """Unlabeled items from clear to mixed, so the model is sure of some and unsure of others."""
    out = []
    for i in range(offset, offset + n):
        g, b, thing = GOOD[i % len(GOOD)], BAD[(i * 3) % len(BAD)], THINGS[i % len(THINGS)]
        kind = i % 3
        if kind == 0:
            text = f"The {thing} was {g} and {GOOD[(i + 1) % len(GOOD)]}; a joy from start to finish."
        elif kind == 1:
            text = f"The {thing} was {b} and {BAD[(i + 2) % len(BAD)]}; I wanted to leave early."
        else:
            text = f"The {thing} was {g} at first, then {b} for a long while."
        out.append((f"{prefix}-{i}", text))
    return out


def wait_for(bootstrap: str, topic: str, keep: Any, until: Any, timeout: float = 120.0) -> list[Event]:
    return asyncio.run(read_events(bootstrap, topic, keep, until=until, timeout=timeout, settle_s=0.5))


def test_flywheel_trains_promotes_prelabels_and_reorders(stack: Stack, make_user: Any) -> None:
    manager: Api = make_user("manager")
    annotator: Api = make_user("annotator")
    project = manager.create_project(f"flywheel-{uuid.uuid4().hex[:6]}", SCHEMA,
                                     {"overlap": 1, "review": "none", "lease_seconds": 600})
    pid = project["id"]
    bootstrap = stack.config.kafka_bootstrap

    seeds = seed_items()
    pool = pool_items("pool", 24)
    reply = manager.post(f"/projects/{pid}/items", json=[{"external_id": e, "text": t} for e, t, _ in seeds])
    assert reply.status_code == 201, reply.text
    assert sum(wait_items(manager, pid, SEED).values()) == SEED
    reply = manager.post(f"/projects/{pid}/items", json=[{"external_id": e, "text": t} for e, t in pool])
    assert reply.status_code == 201, reply.text
    assert sum(wait_items(manager, pid, SEED + len(pool)).values()) == SEED + len(pool)

    # Before any model: the queue is served in arrival order, without pre-labels. Label the seed set.
    truth = {e: label for e, _, label in seeds}
    for _ in range(SEED):
        reply = annotator.post(f"/projects/{pid}/tasks/next")
        assert reply.status_code == 200, reply.text
        task = reply.json()
        ext = task["item"]["external_id"]
        assert ext in truth and task["predictions"] == []
        result = [{"type": "choice", "name": RESULT_NAME, "value": truth.pop(ext)}]
        done = annotator.post(f"/tasks/{task['id']}/submit", json={"result": result, "lead_time_ms": 900})
        assert done.status_code == 200, done.text
    assert truth == {}

    # The flywheel trains a candidate on the accepted labels and promotes it over the majority baseline.
    trained = wait_for(bootstrap, "model.trained", lambda e: e.payload.project_id == pid,
                       until=lambda evs: len(evs) >= 1)
    assert len(trained) == 1, [e.payload for e in trained]
    model = trained[0].payload
    assert model.promoted and model.promoted_by == "flywheel", model  # type: ignore[attr-defined]
    version: str = model.model_version  # type: ignore[attr-defined]
    assert version.startswith("text-choice-minilm-logreg@") and version.endswith("/v1")
    assert model.metric == "accuracy" and model.incumbent_version == ""  # type: ignore[attr-defined]
    assert model.candidate_value > model.incumbent_value  # type: ignore[attr-defined]
    assert model.training_items + model.heldout_items == SEED  # type: ignore[attr-defined]
    assert model.heldout_items > 0  # type: ignore[attr-defined]

    # New items imported after the promotion are pre-labelled by it too.
    fresh = pool_items("fresh", 6, offset=100)
    reply = manager.post(f"/projects/{pid}/items", json=[{"external_id": e, "text": t} for e, t in fresh])
    assert reply.status_code == 201, reply.text
    unlabeled = {e for e, _ in pool + fresh}

    # The queue is re-scored: one item.scored per unlabeled item, by the promoted version.
    def scored_ours(e: Event) -> bool:
        payload: Any = e.payload
        return bool(payload.project_id == pid and payload.model_version == version)

    scored = wait_for(bootstrap, "item.scored", scored_ours,
                      until=lambda evs: len({e.payload.item_id for e in evs}) >= len(unlabeled))
    scores = {e.payload.item_id: e.payload.score for e in scored}  # type: ignore[attr-defined]
    assert len(scores) == len(unlabeled)
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert len(set(scores.values())) > 1

    # Walk the queue with a fresh annotator, skipping each task (a skipped item never comes back to them).
    # The orchestrator applies scores and predictions asynchronously (one partition may lag another): walk
    # again with another fresh annotator until a walk sees them all.
    def walk() -> list[dict[str, Any]]:
        walker: Api = make_user("annotator")
        seen: list[dict[str, Any]] = []
        while True:
            reply = walker.post(f"/projects/{pid}/tasks/next")
            if reply.status_code == 204:
                return seen
            assert reply.status_code == 200, reply.text
            seen.append(reply.json())
            assert walker.post(f"/tasks/{seen[-1]['id']}/skip").status_code == 200

    def settled(tasks: list[dict[str, Any]]) -> bool:
        ranked = [scores[t["item"]["id"]] for t in tasks]
        return ranked == sorted(ranked, reverse=True) and all(
            any(p["model_version"] == version for p in t["predictions"]) for t in tasks)

    deadline = time.monotonic() + 90
    served = walk()
    while not settled(served):
        assert time.monotonic() < deadline, "the queue never got the promoted model's scores and pre-labels"
        time.sleep(1.0)
        served = walk()

    order = [t["item"]["id"] for t in served]
    assert len(order) == len(unlabeled) and {t["item"]["external_id"] for t in served} == unlabeled
    assert [scores[i] for i in order] == sorted((scores[i] for i in order), reverse=True)
    # (The arrival order is not score-sorted: 30 distinct scores in arrival order would be a 1 in 30! chance.)
    assert len({scores[i] for i in order}) > len(order) // 2

    # Every served task carries the promoted model's pre-label, with its version and score.
    for t in served:
        [prediction] = [p for p in t["predictions"] if p["model_version"] == version]
        [region] = prediction["result"]
        assert region["type"] == "choice" and region["name"] == RESULT_NAME and region["value"] in ("pos", "neg")
        assert 0.5 <= prediction["score"] <= 1.0
    by_ext = {t["item"]["external_id"]: t for t in served}
    clear = [e for e in unlabeled if int(e.rsplit("-", 1)[1]) % 3 != 2]
    right = sum(_value(by_ext[e], version) == ("pos" if int(e.rsplit("-", 1)[1]) % 3 == 0 else "neg")
                for e in clear)
    assert right >= 0.7 * len(clear), f"{right}/{len(clear)} clear-cut items pre-labelled right"


def _value(task: dict[str, Any], version: str) -> str:
    [prediction] = [p for p in task["predictions"] if p["model_version"] == version]
    value: str = prediction["result"][0]["value"]
    return value
