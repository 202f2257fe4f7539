"""Unit tests: the COCO writer (its file loaded back with pycocotools) and its geometry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pycocotools.coco import COCO

from annotary_common.regions import polygon_geometry, shoelace_area
from annotary_export.domain.exporters import ExportContext, write_all
from annotary_export.domain.model import AcceptedItem


def image(item_id: str, external_id: str, result: list[dict[str, Any]], w: int = 640, h: int = 480) -> AcceptedItem:
    return AcceptedItem(item_id=item_id, external_id=external_id, modality="image", width=w, height=h, result=result)


BOXES = {
    "a.png": [{"type": "bbox", "label": "cat", "x": 10, "y": 20, "w": 30, "h": 40},
              {"type": "bbox", "label": "dog", "x": 0.5, "y": 1.25, "w": 100, "h": 50.5}],
    "b.png": [{"type": "bbox", "label": "cat", "x": 5, "y": 6, "w": 7, "h": 8}],
}


def build_coco(items: list[AcceptedItem], labels: list[str], tmp_path: Path, description: str = "") -> dict[str, Any]:
    """The document the export service's COCO writer produces for ``items``."""
    path = tmp_path / "export.coco.json"
    write_all("coco", path, ExportContext(description, labels), items)
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def load(doc: dict[str, Any], tmp_path: Path) -> COCO:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(doc))
    return COCO(str(path))


def test_pycocotools_loads_it_and_boxes_round_trip(tmp_path: Path) -> None:
    items = [image("id-b", "b.png", BOXES["b.png"]), image("id-a", "a.png", BOXES["a.png"])]
    coco = load(build_coco(items, ["dog", "cat"], tmp_path, description="pets"), tmp_path)
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["dog", "cat"]
    assert coco.getCatIds(catNms=["dog"]) == [1]
    names = {img["id"]: img["file_name"] for img in coco.loadImgs(coco.getImgIds())}
    assert sorted(names.values()) == ["a.png", "b.png"]
    for image_id, file_name in names.items():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        got = [(coco.loadCats(a["category_id"])[0]["name"], a["bbox"]) for a in anns]
        want = [(r["label"], [r["x"], r["y"], r["w"], r["h"]]) for r in BOXES[file_name]]
        assert got == want
        assert all(a["area"] == a["bbox"][2] * a["bbox"][3] and a["iscrowd"] == 0 for a in anns)
    assert len({a["id"] for a in coco.dataset["annotations"]}) == 3
    assert coco.loadImgs([1])[0] == {"id": 1, "file_name": "a.png", "width": 640, "height": 480,
                                     "annotary_item_id": "id-a"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")
def test_polygons_get_bbox_area_and_a_mask(tmp_path: Path) -> None:
    triangle = {"type": "polygon", "label": "roof", "points": [[10, 10], [50, 10], [10, 40]]}
    coco = load(build_coco([image("i", "p.png", [triangle], 64, 64)], ["roof"], tmp_path), tmp_path)
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert ann["segmentation"] == [[10, 10, 50, 10, 10, 40]]
    assert ann["bbox"] == [10, 10, 40, 30]
    assert ann["area"] == pytest.approx(600.0)
    mask = coco.annToMask(ann)
    assert mask.shape == (64, 64) and abs(int(mask.sum()) - 600) < 60


def test_geometry() -> None:
    assert shoelace_area([(0, 0), (4, 0), (4, 3), (0, 3)]) == 12.0
    assert shoelace_area([(0, 3), (4, 3), (4, 0), (0, 0)]) == 12.0  # orientation does not matter
    assert polygon_geometry({"points": [[0, 0], [1, 1]]}) is None
    assert polygon_geometry({"points": [[0, 0], [1, "x"], [2, 2]]}) is None


def test_other_regions_and_items_are_left_out_and_unknown_labels_appended(tmp_path: Path) -> None:
    result: list[Any] = [
        {"type": "bbox", "label": "zebra", "x": 1, "y": 1, "w": 2, "h": 2},        # not in the schema
        {"type": "bbox", "label": "cat", "x": 1, "y": 1, "w": -2, "h": 2},          # negative size
        {"type": "bbox", "label": "cat", "x": "1", "y": 1, "w": 2, "h": 2},         # not a number
        {"type": "bbox", "x": 1, "y": 1, "w": 2, "h": 2},                           # no label
        {"type": "keypoints", "label": "cat", "points": [[1, 2, 1]]},             # kept: COCO keypoints
        {"type": "choice", "name": "quality", "value": "good"},
    ]
    text = AcceptedItem(item_id="t", external_id="t.txt", modality="text", text="hello",
                        result=[{"type": "span", "label": "cat", "start": 0, "end": 1}])
    doc = build_coco([image("i", "x.png", result), text], ["cat"], tmp_path)
    assert [c["name"] for c in doc["categories"]] == ["cat", "zebra"]
    assert [(a["category_id"], a["bbox"]) for a in doc["annotations"]] == [(2, [1, 1, 2, 2]), (1, [1, 2, 0, 0])]
    assert doc["annotations"][1]["keypoints"] == [1, 2, 1]
    assert [img["file_name"] for img in doc["images"]] == ["x.png"]


def test_file_name_falls_back_to_the_item_id(tmp_path: Path) -> None:
    doc = build_coco([image("0c4a", "", [])], [], tmp_path)
    assert doc["images"][0]["file_name"] == "0c4a" and doc["annotations"] == [] and doc["categories"] == []
