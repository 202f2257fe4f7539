"""Helpers shared by the handlers: argument checks, the history table, item locks, item transitions, slots.

Lock order (no transaction waits on another in a cycle): an annotator's row (``annotators``), then task rows, then
item rows in item id order. Leases and the reaper lock task rows only with SKIP LOCKED; nothing waits for a task row
while holding an item row.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc

from annotary_common.grpc_util import InvalidArgument, ServiceError
from annotary_orchestrator.domain.states import ItemState, check_item_transition

PRODUCER = "orchestrator"
SYSTEM_ACTOR = "orchestrator"


class Aborted(ServiceError):
    """A transient conflict the caller may retry."""

    code = grpc.StatusCode.ABORTED


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """A request id: INVALID_ARGUMENT naming the field unless it is a UUID."""
    if not value:
        raise InvalidArgument(f"{field} is required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidArgument(f"{field} must be a UUID, got {value!r}") from None


def require_annotator(annotator_id: str) -> str:
    annotator = annotator_id.strip()
    if not annotator:
        raise InvalidArgument("annotator_id is required")
    if len(annotator) > 200:
        raise InvalidArgument("annotator_id is longer than 200 characters")
    return annotator


HISTORY_INSERT = "INSERT INTO item_history (subject, item_id, task_id, actor, from_state, to_state, reason)"


async def record_history(conn: asyncpg.Connection, *, subject: str, item_id: uuid.UUID, task_id: uuid.UUID | None,
                         actor: str, from_state: str | None, to_state: str, reason: str = "") -> None:
    """One row of the audit trail; ``subject`` is 'item' or 'task'."""
    await conn.execute(f"{HISTORY_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       subject, item_id, task_id, actor, from_state, to_state, reason)


@functools.cache
def _change_with_history(change: str, parameters: int, also: str) -> str:
    values = ", ".join(f"${parameters + i}" for i in range(1, 8))
    return f"WITH change AS ({change}){', also AS (' + also + ')' if also else ''} {HISTORY_INSERT} VALUES ({values})"


async def change_with_history(conn: asyncpg.Connection, change: str, *args: Any, subject: str, item_id: uuid.UUID,
                              task_id: uuid.UUID | None, actor: str, from_state: str | None, to_state: str,
                              reason: str, also: str = "") -> None:
    """A transition's UPDATE (``change``, its parameters ``args`` as $1..$n) and its history row in one statement,
    one round trip; ``also``, a second data-modifying statement (same parameters), goes with them."""
    await conn.execute(_change_with_history(change, len(args), also), *args,
                       subject, item_id, task_id, actor, from_state, to_state, reason)


@dataclass(frozen=True)
class LockedItem:
    item_id: uuid.UUID
    project_id: uuid.UUID
    state: ItemState
    round: int
    priority: int
    snapshot: bytes
    trace_context: str | None = None  # JSON: the propagation headers of the item's ingestion (telemetry)


_ITEM_COLUMNS = "item_id, project_id, state, round, priority, snapshot, trace_context::text AS trace_context"


def _locked(row: asyncpg.Record) -> LockedItem:
    return LockedItem(item_id=row["item_id"], project_id=row["project_id"], state=ItemState(row["state"]),
                      round=row["round"], priority=row["priority"], snapshot=bytes(row["snapshot"]),
                      trace_context=row["trace_context"])


async def lock_item(conn: asyncpg.Connection, item_id: uuid.UUID) -> LockedItem | None:
    """The item row, locked for the rest of the transaction (serialises the item's transitions)."""
    row = await conn.fetchrow(f"SELECT {_ITEM_COLUMNS} FROM items WHERE item_id = $1 FOR UPDATE", item_id)
    return None if row is None else _locked(row)


async def lock_items(conn: asyncpg.Connection, item_ids: Iterable[uuid.UUID], *,
                     missing_ok: bool = False) -> list[LockedItem]:
    """Several items locked in item id order, in one statement (the rows are locked as the sort returns them): every
    transaction that locks more than one item does it in this order, so two of them never wait on each other in a
    cycle. An unknown id is an error unless ``missing_ok`` (then it is left out)."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return []
    rows = await conn.fetch(
        f"SELECT {_ITEM_COLUMNS} FROM items WHERE item_id = ANY($1::uuid[]) ORDER BY item_id FOR UPDATE", wanted)
    locked = [_locked(row) for row in rows]
    if not missing_ok:
        assert len(locked) == len(wanted), f"items vanished: {set(wanted) - {i.item_id for i in locked}}"
    return locked


async def set_item_state(conn: asyncpg.Connection, item: LockedItem, to_state: ItemState, *, actor: str, reason: str,
                         task_id: uuid.UUID | None = None, new_round: int | None = None) -> None:
    """The one way an item changes state: checked against the state machine (IllegalTransition otherwise), written
    with its history row."""
    check_item_transition(item.state, to_state)
    await change_with_history(
        conn, "UPDATE items SET state = $2, round = $3, updated_at = now() WHERE item_id = $1",
        item.item_id, to_state.value, new_round if new_round is not None else item.round,
        subject="item", item_id=item.item_id, task_id=task_id, actor=actor, from_state=item.state.value,
        to_state=to_state.value, reason=reason)


@dataclass(frozen=True)
class RoundCounts:
    slots: int
    leased: int
    submitted: int


async def round_counts(conn: asyncpg.Connection, item_id: uuid.UUID, round_: int) -> RoundCounts:
    row = await conn.fetchrow(
        "SELECT count(*) AS slots, count(*) FILTER (WHERE state = 'assigned') AS leased,"
        " count(*) FILTER (WHERE state = 'submitted') AS submitted"
        " FROM tasks WHERE item_id = $1 AND round = $2 AND NOT gold",
        item_id, round_,
    )
    assert row is not None
    return RoundCounts(slots=row["slots"], leased=row["leased"], submitted=row["submitted"])


async def create_slots(conn: asyncpg.Connection, *, item_id: uuid.UUID, project_id: uuid.UUID, round_: int,
                       overlap: int, priority: int, feedback: str = "") -> list[uuid.UUID]:
    """``overlap`` fresh, unassigned slots of a round (one task row each), ordered in the queue by the item's priority
    and its latest active-learning score."""
    score = await conn.fetchval("SELECT score FROM item_scores WHERE item_id = $1", item_id) or 0.0
    task_ids = [uuid.uuid4() for _ in range(overlap)]
    await conn.executemany(
        "INSERT INTO tasks (task_id, item_id, project_id, slot, round, priority, score, feedback, state)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unassigned')",
        [(task_id, item_id, project_id, slot, round_, priority, score, feedback)
         for slot, task_id in enumerate(task_ids)],
    )
    return task_ids
