"""Incremental source sync against a real S3 API (moto's server) and a folder: a second sync imports nothing and
reads nothing; after an upload (or a change) only the new or changed keys are imported."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from unittest import mock

import asyncpg
import boto3
import pytest
from moto.server import ThreadedMotoServer

from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore, S3ObjectStore, open_object_store
from annotary_ingest.service_layer.sync import sync_source

PROJECT = str(uuid.uuid4())
CREDS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
async def s3_store(s3_endpoint: str) -> AsyncIterator[S3ObjectStore]:
    settings = CommonSettings(object_store="s3", s3_endpoint_url=s3_endpoint, s3_bucket="annotary",
                              s3_access_key_id="test", s3_secret_access_key="test")
    async with open_object_store(settings) as store:
        assert isinstance(store, S3ObjectStore)
        yield store


async def test_s3_sync_imports_only_new_or_changed_keys(pool: asyncpg.Pool, s3_store: S3ObjectStore,
                                                        s3_endpoint: str, make_png: Callable[..., bytes]) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDS)
    client.create_bucket(Bucket="incoming")
    client.put_object(Bucket="incoming", Key="drop/a.png", Body=make_png(4, 4))
    client.put_object(Bucket="incoming", Key="drop/notes/n.txt", Body=b"first note")

    first = await sync_source(pool, s3_store, PROJECT, "s3://incoming/drop")
    assert (first.errors, first.created, first.keys_synced, first.unchanged) == ([], 2, 2, 0)

    with mock.patch.object(s3_store, "read_uri", side_effect=AssertionError("an unchanged key was read")):
        second = await sync_source(pool, s3_store, PROJECT, "s3://incoming/drop/")
    assert (second.created, second.duplicates, second.keys_synced, second.unchanged) == (0, 0, 0, 2)

    client.put_object(Bucket="incoming", Key="drop/b.png", Body=make_png(6, 2))
    client.put_object(Bucket="incoming", Key="drop/notes/n.txt", Body=b"edited note")  # new ETag
    third = await sync_source(pool, s3_store, PROJECT, "s3://incoming/drop")
    assert (third.created, third.keys_synced, third.unchanged) == (2, 2, 1)
    assert await pool.fetchval("SELECT count(*) FROM items") == 4
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4
    assert await pool.fetchval("SELECT count(*) FROM source_objects") == 3


async def test_folder_sync_is_incremental(pool: asyncpg.Pool, store: LocalObjectStore, import_root: Path,
                                          make_png: Callable[..., bytes]) -> None:
    folder = import_root / "batch"
    folder.mkdir()
    (folder / "a.png").write_bytes(make_png(3, 3))
    uri = folder.as_uri()
    assert (await sync_source(pool, store, PROJECT, uri)).created == 1
    again = await sync_source(pool, store, PROJECT, uri)
    assert (again.created, again.keys_synced, again.unchanged) == (0, 0, 1)
    (folder / "b.txt").write_text("hello")
    os.utime(folder / "a.png")  # touched, same content: re-read, a duplicate
    third = await sync_source(pool, store, PROJECT, uri)
    assert (third.created, third.duplicates, third.keys_synced) == (1, 1, 2)
