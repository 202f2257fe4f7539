"""The item and task state machines (pure)."""

from __future__ import annotations

import pytest

from annotary_orchestrator.domain.states import (
    ITEM_TRANSITIONS,
    IllegalTransition,
    ItemState,
    TaskState,
    check_item_transition,
    check_task_transition,
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


def test_every_other_item_transition_is_illegal() -> None:
    legal = set(LEGAL_ITEM)
    for source in ItemState:
        for target in ItemState:
            if (source.value, target.value) in legal:
                continue
            with pytest.raises(IllegalTransition):
                check_item_transition(source, target)


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


@pytest.mark.parametrize(("source", "target"), [("unassigned", "assigned"), ("assigned", "assigned"),
                                                ("assigned", "unassigned"), ("assigned", "submitted")])
def test_legal_task_transitions(source: str, target: str) -> None:
    assert check_task_transition(source, target) == TaskState(target)


@pytest.mark.parametrize(("source", "target"), [("unassigned", "submitted"), ("submitted", "assigned"),
                                                ("submitted", "unassigned"), ("unassigned", "unassigned")])
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
