"""Text classification (a single choice) on MiniLM sentence embeddings with a logistic-regression head.

Prediction needs only numpy and the embeddings (cached by the service); the encoder is loaded only when an
item comes without one. ``fit`` retrains the head on accepted labels (scikit-learn, imported lazily).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from annotary_preannotate.domain.labels import choice_result, choice_target
from annotary_preannotate.domain.plugin import (
    Accepted,
    Capabilities,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
)

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]


def _default_encoder(texts: Sequence[str]) -> NDArray[np.float32]:
    from annotary_preannotate.models.embeddings import MiniLMEncoder

    return MiniLMEncoder.shared().encode(texts)


class TextChoiceClassifier(ModelPlugin):
    name: ClassVar[str] = "text-choice-minilm-logreg"
    capabilities: ClassVar[Capabilities] = Capabilities(
        modality="text", tools=("choice",), trainable=True, batch_size=128, needs_embedding=True)

    def __init__(self, model_version: str, choice_name: str = "", classes: Sequence[str] = (),
                 coef: NDArray[np.float64] | None = None, intercept: NDArray[np.float64] | None = None,
                 encoder: Encoder | None = None, c: float = 1.0) -> None:
        super().__init__(model_version)
        self.choice_name = choice_name
        self.classes = tuple(classes)
        self.coef = coef
        self.intercept = intercept
        self.c = c
        self._encoder = encoder or _default_encoder

    # -- predict -----------------------------------------------------------------------------
    def _embed(self, items: Sequence[PredictItem]) -> NDArray[np.float32]:
        missing = [i for i, item in enumerate(items) if item.embedding is None]
        fresh = self._encoder([items[i].text for i in missing]) if missing else None
        rows: list[NDArray[np.float32]] = []
        j = 0
        for item in items:
            if item.embedding is None:
                assert fresh is not None
                rows.append(fresh[j])
                j += 1
            else:
                rows.append(np.asarray(item.embedding, dtype=np.float32))
        return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def probabilities(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        if self.coef is None or self.intercept is None:
            raise RuntimeError(f"{self.model_version} is not trained")
        z = x.astype(np.float64) @ self.coef.T + self.intercept
        if len(self.classes) == 2 and z.shape[1] == 1:   # scikit-learn's binary form
            z = np.hstack([-z, z]) / 2.0
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        if not items:
            return []
        probs = self.probabilities(self._embed(items))
        out = []
        for item, p in zip(items, probs, strict=True):
            best = int(np.argmax(p))
            value, score = self.classes[best], float(p[best])
            out.append(ItemPrediction(item.item_id, self.model_version, choice_result(self.choice_name, value, score),
                                      score, tuple(float(v) for v in p), self.classes))
        return out

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[TextChoiceClassifier, FitReport]:
        from sklearn.linear_model import LogisticRegression

        choice_name = self.choice_name or None
        targets: list[tuple[Accepted, str]] = []
        for example in accepted:
            target = choice_target(example.result, choice_name)
            if target is None:
                continue
            choice_name = choice_name or target[0]
            targets.append((example, target[1]))
        labels = [t for _, t in targets]
        if len(set(labels)) < 2:
            raise NotEnoughData(f"need at least two classes to train, got {sorted(set(labels))}")
        x = self._embed([PredictItem(a.item_id, a.text, embedding=a.embedding) for a, _ in targets])
        clf = LogisticRegression(C=self.c, max_iter=1000)
        clf.fit(x, labels)
        model = TextChoiceClassifier(model_version, choice_name or "", [str(c) for c in clf.classes_],
                                     np.asarray(clf.coef_, dtype=np.float64),
                                     np.asarray(clf.intercept_, dtype=np.float64), self._encoder, self.c)
        counts = {c: labels.count(c) for c in model.classes}
        return model, FitReport(len(targets), model.classes, {"class_counts": counts, "C": self.c})

    # -- weights -----------------------------------------------------------------------------
    def dumps(self) -> bytes:
        if self.coef is None or self.intercept is None:
            raise RuntimeError("nothing to store: not trained")
        buf = io.BytesIO()
        np.savez(buf, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes, dtype=str),
                 choice_name=np.array(self.choice_name, dtype=str), encoder=np.array("all-MiniLM-L6-v2", dtype=str))
        return buf.getvalue()

    @classmethod
    def loads(cls, data: bytes, model_version: str, encoder: Encoder | None = None) -> TextChoiceClassifier:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return cls(model_version, str(z["choice_name"]), [str(c) for c in z["classes"]],
                       z["coef"], z["intercept"], encoder)
