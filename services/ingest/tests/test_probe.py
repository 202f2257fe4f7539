"""Audio and video items: ingest probes duration, fps, frame count, picture size and sample rate (PyAV)."""

from __future__ import annotations

import io
import struct
import wave

import av
import numpy as np

from annotary_ingest.domain.content import describe_media
from annotary_ingest.domain.items import check_item
from annotary_ingest.domain.probe import probe_media
from annotary_ingest.domain.source import RawItem


def wav(seconds: float, rate: int = 8000, channels: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{int(seconds * rate) * channels}h", *([0] * int(seconds * rate) * channels)))
    return out.getvalue()


def webm(frames: int, fps: int, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.full((size[1], size[0], 3), i * 10 % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_wav_gets_its_duration_and_sample_rate() -> None:
    data = wav(1.5)
    content = describe_media(check_item(RawItem(data=data, filename="a.wav")), data)
    assert (content.modality, content.media_type, content.extension) == ("audio", "audio/wav", ".wav")
    assert content.meta == {"duration": 1.5, "sample_rate": 8000, "channels": 2}
    assert (content.width, content.height) == (0, 0)


def test_a_webm_gets_fps_frame_count_and_size() -> None:
    data = webm(frames=12, fps=24)
    content = describe_media(check_item(RawItem(data=data, filename="clip.webm")), data)
    assert (content.modality, content.media_type) == ("video", "video/webm")
    assert content.meta["fps"] == 24 and content.meta["frame_count"] == 12
    assert content.meta["duration"] == 0.5
    assert (content.width, content.height) == (64, 48)


def test_media_ffmpeg_cannot_read_is_kept_without_facts() -> None:
    assert probe_media(b"RIFF\x00\x00\x00\x00WAVEjunk", "audio").meta == {}
    content = describe_media(check_item(RawItem(data=b"\x00\x01", filename="x.bin", modality="video")), b"\x00\x01")
    assert content.meta == {} and content.modality == "video"
