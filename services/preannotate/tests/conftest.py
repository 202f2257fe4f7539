"""Fixtures: a deterministic bag-of-words encoder standing in for MiniLM (no torch needed)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

DIM = 64


def bow_encoder(texts: Sequence[str]) -> NDArray[np.float32]:
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(",", " ").replace(".", " ").split():
            out[i, zlib.crc32(word.encode()) % DIM] += 1.0
        norm = np.linalg.norm(out[i])
        if norm:
            out[i] /= norm
    return out


@pytest.fixture()
def encoder() -> object:
    return bow_encoder
