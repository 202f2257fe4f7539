"""task.submitted -> a decision per item and round (regular items) or gold/qualification scores, with their
events, in the consumer's transaction."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_common.bus import PermanentError
from annotary_common.events import Event
from annotary_common.metrics import GOLD_CHECKS, QA_DECISIONS, after_commit
from annotary_qa.domain import consensus
from annotary_qa.domain.consensus import Decision, canonical_json
from annotary_qa.domain.validation import Violation, parse_result_json, validate_result
from annotary_qa.service_layer.projects import Project, load_project

log = logging.getLogger(__name__)

PRODUCER = "qa"
# Gold items an annotator must have scored (since the last reinstatement) before accuracy can pause them.
MIN_GOLD_FOR_PAUSE = 3
# How many earlier choice answers of the project Dawid-Skene reads per decision.
DS_HISTORY_ROWS = 5_000


async def on_task_submitted(conn: asyncpg.Connection, event: Event, *,
                            min_gold_for_pause: int = MIN_GOLD_FOR_PAUSE) -> None:
    """Bus handler (group annotary-qa); runs inside the transaction that records the inbox entry."""
    if not isinstance(event.payload, events_pb2.TaskSubmitted):
        raise PermanentError(f"expected TaskSubmitted, got {type(event.payload).__name__}")
    msg = event.payload
    if msg.is_gold or msg.qualification:
        await score_gold(conn, msg, min_gold_for_pause=min_gold_for_pause)
    else:
        await decide_submitted(conn, msg)


def _check_message(msg: events_pb2.TaskSubmitted) -> uuid.UUID:
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
    return item_uuid


def validated(submission: events_pb2.Submission, project: Project,
              item: events_pb2.ItemSnapshot) -> tuple[Any, list[Violation]]:
    """The submission's parsed result (None when not JSON) and its violations of the current schema."""
    parsed, bad_json = parse_result_json(submission.result_json)
    if bad_json is not None:
        return None, [bad_json]
    return parsed, validate_result(parsed, project.schema, item)


def submitted_at(submission: events_pb2.Submission) -> dt.datetime:
    if submission.HasField("submitted_at") and (submission.submitted_at.seconds or submission.submitted_at.nanos):
        return submission.submitted_at.ToDatetime(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def schema_version_of(submissions: Sequence[events_pb2.Submission], project: Project) -> int:
    """The schema version the annotators worked with (the newest given), else the project's current one."""
    given = [s.schema_version for s in submissions if s.schema_version > 0]
    return max(given) if given else project.schema_version


def prelabel_versions(submissions: Sequence[events_pb2.Submission]) -> list[str]:
    return list(dict.fromkeys(v for s in submissions for v in s.prelabel_model_versions if v))


def annotator_ids(submissions: Sequence[events_pb2.Submission]) -> list[str]:
    return list(dict.fromkeys(s.annotator_id for s in submissions if s.annotator_id))


async def insert_submission(conn: asyncpg.Connection, item_uuid: uuid.UUID, round_: int, project_id: str,
                            submission: events_pb2.Submission, kind: str, parsed: Any, valid: bool,
                            score: float | None, outcome: str | None) -> bool:
    """Record a submission; False when it was recorded before (a re-published event)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO submissions (item_id, round, annotator_id, task_id, project_id, kind, valid, result_json,
                                 lead_time_ms, submitted_at, schema_version, score, outcome)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        item_uuid, round_, submission.annotator_id, submission.task_id, project_id, kind, valid,
        canonical_json(parsed) if parsed is not None else None, max(submission.lead_time_ms, 0),
        submitted_at(submission), submission.schema_version, score, outcome,
    )
    return bool(inserted)


# -- regular items -----------------------------------------------------------------------------
def choices_disagree(results: Sequence[list[Any] | None]) -> bool:
    """Whether two valid submissions answer the choices differently."""
    answers = {
        canonical_json(sorted((r for r in result if isinstance(r, dict) and r.get("type") == "choice"),
                              key=lambda r: str(r.get("name"))))
        for result in results if result is not None
    }
    return len(answers) > 1


async def load_choice_history(conn: asyncpg.Connection, project: Project) -> consensus.ChoiceHistory:
    """Earlier answers to the project's single choices, as units (item-round) of annotator -> answer."""
    names = [c.name for c in project.schema.choices if not c.multiple]
    if not names or "choice" not in project.schema.tools:
        return {}
    rows = await conn.fetch(
        """
        SELECT item_id, round, choice_name, annotator_id, value FROM choice_ratings
         WHERE project_id = $1 AND choice_name = ANY($2::text[])
         ORDER BY recorded_at DESC LIMIT $3
        """,
        project.project_id, names, DS_HISTORY_ROWS,
    )
    units: dict[str, dict[tuple[uuid.UUID, int], dict[str, str]]] = {}
    for row in reversed(rows):
        units.setdefault(row["choice_name"], {}).setdefault((row["item_id"], row["round"]), {})[
            row["annotator_id"]] = row["value"]
    return {name: list(by_unit.values()) for name, by_unit in units.items()}


async def decide_submitted(conn: asyncpg.Connection, msg: events_pb2.TaskSubmitted) -> Decision | None:
    """Re-validate, assess, decide, record and stage the event; None when the item-round was decided before.

    An unknown project raises a plain exception (UnknownProject): the consumer retries, then dead-letters.
    """
    item_uuid = _check_message(msg)
    item = msg.item
    project = await load_project(conn, item.project_id)
    parsed_all: list[Any] = []
    results: list[list[Any] | None] = []
    notes: list[str] = []
    for index, submission in enumerate(msg.submissions):
        parsed, violations = validated(submission, project, item)
        parsed_all.append(parsed)
        if violations:
            results.append(None)
            more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
            who = submission.annotator_id or submission.task_id or str(index)
            notes.append(f"submission by {who} is invalid: {violations[0].rule}: {violations[0].message}{more}")
        else:
            results.append(parsed)
    annotators = [s.annotator_id for s in msg.submissions]
    # Dawid-Skene weighting only matters when annotators disagree on a choice: read the history then only.
    history = await load_choice_history(conn, project) if choices_disagree(results) else {}
    assessment = consensus.assess(results, project.schema, annotators, history)
    decision = consensus.decide(assessment, any(r is not None for r in results), project.agreement_threshold,
                                project.review, f"{item.item_id}:{msg.round}")
    result_json = canonical_json(decision.result) if decision.result is not None else None
    accepted = decision.outcome == "accepted"

    inserted = await conn.fetchval(
        """
        INSERT INTO decisions (item_id, round, project_id, schema_version, outcome, agreement, result_json,
                               agreement_metric, metrics, task_submitted, decided_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10, $11)
        ON CONFLICT (item_id, round) DO NOTHING
        RETURNING true
        """,
        item_uuid, msg.round, item.project_id, project.schema_version, decision.outcome, decision.agreement,
        result_json, assessment.metric, json.dumps(dict(assessment.metrics)), msg.SerializeToString(),
        "consensus" if accepted else None,
    )
    if not inserted:
        log.info("item round already decided", extra={"item_id": item.item_id, "round": msg.round})
        return None

    ratings: list[tuple[Any, ...]] = []
    for k, submission in enumerate(msg.submissions):
        score = None
        own = results[k]
        if accepted and decision.result is not None:
            score = consensus.score_against(own, decision.result, project.schema) if own is not None else 0.0
        await insert_submission(conn, item_uuid, msg.round, item.project_id, submission, "regular", parsed_all[k],
                                results[k] is not None, score, "accepted" if accepted else None)
        if results[k] is not None and submission.annotator_id:
            ratings.extend((item_uuid, msg.round, submission.annotator_id, name, item.project_id, answer)
                           for name, answer in assessment.choice_answers[k].items())
    if ratings:
        await conn.executemany(
            "INSERT INTO choice_ratings (item_id, round, annotator_id, choice_name, project_id, value)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            ratings,
        )
    pairs = [(item_uuid, msg.round, *sorted((msg.submissions[i].annotator_id, msg.submissions[j].annotator_id)),
              item.project_id, assessment.metric, value) for i, j, value in assessment.pairs]
    if pairs:
        await conn.executemany(
            "INSERT INTO pair_agreement (item_id, round, annotator_a, annotator_b, project_id, metric, value)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            pairs,
        )

    if accepted:
        assert result_json is not None
        await outbox.add_event(
            conn, topics.ANNOTATION_ACCEPTED, key=item.item_id, producer=PRODUCER,
            payload=accepted_event(msg, result_json, decision.agreement, assessment.metric, project, "consensus"),
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
    outcome = "accepted" if accepted else "review"
    after_commit(lambda: QA_DECISIONS.labels(item.project_id, outcome).inc())
    log.info("item decided", extra={"item_id": item.item_id, "round": msg.round, "outcome": decision.outcome,
                                    "agreement": decision.agreement, "invalid_submissions": len(notes)})
    return decision


def accepted_event(msg: events_pb2.TaskSubmitted, result_json: str, agreement: float, metric: str,
                   project: Project, decided_by: str) -> events_pb2.AnnotationAccepted:
    return events_pb2.AnnotationAccepted(
        item=msg.item, result_json=result_json, submissions=msg.submissions, agreement=agreement, round=msg.round,
        schema_version=schema_version_of(msg.submissions, project), annotator_ids=annotator_ids(msg.submissions),
        prelabel_model_versions=prelabel_versions(msg.submissions), agreement_metric=metric, decided_by=decided_by,
    )


# -- gold and qualification items --------------------------------------------------------------
async def score_gold(conn: asyncpg.Connection, msg: events_pb2.TaskSubmitted, *,
                     min_gold_for_pause: int = MIN_GOLD_FOR_PAUSE) -> list[tuple[str, float]]:
    """Score each submission against gold_json and update the annotator's running accuracy; pause or
    qualify when due. Returns (annotator, score) for the submissions scored now (not re-deliveries).
    A gold item is never accepted."""
    item_uuid = _check_message(msg)
    item = msg.item
    kind = "qualification" if msg.qualification else "gold"
    for index, submission in enumerate(msg.submissions):
        if not submission.annotator_id:
            raise PermanentError(f"task.submitted ({kind}) for item {item.item_id}: submission {index} has no "
                                 "annotator_id")
    project = await load_project(conn, item.project_id)
    gold, bad = parse_result_json(msg.gold_json) if msg.gold_json else (None, None)
    if not msg.gold_json or bad is not None or not isinstance(gold, list):
        why = "is empty" if not msg.gold_json else (bad.message if bad is not None else "is not a list of regions")
        raise PermanentError(f"task.submitted ({kind}) for item {item.item_id}: gold_json {why}")
    gold_violations = validate_result(gold, project.schema, item)
    if gold_violations:
        first = gold_violations[0]
        raise PermanentError(f"task.submitted ({kind}) for item {item.item_id}: gold_json breaks the schema: "
                             f"{first.rule}: {first.message}")
    scored: list[tuple[str, float]] = []
    for submission in msg.submissions:
        parsed, violations = validated(submission, project, item)
        score = 0.0 if violations else consensus.score_against(parsed, gold, project.schema)
        if not await insert_submission(conn, item_uuid, msg.round, item.project_id, submission, kind, parsed,
                                       not violations, score, None):
            continue
        scored.append((submission.annotator_id, score))
        gold_check = (item.project_id, submission.annotator_id, gold_outcome(score, project))
        after_commit(functools.partial(_count_gold_check, *gold_check))
        if kind == "gold":
            await _record_gold(conn, project, submission.annotator_id, score, min_gold_for_pause)
        else:
            await _record_qualification(conn, project, submission.annotator_id, score)
        log.info("gold scored", extra={"item_id": item.item_id, "annotator_id": submission.annotator_id,
                                       "kind": kind, "score": score})
    return scored


def _count_gold_check(project_id: str, annotator: str, outcome: str) -> None:
    GOLD_CHECKS.labels(project_id, annotator, outcome).inc()


def gold_outcome(score: float, project: Project) -> str:
    """A gold check is correct when the submission scores at or above the project's agreement threshold against gold
    (the bar two annotators must meet to agree)."""
    return "correct" if score >= project.agreement_threshold else "incorrect"


async def _record_gold(conn: asyncpg.Connection, project: Project, annotator: str, score: float,
                       min_gold_for_pause: int) -> None:
    row = await conn.fetchrow(
        """
        INSERT INTO annotators (project_id, annotator_id, gold_scored, gold_sum, window_scored, window_sum)
        VALUES ($1, $2, 1, $3, 1, $3)
        ON CONFLICT (project_id, annotator_id) DO UPDATE
           SET gold_scored = annotators.gold_scored + 1, gold_sum = annotators.gold_sum + EXCLUDED.gold_sum,
               window_scored = annotators.window_scored + 1, window_sum = annotators.window_sum + EXCLUDED.window_sum
        RETURNING window_scored, window_sum, paused
        """,
        project.project_id, annotator, score,
    )
    assert row is not None
    count, accuracy = row["window_scored"], row["window_sum"] / row["window_scored"]
    if row["paused"] or count < max(min_gold_for_pause, 1) or accuracy >= project.gold_min_accuracy:
        return
    reason = (f"gold accuracy {accuracy:.2f} over {count} scored gold items is below the project's "
              f"gold_min_accuracy {project.gold_min_accuracy:.2f}")
    await conn.execute(
        "UPDATE annotators SET paused = true, pause_reason = $3, paused_at = now()"
        " WHERE project_id = $1 AND annotator_id = $2",
        project.project_id, annotator, reason,
    )
    await outbox.add_event(
        conn, topics.ANNOTATOR_PAUSED, key=project.project_id, producer=PRODUCER,
        payload=events_pb2.AnnotatorPaused(project_id=project.project_id, annotator_id=annotator, paused=True,
                                           reason=reason, actor=PRODUCER),
    )
    log.info("annotator paused", extra={"project_id": project.project_id, "annotator_id": annotator,
                                        "accuracy": accuracy, "gold_scored": count})


async def _record_qualification(conn: asyncpg.Connection, project: Project, annotator: str, score: float) -> None:
    row = await conn.fetchrow(
        """
        INSERT INTO annotators (project_id, annotator_id, qual_scored, qual_sum) VALUES ($1, $2, 1, $3)
        ON CONFLICT (project_id, annotator_id) DO UPDATE
           SET qual_scored = annotators.qual_scored + 1, qual_sum = annotators.qual_sum + EXCLUDED.qual_sum
        RETURNING qual_scored, qual_sum, qualified
        """,
        project.project_id, annotator, score,
    )
    assert row is not None
    count = row["qual_scored"]
    if row["qualified"] is not None or project.qualification_items <= 0 or count < project.qualification_items:
        return
    accuracy = row["qual_sum"] / count
    passed = accuracy >= project.qualification_min_accuracy
    await conn.execute("UPDATE annotators SET qualified = $3 WHERE project_id = $1 AND annotator_id = $2",
                       project.project_id, annotator, passed)
    await outbox.add_event(
        conn, topics.ANNOTATOR_QUALIFIED, key=project.project_id, producer=PRODUCER,
        payload=events_pb2.AnnotatorQualified(project_id=project.project_id, annotator_id=annotator, passed=passed,
                                              accuracy=accuracy, items=count),
    )
    log.info("annotator qualification", extra={"project_id": project.project_id, "annotator_id": annotator,
                                               "passed": passed, "accuracy": accuracy})
