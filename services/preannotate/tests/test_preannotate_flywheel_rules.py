"""Flywheel rules, labels and the text classifier on a stand-in encoder (no services, no torch)."""

from __future__ import annotations

import math

import pytest

from annotary_preannotate.domain.flywheel import (
    Evaluation,
    better,
    evaluate,
    is_heldout,
    lineage_digest,
    majority_baseline,
    retrain_due,
)
from annotary_preannotate.domain.labels import choice_result, choice_target
from annotary_preannotate.domain.plugin import Accepted, NotEnoughData, PredictItem
from annotary_preannotate.models.text_choice import Encoder, TextChoiceClassifier


def test_retrain_due_every_n() -> None:
    assert [retrain_due(n, 0, 3) for n in range(1, 5)] == [False, False, True, True]
    assert not retrain_due(5, 3, 3) and retrain_due(6, 3, 3)
    assert not retrain_due(100, 0, 0)  # 0 turns the flywheel off


def test_heldout_is_stable_and_about_the_fraction() -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(2000)]
    held = [is_heldout(i, 0.2) for i in ids]
    assert held == [is_heldout(i, 0.2) for i in ids]
    assert 0.17 < sum(held) / len(held) < 0.23
    assert not any(is_heldout(i, 0.0) for i in ids[:50])


def test_evaluate_and_better() -> None:
    e = evaluate(["a", "b", "a"], ["a", "a", "a"], [0.9, 0.2, 0.8])
    assert e.accuracy == pytest.approx(2 / 3) and e.items == 3
    assert e.log_loss == pytest.approx(-(math.log(0.9) + math.log(0.2) + math.log(0.8)) / 3)
    assert better(Evaluation(0.8, 0.5, 10), Evaluation(0.7, 0.1, 10))
    assert not better(Evaluation(0.7, 0.5, 10), Evaluation(0.8, 0.1, 10))
    assert better(Evaluation(0.8, 0.4, 10), Evaluation(0.8, 0.5, 10))   # tie on accuracy: log loss decides
    assert not better(Evaluation(0.8, 0.5, 10), Evaluation(0.8, 0.5, 10))
    assert better(Evaluation(0.1, 9.0, 1), None)


def test_majority_baseline() -> None:
    e = majority_baseline(["pos", "pos", "neg"], ["pos", "neg"])
    assert e.accuracy == 0.5 and e.log_loss == pytest.approx(-(math.log(2 / 3) + math.log(1 / 3)) / 2)


def test_lineage_digest_ignores_order() -> None:
    assert lineage_digest(["b", "a"]) == lineage_digest(["a", "b"]) != lineage_digest(["a"])


def test_choice_target() -> None:
    result = [{"type": "span", "label": "X", "start": 0, "end": 1},
              {"type": "choice", "name": "sentiment", "value": "pos"},
              {"type": "choice", "name": "topic", "value": "film"}]
    assert choice_target(result) == ("sentiment", "pos")
    assert choice_target(result, "topic") == ("topic", "film")
    assert choice_target([{"type": "choice", "name": "s", "value": ""}]) is None
    assert choice_target({"type": "choice"}) is None
    assert choice_result("s", "pos", 0.91234) == [{"type": "choice", "name": "s", "value": "pos", "score": 0.9123}]


GOOD = ["great wonderful film", "loved it wonderful", "great acting loved", "wonderful great story"]
BAD = ["awful boring film", "hated it boring", "awful acting hated", "boring awful story"]


def _accepted() -> list[Accepted]:
    return [Accepted(f"g{i}", [{"type": "choice", "name": "sentiment", "value": "pos"}], t)
            for i, t in enumerate(GOOD)] + [
        Accepted(f"b{i}", [{"type": "choice", "name": "sentiment", "value": "neg"}], t) for i, t in enumerate(BAD)]


def test_text_classifier_fits_predicts_and_round_trips(encoder: Encoder) -> None:
    bow_encoder = encoder
    base = TextChoiceClassifier("untrained", encoder=bow_encoder, c=10.0)
    model, report = base.fit(_accepted(), "m@p/v1")
    assert report.training_items == 8 and report.classes == ("neg", "pos")
    assert report.details["class_counts"] == {"neg": 4, "pos": 4}
    items = [PredictItem("x", "a wonderful great film"), PredictItem("y", "boring awful hated it")]
    preds = model.predict(items)
    assert [p.result[0]["value"] for p in preds] == ["pos", "neg"]
    assert all(p.model_version == "m@p/v1" and 0.5 < p.score <= 1 and p.classes == ("neg", "pos") for p in preds)
    assert preds[0].result[0]["name"] == "sentiment"
    assert sum(preds[0].probabilities) == pytest.approx(1.0)
    again = TextChoiceClassifier.loads(model.dumps(), "m@p/v1", bow_encoder)
    assert [v for p in again.predict(items) for v in p.probabilities] == pytest.approx(
        [v for p in preds for v in p.probabilities])
    # cached embeddings are used as they are
    emb = bow_encoder(["a wonderful great film"])[0]
    assert model.predict([PredictItem("x", "", embedding=emb)])[0].probabilities == pytest.approx(
        preds[0].probabilities)


def test_text_classifier_needs_two_classes(encoder: Encoder) -> None:
    bow_encoder = encoder
    with pytest.raises(NotEnoughData, match="two classes"):
        TextChoiceClassifier("u", encoder=bow_encoder).fit(_accepted()[:4], "v")
    assert TextChoiceClassifier.capabilities.trainable and TextChoiceClassifier.capabilities.tools == ("choice",)


def test_heavy_libraries_are_not_imported() -> None:
    """Importing the service (and its plugins) loads neither torch nor sentence-transformers: they load
    on the first embedding. Checked in a fresh interpreter, since other tests in the session may import them."""
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, annotary_preannotate\n"
        "for m in pkgutil.walk_packages(annotary_preannotate.__path__, 'annotary_preannotate.'):\n"
        "    importlib.import_module(m.name)\n"
        "heavy = [n for n in ('torch', 'sentence_transformers', 'transformers') if n in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
