"""Import sources (a folder or a bucket prefix): which files become items, and the JSON/JSONL item format.

Item format, one object per item: ``{"external_id"?, "text"?|"image"?|"audio"?|"video"?, "meta"?,
"predictions"?, "gold"?}``. A media reference that is not a URI is relative to the item file's folder.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any, Literal
from urllib.parse import quote, unquote, urlparse

from annotary_ingest.domain.content import MEDIA_TYPES
from annotary_ingest.domain.items import BadEntry, ItemInvalid, RawItem

EntryKind = Literal["media", "text", "items"]
CONTENT_KEYS = ("text", "image", "audio", "video")


def entry_kind(name: str) -> EntryKind | None:
    """What a file in a source becomes: one media item, one text item, a file of items, or nothing."""
    ext = posixpath.splitext(name)[1].lower()
    if ext in (".json", ".jsonl"):
        return "items"
    if ext == ".txt":
        return "text"
    if ext in MEDIA_TYPES:
        return "media"
    return None


def source_entry(rel: str, uri: str) -> RawItem | None:
    """The item a file of a source makes by itself (media or .txt); None for item files and others."""
    kind = entry_kind(rel)
    if kind == "media":
        return RawItem(media_uri=uri, external_id=rel, origin=f"{rel}: ")
    if kind == "text":
        return RawItem(media_uri=uri, external_id=rel, modality="text", origin=f"{rel}: ")
    return None


def join_ref(file_uri: str, ref: str) -> str:
    """A media reference from an item file as a URI: URIs stay, paths are relative to the file's folder."""
    if "://" in ref:
        return ref
    if file_uri.startswith("s3://"):
        bucket, _, key = file_uri.removeprefix("s3://").partition("/")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(key), ref)).lstrip("/")
        if joined.startswith(".."):
            raise ItemInvalid(f"{ref!r} points outside the bucket")
        return f"s3://{bucket}/{joined}"
    folder = posixpath.dirname(unquote(urlparse(file_uri).path))
    return "file://" + quote(posixpath.normpath(posixpath.join(folder, ref)))


def _as_json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def item_from_object(obj: Any, *, file_uri: str, default_external_id: str, origin: str) -> RawItem:
    """One object of the item format as a ``RawItem``; ``ItemInvalid`` naming the field."""
    if not isinstance(obj, dict):
        raise ItemInvalid(f"item: must be an object, got {type(obj).__name__}")
    kinds = [key for key in CONTENT_KEYS if obj.get(key) not in (None, "")]
    if len(kinds) != 1:
        raise ItemInvalid(f"item: needs exactly one of {', '.join(CONTENT_KEYS)} (got {', '.join(kinds) or 'none'})")
    kind = kinds[0]
    value = obj[kind]
    if not isinstance(value, str):
        raise ItemInvalid(f"{kind}: must be a string, got {type(value).__name__}")
    external_id = obj.get("external_id")
    if external_id is None:
        external_id = default_external_id if kind == "text" else value
    elif isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    elif not isinstance(external_id, str):
        raise ItemInvalid(f"external_id: must be a string, got {type(external_id).__name__}")
    try:
        media_uri = "" if kind == "text" else join_ref(file_uri, value)
    except ItemInvalid as exc:
        raise ItemInvalid(f"{kind}: {exc}") from None
    return RawItem(
        external_id=external_id,
        text=value if kind == "text" else "",
        media_uri=media_uri,
        modality=kind,
        meta_json=_as_json(obj.get("meta")),
        predictions_json=_as_json(obj.get("predictions")),
        gold_json=_as_json(obj.get("gold")),
        origin=origin,
    )


def _entry(obj: Any, file_uri: str, where: str, default_external_id: str) -> RawItem | BadEntry:
    try:
        return item_from_object(obj, file_uri=file_uri, default_external_id=default_external_id, origin=f"{where}: ")
    except ItemInvalid as exc:
        return BadEntry(f"{where}: {exc}")


def parse_item_file(rel: str, data: bytes, file_uri: str) -> list[RawItem | BadEntry]:
    """The items of a .json (a list of objects, or one object) or .jsonl (one object a line) file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [BadEntry(f"{rel}: not UTF-8 text")]
    out: list[RawItem | BadEntry] = []
    if rel.lower().endswith(".jsonl"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{rel} line {n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                out.append(BadEntry(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            out.append(_entry(obj, file_uri, where, f"{rel}#{n}"))
        return out
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return [BadEntry(f"{rel}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")]
    for k, obj in enumerate(doc if isinstance(doc, list) else [doc]):
        out.append(_entry(obj, file_uri, f"{rel} [{k}]", f"{rel}#{k + 1}"))
    return out
