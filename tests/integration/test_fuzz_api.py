"""Issue 10: schemathesis against annotation-api's OpenAPI: no 5xx anywhere, every 4xx a JSON message.

Every operation of ``/api/v1/openapi.json`` is fuzzed as an admin and as an annotator, with schema-valid
(positive) and schema-breaking (negative) data, once with generated path ids and once with the ids of real
objects (a project with items, a leased task, its item, an export, a webhook), so requests reach the code
behind the 404s. Checks: schemathesis's not_a_server_error, status_code_conformance,
content_type_conformance and response_schema_conformance, plus ours: a 4xx body is ``{"detail": "<message>"}``.

Bounded for ``make test`` (3 examples per operation and variant, derandomized, no example database, no
deadline: a run is reproducible); ``ANNOTARY_FUZZ_EXAMPLES=N`` sets the count: ``make fuzz`` (run by
``make bench``) uses 25, ``make fuzz FUZZ_EXAMPLES=100`` goes further.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotary_cli.stack import Stack
from tests.integration.client import Api

EXAMPLES = int(os.environ.get("ANNOTARY_FUZZ_EXAMPLES", "3"))
SCHEMA = {"modality": "text", "labels": [{"name": "PER"}, {"name": "ORG"}], "tools": ["span"]}


def error_names_the_problem(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every 4xx is JSON ``{"detail": "<non-empty message>"}``."""
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except ValueError as exc:
            raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from exc
        detail = body.get("detail") if isinstance(body, dict) else None
        if not isinstance(detail, str) or not detail.strip():
            raise AssertionError(f"{response.status_code} without a message in 'detail': {body!r}"[:400])
    return None


CHECKS: list[Callable[..., bool | None]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_names_the_problem,
]


@pytest.fixture(scope="module")
def world(stack: Stack, admin: Api) -> dict[str, Any]:
    """Real objects whose ids the fuzzer uses as path parameters, and an annotator holding a task."""
    reply = admin.post("/users", json={"username": f"fuzz-ann-{uuid.uuid4().hex[:8]}", "role": "annotator"})
    assert reply.status_code == 201, reply.text
    annotator = Api(admin.base_url, reply.json()["token"])
    annotator_id = reply.json()["id"]
    # /users/{user_id}/... (role changes, tokens) get another user, so the fuzzing annotator stays one
    other = admin.post("/users", json={"username": f"fuzz-other-{uuid.uuid4().hex[:8]}", "role": "annotator"})
    assert other.status_code == 201, other.text
    project = admin.create_project(f"fuzz-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})
    items = [{"text": f"Ada Lovelace met Charles Babbage, take {i}."} for i in range(3)]
    assert admin.post(f"/projects/{project['id']}/items", json=items).status_code == 201
    deadline = time.monotonic() + 30
    while True:
        reply = annotator.post(f"/projects/{project['id']}/tasks/next")
        if reply.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert reply.status_code == 200, reply.text
    task = reply.json()
    export = admin.post(f"/projects/{project['id']}/exports", json={"format": "jsonl"})
    assert export.status_code == 202, export.text
    webhook = admin.post(f"/projects/{project['id']}/webhooks", json={"url": "https://example.invalid/hook"})
    assert webhook.status_code == 201, webhook.text
    ids = {
        "project_id": project["id"],
        "task_id": task["id"],
        "item_id": task["item"]["id"],
        "export_id": export.json()["id"],
        "webhook_id": webhook.json()["id"],
        "annotator_id": annotator_id,
        "user_id": other.json()["id"],
        "annotation_id": task["id"],
    }
    schema = schemathesis.openapi.from_url(f"{stack.api_url}/api/v1/openapi.json", timeout=30)
    return {"schema": schema, "ids": ids, "tokens": {"admin": admin.token, "annotator": annotator.token}}


def fuzz_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    path_parameters: dict[str, str],
    call: dict[str, Any],
    examples: int,
) -> tuple[int, list[str]]:
    """Up to ``examples`` cases of one operation; (requests sent, the first two failures)."""
    sent = 0
    found: list[str] = []
    label = f"{operation.label} [{mode.value}, real ids={bool(path_parameters)}]"

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        try:
            response = case.call(**call, timeout=60)
            case.validate_response(response, checks=CHECKS, headers=call["headers"])  # type: ignore[arg-type]
        except (FailureGroup, AssertionError, requests.RequestException) as exc:
            if len(found) < 2:  # the first two per operation and mode are enough to act on
                found.append(f"{label}: {exc}")

    try:
        run()
    except Unsatisfiable:  # nothing to negate (an operation without parameters or body)
        assert mode is schemathesis.GenerationMode.NEGATIVE, label
    return sent, found


def fuzz(schema: Any, base_url: str, token: str, ids: dict[str, str], examples: int) -> tuple[int, list[str], set[str]]:
    """Run every operation; (requests sent, failures, operations run)."""
    call = {"base_url": base_url, "session": requests.Session(), "headers": {"Authorization": f"Bearer {token}"}}
    sent = 0
    failures: list[str] = []
    seen: set[str] = set()
    timings: list[tuple[float, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        fixed = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        # Negative data needs something to break beyond a free-form string in the path: a body or a query.
        negatable = operation.body or any(True for _ in operation.query)
        plan = [(schemathesis.GenerationMode.POSITIVE, {}, max(1, examples // 2))]
        if fixed:
            plan.append((schemathesis.GenerationMode.POSITIVE, fixed, examples))
        if negatable:
            plan.append((schemathesis.GenerationMode.NEGATIVE, fixed, examples))
        for mode, path_parameters, count in plan:
            began = time.monotonic()
            done, found = fuzz_operation(operation, mode, path_parameters, call, count)
            timings.append((time.monotonic() - began, f"{operation.label} {mode.value} ids={bool(path_parameters)}"))
            sent += done
            failures.extend(found)
        seen.add(operation.label)
    for elapsed, what in sorted(timings, reverse=True)[:8]:
        print(f"  {elapsed:6.2f}s {what}")
    return sent, failures, seen


@pytest.mark.parametrize("role", ["admin", "annotator"])
def test_fuzz_every_operation(stack: Stack, world: dict[str, Any], role: str) -> None:
    started = time.monotonic()
    sent, failures, seen = fuzz(world["schema"], stack.api_url, world["tokens"][role], world["ids"], EXAMPLES)
    elapsed = time.monotonic() - started
    print(f"fuzz as {role}: {len(seen)} operations, {sent} requests in {elapsed:.1f}s")
    assert len(seen) >= 40, f"only {len(seen)} operations in the OpenAPI: {sorted(seen)}"
    assert sent >= len(seen) * 2
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
