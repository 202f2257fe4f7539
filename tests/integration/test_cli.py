"""The `annotary` client commands against the running stack."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from annotary_cli.cli import app
from annotary_cli.stack import Stack
from tests.integration.images import photo_crops
from tests.integration.test_pipeline import BOX_SCHEMA

runner = CliRunner()


def test_cli_user_project_import_export(stack: Stack, tmp_path: Path) -> None:
    env = {"ANNOTARY_URL": stack.api_url, "ANNOTARY_TOKEN": stack.config.admin_token}
    name = f"cli-{uuid.uuid4().hex[:6]}"
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(BOX_SCHEMA))
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"overlap": 1}))

    result = runner.invoke(app, ["user", "create", f"u-{name}", "--role", "annotator"], env=env)
    assert result.exit_code == 0, result.output
    assert "token" in result.output

    result = runner.invoke(app, ["project", "create", name, "--schema", str(schema), "--policy", str(policy)], env=env)
    assert result.exit_code == 0, result.output

    photos = tmp_path / "photos"
    photos.mkdir()
    for file_name, data in photo_crops(3):
        (photos / file_name).write_bytes(data)
    result = runner.invoke(app, ["import", name, str(photos)], env=env)
    assert result.exit_code == 0, result.output
    assert "created 3, duplicates 0" in result.output
    result = runner.invoke(app, ["import", name, str(photos)], env=env)
    assert "created 0, duplicates 3" in result.output

    result = runner.invoke(app, ["export", name, "--format", "jsonl", "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output
    assert "0 items" in result.output  # nothing accepted yet: an empty, valid dataset
    assert list((tmp_path / "out").iterdir())

    result = runner.invoke(app, ["import", "no-such-project", str(photos)], env=env)
    assert result.exit_code == 1 and "no-such-project" in result.output
    result = runner.invoke(app, ["export", name, "--format", "tiff"], env=env)
    assert result.exit_code == 1 and "tiff" in result.output
    result = runner.invoke(app, ["project", "list"], env={**env, "ANNOTARY_TOKEN": "wrong"})
    assert result.exit_code == 1 and "401" in result.output
