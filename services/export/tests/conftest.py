"""Fixtures: a fresh Postgres database per test (real server on 127.0.0.1:5432) and a local object store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore
from annotary_common.testing import fresh_database, migrated_pool


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with fresh_database("annotary_test_export") as dsn:
        yield dsn


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool("export", "annotary_export", dsn=database_url, max_size=6) as pool:
        yield pool


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    async with LocalObjectStore(CommonSettings(object_store="local", data_dir=tmp_path / "data")) as local:
        yield local
