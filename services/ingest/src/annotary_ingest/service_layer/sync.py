"""Incremental sync of a source (``s3://bucket/prefix`` or ``file:///dir`` inside the import roots): list it with
each key's fingerprint (S3 ETag and size; a file's mtime and size), import only the keys that are new or whose
fingerprint changed since the last sync of that source, then remember the fingerprints. A key that is unchanged is
not even read. A sync that dies after importing and before remembering re-imports those keys next time: content
de-duplication makes that a no-op."""

from __future__ import annotations

import logging

import asyncpg

from annotary_common.storage import ObjectStore
from annotary_ingest.service_layer.importing import ImportLimits, ImportResult, import_items, project_or_invalid
from annotary_ingest.service_layer.sources import collect_entries, list_source

log = logging.getLogger(__name__)


async def sync_source(pool: asyncpg.Pool, store: ObjectStore, project_id: str, uri: str,
                      limits: ImportLimits = ImportLimits()) -> ImportResult:
    project = project_or_invalid(project_id)
    source = uri.rstrip("/")
    lock = f"annotary-ingest-sync-{project}-{source}"
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock)
        try:
            listing = await list_source(store, uri)
            seen = {r["key"]: (r["etag"], r["size"]) for r in await conn.fetch(
                "SELECT key, etag, size FROM source_objects WHERE project_id = $1 AND source_uri = $2",
                project, source)}
            todo = [f for f in listing if seen.get(f.rel) != (f.fingerprint, f.size)]
            entries = await collect_entries(store, todo, uri)
            result = await import_items(pool, store, project, entries, limits) if entries else ImportResult()
            if not result.errors and todo:
                await conn.executemany(
                    """INSERT INTO source_objects (project_id, source_uri, key, etag, size) VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (project_id, source_uri, key) DO UPDATE
                       SET etag = EXCLUDED.etag, size = EXCLUDED.size, synced_at = now()""",
                    [(project, source, f.rel, f.fingerprint, f.size) for f in todo],
                )
            result.unchanged = len(listing) - len(todo)
            result.keys_synced = 0 if result.errors else len(todo)
            log.info("source synced", extra={"uri": uri, "keys": len(listing), "synced": result.keys_synced,
                                             "items_created": result.created})
            return result
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock)
