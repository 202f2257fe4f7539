"""Fixtures: a fresh Postgres database per test (real server on 127.0.0.1:5432) and a local object store."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.testing import fresh_database, migrated_pool


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
    async with fresh_database("annotary_test_ingest") as dsn:
        yield dsn


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("ingest", "annotary_ingest", dsn=database_url) as pool:
        yield pool


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
