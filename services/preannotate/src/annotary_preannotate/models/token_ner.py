"""NER as a small token-classification model trained on accepted spans (BIO tags, logistic regression on
word-shape features; scikit-learn imported lazily). Offsets are Unicode code points of the original text."""

from __future__ import annotations

import pickle
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from annotary_preannotate.domain.plugin import (
    Accepted,
    Capabilities,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
)

TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in TOKEN.finditer(text)]


def features(text: str, spans: list[tuple[int, int]], i: int) -> dict[str, Any]:
    word = text[spans[i][0]:spans[i][1]]
    prev = text[spans[i - 1][0]:spans[i - 1][1]] if i > 0 else "<s>"
    nxt = text[spans[i + 1][0]:spans[i + 1][1]] if i + 1 < len(spans) else "</s>"
    return {"w": word.lower(), "suf3": word[-3:].lower(), "title": word.istitle(), "upper": word.isupper(),
            "digit": word.isdigit(), "p": prev.lower(), "n": nxt.lower(), "p_title": prev.istitle(),
            "n_title": nxt.istitle(), "first": i == 0}


def bio_tags(text: str, spans: list[tuple[int, int]], regions: Sequence[dict[str, Any]]) -> list[str]:
    tags = ["O"] * len(spans)
    for region in regions:
        if region.get("type") != "span":
            continue
        start, end, label = region.get("start"), region.get("end"), region.get("label")
        if not isinstance(start, int) or not isinstance(end, int) or not isinstance(label, str):
            continue
        inside = [i for i, (s, e) in enumerate(spans) if s >= start and e <= end]
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + label
    return tags


def decode_spans(offsets: Sequence[tuple[int, int]], probs: Any, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Span regions from per-token BIO tag probabilities (one row per token, columns in ``classes`` order): a
    B- tag (or an I- tag that does not continue the current label) starts a span, I- extends it; each span's
    score is its least confident token."""
    regions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for (s, e), p in zip(offsets, probs, strict=True):
        best = int(p.argmax())
        tag, confidence = classes[best], float(p[best])
        label = tag[2:]
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or current["label"] != label)):
            current = {"type": "span", "label": label, "start": s, "end": e, "score": confidence}
            regions.append(current)
        elif tag.startswith("I-") and current is not None:
            current["end"] = e
            current["score"] = min(current["score"], confidence)
        else:
            current = None
    for region in regions:
        region["score"] = round(region["score"], 4)
    return regions


class TokenNER(ModelPlugin):
    name: ClassVar[str] = "token-ner-logreg"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="text", tools=("span",), trainable=True,
                                                        batch_size=256)

    def __init__(self, model_version: str, pipeline: Any = None) -> None:
        super().__init__(model_version)
        self._pipeline = pipeline

    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[TokenNER, FitReport]:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        x: list[dict[str, Any]] = []
        y: list[str] = []
        for example in accepted:
            spans = tokens(example.text)
            x += [features(example.text, spans, i) for i in range(len(spans))]
            y += bio_tags(example.text, spans, example.result)
        if len(set(y) - {"O"}) < 1 or len(set(y)) < 2:
            raise NotEnoughData("need accepted spans (and tokens outside them) to train")
        pipeline = make_pipeline(DictVectorizer(), LogisticRegression(max_iter=1000, C=5.0))
        pipeline.fit(x, y)
        labels = sorted({t[2:] for t in y if t != "O"})
        return TokenNER(model_version, pipeline), FitReport(len(accepted), tuple(labels), {"tokens": len(y)})

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        if self._pipeline is None:
            raise RuntimeError(f"{self.model_version} is not trained")
        out = []
        for item in items:
            spans = tokens(item.text)
            regions: list[dict[str, Any]] = []
            if spans:
                probs = self._pipeline.predict_proba([features(item.text, spans, i) for i in range(len(spans))])
                regions = decode_spans(spans, probs, list(self._pipeline.classes_))
            score = min((r["score"] for r in regions), default=1.0)
            out.append(ItemPrediction(item.item_id, self.model_version, regions, float(score)))
        return out

    def dumps(self) -> bytes:
        # scikit-learn objects have no portable format; the registry stores only what this service wrote.
        return pickle.dumps(self._pipeline)
