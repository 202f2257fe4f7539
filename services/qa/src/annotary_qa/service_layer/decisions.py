"""task.submitted -> one decision per item and round, with its event, in the consumer's transaction."""

from __future__ import annotations

import logging
import uuid

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_qa.domain.agreement import Decision, canonical_json, decide, normalise
from annotary_qa.domain.validation import parse_result_json, validate_result
from annotary_qa.service_layer.projects import load_project

log = logging.getLogger(__name__)

PRODUCER = "qa"


async def on_task_submitted(conn: asyncpg.Connection, event: Event) -> None:
    """Bus handler (group annotary-qa); runs inside the transaction that records the inbox entry."""
    if not isinstance(event.payload, events_pb2.TaskSubmitted):
        raise PermanentError(f"expected TaskSubmitted, got {type(event.payload).__name__}")
    await decide_submitted(conn, event.payload)


async def decide_submitted(conn: asyncpg.Connection, msg: events_pb2.TaskSubmitted) -> Decision | None:
    """Re-validate, decide, record and stage the event; None when the item-round was decided before.

    An unknown project raises a plain exception (UnknownProject): the consumer retries, then dead-letters.
    """
    item = msg.item
    try:
        item_uuid = uuid.UUID(item.item_id)
    except ValueError:
        raise PermanentError(f"task.submitted: item.item_id {item.item_id!r} is not a UUID") from None
    if not item.project_id:
        raise PermanentError(f"task.submitted for item {item.item_id}: item.project_id is empty")
    if msg.round < 1:
        raise PermanentError(f"task.submitted for item {item.item_id}: round must be >= 1, got {msg.round}")
    if not msg.submissions:
        raise PermanentError(f"task.submitted for item {item.item_id}: no submissions")

    project = await load_project(conn, item.project_id)
    results: list[list[object] | None] = []
    notes: list[str] = []
    for index, submission in enumerate(msg.submissions):
        parsed, bad_json = parse_result_json(submission.result_json)
        violations = [bad_json] if bad_json is not None else validate_result(parsed, project.schema, item)
        if violations:
            results.append(None)
            more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
            who = submission.annotator_id or submission.task_id or str(index)
            notes.append(f"submission by {who} is invalid: {violations[0].message}{more}")
        else:
            results.append(normalise(parsed))
    decision = decide(results, project.agreement_threshold, project.review, f"{item.item_id}:{msg.round}")
    result_json = canonical_json(decision.result) if decision.result is not None else None

    inserted = await conn.fetchval(
        """
        INSERT INTO decisions (item_id, round, project_id, schema_version, outcome, agreement, result_json)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
        ON CONFLICT (item_id, round) DO NOTHING
        RETURNING true
        """,
        item_uuid, msg.round, item.project_id, project.schema_version, decision.outcome, decision.agreement,
        result_json,
    )
    if not inserted:
        log.info("item round already decided", extra={"item_id": item.item_id, "round": msg.round})
        return None

    if decision.outcome == "accepted":
        assert result_json is not None
        await outbox.add_event(
            conn, topics.ANNOTATION_ACCEPTED, key=item.item_id, producer=PRODUCER,
            payload=events_pb2.AnnotationAccepted(item=item, result_json=result_json, submissions=msg.submissions,
                                                  agreement=decision.agreement, round=msg.round),
        )
    else:
        reason = "; ".join([decision.reason, *notes])
        await conn.execute(
            "INSERT INTO review_queue (item_id, round, project_id, reason) VALUES ($1, $2, $3, $4)",
            item_uuid, msg.round, item.project_id, reason,
        )
        await outbox.add_event(
            conn, topics.REVIEW_REQUIRED, key=item.item_id, producer=PRODUCER,
            payload=events_pb2.ReviewRequired(item=item, submissions=msg.submissions, reason=reason,
                                              agreement=decision.agreement, round=msg.round),
        )
    log.info("item decided", extra={"item_id": item.item_id, "round": msg.round, "outcome": decision.outcome,
                                    "agreement": decision.agreement, "invalid_submissions": len(notes)})
    return decision
