"""Assignment rules (pure): counts, phases, caps and the gold schedule."""

from __future__ import annotations

from annotary_orchestrator.domain.assignment import (
    AnnotatorStanding,
    Phase,
    Verdict,
    cap_reached,
    gold_due,
    new_leases_allowed,
    phase,
    wanted,
)
from annotary_orchestrator.domain.policy import Policy
from annotary_orchestrator.service_layer.projects import policy_from_fields


def schedule(ratio: float, n: int) -> str:
    gold = 0
    out = []
    for served in range(n):
        g = gold_due(ratio, gold, served)
        out.append("G" if g else "R")
        gold += g
    return "".join(out)


def test_gold_schedule_tracks_the_ratio_deterministically() -> None:
    assert schedule(0.25, 12) == "GRRRGRRRGRRR"
    assert schedule(0.0, 5) == "RRRRR"
    assert schedule(1.0, 3) == "GGG"
    for ratio in (0.1, 0.2, 1 / 3, 0.5):
        s = schedule(ratio, 300)
        assert abs(s.count("G") / 300 - ratio) <= 1 / 300 + 1e-9


def test_count_is_capped_by_max_active() -> None:
    assert wanted(0, Policy()) == 1
    assert wanted(5, Policy()) == 5
    assert wanted(50, Policy()) == 10
    assert wanted(3, Policy(max_active_per_annotator=2)) == 2


def test_zero_max_active_means_the_default() -> None:
    policy = policy_from_fields(overlap=1, lease_seconds=60, agreement_threshold=0, gold_ratio=0,
                                gold_min_accuracy=0, review="")
    assert policy.max_active_per_annotator == 10 and policy.review == "none"


def test_phases() -> None:
    q = Policy(qualification_items=3)
    assert phase(Policy(), AnnotatorStanding(), 0) is Phase.REGULAR
    assert phase(q, AnnotatorStanding(), 0) is Phase.QUALIFYING
    assert phase(q, AnnotatorStanding(qualification_submitted=2), 1) is Phase.PENDING
    assert phase(q, AnnotatorStanding(qualification_submitted=3), 0) is Phase.PENDING
    assert phase(q, AnnotatorStanding(verdict=Verdict.PASSED), 0) is Phase.REGULAR
    assert phase(q, AnnotatorStanding(verdict=Verdict.FAILED, qualification_submitted=3), 0) is Phase.FAILED
    # A verdict without a qualification requirement changes nothing.
    assert phase(Policy(), AnnotatorStanding(verdict=Verdict.FAILED), 0) is Phase.REGULAR


def test_new_leases_allowed() -> None:
    p = Policy(qualification_items=3, max_items_per_annotator=5)
    s = AnnotatorStanding(qualification_submitted=1)
    assert new_leases_allowed(p, s, want=5, held=1, held_qualification=1, phase_=Phase.QUALIFYING) == 1
    r = AnnotatorStanding(verdict=Verdict.PASSED, submitted=3)
    assert new_leases_allowed(p, r, want=5, held=1, held_qualification=0, phase_=Phase.REGULAR) == 1
    assert new_leases_allowed(p, r, want=5, held=2, held_qualification=0, phase_=Phase.REGULAR) == 0
    assert cap_reached(p, r, held_regular=2) and not cap_reached(p, r, held_regular=1)
    assert new_leases_allowed(Policy(), AnnotatorStanding(), want=3, held=5, held_qualification=0,
                              phase_=Phase.REGULAR) == 0
    assert new_leases_allowed(p, s, want=5, held=0, held_qualification=0, phase_=Phase.PENDING) == 0
