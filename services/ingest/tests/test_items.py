"""Unit tests: field checks, project ids and item identity (no services)."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from annotary_ingest.domain.items import (
    DEFAULT_MODEL_VERSION,
    ItemInvalid,
    RawItem,
    check_item,
    check_project_id,
    item_id_for,
)

PROJECT = "0b7f4a52-3c1e-4e53-9a43-0d5b2f1c9e77"


def test_text_item_passes_with_defaults() -> None:
    item = check_item(RawItem(text="hello"))
    assert item.text == "hello" and item.media_uri is None and item.data is None
    assert item.meta == {} and item.predictions == [] and item.gold is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (RawItem(), "needs exactly one of text, media_uri, data (got none)"),
        (RawItem(text="a", media_uri="https://x/y.png"), "got text, media_uri"),
        (RawItem(text="a", data=b"x"), "got text, data"),
        (RawItem(filename="empty.png"), "data: the uploaded file 'empty.png' is empty"),
        (RawItem(text="a", meta_json="[1]"), "meta: must be a JSON object"),
        (RawItem(text="a", meta_json="{bad"), "meta: not valid JSON"),
        (RawItem(text="a", predictions_json="{}"), "predictions: must be a list"),
        (RawItem(text="a", predictions_json='[{"score": 1}]'), "predictions[0].result: required"),
        (RawItem(text="a", predictions_json='[{"model_version": 3, "result": []}]'), "predictions[0].model_version"),
        (RawItem(text="a", predictions_json='[{"score": "hi", "result": []}]'), "predictions[0].score: must be"),
        (RawItem(text="a", predictions_json='[{"score": true, "result": []}]'), "predictions[0].score: must be"),
        (RawItem(text="a", predictions_json='[{"result": {}}]'), "predictions[0].result: must be a list"),
        (RawItem(text="a", predictions_json='[{"result": [1]}]'), "predictions[0].result[0]: a region must be"),
        (RawItem(text="a", gold_json='{"type": "span"}'), "gold: must be a list"),
        (RawItem(text="a", modality="image"), "modality: 'image' does not fit an item given as text"),
        (RawItem(text="a", modality="smell"), "modality: 'smell' is not one of"),
        (RawItem(media_uri="ftp://host/a.png"), "media_uri: unsupported scheme"),
        (RawItem(media_uri="/etc/passwd"), "media_uri: unsupported scheme"),
    ],
)
def test_bad_items_are_refused_naming_the_field(raw: RawItem, expected: str) -> None:
    with pytest.raises(ItemInvalid, match=re.escape(expected)):
        check_item(raw)


def test_predictions_default_model_version_and_score() -> None:
    preds = json.dumps([{"result": [{"type": "bbox", "label": "cat", "x": 1, "y": 2, "w": 3, "h": 4}]},
                        {"model_version": "m2", "score": 0.5, "result": []}])
    item = check_item(RawItem(text="a", predictions_json=preds))
    assert [(p.model_version, p.score) for p in item.predictions] == [(DEFAULT_MODEL_VERSION, 0.0), ("m2", 0.5)]


def test_a_plain_region_list_is_one_prediction() -> None:
    item = check_item(RawItem(text="abc", predictions_json='[{"type": "span", "label": "X", "start": 0, "end": 1}]'))
    assert len(item.predictions) == 1
    assert item.predictions[0].model_version == "import"
    assert item.predictions[0].result[0]["label"] == "X"


def test_default_external_ids() -> None:
    assert check_item(RawItem(data=b"x", filename="a.png")).external_id == "a.png"
    assert check_item(RawItem(media_uri="s3://b/dir/my%20cat.jpg")).external_id == "my cat.jpg"
    assert check_item(RawItem(media_uri="s3://b/x.jpg", external_id="mine")).external_id == "mine"


def test_project_id_must_be_a_uuid() -> None:
    assert check_project_id(PROJECT.upper()) == PROJECT
    with pytest.raises(ItemInvalid, match="project_id: required"):
        check_project_id("")
    with pytest.raises(ItemInvalid, match="project_id: 'p1' is not a UUID"):
        check_project_id("p1")


def test_item_id_is_stable_per_project_and_content() -> None:
    a = item_id_for(PROJECT, "ab" * 32)
    assert a == item_id_for(PROJECT, "ab" * 32)
    assert uuid.UUID(a).version == 5
    assert a != item_id_for(PROJECT, "cd" * 32)
    assert a != item_id_for(str(uuid.uuid4()), "ab" * 32)
