"""The item and task state machines (pure)."""

from __future__ import annotations

import pytest

from annotary_orchestrator.domain.states import (
    ITEM_TRANSITIONS,
    TASK_TRANSITIONS,
    IllegalTransition,
    ItemState,
    TaskState,
    check_item_transition,
    check_task_transition,
    gold_item_state_view,
    item_state_after_lease,
    item_state_after_release,
    item_state_after_submit,
)

LEGAL_ITEM = [
    ("unassigned", "assigned"),
    ("assigned", "in_progress"),
    ("assigned", "submitted"),
    ("assigned", "unassigned"),
    ("in_progress", "submitted"),
    ("submitted", "under_review"),
    ("submitted", "accepted"),
    ("submitted", "rejected"),
    ("under_review", "accepted"),
    ("under_review", "rejected"),
    ("rejected", "unassigned"),
]


@pytest.mark.parametrize(("source", "target"), LEGAL_ITEM)
def test_legal_item_transitions(source: str, target: str) -> None:
    assert check_item_transition(source, target) == ItemState(target)


ILLEGAL_ITEM = [(s.value, t.value) for s in ItemState for t in ItemState if (s.value, t.value) not in LEGAL_ITEM]
LEGAL_TASK = [("unassigned", "assigned"), ("assigned", "unassigned"), ("assigned", "submitted")]
ILLEGAL_TASK = [(s.value, t.value) for s in TaskState for t in TaskState if (s.value, t.value) not in LEGAL_TASK]


def test_the_tables_are_exactly_the_legal_lists() -> None:
    assert sorted((s.value, t.value) for s, ts in ITEM_TRANSITIONS.items() for t in ts) == sorted(LEGAL_ITEM)
    assert sorted((s.value, t.value) for s, ts in TASK_TRANSITIONS.items() for t in ts) == sorted(LEGAL_TASK)
    assert len(ILLEGAL_ITEM) == 8 * 8 - len(LEGAL_ITEM) and len(ILLEGAL_TASK) == 3 * 3 - len(LEGAL_TASK)


@pytest.mark.parametrize(("source", "target"), ILLEGAL_ITEM)
def test_every_other_item_transition_is_illegal(source: str, target: str) -> None:
    with pytest.raises(IllegalTransition, match=f"illegal item transition '{source}' -> '{target}'"):
        check_item_transition(source, target)


def test_gold_is_outside_the_machine() -> None:
    assert ITEM_TRANSITIONS[ItemState.GOLD] == frozenset()
    assert all(ItemState.GOLD not in targets for targets in ITEM_TRANSITIONS.values())
    with pytest.raises(IllegalTransition, match="allowed from 'gold': nothing"):
        check_item_transition("gold", "assigned")
    with pytest.raises(IllegalTransition):
        item_state_after_lease(ItemState.GOLD)
    assert [gold_item_state_view(s) for s in TaskState] == [ItemState.UNASSIGNED, ItemState.ASSIGNED,
                                                            ItemState.SUBMITTED]


def test_accepted_is_final_and_the_error_says_so() -> None:
    assert ITEM_TRANSITIONS[ItemState.ACCEPTED] == frozenset()
    with pytest.raises(IllegalTransition, match=r"'accepted' -> 'unassigned'.*allowed from 'accepted': nothing"):
        check_item_transition("accepted", "unassigned")


def test_error_lists_the_allowed_targets() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_item_transition("unassigned", "submitted")
    assert "allowed from 'unassigned': assigned" in str(info.value)
    assert (info.value.kind, info.value.from_state, info.value.to_state) == ("item", "unassigned", "submitted")


def test_unknown_states_are_illegal() -> None:
    with pytest.raises(IllegalTransition):
        check_item_transition("limbo", "assigned")
    with pytest.raises(IllegalTransition):
        check_task_transition("assigned", "skipped")


@pytest.mark.parametrize(("source", "target"), LEGAL_TASK)
def test_legal_task_transitions(source: str, target: str) -> None:
    assert check_task_transition(source, target) == TaskState(target)


@pytest.mark.parametrize(("source", "target"), ILLEGAL_TASK)
def test_illegal_task_transitions(source: str, target: str) -> None:
    with pytest.raises(IllegalTransition, match="illegal task transition"):
        check_task_transition(source, target)


def test_first_lease_assigns_the_item_later_ones_change_nothing() -> None:
    assert item_state_after_lease(ItemState.UNASSIGNED) is ItemState.ASSIGNED
    assert item_state_after_lease(ItemState.ASSIGNED) is ItemState.ASSIGNED
    assert item_state_after_lease(ItemState.IN_PROGRESS) is ItemState.IN_PROGRESS
    for closed in (ItemState.SUBMITTED, ItemState.UNDER_REVIEW, ItemState.ACCEPTED, ItemState.REJECTED):
        with pytest.raises(IllegalTransition):
            item_state_after_lease(closed)


def test_submissions_move_the_item_forward() -> None:
    assert item_state_after_submit(ItemState.ASSIGNED, 1, 1) is ItemState.SUBMITTED
    assert item_state_after_submit(ItemState.ASSIGNED, 1, 3) is ItemState.IN_PROGRESS
    assert item_state_after_submit(ItemState.IN_PROGRESS, 2, 3) is ItemState.IN_PROGRESS
    assert item_state_after_submit(ItemState.IN_PROGRESS, 3, 3) is ItemState.SUBMITTED
    with pytest.raises(IllegalTransition):
        item_state_after_submit(ItemState.SUBMITTED, 3, 3)
    with pytest.raises(ValueError, match="out of range"):
        item_state_after_submit(ItemState.ASSIGNED, 4, 3)


def test_release_frees_an_item_only_when_nobody_is_on_it() -> None:
    assert item_state_after_release(ItemState.ASSIGNED, leased=0, submitted=0) is ItemState.UNASSIGNED
    assert item_state_after_release(ItemState.ASSIGNED, leased=1, submitted=0) is ItemState.ASSIGNED
    assert item_state_after_release(ItemState.IN_PROGRESS, leased=0, submitted=1) is ItemState.IN_PROGRESS
