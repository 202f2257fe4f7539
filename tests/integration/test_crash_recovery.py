"""Issue 2, done-when 3: SIGKILL the orchestrator, then qa, in the middle of 200 submissions.

Every submission must end accepted exactly once: in the databases (orchestrator's items and tasks,
qa's decisions, export's accepted rows) and on the bus (one annotation.accepted event id per item;
a re-published event keeps its id, which is how consumers drop it).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg

from annotary_cli.stack import Stack
from tests.integration.bus import read_events
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "labels": [{"name": "WORD"}], "tools": ["span"]}
ITEMS = 100  # x overlap 2 = 200 submissions


def annotate_all(api: Api, project_id: str, counter: list[int], lock: threading.Lock, errors: list[str]) -> None:
    while True:
        reply = api.post_retrying(f"/projects/{project_id}/tasks/next", deadline_s=90)
        if reply.status_code == 204:
            return
        if reply.status_code != 200:
            errors.append(f"next: {reply.status_code} {reply.text}")
            return
        task = reply.json()
        region = {"type": "span", "label": "WORD", "start": 0, "end": 4}
        done = api.post_retrying(f"/tasks/{task['id']}/submit", json={"result": [region]}, deadline_s=90)
        if done.status_code != 200:
            errors.append(f"submit {task['id']}: {done.status_code} {done.text}")
            return
        with lock:
            counter[0] += 1


def kill_and_restart(stack: Stack, counter: list[int], plan: list[tuple[int, str]], log: list[str]) -> None:
    for at, service in plan:
        deadline = time.monotonic() + 180
        while counter[0] < at and time.monotonic() < deadline:
            time.sleep(0.01)
        stack.kill(service)
        log.append(f"killed {service} at {counter[0]} submissions")
        time.sleep(0.3)
        stack.start(service)
        stack.wait_ready([service], timeout=60)
        log.append(f"{service} back at {counter[0]} submissions")


def test_kill_orchestrator_then_qa_mid_stream(stack: Stack, make_user: Any) -> None:
    manager: Api = make_user("manager")
    annotators = [make_user("annotator"), make_user("annotator")]
    project = manager.create_project(
        f"crash-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 2, "agreement_threshold": 1.0, "lease_seconds": 30}
    )
    pid = project["id"]
    items = [{"external_id": f"t{i:03d}", "text": f"Item number {i} of the crash test"} for i in range(ITEMS)]
    reply = manager.post(f"/projects/{pid}/items", json=items)
    assert reply.status_code == 201 and reply.json()["created"] == ITEMS, reply.text
    item_ids = set(reply.json()["item_ids"])
    assert sum(wait_items(manager, pid, ITEMS).values()) == ITEMS

    counter, lock, errors, log = [0], threading.Lock(), [], []
    workers = [threading.Thread(target=annotate_all, args=(a, pid, counter, lock, errors)) for a in annotators]
    killer = threading.Thread(target=kill_and_restart, args=(stack, counter, [(60, "orchestrator"), (130, "qa")], log))
    for t in (*workers, killer):
        t.start()
    for t in (*workers, killer):
        t.join(timeout=300)
    assert not errors, errors
    assert counter[0] == 2 * ITEMS, (counter, log)
    assert len(log) == 4, log

    events = asyncio.run(
        read_events(
            stack.config.kafka_bootstrap,
            "annotation.accepted",
            lambda e: e.payload.item.project_id == pid,  # type: ignore[attr-defined]
            until=lambda evs: len({e.payload.item.item_id for e in evs}) >= ITEMS,  # type: ignore[attr-defined]
            timeout=120.0,
            settle_s=3.0,
        )
    )
    ids_per_item: dict[str, set[str]] = {}
    for e in events:
        ids_per_item.setdefault(e.payload.item.item_id, set()).add(e.event_id)  # type: ignore[attr-defined]
    assert set(ids_per_item) == item_ids
    assert all(len(ids) == 1 for ids in ids_per_item.values()), "an item was accepted twice"

    async def counts() -> dict[str, Any]:
        conn = await asyncpg.connect(stack.config.database_url)
        try:
            ids = [uuid.UUID(i) for i in item_ids]
            return {
                "items": Counter(
                    dict(
                        await conn.fetch(
                            "SELECT state, count(*) FROM orchestrator.items WHERE item_id = ANY($1) GROUP BY state", ids
                        )
                    )
                ),
                "tasks": Counter(
                    dict(
                        await conn.fetch(
                            "SELECT state, count(*) FROM orchestrator.tasks WHERE item_id = ANY($1) GROUP BY state", ids
                        )
                    )
                ),
                "decisions": await conn.fetch(
                    "SELECT item_id, count(*) AS n FROM qa.decisions WHERE item_id = ANY($1) GROUP BY item_id", ids
                ),
                "exported": await conn.fetchval("SELECT count(*) FROM export.accepted WHERE item_id = ANY($1)", ids),
                "outbox": await conn.fetchval(
                    "SELECT count(*) FROM qa.outbox WHERE topic = 'annotation.accepted' AND key = ANY($1::text[])",
                    [str(i) for i in ids],
                ),
            }
        finally:
            await conn.close()

    deadline = time.monotonic() + 60
    while True:
        found = asyncio.run(counts())
        if (found["items"].get("accepted") == ITEMS and found["exported"] == ITEMS) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found["items"] == {"accepted": ITEMS}, found["items"]
    assert found["tasks"] == {"submitted": 2 * ITEMS}, found["tasks"]
    assert len(found["decisions"]) == ITEMS and all(r["n"] == 1 for r in found["decisions"])
    assert found["exported"] == ITEMS
    assert found["outbox"] == ITEMS  # one staged event per item, however often the relay re-sent it
