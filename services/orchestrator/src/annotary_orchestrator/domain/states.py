"""The item and task state machines (DESIGN.md "The item state machine"): every transition is checked here.

Item: ``unassigned -> assigned -> in_progress -> submitted -> under_review -> accepted | rejected``;
``rejected -> unassigned`` starts a new round with fresh slots.

- ``assigned``: at least one slot of the current round is leased, none submitted yet.
- ``in_progress``: some, not all, slots of the current round are submitted.
- ``submitted``: all slots of the round are submitted (with overlap 1, or when the last slots are submitted at
  once, ``assigned -> submitted`` directly).
- ``assigned -> unassigned``: the last leased slot was skipped before anyone submitted.
- ``submitted -> accepted | rejected | under_review`` come from QA; ``under_review -> accepted | rejected`` too.

Task (one slot of an item in a round): ``unassigned -> assigned -> submitted``; ``assigned -> unassigned`` gives the
slot back to the queue: a skip, an expired lease re-queued (by the reaper, or by a lease call in the project), or the
holder paused. Heartbeats extend a lease without a transition.

Gold items sit in their own state ``gold``, outside the machine: no transition leads into or out of it. Each
annotator gets a task of its own on a gold item (created on lease, round 1), which follows the task machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ItemState(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    GOLD = "gold"  # a gold item: outside the machine, never transitions


class TaskState(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"


ITEM_TRANSITIONS: Mapping[ItemState, frozenset[ItemState]] = {
    ItemState.UNASSIGNED: frozenset({ItemState.ASSIGNED}),
    ItemState.ASSIGNED: frozenset({ItemState.IN_PROGRESS, ItemState.SUBMITTED, ItemState.UNASSIGNED}),
    ItemState.IN_PROGRESS: frozenset({ItemState.SUBMITTED}),
    ItemState.SUBMITTED: frozenset({ItemState.UNDER_REVIEW, ItemState.ACCEPTED, ItemState.REJECTED}),
    ItemState.UNDER_REVIEW: frozenset({ItemState.ACCEPTED, ItemState.REJECTED}),
    ItemState.REJECTED: frozenset({ItemState.UNASSIGNED}),
    ItemState.ACCEPTED: frozenset(),
    ItemState.GOLD: frozenset(),
}

TASK_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    TaskState.UNASSIGNED: frozenset({TaskState.ASSIGNED}),
    TaskState.ASSIGNED: frozenset({TaskState.UNASSIGNED, TaskState.SUBMITTED}),
    TaskState.SUBMITTED: frozenset(),
}

# Items whose current round still has slots to lease or to submit.
OPEN_ITEM_STATES = frozenset({ItemState.UNASSIGNED, ItemState.ASSIGNED, ItemState.IN_PROGRESS})


class IllegalTransition(ValueError):
    """A transition the state machine does not allow."""

    def __init__(self, kind: str, from_state: str, to_state: str) -> None:
        from_state, to_state = str(from_state), str(to_state)  # plain names, also for the enum members
        table = ITEM_TRANSITIONS if kind == "item" else TASK_TRANSITIONS
        allowed = sorted(str(s) for source, targets in table.items() if source == from_state for s in targets)
        super().__init__(f"illegal {kind} transition {from_state!r} -> {to_state!r} "
                         f"(allowed from {from_state!r}: {', '.join(allowed) or 'nothing'})")
        self.kind = kind
        self.from_state = from_state
        self.to_state = to_state


def check_item_transition(from_state: str, to_state: str) -> ItemState:
    """Return the target state, or raise :class:`IllegalTransition` (also for unknown state names)."""
    try:
        source, target = ItemState(from_state), ItemState(to_state)
    except ValueError:
        raise IllegalTransition("item", from_state, to_state) from None
    if target not in ITEM_TRANSITIONS[source]:
        raise IllegalTransition("item", from_state, to_state)
    return target


def check_task_transition(from_state: str, to_state: str) -> TaskState:
    """Return the target state, or raise :class:`IllegalTransition` (also for unknown state names)."""
    try:
        source, target = TaskState(from_state), TaskState(to_state)
    except ValueError:
        raise IllegalTransition("task", from_state, to_state) from None
    if target not in TASK_TRANSITIONS[source]:
        raise IllegalTransition("task", from_state, to_state)
    return target


def item_state_after_lease(current: ItemState) -> ItemState:
    """Leasing a slot: the first lease of a round makes the item ``assigned``; otherwise nothing changes."""
    if current not in OPEN_ITEM_STATES:
        raise IllegalTransition("item", current, ItemState.ASSIGNED)
    return ItemState.ASSIGNED if current is ItemState.UNASSIGNED else current


def item_state_after_submit(current: ItemState, submitted: int, slots: int) -> ItemState:
    """A slot was submitted: ``submitted`` once every slot of the round is in, else ``in_progress``."""
    if current not in (ItemState.ASSIGNED, ItemState.IN_PROGRESS):
        raise IllegalTransition("item", current, ItemState.SUBMITTED)
    if not 0 < submitted <= slots:
        raise ValueError(f"submitted slots {submitted} out of range 1..{slots}")
    return ItemState.SUBMITTED if submitted == slots else ItemState.IN_PROGRESS


def item_state_after_release(current: ItemState, leased: int, submitted: int) -> ItemState:
    """A slot went back to the queue (skip, expiry, pause): an ``assigned`` item with no lease and no submission left
    is free again."""
    if current is ItemState.ASSIGNED and leased == 0 and submitted == 0:
        return ItemState.UNASSIGNED
    return current


def gold_item_state_view(task_state: TaskState) -> ItemState:
    """The item state a gold task shows, so that it looks like a regular item with overlap 1."""
    return {TaskState.UNASSIGNED: ItemState.UNASSIGNED, TaskState.ASSIGNED: ItemState.ASSIGNED,
            TaskState.SUBMITTED: ItemState.SUBMITTED}[task_state]
