"""The export formats: which exist, and building one file from the accepted items."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from annotary_export.domain.exporters import FORMATS, ExportContext, write_all
from annotary_export.domain.model import AcceptedItem

SUPPORTED_FORMATS = FORMATS


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


def build_file(fmt: str, items: Sequence[AcceptedItem], labels: Sequence[str], project_name: str,
               choices: Sequence[tuple[str, list[str]]] = ()) -> ExportFile:
    """The whole export file in memory (small exports and tests; the service streams with ``open_writer``)."""
    check_format(fmt)
    with tempfile.TemporaryDirectory(prefix="annotary-export-") as tmp:
        path = Path(tmp) / "export"
        written = write_all(fmt, path, ExportContext(project_name, list(labels), list(choices)), items)
        return ExportFile(file_name=written.file_name, content_type=written.content_type, data=path.read_bytes(),
                          item_count=written.item_count, annotation_count=written.annotation_count)
