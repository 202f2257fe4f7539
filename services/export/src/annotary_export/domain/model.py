"""An accepted item as export sees it, and the label schema of a project."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


class SchemaInvalid(ValueError):
    """The schema cannot be used; the message names the field."""


@dataclass(frozen=True)
class AcceptedItem:
    item_id: str
    external_id: str = ""
    modality: str = "image"
    media_uri: str = ""
    media_type: str = ""
    text: str = ""
    width: int = 0
    height: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    result: list[Any] = field(default_factory=list)
    agreement: float = 0.0
    annotators: list[str] = field(default_factory=list)
    round: int = 0
    schema_version: int = 0
    prelabel_model_versions: list[str] = field(default_factory=list)
    agreement_metric: str = ""
    decided_by: str = ""
    revision: int = 0

    @cached_property
    def annotation_id(self) -> str:
        """A stable id of this accepted annotation (item and round): the same round is the same annotation."""
        try:
            return str(uuid.uuid5(uuid.UUID(self.item_id), f"accepted:{self.round}"))
        except ValueError:
            return ""

    @property
    def sort_key(self) -> tuple[str, str]:
        return self.external_id, self.item_id


def schema_labels(schema_json: str) -> list[str]:
    """Label names of a schema document, in schema order (``{"labels": [{"name": ...}, ...]}``)."""
    if not schema_json.strip():
        return []
    try:
        schema = json.loads(schema_json)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise SchemaInvalid(f"schema_json: not valid JSON ({exc.msg} at {where})") from None
    if not isinstance(schema, dict):
        raise SchemaInvalid(f"schema_json: must be a JSON object, got {type(schema).__name__}")
    labels = schema.get("labels", [])
    if not isinstance(labels, list):
        raise SchemaInvalid("schema_json.labels: must be a list")
    names: list[str] = []
    for k, label in enumerate(labels):
        name = label.get("name") if isinstance(label, dict) else label
        if not isinstance(name, str) or not name:
            raise SchemaInvalid(f"schema_json.labels[{k}].name: must be a non-empty string")
        if name not in names:
            names.append(name)
    return names


def file_stem(project_name: str) -> str:
    """A file-name-safe form of the project name ("export" when nothing is left)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", project_name).strip("-._")
    return stem[:80] or "export"


def schema_choices(schema_json: str) -> list[tuple[str, list[str]]]:
    """(name, options) of the schema's ``choices``, in schema order (malformed entries are left out)."""
    try:
        schema = json.loads(schema_json) if schema_json.strip() else {}
    except json.JSONDecodeError:
        return []
    out: list[tuple[str, list[str]]] = []
    for choice in schema.get("choices", []) if isinstance(schema, dict) else []:
        if isinstance(choice, dict) and isinstance(choice.get("name"), str):
            options = [str(o) for o in choice.get("options", []) if isinstance(o, str | int | float)]
            out.append((choice["name"], options))
    return out
