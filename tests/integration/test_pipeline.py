"""Issue 2, done-when 2: the whole path on real infrastructure, driven over REST by three users."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO

from annotary_cli.stack import Stack
from tests.integration.bus import read_events
from tests.integration.client import Api
from tests.integration.images import photo_crops

BOX_SCHEMA = {
    "modality": "image",
    "labels": [{"name": "person", "hotkey": "1"}, {"name": "animal", "hotkey": "2"}],
    "tools": ["bbox"],
    "rules": {"min_box_size": 4},
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def box_for(external_id: str) -> dict[str, Any]:
    """A deterministic box per image, so both annotators agree."""
    h = hashlib.sha256(external_id.encode()).digest()
    return {
        "type": "bbox",
        "label": ("person", "animal")[h[0] % 2],
        "x": 5 + h[1] % 40,
        "y": 5 + h[2] % 30,
        "w": 20 + h[3] % 60,
        "h": 15 + h[4] % 50,
    }


def wait_items(api: Api, project_id: str, count: int, timeout: float = 60.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        states = api.get(f"/projects/{project_id}/stats").json()["states"]
        if sum(states.values()) >= count or time.monotonic() > deadline:
            return dict(states)
        time.sleep(0.1)


def test_image_bbox_project_end_to_end(stack: Stack, make_user: Any, tmp_path: Path) -> None:
    manager = make_user("manager")
    annotators = [make_user("annotator"), make_user("annotator")]
    project = manager.create_project(
        f"boxes-{uuid.uuid4().hex[:6]}",
        BOX_SCHEMA,
        {"overlap": 2, "agreement_threshold": 1.0, "review": "disagreements", "lease_seconds": 600},
    )
    pid = project["id"]

    crops = photo_crops(20)
    reply = manager.post(f"/projects/{pid}/items", files=[("files", (n, b, "image/png")) for n, b in crops])
    assert reply.status_code == 201, reply.text
    assert reply.json()["created"] == 20
    again = manager.post(f"/projects/{pid}/items", files=[("files", (n, b, "image/png")) for n, b in crops])
    assert again.json() == {**again.json(), "created": 0, "duplicates": 20}
    assert sum(wait_items(manager, pid, 20).values()) == 20

    submitted: dict[str, dict[str, Any]] = {}
    seen: dict[int, set[str]] = {0: set(), 1: set()}
    active = [0, 1]
    first_task: dict[int, str] = {}
    while active:
        for who in list(active):
            api = annotators[who]
            reply = api.post(f"/projects/{pid}/tasks/next")
            if reply.status_code == 204:
                active.remove(who)
                continue
            assert reply.status_code == 200, reply.text
            task = reply.json()
            first_task.setdefault(who, task["id"])
            item = task["item"]
            assert item["external_id"] not in seen[who], "an annotator got the same item twice"
            seen[who].add(item["external_id"])
            assert (item["width"], item["height"]) == (160, 120)
            media = api.get(item["media_url"].removeprefix("/api/v1"))
            assert media.status_code == 200 and media.content.startswith(PNG_MAGIC)
            box = box_for(item["external_id"])
            done = api.post(f"/tasks/{task['id']}/submit", json={"result": [box], "lead_time_ms": 1200})
            assert done.status_code == 200, done.text
            assert done.json()["state"] == "submitted"
            submitted[item["id"]] = {**box, "external_id": item["external_id"]}
    assert len(seen[0]) == len(seen[1]) == 20

    # An annotator only ever sees the tasks leased to them.
    assert annotators[1].get(f"/tasks/{first_task[0]}").status_code == 404
    assert annotators[0].get(f"/tasks/{first_task[0]}").status_code == 200

    accepted = asyncio.run(
        read_events(
            stack.config.kafka_bootstrap,
            "annotation.accepted",
            lambda e: e.payload.item.project_id == pid,  # type: ignore[attr-defined]
            until=lambda evs: len({e.payload.item.item_id for e in evs}) >= 20,
            timeout=60.0,
        )
    )  # type: ignore[attr-defined]
    by_item = {e.payload.item.item_id: e for e in accepted}  # type: ignore[attr-defined]
    assert len(by_item) == 20 and len({e.event_id for e in accepted}) == 20
    for item_id, event in by_item.items():
        result = json.loads(event.payload.result_json)  # type: ignore[attr-defined]
        expected = {k: v for k, v in submitted[item_id].items() if k != "external_id"}
        assert result == [expected]
        assert len(event.payload.submissions) == 2  # type: ignore[attr-defined]

    states = wait_items(manager, pid, 20)
    deadline = time.monotonic() + 30
    while states.get("accepted", 0) < 20 and time.monotonic() < deadline:
        time.sleep(0.2)
        states = manager.get(f"/projects/{pid}/stats").json()["states"]
    assert states == {"accepted": 20}

    job = manager.post(f"/projects/{pid}/exports", json={"format": "coco"})
    assert job.status_code == 202, job.text
    done_job = manager.wait_export(job.json()["id"])
    assert done_job["status"] == "done", done_job
    download = manager.get(done_job["download_url"].removeprefix("/api/v1"))
    assert download.status_code == 200
    path = tmp_path / "coco.json"
    path.write_bytes(download.content)
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == 20
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert set(names.values()) == {"person", "animal"}
    by_file = {img["file_name"]: img for img in coco.loadImgs(coco.getImgIds())}
    for box in submitted.values():
        img = by_file[box["external_id"]]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        assert len(anns) == 1
        assert anns[0]["bbox"] == [box["x"], box["y"], box["w"], box["h"]]
        assert names[anns[0]["category_id"]] == box["label"]

    jsonl = manager.post(f"/projects/{pid}/exports", json={"format": "jsonl"})
    jsonl_job = manager.wait_export(jsonl.json()["id"])
    assert jsonl_job["status"] == "done" and jsonl_job["item_count"] == 20
    lines = manager.get(jsonl_job["download_url"].removeprefix("/api/v1")).text.splitlines()
    assert len(lines) == 20 and all(json.loads(line)["annotations"] for line in lines)


def test_model_work_runs_at_a_lower_cpu_priority_than_the_request_path(stack: Stack) -> None:
    """preannotate (embedding, training, scoring) yields the cores to the lease and submit path: its process runs
    at nice 10 (ANNOTARY_PREANNOTATE_NICE), the orchestrator and the gateway at the default; each service leads its
    own session, and where the kernel shares the cores between sessions first (autogroup), preannotate's session is
    at nice 10 too (a nice value alone would only rank it inside its own session)."""
    import psutil

    procs = {name: managed.proc.pid for name, managed in stack.procs.items() if managed.proc is not None}
    nice = {name: psutil.Process(pid).nice() for name, pid in procs.items()}
    assert nice["preannotate"] == nice["orchestrator"] + 10, nice
    assert nice["annotation-api"] == nice["orchestrator"], nice
    assert all(os.getsid(pid) == pid for pid in procs.values())
    if Path("/proc/self/autogroup").exists():
        group = {name: int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1]) for name, pid in procs.items()}
        assert group["preannotate"] == group["orchestrator"] + 10, group
        assert group["annotation-api"] == group["orchestrator"], group
