"""Audio segments and video tracks: their validation rules and their agreement (temporal IoU for segments)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from annotary_qa.domain.consensus import assess, temporal_iou
from annotary_qa.domain.schema import parse_schema
from annotary_qa.domain.validation import validate_result

SCHEMA = parse_schema({"modality": "video", "labels": [{"name": "car"}, {"name": "speech"}],
                       "tools": ["track", "segment"]})


@dataclass(frozen=True)
class Media:
    width: int = 320
    height: int = 240
    text: str = ""
    meta_json: str = json.dumps({"duration": 2.0, "fps": 10, "frame_count": 20})


def track(**kw: Any) -> dict[str, Any]:
    return {"type": "track", "label": "car", "track_id": "1",
            "keyframes": [{"frame": 0, "bbox": [10, 10, 50, 40]}, {"frame": 10, "bbox": [100, 50, 50, 40],
                                                                  "attributes": {"occluded": True}}], **kw}


def seg(start: Any, end: Any, **kw: Any) -> dict[str, Any]:
    return {"type": "segment", "label": "speech", "start": start, "end": end, "text": "hello", **kw}


def messages(result: list[Any], item: Any = None) -> list[tuple[str, str]]:
    return [(v.rule, v.message) for v in validate_result(result, SCHEMA, item or Media())]


def test_good_segments_and_tracks_pass() -> None:
    assert messages([seg(0, 1.5), seg(1.0, 2.0, text=""), track(), track(track_id=2)]) == []


@pytest.mark.parametrize(("region", "rule", "text"), [
    (seg("0", 1), "segment_fields", 'field "start" must be a finite number, got "0"'),
    ({"type": "segment", "label": "speech", "end": 1}, "segment_fields", 'field "start" is missing'),
    (seg(0, 1, text=5), "segment_fields", 'field "text" must be a string (the transcript), got 5'),
    (seg(-0.5, 1), "segment_inside_media", 'field "start" is -0.5, before the start of the media'),
    (seg(1, 1), "segment_inside_media", 'field "end" is 1, not after "start" 1'),
    (seg(1, 2.5), "segment_inside_media", 'field "end" is 2.5, beyond the end of the media (allowed: 0 <= start '
                                          "< end <= 2, the duration in seconds)"),
    (track(track_id=None), "track_fields", 'field "track_id" must be a non-empty string or an integer, got null'),
    (track(keyframes=[]), "track_fields", 'field "keyframes" is []'),
    (track(keyframes=[{"frame": 1.5, "bbox": [0, 0, 1, 1]}]), "track_fields",
     'keyframes[0]: field "frame" must be an integer >= 0, got 1.5'),
    (track(keyframes=[{"frame": 1, "bbox": [0, 0, 1]}]), "track_fields",
     'keyframes[0]: field "bbox" must be [x, y, w, h] finite numbers, got [0, 0, 1]'),
    (track(keyframes=[{"frame": 1, "bbox": [0, 0, 0, 4]}]), "track_fields", "has size 0x4 (allowed: w > 0 and h > 0)"),
    (track(keyframes=[{"frame": 1, "bbox": [0, 0, 1, 1], "attributes": []}]), "track_fields",
     'field "attributes" must be an object'),
    (track(keyframes=[{"frame": 5, "bbox": [0, 0, 9, 9]}, {"frame": 5, "bbox": [0, 0, 9, 9]}]), "track_keyframes",
     'keyframes[1]: field "frame" is 5, not after the previous keyframe\'s 5'),
    (track(keyframes=[{"frame": 20, "bbox": [0, 0, 9, 9]}]), "track_keyframes",
     "(allowed: 0 <= frame < 20, the video's frame count)"),
    (track(keyframes=[{"frame": 0, "bbox": [300, 0, 40, 9]}]), "track_inside_frame",
     'keyframes[0]: fields "x" + "w" = 340 exceed the frame width 320'),
])
def test_bad_regions_name_their_rule(region: dict[str, Any], rule: str, text: str) -> None:
    found = messages([region])
    assert [r for r, _ in found] == [rule], found
    assert text in found[0][1] and found[0][1].startswith("region 0:")


def test_track_ids_are_unique_and_unknown_media_facts_check_nothing() -> None:
    found = messages([track(), track()])
    assert found == [("track_id_unique", 'region 1: "track_id" "1" is already the track of region 0 '
                                         "(allowed: one region per track)")]
    unknown = Media(width=0, height=0, meta_json="")
    assert messages([seg(0, 100), track(keyframes=[{"frame": 999, "bbox": [5000, 0, 9, 9]}])], unknown) == []


def test_segments_agree_by_temporal_iou() -> None:
    assert temporal_iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert temporal_iou((0, 1), (1, 2)) == 0.0
    schema = parse_schema({"modality": "audio", "labels": [{"name": "speech"}], "tools": ["segment"]})
    close = assess([[seg(0.0, 1.0)], [seg(0.1, 1.0)]], schema)
    assert close.metric == "segment_f1@0.5" and close.agreement == 1.0
    assert close.metrics["segment_mean_iou"] == pytest.approx(0.9)
    assert len(close.merged) == 1 and close.merged[0]["type"] == "segment"
    apart = assess([[seg(0.0, 1.0)], [seg(0.8, 2.0)]], schema)
    assert apart.agreement == 0.0
