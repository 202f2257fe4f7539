"""The NER plugin: a token classifier trained on accepted spans predicts spans on new text."""

from __future__ import annotations

import pytest

from annotary_preannotate.domain.plugin import Accepted, NotEnoughData, PredictItem
from annotary_preannotate.models.token_ner import TokenNER, bio_tags, tokens

PEOPLE = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Torvalds", "Barbara Liskov", "Edsger Dijkstra"]
ORGS = ["Acme Corp", "Globex", "Initech", "Umbrella Labs"]


def example(i: int) -> Accepted:
    person, org = PEOPLE[i % len(PEOPLE)], ORGS[i % len(ORGS)]
    text = f"Yesterday {person} joined {org} as an engineer."
    p0 = text.index(person)
    o0 = text.index(org)
    return Accepted(str(i), [{"type": "span", "label": "PERSON", "start": p0, "end": p0 + len(person)},
                             {"type": "span", "label": "ORG", "start": o0, "end": o0 + len(org)}], text)


def test_bio_tags() -> None:
    text = "Ada Lovelace wrote."
    assert tokens(text) == [(0, 3), (4, 12), (13, 18), (18, 19)]
    assert bio_tags(text, tokens(text), [{"type": "span", "label": "PER", "start": 0, "end": 12}]) == [
        "B-PER", "I-PER", "O", "O"]


def test_fit_and_predict_spans() -> None:
    model, report = TokenNER("untrained").fit([example(i) for i in range(24)], "ner@p/v1")
    assert report.classes == ("ORG", "PERSON")
    text = "Yesterday Grace Hopper joined Initech as an engineer."
    [pred] = model.predict([PredictItem("x", text)])
    spans = {(r["label"], text[r["start"]:r["end"]]) for r in pred.result}
    assert spans == {("PERSON", "Grace Hopper"), ("ORG", "Initech")}
    assert pred.model_version == "ner@p/v1" and 0 < pred.score <= 1
    assert model.predict([PredictItem("y", "")])[0].result == []


def test_needs_spans() -> None:
    with pytest.raises(NotEnoughData):
        TokenNER("u").fit([Accepted("1", [], "no entities here")], "v")
