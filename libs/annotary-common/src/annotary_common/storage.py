"""Object storage: S3 (aioboto3) or a local folder, behind one small interface.

Objects are addressed by key inside the configured bucket/folder; ``uri_for(key)`` gives the URI
stored on items (``s3://bucket/key`` or ``local://key``) and ``read_uri`` reads any supported URI
(another bucket, a file inside the allowed import roots, https).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import aioboto3
import httpx

from annotary_common.settings import CommonSettings


class ObjectNotFound(KeyError):
    pass


class SourceNotAllowed(ValueError):
    """A URI outside what imports may read (a file:// outside the roots, an unknown scheme)."""


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str: ...
    async def get(self, key: str) -> bytes: ...
    async def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]: ...
    def uri_for(self, key: str) -> str: ...
    async def read_uri(self, uri: str) -> bytes: ...
    def list_files(self, uri: str) -> list[Path]: ...


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in Path(key).parts:
        raise ValueError(f"invalid object key {key!r}")
    return key


class _Common:
    def __init__(self, settings: CommonSettings) -> None:
        self._roots = [Path(r).resolve() for r in settings.import_roots.split(os.pathsep) if r]

    def _read_file(self, uri: str) -> bytes:
        path = Path(unquote(urlparse(uri).path)).resolve()
        if not any(path.is_relative_to(root) for root in self._roots):
            raise SourceNotAllowed(f"{uri} is outside the allowed import roots")
        if not path.is_file():
            raise ObjectNotFound(uri)
        return path.read_bytes()

    async def _read_other(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            return await asyncio.to_thread(self._read_file, uri)
        if parsed.scheme == "https":
            async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client:
                response = await client.get(uri)
                if response.status_code == 404:
                    raise ObjectNotFound(uri)
                response.raise_for_status()
                return response.content
        raise SourceNotAllowed(f"unsupported URI scheme in {uri!r} (use s3://, file:// or https://)")

    def list_files(self, uri: str) -> list[Path]:
        parsed = urlparse(uri)
        root = Path(unquote(parsed.path)).resolve()
        if not any(root.is_relative_to(r) for r in self._roots):
            raise SourceNotAllowed(f"{uri} is outside the allowed import roots")
        if not root.is_dir():
            raise ObjectNotFound(uri)
        return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


class LocalObjectStore(_Common):
    def __init__(self, settings: CommonSettings) -> None:
        super().__init__(settings)
        self.root = (settings.data_dir / "objects").resolve()

    async def __aenter__(self) -> LocalObjectStore:
        self.root.mkdir(parents=True, exist_ok=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        path = self.root / _check_key(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            tmp.replace(path)

        await asyncio.to_thread(write)
        return self.uri_for(key)

    async def get(self, key: str) -> bytes:
        path = self.root / _check_key(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return await asyncio.to_thread(path.read_bytes)

    async def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        if bucket is not None:
            raise SourceNotAllowed("s3:// sources need ANNOTARY_OBJECT_STORE=s3")
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.rglob("*")
            if p.is_file() and str(p.relative_to(self.root)).startswith(prefix)
        )

    def uri_for(self, key: str) -> str:
        return f"local://{key}"

    async def read_uri(self, uri: str) -> bytes:
        if uri.startswith("local://"):
            return await self.get(uri.removeprefix("local://"))
        return await self._read_other(uri)


class S3ObjectStore(_Common):
    def __init__(self, settings: CommonSettings) -> None:
        super().__init__(settings)
        self.bucket = settings.s3_bucket
        self._session = aioboto3.Session(
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            region_name=settings.s3_region,
        )
        self._endpoint = settings.s3_endpoint_url
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def __aenter__(self) -> S3ObjectStore:
        self._client = await self._stack.enter_async_context(self._session.client("s3", endpoint_url=self._endpoint))
        with contextlib.suppress(Exception):
            await self._client.head_bucket(Bucket=self.bucket)
            return self
        with contextlib.suppress(self._client.exceptions.BucketAlreadyOwnedByYou):
            await self._client.create_bucket(Bucket=self.bucket)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        await self._client.put_object(Bucket=self.bucket, Key=_check_key(key), Body=data, ContentType=content_type)
        return self.uri_for(key)

    async def _get(self, bucket: str, key: str) -> bytes:
        try:
            response = await self._client.get_object(Bucket=bucket, Key=key)
        except self._client.exceptions.NoSuchKey as exc:
            raise ObjectNotFound(f"s3://{bucket}/{key}") from exc
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data

    async def get(self, key: str) -> bytes:
        return await self._get(self.bucket, _check_key(key))

    async def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket or self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def read_uri(self, uri: str) -> bytes:
        if uri.startswith("s3://"):
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            return await self._get(bucket, key)
        return await self._read_other(uri)


@contextlib.asynccontextmanager
async def open_object_store(settings: CommonSettings) -> AsyncIterator[ObjectStore]:
    """Use as ``async with open_object_store(settings) as store``."""
    if settings.object_store == "s3":
        async with S3ObjectStore(settings) as s3:
            yield s3
    else:
        async with LocalObjectStore(settings) as local:
            yield local


async def iter_chunks(data: bytes, size: int = 1 << 16) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
