"""Other tools' exports in: the parsers (Label Studio, COCO, YOLO, CoNLL) and the import on the real Postgres
(items, predictions, and accepted annotations published as annotation.accepted with their provenance)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from annotary.events.v1 import events_pb2
from annotary_common import topics
from annotary_common.grpc_util import InvalidArgument
from annotary_common.storage import LocalObjectStore
from annotary_ingest.domain.foreign import ForeignInvalid, InFile, parse_foreign
from annotary_ingest.service_layer.foreign import import_foreign

PROJECT = str(uuid.uuid4())


def ls_tasks() -> list[dict[str, Any]]:
    return [
        {"id": 7, "data": {"image": "cat.png"}, "meta": {"src": "ls"},
         "annotations": [
             {"id": 1, "completed_by": 3, "was_cancelled": True, "result": []},
             {"id": 2, "completed_by": {"id": 5, "email": "ann@x.org"}, "result": [
                 {"id": "r1", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": 200, "original_height": 100,
                  "value": {"x": 10, "y": 20, "width": 50, "height": 25, "rotation": 0, "rectanglelabels": ["cat"]}},
                 {"id": "r2", "type": "polygonlabels", "original_width": 200, "original_height": 100,
                  "value": {"points": [[0, 0], [50, 0], [50, 50]], "polygonlabels": ["dog"]}},
                 {"id": "r3", "type": "keypointlabels", "original_width": 200, "original_height": 100,
                  "value": {"x": 25, "y": 50, "width": 0.5, "keypointlabels": ["nose"]}},
                 {"id": "c", "type": "choices", "from_name": "quality", "value": {"choices": ["good"]}},
             ]}],
         "predictions": [{"model_version": "yolo-v8", "score": 0.9, "result": [
             {"type": "rectanglelabels", "original_width": 200, "original_height": 100,
              "value": {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["cat"]}}]}]},
        {"id": 8, "data": {"text": "Ada lives in London"},
         "annotations": [{"completed_by": 4, "result": [
             {"id": "s1", "type": "labels", "value": {"start": 0, "end": 3, "text": "Ada", "labels": ["PER"]}},
             {"id": "s2", "type": "labels", "value": {"start": 13, "end": 19, "labels": ["LOC"]}},
             {"type": "relation", "from_id": "s1", "to_id": "s2", "labels": ["lives_in"]}]}]},
    ]


def test_labelstudio_percent_to_pixels_and_provenance(make_png: Callable[..., bytes]) -> None:
    files = [InFile("export.json", json.dumps(ls_tasks()).encode()), InFile("images/cat.png", make_png(200, 100))]
    image, text = parse_foreign("labelstudio", files)
    assert image.raw.data and image.raw.external_id == "cat.png" and json.loads(image.raw.meta_json) == {"src": "ls"}
    assert image.annotation is not None and image.annotation.annotators == ["ann@x.org"]
    bbox, poly, kp, choice = image.annotation.result
    assert bbox == {"id": "r1", "type": "bbox", "label": "cat", "x": 20.0, "y": 20.0, "w": 100.0, "h": 25.0}
    assert poly["points"] == [[0.0, 0.0], [100.0, 0.0], [100.0, 50.0]]
    assert kp["points"] == [[50.0, 50.0, 2]] and choice == {"id": "c", "type": "choice", "name": "quality",
                                                            "value": "good"}
    assert image.predictions[0]["model_version"] == "yolo-v8" and image.predictions[0]["result"][0]["w"] == 20.0
    assert text.raw.text == "Ada lives in London" and text.annotation is not None
    assert text.annotation.result[2] == {"type": "relation", "from": "s1", "to": "s2", "label": "lives_in"}
    assert text.annotation.annotators == ["4"]


def test_labelstudio_errors_name_the_field() -> None:
    bad = [{"id": 1, "data": {"image": "missing.png"}}]
    with pytest.raises(ForeignInvalid, match=r"tasks\[0\]: media 'missing.png' is neither an uploaded file"):
        parse_foreign("labelstudio", [InFile("e.json", json.dumps(bad).encode())])
    no_size = [{"data": {"image": "s3://b/k.png"}, "annotations": [{"result": [
        {"type": "rectanglelabels", "value": {"x": 1, "y": 1, "width": 1, "height": 1, "rectanglelabels": ["a"]}}]}]}]
    with pytest.raises(ForeignInvalid, match="original_width and original_height"):
        parse_foreign("labelstudio", [InFile("e.json", json.dumps(no_size).encode())])
    with pytest.raises(ForeignInvalid, match="format: 'pdf' is not supported"):
        parse_foreign("pdf", [])


def test_coco_boxes_polygons_rle_keypoints_and_results_as_predictions(make_png: Callable[..., bytes]) -> None:
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 20, "height": 10}],
           "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "person"}],
           "annotations": [
               {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0},
               {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]], "bbox": [0, 0, 4, 4]},
               {"id": 3, "image_id": 1, "category_id": 1, "segmentation": {"size": [10, 20], "counts": [5, 10, 185]},
                "bbox": [0, 0, 1, 1], "iscrowd": 1},
               {"id": 4, "image_id": 1, "category_id": 2, "keypoints": [1, 1, 2, 0, 0, 0], "num_keypoints": 1,
                "bbox": [1, 1, 0, 0]},
               {"id": 5, "image_id": 1, "category_id": 1, "bbox": [5, 5, 2, 2], "score": 0.4},
           ]}
    (item,) = parse_foreign("coco", [InFile("ann.json", json.dumps(doc).encode()), InFile("a.png", make_png(20, 10))])
    assert item.annotation is not None
    kinds = [r["type"] for r in item.annotation.result]
    assert kinds == ["bbox", "polygon", "mask", "keypoints"]
    assert isinstance(item.annotation.result[2]["rle"]["counts"], str)
    assert item.annotation.result[3]["points"] == [[1, 1, 2], [0, 0, 0]]
    assert item.predictions == [{"model_version": "coco", "score": 0.4, "result": [
        {"type": "bbox", "label": "cat", "x": 5, "y": 5, "w": 2, "h": 2, "score": 0.4}]}]


def test_yolo_zip_with_boxes_segments_and_confidences(make_png: Callable[..., bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.yaml", "names:\n  0: cat\n  1: dog\n")
        zf.writestr("images/a.png", make_png(100, 50))
        zf.writestr("images/b.png", make_png(10, 10))
        zf.writestr("labels/a.txt", "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.5 0.1 0.5 0.5\n0 0.5 0.5 0.1 0.1 0.8\n")
    a, b = parse_foreign("yolo", [InFile("ds.zip", buf.getvalue())])
    assert a.annotation is not None and b.annotation is None
    assert a.annotation.result == [{"type": "bbox", "label": "cat", "x": 40.0, "y": 15.0, "w": 20.0, "h": 20.0},
                                   {"type": "polygon", "label": "dog",
                                    "points": [[10.0, 5.0], [50.0, 5.0], [50.0, 25.0]]}]
    assert a.predictions[0]["score"] == 0.8
    with pytest.raises(ForeignInvalid, match="class id '7' is not in the names"):
        parse_foreign("yolo", [InFile("data.yaml", b"names: [cat]"), InFile("a.png", make_png(4, 4)),
                               InFile("a.txt", b"7 0.5 0.5 0.1 0.1")])


def test_conll_documents_and_bio_spans() -> None:
    data = ("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
            "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n-DOCSTART- -X- -X- O\n\nHi UH O O\n")
    first, second = parse_foreign("conll", [InFile("train.txt", data.encode())])
    assert first.raw.text == "EU rejects German\nPeter Blackburn" and second.raw.text == "Hi"
    assert first.annotation is not None and second.annotation is None
    spans = [(first.raw.text[s["start"]:s["end"]], s["label"]) for s in first.annotation.result]
    assert spans == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER")]


async def test_import_publishes_items_predictions_and_accepted_annotations(
        pool: asyncpg.Pool, store: LocalObjectStore, make_png: Callable[..., bytes]) -> None:
    files = [InFile("export.json", json.dumps(ls_tasks()).encode()), InFile("cat.png", make_png(200, 100))]
    result = await import_foreign(pool, store, PROJECT, "labelstudio", files)
    assert (result.errors, result.created, result.annotations, result.predictions) == ([], 2, 2, 1)
    rows = await pool.fetch("SELECT topic, envelope FROM outbox ORDER BY id")
    assert [r["topic"] for r in rows].count(topics.ANNOTATION_ACCEPTED) == 2
    envs = [events_pb2.Envelope.FromString(r["envelope"]) for r in rows]
    ingested = [events_pb2.ItemIngested.FromString(e.payload) for e in envs if e.type == topics.ITEM_INGESTED]
    assert [p.model_version for i in ingested for p in i.predictions] == ["yolo-v8"]
    acc = [events_pb2.AnnotationAccepted.FromString(e.payload) for e in envs if e.type == topics.ANNOTATION_ACCEPTED]
    image = next(a for a in acc if a.item.modality == "image")
    assert (image.round, list(image.annotator_ids), image.decided_by) == (
        0, ["ann@x.org"], "import:labelstudio:export.json#task 7")
    assert image.item.width == 200 and json.loads(image.result_json)[0]["x"] == 20.0
    # Already accepted: the orchestrator makes no labeling tasks for them (ItemIngested.accepted).
    assert {i.item.item_id for i in ingested if i.accepted} == {a.item.item_id for a in acc} and len(acc) == 2
    conll = "-DOCSTART- -X- -X- O\n\nAda NNP B-NP B-PER\n\n-DOCSTART- -X- -X- O\n\nHi UH O O\n"
    mixed = await import_foreign(pool, store, PROJECT, "conll", [InFile("t.conll", conll.encode())])
    assert (mixed.created, mixed.annotations) == (2, 1)
    envs = [events_pb2.Envelope.FromString(r["envelope"]) for r in await pool.fetch(
        "SELECT envelope FROM outbox WHERE topic = $1 ORDER BY id", topics.ITEM_INGESTED)][-2:]
    flags = {(i := events_pb2.ItemIngested.FromString(e.payload)).item.text: i.accepted for e in envs}
    assert flags == {"Ada": True, "Hi": False}  # the unannotated item still gets labeling tasks

    again = await import_foreign(pool, store, PROJECT, "labelstudio", files)
    assert (again.created, again.duplicates, again.annotations) == (0, 2, 0)
    with pytest.raises(InvalidArgument, match=r"no \.json file"):
        await import_foreign(pool, store, PROJECT, "coco", [InFile("a.png", make_png(2, 2))])
