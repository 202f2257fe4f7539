"""Active-learning scores and batch selection (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from annotary_preannotate.domain.active_learning import (
    entropy,
    hybrid,
    k_center_greedy,
    least_confidence,
    margin,
    rank_scores,
)

P = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]]


def test_least_confidence() -> None:
    assert least_confidence(P) == pytest.approx([0.0, 0.75, 1.0, 0.6])


def test_margin() -> None:
    assert margin(P) == pytest.approx([0.0, 1.0, 1.0, 0.7])


def test_entropy() -> None:
    out = entropy(P)
    assert out[0] == pytest.approx(0.0, abs=1e-9) and out[2] == pytest.approx(1.0)
    assert out[1] == pytest.approx(np.log(2) / np.log(3)) and 0.0 < out[3] < 1.0


def test_single_class_scores_zero() -> None:
    for f in (least_confidence, margin, entropy):
        assert list(f([[1.0], [1.0]])) == [0.0, 0.0]


def test_k_center_greedy_spreads_out() -> None:
    pool = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0], [0.0, 10.0]])
    picked = k_center_greedy(pool, np.array([[0.0, 0.0]]), 3)
    assert picked[0] == 3 and picked[1] == 4  # the farthest from what is labeled, then from that
    assert len(set(picked)) == 3 and 0 not in picked  # the point already labeled is never worth taking


def test_k_center_without_labels_and_k_larger_than_pool() -> None:
    pool = np.eye(3)
    assert sorted(k_center_greedy(pool, np.zeros((0, 3)), 10)) == [0, 1, 2]
    assert k_center_greedy(pool, np.zeros((0, 3)), 0) == []


def test_hybrid_prefers_uncertain_and_diverse() -> None:
    pool = np.array([[0.0, 0.0], [0.01, 0.0], [5.0, 5.0], [9.0, 9.0]])
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.55, 0.45], [0.99, 0.01]])
    picked = hybrid(pool, np.zeros((0, 2)), probs, 2, candidates_factor=1)
    assert 3 not in picked  # certain: not a candidate
    picked = hybrid(pool, np.zeros((0, 2)), probs, 2, candidates_factor=2)
    assert set(picked) != {0, 1}  # the two uncertain twins are not both taken


def test_rank_scores() -> None:
    scores = rank_scores([2, 0], 3)
    assert scores[2] > scores[0] > scores[1] == 0.0
