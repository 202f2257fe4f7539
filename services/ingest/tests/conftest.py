"""Fixtures: a fresh Postgres database per test (real server on 127.0.0.1:5432) and a local object store."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from annotary_common.db import create_pool, migrate
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore

PG_ADMIN = os.environ.get("ANNOTARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _png(width: int = 4, height: int = 3, color: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_png() -> Callable[..., bytes]:
    """``make_png(width, height, color)``: the bytes of a small PNG."""
    return _png


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    name = f"annotary_test_ingest_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, "ingest", max_size=4)
    await migrate(pool, "ingest", "annotary_ingest")
    yield pool
    await pool.close()


@pytest.fixture
def import_root(tmp_path: Path) -> Path:
    root = tmp_path / "imports"
    root.mkdir()
    return root


@pytest.fixture
async def store(tmp_path: Path, import_root: Path) -> AsyncIterator[LocalObjectStore]:
    settings = CommonSettings(object_store="local", data_dir=tmp_path / "data", import_roots=str(import_root))
    async with LocalObjectStore(settings) as local:
        yield local
