"""Incremental sync of a source (``s3://bucket/prefix`` or ``file:///dir`` inside the import roots): list it with
each key's fingerprint (S3 ETag and size; a file's mtime and size), import only the keys that are new or whose
fingerprint changed since the last sync of that source, then remember the fingerprints. A key that is unchanged is
not even read. A sync that dies after importing and before remembering re-imports those keys next time: content
de-duplication makes that a no-op."""

from __future__ import annotations

import asyncio
import logging
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlparse

import asyncpg
from botocore.exceptions import BotoCoreError, ClientError

from annotary_common.grpc_util import InvalidArgument, NotFound
from annotary_common.storage import ObjectNotFound, ObjectStore, S3ObjectStore, SourceNotAllowed
from annotary_ingest.domain.items import BadEntry, RawItem
from annotary_ingest.domain.source import entry_kind, parse_item_file, source_entry
from annotary_ingest.service_layer.importing import ImportLimits, ImportResult, import_items, project_or_invalid

log = logging.getLogger(__name__)

Listing = list[tuple[str, str, str, int]]   # (path relative to the source, URI, fingerprint, size)


def _list_folder(store: ObjectStore, uri: str) -> Listing:
    root = Path(unquote(urlparse(uri).path)).resolve()
    out = []
    for path in store.list_files(uri):
        st = path.stat()
        out.append((path.relative_to(root).as_posix(), path.as_uri(), f"mtime:{st.st_mtime_ns}", st.st_size))
    return sorted(out)


async def list_with_fingerprints(store: ObjectStore, uri: str) -> Listing:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        try:
            return await asyncio.to_thread(_list_folder, store, uri)
        except SourceNotAllowed as exc:
            raise InvalidArgument(f"uri: {exc}") from None
        except ObjectNotFound:
            raise NotFound(f"uri: {uri} is not a folder") from None
    if parsed.scheme == "s3":
        if not isinstance(store, S3ObjectStore):
            raise InvalidArgument(f"uri: {uri} needs the S3 object store (ANNOTARY_OBJECT_STORE=s3)")
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise InvalidArgument(f"uri: {uri} names no bucket")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        out: Listing = []
        try:
            paginator = store._client.get_paginator("list_objects_v2")  # the store's client: ETag and size too
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/") or posixpath.basename(key).startswith("."):
                        continue
                    out.append((key[len(prefix):], f"s3://{bucket}/{key}", str(obj.get("ETag", "")).strip('"'),
                                int(obj.get("Size", 0))))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code == "NoSuchBucket":
                raise NotFound(f"uri: bucket {bucket!r} does not exist") from None
            raise InvalidArgument(f"uri: cannot list {uri} ({code})") from None
        return sorted(out)
    raise InvalidArgument(f"uri: {uri!r} is not a source (use file:///dir or s3://bucket/prefix)")


async def sync_source(pool: asyncpg.Pool, store: ObjectStore, project_id: str, uri: str,
                      limits: ImportLimits = ImportLimits()) -> ImportResult:
    project = project_or_invalid(project_id)
    source = uri.rstrip("/")
    lock = f"annotary-ingest-sync-{project}-{source}"
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock)
        try:
            listing = await list_with_fingerprints(store, uri)
            seen = {r["key"]: (r["etag"], r["size"]) for r in await conn.fetch(
                "SELECT key, etag, size FROM source_objects WHERE project_id = $1 AND source_uri = $2",
                project, source)}
            todo = [entry for entry in listing if seen.get(entry[0]) != (entry[2], entry[3])]
            entries: list[RawItem | BadEntry] = []
            for rel, file_uri, _, _ in todo:
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
            result = await import_items(pool, store, project, entries, limits) if entries else ImportResult()
            if not result.errors and todo:
                await conn.executemany(
                    """INSERT INTO source_objects (project_id, source_uri, key, etag, size) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (project_id, source_uri, key) DO UPDATE
                       SET etag = EXCLUDED.etag, size = EXCLUDED.size, synced_at = now()""",
                    [(project, source, rel, etag, size) for rel, _, etag, size in todo],
                )
            result.unchanged = len(listing) - len(todo)
            result.keys_synced = 0 if result.errors else len(todo)
            log.info("source synced", extra={"uri": uri, "keys": len(listing), "synced": result.keys_synced,
                                             "items_created": result.created})
            return result
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock)
