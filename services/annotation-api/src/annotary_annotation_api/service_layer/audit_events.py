"""Annotation changes, from the events the orchestrator and qa publish, into the audit log.

Annotations are written by other services (the orchestrator stores submissions, qa stores consensus, review
corrections, adjudications and rejections), each committing its change and the event that describes it in one
transaction (outbox). This consumer (group ``annotary-annotation-api``) writes one audit row per change in the
same transaction as the inbox row of the event, so every committed change gets exactly one audit row, even when
events are delivered or published twice.

The annotation of an item is the audited entity (``entity_id`` = item id; ``refs.task_id`` names the task):
- ``submit``: an annotator's result (``after``), ``before`` = where the item stood before this round (the
  rejected round's outcome, or null);
- ``accept`` (by consensus or a reviewer) or ``correct`` (a reviewer's own result): ``before`` = the round's
  submissions, ``after`` = the accepted result;
- ``reject``: ``before`` = the round's submissions, ``after`` = the rejection with the reviewer's feedback;
- ``relabel``: an accepted annotation rewritten by a label schema migration (qa publishes it again; the manager's
  schema change itself is the ``schema`` entry of the project).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from annotary.events.v1 import events_pb2
from annotary_annotation_api.service_layer import audit, users
from annotary_common import topics
from annotary_common.bus import Consumer, PermanentError, consume_span, one_by_one
from annotary_common.events import Event

OUTCOMES = ("accept", "correct", "reject", "relabel")
ACCEPTED = ("accept", "correct", "relabel")  # the outcomes a schema migration's relabel rewrites

M = TypeVar("M", events_pb2.TaskSubmitted, events_pb2.AnnotationAccepted)


def _result(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return {"unparsed": text}


def _when(ts: Timestamp) -> datetime | None:
    return ts.ToDatetime(tzinfo=UTC) if ts.seconds or ts.nanos else None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _submissions(subs: Any) -> list[dict[str, Any]]:
    return [{"task_id": s.task_id, "annotator_id": s.annotator_id, "result": _result(s.result_json)} for s in subs]


async def _outcomes(conn: asyncpg.Connection, keys: Sequence[tuple[str, int]], actions: Sequence[str], *,
                    earlier: bool) -> dict[tuple[str, int], Any]:
    """Per (item id, round): the ``after`` of the item's latest outcome row (one of ``actions``) of the rounds before
    that round (``earlier``) or of that round itself; None where there is none. One statement for all the keys."""
    wanted = sorted(set(keys))
    rounds = "<" if earlier else "="
    rows = await conn.fetch(
        "SELECT q.item_id, q.round, (SELECT a.after::text FROM audit_log a WHERE a.entity = 'annotation'"
        f"   AND a.entity_id = q.item_id AND a.action = ANY($3) AND (a.refs ->> 'round')::int {rounds} q.round"
        "   ORDER BY a.id DESC LIMIT 1) AS after"
        " FROM unnest($1::text[], $2::int[]) AS q(item_id, round)",
        [k[0] for k in wanted], [k[1] for k in wanted], list(actions),
    )
    return {(r["item_id"], r["round"]): None if r["after"] is None else json.loads(r["after"]) for r in rows}


async def _round_submissions(conn: asyncpg.Connection, item_id: str, round_: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT refs ->> 'task_id' AS task_id, actor_id, after::text AS after FROM audit_log"
        " WHERE entity = 'annotation' AND entity_id = $1 AND action = 'submit' AND (refs ->> 'round')::int = $2"
        " ORDER BY id",
        item_id, round_,
    )
    return [{"task_id": r["task_id"], "annotator_id": r["actor_id"], "result": json.loads(r["after"])["result"]}
            for r in rows]


def _payloads(events: Sequence[Event], kind: type[M]) -> list[tuple[Event, M]]:
    out = []
    for event in events:
        if not isinstance(event.payload, kind):
            raise PermanentError(f"expected {kind.__name__}, got {type(event.payload).__name__}")
        out.append((event, event.payload))
    return out


async def on_tasks_submitted(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A run of ``task.submitted`` events: an audit row per submission, in three statements whatever the run's
    length (the earlier rounds' outcomes, the annotators' names, the rows). The run writes no outcome rows, so
    reading them all first sees what reading them event by event would."""
    runs = _payloads(events, events_pb2.TaskSubmitted)
    # What a submission changes from: the outcome of the item's earlier rounds. By round, not by what was recorded
    # last: events of different topics come in no set order (a round's own outcome may be recorded first).
    before = await _outcomes(conn, [(msg.item.item_id, msg.round) for _, msg in runs], OUTCOMES, earlier=True)
    names = await users.usernames(conn, [s.annotator_id for _, msg in runs for s in msg.submissions])
    entries: list[audit.Entry] = []
    for event, msg in runs:
        with consume_span(event):
            item_id = msg.item.item_id
            entries.extend(audit.Entry(
                actor_id=s.annotator_id, actor_name=names.get(s.annotator_id), action="submit",
                entity="annotation", entity_id=item_id, before=before.get((item_id, msg.round)),
                after={"result": _result(s.result_json), "round": msg.round, "lead_time_ms": s.lead_time_ms},
                refs={"task_id": s.task_id, "round": msg.round, "project_id": msg.item.project_id,
                      "gold": msg.is_gold, "schema_version": s.schema_version, "event_id": event.event_id},
                at=_when(s.submitted_at) or _when(event.envelope.occurred_at),
            ) for s in msg.submissions)
    await audit.record_many(conn, entries)


async def on_task_submitted(conn: asyncpg.Connection, event: Event) -> None:
    await on_tasks_submitted(conn, [event])


async def on_annotations_accepted(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A run of ``annotation.accepted`` events: an ``accept`` or ``correct`` row per event, or a ``relabel`` when the
    round was accepted before (qa re-published it after a label schema migration), the run's own rows counted."""
    runs = _payloads(events, events_pb2.AnnotationAccepted)
    accepted = await _outcomes(conn, [(msg.item.item_id, msg.round) for _, msg in runs], ACCEPTED, earlier=False)
    names = await users.usernames(conn, [msg.decided_by or "consensus" for _, msg in runs])
    entries = []
    for event, msg in runs:
        with consume_span(event):
            item_id, key = msg.item.item_id, (msg.item.item_id, msg.round)
            final = _result(msg.result_json)
            earlier = accepted.get(key)
            if earlier is not None:
                entry = audit.Entry(
                    actor_id="schema-migration", actor_name=None, action="relabel", entity="annotation",
                    entity_id=item_id, before=earlier,
                    after={"result": final, "round": msg.round, "schema_version": msg.schema_version},
                    refs={"round": msg.round, "project_id": msg.item.project_id, "event_id": event.event_id},
                    at=_when(event.envelope.occurred_at))
            else:
                submissions = _submissions(msg.submissions) or await _round_submissions(conn, item_id, msg.round)
                decided_by = msg.decided_by or "consensus"
                own = decided_by != "consensus" and all(
                    _canonical(s["result"]) != _canonical(final) for s in submissions)
                entry = audit.Entry(
                    actor_id=decided_by, actor_name=names.get(decided_by), action="correct" if own else "accept",
                    entity="annotation", entity_id=item_id, before={"submissions": submissions},
                    after={"result": final, "round": msg.round, "decided_by": decided_by, "agreement": msg.agreement,
                           "agreement_metric": msg.agreement_metric},
                    refs={"round": msg.round, "project_id": msg.item.project_id, "event_id": event.event_id},
                    at=_when(event.envelope.occurred_at))
            accepted[key] = entry.after
            entries.append(entry)
    await audit.record_many(conn, entries)


async def on_annotation_accepted(conn: asyncpg.Connection, event: Event) -> None:
    await on_annotations_accepted(conn, [event])


async def on_annotation_rejected(conn: asyncpg.Connection, event: Event) -> None:
    msg = event.payload
    assert isinstance(msg, events_pb2.AnnotationRejected)
    item_id = msg.item.item_id
    names = await users.usernames(conn, [msg.reviewer_id])
    await audit.record(
        conn, actor_id=msg.reviewer_id or "qa", actor_name=names.get(msg.reviewer_id), action="reject",
        entity="annotation", entity_id=item_id,
        before={"submissions": await _round_submissions(conn, item_id, msg.round)},
        after={"rejected": True, "feedback": msg.reason, "round": msg.round},
        refs={"round": msg.round, "project_id": msg.item.project_id, "event_id": event.event_id},
        at=_when(event.envelope.occurred_at),
    )


def subscribe(consumer: Consumer) -> None:
    # in runs, one transaction per run when events queue up: the handlers only append audit rows
    consumer.subscribe(topics.TASK_SUBMITTED, on_task_submitted, batch=on_tasks_submitted)
    consumer.subscribe(topics.ANNOTATION_ACCEPTED, on_annotation_accepted, batch=on_annotations_accepted)
    consumer.subscribe(topics.ANNOTATION_REJECTED, on_annotation_rejected, batch=one_by_one(on_annotation_rejected))
