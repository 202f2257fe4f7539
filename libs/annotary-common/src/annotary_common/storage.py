"""Object storage: S3 (aioboto3) or a local folder, behind one small interface.

Objects are addressed by key inside the configured bucket/folder; ``uri_for(key)`` gives the URI
stored on items (``s3://bucket/key`` or ``local://key``) and ``read_uri`` reads any supported URI
(another bucket, a file inside the allowed import roots, https).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import aioboto3
from aiobotocore.config import AioConfig

from annotary_common import netguard
from annotary_common.netguard import NetPolicy
from annotary_common.settings import CommonSettings

CHUNK_BYTES = 1 << 20
PART_BYTES = 8 << 20  # S3 multipart part size (the minimum is 5 MiB)


class ObjectNotFound(KeyError):
    pass


class SourceNotAllowed(ValueError):
    """A URI outside what imports may read (a file:// outside the roots, an unknown scheme)."""


@dataclass(frozen=True)
class ObjectInfo:
    """A listed object: its key, size and a fingerprint that changes when the content does (S3's ETag; a
    local file's size and modification time)."""

    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    async def ping(self) -> None: ...
    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str: ...
    async def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> str: ...
    def stream(self, key: str) -> AsyncIterator[bytes]: ...
    async def list_objects(self, prefix: str, bucket: str | None = None) -> list[ObjectInfo]: ...
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
        self._net = NetPolicy.parse(settings.fetch_allow, max_bytes=settings.fetch_max_bytes,
                                    ca_bundle=settings.fetch_ca_bundle or None)

    def _confined(self, uri: str) -> Path:
        """The real path of a file:// URI (``..``, symlinks and %-escapes resolved) when it lies inside an allowed
        import root; SourceNotAllowed otherwise."""
        try:
            path = Path(unquote(urlparse(uri).path)).resolve()
        except (ValueError, OSError) as exc:  # an embedded NUL, a symlink loop
            raise SourceNotAllowed(f"{uri} is not a usable path ({exc})") from None
        if not any(path.is_relative_to(root) for root in self._roots):
            raise SourceNotAllowed(f"{uri} is outside the allowed import roots")
        return path

    def _read_file(self, uri: str) -> bytes:
        path = self._confined(uri)
        if not path.is_file():
            raise ObjectNotFound(uri)
        return path.read_bytes()

    async def _read_other(self, uri: str) -> bytes:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            return await asyncio.to_thread(self._read_file, uri)
        if parsed.scheme == "https":  # every hop checked against SSRF (netguard)
            try:
                return await netguard.fetch(uri, self._net)
            except netguard.FetchRefused as exc:
                raise SourceNotAllowed(str(exc)) from None
            except netguard.FetchNotFound:
                raise ObjectNotFound(uri) from None
        raise SourceNotAllowed(f"unsupported URI scheme in {uri!r} (use s3://, file:// or https://)")

    def list_files(self, uri: str) -> list[Path]:
        root = self._confined(uri)
        if not root.is_dir():
            raise ObjectNotFound(uri)
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
        for path in files:  # a symlink inside the folder must not lead out of the roots
            real = path.resolve()
            if not any(real.is_relative_to(r) for r in self._roots):
                raise SourceNotAllowed(f"{path.as_uri()} links to {real}, outside the allowed import roots")
        return files


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

    async def ping(self) -> None:
        if not self.root.is_dir():
            raise RuntimeError(f"{self.root} is not a folder")

    async def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> str:
        dest = self.root / _check_key(key)

        def copy() -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
            shutil.copyfile(path, tmp)
            tmp.replace(dest)

        await asyncio.to_thread(copy)
        return self.uri_for(key)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self.root / _check_key(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        with path.open("rb") as src:
            while chunk := await asyncio.to_thread(src.read, CHUNK_BYTES):
                yield chunk

    async def list_objects(self, prefix: str, bucket: str | None = None) -> list[ObjectInfo]:
        if bucket is not None:
            raise SourceNotAllowed("s3:// sources need ANNOTARY_OBJECT_STORE=s3")

        def walk() -> list[ObjectInfo]:
            found = []
            for p in self.root.rglob("*"):
                key = str(p.relative_to(self.root))
                if key.startswith(prefix) and p.is_file():
                    stat = p.stat()
                    found.append(ObjectInfo(key, stat.st_size, f"{stat.st_size}-{stat.st_mtime_ns}"))
            return sorted(found, key=lambda o: o.key)

        return await asyncio.to_thread(walk)

    async def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        return [o.key for o in await self.list_objects(prefix, bucket)]

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
        # SigV4 everywhere, presigned URLs included (botocore would presign with the legacy SigV2 otherwise).
        config = AioConfig(signature_version="s3v4")
        self._client = await self._stack.enter_async_context(
            self._session.client("s3", endpoint_url=self._endpoint, config=config)
        )
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

    async def ping(self) -> None:
        await asyncio.wait_for(self._client.head_bucket(Bucket=self.bucket), 2.0)

    async def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> str:
        """Upload a file without reading it into memory: one PUT when small, else a multipart upload."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size <= PART_BYTES:
            return await self.put(key, await asyncio.to_thread(path.read_bytes), content_type)
        client, bucket = self._client, self.bucket
        upload = await client.create_multipart_upload(Bucket=bucket, Key=_check_key(key), ContentType=content_type)
        parts = []
        try:
            with path.open("rb") as src:
                number = 1
                while chunk := await asyncio.to_thread(src.read, PART_BYTES):
                    reply = await client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                                     PartNumber=number, Body=chunk)
                    parts.append({"PartNumber": number, "ETag": reply["ETag"]})
                    number += 1
            await client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"],
                                                   MultipartUpload={"Parts": parts})
        except BaseException:
            await client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
            raise
        return self.uri_for(key)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        try:
            response = await self._client.get_object(Bucket=self.bucket, Key=_check_key(key))
        except self._client.exceptions.NoSuchKey as exc:
            raise ObjectNotFound(f"s3://{self.bucket}/{key}") from exc
        body = response["Body"]
        try:
            while chunk := await body.read(CHUNK_BYTES):
                yield chunk
        finally:
            body.close()

    async def list_objects(self, prefix: str, bucket: str | None = None) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=bucket or self.bucket, Prefix=prefix):
            found.extend(ObjectInfo(o["Key"], int(o.get("Size", 0)), str(o.get("ETag", "")).strip('"'))
                         for o in page.get("Contents", []))
        return found

    async def list_keys(self, prefix: str, bucket: str | None = None) -> list[str]:
        return [o.key for o in await self.list_objects(prefix, bucket)]

    def uri_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def presigned_url(self, uri: str, expires_s: int, filename: str | None = None) -> str:
        """A GET URL for ``s3://bucket/key`` signed with SigV4 that the S3 server refuses after ``expires_s``."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url: str = await self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        return url

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
