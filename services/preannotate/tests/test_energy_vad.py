"""The audio segment contract with a real plugin: energy-based voice activity detection on a generated WAV."""

from __future__ import annotations

import io
import math
import struct
import wave

import pytest

from annotary_preannotate.domain.plugin import PredictItem
from annotary_preannotate.models import PLUGINS, load_plugin
from annotary_preannotate.models.energy_vad import EnergyVAD, decode_audio

RATE = 16_000


def tone_bursts(bursts: list[tuple[float, float]], seconds: float = 3.0) -> bytes:
    def level(i: int) -> int:
        t = i / RATE
        loud = any(a <= t < b for a, b in bursts)
        return int((9000 if loud else 20) * math.sin(2 * math.pi * 300 * t))

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{int(seconds * RATE)}h", *(level(i) for i in range(int(seconds * RATE)))))
    return out.getvalue()


def test_vad_finds_the_loud_parts_as_segments_with_empty_transcripts() -> None:
    samples, rate = decode_audio(tone_bursts([(0.5, 1.2), (1.3, 1.6), (2.2, 2.8)]))
    assert rate == RATE and len(samples) == 3 * RATE
    plugin = EnergyVAD("vad-1")
    [prediction] = plugin.predict([PredictItem("i1", audio=samples, sample_rate=rate)])
    assert prediction.model_version == "vad-1"
    starts_ends = [t for r in prediction.result for t in (r["start"], r["end"])]
    assert starts_ends == pytest.approx([0.5, 1.6, 2.2, 2.8], abs=0.03)  # the 0.1 s gap is bridged
    assert all(r["type"] == "segment" and r["label"] == "speech" and r["text"] == "" for r in prediction.result)
    assert PLUGINS[EnergyVAD.name] is EnergyVAD
    assert load_plugin(EnergyVAD.name, plugin.dumps(), "vad-1").dumps() == plugin.dumps()


def test_silence_gives_no_segments_and_text_items_are_refused() -> None:
    samples, rate = decode_audio(tone_bursts([]))
    assert EnergyVAD("v").predict([PredictItem("s", audio=samples * 0, sample_rate=rate)])[0].result == []
    with pytest.raises(ValueError, match="needs decoded audio"):
        EnergyVAD("v").predict([PredictItem("t", text="hello")])
