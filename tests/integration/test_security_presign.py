"""Presigned URLs that expire, against a real S3 server that checks signatures: Debian's radosgw
(tests/integration/radosgw.py). The object store the services use (annotary_common.storage.S3ObjectStore) signs;
radosgw serves the object to that URL only, only unaltered, and only until it expires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from annotary_common.settings import CommonSettings
from annotary_common.storage import S3ObjectStore
from tests.integration.radosgw import Radosgw, running_radosgw


@pytest.fixture(scope="module")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radosgw]:
    with running_radosgw(tmp_path_factory.mktemp("radosgw")) as server:
        yield server


@pytest.fixture()
async def store(rgw: Radosgw, tmp_path: Path) -> AsyncIterator[S3ObjectStore]:
    settings = CommonSettings(object_store="s3", s3_endpoint_url=rgw.endpoint, s3_bucket="annotary-presign",
                              s3_access_key_id=rgw.access_key, s3_secret_access_key=rgw.secret_key,
                              data_dir=tmp_path)
    async with S3ObjectStore(settings) as s3:
        yield s3


def _flip_signature(url: str) -> str:
    at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    return url[:at] + ("0" if url[at] != "0" else "1") + url[at + 1:]


async def test_presigned_url_works_unaltered_and_until_it_expires(store: S3ObjectStore, rgw: Radosgw) -> None:
    uri = await store.put("exports/e1/data.jsonl", b'{"id": 1}\n', "application/jsonl")
    await store.put("exports/e2/other.jsonl", b"secret", "application/jsonl")
    async with httpx.AsyncClient(timeout=30.0) as http:
        public = await http.get(f"{rgw.endpoint}/annotary-presign/exports/e1/data.jsonl")
        assert public.status_code == 403  # the bucket is not public
        url = await store.presigned_url(uri, 3, filename="data.jsonl")
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=3" in url
        reply = await http.get(url)
        assert reply.status_code == 200 and reply.content == b'{"id": 1}\n'
        assert 'filename="data.jsonl"' in reply.headers["content-disposition"]
        tampered = await http.get(_flip_signature(url))
        assert tampered.status_code == 403 and "SignatureDoesNotMatch" in tampered.text
        other = await http.get(url.replace("exports/e1/data.jsonl", "exports/e2/other.jsonl"))
        assert other.status_code == 403  # the signature covers the key
        longer = await http.get(url.replace("X-Amz-Expires=3", "X-Amz-Expires=3600"))
        assert longer.status_code == 403  # and the expiry
        await asyncio.sleep(4)
        expired = await http.get(url)
        assert expired.status_code == 403 and "AccessDenied" in expired.text
