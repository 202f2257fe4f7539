"""`annotary migrate` and `python -m annotary_common.migrate` (what the Helm hook Job and the compose
one-shot run) on the real Postgres: every service's schema gets every migration, exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from annotary_cli.cli import app
from annotary_common.db import create_database, drop_database
from annotary_common.migrate import SERVICES
from annotary_common.testing import PG_SERVER

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def dsn() -> Iterator[str]:
    url = f"{PG_SERVER}/annotary_test_migrate_{uuid.uuid4().hex[:10]}"
    yield url
    asyncio.run(drop_database(url))


def _expected(service: str) -> list[str]:
    package = "annotary_" + service.replace("-", "_")
    return sorted(e.name for e in resources.files(package).joinpath("migrations").iterdir() if e.name.endswith(".sql"))


async def _applied(url: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        result: dict[str, list[str]] = {}
        for row in rows:
            schema = row["table_schema"]
            names = await conn.fetch(f'SELECT name FROM "{schema}".schema_migrations ORDER BY name')
            result[schema] = [n["name"] for n in names]
        return result
    finally:
        await conn.close()


def test_annotary_migrate_applies_every_service_once(dsn: str) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["migrate", "--database-url", dsn, "--create-database"])
    assert first.exit_code == 0, first.output
    applied = asyncio.run(_applied(dsn))
    assert applied == {s.replace("-", "_"): _expected(s) for s in SERVICES}
    for service in SERVICES:
        assert f"{service}: {', '.join(_expected(service))}" in first.output
    # A second run finds nothing to do and changes nothing.
    second = runner.invoke(app, ["migrate", "--database-url", dsn])
    assert second.exit_code == 0, second.output
    assert all(f"{s}: up to date" in second.output for s in SERVICES), second.output
    assert asyncio.run(_applied(dsn)) == applied


def test_unknown_service_is_refused_and_changes_nothing(dsn: str) -> None:
    asyncio.run(create_database(dsn))
    result = CliRunner().invoke(app, ["migrate", "qa", "orchestrater", "--database-url", dsn])
    assert result.exit_code == 2
    assert "orchestrater" in result.output
    assert asyncio.run(_applied(dsn)) == {}, "qa must not be migrated when another name is wrong"


def test_module_entry_point_migrates_the_named_services(dsn: str) -> None:
    # What the chart's migration Job runs in each service's image.
    asyncio.run(create_database(dsn))
    env = {**os.environ, "ANNOTARY_DATABASE_URL": dsn}
    result = subprocess.run(
        [sys.executable, "-m", "annotary_common.migrate", "orchestrator", "qa"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert asyncio.run(_applied(dsn)) == {"orchestrator": _expected("orchestrator"), "qa": _expected("qa")}
    bad = subprocess.run(
        [sys.executable, "-m", "annotary_common.migrate", "nope"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert bad.returncode == 2
    assert "unknown service 'nope'" in bad.stderr
