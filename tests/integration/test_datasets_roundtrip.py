"""Datasets on the real stack: a Label Studio export imported (items, accepted annotations with provenance,
predictions), exported in every format (loaded back with the format's own library), the Label Studio round trip
export -> import -> export identical, dataset versions (manifest, incremental), export progress, webhooks signed
and retried until a failing receiver recovers, and an incremental S3 sync."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from pycocotools.coco import COCO

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_sources import s3_client

SCHEMA = {"modality": "image", "labels": [{"name": "cat"}, {"name": "dog"}, {"name": "PER"}, {"name": "LOC"}],
          "tools": ["bbox", "polygon", "span", "choice"],
          "choices": [{"name": "quality", "options": ["good", "bad"], "multiple": False}]}


def ls_export(names: list[str]) -> list[dict[str, Any]]:
    """A Label Studio export: image tasks (160x120) with boxes, polygons and a choice; text tasks with spans."""
    tasks: list[dict[str, Any]] = []
    for n, name in enumerate(names):
        size = {"original_width": 160, "original_height": 120}
        tasks.append({"id": n + 1, "data": {"image": f"/data/upload/1/{name}"}, "meta": {"batch": "b1"},
                      "annotations": [{"id": 100 + n, "completed_by": {"id": 2, "email": f"ann{n % 2}@example.org"},
                                       "result": [
            {"id": f"b{n}", "type": "rectanglelabels", "from_name": "label", "to_name": "image", **size,
             "value": {"x": 10 + n, "y": 12.5, "width": 25, "height": 40, "rotation": 0,
                       "rectanglelabels": ["cat" if n % 2 else "dog"]}},
            {"id": f"p{n}", "type": "polygonlabels", "from_name": "label", "to_name": "image", **size,
             "value": {"points": [[50, 50], [75, 50], [75, 80]], "polygonlabels": ["dog"]}},
            {"id": f"c{n}", "type": "choices", "from_name": "quality", "to_name": "image",
             "value": {"choices": ["good" if n % 2 else "bad"]}},
        ]}],
                      "predictions": [{"model_version": "detector-1", "score": 0.5, "result": [
                          {"type": "rectanglelabels", **size,
                           "value": {"x": 1, "y": 1, "width": 10, "height": 10, "rectanglelabels": ["cat"]}}]}]})
    for n, text in enumerate(["Ada Lovelace met Babbage in London", "Grace Hopper worked in Arlington"]):
        end = text.index(" ", text.index(" ") + 1)
        tasks.append({"id": 50 + n, "data": {"text": text}, "annotations": [{"completed_by": 7, "result": [
            {"id": f"s{n}", "type": "labels", "from_name": "label", "to_name": "text",
             "value": {"start": 0, "end": end, "text": text[:end], "labels": ["PER"]}},
            {"id": f"l{n}", "type": "labels", "from_name": "label", "to_name": "text",
             "value": {"start": text.rindex(" ") + 1, "end": len(text), "labels": ["LOC"]}}]}]})
    return tasks


def wait_version(api: Api, export_id: str, timeout: float = 60.0) -> dict[str, Any]:
    job = api.wait_export(export_id, timeout)
    assert job["status"] == "done", job
    return job


def export_when(api: Api, pid: str, fmt: str, items: int, timeout: float = 60.0) -> tuple[dict[str, Any], bytes]:
    """Export until it holds ``items`` items (accepted annotations reach export asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = api.post(f"/projects/{pid}/exports", json={"format": fmt})
        assert reply.status_code == 202, reply.text
        job = wait_version(api, reply.json()["id"])
        if job["item_count"] >= items or time.monotonic() > deadline:
            assert job["item_count"] == items, job
            data = api.get(f"/exports/{job['id']}/download")
            assert data.status_code == 200
            return job, data.content
        time.sleep(0.5)


class Receiver:
    """A real webhook receiver on 127.0.0.1 that answers 500 to its first ``fail_first`` requests."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                code = 500 if len(outer.requests) < outer.fail_first else 204
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, code))
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/annotary"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_labelstudio_import_every_export_format_and_round_trip(stack: Stack, make_user: Any,
                                                              tmp_path: Path) -> None:
    manager: Api = make_user("manager")
    pid = manager.create_project(f"ds-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]
    crops = photo_crops(4)
    tasks = ls_export([name for name, _ in crops])
    files = [("files", ("export.json", json.dumps(tasks).encode(), "application/json"))]
    files += [("files", (name, data, "image/png")) for name, data in crops]
    reply = manager.post(f"/projects/{pid}/items", params={"format": "labelstudio"}, files=files)
    assert reply.status_code == 201, reply.text
    assert (reply.json()["created"], reply.json()["annotations"], reply.json()["predictions"]) == (6, 6, 4)

    job, raw = export_when(manager, pid, "labelstudio", 6)
    first = json.loads(raw)
    assert [t["data"].get("external_id") for t in first][:4] == sorted(name for name, _ in crops)
    box = first[0]["annotations"][0]["result"][0]
    assert box["type"] == "rectanglelabels" and box["original_width"] == 160
    assert first[0]["annotations"][0]["annotators"] in (["ann0@example.org"], ["ann1@example.org"])

    # Round trip: our Label Studio export into a fresh project, exported again: identical.
    other = manager.create_project(f"ds-rt-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]
    reply = manager.post(f"/projects/{other}/items", params={"format": "labelstudio"}, content=raw,
                         headers={"content-type": "application/json"})
    assert reply.status_code == 201, reply.text
    _, raw2 = export_when(manager, other, "labelstudio", 6)
    assert json.loads(raw2) == first

    # Every format, loaded with its own library.
    _, coco_raw = export_when(manager, pid, "coco", 4)
    (tmp_path / "coco.json").write_bytes(coco_raw)
    coco = COCO(str(tmp_path / "coco.json"))
    assert len(coco.getImgIds()) == 4 and len(coco.getAnnIds()) == 8
    assert all(coco.annToMask(a).sum() > 0 for a in coco.loadAnns(coco.getAnnIds()))
    _, voc = export_when(manager, pid, "voc", 4)
    with zipfile.ZipFile(io.BytesIO(voc)) as zf:
        xmls = [ET.fromstring(zf.read(n)) for n in zf.namelist() if n.startswith("Annotations/")]
    assert len(xmls) == 4 and all(len(x.findall("object")) == 2 for x in xmls)
    _, yolo = export_when(manager, pid, "yolo", 4)
    with zipfile.ZipFile(io.BytesIO(yolo)) as zf:
        assert "names:" in zf.read("data.yaml").decode()
        lines = [ln.split() for n in zf.namelist() if n.startswith("labels/")
                 for ln in zf.read(n).decode().splitlines()]
    assert sorted(len(ln) for ln in lines) == [5] * 4 + [7] * 4
    import spacy
    from spacy.tokens import DocBin

    _, spacy_raw = export_when(manager, pid, "spacy", 2)
    with zipfile.ZipFile(io.BytesIO(spacy_raw)) as zf:
        docs = [d for n in sorted(zf.namelist())
                for d in DocBin().from_bytes(zf.read(n)).get_docs(spacy.blank("en").vocab)]
    assert [[e.label_ for e in d.ents] for d in docs] == [["PER", "LOC"], ["PER", "LOC"]]
    import datasets

    _, hf = export_when(manager, pid, "hf", 6)
    with zipfile.ZipFile(io.BytesIO(hf)) as zf:
        zf.extractall(tmp_path / "hf")
    ds = datasets.load_dataset(str(tmp_path / "hf"), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds.num_rows == 6 and "README.md" in {p.name for p in (tmp_path / "hf").iterdir()}
    _, conll = export_when(manager, pid, "conll", 2)
    assert "Ada B-PER" in conll.decode().replace(" -X- _", "") and "London I-LOC" not in conll.decode()
    _, csv_raw = export_when(manager, pid, "csv", 6)
    assert csv_raw.decode().splitlines()[0] == "id,external_id,data,labels,quality"
    job, jsonl = export_when(manager, pid, "jsonl", 6)
    record = json.loads(jsonl.decode().splitlines()[0])
    assert record["annotations"][0]["decided_by"].startswith("import:labelstudio:")

    # Versions: a manifest per export, progress, incremental versions.
    progress = manager.get(f"/exports/{job['id']}/progress").json()
    assert progress["progress"] == {"items_done": 6, "items_total": 6, "fraction": 1.0}
    manifest = manager.get(f"/exports/{job['id']}/manifest").json()
    assert len(manifest["items"]) == 6 and manifest["items"][0]["annotation_id"]
    assert manifest["parent_export_id"] and manifest["version"] == progress["version"]
    reply = manager.post(f"/projects/{pid}/versions", json={"format": "jsonl", "since": job["id"]})
    assert reply.status_code == 202, reply.text
    incremental = wait_version(manager, reply.json()["id"])
    assert incremental["item_count"] == 0
    versions = manager.get(f"/projects/{pid}/versions").json()
    assert versions[0]["incremental"] and versions[0]["since"] == job["id"]
    assert [v["version"] for v in versions] == sorted((v["version"] for v in versions), reverse=True)


def test_webhooks_signed_and_retried_until_the_receiver_recovers(stack: Stack, make_user: Any,
                                                                 receiver: Receiver) -> None:
    manager: Api = make_user("manager")
    pid = manager.create_project(f"hooks-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]
    reply = manager.post(f"/projects/{pid}/webhooks", json={"url": receiver.url,
                                                           "events": ["annotation.accepted", "export.completed"]})
    assert reply.status_code == 201, reply.text
    hook = reply.json()
    secret = hook["secret"]
    assert manager.get(f"/projects/{pid}/webhooks").json()[0].get("secret") is None
    tasks = [{"data": {"text": "Ada in London"}, "annotations": [{"completed_by": 1, "result": [
        {"type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}]}]}]
    reply = manager.post(f"/projects/{pid}/items", params={"format": "labelstudio"}, json=tasks)
    assert reply.status_code == 201, reply.text
    export_when(manager, pid, "jsonl", 1)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        deliveries = manager.get(f"/webhooks/{hook['id']}/deliveries").json()
        events = {d["event"] for d in deliveries if d["status"] == "delivered"}
        if {"annotation.accepted", "export.completed"} <= events:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"webhooks not delivered: {deliveries}")
    retried = [d for d in deliveries if d["attempts"] > 1]
    assert retried and [a["status_code"] for a in retried[0]["log"]][:1] == [500]
    assert retried[0]["log"][-1]["status_code"] == 204
    assert len(receiver.requests) >= 4
    for headers, body, _ in receiver.requests:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-annotary-signature"], expected)
        assert json.loads(body)["project_id"] == pid
    assert manager.http.delete(f"/projects/{pid}/webhooks/{hook['id']}").status_code == 204
    assert manager.get(f"/projects/{pid}/webhooks").json() == []


def test_s3_sync_imports_only_new_keys(stack: Stack, make_user: Any) -> None:
    manager: Api = make_user("manager")
    pid = manager.create_project(f"sync-{uuid.uuid4().hex[:6]}", SCHEMA, {"overlap": 1})["id"]
    bucket = f"sync-{uuid.uuid4().hex[:8]}"
    s3 = s3_client(stack)
    s3.create_bucket(Bucket=bucket)
    crops = photo_crops(5)
    for name, data in crops[:3]:
        s3.put_object(Bucket=bucket, Key=f"in/{name}", Body=data)
    uri = f"s3://{bucket}/in/"
    reply = manager.post(f"/projects/{pid}/sources/sync", json={"uri": uri})
    assert reply.status_code == 200, reply.text
    first = reply.json()
    assert (first["created"], first["keys_synced"], first["unchanged"]) == (3, 3, 0), first
    second = manager.post(f"/projects/{pid}/sources/sync", json={"uri": uri}).json()
    assert (second["created"], second["duplicates"], second["keys_synced"], second["unchanged"]) == (0, 0, 0, 3)
    for name, data in crops[3:]:
        s3.put_object(Bucket=bucket, Key=f"in/{name}", Body=data)
    third = manager.post(f"/projects/{pid}/sources/sync", json={"uri": uri}).json()
    assert (third["created"], third["keys_synced"], third["unchanged"]) == (2, 2, 3), third


def test_sdk_and_cli_foreign_import_and_export_with_progress(stack: Stack, make_user: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from annotary_cli.cli import app
    from annotary_cli.sdk import Annotary

    manager: Api = make_user("manager")
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    pid = manager.create_project(name, SCHEMA, {"overlap": 1})["id"]
    conll = tmp_path / "train.conll"
    conll.write_text("-DOCSTART- -X- -X- O\n\nAda NNP B-NP B-PER\nin IN O O\nLondon NNP B-NP B-LOC\n\n"
                     "-DOCSTART- -X- -X- O\n\nHi UH O O\n")
    env = {"ANNOTARY_URL": stack.api_url, "ANNOTARY_TOKEN": manager.token}
    result = CliRunner().invoke(app, ["import", name, str(conll), "--format", "conll"], env=env)
    assert result.exit_code == 0, result.output
    assert "created 2, duplicates 0, annotations 1, predictions 0" in result.output

    seen: list[tuple[int, int]] = []
    with Annotary(stack.api_url, manager.token) as sdk:
        deadline = time.monotonic() + 60
        while True:
            job, path = sdk.export(pid, "conll", tmp_path / "out", on_progress=lambda d, t: seen.append((d, t)))
            if job["item_count"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert job["item_count"] == 1 and seen[-1] == (1, 1)  # "Hi" has no annotation: never accepted
        assert "Ada -X- _ B-PER" in path.read_text()
        assert sdk.versions(pid)[0]["id"] == job["id"]
    result = CliRunner().invoke(app, ["export", name, "--format", "spacy", "--out", str(tmp_path / "cli")], env=env)
    assert result.exit_code == 0, result.output
    assert "1 items" in result.output and list((tmp_path / "cli").glob("*.spacy.zip"))
