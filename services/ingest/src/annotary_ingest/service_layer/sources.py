"""Importing a source: a folder (file:///dir inside the import roots) or a bucket prefix (s3://bucket/prefix).

Each image/audio/video file is one item, each .txt one text item, each .json/.jsonl file a list of items in
the import format; other files are skipped. External ids default to the path relative to the source.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import ObjectNotFound, ObjectStore, SourceNotAllowed
from annotary_ingest.domain.items import BadEntry, RawItem
from annotary_ingest.domain.source import entry_kind, parse_item_file, source_entry
from annotary_ingest.service_layer.importing import (
    ImportLimits,
    ImportResult,
    import_items,
    project_or_invalid,
)

log = logging.getLogger(__name__)
_BUCKET = re.compile(r"[A-Za-z0-9._-]{1,255}")  # what S3 clients accept; anything else is refused up front


@dataclass(frozen=True)
class SourceFile:
    rel: str           # the path relative to the source (the default external id)
    uri: str
    fingerprint: str   # changes when the content does: S3's ETag, a file's modification time
    size: int


def _list_folder(store: ObjectStore, uri: str) -> list[SourceFile]:
    root = Path(unquote(urlparse(uri).path)).resolve()
    out = []
    for path in store.list_files(uri):
        st = path.stat()
        out.append(SourceFile(path.relative_to(root).as_posix(), path.as_uri(), f"mtime:{st.st_mtime_ns}", st.st_size))
    return sorted(out, key=lambda f: f.rel)


async def list_source(store: ObjectStore, uri: str) -> list[SourceFile]:
    """Every file of the source, sorted by path."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        try:
            return await asyncio.to_thread(_list_folder, store, uri)
        except SourceNotAllowed as exc:
            raise InvalidArgument(f"uri: {exc}") from None
        except ObjectNotFound:
            raise NotFound(f"uri: {uri} is not a folder") from None
    if parsed.scheme == "s3":
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise InvalidArgument(f"uri: {uri} names no bucket")
        if not _BUCKET.fullmatch(bucket):
            raise InvalidArgument(f"uri: {bucket!r} is not a bucket name (letters, digits, '.', '-', '_')")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        try:
            objects = await store.list_objects(prefix, bucket=bucket)
        except SourceNotAllowed:
            raise InvalidArgument(f"uri: {uri} needs the S3 object store (ANNOTARY_OBJECT_STORE=s3)") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code == "NoSuchBucket":
                raise NotFound(f"uri: bucket {bucket!r} does not exist") from None
            raise InvalidArgument(f"uri: cannot list {uri} ({code})") from None
        return sorted(
            (SourceFile(o.key[len(prefix):], f"s3://{bucket}/{o.key}", o.etag, o.size) for o in objects
             if not o.key.endswith("/") and not posixpath.basename(o.key).startswith(".")),
            key=lambda f: f.rel,
        )
    raise InvalidArgument(f"uri: {uri!r} is not a source (use file:///dir or s3://bucket/prefix)")


async def collect_entries(store: ObjectStore, files: list[SourceFile], uri: str) -> list[RawItem | BadEntry]:
    """The items the files hold: media and .txt files one each, .json/.jsonl files a list each."""
    entries: list[RawItem | BadEntry] = []
    skipped: list[str] = []
    for f in files:
        single = source_entry(f.rel, f.uri)
        if single is not None:
            entries.append(single)
        elif entry_kind(f.rel) == "items":
            try:
                data = await store.read_uri(f.uri)
            except SourceNotAllowed as exc:
                raise InvalidArgument(f"uri: {exc}") from None
            except (ObjectNotFound, ClientError, BotoCoreError, OSError) as exc:
                entries.append(BadEntry(f"{f.rel}: cannot read ({exc})"))
                continue
            entries.extend(parse_item_file(f.rel, data, f.uri))
        else:
            skipped.append(f.rel)
    if skipped:
        log.info("source files skipped (not media, .txt, .json or .jsonl)",
                 extra={"uri": uri, "skipped": len(skipped), "first": skipped[0]})
    return entries


async def collect_source(store: ObjectStore, uri: str) -> list[RawItem | BadEntry]:
    return await collect_entries(store, await list_source(store, uri), uri)


async def import_source(pool: asyncpg.Pool, store: ObjectStore, project_id: str, uri: str,
                        limits: ImportLimits = ImportLimits()) -> ImportResult:
    project_or_invalid(project_id)  # refuse before listing anything
    return await import_items(pool, store, project_id, await collect_source(store, uri), limits)
