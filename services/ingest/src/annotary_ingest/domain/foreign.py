"""Other tools' exports in: Label Studio JSON, COCO, YOLO and CoNLL-2003 become items (``RawItem``), their accepted
annotations (Annotary result regions, with provenance) and predictions. No I/O beyond the bytes given.

Media are the uploaded files (matched by relative path, then by base name) or URIs in the export (``s3://``,
``https://``, ``file://``; ``local://`` keys of this deployment's own store are read by the service layer).
"""

from __future__ import annotations

import io
import json
import math
import posixpath
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from annotary_common import labelstudio
from annotary_ingest.domain.brush import BrushInvalid, ls_brush_to_coco_rle
from annotary_ingest.domain.items import RawItem

FOREIGN_FORMATS = ("labelstudio", "coco", "yolo", "conll")
MEDIA_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
PIXEL_DIGITS = 8


class ForeignInvalid(ValueError):
    """The export cannot be read; the message names the file and the field."""


@dataclass(frozen=True)
class ImportedAnnotation:
    result: list[dict[str, Any]]
    annotators: list[str]
    source: str                      # e.g. "labelstudio:export.json#task 3"


@dataclass
class ForeignItem:
    raw: RawItem
    annotation: ImportedAnnotation | None = None
    predictions: list[dict[str, Any]] = field(default_factory=list)
    local_key: str = ""              # a local:// key of this store to read the media from


@dataclass(frozen=True)
class InFile:
    name: str
    data: bytes


def expand(files: Sequence[InFile]) -> list[InFile]:
    """Zip archives are expanded (their members keep their relative paths); dot files and folders are dropped."""
    out: list[InFile] = []
    for f in files:
        if f.name.lower().endswith(".zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(f.data)) as zf:
                    out.extend(InFile(m, zf.read(m)) for m in zf.namelist()
                               if not m.endswith("/") and not posixpath.basename(m).startswith("."))
            except zipfile.BadZipFile:
                raise ForeignInvalid(f"{f.name}: not a zip archive") from None
        else:
            out.append(f)
    return out


class Media:
    """Uploaded files by relative path and by base name."""

    def __init__(self, files: Iterable[InFile]) -> None:
        self.by_path: dict[str, InFile] = {}
        self.by_name: dict[str, InFile] = {}
        for f in files:
            self.by_path[f.name.lstrip("./")] = f
            self.by_name.setdefault(posixpath.basename(f.name), f)

    def find(self, ref: str) -> InFile | None:
        return self.by_path.get(ref.lstrip("./")) or self.by_name.get(posixpath.basename(ref))


def _is_uri(ref: str) -> bool:
    return bool(re.match(r"^(s3|https?|file|local)://", ref))


def media_item(ref: str, media: Media, *, external_id: str, meta: dict[str, Any] | None = None,
               origin: str = "") -> ForeignItem:
    """The item of a media reference: an uploaded file, a URI, or an error naming it."""
    meta_json = json.dumps(meta or {}, ensure_ascii=False)
    upload = media.find(ref)
    if upload is not None:
        return ForeignItem(RawItem(external_id=external_id, data=upload.data, filename=posixpath.basename(upload.name),
                                   meta_json=meta_json, origin=origin))
    if ref.startswith("local://"):
        return ForeignItem(RawItem(external_id=external_id, filename=posixpath.basename(ref), meta_json=meta_json,
                                   origin=origin), local_key=ref.removeprefix("local://"))
    if _is_uri(ref):
        return ForeignItem(RawItem(external_id=external_id, media_uri=ref, meta_json=meta_json, origin=origin))
    raise ForeignInvalid(f"{origin}media {ref!r} is neither an uploaded file nor a URI")


def _num(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(f"not a number: {value!r}")


def _json(name: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForeignInvalid(f"{name}: not valid JSON ({exc})") from None


# -- Label Studio ----------------------------------------------------------------------------------
def _brushes_as_coco_rle(result: list[Any], where: str) -> list[Any]:
    """Label Studio's own brush RLE (``brushlabels`` with ``"format": "rle"``) decoded and re-encoded as COCO RLE
    (``"format": "coco_rle"``), which the shared conversion turns into mask regions."""
    if not isinstance(result, list):
        return result
    out: list[Any] = []
    for k, r in enumerate(result):
        value = r.get("value") if isinstance(r, dict) else None
        if isinstance(value, dict) and r.get("type") == "brushlabels" and value.get("format") == "rle":
            try:
                coco = ls_brush_to_coco_rle(value.get("rle"), r.get("original_height"), r.get("original_width"))
            except BrushInvalid as exc:
                raise ForeignInvalid(f"{where}[{k}]: brush rle: {exc}") from None
            r = {**r, "value": {**value, "format": "coco_rle", "rle": coco}}
        out.append(r)
    return out


def from_labelstudio_result(result: list[Any], where: str) -> list[dict[str, Any]]:
    """Label Studio results -> Annotary regions (percent -> pixels with original_width/height)."""
    try:
        return labelstudio.from_labelstudio_result(_brushes_as_coco_rle(result, where), where)
    except labelstudio.LabelStudioFormatError as exc:
        raise ForeignInvalid(str(exc)) from None


def _annotator(annotation: dict[str, Any]) -> list[str]:
    if isinstance(annotation.get("annotators"), list):
        return [str(a) for a in annotation["annotators"]]
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return [] if who is None else [str(who)]


def parse_labelstudio(f: InFile, media: Media) -> list[ForeignItem]:
    tasks = _json(f.name, f.data)
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise ForeignInvalid(f"{f.name}: must be a JSON list of Label Studio tasks")
    items: list[ForeignItem] = []
    for n, task in enumerate(tasks):
        where = f"{f.name}: tasks[{n}]"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise ForeignInvalid(f"{where}.data: required (an object)")
        data = task["data"]
        meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
        external = str(data.get("external_id") or "")
        origin = f"{where}: "
        if isinstance(data.get("text"), str):
            item = ForeignItem(RawItem(external_id=external or f"task-{task.get('id', n + 1)}", text=data["text"],
                                       meta_json=json.dumps(meta, ensure_ascii=False), origin=origin))
        else:
            key = next((k for k in ("image", "audio", "video") if isinstance(data.get(k), str)), None)
            if key is None:
                raise ForeignInvalid(f"{where}.data: needs text, image, audio or video")
            ref = data[key]
            item = media_item(ref, media, external_id=external or posixpath.basename(ref.split("?")[0]), meta=meta,
                              origin=origin)
        annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if annotations:
            chosen = next((a for a in annotations if a.get("ground_truth")), annotations[-1])
            result = from_labelstudio_result(chosen.get("result") or [], f"{where}.annotations.result")
            item.annotation = ImportedAnnotation(result=result, annotators=_annotator(chosen),
                                                 source=f"labelstudio:{f.name}#task {task.get('id', n + 1)}")
        for k, p in enumerate(task.get("predictions") or []):
            if isinstance(p, dict):
                item.predictions.append({
                    "model_version": str(p.get("model_version") or "labelstudio"), "score": float(p.get("score") or 0),
                    "result": from_labelstudio_result(p.get("result") or [], f"{where}.predictions[{k}].result")})
        items.append(item)
    return items


# -- COCO ------------------------------------------------------------------------------------------
def _coco_regions(ann: dict[str, Any], label: str) -> list[dict[str, Any]]:
    seg = ann.get("segmentation")
    if isinstance(ann.get("keypoints"), list) and ann.get("num_keypoints", 1):
        kp = ann["keypoints"]
        return [{"type": "keypoints", "label": label,
                 "points": [[_num(kp[i]), _num(kp[i + 1]), int(kp[i + 2])] for i in range(0, len(kp) - 2, 3)]}]
    if isinstance(seg, list) and seg and isinstance(seg[0], list):
        return [{"type": "polygon", "label": label,
                 "points": [[_num(part[i]), _num(part[i + 1])] for i in range(0, len(part) - 1, 2)]}
                for part in seg if len(part) >= 6]
    if isinstance(seg, dict) and "counts" in seg:
        counts = seg["counts"]
        if isinstance(counts, list):
            from pycocotools import mask as mask_utils

            h, w = seg["size"]
            counts = mask_utils.frPyObjects(seg, h, w)["counts"].decode()
        return [{"type": "mask", "label": label, "rle": {"size": list(seg["size"]), "counts": counts}}]
    x, y, w, h = (_num(v) for v in ann["bbox"])
    return [{"type": "bbox", "label": label, "x": x, "y": y, "w": w, "h": h}]


def parse_coco(f: InFile, media: Media) -> list[ForeignItem]:
    doc = _json(f.name, f.data)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise ForeignInvalid(f"{f.name}: a COCO document needs an 'images' list")
    categories = {c["id"]: str(c["name"]) for c in doc.get("categories", []) if isinstance(c, dict)}
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in doc.get("annotations", []):
        if isinstance(ann, dict):
            by_image.setdefault(ann.get("image_id"), []).append(ann)
    items = []
    for n, image in enumerate(doc["images"]):
        where = f"{f.name}: images[{n}]"
        ref = str(image.get("file_name") or image.get("coco_url") or "")
        if not ref:
            raise ForeignInvalid(f"{where}.file_name: required")
        if media.find(ref) is None and not _is_uri(ref) and _is_uri(str(image.get("coco_url") or "")):
            ref = image["coco_url"]
        item = media_item(ref, media, external_id=str(image.get("file_name") or ref),
                          meta={"coco_image_id": image.get("id")}, origin=f"{where}: ")
        accepted: list[dict[str, Any]] = []
        predicted: list[dict[str, Any]] = []
        for ann in by_image.get(image.get("id"), []):
            label = categories.get(ann.get("category_id"))
            if label is None:
                raise ForeignInvalid(f"{f.name}: annotation {ann.get('id')}: unknown category_id "
                                     f"{ann.get('category_id')!r}")
            try:
                regions = _coco_regions(ann, label)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ForeignInvalid(f"{f.name}: annotation {ann.get('id')}: malformed ({exc!r})") from None
            if "score" in ann:
                predicted += [{**r, "score": float(ann["score"])} for r in regions]
            else:
                accepted += regions
        if accepted:
            item.annotation = ImportedAnnotation(result=accepted, annotators=[],
                                                 source=f"coco:{f.name}#image {image.get('id')}")
        if predicted:
            item.predictions.append({"model_version": "coco", "score": max(r["score"] for r in predicted),
                                     "result": predicted})
        items.append(item)
    return items


# -- YOLO ------------------------------------------------------------------------------------------
def _yolo_names(files: Sequence[InFile]) -> list[str]:
    import yaml

    for f in files:
        base = posixpath.basename(f.name)
        if base in ("data.yaml", "data.yml", "dataset.yaml"):
            data = yaml.safe_load(f.data)
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names)]
            if isinstance(names, list):
                return [str(n) for n in names]
        if base in ("classes.txt", "obj.names"):
            return [line.strip() for line in f.data.decode().splitlines() if line.strip()]
    raise ForeignInvalid("yolo: needs data.yaml (names) or classes.txt")


def _image_size(data: bytes, name: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ForeignInvalid(f"{name}: not a decodable image ({exc})") from None


def parse_yolo(files: Sequence[InFile]) -> list[ForeignItem]:
    names = _yolo_names(files)
    labels = {posixpath.splitext(posixpath.basename(f.name))[0]: f for f in files
              if f.name.endswith(".txt") and posixpath.basename(f.name) not in ("classes.txt",)}
    images = sorted((f for f in files if f.name.lower().endswith(MEDIA_EXTENSIONS)), key=lambda f: f.name)
    if not images:
        raise ForeignInvalid("yolo: no image files (upload the images with their label files, or a zip)")
    items = []
    for image in images:
        stem = posixpath.splitext(posixpath.basename(image.name))[0]
        item = ForeignItem(RawItem(external_id=posixpath.basename(image.name), data=image.data,
                                   filename=posixpath.basename(image.name), origin=f"{image.name}: "))
        label_file = labels.get(stem)
        if label_file is not None:
            width, height = _image_size(image.data, image.name)
            accepted, predicted = [], []
            for line_no, line in enumerate(label_file.data.decode().splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                where = f"{label_file.name}:{line_no}"
                try:
                    cls, values = int(parts[0]), [float(v) for v in parts[1:]]
                    label = names[cls]
                except (ValueError, IndexError):
                    raise ForeignInvalid(f"{where}: class id {parts[0]!r} is not in the names") from None
                if len(values) in (4, 5):
                    cx, cy, w, h = values[:4]
                    region: dict[str, Any] = {
                        "type": "bbox", "label": label, "x": round((cx - w / 2) * width, PIXEL_DIGITS),
                        "y": round((cy - h / 2) * height, PIXEL_DIGITS), "w": round(w * width, PIXEL_DIGITS),
                        "h": round(h * height, PIXEL_DIGITS)}
                elif len(values) >= 6 and len(values) % 2 == 0:
                    region = {"type": "polygon", "label": label,
                              "points": [[round(values[i] * width, PIXEL_DIGITS),
                                          round(values[i + 1] * height, PIXEL_DIGITS)]
                                         for i in range(0, len(values), 2)]}
                else:
                    raise ForeignInvalid(f"{where}: expected 'cls cx cy w h [conf]' or 'cls x1 y1 x2 y2 x3 y3 ...'")
                if len(values) == 5:  # a detector's output line: the confidence makes it a prediction
                    predicted.append({**region, "score": values[4]})
                else:
                    accepted.append(region)
            if accepted:
                item.annotation = ImportedAnnotation(result=accepted, annotators=[],
                                                     source=f"yolo:{label_file.name}")
            if predicted:
                item.predictions.append({"model_version": "yolo", "score": max(r["score"] for r in predicted),
                                         "result": predicted})
        items.append(item)
    return items


# -- CoNLL-2003 ------------------------------------------------------------------------------------
def parse_conll(f: InFile) -> list[ForeignItem]:
    """Documents (``-DOCSTART-``) or, without them, sentences become text items: tokens joined by spaces,
    sentences by newlines; BIO (or IOB1) tags of the last column become span regions."""
    try:
        lines = f.data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ForeignInvalid(f"{f.name}: not UTF-8 text") from None
    has_docs = any(line.startswith("-DOCSTART-") for line in lines)
    docs: list[list[list[tuple[str, str]]]] = [] if has_docs else [[]]
    sentence: list[tuple[str, str]] = []

    def end_sentence() -> None:
        nonlocal sentence
        if sentence:
            if not docs:
                docs.append([])
            docs[-1].append(sentence)
            sentence = []

    for line in lines:
        if line.startswith("-DOCSTART-"):
            end_sentence()
            docs.append([])
        elif not line.strip():
            end_sentence()
        else:
            cols = line.split()
            sentence.append((cols[0], cols[-1] if len(cols) > 1 else "O"))
    end_sentence()
    groups = [d for d in docs if d] if has_docs else [[s] for s in docs[0]]
    items = []
    for n, doc in enumerate(groups, 1):
        text_parts: list[str] = []
        spans: list[dict[str, Any]] = []
        offset = 0
        current: dict[str, Any] | None = None
        for s_index, sent in enumerate(doc):
            if s_index:
                text_parts.append("\n")
                offset += 1
                current = None
            for t_index, (token, tag) in enumerate(sent):
                if t_index:
                    text_parts.append(" ")
                    offset += 1
                start, end = offset, offset + len(token)
                text_parts.append(token)
                offset = end
                prefix, _, label = tag.partition("-")
                if tag == "O" or not label:
                    current = None
                elif prefix == "B" or current is None or current["label"] != label:
                    current = {"type": "span", "label": label, "start": start, "end": end}
                    spans.append(current)
                else:
                    current["end"] = end
        item = ForeignItem(RawItem(external_id=f"{f.name}#{n}", text="".join(text_parts), origin=f"{f.name}#{n}: "))
        if spans:
            item.annotation = ImportedAnnotation(result=spans, annotators=[], source=f"conll:{f.name}#{n}")
        items.append(item)
    return items


def parse_foreign(fmt: str, files: Sequence[InFile]) -> list[ForeignItem]:
    if fmt not in FOREIGN_FORMATS:
        raise ForeignInvalid(f"format: {fmt!r} is not supported (supported: {', '.join(FOREIGN_FORMATS)})")
    files = expand(files)
    if not files:
        raise ForeignInvalid("files: nothing to import")
    media = Media(files)
    if fmt == "yolo":
        return parse_yolo(files)
    if fmt == "conll":
        return [item for f in files if not f.name.lower().endswith(MEDIA_EXTENSIONS) for item in parse_conll(f)]
    docs = [f for f in files if f.name.lower().endswith(".json")]
    if not docs:
        raise ForeignInvalid(f"files: no .json file holding the {fmt} export")
    parse = parse_labelstudio if fmt == "labelstudio" else parse_coco
    return [item for f in docs for item in parse(f, media)]
