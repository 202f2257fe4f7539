"""Import from an S3 prefix and from a folder, and imported predictions reaching the annotator."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import boto3
import httpx

from annotary_cli.stack import Stack
from tests.integration.bus import read_events
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_pipeline import BOX_SCHEMA, wait_items


def s3_client(stack: Stack) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.config.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_import_from_s3_prefix_and_folder(stack: Stack, make_user: Any) -> None:
    manager: Api = make_user("manager")
    project = manager.create_project(f"sources-{uuid.uuid4().hex[:6]}", BOX_SCHEMA, {"overlap": 1})
    pid = project["id"]
    bucket = f"raw-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(stack)
    s3.create_bucket(Bucket=bucket)
    crops = photo_crops(6)
    for name, data in crops[:4]:
        s3.put_object(Bucket=bucket, Key=f"incoming/{name}", Body=data)
    s3.put_object(Bucket=bucket, Key="elsewhere/skip.png", Body=crops[5][1])

    reply = manager.post(f"/projects/{pid}/sources", json={"uri": f"s3://{bucket}/incoming/"})
    assert reply.status_code == 201, reply.text
    assert (reply.json()["created"], reply.json()["duplicates"]) == (4, 0)
    again = manager.post(f"/projects/{pid}/sources", json={"uri": f"s3://{bucket}/incoming/"})
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 4)

    folder = stack.config.import_roots[0] / uuid.uuid4().hex[:8]
    folder.mkdir(parents=True)
    (folder / crops[4][0]).write_bytes(crops[4][1])
    (folder / crops[0][0]).write_bytes(crops[0][1])  # the same content as an S3 object: no duplicate item
    reply = manager.post(f"/projects/{pid}/sources", json={"uri": folder.as_uri()})
    assert reply.status_code == 201, reply.text
    assert (reply.json()["created"], reply.json()["duplicates"]) == (1, 1)
    assert sum(wait_items(manager, pid, 5).values()) == 5

    for bad in ("file:///etc", "http://example.com/x", "s3://"):
        reply = manager.post(f"/projects/{pid}/sources", json={"uri": bad})
        assert 400 <= reply.status_code < 500, (bad, reply.text)
        assert reply.json()["detail"]
    assert sum(manager.get(f"/projects/{pid}/stats").json()["states"].values()) == 5


def test_imported_predictions_reach_the_annotator(stack: Stack, make_user: Any) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    project = manager.create_project(f"prelabels-{uuid.uuid4().hex[:6]}", BOX_SCHEMA, {"overlap": 1})
    pid = project["id"]
    bucket = f"raw-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(stack)
    s3.create_bucket(Bucket=bucket)
    name, data = photo_crops(1)[0]
    s3.put_object(Bucket=bucket, Key=name, Body=data)
    box = {"type": "bbox", "label": "person", "x": 10, "y": 12, "w": 40, "h": 30, "score": 0.8}
    items = [
        {
            "image": f"s3://{bucket}/{name}",
            "external_id": name,
            "meta": {"camera": "A"},
            "predictions": [{"model_version": "detector-v1", "score": 0.8, "result": [box]}],
        }
    ]
    reply = manager.post(f"/projects/{pid}/items", json=items)
    assert reply.status_code == 201, reply.text
    item_id = reply.json()["item_ids"][0]
    wait_items(manager, pid, 1)

    task = annotator.post(f"/projects/{pid}/tasks/next").json()
    assert task["item"]["meta"] == {"camera": "A"}
    assert [(p["model_version"], p["score"], p["result"]) for p in task["predictions"]] == [("detector-v1", 0.8, [box])]
    events = asyncio.run(
        read_events(
            stack.config.kafka_bootstrap,
            "item.preannotated",
            lambda e: e.payload.item_id == item_id,  # type: ignore[attr-defined]
            until=lambda evs: len(evs) >= 1,
            timeout=30.0,
        )
    )
    assert [p.model_version for p in events[0].payload.predictions] == ["detector-v1"]  # type: ignore[attr-defined]


def test_every_service_serves_metrics_and_health(stack: Stack) -> None:
    with httpx.Client(timeout=5.0) as client:
        for service, port in stack.http_ports.items():
            assert client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200, service
            metrics = client.get(f"http://127.0.0.1:{port}/metrics")
            assert metrics.status_code == 200 and "python_info" in metrics.text, service
        assert client.get(f"{stack.api_url}/healthz").json()["status"] == "ok"
        spec = client.get(f"{stack.api_url}/api/v1/openapi.json").json()
        assert "/api/v1/projects/{project_id}/tasks/next" in spec["paths"]
