"""ImportSource from s3:// against a real S3 API (moto's server), with the S3 object store."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import boto3
import pytest
from moto.server import ThreadedMotoServer

from annotary_common.grpc_util import NotFound
from annotary_common.settings import CommonSettings
from annotary_common.storage import S3ObjectStore, open_object_store
from annotary_ingest.service_layer.sources import import_source

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


async def test_import_source_from_a_bucket(pool: asyncpg.Pool, s3_store: S3ObjectStore, s3_endpoint: str,
                                           make_png: Callable[..., bytes]) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDS)
    client.create_bucket(Bucket="incoming")
    client.put_object(Bucket="incoming", Key="batch1/cats/c1.png", Body=make_png(8, 4))
    client.put_object(Bucket="incoming", Key="batch1/notes/n1.txt", Body=b"hello from s3")
    client.put_object(Bucket="incoming", Key="batch1/items.jsonl", Body="\n".join([
        json.dumps({"image": "cats/c2.png", "meta": {"src": "jsonl"}}),
        json.dumps({"text": "inline", "external_id": "t-1"}),
    ]).encode())
    client.put_object(Bucket="incoming", Key="batch1/cats/c2.png", Body=make_png(5, 5, (0, 255, 0)))
    client.put_object(Bucket="incoming", Key="batch10/other.png", Body=make_png(1, 1))  # not under batch1/

    result = await import_source(pool, s3_store, PROJECT, "s3://incoming/batch1")
    assert result.errors == []
    assert (result.created, result.duplicates) == (4, 1)  # cats/c2.png is both a file and a jsonl item
    rows = {r["external_id"]: r for r in await pool.fetch("SELECT * FROM items")}
    assert sorted(rows) == ["cats/c1.png", "cats/c2.png", "notes/n1.txt", "t-1"]
    c1 = rows["cats/c1.png"]
    assert (c1["width"], c1["height"], c1["media_uri"]) == (8, 4, f"s3://annotary/media/{c1['content_hash']}.png")
    stored = client.get_object(Bucket="annotary", Key=f"media/{c1['content_hash']}.png")
    assert stored["ContentType"] == "image/png" and stored["Body"].read() == make_png(8, 4)
    assert rows["notes/n1.txt"]["text"] == "hello from s3"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 4

    again = await import_source(pool, s3_store, PROJECT, "s3://incoming/batch1/")
    assert (again.created, again.duplicates) == (0, 5)
    with pytest.raises(NotFound, match="bucket 'nobucket' does not exist"):
        await import_source(pool, s3_store, PROJECT, "s3://nobucket/x")
