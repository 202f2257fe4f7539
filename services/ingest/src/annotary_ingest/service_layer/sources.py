"""Importing a source: a folder (file:///dir inside the import roots) or a bucket prefix (s3://bucket/prefix).

Each image/audio/video file is one item, each .txt one text item, each .json/.jsonl file a list of items in
the import format; other files are skipped. External ids default to the path relative to the source.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import LocalObjectStore, ObjectNotFound, ObjectStore, SourceNotAllowed
from annotary_ingest.domain.items import BadEntry, RawItem
from annotary_ingest.domain.source import entry_kind, parse_item_file, source_entry
from annotary_ingest.service_layer.importing import (
    ImportLimits,
    ImportResult,
    import_items,
    project_or_invalid,
)

log = logging.getLogger(__name__)


def _list_folder(store: ObjectStore, uri: str) -> list[tuple[str, str]]:
    root = Path(unquote(urlparse(uri).path)).resolve()
    return [(path.relative_to(root).as_posix(), path.as_uri()) for path in store.list_files(uri)]


async def list_source(store: ObjectStore, uri: str) -> list[tuple[str, str]]:
    """(path relative to the source, URI) of every file of the source, sorted by path."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        try:
            return await asyncio.to_thread(_list_folder, store, uri)
        except SourceNotAllowed as exc:
            raise InvalidArgument(f"uri: {exc}") from None
        except ObjectNotFound:
            raise NotFound(f"uri: {uri} is not a folder") from None
    if parsed.scheme == "s3":
        if isinstance(store, LocalObjectStore):
            raise InvalidArgument(f"uri: {uri} needs the S3 object store (ANNOTARY_OBJECT_STORE=s3)")
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise InvalidArgument(f"uri: {uri} names no bucket")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        try:
            keys = await store.list_keys(prefix, bucket=bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code == "NoSuchBucket":
                raise NotFound(f"uri: bucket {bucket!r} does not exist") from None
            raise InvalidArgument(f"uri: cannot list {uri} ({code})") from None
        return sorted((key[len(prefix):], f"s3://{bucket}/{key}") for key in keys
                      if not key.endswith("/") and not posixpath.basename(key).startswith("."))
    raise InvalidArgument(f"uri: {uri!r} is not a source (use file:///dir or s3://bucket/prefix)")


async def collect_source(store: ObjectStore, uri: str) -> list[RawItem | BadEntry]:
    entries: list[RawItem | BadEntry] = []
    skipped: list[str] = []
    for rel, file_uri in await list_source(store, uri):
        single = source_entry(rel, file_uri)
        if single is not None:
            entries.append(single)
        elif entry_kind(rel) == "items":
            try:
                data = await store.read_uri(file_uri)
            except SourceNotAllowed as exc:
                raise InvalidArgument(f"uri: {exc}") from None
            except (ObjectNotFound, ClientError, BotoCoreError, OSError) as exc:
                entries.append(BadEntry(f"{rel}: cannot read ({exc})"))
                continue
            entries.extend(parse_item_file(rel, data, file_uri))
        else:
            skipped.append(rel)
    if skipped:
        log.info("source files skipped (not media, .txt, .json or .jsonl)",
                 extra={"uri": uri, "skipped": len(skipped), "first": skipped[0]})
    return entries


async def import_source(pool: asyncpg.Pool, store: ObjectStore, project_id: str, uri: str,
                        limits: ImportLimits = ImportLimits()) -> ImportResult:
    project_or_invalid(project_id)  # refuse before listing anything
    return await import_items(pool, store, project_id, await collect_source(store, uri), limits)
