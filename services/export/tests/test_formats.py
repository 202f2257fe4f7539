"""Unit tests: JSONL lines, format and schema checks, file names."""

from __future__ import annotations

import json

import pytest

from annotary_export.domain.formats import FormatUnsupported, build_file, check_format
from annotary_export.domain.model import AcceptedItem, SchemaInvalid, file_stem, schema_labels

ITEMS = [
    AcceptedItem(item_id="2", external_id="b.png", modality="image", media_uri="s3://bkt/media/x.png", width=3,
                 height=2, meta={"k": 1}, result=[{"type": "bbox", "label": "cat", "x": 0, "y": 0, "w": 1, "h": 1}],
                 agreement=0.9, annotators=["ann1", "ann2"], round=1),
    AcceptedItem(item_id="1", external_id="a.txt", modality="text", text="héllo",
                 result=[{"type": "span", "label": "X", "start": 0, "end": 1},
                         {"type": "choice", "name": "c", "value": "y"}], agreement=1.0, annotators=["ann3"]),
]


def test_jsonl_lines() -> None:
    built = build_file("jsonl", ITEMS, [], "My Project / v2")
    assert built.file_name == "My-Project-v2.jsonl" and built.content_type == "application/x-ndjson"
    lines = [json.loads(line) for line in built.data.decode().splitlines()]
    assert [line["external_id"] for line in lines] == ["a.txt", "b.png"]  # sorted by external id
    annotations = lines[0].pop("annotations")
    assert lines[0] == {"id": "1", "external_id": "a.txt", "data": {"text": "héllo"}, "meta": {}, "width": 0,
                        "height": 0}
    assert {k: annotations[0][k] for k in ("result", "agreement", "annotators")} == {
        "result": ITEMS[1].result, "agreement": 1.0, "annotators": ["ann3"]}
    assert lines[1]["data"] == {"image": "s3://bkt/media/x.png"}
    assert (lines[1]["meta"], lines[1]["width"], lines[1]["height"]) == ({"k": 1}, 3, 2)
    assert lines[1]["annotations"][0]["annotators"] == ["ann1", "ann2"]
    assert (built.item_count, built.annotation_count) == (2, 3)


def test_coco_file_counts_images_and_regions() -> None:
    built = build_file("coco", ITEMS, ["cat"], "")
    assert built.file_name == "export.coco.json"
    assert (built.item_count, built.annotation_count) == (1, 1)


def test_formats_and_schemas_are_checked() -> None:
    assert check_format("coco") == "coco"
    with pytest.raises(FormatUnsupported, match="format: 'pdf' is not supported; supported formats: jsonl, coco, voc"):
        check_format("pdf")
    assert schema_labels("") == []
    assert schema_labels('{"labels": [{"name": "b"}, {"name": "a", "color": "#f00"}, "c", {"name": "b"}]}') == [
        "b", "a", "c"]
    for bad, message in [("[1]", "schema_json: must be a JSON object"), ("{", "schema_json: not valid JSON"),
                         ('{"labels": {}}', "schema_json.labels: must be a list"),
                         ('{"labels": [{"color": "red"}]}', r"schema_json.labels\[0\].name")]:
        with pytest.raises(SchemaInvalid, match=message):
            schema_labels(bad)
    assert file_stem("../../etc") == "etc" and file_stem("???") == "export"
