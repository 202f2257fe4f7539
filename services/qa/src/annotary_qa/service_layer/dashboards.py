"""Dashboard aggregates of one project over a time range (read-only): item decisions per bucket (accepted,
rejected, sent to review, agreement) and each annotator's scored work per bucket (gold accuracy, agreement with the
accepted result, rejections). Sums travel with their counts so that buckets merge exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from annotary_common.grpc_util import InvalidArgument
from annotary_common.timeline import TimeRange


@dataclass(frozen=True)
class DecisionFigures:
    bucket_start: datetime
    decided: int
    accepted: int
    rejected: int
    reviewed: int
    in_review: int
    agreement_scored: int
    agreement_sum: float


@dataclass(frozen=True)
class AnnotatorFigures:
    bucket_start: datetime
    annotator_id: str
    gold_scored: int
    gold_sum: float
    agreement_scored: int
    agreement_sum: float
    closed: int
    rejected: int


async def decisions(conn: asyncpg.Connection, project_id: str, rng: TimeRange) -> list[DecisionFigures]:
    """Decisions by ``decided_at``: ``reviewed`` counts those not settled by consensus (in review, or decided by a
    reviewer); the agreement sums skip NaN figures."""
    _check(project_id)
    rows = await conn.fetch(
        """
        SELECT date_trunc($4, decided_at, 'UTC') AS bucket_start, count(*) AS decided,
               count(*) FILTER (WHERE outcome = 'accepted') AS accepted,
               count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
               count(*) FILTER (WHERE decided_by IS DISTINCT FROM 'consensus') AS reviewed,
               count(*) FILTER (WHERE outcome = 'review_required') AS in_review,
               count(*) FILTER (WHERE agreement <> 'NaN'::float8) AS agreement_scored,
               coalesce(sum(agreement) FILTER (WHERE agreement <> 'NaN'::float8), 0) AS agreement_sum
          FROM decisions
         WHERE project_id = $1 AND decided_at >= $2 AND decided_at < $3
         GROUP BY 1
         ORDER BY 1
        """,
        project_id, rng.start, rng.end, rng.bucket,
    )
    return [DecisionFigures(**dict(r)) for r in rows]


async def annotators(conn: asyncpg.Connection, project_id: str, rng: TimeRange) -> list[AnnotatorFigures]:
    """Submissions by their time: gold scores (kind gold), agreement with the accepted result (regular, accepted,
    scored) and the regular ones whose round has a final outcome (closed) or was rejected."""
    _check(project_id)
    rows = await conn.fetch(
        """
        SELECT date_trunc($4, submitted_at, 'UTC') AS bucket_start, annotator_id,
               count(*) FILTER (WHERE kind = 'gold' AND score IS NOT NULL) AS gold_scored,
               coalesce(sum(score) FILTER (WHERE kind = 'gold' AND score IS NOT NULL), 0) AS gold_sum,
               count(*) FILTER (WHERE kind = 'regular' AND outcome = 'accepted' AND score IS NOT NULL)
                   AS agreement_scored,
               coalesce(sum(score) FILTER (WHERE kind = 'regular' AND outcome = 'accepted' AND score IS NOT NULL), 0)
                   AS agreement_sum,
               count(*) FILTER (WHERE kind = 'regular' AND outcome IS NOT NULL) AS closed,
               count(*) FILTER (WHERE kind = 'regular' AND outcome = 'rejected') AS rejected
          FROM submissions
         WHERE project_id = $1 AND submitted_at >= $2 AND submitted_at < $3
         GROUP BY 1, 2
         ORDER BY 1, 2
        """,
        project_id, rng.start, rng.end, rng.bucket,
    )
    return [AnnotatorFigures(**dict(r)) for r in rows]


def _check(project_id: str) -> None:
    if not project_id.strip():
        raise InvalidArgument("project_id: is required")
