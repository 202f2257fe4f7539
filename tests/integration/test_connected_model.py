"""A team's existing Label Studio ML backend plugged in unchanged: connected through the REST API, checked,
registered as the project's serving version, and pre-labeling the queue (the backend is a ``label-studio-ml``
model served by the package's own server from .venv-lsml, see services/preannotate/tests/lsml)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from annotary_cli.infra import free_port, wait_for_port
from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items

ROOT = Path(__file__).resolve().parents[2]
LSML_PYTHON = ROOT / ".venv-lsml" / "bin" / "python"
BACKEND = ROOT / "services" / "preannotate" / "tests" / "lsml" / "backend.py"
SCHEMA = {"modality": "text", "labels": [{"name": "PER"}], "tools": ["span", "choice"],
          "choices": [{"name": "sentiment", "options": ["positive", "negative", "neutral"]}]}


@pytest.fixture()
def backend_url(tmp_path: Path) -> Iterator[str]:
    if not LSML_PYTHON.exists():
        pytest.fail(f"{LSML_PYTHON} is missing: run `make lsml` (make test does)")
    port = free_port()
    with (tmp_path / "backend.log").open("w") as log:
        proc = subprocess.Popen([str(LSML_PYTHON), str(BACKEND), str(port)], stdout=log, stderr=subprocess.STDOUT,
                                env={"MODEL_DIR": str(tmp_path), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        try:
            wait_for_port("127.0.0.1", port, 30.0, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


def task_with_prelabel(make_user: Any, pid: str, model_version: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Lease tasks until one carries a pre-label of ``model_version`` (pre-labels arrive asynchronously): the task and
    that model's predictions. A task leased too early is skipped, by a fresh annotator each time (a skipped item never
    comes back to the same annotator)."""
    deadline = time.monotonic() + 60
    while True:
        annotator: Api = make_user("annotator")
        task = annotator.post(f"/projects/{pid}/tasks/next").json()
        mine = [p for p in task["predictions"] if p["model_version"] == model_version]
        if mine or time.monotonic() > deadline:
            break
        skipped = annotator.post(f"/tasks/{task['id']}/skip", json={"reason": "waiting for pre-labels"})
        assert skipped.status_code == 200, skipped.text
        time.sleep(0.5)
    assert mine, f"no pre-label from {model_version} reached the tasks: {task}"
    return task, mine


def test_a_label_studio_ml_backend_prelabels_the_queue(stack: Stack, make_user: Any, backend_url: str) -> None:
    manager: Api = make_user("manager")
    annotator: Api = make_user("annotator")
    pid = manager.create_project(f"lsml-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1, "review": "none"})["id"]

    refused = manager.post(f"/projects/{pid}/models/connect", json={"plugin": "ls-ml-backend",
                                                                    "url": backend_url + "/gone"})
    assert refused.status_code in (409, 422, 502) and "health" in refused.text, refused.text
    assert manager.get(f"/projects/{pid}/models").json() == []  # nothing registered
    assert annotator.post(f"/projects/{pid}/models/connect",
                          json={"plugin": "ls-ml-backend", "url": backend_url}).status_code == 403

    connected = manager.post(f"/projects/{pid}/models/connect", json={"plugin": "ls-ml-backend", "url": backend_url})
    assert connected.status_code == 201, connected.text
    version = connected.json()
    assert version["model_version"] == f"ls-ml-backend@{pid}/v1" and version["serving"], version
    assert version["lineage"]["remote"] == backend_url and version["promoted_by"]

    texts = ["Alice met Bob", "nothing to see", "Carol wrote"]
    reply = manager.post(f"/projects/{pid}/items", json=[{"external_id": f"t{k}", "text": t}
                                                         for k, t in enumerate(texts)])
    assert reply.status_code == 201, reply.text
    wait_items(manager, pid, len(texts))

    task, mine = task_with_prelabel(make_user, pid, version["model_version"])
    text = task["item"]["text"]
    spans = [text[r["start"]:r["end"]] for r in mine[0]["result"] if r["type"] == "span"]
    assert spans == [w for w in text.split() if w[0].isupper()]
    assert any(r["type"] == "choice" and r["name"] == "sentiment" for r in mine[0]["result"])


def test_the_built_in_voice_activity_model_prelabels_audio_items(stack: Stack, make_user: Any) -> None:
    from tests.integration.test_workspace_av import TONE, tone_wav, upload

    manager: Api = make_user("manager")
    schema = {"modality": "audio", "tools": ["segment"], "labels": [{"name": "music"}, {"name": "speech"}]}
    pid = manager.create_project(f"vad-{uuid.uuid4().hex[:6]}", schema, {"overlap": 1, "review": "none"})["id"]
    refused = manager.post(f"/projects/{pid}/models/connect", json={"plugin": "ls-ml-backend"})
    assert refused.status_code == 422 and "url" in refused.text, refused.text  # a remote model needs its address
    connected = manager.post(f"/projects/{pid}/models/connect", json={"plugin": "audio-energy-vad"})
    assert connected.status_code == 201, connected.text
    version = connected.json()
    assert version["model_version"] == f"audio-energy-vad@{pid}/v1" and version["serving"], version
    assert version["lineage"]["config"]["label"] == "speech"

    upload(manager, pid, "tone.wav", tone_wav(), "audio/wav")  # ingested after the model serves: pre-labeled
    _, mine = task_with_prelabel(make_user, pid, version["model_version"])
    [segment] = mine[0]["result"]
    assert (segment["type"], segment["label"], segment["text"]) == ("segment", "speech", "")
    assert segment["start"] == pytest.approx(TONE[0], abs=0.05) and segment["end"] == pytest.approx(TONE[1], abs=0.05)
