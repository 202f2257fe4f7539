"""The review queue: list what waits, and apply a reviewer's accept / reject / correct."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.metrics import QA_DECISIONS, after_commit
from annotary_qa.domain import consensus
from annotary_qa.domain.consensus import canonical_json
from annotary_qa.domain.validation import Violation, parse_result_json, validate_result
from annotary_qa.service_layer.decisions import PRODUCER, accepted_event, validated
from annotary_qa.service_layer.projects import load_project

log = logging.getLogger(__name__)

DECISIONS = ("accept", "reject", "correct")
DEFAULT_LIST_LIMIT = 50
MAX_LIST_LIMIT = 500


class ReviewError(Exception):
    """A request that names a field and what is wrong with it (INVALID_ARGUMENT)."""


class NotInReview(Exception):
    """The item-round is not waiting for review (FAILED_PRECONDITION)."""


@dataclass(frozen=True)
class Review:
    item: events_pb2.ItemSnapshot
    submissions: list[events_pb2.Submission]
    reason: str
    agreement: float
    round: int


def _payload(row: asyncpg.Record) -> events_pb2.TaskSubmitted:
    msg = events_pb2.TaskSubmitted()
    if row["task_submitted"] is not None:
        msg.ParseFromString(bytes(row["task_submitted"]))
    else:  # decided before qa kept the payload
        msg.item.item_id, msg.item.project_id, msg.round = str(row["item_id"]), row["project_id"], row["round"]
    return msg


async def list_reviews(conn: asyncpg.Connection, project_id: str, limit: int) -> list[Review]:
    await load_project(conn, project_id)  # NOT_FOUND for an unknown project
    size = DEFAULT_LIST_LIMIT if limit <= 0 else min(limit, MAX_LIST_LIMIT)
    rows = await conn.fetch(
        """
        SELECT q.item_id, q.round, q.project_id, q.reason, d.agreement, d.task_submitted
          FROM review_queue q JOIN decisions d USING (item_id, round)
         WHERE q.project_id = $1
         ORDER BY q.created_at, q.item_id, q.round
         LIMIT $2
        """,
        project_id, size,
    )
    out = []
    for row in rows:
        msg = _payload(row)
        out.append(Review(item=msg.item, submissions=list(msg.submissions), reason=row["reason"],
                          agreement=row["agreement"], round=row["round"]))
    return out


def _violation_text(violations: list[Violation]) -> str:
    first = violations[0]
    more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"result_json: {first.rule}: {first.message}{more}"


async def submit_review(conn: asyncpg.Connection, project_id: str, item_id: str, round_: int, decision: str,
                        result_json: str, feedback: str, reviewer_id: str) -> str:
    """Apply a review in one transaction; returns "accepted" or "rejected"."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision: {decision!r} is not allowed (allowed: {', '.join(DECISIONS)})")
    if not reviewer_id.strip():
        raise ReviewError("reviewer_id: is required")
    try:
        item_uuid = uuid.UUID(item_id)
    except ValueError:
        raise ReviewError(f"item_id: {item_id!r} is not a UUID") from None
    if round_ < 1:
        raise ReviewError(f"round: must be >= 1, got {round_}")
    if decision == "reject" and not feedback.strip():
        raise ReviewError("feedback: is required to reject (it is shown to the annotators of the next round)")
    if decision == "correct" and not result_json.strip():
        raise ReviewError("result_json: is required to correct (the corrected result)")

    async with conn.transaction():
        project = await load_project(conn, project_id)
        row = await conn.fetchrow(
            """
            SELECT d.item_id, d.round, d.project_id, d.agreement, d.agreement_metric, d.task_submitted
              FROM review_queue q JOIN decisions d USING (item_id, round)
             WHERE q.item_id = $1 AND q.round = $2 AND q.project_id = $3
             FOR UPDATE OF q
            """,
            item_uuid, round_, project_id,
        )
        if row is None:
            outcome = await conn.fetchval("SELECT outcome FROM decisions WHERE item_id = $1 AND round = $2",
                                          item_uuid, round_)
            state = f"it was decided already ({outcome})" if outcome else "qa has no decision for it"
            raise NotInReview(f"item_id: item {item_id} round {round_} is not in review in project {project_id}: "
                              f"{state}")
        msg = _payload(row)
        results = [parsed if not violations else None
                   for parsed, violations in (validated(s, project, msg.item) for s in msg.submissions)]

        if decision == "reject":
            await _close(conn, item_uuid, round_, "rejected", None, reviewer_id, feedback)
            await conn.execute("UPDATE submissions SET outcome = 'rejected' WHERE item_id = $1 AND round = $2"
                               " AND kind = 'regular'", item_uuid, round_)
            await outbox.add_event(
                conn, topics.ANNOTATION_REJECTED, key=msg.item.item_id, producer=PRODUCER,
                payload=events_pb2.AnnotationRejected(item=msg.item, reason=feedback, reviewer_id=reviewer_id,
                                                      round=round_),
            )
            log.info("review: rejected", extra={"item_id": item_id, "round": round_, "reviewer_id": reviewer_id})
            after_commit(lambda: QA_DECISIONS.labels(project_id, "rejected").inc())
            return "rejected"

        final: Any
        if result_json.strip():
            parsed, bad_json = parse_result_json(result_json)
            violations = [bad_json] if bad_json is not None else validate_result(parsed, project.schema, msg.item)
            if violations:
                raise ReviewError(_violation_text(violations))
            final = parsed
        else:
            best = consensus.best_submission(results, project.schema)
            if best is None:
                raise NotInReview(f"result_json: no submission of item {item_id} round {round_} is valid, so there "
                                  "is none to accept; correct it with a result instead")
            final = results[best]
        final_json = canonical_json(final)
        await _close(conn, item_uuid, round_, "accepted", final_json, reviewer_id, None)
        for k, submission in enumerate(msg.submissions):
            own = results[k]
            score = consensus.score_against(own, final, project.schema) if own is not None else 0.0
            await conn.execute(
                "UPDATE submissions SET outcome = 'accepted', score = $5 WHERE item_id = $1 AND round = $2"
                " AND annotator_id = $3 AND task_id = $4 AND kind = 'regular'",
                item_uuid, round_, submission.annotator_id, submission.task_id, score,
            )
        await outbox.add_event(
            conn, topics.ANNOTATION_ACCEPTED, key=msg.item.item_id, producer=PRODUCER,
            payload=accepted_event(msg, final_json, row["agreement"], row["agreement_metric"], project, reviewer_id),
        )
        log.info("review: accepted", extra={"item_id": item_id, "round": round_, "reviewer_id": reviewer_id,
                                            "decision": decision})
        after_commit(lambda: QA_DECISIONS.labels(project_id, "accepted").inc())
        return "accepted"


async def _close(conn: asyncpg.Connection, item_uuid: uuid.UUID, round_: int, outcome: str, result_json: str | None,
                 reviewer_id: str, feedback: str | None) -> None:
    await conn.execute(
        "UPDATE decisions SET outcome = $3, result_json = $4::jsonb, decided_by = $5, feedback = $6,"
        " reviewed_at = now() WHERE item_id = $1 AND round = $2",
        item_uuid, round_, outcome, result_json, reviewer_id, feedback,
    )
    await conn.execute("DELETE FROM review_queue WHERE item_id = $1 AND round = $2", item_uuid, round_)
