"""The export formats: which exist, and building one file from the accepted items."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from annotary_export.domain.coco import build_coco
from annotary_export.domain.jsonl import jsonl_record
from annotary_export.domain.model import AcceptedItem, file_stem

SUPPORTED_FORMATS = ("jsonl", "coco")


class FormatUnsupported(ValueError):
    pass


@dataclass(frozen=True)
class ExportFile:
    file_name: str
    content_type: str
    data: bytes
    item_count: int
    annotation_count: int   # regions written (JSONL: every region; COCO: bbox and polygon annotations)


def check_format(fmt: str) -> str:
    if fmt not in SUPPORTED_FORMATS:
        raise FormatUnsupported(f"format: {fmt!r} is not supported; supported formats: {', '.join(SUPPORTED_FORMATS)}")
    return fmt


def build_file(fmt: str, items: Sequence[AcceptedItem], labels: Sequence[str], project_name: str) -> ExportFile:
    stem = file_stem(project_name)
    if check_format(fmt) == "coco":
        doc = build_coco(items, labels, description=project_name)
        return ExportFile(file_name=f"{stem}.coco.json", content_type="application/json",
                          data=json.dumps(doc, ensure_ascii=False).encode(), item_count=len(doc["images"]),
                          annotation_count=len(doc["annotations"]))
    ordered = sorted(items, key=lambda i: i.sort_key)
    lines = [json.dumps(jsonl_record(item), ensure_ascii=False) for item in ordered]
    return ExportFile(file_name=f"{stem}.jsonl", content_type="application/x-ndjson",
                      data="".join(line + "\n" for line in lines).encode(), item_count=len(ordered),
                      annotation_count=sum(len(item.result) for item in ordered))
