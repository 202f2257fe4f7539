"""Issue 10 on the real stack: the RBAC matrix (every endpoint of the OpenAPI, and the routes the OpenAPI hides,
against every role and an anonymous caller) and IDOR by id guessing (an annotator reaches only what is leased to
them; another's task answers exactly as a task that does not exist)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from annotary_annotation_api.domain.access import RULES, allowed, rule_for
from annotary_annotation_api.domain.roles import Role
from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

SCHEMA = {"modality": "text", "tools": ["span"], "labels": [{"name": "PER"}, {"name": "LOC"}]}
CALLERS: list[str | None] = [None, "annotator", "reviewer", "manager", "admin"]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: "x" if m.group(2) else str(uuid.uuid4()), path)


def detail(reply: httpx.Response) -> str:
    try:
        data = reply.json()
    except ValueError:
        return ""
    return str(data.get("detail", "")) if isinstance(data, dict) else ""


def test_rbac_matrix_on_the_stack(stack: Stack, admin: Api, make_user: Any) -> None:
    callers: dict[str | None, httpx.Client] = {None: httpx.Client(base_url=stack.api_url, timeout=30.0)}
    callers["admin"] = httpx.Client(base_url=stack.api_url, timeout=30.0,
                                    headers={"authorization": f"Bearer {admin.token}"})
    for role in ("annotator", "reviewer", "manager"):
        callers[role] = httpx.Client(base_url=stack.api_url, timeout=30.0,
                                     headers={"authorization": f"Bearer {make_user(role).token}"})
    openapi = callers[None].get("/api/v1/openapi.json").json()
    endpoints = [(m.upper(), p) for p, ops in openapi["paths"].items() for m in ops]
    hidden = [tuple(key.split(" ", 1)) for key in RULES if key.split(" ", 1)[1] not in openapi["paths"]]
    assert len(endpoints) >= 60, "the OpenAPI lost its endpoints"
    failures: list[str] = []
    for method, template in endpoints + hidden:
        rule = rule_for(method, template)
        if rule is None:
            failures.append(f"{method} {template}: no rule in domain/access.py")
            continue
        path = concrete(template) + ("?entity=project" if template == "/api/v1/audit" else "")
        for caller in CALLERS:
            kw: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            reply = callers[caller].request(method, path, **kw)
            role = Role(caller) if caller else None
            what = f"{method} {template} as {caller or 'anonymous'}"
            if reply.status_code >= 500 and reply.status_code != 503:
                failures.append(f"{what}: {reply.status_code} {reply.text[:200]}")
            if allowed(rule, role):
                if reply.status_code == 401 or (reply.status_code == 403 and "role or above" in detail(reply)):
                    failures.append(f"{what}: allowed, got {reply.status_code} {detail(reply)}")
            elif role is None:
                if reply.status_code != 401 or not detail(reply):
                    failures.append(f"{what}: want 401 with a message, got {reply.status_code} {reply.text[:200]}")
            else:
                assert rule.role is not None
                if reply.status_code != 403 or f"needs the {rule.role.value} role" not in detail(reply):
                    failures.append(f"{what}: want 403 naming {rule.role.value}, got {reply.status_code} "
                                    f"{reply.text[:200]}")
    for client in callers.values():
        client.close()
    assert not failures, "\n".join(failures)


def _idor_calls(task_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET", f"/tasks/{task_id}", {}),
        ("GET", f"/tasks/{task_id}/media", {}),
        ("GET", f"/tasks/{task_id}/media/link", {}),
        ("GET", f"/tasks/{task_id}/draft", {}),
        ("PUT", f"/tasks/{task_id}/draft", {"json": {"result": []}}),
        ("DELETE", f"/tasks/{task_id}/draft", {}),
        ("POST", f"/tasks/{task_id}/flag", {"json": {"reason": "looks odd"}}),
        ("GET", f"/tasks/{task_id}/flags", {}),
        ("GET", f"/tasks/{task_id}/comments", {}),
        ("POST", f"/tasks/{task_id}/comments", {"json": {"body": "hello"}}),
        ("GET", f"/tasks/{task_id}/rework", {}),
        ("POST", f"/tasks/{task_id}/assist", {"json": {"kind": "click_to_segment", "points": [[1, 1, 1]]}}),
        ("POST", f"/tasks/{task_id}/submit", {"json": {"result": []}}),
        ("POST", f"/tasks/{task_id}/skip", {"json": {"reason": "x"}}),
        ("POST", f"/tasks/{task_id}/heartbeat", {}),
    ]


def test_annotators_reach_only_their_own_tasks(make_user: Any) -> None:
    manager, owner, guesser, reviewer = (make_user("manager"), make_user("annotator"), make_user("annotator"),
                                         make_user("reviewer"))
    pid = manager.create_project(f"idor-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]
    items = [{"external_id": f"t{i}", "text": f"Ada Lovelace {i} lived in London."} for i in range(3)]
    assert manager.post(f"/projects/{pid}/items", json=items).status_code == 201
    wait_items(manager, pid, 3)
    task = owner.post(f"/projects/{pid}/tasks/next").json()
    tid, item_id = task["id"], task["item"]["id"]
    assert owner.post(f"/tasks/{tid}/comments", json={"body": "mine"}).status_code == 201
    assert owner.post(f"/tasks/{tid}/flag", json={"reason": "mine"}).status_code == 201
    assert owner.http.put(f"/tasks/{tid}/draft", json={"result": []}).status_code == 200

    leaks = []
    for guess in (tid, str(uuid.uuid4())):
        for method, path, kw in _idor_calls(guess):
            reply = guesser.http.request(method, path, **kw)
            body = reply.text.replace(guess, "<id>")
            if reply.status_code != 404 or body != '{"detail":"task <id> not found"}':
                leaks.append(f"{method} {path.replace(guess, '<' + ('theirs' if guess == tid else 'random') + '>')}:"
                             f" {reply.status_code} {body[:200]}")
    assert not leaks, "\n".join(leaks)
    # nothing the guesser did changed the owner's task, draft, comments or flags
    assert owner.get(f"/tasks/{tid}").json()["state"] == "assigned"
    assert [c["body"] for c in owner.get(f"/tasks/{tid}/comments").json()] == ["mine"]
    assert [f["reason"] for f in owner.get(f"/tasks/{tid}/flags").json()] == ["mine"]
    assert owner.get(f"/tasks/{tid}/draft").status_code == 200
    # item ids: an annotator has no item-level route (role), a reviewer does
    for path in (f"/items/{item_id}/history", f"/annotations/{item_id}/history", f"/annotations/{tid}/history"):
        reply = guesser.get(path)
        assert reply.status_code == 403 and "reviewer role" in reply.json()["detail"], (path, reply.text)
    assert reviewer.get(f"/tasks/{tid}").status_code == 200  # reviewers and above see any task
    assert reviewer.get(f"/items/{item_id}/history").status_code == 200
    # an annotator's figures: only their own
    figures = guesser.get(f"/projects/{pid}/annotators").json()
    assert all(f["annotator_id"] == guesser.get("/me").json()["id"] for f in figures)
    reply = guesser.get(f"/projects/{pid}/dashboard/annotators/{owner.get('/me').json()['id']}")
    assert reply.status_code == 403
    # tokens of others: the same 404 as an unknown token id
    owner_tokens = owner.get("/me/tokens").json()
    for token_id in (owner_tokens[0]["id"], str(uuid.uuid4())):
        reply = guesser.http.delete(f"/tokens/{token_id}")
        assert reply.status_code == 404 and reply.text.replace(token_id, "<id>") == '{"detail":"token <id> not found"}'
    assert owner.get("/me").status_code == 200
