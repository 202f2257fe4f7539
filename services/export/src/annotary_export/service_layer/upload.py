"""Putting a finished export file into the object store without reading it into memory: a file copy for the
local store, an S3 multipart upload (8 MiB parts) for S3."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from annotary_common.storage import LocalObjectStore, ObjectStore, S3ObjectStore

PART_BYTES = 8 << 20


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)


async def upload_file(store: ObjectStore, key: str, path: Path, content_type: str) -> str:
    if isinstance(store, LocalObjectStore):
        await asyncio.to_thread(_copy, path, store.root / key)
        return store.uri_for(key)
    size = (await asyncio.to_thread(path.stat)).st_size
    if isinstance(store, S3ObjectStore) and size > PART_BYTES:
        client = store._client  # the store's own aiobotocore client (no multipart API on ObjectStore yet)
        upload = await client.create_multipart_upload(Bucket=store.bucket, Key=key, ContentType=content_type)
        parts = []
        try:
            with path.open("rb") as src:
                number = 1
                while chunk := await asyncio.to_thread(src.read, PART_BYTES):
                    reply = await client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"],
                                                     PartNumber=number, Body=chunk)
                    parts.append({"PartNumber": number, "ETag": reply["ETag"]})
                    number += 1
            await client.complete_multipart_upload(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"],
                                                   MultipartUpload={"Parts": parts})
        except BaseException:
            await client.abort_multipart_upload(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"])
            raise
        return store.uri_for(key)
    return await store.put(key, await asyncio.to_thread(path.read_bytes), content_type)
