"""The label schema document (DESIGN.md "Public formats, v1"): checked once, then used by the rules."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, TypeGuard

MODALITIES: tuple[str, ...] = ("image", "text", "audio", "video")
KNOWN_TOOLS: tuple[str, ...] = (
    "bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "choice", "transcript", "segment", "track",
)
LABELED_TOOLS: tuple[str, ...] = ("bbox", "polygon", "polyline", "keypoints", "mask", "span", "relation", "segment",
                                  "track")
DEFAULT_MIN_BOX_SIZE = 1.0
DEFAULT_IOU_THRESHOLD = 0.5
# The keys of schema.rules this service reads; others are kept in the document and ignored.
RULE_KEYS: tuple[str, ...] = (
    "min_box_size", "required_choices", "allow_overlap", "exclusive", "allow_self_intersection",
    "iou_threshold", "keypoint_sigmas",
)


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
    required: bool = False


@dataclass(frozen=True)
class Rules:
    """``schema.rules``: the declared validation and matching rules (README "Schema rules")."""

    min_box_size: float = DEFAULT_MIN_BOX_SIZE
    required_choices: tuple[str, ...] = ()
    allow_overlap: bool = True
    exclusive: tuple[tuple[str, ...], ...] = ()
    allow_self_intersection: bool = False
    iou_threshold: float = DEFAULT_IOU_THRESHOLD
    keypoint_sigmas: tuple[float, ...] | None = None


@dataclass(frozen=True)
class LabelSchema:
    modality: str
    labels: tuple[str, ...]
    tools: tuple[str, ...]
    choices: tuple[ChoiceSpec, ...] = ()
    rules: Rules = field(default_factory=Rules)

    @property
    def min_box_size(self) -> float:
        return self.rules.min_box_size

    def choice(self, name: str) -> ChoiceSpec | None:
        return next((c for c in self.choices if c.name == name), None)

    @property
    def required_choices(self) -> tuple[str, ...]:
        """Choice names every result must answer: ``rules.required_choices`` plus ``choices[].required``."""
        named = [*self.rules.required_choices, *(c.name for c in self.choices if c.required)]
        return tuple(dict.fromkeys(named))


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
    tools = _parse_tools(doc.get("tools"))
    labels = _parse_labels(doc.get("labels", []), needed=any(t in LABELED_TOOLS for t in tools))
    choices = _parse_choices(doc.get("choices", []))
    return LabelSchema(modality=modality, labels=labels, tools=tools, choices=choices,
                       rules=_parse_rules(doc.get("rules", {}), labels, choices))


def _parse_labels(labels: Any, needed: bool) -> tuple[str, ...]:
    if not isinstance(labels, list) or (needed and not labels):
        raise SchemaError("schema.labels", 'must be a non-empty list of {"name": ...} objects '
                          "(it may be empty only when every tool is choice or transcript)")
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
        flags = {}
        for flag in ("multiple", "required"):
            value = choice.get(flag, False)
            if not isinstance(value, bool):
                raise SchemaError(f"{where}.{flag}", f"must be true or false, got {show(value)}")
            flags[flag] = value
        specs.append(ChoiceSpec(name=name, options=tuple(options), **flags))
    return tuple(specs)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _bool_rule(rules: dict[str, Any], key: str, default: bool) -> bool:
    value = rules.get(key, default)
    if not isinstance(value, bool):
        raise SchemaError(f"schema.rules.{key}", f"must be true or false, got {show(value)}")
    return value


def _parse_rules(rules: Any, labels: tuple[str, ...], choices: tuple[ChoiceSpec, ...]) -> Rules:
    if not isinstance(rules, dict):
        raise SchemaError("schema.rules", f"must be an object, got {show(rules)}")
    size = rules.get("min_box_size", DEFAULT_MIN_BOX_SIZE)
    if not _is_number(size) or size < 0:
        raise SchemaError("schema.rules.min_box_size", f"must be a number >= 0, got {show(size)}")

    required = rules.get("required_choices", [])
    names = [c.name for c in choices]
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError("schema.rules.required_choices", f"must be a list of choice names, got {show(required)}")
    for i, name in enumerate(required):
        if name not in names:
            raise SchemaError(f"schema.rules.required_choices[{i}]", f"{show(name)} is not a choice of the schema "
                              f"(allowed: {', '.join(names) or 'none, the schema defines no choices'})")

    exclusive = rules.get("exclusive", [])
    known = set(labels) | {o for c in choices for o in c.options}
    if not isinstance(exclusive, list):
        raise SchemaError("schema.rules.exclusive", f"must be a list of lists of label or option names, "
                          f"got {show(exclusive)}")
    groups: list[tuple[str, ...]] = []
    for i, group in enumerate(exclusive):
        where = f"schema.rules.exclusive[{i}]"
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(g, str) for g in group):
            raise SchemaError(where, f"must be a list of at least two label or option names, got {show(group)}")
        if len(set(group)) != len(group):
            raise SchemaError(where, f"must not repeat a name, got {show(group)}")
        for j, name in enumerate(group):
            if name not in known:
                raise SchemaError(f"{where}[{j}]", f"{show(name)} is neither a label nor a choice option of the schema")
        groups.append(tuple(group))

    threshold = rules.get("iou_threshold", DEFAULT_IOU_THRESHOLD)
    if not _is_number(threshold) or not 0 < threshold <= 1:
        raise SchemaError("schema.rules.iou_threshold", f"must be a number in (0, 1], got {show(threshold)}")

    sigmas = rules.get("keypoint_sigmas")
    if sigmas is not None and (not isinstance(sigmas, list) or not sigmas
                               or not all(_is_number(s) and s > 0 for s in sigmas)):
        raise SchemaError("schema.rules.keypoint_sigmas",
                          f"must be a non-empty list of numbers > 0, got {show(sigmas)}")

    return Rules(
        min_box_size=float(size),
        required_choices=tuple(dict.fromkeys(required)),
        allow_overlap=_bool_rule(rules, "allow_overlap", True),
        exclusive=tuple(groups),
        allow_self_intersection=_bool_rule(rules, "allow_self_intersection", False),
        iou_threshold=float(threshold),
        keypoint_sigmas=tuple(float(s) for s in sigmas) if sigmas is not None else None,
    )
