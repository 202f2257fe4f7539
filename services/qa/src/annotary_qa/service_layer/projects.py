"""Project configuration (schema + quality policy) and synchronous validation of a result."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass

import asyncpg

from annotary_qa.domain.policy import (
    PolicyError,
    ReviewPolicy,
    check_fraction,
    check_threshold,
    parse_review,
)
from annotary_qa.domain.schema import LabelSchema, parse_schema, parse_schema_json
from annotary_qa.domain.validation import ItemFacts, Violation, validate_result_json

log = logging.getLogger(__name__)


class UnknownProject(Exception):
    """No ConfigureProject has been received for this project."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} is not configured in qa (ConfigureProject first)")
        self.project_id = project_id


class StaleSchemaVersion(Exception):
    """A ConfigureProject older than the schema version already stored."""


DEFAULT_GOLD_MIN_ACCURACY = 0.85


@dataclass(frozen=True)
class Project:
    project_id: str
    schema: LabelSchema
    schema_version: int
    agreement_threshold: float
    review: ReviewPolicy
    gold_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY
    qualification_items: int = 0
    qualification_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY
    overlap: int = 0


@dataclass(frozen=True)
class ProjectConfig:
    """A checked ConfigureProject request."""

    project_id: str
    schema_doc: str
    schema: LabelSchema
    schema_version: int
    agreement_threshold: float
    review: ReviewPolicy
    gold_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY
    qualification_items: int = 0
    qualification_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY
    overlap: int = 0


def check_config(project_id: str, schema_json: str, schema_version: int, agreement_threshold: float,
                 review: str, gold_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY, qualification_items: int = 0,
                 qualification_min_accuracy: float = DEFAULT_GOLD_MIN_ACCURACY, overlap: int = 0) -> ProjectConfig:
    """Check a configuration before it touches the database; raises SchemaError / PolicyError."""
    if not project_id.strip():
        raise PolicyError("project_id", "is required")
    schema = parse_schema_json(schema_json)
    if schema_version < 1:
        raise PolicyError("schema_version", f"must be >= 1, got {schema_version}")
    if qualification_items < 0:
        raise PolicyError("qualification_items", f"must be >= 0, got {qualification_items}")
    if overlap < 0:
        raise PolicyError("overlap", f"must be >= 0 (0: not given), got {overlap}")
    return ProjectConfig(project_id=project_id, schema_doc=schema_json, schema=schema, schema_version=schema_version,
                         agreement_threshold=check_threshold(agreement_threshold), review=parse_review(review),
                         gold_min_accuracy=check_fraction("gold_min_accuracy", gold_min_accuracy),
                         qualification_items=qualification_items,
                         qualification_min_accuracy=check_fraction("qualification_min_accuracy",
                                                                   qualification_min_accuracy),
                         overlap=overlap)


async def configure_project(conn: asyncpg.Connection, config: ProjectConfig) -> None:
    """Store or replace the project's schema and policy; an older schema_version than stored is refused."""
    stored = await conn.fetchval(
        """
        INSERT INTO projects (project_id, schema, schema_version, agreement_threshold, review, gold_min_accuracy,
                              qualification_items, qualification_min_accuracy, overlap)
        VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (project_id) DO UPDATE
           SET schema = EXCLUDED.schema, schema_version = EXCLUDED.schema_version,
               agreement_threshold = EXCLUDED.agreement_threshold, review = EXCLUDED.review,
               gold_min_accuracy = EXCLUDED.gold_min_accuracy, qualification_items = EXCLUDED.qualification_items,
               qualification_min_accuracy = EXCLUDED.qualification_min_accuracy, overlap = EXCLUDED.overlap,
               updated_at = now()
         WHERE projects.schema_version <= EXCLUDED.schema_version
        RETURNING true
        """,
        config.project_id, config.schema_doc, config.schema_version, config.agreement_threshold, config.review.text,
        config.gold_min_accuracy, config.qualification_items, config.qualification_min_accuracy, config.overlap,
    )
    if not stored:
        current = await conn.fetchval("SELECT schema_version FROM projects WHERE project_id = $1", config.project_id)
        raise StaleSchemaVersion(f"schema_version: {config.schema_version} is older than the stored version {current}")
    log.info("project configured", extra={"project_id": config.project_id, "schema_version": config.schema_version})


@functools.lru_cache(maxsize=256)
def schema_of(text: str) -> LabelSchema:
    """A stored schema (its JSON text), checked and parsed once per distinct text: every validation and every
    submission decided reads it."""
    return parse_schema(json.loads(text))


async def load_project(conn: asyncpg.Connection, project_id: str) -> Project:
    row = await conn.fetchrow(
        "SELECT schema, schema_version, agreement_threshold, review, gold_min_accuracy, qualification_items,"
        " qualification_min_accuracy, overlap FROM projects WHERE project_id = $1", project_id
    )
    if row is None:
        raise UnknownProject(project_id)
    return Project(project_id=project_id, schema=schema_of(row["schema"]),
                   schema_version=row["schema_version"], agreement_threshold=row["agreement_threshold"],
                   review=parse_review(row["review"]), gold_min_accuracy=row["gold_min_accuracy"],
                   qualification_items=row["qualification_items"],
                   qualification_min_accuracy=row["qualification_min_accuracy"], overlap=row["overlap"])


async def validate_annotation(conn: asyncpg.Connection, project_id: str, item: ItemFacts,
                              result_json: str) -> list[Violation]:
    project = await load_project(conn, project_id)
    return validate_result_json(result_json, project.schema, item)
