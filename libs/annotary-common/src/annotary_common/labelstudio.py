"""Label Studio's result JSON <-> Annotary regions, and a Label Studio labeling config for a label schema.

Used by the importer (ingest), the exporter (export) and the Label Studio ML backend adapter (preannotate).
Label Studio's image coordinates are percentages of the original size; Annotary's are pixels.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import quoteattr

from annotary_common.regions import bbox_geometry, polygon_geometry

PIXEL_DIGITS = 8
PERCENT_DIGITS = 8  # percentages are rounded so that px -> % -> px -> % is stable


class LabelStudioFormatError(ValueError):
    """A Label Studio result that cannot be read; the message names the result and what is wrong."""


def _num(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(f"not a number: {value!r}")


def _px(pct: Any, size: Any) -> float:
    return round(_num(pct) * _num(size) / 100.0, PIXEL_DIGITS)


def _label(region: dict[str, Any]) -> str | None:
    label = region.get("label")
    return label if isinstance(label, str) and label else None


# -- Label Studio -> Annotary ----------------------------------------------------------------------
def from_labelstudio_result(result: list[Any], where: str) -> list[dict[str, Any]]:
    """Label Studio results -> Annotary regions (percent -> pixels with original_width/height)."""
    regions: list[dict[str, Any]] = []
    for k, r in enumerate(result):
        name = f"{where}[{k}]"
        if not isinstance(r, dict):
            raise LabelStudioFormatError(f"{name}: must be an object")
        kind = r.get("type")
        value: dict[str, Any] = r["value"] if isinstance(r.get("value"), dict) else {}
        rid = {"id": str(r["id"])} if r.get("id") is not None else {}
        try:
            w, h = r.get("original_width"), r.get("original_height")
            if kind in ("rectanglelabels", "polygonlabels", "keypointlabels") and (w is None or h is None):
                raise LabelStudioFormatError(f"{name}: original_width and original_height are needed to convert "
                                             "percent coordinates to pixels")
            labels = value.get(kind, []) if isinstance(kind, str) else []
            label = labels[0] if isinstance(labels, list) and labels else None
            if kind == "rectanglelabels" and label:
                regions.append({**rid, "type": "bbox", "label": label, "x": _px(value["x"], w),
                                "y": _px(value["y"], h), "w": _px(value["width"], w), "h": _px(value["height"], h)})
            elif kind == "polygonlabels" and label:
                regions.append({**rid, "type": "polygon", "label": label,
                                "points": [[_px(p[0], w), _px(p[1], h)] for p in value["points"]]})
            elif kind == "keypointlabels" and label:
                points = value.get("points") or [[value["x"], value["y"], 2]]
                regions.append({**rid, "type": "keypoints", "label": label,
                                "points": [[_px(p[0], w), _px(p[1], h), int(p[2]) if len(p) > 2 else 2]
                                           for p in points]})
            elif kind == "brushlabels" and label and value.get("format") == "coco_rle":
                regions.append({**rid, "type": "mask", "label": label, "rle": value["rle"]})
            elif kind == "labels" and label:
                regions.append({**rid, "type": "span", "label": label, "start": int(value["start"]),
                                "end": int(value["end"])})
            elif kind == "choices":
                choices = value.get("choices", [])
                regions.append({**rid, "type": "choice", "name": str(r.get("from_name", "choice")),
                                "value": choices[0] if len(choices) == 1 else choices})
            elif kind == "relation":
                rel: dict[str, Any] = {"type": "relation", "from": str(r["from_id"]), "to": str(r["to_id"])}
                if r.get("labels"):
                    rel["label"] = r["labels"][0]
                regions.append(rel)
            elif kind == "textarea":
                text = value.get("text", [])
                regions.append({**rid, "type": "transcript", "text": "\n".join(text) if isinstance(text, list)
                                else str(text)})
            # other control types have no Annotary region: left out (ingest turns brush "rle" into coco_rle first)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise LabelStudioFormatError(f"{name}: malformed {kind} result ({exc!r})") from None
    return regions


# -- Annotary -> Label Studio ----------------------------------------------------------------------
def _pct(value: float, size: int) -> float:
    return round(value * 100.0 / size, PERCENT_DIGITS) if size else 0.0


def to_labelstudio(region: dict[str, Any], index: int, *, modality: str, width: int = 0, height: int = 0,
                   text: str = "") -> dict[str, Any] | None:
    """One Annotary region as a Label Studio result (percent coordinates for images)."""
    kind, label = region.get("type"), _label(region)
    rid = str(region.get("id") or f"r{index}")
    w, h = width, height
    base = {"id": rid, "origin": "manual"}
    if kind == "bbox" and label and (box := bbox_geometry(region)) is not None:
        x, y, bw, bh = box[0]
        value = {"x": _pct(x, w), "y": _pct(y, h), "width": _pct(bw, w), "height": _pct(bh, h), "rotation": 0,
                 "rectanglelabels": [label]}
        return {**base, "from_name": "label", "to_name": "image", "type": "rectanglelabels",
                "original_width": w, "original_height": h, "image_rotation": 0, "value": value}
    if kind == "polygon" and label and (poly := polygon_geometry(region)) is not None:
        flat = poly[0]
        points = [[_pct(flat[k], w), _pct(flat[k + 1], h)] for k in range(0, len(flat), 2)]
        return {**base, "from_name": "label", "to_name": "image", "type": "polygonlabels",
                "original_width": w, "original_height": h, "image_rotation": 0,
                "value": {"points": points, "closed": True, "polygonlabels": [label]}}
    if kind == "keypoints" and label and isinstance(region.get("points"), list):
        points = [[_pct(float(p[0]), w), _pct(float(p[1]), h), int(p[2]) if len(p) > 2 else 2]
                  for p in region["points"] if isinstance(p, list) and len(p) >= 2]
        # Label Studio has one result per keypoint; the points of one region stay together under one id.
        return {**base, "from_name": "label", "to_name": "image", "type": "keypointlabels",
                "original_width": w, "original_height": h,
                "value": {"points": points, "width": 0.5, "keypointlabels": [label]}}
    if kind == "mask" and label and isinstance(region.get("rle"), dict):
        return {**base, "from_name": "label", "to_name": "image", "type": "brushlabels",
                "original_width": w, "original_height": h,
                "value": {"format": "coco_rle", "rle": region["rle"], "brushlabels": [label]}}
    if kind == "span" and label and isinstance(region.get("start"), int) and isinstance(region.get("end"), int):
        start, end = region["start"], region["end"]
        return {**base, "from_name": "label", "to_name": "text", "type": "labels",
                "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}
    if kind == "choice" and isinstance(region.get("name"), str):
        values = region.get("value")
        return {**base, "from_name": region["name"], "to_name": "text" if modality == "text" else "image",
                "type": "choices", "value": {"choices": values if isinstance(values, list) else [values]}}
    if kind == "relation" and region.get("from") is not None and region.get("to") is not None:
        return {"from_id": str(region["from"]), "to_id": str(region["to"]), "type": "relation",
                "direction": "right", "labels": [label] if label else []}
    return None


# -- a labeling config for a label schema --------------------------------------------------------------
_IMAGE_TAGS = {"bbox": "RectangleLabels", "polygon": "PolygonLabels", "keypoints": "KeyPointLabels",
               "mask": "BrushLabels"}


def label_config(schema: dict[str, Any]) -> str:
    """Label Studio's XML labeling config for an Annotary label schema (``labels``, ``tools``, ``choices``), as
    a Label Studio ML backend expects in ``/setup`` and ``/predict``: one labels control named ``label`` on
    ``$image`` or ``$text``, and one ``Choices`` control per choice group, named as the group."""
    modality = str(schema.get("modality", ""))
    if modality not in ("image", "text"):
        raise ValueError(f"Label Studio configs are made for image and text projects, not {modality!r}")
    labels = [str(x["name"] if isinstance(x, dict) else x) for x in schema.get("labels", [])]
    tools = [str(t) for t in schema.get("tools", [])]
    target = modality
    parts = [f'<{"Image" if modality == "image" else "Text"} name="{target}" value="${target}"/>']
    label_tags = ([_IMAGE_TAGS[t] for t in tools if t in _IMAGE_TAGS] if modality == "image"
                  else (["Labels"] if "span" in tools or not tools else []))
    if labels and not label_tags:
        label_tags = ["RectangleLabels"] if modality == "image" else ["Labels"]
    for k, tag in enumerate(dict.fromkeys(label_tags)):
        name = "label" if k == 0 else f"label_{tag.lower()}"
        inner = "".join(f"<Label value={quoteattr(x)}/>" for x in labels)
        parts.append(f'<{tag} name="{name}" toName="{target}">{inner}</{tag}>')
    for group in schema.get("choices", []):
        if not isinstance(group, dict) or "name" not in group:
            continue
        choice = "multiple" if group.get("multiple") else "single"
        options = "".join(f"<Choice value={quoteattr(str(o))}/>" for o in group.get("options", []))
        parts.append(f'<Choices name={quoteattr(str(group["name"]))} toName="{target}" choice="{choice}">'
                     f"{options}</Choices>")
    if "relation" in tools:
        parts.append("<Relations/>")
    return "<View>" + "".join(parts) + "</View>"
