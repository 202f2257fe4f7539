"""An item as a client sends it, the checks it must pass, and its identity."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

MODALITIES = ("image", "text", "audio", "video")
MEDIA_SCHEMES = ("s3", "file", "https")
DEFAULT_MODEL_VERSION = "import"
# item_id = uuid5(ITEM_NAMESPACE, f"{project_id}:{content_hash}"): same content, same project, same item.
ITEM_NAMESPACE = uuid.UUID("5b0c3f0e-7a1d-5c36-9d1e-2f7c1a9e4b10")


class ItemInvalid(ValueError):
    """The item cannot be imported; the message names the field."""


@dataclass(frozen=True)
class RawItem:
    """One item as received (the fields of ``ItemInput``); ``origin`` prefixes error messages."""

    external_id: str = ""
    text: str = ""
    media_uri: str = ""
    data: bytes = b""
    filename: str = ""
    meta_json: str = ""
    predictions_json: str = ""
    gold_json: str = ""
    modality: str = ""
    origin: str = ""


@dataclass(frozen=True)
class BadEntry:
    """A place in a source that could not even be read as an item (e.g. a line that is not JSON)."""

    message: str


@dataclass(frozen=True)
class Prediction:
    model_version: str
    score: float
    result: list[Any]


@dataclass(frozen=True)
class CheckedItem:
    """An item whose fields are well-formed; its content is not read yet."""

    external_id: str
    text: str | None
    media_uri: str | None
    data: bytes | None
    filename: str
    modality: str | None
    meta: dict[str, Any] = field(default_factory=dict)
    predictions: list[Prediction] = field(default_factory=list)
    gold: list[Any] | None = None

    @property
    def media_name(self) -> str:
        """What error messages call the media: the uri, or the uploaded file's name."""
        return self.media_uri or self.filename or "uploaded data"

    @property
    def media_field(self) -> str:
        return "media_uri" if self.media_uri else "data"


def check_project_id(project_id: str) -> str:
    """The canonical form of a project id; ``ItemInvalid`` naming ``project_id`` otherwise."""
    if not project_id:
        raise ItemInvalid("project_id: required")
    try:
        return str(uuid.UUID(project_id))
    except ValueError:
        raise ItemInvalid(f"project_id: {project_id!r} is not a UUID") from None


def item_id_for(project_id: str, content_hash: str) -> str:
    return str(uuid.uuid5(ITEM_NAMESPACE, f"{project_id}:{content_hash}"))


def _parse_json(name: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ItemInvalid(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_meta(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    meta = _parse_json("meta", raw)
    if not isinstance(meta, dict):
        raise ItemInvalid(f"meta: must be a JSON object, got {type(meta).__name__}")
    return meta


def _check_regions(name: str, result: Any) -> list[Any]:
    if not isinstance(result, list):
        raise ItemInvalid(f"{name}: must be a list of regions, got {type(result).__name__}")
    for k, region in enumerate(result):
        if not isinstance(region, dict):
            raise ItemInvalid(f"{name}[{k}]: a region must be an object, got {type(region).__name__}")
    return result


def check_predictions(raw: str) -> list[Prediction]:
    """A list of ``{"model_version"?, "score"?, "result": [...]}``; a plain list of regions is one prediction."""
    if not raw:
        return []
    value = _parse_json("predictions", raw)
    if not isinstance(value, list):
        raise ItemInvalid(f"predictions: must be a list, got {type(value).__name__}")
    if value and all(isinstance(p, dict) and "result" not in p and "type" in p for p in value):
        value = [{"result": value}]  # the import format's short form: one result, no model version
    out: list[Prediction] = []
    for k, pred in enumerate(value):
        name = f"predictions[{k}]"
        if not isinstance(pred, dict):
            raise ItemInvalid(f"{name}: must be an object {{\"model_version\", \"score\", \"result\"}}")
        version = pred.get("model_version", DEFAULT_MODEL_VERSION)
        if not isinstance(version, str):
            raise ItemInvalid(f"{name}.model_version: must be a string")
        score = pred.get("score")
        if score is not None and not _is_number(score):
            raise ItemInvalid(f"{name}.score: must be a number")
        if "result" not in pred:
            raise ItemInvalid(f"{name}.result: required (a list of regions)")
        result = _check_regions(f"{name}.result", pred["result"])
        out.append(Prediction(model_version=version or DEFAULT_MODEL_VERSION, score=float(score or 0.0), result=result))
    return out


def check_gold(raw: str) -> list[Any] | None:
    if not raw:
        return None
    return _check_regions("gold", _parse_json("gold", raw))


def check_media_uri(uri: str) -> str:
    scheme = urlparse(uri).scheme
    if scheme not in MEDIA_SCHEMES:
        raise ItemInvalid(f"media_uri: unsupported scheme in {uri!r} (use s3://, file:// or https://)")
    return uri


def check_item(raw: RawItem) -> CheckedItem:
    """Field checks that need no I/O; raises ``ItemInvalid`` naming the field."""
    given = [name for name, value in (("text", raw.text), ("media_uri", raw.media_uri), ("data", raw.data)) if value]
    if len(given) != 1:
        if not given and raw.filename:
            raise ItemInvalid(f"data: the uploaded file {raw.filename!r} is empty")
        got = ", ".join(given) if given else "none"
        raise ItemInvalid(f"item: needs exactly one of text, media_uri, data (got {got})")
    if raw.modality and raw.modality not in MODALITIES:
        raise ItemInvalid(f"modality: {raw.modality!r} is not one of {', '.join(MODALITIES)}")
    if raw.text and raw.modality not in ("", "text"):
        raise ItemInvalid(f"modality: {raw.modality!r} does not fit an item given as text")
    return CheckedItem(
        external_id=raw.external_id or _default_external_id(raw),
        text=raw.text or None,
        media_uri=check_media_uri(raw.media_uri) if raw.media_uri else None,
        data=raw.data or None,
        filename=raw.filename,
        modality=raw.modality or None,
        meta=check_meta(raw.meta_json),
        predictions=check_predictions(raw.predictions_json),
        gold=check_gold(raw.gold_json),
    )


def _default_external_id(raw: RawItem) -> str:
    if raw.data:
        return raw.filename
    if raw.media_uri:
        return unquote(urlparse(raw.media_uri).path.rsplit("/", 1)[-1])
    return ""
