"""Streaming exporters: each format is a writer fed batches of accepted items (in export order) that writes to a
file on disk as it goes, so memory stays flat however large the dataset is.

Formats: ``jsonl`` (ours), ``coco``, ``voc`` (zip of Pascal VOC XML), ``yolo`` (zip: labels/*.txt + data.yaml),
``spacy`` (DocBin), ``hf`` (zip: Parquet + dataset card), ``conll`` (CoNLL-2003), ``csv`` (classification),
``labelstudio`` (Label Studio JSON tasks).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree as ET

from annotary_common.labelstudio import to_labelstudio
from annotary_common.regions import bbox_geometry, polygon_geometry
from annotary_export.domain.jsonl import jsonl_record
from annotary_export.domain.model import AcceptedItem, file_stem

FORMATS = ("jsonl", "coco", "voc", "yolo", "spacy", "hf", "conll", "csv", "labelstudio")


@dataclass
class ExportContext:
    project_name: str = ""
    labels: list[str] = field(default_factory=list)
    choices: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return file_stem(self.project_name)


@dataclass(frozen=True)
class Written:
    file_name: str
    content_type: str
    item_count: int
    annotation_count: int


class Writer(Protocol):
    file_name: str
    content_type: str

    def write(self, items: Sequence[AcceptedItem]) -> None: ...
    def close(self) -> Written: ...


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _regions(item: AcceptedItem) -> Iterator[dict[str, Any]]:
    for region in item.result:
        if isinstance(region, dict):
            yield region


def _label(region: dict[str, Any]) -> str | None:
    label = region.get("label")
    return label if isinstance(label, str) and label else None


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def _json_items(values: list[Any]) -> str:
    """The JSON of the list's elements, comma-separated (one encoder call for a whole batch)."""
    return _ENCODER.encode(values)[1:-1] if values else ""


class _Labels:
    """Label -> index, schema labels first, labels found in results appended."""

    def __init__(self, labels: Sequence[str], start: int) -> None:
        self._start = start
        self.ids: dict[str, int] = {name: k + start for k, name in enumerate(labels)}

    def id(self, name: str) -> int:
        return self.ids.setdefault(name, len(self.ids) + self._start)


class _StemNames:
    """File-name-safe, unique stems for items (external id without extension, else the item id)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def stem(self, item: AcceptedItem) -> str:
        base = item.external_id.rsplit(".", 1)[0] if "." in item.external_id else item.external_id
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or item.item_id
        if stem in self._seen:
            stem = f"{stem}_{item.item_id[:8]}"
        self._seen.add(stem)
        return stem


# -- JSONL (ours) ----------------------------------------------------------------------------------
class JsonlWriter:
    content_type = "application/x-ndjson"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.jsonl"
        self._out = path.open("w", encoding="utf-8")
        self._items = self._regions = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        self._out.write("".join(_json(jsonl_record(item)) + "\n" for item in items))
        self._items += len(items)
        self._regions += sum(len(item.result) for item in items)

    def close(self) -> Written:
        self._out.close()
        return Written(self.file_name, self.content_type, self._items, self._regions)


# -- COCO ------------------------------------------------------------------------------------------
def _rle_annotation(region: dict[str, Any]) -> dict[str, Any] | None:
    from pycocotools import mask as mask_utils

    rle = region.get("rle")
    if not isinstance(rle, dict) or not isinstance(rle.get("size"), list) or len(rle["size"]) != 2:
        return None
    h, w = int(rle["size"][0]), int(rle["size"][1])
    counts = rle.get("counts")
    if isinstance(counts, list):
        compressed = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    elif isinstance(counts, str):
        compressed = {"size": [h, w], "counts": counts.encode()}
    else:
        return None
    area = float(mask_utils.area(compressed))
    bbox = [float(v) for v in mask_utils.toBbox(compressed)]
    return {"segmentation": {"size": [h, w], "counts": compressed["counts"].decode()}, "bbox": bbox, "area": area}


def _keypoint_annotation(region: dict[str, Any]) -> dict[str, Any] | None:
    points = region.get("points")
    if not isinstance(points, list) or not points:
        return None
    flat: list[float] = []
    visible: list[tuple[float, float]] = []
    for point in points:
        if not isinstance(point, list | tuple) or len(point) < 2:
            return None
        x, y = _num(point[0]), _num(point[1])
        v = _num(point[2]) if len(point) > 2 else 2.0
        if x is None or y is None or v is None:
            return None
        flat += [x, y, int(v)]
        if v > 0:
            visible.append((x, y))
    xs, ys = [p[0] for p in visible], [p[1] for p in visible]
    bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)] if visible else [0.0, 0.0, 0.0, 0.0]
    return {"segmentation": [], "keypoints": flat, "num_keypoints": len(visible), "bbox": bbox,
            "area": bbox[2] * bbox[3]}


def coco_annotations(region: dict[str, Any]) -> dict[str, Any] | None:
    """The COCO fields (geometry, area, bbox) of one region, or None when COCO has no place for it."""
    kind = region.get("type")
    if kind == "bbox" and (box := bbox_geometry(region)) is not None:
        x, y, w, h = box[0]  # the box as a polygon too, so segmentation-based tools (annToMask, COCOeval) take it
        return {"segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], "bbox": box[0], "area": box[1]}
    if kind == "polygon" and (poly := polygon_geometry(region)) is not None:
        return {"segmentation": [poly[0]], "bbox": poly[1], "area": poly[2]}
    if kind == "mask":
        return _rle_annotation(region)
    if kind == "keypoints":
        return _keypoint_annotation(region)
    return None


class CocoWriter:
    content_type = "application/json"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.coco.json"
        self._path = path
        self._ctx = ctx
        self._images = path.with_name(path.name + ".images")
        self._annotations = path.with_name(path.name + ".annotations")
        self._img_out = self._images.open("w", encoding="utf-8")
        self._ann_out = self._annotations.open("w", encoding="utf-8")
        self._labels = _Labels(ctx.labels, 1)
        self._keypoints: dict[int, int] = {}
        self._image_id = self._ann_id = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        images: list[dict[str, Any]] = []
        anns: list[dict[str, Any]] = []
        had_images, had_anns = self._image_id > 0, self._ann_id > 0
        for item in items:
            if item.modality != "image":
                continue
            self._image_id += 1
            images.append({"id": self._image_id, "file_name": item.external_id or item.item_id, "width": item.width,
                           "height": item.height, "annotary_item_id": item.item_id})
            for region in _regions(item):
                label = _label(region)
                fields = coco_annotations(region) if label else None
                if fields is None or label is None:
                    continue
                category_id = self._labels.id(label)
                if "keypoints" in fields:
                    count = len(fields["keypoints"]) // 3
                    self._keypoints[category_id] = max(self._keypoints.get(category_id, 0), count)
                self._ann_id += 1
                anns.append({"id": self._ann_id, "image_id": self._image_id, "category_id": category_id, **fields,
                             "iscrowd": 0})
        if images:
            self._img_out.write(("," if had_images else "") + _json_items(images))
        if anns:
            self._ann_out.write(("," if had_anns else "") + _json_items(anns))

    def close(self) -> Written:
        self._img_out.close()
        self._ann_out.close()
        categories = []
        for name, cid in self._labels.ids.items():
            category: dict[str, Any] = {"id": cid, "name": name, "supercategory": ""}
            if cid in self._keypoints:
                category["keypoints"] = [str(k + 1) for k in range(self._keypoints[cid])]
                category["skeleton"] = []
            categories.append(category)
        with self._path.open("w", encoding="utf-8") as out:
            out.write('{"info":' + _json({"description": self._ctx.project_name, "version": "1.0"}))
            out.write(',"licenses":[],"images":[')
            with self._images.open(encoding="utf-8") as src:
                shutil.copyfileobj(src, out)
            out.write('],"annotations":[')
            with self._annotations.open(encoding="utf-8") as src:
                shutil.copyfileobj(src, out)
            out.write('],"categories":' + _json(categories) + "}")
        self._images.unlink()
        self._annotations.unlink()
        return Written(self.file_name, self.content_type, self._image_id, self._ann_id)


# -- Pascal VOC ------------------------------------------------------------------------------------
def _box(region: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) of a bbox or polygon region."""
    if region.get("type") == "bbox" and (box := bbox_geometry(region)) is not None:
        x, y, w, h = box[0]
        return x, y, x + w, y + h
    if region.get("type") == "polygon" and (poly := polygon_geometry(region)) is not None:
        x, y, w, h = poly[1]
        return x, y, x + w, y + h
    return None


def _fmt(value: float) -> str:
    return f"{value:.6g}" if value != int(value) else str(int(value))


class VocWriter:
    content_type = "application/zip"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.voc.zip"
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._names = _StemNames()
        self._labels = _Labels(ctx.labels, 0)
        self._list = io.StringIO()
        self._items = self._objects = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        for item in items:
            if item.modality != "image":
                continue
            stem = self._names.stem(item)
            root = ET.Element("annotation")
            ET.SubElement(root, "folder").text = "JPEGImages"
            ET.SubElement(root, "filename").text = item.external_id or item.item_id
            ET.SubElement(root, "path").text = item.media_uri
            ET.SubElement(ET.SubElement(root, "source"), "database").text = "Annotary"
            size = ET.SubElement(root, "size")
            ET.SubElement(size, "width").text = str(item.width)
            ET.SubElement(size, "height").text = str(item.height)
            ET.SubElement(size, "depth").text = "3"
            ET.SubElement(root, "segmented").text = "0"
            for region in _regions(item):
                label, box = _label(region), _box(region)
                if label is None or box is None:
                    continue
                self._labels.id(label)
                obj = ET.SubElement(root, "object")
                ET.SubElement(obj, "name").text = label
                ET.SubElement(obj, "pose").text = "Unspecified"
                ET.SubElement(obj, "truncated").text = "0"
                ET.SubElement(obj, "difficult").text = "0"
                bndbox = ET.SubElement(obj, "bndbox")
                for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True):
                    ET.SubElement(bndbox, tag).text = _fmt(value)
                self._objects += 1
            self._zip.writestr(f"Annotations/{stem}.xml", ET.tostring(root, encoding="unicode"))
            self._list.write(stem + "\n")
            self._items += 1

    def close(self) -> Written:
        self._zip.writestr("ImageSets/Main/default.txt", self._list.getvalue())
        self._zip.writestr("labelmap.txt", "".join(f"{name}\n" for name in self._labels.ids))
        self._zip.close()
        return Written(self.file_name, self.content_type, self._items, self._objects)


# -- YOLO ------------------------------------------------------------------------------------------
def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def yolo_line(region: dict[str, Any], class_id: int, width: int, height: int) -> str | None:
    """``cls cx cy w h`` (bbox) or ``cls x1 y1 x2 y2 ...`` (polygon), normalised to 0..1."""
    if width <= 0 or height <= 0:
        return None
    if region.get("type") == "bbox" and (box := bbox_geometry(region)) is not None:
        x, y, w, h = box[0]
        values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    elif region.get("type") == "polygon" and (poly := polygon_geometry(region)) is not None:
        flat = poly[0]
        values = [flat[k] / (width if k % 2 == 0 else height) for k in range(len(flat))]
    else:
        return None
    return " ".join([str(class_id), *(f"{_clip(v):.6f}" for v in values)])


class YoloWriter:
    content_type = "application/zip"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.yolo.zip"
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._names = _StemNames()
        self._labels = _Labels(ctx.labels, 0)
        self._images = io.StringIO()
        self._items = self._objects = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        for item in items:
            if item.modality != "image":
                continue
            stem = self._names.stem(item)
            lines = []
            for region in _regions(item):
                label = _label(region)
                if label is None or region.get("type") not in ("bbox", "polygon"):
                    continue
                line = yolo_line(region, self._labels.id(label), item.width, item.height)
                if line is not None:
                    lines.append(line)
            self._zip.writestr(f"labels/{stem}.txt", "".join(line + "\n" for line in lines))
            self._images.write(f"{stem}\t{item.external_id}\t{item.media_uri}\n")
            self._items += 1
            self._objects += len(lines)

    def close(self) -> Written:
        names = "\n".join(f"  {cid}: {json.dumps(name)}" for name, cid in self._labels.ids.items())
        self._zip.writestr("data.yaml", f"path: .\ntrain: images\nval: images\nnc: {len(self._labels.ids)}\n"
                                        f"names:\n{names}\n")
        self._zip.writestr("images.tsv", "stem\texternal_id\tmedia_uri\n" + self._images.getvalue())
        self._zip.close()
        return Written(self.file_name, self.content_type, self._items, self._objects)


# -- spaCy DocBin ----------------------------------------------------------------------------------
def _spans(item: AcceptedItem) -> list[tuple[int, int, str]]:
    out = []
    for region in _regions(item):
        label, start, end = _label(region), region.get("start"), region.get("end")
        if (region.get("type") == "span" and label and isinstance(start, int) and isinstance(end, int)
                and 0 <= start < end <= len(item.text)):
            out.append((start, end, label))
    return sorted(out)


def _choices(item: AcceptedItem) -> list[tuple[str, str]]:
    out = []
    for region in _regions(item):
        if region.get("type") == "choice" and isinstance(region.get("name"), str):
            values = region.get("value")
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    out.append((region["name"], str(value)))
    return out


def _snapshot_msgpack_encoders() -> None:
    """srsly builds a msgpack Packer for every ``msgpack_dumps`` (three per ``DocBin.add``), and each one asks the
    catalogue registry for every encoder: a scan of all installed packages' entry points and of the whole function
    registry, ~2 ms a doc. The encoders do not change while we run: answer with one snapshot, taken once."""
    import srsly.msgpack

    registry = srsly.msgpack.msgpack_encoders
    if getattr(registry, "annotary_snapshot", False):
        return
    snapshot = registry.get_all()
    setattr(registry, "get_all", lambda: dict(snapshot))  # noqa: B010  (an instance attribute over the method)
    setattr(registry, "annotary_snapshot", True)  # noqa: B010


class SpacyWriter:
    """DocBin shards in a zip (``<stem>.spacy.zip``: ``corpus/train-00000.spacy``, ...): a DocBin is one compressed
    msgpack document that cannot be appended to, so every ``DOCS_PER_SHARD`` docs go to a file of their own and
    memory stays flat. Unzipped, the folder is what ``spacy train --paths.train <folder>`` reads (spaCy's Corpus
    walks a directory for ``.spacy`` files)."""

    content_type = "application/zip"
    DOCS_PER_SHARD = 5000

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        import spacy

        _snapshot_msgpack_encoders()
        self.file_name = f"{ctx.stem}.spacy.zip"
        self._path = path
        self._nlp = spacy.blank("en")
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED)
        self._bin = self._new_bin()
        self._in_bin = self._shards = 0
        self._options = sorted({option for _, options in ctx.choices for option in options})
        self._items = self._spans = 0

    @staticmethod
    def _new_bin() -> Any:
        from spacy.tokens import DocBin

        return DocBin(store_user_data=True)

    def _flush(self) -> None:
        if not self._in_bin:
            return
        self._zip.writestr(f"corpus/train-{self._shards:05d}.spacy", self._bin.to_bytes())
        self._shards += 1
        self._bin, self._in_bin = self._new_bin(), 0
        # The vocab's string store grows with every new token text; a fresh pipeline per shard keeps it bounded.
        import spacy

        self._nlp = spacy.blank("en")

    def write(self, items: Sequence[AcceptedItem]) -> None:
        from spacy.util import filter_spans

        for item in items:
            if item.modality != "text":
                continue
            doc = self._nlp.make_doc(item.text)
            spans = [s for start, end, label in _spans(item)
                     if (s := doc.char_span(start, end, label=label, alignment_mode="expand")) is not None]
            doc.spans["sc"] = spans
            doc.ents = filter_spans(spans)
            chosen = {value for _, value in _choices(item)}
            doc.cats = {option: 1.0 if option in chosen else 0.0 for option in sorted(set(self._options) | chosen)}
            doc.user_data["annotary_item_id"] = item.item_id
            doc.user_data["external_id"] = item.external_id
            self._bin.add(doc)
            self._in_bin += 1
            self._items += 1
            self._spans += len(spans)
            if self._in_bin >= self.DOCS_PER_SHARD:
                self._flush()

    def close(self) -> Written:
        self._flush()
        if not self._shards:  # an empty export still loads: one empty shard
            self._zip.writestr("corpus/train-00000.spacy", self._bin.to_bytes())
        self._zip.close()
        return Written(self.file_name, self.content_type, self._items, self._spans)


# -- Hugging Face datasets (Parquet + dataset card) ------------------------------------------------
HF_CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
dataset_info:
  features:
  - {{name: id, dtype: string}}
  - {{name: external_id, dtype: string}}
  - {{name: modality, dtype: string}}
  - {{name: text, dtype: string}}
  - {{name: media_uri, dtype: string}}
  - {{name: width, dtype: int32}}
  - {{name: height, dtype: int32}}
  - {{name: labels, sequence: string}}
  - {{name: result, dtype: string}}
  - {{name: meta, dtype: string}}
  - {{name: agreement, dtype: float64}}
  - {{name: annotators, sequence: string}}
  - {{name: round, dtype: int32}}
  splits:
  - {{name: train, num_examples: {count}}}
---

# {name}

Exported from Annotary: {count} accepted items ({annotations} regions).

- `result` is the accepted annotation as JSON (Annotary result regions: pixel coordinates of the original image,
  Unicode code-point offsets of the original text); `labels` lists the labels of its regions.
- `meta` is the item's import metadata as JSON; `media_uri` points at the raw asset (image/audio/video).
- `agreement` is the QA agreement at acceptance; `annotators` who produced it; `round` the review round.

Load it with `datasets.load_dataset("<this folder>")` or
`load_dataset("parquet", data_files="data/train-*.parquet")`.
"""


class HfWriter:
    content_type = "application/zip"
    ROWS_PER_GROUP = 5000

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.file_name = f"{ctx.stem}.hf.zip"
        self._path = path
        self._ctx = ctx
        self._parquet = path.with_name(path.name + ".parquet")
        self._schema = pa.schema([
            ("id", pa.string()), ("external_id", pa.string()), ("modality", pa.string()), ("text", pa.string()),
            ("media_uri", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
            ("labels", pa.list_(pa.string())), ("result", pa.string()), ("meta", pa.string()),
            ("agreement", pa.float64()), ("annotators", pa.list_(pa.string())), ("round", pa.int32()),
        ])
        self._writer = pq.ParquetWriter(self._parquet, self._schema)
        self._items = self._regions = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        import pyarrow as pa

        if not items:
            return
        columns: dict[str, list[Any]] = {name: [] for name in self._schema.names}
        for item in items:
            row = {"id": item.item_id, "external_id": item.external_id, "modality": item.modality,
                   "text": item.text, "media_uri": item.media_uri, "width": item.width, "height": item.height,
                   "labels": [label for r in _regions(item) if (label := _label(r))], "result": _json(item.result),
                   "meta": _json(item.meta), "agreement": item.agreement, "annotators": list(item.annotators),
                   "round": item.round}
            for name, value in row.items():
                columns[name].append(value)
        self._writer.write_table(pa.table(columns, schema=self._schema), row_group_size=self.ROWS_PER_GROUP)
        self._items += len(items)
        self._regions += sum(len(item.result) for item in items)

    def close(self) -> Written:
        self._writer.close()
        with zipfile.ZipFile(self._path, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.write(self._parquet, "data/train-00000-of-00001.parquet")
            zf.writestr("README.md", HF_CARD.format(name=self._ctx.project_name or "Annotary export",
                                                    count=self._items, annotations=self._regions))
        self._parquet.unlink()
        return Written(self.file_name, self.content_type, self._items, self._regions)


# -- CoNLL-2003 ------------------------------------------------------------------------------------
def conll_lines(item: AcceptedItem) -> list[str]:
    """``token -X- _ TAG`` lines (BIO tags from span regions), a blank line after each line of the text."""
    spans = _spans(item)
    lines: list[str] = []
    for text_line in re.finditer(r"[^\n]+", item.text):
        tokens = [(m.start() + text_line.start(), m.end() + text_line.start(), m.group())
                  for m in re.finditer(r"\S+", text_line.group())]
        if not tokens:
            continue
        previous: tuple[int, int, str] | None = None
        for start, _end, token in tokens:
            span = next((s for s in spans if s[0] <= start < s[1]), None)
            tag = "O" if span is None else ("I-" if span == previous else "B-") + span[2]
            previous = span
            lines.append(f"{token} -X- _ {tag}")
        lines.append("")
    return lines


class ConllWriter:
    content_type = "text/plain"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.conll"
        self._out = path.open("w", encoding="utf-8")
        self._items = self._spans = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        for item in items:
            if item.modality != "text":
                continue
            self._out.write("-DOCSTART- -X- -X- O\n\n" + "".join(line + "\n" for line in conll_lines(item)))
            self._items += 1
            self._spans += len(_spans(item))

    def close(self) -> Written:
        self._out.close()
        return Written(self.file_name, self.content_type, self._items, self._spans)


# -- CSV (classification) --------------------------------------------------------------------------
class CsvWriter:
    content_type = "text/csv"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.csv"
        self._out = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._out)
        self._choices = [name for name, _ in ctx.choices]
        self._csv.writerow(["id", "external_id", "data", "labels", *self._choices])
        self._items = self._values = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        for item in items:
            chosen: dict[str, list[str]] = {}
            for name, value in _choices(item):
                chosen.setdefault(name, []).append(value)
            labels = list(dict.fromkeys(label for r in _regions(item) if (label := _label(r))))
            if not self._choices:  # no schema choices: every chosen value counts as a label
                labels += [v for values in chosen.values() for v in values if v not in labels]
            data = item.text if item.modality == "text" else item.media_uri
            self._csv.writerow([item.item_id, item.external_id, data, "|".join(labels),
                                *("|".join(chosen.get(name, [])) for name in self._choices)])
            self._items += 1
            self._values += sum(len(v) for v in chosen.values()) + len(labels)

    def close(self) -> Written:
        self._out.close()
        return Written(self.file_name, self.content_type, self._items, self._values)


# -- Label Studio JSON -----------------------------------------------------------------------------



def labelstudio_task(item: AcceptedItem, index: int) -> dict[str, Any]:
    data: dict[str, Any] = ({"text": item.text} if item.modality == "text" else {item.modality: item.media_uri})
    data["external_id"] = item.external_id
    converted = (to_labelstudio(region, k, modality=item.modality, width=item.width, height=item.height,
                                text=item.text) for k, region in enumerate(_regions(item)))
    result = [r for r in converted if r is not None]
    return {
        "id": index, "data": data, "meta": item.meta,
        "annotations": [{"id": index, "result": result, "was_cancelled": False, "ground_truth": False,
                         "completed_by": item.annotators[0] if item.annotators else None,
                         "annotators": list(item.annotators)}],
        "predictions": [],
    }


class LabelStudioWriter:
    content_type = "application/json"

    def __init__(self, path: Path, ctx: ExportContext) -> None:
        self.file_name = f"{ctx.stem}.labelstudio.json"
        self._out = path.open("w", encoding="utf-8")
        self._out.write("[")
        self._items = self._results = 0

    def write(self, items: Sequence[AcceptedItem]) -> None:
        for item in items:
            self._items += 1
            task = labelstudio_task(item, self._items)
            self._results += len(task["annotations"][0]["result"])
            self._out.write(("," if self._items > 1 else "") + "\n" + _json(task))

    def close(self) -> Written:
        self._out.write("\n]\n")
        self._out.close()
        return Written(self.file_name, self.content_type, self._items, self._results)


WRITERS: dict[str, type[Any]] = {
    "jsonl": JsonlWriter, "coco": CocoWriter, "voc": VocWriter, "yolo": YoloWriter, "spacy": SpacyWriter,
    "hf": HfWriter, "conll": ConllWriter, "csv": CsvWriter, "labelstudio": LabelStudioWriter,
}


def open_writer(fmt: str, path: Path, ctx: ExportContext) -> Writer:
    writer: Writer = WRITERS[fmt](path, ctx)
    return writer


def write_all(fmt: str, path: Path, ctx: ExportContext, items: Sequence[AcceptedItem]) -> Written:
    """Convenience for tests and small exports: one batch, in ``sort_key`` order."""
    writer = open_writer(fmt, path, ctx)
    writer.write(sorted(items, key=lambda i: i.sort_key))
    return writer.close()
