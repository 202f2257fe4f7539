"""Every exporter's output loaded back with the format's own library: pycocotools (COCO), xml.etree (VOC), a YOLO
label parser (detection and segmentation lines, data.yaml), spaCy DocBin, Hugging Face ``datasets`` (Parquet and the
dataset card), a CoNLL-2003 reader, csv, Label Studio JSON; and the manifest."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import yaml
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from annotary_export.domain.exporters import ExportContext, open_writer, write_all
from annotary_export.domain.manifest import ManifestWriter
from annotary_export.domain.model import AcceptedItem

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ID_A, ID_B, ID_T1, ID_T2 = ("00000000-0000-4000-8000-00000000000" + c for c in "abcd")


def _mask_rle() -> dict[str, Any]:
    mask = np.zeros((40, 50), dtype=np.uint8, order="F")
    mask[10:20, 5:25] = 1
    rle = mask_utils.encode(mask)
    return {"size": [40, 50], "counts": rle["counts"].decode()}


IMAGES = [
    AcceptedItem(item_id=ID_B, external_id="b.png", modality="image", media_uri="s3://bkt/media/b.png", width=50,
                 height=40, result=[{"type": "bbox", "label": "dog", "x": 5, "y": 6, "w": 7, "h": 8}],
                 annotators=["u2"], round=2, agreement=0.9, schema_version=3, prelabel_model_versions=["m@1"]),
    AcceptedItem(item_id=ID_A, external_id="dir/a.png", modality="image", media_uri="s3://bkt/media/a.png", width=50,
                 height=40, annotators=["u1"], round=1, agreement=0.8, result=[
                     {"type": "bbox", "label": "cat", "x": 10, "y": 20, "w": 30, "h": 10},
                     {"type": "polygon", "label": "cat", "points": [[0, 0], [10, 0], [10, 10], [0, 10]]},
                     {"type": "keypoints", "label": "person", "points": [[1, 2, 2], [3, 4, 1], [0, 0, 0]]},
                     {"type": "mask", "label": "dog", "rle": _mask_rle()},
                 ]),
]
TEXTS = [
    AcceptedItem(item_id=ID_T1, external_id="t1.txt", modality="text", text="Ada Lovelace lives in London.\nYes",
                 annotators=["u1"], result=[
                     {"type": "span", "label": "PER", "start": 0, "end": 12},
                     {"type": "span", "label": "LOC", "start": 22, "end": 28},
                     {"type": "choice", "name": "sentiment", "value": "positive"},
                 ]),
    AcceptedItem(item_id=ID_T2, external_id="t2.txt", modality="text", text="Nothing here",
                 result=[{"type": "choice", "name": "sentiment", "value": "negative"}]),
]
CTX = ExportContext("Demo project", ["cat", "dog"], [("sentiment", ["positive", "negative"])])


def export(fmt: str, items: list[AcceptedItem], tmp_path: Path) -> tuple[Path, Any]:
    path = tmp_path / f"out.{fmt}"
    return path, write_all(fmt, path, CTX, items)


def test_coco_boxes_polygons_keypoints_masks_load_with_pycocotools(tmp_path: Path) -> None:
    path, written = export("coco", IMAGES, tmp_path)
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["cat", "dog", "person"]
    assert coco.loadCats(coco.getCatIds(catNms=["person"]))[0]["keypoints"] == ["1", "2", "3"]
    images = {i["file_name"]: i["id"] for i in coco.loadImgs(coco.getImgIds())}
    assert list(images) == ["b.png", "dir/a.png"]  # external id order
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[images["dir/a.png"]]))
    assert len(anns) == 4 and written.annotation_count == 5 and written.item_count == 2
    box, poly, kp, mask = anns
    assert box["bbox"] == [10, 20, 30, 10] and box["area"] == 300
    assert coco.annToMask(poly).sum() > 0 and poly["area"] == 100
    assert kp["keypoints"] == [1, 2, 2, 3, 4, 1, 0, 0, 0] and kp["num_keypoints"] == 2
    decoded = coco.annToMask(mask)
    assert decoded.shape == (40, 50) and decoded.sum() == 200 and mask["area"] == 200
    assert mask["bbox"] == [5, 10, 20, 10]


def test_voc_xml_parses_with_elementtree(tmp_path: Path) -> None:
    path, written = export("voc", IMAGES, tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert "Annotations/dir_a.xml" in names and "Annotations/b.xml" in names
        root = ET.fromstring(zf.read("Annotations/dir_a.xml"))
        assert zf.read("ImageSets/Main/default.txt").decode().split() == ["b", "dir_a"]
        assert zf.read("labelmap.txt").decode().split() == ["cat", "dog"]
    assert root.findtext("filename") == "dir/a.png"
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("50", "40")
    corners = ("xmin", "ymin", "xmax", "ymax")
    objects = [(o.findtext("name"), [float(o.findtext(f"bndbox/{t}") or "nan") for t in corners])
               for o in root.iter("object")]
    assert objects == [("cat", [10, 20, 40, 30]), ("cat", [0, 0, 10, 10])]
    assert written.annotation_count == 3


def parse_yolo(text: str) -> list[tuple[int, list[float]]]:
    """A YOLO label parser: class id then 4 box values (detection) or an even number >= 6 (segmentation)."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        cls, values = int(parts[0]), [float(v) for v in parts[1:]]
        assert len(values) == 4 or (len(values) >= 6 and len(values) % 2 == 0), line
        assert all(0.0 <= v <= 1.0 for v in values)
        rows.append((cls, values))
    return rows


def test_yolo_detection_and_segmentation_labels_with_data_yaml(tmp_path: Path) -> None:
    path, _ = export("yolo", IMAGES, tmp_path)
    with zipfile.ZipFile(path) as zf:
        data = yaml.safe_load(zf.read("data.yaml"))
        a = parse_yolo(zf.read("labels/dir_a.txt").decode())
        b = parse_yolo(zf.read("labels/b.txt").decode())
    assert data["nc"] == 2 and data["names"] == {0: "cat", 1: "dog"}
    assert [cls for cls, _ in a + b] == [0, 0, 1]
    assert a[0][1] == pytest.approx([25 / 50, 25 / 40, 30 / 50, 10 / 40])
    assert a[1][1] == pytest.approx([0, 0, 0.2, 0, 0.2, 0.25, 0, 0.25])
    assert b[0][1] == pytest.approx([8.5 / 50, 10 / 40, 7 / 50, 8 / 40])


def test_spacy_docbin_loads_with_spans_ents_and_cats(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    path, written = export("spacy", TEXTS + IMAGES, tmp_path)
    assert written.file_name.endswith(".spacy.zip")
    with zipfile.ZipFile(path) as zf:
        zf.extractall(tmp_path / "spacy")
    shards = sorted((tmp_path / "spacy" / "corpus").glob("*.spacy"))
    docs = [d for shard in shards for d in DocBin().from_disk(shard).get_docs(spacy.blank("en").vocab)]
    assert written.item_count == 2 and len(docs) == 2
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Ada Lovelace", "PER"), ("London", "LOC")]
    assert [(s.text, s.label_) for s in docs[0].spans["sc"]] == [("Ada Lovelace", "PER"), ("London", "LOC")]
    assert docs[0].cats == {"negative": 0.0, "positive": 1.0} and docs[1].cats["negative"] == 1.0
    assert docs[0].user_data["annotary_item_id"] == ID_T1


def test_spacy_shards_load_with_spacys_own_corpus_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards of DOCS_PER_SHARD docs; spaCy's Corpus (what ``spacy train --paths.train`` uses) reads the folder."""
    import spacy
    from spacy.training import Corpus

    from annotary_export.domain.exporters import SpacyWriter

    monkeypatch.setattr(SpacyWriter, "DOCS_PER_SHARD", 3)
    texts = [dataclasses.replace(TEXTS[0], item_id=f"t{n}", external_id=f"t{n:02d}") for n in range(7)]
    path, written = export("spacy", texts, tmp_path)
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        zf.extractall(tmp_path / "spacy")
    assert names == ["corpus/train-00000.spacy", "corpus/train-00001.spacy", "corpus/train-00002.spacy"]
    examples = list(Corpus(tmp_path / "spacy" / "corpus")(spacy.blank("en")))
    assert written.item_count == 7 and len(examples) == 7
    assert all([e.text for e in ex.reference.ents] == ["Ada Lovelace", "London"] for ex in examples)
    (tmp_path / "empty").mkdir()
    empty, _ = export("spacy", IMAGES, tmp_path / "empty")  # no text item: one empty shard, still loadable
    with zipfile.ZipFile(empty) as zf:
        assert zf.namelist() == ["corpus/train-00000.spacy"]


def test_hf_parquet_loads_with_datasets_and_has_a_card(tmp_path: Path) -> None:
    import datasets

    path, _ = export("hf", IMAGES + TEXTS, tmp_path)
    folder = tmp_path / "hf"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(folder)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "Demo project" in card
    ds = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 4
    assert ds["external_id"] == ["b.png", "dir/a.png", "t1.txt", "t2.txt"]
    assert ds[1]["labels"] == ["cat", "cat", "person", "dog"] and json.loads(ds[1]["result"]) == IMAGES[1].result
    direct = datasets.load_dataset("parquet", data_files=str(folder / "data" / "*.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache2"))
    assert direct["text"][2].startswith("Ada")


def read_conll(text: str) -> list[list[list[tuple[str, str]]]]:
    """CoNLL-2003 reader: documents (-DOCSTART-) of sentences (blank-line separated) of (token, NER tag)."""
    docs: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith("-DOCSTART-"):
            docs.append([])
        elif not line.strip():
            if sentence:
                docs[-1].append(sentence)
                sentence = []
        else:
            cols = line.split()
            assert len(cols) == 4, line
            sentence.append((cols[0], cols[3]))
    return docs


def test_conll_bio_tags(tmp_path: Path) -> None:
    path, _ = export("conll", TEXTS + IMAGES, tmp_path)
    docs = read_conll(path.read_text())
    assert len(docs) == 2
    assert docs[0][0] == [("Ada", "B-PER"), ("Lovelace", "I-PER"), ("lives", "O"), ("in", "O"),
                          ("London.", "B-LOC")]
    assert docs[0][1] == [("Yes", "O")] and docs[1] == [[("Nothing", "O"), ("here", "O")]]


def test_csv_classification(tmp_path: Path) -> None:
    path, _ = export("csv", TEXTS, tmp_path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["external_id"], r["sentiment"]) for r in rows] == [("t1.txt", "positive"), ("t2.txt", "negative")]
    assert rows[0]["labels"] == "PER|LOC" and rows[0]["data"].startswith("Ada")


def test_labelstudio_tasks_in_percent(tmp_path: Path) -> None:
    path, _ = export("labelstudio", IMAGES + TEXTS, tmp_path)
    tasks = json.loads(path.read_text())
    assert [t["data"]["external_id"] for t in tasks] == ["b.png", "dir/a.png", "t1.txt", "t2.txt"]
    rect = tasks[0]["annotations"][0]["result"][0]
    assert rect["type"] == "rectanglelabels" and rect["value"]["x"] == 10.0 and rect["value"]["height"] == 20.0
    assert (rect["original_width"], rect["original_height"]) == (50, 40)
    span = tasks[2]["annotations"][0]["result"][0]
    assert span["value"] == {"start": 0, "end": 12, "text": "Ada Lovelace", "labels": ["PER"]}
    assert tasks[2]["annotations"][0]["result"][2]["value"] == {"choices": ["positive"]}


def test_writers_stream_batches_and_manifest(tmp_path: Path) -> None:
    writer = open_writer("jsonl", tmp_path / "x.jsonl", CTX)
    manifest = ManifestWriter(tmp_path / "manifest.json", {"export_id": "e", "version": 2, "base_export_id": None})
    for batch in ([IMAGES[1]], [IMAGES[0]], TEXTS):
        writer.write(batch)
        manifest.write(batch)
    written = writer.close()
    manifest.close(written)
    doc = json.loads((tmp_path / "manifest.json").read_text())
    assert doc["version"] == 2 and doc["item_count"] == 4 and doc["file"]["items"] == 4
    first = doc["items"][1]
    assert (first["item_id"], first["annotation_version"], first["annotators"], first["schema_version"],
            first["agreement"], first["prelabel_model_versions"]) == (ID_B, 2, ["u2"], 3, 0.9, ["m@1"])
    assert first["annotation_id"] and doc["schema_versions"] == [0, 3]
