"""The Label Studio ML backend adapter against a real backend: a ``label-studio-ml`` model served by the
package's own server in .venv-lsml (``make lsml``), on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from annotary.events.v1 import events_pb2
from annotary.preannotate.v1 import preannotate_pb2
from annotary_cli.infra import free_port, wait_for_port
from annotary_common.bus import apply_once
from annotary_common.events import build_envelope, parse_event
from annotary_common.labelstudio import label_config
from annotary_common.topics import ITEM_INGESTED
from annotary_preannotate.domain.plugin import Accepted, PredictItem
from annotary_preannotate.models import PLUGINS
from annotary_preannotate.models.ls_ml_backend import BackendError, LabelStudioMLBackend
from annotary_preannotate.service_layer import predictions
from annotary_preannotate.service_layer.worker import Worker

ROOT = Path(__file__).resolve().parents[3]
LSML_PYTHON = ROOT / ".venv-lsml" / "bin" / "python"
BACKEND = Path(__file__).parent / "lsml" / "backend.py"

TEXT_SCHEMA = {"modality": "text", "tools": ["span", "choice"], "labels": ["PER"],
               "choices": [{"name": "sentiment", "options": ["positive", "negative", "neutral"]}]}
IMAGE_SCHEMA = {"modality": "image", "tools": ["bbox"], "labels": ["cat", "dog"]}


@pytest.fixture()
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh backend (its own model folder) per test."""
    if not LSML_PYTHON.exists():
        pytest.fail(f"{LSML_PYTHON} is missing: run `make lsml` (make test does)")
    port = free_port()
    model_dir = tmp_path_factory.mktemp("lsml-models")
    log = (model_dir / "backend.log").open("w")
    proc = subprocess.Popen([str(LSML_PYTHON), str(BACKEND), str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={"MODEL_DIR": str(model_dir), "PATH": "/usr/bin:/bin"})
    try:
        wait_for_port("127.0.0.1", port, 30.0, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_label_config_names_every_label_and_choice() -> None:
    config = label_config(TEXT_SCHEMA)
    assert config.startswith("<View><Text name=\"text\" value=\"$text\"/>")
    assert '<Labels name="label" toName="text"><Label value="PER"/></Labels>' in config
    assert '<Choices name="sentiment" toName="text" choice="single">' in config
    assert '<RectangleLabels name="label" toName="image">' in label_config(IMAGE_SCHEMA)
    with pytest.raises(ValueError, match="image and text"):
        label_config({"modality": "audio", "labels": []})


def test_text_predictions_come_back_in_order_as_regions(backend_url: str) -> None:
    model = LabelStudioMLBackend(backend_url, TEXT_SCHEMA, project="p1")
    model.setup()
    assert model.model_version == "ls-ml-backend:INITIAL"
    texts = ["Alice liked it", "nothing here", "Bob and Carol"]
    predictions = model.predict([PredictItem(f"i{k}", text) for k, text in enumerate(texts)])
    assert [p.item_id for p in predictions] == ["i0", "i1", "i2"]
    first = predictions[0].result
    assert {"type": "choice", "name": "sentiment", "value": "neutral", "score": 0.4} in first
    assert [(r["start"], r["end"], r["label"]) for r in first if r["type"] == "span"] == [(0, 5, "PER")]
    assert [(r["start"], r["end"]) for r in predictions[2].result if r["type"] == "span"] == [(0, 3), (8, 13)]
    assert all(p.model_version == "ls-ml-backend:INITIAL" for p in predictions)


def test_accepted_annotations_train_the_backend_and_name_a_new_version(backend_url: str) -> None:
    model = LabelStudioMLBackend(backend_url, TEXT_SCHEMA, project="p2")
    model.setup()
    accepted = [Accepted("a1", [{"type": "choice", "name": "sentiment", "value": "positive"}], "great product"),
                Accepted("a2", [{"type": "choice", "name": "sentiment", "value": "negative"}], "awful service")]
    trained, report = model.fit(accepted, "candidate")
    assert report.training_items == 2
    assert trained.model_version != model.model_version and trained.model_version.startswith("ls-ml-backend:")
    got = trained.predict([PredictItem("x", "a great day"), PredictItem("y", "the service was awful")])
    choices = [next(r["value"] for r in p.result if r["type"] == "choice") for p in got]
    assert choices == ["positive", "negative"]
    assert got[0].score == 0.9 and got[0].model_version == trained.model_version


def test_image_boxes_are_converted_from_percent_to_pixels(backend_url: str) -> None:
    model = LabelStudioMLBackend(backend_url, IMAGE_SCHEMA, project="p3")
    model.setup()
    [prediction] = model.predict([PredictItem("img", media_uri="s3://bucket/cat.png")])
    box = prediction.result[0]
    assert (box["type"], box["label"], box["x"], box["y"], box["w"], box["h"]) == ("bbox", "cat", 50, 25, 100, 50)


class OneShortBackend(BaseHTTPRequestHandler):
    """A backend that breaks the protocol: healthy, but answers one result whatever it is asked."""

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json({"status": "UP"})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self._json({"model_version": "v1"} if self.path == "/setup" else {"results": [{"result": []}]})

    def log_message(self, *args: object) -> None:
        pass


def test_a_backend_that_breaks_the_protocol_gets_a_clear_error(backend_url: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OneShortBackend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        broken = LabelStudioMLBackend(f"http://127.0.0.1:{server.server_port}", TEXT_SCHEMA, project="p4")
        broken.setup()
        with pytest.raises(BackendError, match="one result per task, in order: sent 2 tasks, got 1"):
            broken.predict([PredictItem("a", "x"), PredictItem("b", "y")])
    finally:
        server.shutdown()
    down = LabelStudioMLBackend(backend_url + "/nowhere", TEXT_SCHEMA, project="p5")
    with pytest.raises(BackendError, match="health"):
        down.setup()


def test_every_model_plugin_is_registered() -> None:
    assert {"text-choice-minilm-logreg", "token-ner-logreg", "openai-chat", "ls-ml-backend"} <= set(PLUGINS)


# -- connected to a project: registered, serving, and pre-labeling the queue ----------------------------
async def test_a_connected_backend_serves_the_project_and_prelabels_its_queue(
        backend_url: str, pool: asyncpg.Pool, stub: tuple[Worker, Any]) -> None:
    worker, client = stub
    project = str(uuid.uuid4())
    item_id = str(uuid.uuid4())
    snapshot = events_pb2.ItemSnapshot(item_id=item_id, project_id=project, modality="text", text="Dana wrote this")
    event = parse_event(build_envelope(ITEM_INGESTED, item_id, events_pb2.ItemIngested(item=snapshot),
                                       "ingest").SerializeToString())
    await apply_once(pool, "test", event, predictions.on_item_ingested)

    request = preannotate_pb2.ConnectModelRequest(project_id=project, plugin="ls-ml-backend", url=backend_url,
                                                  label_schema_json=json.dumps(TEXT_SCHEMA), actor="manager-1")
    version = await client.ConnectModel(request)
    assert version.model_version == f"ls-ml-backend@{project}/v1"
    assert (version.plugin, version.serving, version.promoted_by) == ("ls-ml-backend", True, "manager-1")
    assert json.loads(version.training_data_json)["backend_version"] == "ls-ml-backend:INITIAL"

    assert await worker.score_once()
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT model_version, result_json::text AS r FROM predictions WHERE item_id = $1",
                                  uuid.UUID(item_id))
        topics = [r["topic"] for r in await conn.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert row["model_version"] == version.model_version  # the registry's name: lineage from the pre-label
    spans = [(r["start"], r["end"], r["label"]) for r in json.loads(row["r"]) if r["type"] == "span"]
    assert spans == [(0, 4, "PER")]
    assert "item.preannotated" in topics and "item.scored" in topics

    on_demand = await client.Predict(preannotate_pb2.PredictRequest(
        project_id=project, items=[preannotate_pb2.PredictItem(item_id="q", text="Eve")]))
    assert on_demand.predictions[0].model_version == version.model_version


async def test_connecting_a_model_checks_it_first_and_names_what_is_wrong(
        backend_url: str, stub: tuple[Worker, Any], pool: asyncpg.Pool) -> None:
    _, client = stub
    schema = json.dumps(TEXT_SCHEMA)
    cases = [
        (preannotate_pb2.ConnectModelRequest(project_id="p", plugin="mystery", url=backend_url, actor="m",
                                             label_schema_json=schema), grpc.StatusCode.INVALID_ARGUMENT, "plugin"),
        (preannotate_pb2.ConnectModelRequest(project_id="p", plugin="ls-ml-backend", url="ftp://x", actor="m",
                                             label_schema_json=schema), grpc.StatusCode.INVALID_ARGUMENT, "url"),
        (preannotate_pb2.ConnectModelRequest(project_id="p", plugin="ls-ml-backend", url=backend_url, actor="m",
                                             label_schema_json="{"), grpc.StatusCode.INVALID_ARGUMENT, "not JSON"),
        (preannotate_pb2.ConnectModelRequest(project_id="p", plugin="ls-ml-backend", url=backend_url + "/gone",
                                             actor="m", label_schema_json=schema),
         grpc.StatusCode.FAILED_PRECONDITION, "health"),
    ]
    for request, code, words in cases:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.ConnectModel(request)
        assert caught.value.code() == code and words in (caught.value.details() or ""), caught.value
    assert await pool.fetchval("SELECT count(*) FROM model_versions") == 0  # nothing registered
