"""Assignment rules (pure): how many tasks a lease call may hand out, and when a gold item is due.

Fair sharing: every lease call takes the head of the queue with ``FOR UPDATE SKIP LOCKED``, so annotators never wait
on each other; one annotator's calls are serialised (their row in ``annotators`` is locked), each call hands out at
most ``count`` tasks, nobody holds more than ``max_active_per_annotator`` leases at once, and
``max_items_per_annotator`` bounds anyone's total share of a project.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from annotary_orchestrator.domain.policy import Policy

MAX_COUNT = 1000


class Phase(StrEnum):
    REGULAR = "regular"              # regular work, gold injected at gold_ratio
    QUALIFYING = "qualifying"        # gold items only, flagged qualification=true
    PENDING = "qualification pending"
    FAILED = "qualification failed"


class Verdict(StrEnum):
    NONE = "none"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class AnnotatorStanding:
    """What the orchestrator knows about one annotator in one project (the ``annotators`` row)."""

    paused: bool = False
    pause_reason: str = ""
    verdict: Verdict = Verdict.NONE
    served_total: int = 0             # regular-phase leases handed out (gold included)
    gold_served: int = 0              # of which gold
    submitted: int = 0                # regular-phase submissions (gold included): the max_items cap counts these
    qualification_submitted: int = 0  # qualification submissions


def wanted(count: int, policy: Policy) -> int:
    """Tasks a call asks for: ``count`` (0 means 1), capped by the project's ``max_active_per_annotator``."""
    return max(1, min(count or 1, policy.max_active_per_annotator))


def phase(policy: Policy, standing: AnnotatorStanding, held_qualification: int) -> Phase:
    """Which work the annotator may get now (the pause is checked before)."""
    if policy.qualification_items <= 0 or standing.verdict is Verdict.PASSED:
        return Phase.REGULAR
    if standing.verdict is Verdict.FAILED:
        return Phase.FAILED
    if standing.qualification_submitted + held_qualification >= policy.qualification_items:
        return Phase.PENDING
    return Phase.QUALIFYING


def new_leases_allowed(policy: Policy, standing: AnnotatorStanding, *, want: int, held: int,
                       held_qualification: int, phase_: Phase) -> int:
    """How many new tasks this call may lease on top of the ``held`` live leases."""
    room = want - held
    if phase_ is Phase.QUALIFYING:
        room = min(room, policy.qualification_items - standing.qualification_submitted - held_qualification)
    elif phase_ is Phase.REGULAR and policy.max_items_per_annotator > 0:
        held_regular = held - held_qualification
        room = min(room, policy.max_items_per_annotator - standing.submitted - held_regular)
    elif phase_ in (Phase.PENDING, Phase.FAILED):
        room = 0
    return max(0, room)


def cap_reached(policy: Policy, standing: AnnotatorStanding, held_regular: int) -> bool:
    return 0 < policy.max_items_per_annotator <= standing.submitted + held_regular


def gold_due(gold_ratio: float, gold_served: int, served_total: int) -> bool:
    """Serve a gold item next when the annotator's share of gold would otherwise fall behind ``gold_ratio``:
    ``gold_served < gold_ratio * (served_total + 1)``. Deterministic: with 0.25, leases 1, 5, 9, ... are gold."""
    return gold_ratio > 0 and gold_served < gold_ratio * (served_total + 1)
