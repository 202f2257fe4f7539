"""Issue 10 on the real stack: API tokens (hashed, shown once, listed without secrets, revocable, expiring), the
append-only audit log answering "who changed this annotation, when, from what" through the API, and expiring
links to exports and media."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "tools": ["span"], "labels": [{"name": "PER"}, {"name": "LOC"}]}
TEXT = "Ada Lovelace lived in London."
ADA = [{"type": "span", "label": "PER", "start": 0, "end": 12}]
LONDON = [{"type": "span", "label": "LOC", "start": 22, "end": 28}]


def _db(stack: Stack, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        deadline = time.monotonic() + 60
        while True:  # the shared server may be at max_connections for a moment
            try:
                conn = await asyncpg.connect(stack.config.database_url)
                break
            except asyncpg.TooManyConnectionsError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        try:
            await conn.execute("SET search_path TO annotation_api")
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows
        finally:
            await conn.close()

    return asyncio.run(run())


def test_tokens_hashed_shown_once_revocable_and_expiring(stack: Stack, admin: Api, make_user: Any) -> None:
    assert admin.get("/me").json()["role"] == "admin"  # the admin token from the stack config works
    ann = make_user("annotator")
    made = ann.post("/me/tokens", json={"name": "laptop", "expires_in_days": 30})
    assert made.status_code == 201, made.text
    second = made.json()["token"]
    listed = ann.get("/me/tokens").json()
    assert {t["name"] for t in listed} == {"initial", "laptop"}
    assert all("token" not in t and second not in str(t) and ann.token not in str(t) for t in listed)
    stored = {r["token_hash"] for r in _db(stack, "SELECT token_hash FROM api_tokens")}
    assert ann.token not in stored and second not in stored
    assert hashlib.sha256(second.encode()).hexdigest() in stored
    assert hashlib.sha256(admin.token.encode()).hexdigest() in stored and admin.token not in stored
    laptop = Api(ann.base_url, second)
    assert laptop.get("/me").status_code == 200
    revoked = ann.http.delete(f"/tokens/{made.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    reply = laptop.get("/me")
    assert reply.status_code == 401 and "revoked" in reply.json()["detail"]
    assert ann.get("/me").status_code == 200  # the other token still works
    # an admin lists anyone's tokens (no secrets) and revokes them; an expiring token stops at its time
    uid = ann.get("/me").json()["id"]
    assert len(admin.get(f"/users/{uid}/tokens").json()) == 2
    short = admin.post(f"/users/{uid}/tokens", json={"name": "short",
                                                     "expires_at": _iso_in(6.0)}).json()["token"]
    assert Api(ann.base_url, short).get("/me").status_code == 200
    time.sleep(6.5)
    assert Api(ann.base_url, short).get("/me").status_code == 401
    bad = admin.post(f"/users/{uid}/tokens", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"})
    assert bad.status_code == 422 and "future" in bad.json()["detail"]
    # every token change is in the audit log, for admins only
    changes = admin.get("/audit", params={"entity": "token", "actor": uid}).json()
    assert [c["action"] for c in changes] == ["create", "revoke"]
    assert make_user("manager").get("/audit", params={"entity": "token"}).status_code == 403


def _iso_in(seconds: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _history(api: Api, ref: str, want: set[str], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply = api.get(f"/annotations/{ref}/history")
        if reply.status_code == 200 and want <= {c["action"] for c in reply.json()["changes"]}:
            history: dict[str, Any] = reply.json()
            return history
        if time.monotonic() > deadline:
            pytest.fail(f"history of {ref} never showed {want}: {reply.status_code} {reply.text[:500]}")
        time.sleep(0.2)


def test_audit_answers_who_changed_an_annotation_when_and_from_what(stack: Stack, make_user: Any) -> None:
    manager, ann, reviewer = make_user("manager"), make_user("annotator"), make_user("reviewer")
    me = ann.get("/me").json()
    # consensus: one annotator, accepted as submitted
    pid = manager.create_project(f"audit-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1, "review": "none"})["id"]
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "a", "text": TEXT}]).status_code == 201
    wait_items(manager, pid, 1)
    task = ann.post(f"/projects/{pid}/tasks/next").json()
    before_submit = time.time()
    assert ann.post(f"/tasks/{task['id']}/submit", json={"result": ADA}).status_code == 200
    history = _history(reviewer, task["item"]["id"], {"submit", "accept"})
    submit, accept = history["changes"][0], history["changes"][-1]
    assert submit["action"] == "submit" and submit["actor"] == {"id": me["id"], "username": me["username"]}
    assert submit["before"] is None and submit["after"]["result"] == ADA and submit["refs"]["task_id"] == task["id"]
    assert abs(_epoch(submit["at"]) - before_submit) < 30
    assert accept["actor"]["id"] == "consensus" and accept["after"]["result"] == ADA
    assert accept["before"]["submissions"][0]["annotator_id"] == me["id"]
    assert _history(reviewer, task["id"], {"submit"})["item_id"] == task["item"]["id"]  # by task id too
    by_query = reviewer.get("/audit", params={"entity": "annotation", "id": task["item"]["id"]})
    assert by_query.status_code == 403  # the raw log is for managers and above
    rows = manager.get("/audit", params={"entity": "annotation", "id": task["item"]["id"]}).json()
    # the raw log is in recorded order (the qa and orchestrator events come in no set order), the history by time
    assert [r["action"] for r in sorted(rows, key=lambda r: (r["at"], r["id"]))] == \
        [c["action"] for c in history["changes"]]

    # review: a reviewer corrects the annotator's result; the history shows from what to what
    pid2 = manager.create_project(f"audit-rev-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1, "review": "all"})["id"]
    assert manager.post(f"/projects/{pid2}/items", json=[{"external_id": "b", "text": TEXT}]).status_code == 201
    wait_items(manager, pid2, 1)
    task2 = ann.post(f"/projects/{pid2}/tasks/next").json()
    assert ann.post(f"/tasks/{task2['id']}/submit", json={"result": ADA}).status_code == 200
    item2 = task2["item"]["id"]
    deadline = time.monotonic() + 60
    while True:
        reply = reviewer.post(f"/projects/{pid2}/reviews/{item2}",
                              json={"round": 1, "decision": "correct", "result": ADA + LONDON})
        if reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # qa has not put it in review yet
    assert reply.status_code == 200, reply.text
    changes = _history(manager, item2, {"submit", "correct"})["changes"]
    correct = next(c for c in changes if c["action"] == "correct")
    assert correct["actor"]["id"] == reviewer.get("/me").json()["id"]
    assert correct["before"]["submissions"][0]["result"] == ADA
    assert correct["after"]["result"] == ADA + LONDON

    # schemas, policies, projects and exports: who, from what, to what
    patched = manager.http.patch(f"/projects/{pid}", json={"policy": {"overlap": 2, "review": "none"}})
    assert patched.status_code == 200, patched.text
    policy = manager.get("/audit", params={"entity": "policy", "id": pid}).json()
    assert [p["action"] for p in policy] == ["create", "update"]
    assert policy[1]["before"]["overlap"] == 1 and policy[1]["after"]["overlap"] == 2
    assert policy[1]["actor"]["id"] == manager.get("/me").json()["id"]
    schema = manager.get("/audit", params={"entity": "schema", "id": pid}).json()
    assert schema[0]["after"]["version"] == 1
    export = manager.post(f"/projects/{pid}/exports", json={"format": "jsonl"}).json()
    exports = manager.get("/audit", params={"entity": "export", "id": export["id"]}).json()
    assert exports[0]["after"]["format"] == "jsonl"
    hook = manager.post(f"/projects/{pid}/webhooks", json={"url": "https://hooks.example/annotary", "secret": "s3cr3t"})
    assert hook.status_code == 201, hook.text
    assert manager.http.delete(f"/projects/{pid}/webhooks/{hook.json()['id']}").status_code == 204
    hooks = manager.get("/audit", params={"entity": "webhook", "id": hook.json()["id"]}).json()
    assert [h["action"] for h in hooks] == ["create", "delete"] and "s3cr3t" not in str(hooks)
    # append-only in the database itself
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        _db(stack, "UPDATE audit_log SET actor_id = 'nobody' WHERE entity = 'annotation'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        _db(stack, "DELETE FROM audit_log")


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_export_links_are_presigned_and_expire(stack: Stack, make_user: Any) -> None:
    manager, ann = make_user("manager"), make_user("annotator")
    pid = manager.create_project(f"links-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1, "review": "none"})["id"]
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "a", "text": TEXT}]).status_code == 201
    wait_items(manager, pid, 1)
    task = ann.post(f"/projects/{pid}/tasks/next").json()
    assert ann.post(f"/tasks/{task['id']}/submit", json={"result": ADA}).status_code == 200
    _history(manager, task["item"]["id"], {"accept"})
    export = manager.post(f"/projects/{pid}/exports", json={"format": "jsonl"}).json()
    assert manager.wait_export(export["id"])["status"] == "done"
    link = manager.get(f"/exports/{export['id']}/link", params={"expires_in": 60}).json()
    assert link["kind"] == "s3-presigned" and link["expires_in"] == 60
    assert "X-Amz-Expires=60" in link["url"] and "X-Amz-Signature=" in link["url"]
    direct = httpx.get(link["url"], timeout=30.0)  # no bearer token: the signature is the permission
    assert direct.status_code == 200
    assert direct.content == manager.get(f"/exports/{export['id']}/download").content
    assert manager.get(f"/exports/{export['id']}/link", params={"expires_in": 0}).status_code == 422
    assert ann.get(f"/exports/{export['id']}/link").status_code == 403
