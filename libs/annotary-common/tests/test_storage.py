"""The object store on both back ends: a local folder and a real S3 API server (moto)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from annotary_cli.infra import start_s3
from annotary_common.settings import CommonSettings
from annotary_common.storage import CHUNK_BYTES, ObjectNotFound, ObjectStore, SourceNotAllowed, open_object_store


@pytest.fixture(scope="module")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server, url = start_s3(tmp_path_factory.mktemp("s3"))
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    imports = tmp_path / "imports"
    imports.mkdir()
    common = {"import_roots": str(imports), "data_dir": str(tmp_path / "data")}
    if request.param == "local":
        settings = CommonSettings(object_store="local", **common)
    else:
        settings = CommonSettings(
            object_store="s3",
            s3_endpoint_url=request.getfixturevalue("s3_url"),
            s3_bucket=f"store-test-{os.urandom(4).hex()}",
            s3_access_key_id="test",
            s3_secret_access_key="test",
            **common,
        )
    async with open_object_store(settings) as opened:
        yield opened


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_put_get_and_stream_round_trip_in_chunks(store: ObjectStore) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 123)
    await store.put("a/blob.bin", data)
    assert await store.get("a/blob.bin") == data
    chunks = [chunk async for chunk in store.stream("a/blob.bin")]
    assert b"".join(chunks) == data
    assert len(chunks) >= 2  # streamed, not read whole


async def test_put_file_uploads_large_files_intact(store: ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    data = os.urandom(6 << 20)  # above one multipart part
    path.write_bytes(data)
    await store.put_file("exports/big.jsonl", path, "application/jsonl")
    assert await collect(store.stream("exports/big.jsonl")) == data


async def test_missing_objects_are_reported_by_name(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        await store.get("nowhere/missing.bin")
    with pytest.raises(ObjectNotFound):
        await collect(store.stream("nowhere/missing.bin"))


async def test_list_objects_by_prefix_with_sizes_and_fingerprints(store: ObjectStore) -> None:
    await store.put("p/one.txt", b"1")
    await store.put("p/two.txt", b"22")
    await store.put("q/three.txt", b"333")
    listed = await store.list_objects("p/")
    assert [(o.key, o.size) for o in sorted(listed, key=lambda o: o.key)] == [("p/one.txt", 1), ("p/two.txt", 2)]
    assert all(o.etag for o in listed)
    before = {o.key: o.etag for o in listed}
    await store.put("p/two.txt", b"changed")
    after = {o.key: o.etag for o in await store.list_objects("p/")}
    assert after["p/two.txt"] != before["p/two.txt"] and after["p/one.txt"] == before["p/one.txt"]
    assert sorted(await store.list_keys("q/")) == ["q/three.txt"]


@pytest.mark.parametrize("key", ["", "/abs/path", "a/../../etc/passwd"])
async def test_bad_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put(key, b"x")


async def test_file_uris_are_confined_to_the_import_roots(store: ObjectStore, tmp_path: Path) -> None:
    inside = tmp_path / "imports" / "ok.txt"
    inside.write_bytes(b"inside")
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"secret")
    assert await store.read_uri(inside.as_uri()) == b"inside"
    with pytest.raises(SourceNotAllowed):
        await store.read_uri(outside.as_uri())
    with pytest.raises(SourceNotAllowed):
        await store.read_uri(f"file://{tmp_path}/imports/../secret.txt")
