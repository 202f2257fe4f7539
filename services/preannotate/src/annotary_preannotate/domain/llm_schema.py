"""A JSON schema for an LLM's answer, derived from a project's label schema, and its answer as regions."""

from __future__ import annotations

from typing import Any

SPANS = "spans"


def answer_schema(label_schema: dict[str, Any]) -> dict[str, Any]:
    """Each choice becomes a property (an enum of its options; an array of them when ``multiple``); span
    labels become ``spans``: a list of ``{"label", "text"}`` with the exact text of each entity."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for choice in label_schema.get("choices") or []:
        name, options = choice.get("name"), [str(o) for o in choice.get("options") or []]
        if not isinstance(name, str) or not options:
            continue
        enum = {"type": "string", "enum": options}
        properties[name] = {"type": "array", "items": enum} if choice.get("multiple") else enum
        required.append(name)
    labels = [lab["name"] for lab in label_schema.get("labels") or [] if isinstance(lab, dict) and "name" in lab]
    if "span" in (label_schema.get("tools") or []) and labels:
        properties[SPANS] = {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["label", "text"],
            "properties": {"label": {"type": "string", "enum": labels}, "text": {"type": "string"}}}}
        required.append(SPANS)
    if not properties:
        raise ValueError("the label schema has no choices and no span labels: nothing an LLM can answer")
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": required}


def regions_from_answer(answer: Any, label_schema: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Turn a (schema-conforming) answer into result regions; anything outside the schema is dropped.
    Span texts are located in the item's text (code-point offsets), each occurrence used once."""
    if not isinstance(answer, dict):
        return []
    schema = answer_schema(label_schema)["properties"]
    regions: list[dict[str, Any]] = []
    for name, spec in schema.items():
        if name == SPANS:
            continue
        value = answer.get(name)
        allowed = spec["items"]["enum"] if spec["type"] == "array" else spec["enum"]
        values = value if isinstance(value, list) else [value]
        regions += [{"type": "choice", "name": name, "value": v} for v in values if isinstance(v, str) and v in allowed]
    if SPANS in schema:
        labels = set(schema[SPANS]["items"]["properties"]["label"]["enum"])
        taken: set[tuple[int, int]] = set()
        for span in answer.get(SPANS) or []:
            if not isinstance(span, dict) or span.get("label") not in labels or not span.get("text"):
                continue
            needle, start = str(span["text"]), 0
            while (at := text.find(needle, start)) >= 0 and (at, at + len(needle)) in taken:
                start = at + 1
            if at >= 0:
                taken.add((at, at + len(needle)))
                regions.append({"type": "span", "label": span["label"], "start": at, "end": at + len(needle)})
    return regions
