"""The model plugin contract: ``setup()`` once, ``predict(items)`` in batches, optional ``fit(accepted)``.

Pure types only (no I/O, no heavy imports): implementations live in ``annotary_preannotate.models``.
A plugin declares what it can do in :class:`Capabilities`; the service asks it for nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

Region = dict[str, Any]


@dataclass(frozen=True)
class Capabilities:
    modality: str                      # the item modality it reads: text | image | audio | video
    tools: tuple[str, ...]             # the region types it produces, e.g. ("choice",)
    trainable: bool = False            # fit() is implemented
    batch_size: int = 64               # how many items one predict() call should get
    needs_embedding: bool = False      # it reads PredictItem.embedding (the service caches them)


@dataclass(frozen=True)
class PredictItem:
    item_id: str
    text: str = ""
    image: Any = None                  # decoded pixels (numpy array) for image plugins
    embedding: Any = None              # a cached feature vector (numpy array) when the plugin needs one
    audio: Any = None                  # decoded mono samples in [-1, 1] (float32 numpy array) for audio plugins
    sample_rate: int = 0               # of ``audio``; audio plugins return segments in seconds:
    #   {"type": "segment", "label", "start", "end", "text"} with "text" the transcript ("" when none)
    media_uri: str = ""                # where a remote model can fetch the media (images, audio, video)


@dataclass(frozen=True)
class ItemPrediction:
    item_id: str
    model_version: str
    result: list[Region]
    score: float                       # confidence in ``result`` (0..1)
    probabilities: tuple[float, ...] = ()   # per class, for active-learning scores
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """One accepted annotation as training data."""
    item_id: str
    result: list[Region]
    text: str = ""
    image: Any = None
    embedding: Any = None


@dataclass(frozen=True)
class FitReport:
    training_items: int
    classes: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


class ModelPlugin(ABC):
    """A model: ``setup()`` loads weights once, ``predict`` handles a batch, ``fit`` returns a new model.

    ``model_version`` names exactly the weights ``predict`` uses; a prediction carries it so every
    pre-label can be traced to the model (and, through the registry, to its training data).
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, model_version: str) -> None:
        self.model_version = model_version

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Load weights and pick the device (CUDA when present, else CPU); called once before predict."""

    @abstractmethod
    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        """One prediction per item, in order."""

    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[ModelPlugin, FitReport]:
        """Train a new model on accepted data; the receiver is left unchanged. Only when ``trainable``."""
        raise NotImplementedError(f"{self.name} cannot be trained")

    def dumps(self) -> bytes:
        """The weights as bytes (stored in the object store by the registry)."""
        raise NotImplementedError(f"{self.name} has no weights to store")


class NotEnoughData(ValueError):
    """fit() was given too little (or too uniform) data to train anything."""
