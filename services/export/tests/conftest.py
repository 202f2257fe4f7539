"""Fixtures: a fresh Postgres database per test (real server on 127.0.0.1:5432) and a local object store."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from annotary_common.db import create_pool, migrate
from annotary_common.settings import CommonSettings
from annotary_common.storage import LocalObjectStore

PG_ADMIN = os.environ.get("ANNOTARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    name = f"annotary_test_export_{uuid.uuid4().hex[:10]}"
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
    pool = await create_pool(database_url, "export", max_size=6)
    await migrate(pool, "export", "annotary_export")
    yield pool
    await pool.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    async with LocalObjectStore(CommonSettings(object_store="local", data_dir=tmp_path / "data")) as local:
        yield local
