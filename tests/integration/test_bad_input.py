"""Issue 2, done-when 4: bad input gets a 4xx naming the problem, and changes nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.integration.client import Api

SCHEMA = {
    "modality": "image",
    "labels": [{"name": "cat"}, {"name": "dog"}],
    "tools": ["bbox"],
    "rules": {"min_box_size": 4},
}
TEXT_SCHEMA = {"modality": "text", "labels": [{"name": "PER"}], "tools": ["span"]}


@pytest.fixture(scope="module")
def world(admin: Api) -> dict[str, Any]:
    from tests.integration.images import photo_crops

    def user(role: str) -> Api:
        reply = admin.post("/users", json={"username": f"{role}-{uuid.uuid4().hex[:8]}", "role": role})
        return Api(admin.base_url, reply.json()["token"])

    manager, annotator = user("manager"), user("annotator")
    image = manager.create_project(f"bad-img-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})
    text = manager.create_project(f"bad-txt-{uuid.uuid4().hex[:6]}", TEXT_SCHEMA, {"overlap": 1})
    name, png = photo_crops(1)[0]
    assert (
        manager.post(f"/projects/{image['id']}/items", files=[("files", (name, png, "image/png"))]).status_code == 201
    )
    assert manager.post(f"/projects/{text['id']}/items", json=[{"text": "Ada  Lovelace wrote  "}]).status_code == 201
    tasks = {}
    for project in (image, text):
        deadline = time.monotonic() + 30
        while True:
            reply = annotator.post(f"/projects/{project['id']}/tasks/next")
            if reply.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert reply.status_code == 200, reply.text
        tasks[project["schema"]["modality"]] = reply.json()
    return {"manager": manager, "annotator": annotator, "image": image, "text": text, "tasks": tasks}


def assert_task_unchanged(world: dict[str, Any], modality: str) -> None:
    task = world["tasks"][modality]
    now = world["annotator"].get(f"/tasks/{task['id']}").json()
    assert now["state"] == task["state"] and now["result"] is None
    stats = world["manager"].get(f"/projects/{task['project_id']}/stats").json()
    assert stats["tasks"].get("submitted", 0) == 0


@pytest.mark.parametrize(
    ("region", "rule", "words"),
    [
        ({"type": "bbox", "label": "cow", "x": 1, "y": 1, "w": 10, "h": 10}, "label_in_schema", ["cow", "cat", "dog"]),
        ({"type": "bbox", "label": "cat", "x": 150, "y": 10, "w": 30, "h": 10}, "bbox_inside_image", ["region 0"]),
        ({"type": "bbox", "label": "cat", "x": 10, "y": 10, "w": 2, "h": 10}, "bbox_min_size", ["4"]),
        ({"type": "bbox", "label": "cat", "x": 10, "y": 10, "w": "wide", "h": 10}, "bbox_fields", ["w"]),
        ({"type": "span", "label": "cat", "start": 0, "end": 3}, "region_type_allowed", ["span"]),
    ],
)
def test_invalid_box_submission_is_refused(
    world: dict[str, Any], region: dict[str, Any], rule: str, words: list[str]
) -> None:
    task = world["tasks"]["image"]
    reply = world["annotator"].post(f"/tasks/{task['id']}/submit", json={"result": [region]})
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert rule in {v["rule"] for v in body["violations"]}
    for word in words:
        assert word in body["detail"]
    assert_task_unchanged(world, "image")


@pytest.mark.parametrize(
    ("region", "rule"),
    [
        ({"type": "span", "label": "PER", "start": 3, "end": 3}, "span"),
        ({"type": "span", "label": "PER", "start": 10, "end": 99}, "span_inside_text"),
        ({"type": "span", "label": "PER", "start": 3, "end": 5}, "span_not_whitespace"),
        ({"type": "span", "label": "ORG", "start": 0, "end": 3}, "label_in_schema"),
    ],
)
def test_invalid_span_submission_is_refused(world: dict[str, Any], region: dict[str, Any], rule: str) -> None:
    task = world["tasks"]["text"]
    reply = world["annotator"].post(f"/tasks/{task['id']}/submit", json={"result": [region]})
    assert reply.status_code == 422, reply.text
    assert any(v["rule"].startswith(rule) for v in reply.json()["violations"]), reply.json()
    assert_task_unchanged(world, "text")


def test_malformed_json_is_refused(world: dict[str, Any]) -> None:
    task = world["tasks"]["image"]
    headers = {"content-type": "application/json"}
    reply = world["annotator"].post(f"/tasks/{task['id']}/submit", content=b'{"result": [', headers=headers)
    assert reply.status_code == 400 and "JSON" in reply.json()["detail"]
    reply = world["annotator"].post(f"/tasks/{task['id']}/submit", json={"result": "not a list"})
    assert reply.status_code == 422 and "result" in reply.json()["detail"]
    before = world["manager"].get("/projects").json()
    reply = world["manager"].post("/projects", content=b"{name: 'x'}", headers=headers)
    assert reply.status_code == 400 and "JSON" in reply.json()["detail"]
    reply = world["manager"].post(f"/projects/{world['image']['id']}/items", content=b"[{]", headers=headers)
    assert reply.status_code == 400 and "JSON" in reply.json()["detail"]
    assert world["manager"].get("/projects").json() == before
    assert_task_unchanged(world, "image")


def test_invalid_project_and_items_are_refused(world: dict[str, Any]) -> None:
    manager: Api = world["manager"]
    before = manager.get("/projects").json()
    bad = [
        ({"name": "p", "schema": {**SCHEMA, "tools": ["lasso"]}}, "lasso"),
        ({"name": "p", "schema": {**SCHEMA, "modality": "smell"}}, "modality"),
        ({"name": "p", "schema": SCHEMA, "policy": {"overlap": 0}}, "overlap"),
        ({"name": "p", "schema": SCHEMA, "policy": {"review": "sometimes"}}, "review"),
        ({"schema": SCHEMA}, "name"),
    ]
    for body, word in bad:
        reply = manager.post("/projects", json=body)
        assert reply.status_code == 422, (body, reply.text)
        assert word in reply.json()["detail"], reply.json()
    assert manager.get("/projects").json() == before

    pid = world["text"]["id"]
    stats = manager.get(f"/projects/{pid}/stats").json()["states"]
    reply = manager.post(f"/projects/{pid}/items", json=[{"text": "fine"}, {"text": "two", "image": "s3://b/k.png"}])
    assert reply.status_code == 422 and "items[1]" in reply.json()["detail"]
    reply = manager.post(f"/projects/{pid}/items", json=[{"text": "fine"}, {"image": "file:///etc/passwd"}])
    assert reply.status_code == 422 and "/etc/passwd" in reply.json()["detail"], reply.text
    time.sleep(0.5)
    assert manager.get(f"/projects/{pid}/stats").json()["states"] == stats


def test_oversize_body_is_refused(world: dict[str, Any]) -> None:
    task = world["tasks"]["image"]
    big = b'{"result": [], "pad": "' + b"x" * (9 << 20) + b'"}'
    reply = world["annotator"].post(
        f"/tasks/{task['id']}/submit", content=big, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413 and "limit" in reply.json()["detail"]
    reply = world["manager"].post(
        f"/projects/{world['image']['id']}/items",
        files=[("files", ("big.png", b"\x89PNG" + b"0" * (9 << 20), "image/png"))],
    )
    assert reply.status_code == 413
    assert_task_unchanged(world, "image")


def test_auth_and_roles(world: dict[str, Any], admin: Api) -> None:
    anonymous = Api(admin.base_url, "not-a-token")
    assert anonymous.get("/projects").status_code == 401
    reply = world["annotator"].post("/projects", json={"name": "nope", "schema": SCHEMA})
    assert reply.status_code == 403 and "manager" in reply.json()["detail"]
    assert world["annotator"].post("/users", json={"username": "x", "role": "admin"}).status_code == 403
    reply = admin.post("/users", json={"username": "bad name!", "role": "annotator"})
    assert reply.status_code == 422 and "username" in reply.json()["detail"]
    reply = admin.post("/users", json={"username": "someone", "role": "overlord"})
    assert reply.status_code == 422 and "role" in reply.json()["detail"]
    assert world["annotator"].get(f"/tasks/{uuid.uuid4()}").status_code == 404
