"""Issue 4, done-when 2: three simulated annotators (one careless) on a project with overlap 3 and gold
items. Agreeing items are accepted with the merged result, disagreeing ones go to review, the careless
annotator is paused with a reason, and annotation.accepted carries agreement and provenance."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from annotary_cli.stack import Stack
from tests.integration.bus import read_events
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "labels": [{"name": "PERSON"}, {"name": "ORG"}], "tools": ["span"]}
NAMES = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "John McCarthy",
    "Frances Allen",
    "Ken Thompson",
    "Radia Perlman",
    "Leslie Lamport",
]
GOLD_NAMES = ["Katherine Johnson", "Claude Shannon", "Hedy Lamarr", "Tim Berners-Lee", "Shafi Goldwasser"]


def truth(text: str) -> list[dict[str, Any]]:
    name = text.split(" met ")[0]
    return [{"type": "span", "label": "PERSON", "start": 0, "end": len(name)}]


def wrong(text: str) -> list[dict[str, Any]]:
    return [{"type": "span", "label": "ORG", "start": len(text) - 5, "end": len(text) - 1}]


def work(api: Api, pid: str, answer: Any, deadline_s: float = 120, settle_s: float = 0.0) -> dict[str, Any]:
    """Lease and submit until 403 (paused) or, for ``settle_s``, 204 (nothing left); returns what happened."""
    seen: dict[str, Any] = {"submitted": [], "stopped": None, "lost": 0}
    deadline = time.monotonic() + deadline_s
    settle_until = 0.0
    while time.monotonic() < deadline:
        reply = api.post(f"/projects/{pid}/tasks/next")
        if reply.status_code in (204, 403):
            seen["stopped"] = (reply.status_code, reply.headers.get("x-annotary-reason") or reply.json()["detail"])
            if reply.status_code == 403 or time.monotonic() > settle_until:
                return seen
            time.sleep(0.2)  # nothing now; a pause or verdict may still be on its way over the bus
            continue
        assert reply.status_code == 200, reply.text
        task = reply.json()
        assert "is_gold" not in task and "gold" not in json.dumps(task["item"]["meta"])  # gold looks like any item
        result = answer(task, len(seen["submitted"]))
        done = api.post(f"/tasks/{task['id']}/submit", json={"result": result, "lead_time_ms": 900})
        if done.status_code == 409:  # the lease was released when the annotator was paused
            seen["lost"] += 1
            continue
        assert done.status_code == 200, done.text
        seen["submitted"].append((task["item"]["external_id"], result))
        settle_until = time.monotonic() + settle_s
    raise AssertionError(f"annotator still busy after {deadline_s}s: {seen}")


def test_three_annotators_one_careless(stack: Stack, make_user: Any) -> None:
    manager, reviewer = make_user("manager"), make_user("reviewer")
    good_a, good_b, careless = make_user("annotator"), make_user("annotator"), make_user("annotator")
    project = manager.create_project(
        f"quality-{uuid.uuid4().hex[:6]}",
        SCHEMA,
        {
            "overlap": 3,
            "agreement_threshold": 0.9,
            "review": "disagreements",
            "gold_ratio": 0.25,
            "gold_min_accuracy": 0.85,
        },
    )
    pid = project["id"]
    items = [
        {
            "external_id": f"item-{i:02d}",
            "text": f"{name} met the committee in 19{50 + i}.",
            "predictions": [{"model_version": "weak-ner-v1", "score": 0.5, "result": truth(f"{name} met ")}],
        }
        for i, name in enumerate(NAMES)
    ]
    gold = [
        {"external_id": f"gold-{i}", "text": f"{name} met the board in 20{10 + i}.", "gold": truth(f"{name} met ")}
        for i, name in enumerate(GOLD_NAMES)
    ]
    reply = manager.post(f"/projects/{pid}/items", json=items + gold)
    assert reply.status_code == 201, reply.text
    wait_items(manager, pid, len(NAMES))

    def careful(task: dict[str, Any], _: int) -> list[dict[str, Any]]:
        return truth(task["item"]["text"])

    regular_done: list[str] = []

    def sloppy(task: dict[str, Any], _: int) -> list[dict[str, Any]]:
        text = task["item"]["text"]
        if task["item"]["external_id"].startswith("gold"):
            return wrong(text)
        regular_done.append(task["item"]["external_id"])
        return truth(text) if len(regular_done) <= 2 else wrong(text)  # careful at first, then careless

    for api in (good_a, good_b):
        seen = work(api, pid, careful)
        assert len([x for x, _ in seen["submitted"] if x.startswith("item")]) == len(NAMES)
        assert any(x.startswith("gold") for x, _ in seen["submitted"]), "no gold item was served"
    seen = work(careless, pid, sloppy, settle_s=5.0)
    assert seen["stopped"][0] == 403 and "paused" in seen["stopped"][1], seen
    assert "accuracy" in seen["stopped"][1]

    submitted_regular = [x for x, _ in seen["submitted"] if x.startswith("item")]
    agreed = [x for x in submitted_regular if x in regular_done[:2]]
    disagreed = [x for x in submitted_regular if x not in regular_done[:2]]
    assert disagreed, "the careless annotator should have labeled some items wrongly before the pause"
    ids = {x["external_id"]: i for x, i in zip(items + gold, reply.json()["item_ids"], strict=True)}

    accepted = asyncio.run(
        read_events(
            stack.config.kafka_bootstrap,
            "annotation.accepted",
            lambda e: e.payload.item.project_id == pid,  # type: ignore[attr-defined]
            until=lambda evs: len(evs) >= len(agreed),
            timeout=60.0,
            settle_s=2.0,
        )
    )
    by_ext = {e.payload.item.external_id: e.payload for e in accepted}  # type: ignore[attr-defined]
    assert set(by_ext) == set(agreed), (set(by_ext), agreed)
    for ext in agreed:
        event = by_ext[ext]
        text = next(x["text"] for x in items if x["external_id"] == ext)
        merged = [{k: r[k] for k in ("type", "label", "start", "end")} for r in json.loads(event.result_json)]
        assert merged == truth(text)
        assert event.agreement == 1.0 and event.agreement_metric
        assert event.schema_version == 1
        assert sorted(event.annotator_ids) == sorted(
            [good_a.get("/me").json()["id"], good_b.get("/me").json()["id"], careless.get("/me").json()["id"]]
        )
        assert list(event.prelabel_model_versions) == ["weak-ner-v1"]
        assert event.decided_by == "consensus"

    deadline = time.monotonic() + 30
    while True:
        reviews = reviewer.get(f"/projects/{pid}/reviews").json()
        if len(reviews) >= len(disagreed) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert {r["item"]["external_id"] for r in reviews} == set(disagreed)
    states = manager.get(f"/projects/{pid}/stats").json()["states"]
    assert states.get("accepted") == len(agreed) and states.get("under_review") == len(disagreed), states

    metrics = {m["annotator_id"]: m for m in manager.get(f"/projects/{pid}/annotators").json()}
    careless_id = careless.get("/me").json()["id"]
    assert metrics[careless_id]["paused"] and "accuracy" in metrics[careless_id]["pause_reason"]
    assert metrics[careless_id]["gold_accuracy"] < 0.85
    assert metrics[good_a.get("/me").json()["id"]]["gold_accuracy"] == 1.0
    own = careless.get(f"/projects/{pid}/annotators").json()
    assert [m["annotator_id"] for m in own] == [careless_id]  # annotators see only their own figures

    # A reviewer rejects one disagreement with feedback: the item goes back to the queue carrying it.
    first = next(r for r in reviews if r["item"]["external_id"] == disagreed[0])
    decision = reviewer.post(
        f"/projects/{pid}/reviews/{ids[disagreed[0]]}",
        json={"round": first["round"], "decision": "reject", "feedback": "mark the person"},
    )
    assert decision.status_code == 200 and decision.json()["outcome"] == "rejected", decision.text
    bad = reviewer.post(f"/projects/{pid}/reviews/{ids[disagreed[0]]}", json={"round": 1, "decision": "reject"})
    assert bad.status_code == 422 and "feedback" in bad.json()["detail"]

    # The manager reinstates the careless annotator, who can lease again.
    reinstated = manager.post(f"/projects/{pid}/annotators/{careless_id}/reinstate")
    assert reinstated.status_code == 200, reinstated.text
    deadline = time.monotonic() + 30
    while True:
        again = careless.post(f"/projects/{pid}/tasks/next")
        if again.status_code != 403 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert again.status_code in (200, 204), again.text

    # The rejected item is back in a new round, and whoever gets it sees the reviewer's feedback: an annotator
    # who labeled every regular item skips whatever else comes first until it is served.
    served: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nxt = good_a.post(f"/projects/{pid}/tasks/next")
        if nxt.status_code == 204:
            time.sleep(0.3)
            continue
        assert nxt.status_code == 200, nxt.text
        task = nxt.json()
        served.append(task["item"]["external_id"])
        if task["item"]["external_id"] == disagreed[0]:
            assert task["feedback"] == "mark the person", task
            break
        assert good_a.post(f"/tasks/{task['id']}/skip", json={"reason": "not this one"}).status_code == 200
    else:
        raise AssertionError(f"the rejected item {disagreed[0]} was never served again; served {served}")
