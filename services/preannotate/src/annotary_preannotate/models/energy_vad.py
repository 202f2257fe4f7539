"""Energy-based voice activity detection: audio segments with an empty transcript.

A small, real, parameter-only audio plugin for the segment contract (``PredictItem.audio`` in,
``{"type": "segment", "label", "start", "end", "text"}`` out). No speech recogniser ships with Annotary
(none can be had offline), so ``text`` is empty: an ASR plugin fills it through the same contract, and the
workspace shows it as the segment's transcript, ready to correct. Frames of ``frame_ms`` whose RMS level is
within ``threshold_db`` of the loudest frame are active; gaps shorter than ``min_gap_s`` are bridged and
segments shorter than ``min_segment_s`` dropped.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from annotary_preannotate.domain.plugin import Capabilities, ItemPrediction, ModelPlugin, PredictItem


def decode_audio(data: bytes) -> tuple[NDArray[np.float32], int]:
    """Mono float32 samples and their rate from any file FFmpeg reads (PyAV, imported here only)."""
    import av

    chunks: list[NDArray[np.float32]] = []
    rate = 0
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono")
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                rate = out.sample_rate
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32))
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.float32)), rate


class EnergyVAD(ModelPlugin):
    name: ClassVar[str] = "audio-energy-vad"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="audio", tools=("segment",), batch_size=8)

    def __init__(self, model_version: str, label: str = "speech", frame_ms: float = 20.0, threshold_db: float = -30.0,
                 min_gap_s: float = 0.2, min_segment_s: float = 0.1) -> None:
        super().__init__(model_version)
        self.label, self.frame_ms, self.threshold_db = label, frame_ms, threshold_db
        self.min_gap_s, self.min_segment_s = min_gap_s, min_segment_s

    def segments(self, samples: NDArray[np.float32], rate: int) -> list[tuple[float, float]]:
        hop = max(1, int(rate * self.frame_ms / 1000))
        n = len(samples) // hop
        if n == 0 or rate <= 0:
            return []
        frames = samples[: n * hop].astype(np.float64).reshape(n, hop)
        rms = np.sqrt(np.mean(frames**2, axis=1))
        peak = float(rms.max())
        if peak <= 1e-6:
            return []
        active = 20 * np.log10(np.maximum(rms, 1e-12) / peak) >= self.threshold_db
        found: list[tuple[float, float]] = []
        start: int | None = None
        for i, on in enumerate([*active.tolist(), False]):
            if on and start is None:
                start = i
            elif not on and start is not None:
                found.append((start * hop / rate, i * hop / rate))
                start = None
        merged: list[tuple[float, float]] = []
        for s, e in found:
            if merged and s - merged[-1][1] < self.min_gap_s:
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return [(round(s, 3), round(e, 3)) for s, e in merged if e - s >= self.min_segment_s]

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        out = []
        for item in items:
            if item.audio is None or item.sample_rate <= 0:
                raise ValueError(f"{item.item_id}: {self.name} needs decoded audio (PredictItem.audio, sample_rate)")
            found = self.segments(np.asarray(item.audio, dtype=np.float32), item.sample_rate)
            result: list[dict[str, Any]] = [{"type": "segment", "label": self.label, "start": s, "end": e, "text": ""}
                                            for s, e in found]
            out.append(ItemPrediction(item.item_id, self.model_version, result, score=0.5 if found else 0.0))
        return out

    def dumps(self) -> bytes:
        return json.dumps({"label": self.label, "frame_ms": self.frame_ms, "threshold_db": self.threshold_db,
                           "min_gap_s": self.min_gap_s, "min_segment_s": self.min_segment_s}).encode()

    @classmethod
    def loads(cls, data: bytes, model_version: str) -> EnergyVAD:
        return cls(model_version, **json.loads(data))
