"""Unit tests: which source files become items, and the JSON/JSONL item format (no services)."""

from __future__ import annotations

import json

from annotary_ingest.domain.items import BadEntry, RawItem, check_item
from annotary_ingest.domain.source import entry_kind, join_ref, parse_item_file, source_entry


def test_entry_kinds() -> None:
    assert entry_kind("a/b.PNG") == "media"
    assert entry_kind("clip.mp4") == "media"
    assert entry_kind("notes.txt") == "text"
    assert entry_kind("batch.jsonl") == "items"
    assert entry_kind("README.md") is None
    txt = source_entry("d/n.txt", "file:///r/d/n.txt")
    assert txt == RawItem(media_uri="file:///r/d/n.txt", external_id="d/n.txt", modality="text", origin="d/n.txt: ")


def test_relative_media_refs_resolve_against_the_file() -> None:
    assert join_ref("file:///root/sub/items.jsonl", "img/a b.png") == "file:///root/sub/img/a%20b.png"
    assert join_ref("s3://bkt/pre/items.json", "../x.png") == "s3://bkt/x.png"
    assert join_ref("s3://bkt/pre/items.json", "https://h/x.png") == "https://h/x.png"


def test_jsonl_lines_become_items_with_errors_by_line() -> None:
    lines = [
        json.dumps({"text": "one", "meta": {"k": 1}, "gold": [{"type": "choice", "name": "c", "value": "y"}]}),
        "",
        json.dumps({"image": "img/1.png", "predictions": [{"model_version": "m", "result": []}]}),
        "{not json",
        json.dumps({"text": "a", "image": "b.png"}),
        json.dumps({"external_id": 7, "audio": "s3://b/a.wav"}),
    ]
    entries = parse_item_file("batch.jsonl", "\n".join(lines).encode(), "file:///r/batch.jsonl")
    first, third, bad_json, two_kinds, audio = entries
    assert isinstance(first, RawItem)
    assert (first.external_id, first.origin) == ("batch.jsonl#1", "batch.jsonl line 1: ")
    checked = check_item(first)
    assert checked.meta == {"k": 1} and checked.gold == [{"type": "choice", "name": "c", "value": "y"}]
    assert isinstance(third, RawItem)
    assert (third.media_uri, third.external_id, third.modality) == ("file:///r/img/1.png", "img/1.png", "image")
    assert isinstance(bad_json, BadEntry) and bad_json.message.startswith("batch.jsonl line 4: not valid JSON")
    assert isinstance(two_kinds, BadEntry) and "needs exactly one of text, image, audio, video" in two_kinds.message
    assert isinstance(audio, RawItem) and audio.external_id == "7" and audio.modality == "audio"


def test_json_file_holds_a_list() -> None:
    doc = [{"text": "x"}, {"video": "v.mp4", "meta": "not an object"}, 5]
    entries = parse_item_file("d/items.json", json.dumps(doc).encode(), "s3://b/d/items.json")
    assert isinstance(entries[0], RawItem) and entries[0].external_id == "d/items.json#1"
    assert isinstance(entries[1], RawItem) and entries[1].media_uri == "s3://b/d/v.mp4"
    assert entries[2] == BadEntry("d/items.json [2]: item: must be an object, got int")
    assert parse_item_file("x.json", b"[", "file:///x.json")[0] == BadEntry(
        "x.json: not valid JSON (Expecting value at line 1 column 2)")
