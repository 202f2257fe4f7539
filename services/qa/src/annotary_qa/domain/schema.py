"""The label schema document (DESIGN.md "Public formats, v1"): checked once, then used by the rules."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypeGuard

MODALITIES: tuple[str, ...] = ("image", "text", "audio", "video")
KNOWN_TOOLS: tuple[str, ...] = (
    "bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "choice", "transcript",
)
DEFAULT_MIN_BOX_SIZE = 1.0


class SchemaError(ValueError):
    """The schema document is malformed; ``field`` is its path, e.g. ``schema.labels[1].name``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ChoiceSpec:
    name: str
    options: tuple[str, ...]
    multiple: bool = False


@dataclass(frozen=True)
class LabelSchema:
    modality: str
    labels: tuple[str, ...]
    tools: tuple[str, ...]
    choices: tuple[ChoiceSpec, ...] = ()
    min_box_size: float = DEFAULT_MIN_BOX_SIZE

    def choice(self, name: str) -> ChoiceSpec | None:
        return next((c for c in self.choices if c.name == name), None)


def show(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it (JSON), cut to ``limit`` characters, for error messages."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reject_constant(name: str) -> Any:
    """For ``json.loads(parse_constant=...)``: NaN and Infinity are not JSON (nor storable in jsonb)."""
    raise ValueError(f"{name} is not a JSON number")


def has_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL character anywhere (Postgres jsonb cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _non_empty_str(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.strip() != ""


def parse_schema_json(text: str) -> LabelSchema:
    try:
        doc = json.loads(text, parse_constant=reject_constant)
    except (ValueError, RecursionError) as exc:
        raise SchemaError("schema_json", f"is not valid JSON ({exc})") from exc
    if has_nul(doc):
        raise SchemaError("schema_json", "must not contain NUL characters (\\u0000)")
    return parse_schema(doc)


def parse_schema(doc: Any) -> LabelSchema:
    """Check a schema document and return what the rules need; raises :class:`SchemaError`."""
    if not isinstance(doc, dict):
        raise SchemaError("schema", f"must be a JSON object, got {show(doc)}")
    modality = doc.get("modality")
    if modality not in MODALITIES:
        raise SchemaError("schema.modality", f"{show(modality)} is not allowed (allowed: {', '.join(MODALITIES)})")
    return LabelSchema(
        modality=modality,
        labels=_parse_labels(doc.get("labels")),
        tools=_parse_tools(doc.get("tools")),
        choices=_parse_choices(doc.get("choices", [])),
        min_box_size=_parse_rules(doc.get("rules", {})),
    )


def _parse_labels(labels: Any) -> tuple[str, ...]:
    if not isinstance(labels, list) or not labels:
        raise SchemaError("schema.labels", 'must be a non-empty list of {"name": ...} objects')
    names: list[str] = []
    for i, label in enumerate(labels):
        if not isinstance(label, dict):
            raise SchemaError(f"schema.labels[{i}]", f'must be an object with a "name", got {show(label)}')
        name = label.get("name")
        if not _non_empty_str(name):
            raise SchemaError(f"schema.labels[{i}].name", f"must be a non-empty string, got {show(name)}")
        if name in names:
            raise SchemaError(f"schema.labels[{i}].name", f"{show(name)} is a duplicate (label names must be unique)")
        names.append(name)
    return tuple(names)


def _parse_tools(tools: Any) -> tuple[str, ...]:
    if not isinstance(tools, list) or not tools:
        raise SchemaError("schema.tools", f"must be a non-empty list of tools (allowed: {', '.join(KNOWN_TOOLS)})")
    for i, tool in enumerate(tools):
        if tool not in KNOWN_TOOLS:
            allowed = ", ".join(KNOWN_TOOLS)
            raise SchemaError(f"schema.tools[{i}]", f"{show(tool)} is not a known tool (allowed: {allowed})")
    return tuple(dict.fromkeys(tools))


def _parse_choices(choices: Any) -> tuple[ChoiceSpec, ...]:
    if not isinstance(choices, list):
        raise SchemaError("schema.choices",
                          f'must be a list of {{"name", "options", "multiple"}} objects, got {show(choices)}')
    specs: list[ChoiceSpec] = []
    for i, choice in enumerate(choices):
        where = f"schema.choices[{i}]"
        if not isinstance(choice, dict):
            raise SchemaError(where, f'must be an object with "name" and "options", got {show(choice)}')
        name = choice.get("name")
        if not _non_empty_str(name):
            raise SchemaError(f"{where}.name", f"must be a non-empty string, got {show(name)}")
        if any(s.name == name for s in specs):
            raise SchemaError(f"{where}.name", f"{show(name)} is a duplicate (choice names must be unique)")
        options = choice.get("options")
        if not isinstance(options, list) or not options or not all(_non_empty_str(o) for o in options):
            raise SchemaError(f"{where}.options", f"must be a non-empty list of strings, got {show(options)}")
        if len(set(options)) != len(options):
            raise SchemaError(f"{where}.options", f"must not repeat an option, got {show(options)}")
        multiple = choice.get("multiple", False)
        if not isinstance(multiple, bool):
            raise SchemaError(f"{where}.multiple", f"must be true or false, got {show(multiple)}")
        specs.append(ChoiceSpec(name=name, options=tuple(options), multiple=multiple))
    return tuple(specs)


def _parse_rules(rules: Any) -> float:
    if not isinstance(rules, dict):
        raise SchemaError("schema.rules", f"must be an object, got {show(rules)}")
    size = rules.get("min_box_size", DEFAULT_MIN_BOX_SIZE)
    if isinstance(size, bool) or not isinstance(size, int | float) or not math.isfinite(size) or size < 0:
        raise SchemaError("schema.rules.min_box_size", f"must be a number >= 0, got {show(size)}")
    return float(size)
