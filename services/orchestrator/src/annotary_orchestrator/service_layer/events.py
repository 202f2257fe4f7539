"""Bus handlers: each gets ``(conn, event)`` inside the inbox transaction (exactly-once effect).

``PermanentError`` dead-letters content no retry can fix; any other exception is retried, then dead-lettered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import uuid
from collections.abc import Sequence
from typing import NamedTuple, TypeVar

import asyncpg
from google.protobuf.message import Message

from annotary.events.v1 import events_pb2
from annotary_common.bus import PermanentError, consume_span, consumed_context
from annotary_common.events import Event
from annotary_common.telemetry import current_trace_context
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.domain.results import InvalidResult, parse_result
from annotary_orchestrator.domain.states import IllegalTransition, ItemState, check_item_transition
from annotary_orchestrator.service_layer import annotators
from annotary_orchestrator.service_layer.common import (
    SYSTEM_ACTOR,
    LockedItem,
    create_slots,
    lock_item,
    lock_items,
    record_history,
    set_item_state,
)
from annotary_orchestrator.service_layer.projects import find_policy

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Message)


class UnknownProject(Exception):
    """An item for a project that was never configured: retried (the API configures before importing), then
    dead-lettered."""


def _payload(event: Event, kind: type[P]) -> P:
    if not isinstance(event.payload, kind):
        raise PermanentError(f"{event.envelope.type}: expected {kind.__name__}, got {type(event.payload).__name__}")
    return event.payload


def _event_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PermanentError(f"{field} must be a UUID, got {value!r}") from None


def _check_result(text: str, field: str) -> str:
    try:
        return json.dumps(parse_result(text, field))
    except InvalidResult as exc:
        raise PermanentError(str(exc)) from None


async def _store_predictions(conn: asyncpg.Connection, item_id: uuid.UUID,
                             predictions: list[events_pb2.Prediction], *, replace: bool) -> None:
    rows = []
    for index, pred in enumerate(predictions):
        if not pred.model_version:
            raise PermanentError(f"predictions[{index}].model_version is required")
        rows.append((item_id, pred.model_version, pred.score,
                     _check_result(pred.result_json, f"predictions[{index}].result_json")))
    conflict = ("DO UPDATE SET score = EXCLUDED.score, result_json = EXCLUDED.result_json, updated_at = now()"
                if replace else "DO NOTHING")
    await conn.executemany(
        "INSERT INTO predictions (item_id, model_version, score, result_json) VALUES ($1, $2, $3, $4::jsonb)"
        f" ON CONFLICT (item_id, model_version) {conflict}",
        rows,
    )


async def on_item_ingested(conn: asyncpg.Connection, event: Event) -> None:
    """A new item: its row and ``overlap`` slots for round 1 (ordered by a score that may have come first), plus its
    predictions. An item with gold_json is a gold item: state ``gold``, no slots (each annotator served gets a task of
    its own). An item imported already accepted (``accepted``: another tool's export with its annotation) starts
    ``accepted`` with no slots: nobody labels it again. A re-import is a no-op."""
    payload = _payload(event, events_pb2.ItemIngested)
    item_id = _event_uuid(payload.item.item_id, "item.item_id")
    project_id = _event_uuid(payload.item.project_id, "item.project_id")
    gold = _check_result(payload.gold_json, "gold_json") if payload.gold_json else None
    policy = await find_policy(conn, project_id)
    if policy is None:
        raise UnknownProject(f"project {project_id} is not configured; item {item_id} cannot be queued")
    state = (ItemState.GOLD if gold is not None else ItemState.ACCEPTED if payload.accepted
             else ItemState.UNASSIGNED)
    inserted = await conn.fetchval(
        "INSERT INTO items (item_id, project_id, state, round, snapshot, gold_json, trace_context)"
        " VALUES ($1, $2, $3, 1, $4, $5::jsonb, $6::jsonb) ON CONFLICT (item_id) DO NOTHING RETURNING true",
        item_id, project_id, state.value, payload.item.SerializeToString(deterministic=True), gold,
        json.dumps(current_trace_context()),
    )
    actor = event.envelope.producer or SYSTEM_ACTOR
    if inserted and gold is not None:
        await record_history(conn, subject="item", item_id=item_id, task_id=None, actor=actor, from_state=None,
                             to_state=ItemState.GOLD, reason="ingested as a gold item")
    elif inserted and state is ItemState.ACCEPTED:
        await record_history(conn, subject="item", item_id=item_id, task_id=None, actor=actor, from_state=None,
                             to_state=ItemState.ACCEPTED,
                             reason="imported with an accepted annotation; no labeling tasks")
    elif inserted:
        await create_slots(conn, item_id=item_id, project_id=project_id, round_=1, overlap=policy.overlap, priority=0)
        await record_history(conn, subject="item", item_id=item_id, task_id=None, actor=actor, from_state=None,
                             to_state=ItemState.UNASSIGNED,
                             reason=f"ingested with {policy.overlap} slot(s) for round 1")
    else:
        log.info("item already known; re-import ignored", extra={"item_id": str(item_id)})
    await _store_predictions(conn, item_id, list(payload.predictions), replace=False)


_INSERT_ITEMS = """
INSERT INTO items (item_id, project_id, state, round, snapshot, trace_context)
SELECT i, p, 'unassigned', 1, s, c::jsonb FROM unnest($1::uuid[], $2::uuid[], $3::bytea[], $4::text[]) AS u(i, p, s, c)
ON CONFLICT (item_id) DO NOTHING RETURNING item_id
"""

_INSERT_SLOTS = """
INSERT INTO tasks (task_id, item_id, project_id, slot, round, priority, score, feedback, state)
SELECT t, i, p, n, 1, 0, s, '', 'unassigned'
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::float8[]) AS u(t, i, p, n, s)
"""

_INSERT_HISTORY = """
INSERT INTO item_history (subject, item_id, task_id, actor, from_state, to_state, reason)
SELECT 'item', i, NULL, a, NULL, 'unassigned', r FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(i, a, r)
"""


async def on_items_ingested(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A run of item.ingested events in one transaction, for the effect of :func:`on_item_ingested` on each in turn:
    plain new items (no gold, not imported accepted, no predictions) are written a statement per table for the
    run; any other event goes through :func:`on_item_ingested` in its place in the order."""
    plain: list[tuple[Event, events_pb2.ItemIngested]] = []
    for event in events:
        payload = _payload(event, events_pb2.ItemIngested)
        if payload.gold_json or payload.accepted or payload.predictions:
            await _insert_plain(conn, plain)
            plain = []
            with consume_span(event):
                await on_item_ingested(conn, event)
        else:
            plain.append((event, payload))
    await _insert_plain(conn, plain)


class _NewItem(NamedTuple):
    item_id: uuid.UUID
    project_id: uuid.UUID
    snapshot: bytes
    trace_context: str
    actor: str


async def _insert_plain(conn: asyncpg.Connection, plain: Sequence[tuple[Event, events_pb2.ItemIngested]]) -> None:
    if not plain:
        return
    rows: list[_NewItem] = []
    policies: dict[uuid.UUID, Policy] = {}
    for event, payload in plain:
        item_id = _event_uuid(payload.item.item_id, "item.item_id")
        project_id = _event_uuid(payload.item.project_id, "item.project_id")
        if project_id not in policies:
            policy = await find_policy(conn, project_id)
            if policy is None:
                raise UnknownProject(f"project {project_id} is not configured; item {item_id} cannot be queued")
            policies[project_id] = policy
        context = json.dumps(consumed_context(event))  # the item's trace continues from its consumption
        rows.append(_NewItem(item_id, project_id, payload.item.SerializeToString(deterministic=True), context,
                             event.envelope.producer or SYSTEM_ACTOR))
    inserted = {r["item_id"] for r in await conn.fetch(
        _INSERT_ITEMS, [r.item_id for r in rows], [r.project_id for r in rows], [r.snapshot for r in rows],
        [r.trace_context for r in rows])}
    fresh = []
    for row in rows:  # the first event of an item inserted it (a repeat in the run is a re-import)
        if row.item_id in inserted:
            inserted.discard(row.item_id)
            fresh.append(row)
        else:
            log.info("item already known; re-import ignored", extra={"item_id": str(row.item_id)})
    if not fresh:
        return
    scores = {r["item_id"]: r["score"] for r in await conn.fetch(
        "SELECT item_id, score FROM item_scores WHERE item_id = ANY($1::uuid[])", [r.item_id for r in fresh])}
    slots = [(uuid.uuid4(), r.item_id, r.project_id, slot, scores.get(r.item_id) or 0.0)
             for r in fresh for slot in range(policies[r.project_id].overlap)]
    await conn.execute(_INSERT_SLOTS, *(list(column) for column in zip(*slots, strict=True)))
    await conn.execute(_INSERT_HISTORY, [r.item_id for r in fresh], [r.actor for r in fresh],
                       [f"ingested with {policies[r.project_id].overlap} slot(s) for round 1" for r in fresh])


async def on_item_preannotated(conn: asyncpg.Connection, event: Event) -> None:
    """New or newer predictions, one per model version (the latest event for a version wins)."""
    payload = _payload(event, events_pb2.ItemPreannotated)
    item_id = _event_uuid(payload.item_id, "item_id")
    await _store_predictions(conn, item_id, list(payload.predictions), replace=True)


async def on_item_scored(conn: asyncpg.Connection, event: Event) -> None:
    """An active-learning score (the latest wins): the item's free slots move in the queue (an UPDATE of those rows,
    whose entries in the queue index move; nothing is re-sorted). A score that comes before its item is kept and
    applied when the item is ingested."""
    payload = _payload(event, events_pb2.ItemScored)
    item_id = _event_uuid(payload.item_id, "item_id")
    project_id = _event_uuid(payload.project_id, "project_id")
    if not math.isfinite(payload.score):
        raise PermanentError(f"score must be a finite number, got {payload.score}")
    await conn.execute(
        "INSERT INTO item_scores (item_id, project_id, score, model_version) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (item_id) DO UPDATE SET score = EXCLUDED.score, model_version = EXCLUDED.model_version,"
        " updated_at = now()",
        item_id, project_id, payload.score, payload.model_version,
    )
    # Slots only (never the item row first): the lock order every transaction follows is tasks, then items.
    await conn.execute(
        "UPDATE tasks SET score = $2, updated_at = now()"
        " WHERE item_id = $1 AND NOT gold AND state <> 'submitted' AND score <> $2",
        item_id, payload.score,
    )


def _annotator_event(project_id: str, annotator_id: str) -> tuple[uuid.UUID, str]:
    pid = _event_uuid(project_id, "project_id")
    annotator = annotator_id.strip()
    if not annotator:
        raise PermanentError("annotator_id is required")
    return pid, annotator


async def on_annotator_paused(conn: asyncpg.Connection, event: Event) -> None:
    """paused=true: the annotator's leasing in the project stops at once and their unsubmitted leases go back to the
    queue (history rows); paused=false: leasing resumes."""
    payload = _payload(event, events_pb2.AnnotatorPaused)
    pid, annotator = _annotator_event(payload.project_id, payload.annotator_id)
    actor = payload.actor or event.envelope.producer or "qa"
    released = await annotators.set_paused(conn, pid, annotator, paused=payload.paused, reason=payload.reason,
                                           actor=actor)
    log.info("annotator paused" if payload.paused else "annotator resumed",
             extra={"project_id": str(pid), "annotator_id": annotator, "released": released})


async def on_annotator_qualified(conn: asyncpg.Connection, event: Event) -> None:
    """qa's verdict on the annotator's qualification set: passed opens regular work, failed closes the project."""
    payload = _payload(event, events_pb2.AnnotatorQualified)
    pid, annotator = _annotator_event(payload.project_id, payload.annotator_id)
    await annotators.set_verdict(conn, pid, annotator, passed=payload.passed, accuracy=payload.accuracy)
    log.info("qualification verdict", extra={"project_id": str(pid), "annotator_id": annotator,
                                             "passed": payload.passed, "accuracy": payload.accuracy})


async def _current_item(conn: asyncpg.Connection, event: Event, snapshot: events_pb2.ItemSnapshot,
                        round_: int) -> LockedItem | None:
    """The locked item when the event is about its current round; None (logged) for another round."""
    item_id = _event_uuid(snapshot.item_id, "item.item_id")
    return _if_current(event, item_id, await lock_item(conn, item_id), round_)


def _if_current(event: Event, item_id: uuid.UUID, item: LockedItem | None, round_: int) -> LockedItem | None:
    if item is None:
        raise PermanentError(f"{event.envelope.type}: unknown item {item_id}")
    if item.state is ItemState.GOLD:
        raise PermanentError(f"{event.envelope.type}: item {item_id} is a gold item; gold items are scored by qa,"
                             " never reviewed, accepted or rejected")
    if round_ != item.round:
        log.warning("event for another round ignored", extra={"item_id": str(item_id), "event_round": round_,
                                                               "item_round": item.round, "type": event.envelope.type})
        return None
    return item


async def _transition(conn: asyncpg.Connection, event: Event, item: LockedItem, to_state: ItemState, *,
                      actor: str, reason: str) -> bool:
    """Apply a QA outcome; False (logged) when the item already is there. Illegal ones are dead-lettered."""
    if item.state is to_state:
        log.info("item already in that state", extra={"item_id": str(item.item_id), "state": to_state.value})
        return False
    try:
        await set_item_state(conn, item, to_state, actor=actor, reason=reason)
    except IllegalTransition as exc:
        raise PermanentError(f"{event.envelope.type} for item {item.item_id}: {exc}") from None
    return True


async def _accept(conn: asyncpg.Connection, event: Event, payload: events_pb2.AnnotationAccepted,
                  item: LockedItem | None) -> bool:
    if item is None:
        return False
    return await _transition(conn, event, item, ItemState.ACCEPTED, actor=event.envelope.producer or "qa",
                             reason=f"accepted (agreement {payload.agreement:.3f})")


async def on_annotation_accepted(conn: asyncpg.Connection, event: Event) -> None:
    payload = _payload(event, events_pb2.AnnotationAccepted)
    await _accept(conn, event, payload, await _current_item(conn, event, payload.item, payload.round))


async def on_annotations_accepted(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """A run of ``annotation.accepted``: the run's items locked at once in item id order (the order of every
    transaction that locks several items; it takes no task or annotator locks, so it waits on no lease or submit
    that waits on it), then each event as the one-event handler applies it, an item's later events seeing its
    earlier ones."""
    payloads = [_payload(e, events_pb2.AnnotationAccepted) for e in events]
    ids = [_event_uuid(p.item.item_id, "item.item_id") for p in payloads]
    locked = {item.item_id: item for item in await lock_items(conn, ids, missing_ok=True)}
    for event, payload, item_id in zip(events, payloads, ids, strict=True):
        with consume_span(event):
            item = _if_current(event, item_id, locked.get(item_id), payload.round)
            if await _accept(conn, event, payload, item):
                assert item is not None
                locked[item_id] = dataclasses.replace(item, state=ItemState.ACCEPTED)


async def on_review_required(conn: asyncpg.Connection, event: Event) -> None:
    payload = _payload(event, events_pb2.ReviewRequired)
    item = await _current_item(conn, event, payload.item, payload.round)
    if item is not None:
        await _transition(conn, event, item, ItemState.UNDER_REVIEW, actor=event.envelope.producer or "qa",
                          reason=payload.reason or "review required")


async def on_annotation_rejected(conn: asyncpg.Connection, event: Event) -> None:
    """Rejected, then straight back to the queue: a new round with fresh slots (the current policy's overlap) that
    carry the reviewer's feedback."""
    payload = _payload(event, events_pb2.AnnotationRejected)
    item = await _current_item(conn, event, payload.item, payload.round)
    if item is None:
        return
    actor = payload.reviewer_id or event.envelope.producer or "qa"
    if not await _transition(conn, event, item, ItemState.REJECTED, actor=actor, reason=payload.reason or "rejected"):
        return
    rejected = LockedItem(item_id=item.item_id, project_id=item.project_id, state=ItemState.REJECTED,
                          round=item.round, priority=item.priority, snapshot=item.snapshot)
    policy = await find_policy(conn, item.project_id)
    assert policy is not None, "an item without its project"
    new_round = item.round + 1
    check_item_transition(rejected.state, ItemState.UNASSIGNED)  # before the slots are written
    await create_slots(conn, item_id=item.item_id, project_id=item.project_id, round_=new_round,
                       overlap=policy.overlap, priority=item.priority, feedback=payload.reason)
    await set_item_state(conn, rejected, ItemState.UNASSIGNED, actor=SYSTEM_ACTOR, new_round=new_round,
                         reason=f"round {new_round} after rejection: {payload.reason}" if payload.reason
                         else f"round {new_round} after rejection")
