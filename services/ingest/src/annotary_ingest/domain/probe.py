"""What an audio or video file holds: duration, frame rate, frame count, picture size, sample rate.

Probed with PyAV (FFmpeg's demuxers, no decoding of the stream data), so every container FFmpeg reads works:
wav, mp3, ogg, flac, m4a, opus, mp4, webm, mkv, mov, avi. The facts go into the item's ``meta`` (the import's
own ``meta`` wins on a clash), where the workspace reads ``fps`` to number frames. A file FFmpeg cannot read
gives no facts; the item is still stored (the browser may still play it).
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaFacts:
    meta: dict[str, Any]
    width: int = 0
    height: int = 0


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None or value <= 0:
        return None
    return float(value * time_base)


def probe_media(data: bytes, modality: str) -> MediaFacts:
    """Facts of an audio or video file; empty facts when FFmpeg cannot read it."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            duration = container.duration / 1_000_000 if container.duration and container.duration > 0 else None
            meta: dict[str, Any] = {}
            width = height = 0
            if modality == "video" and container.streams.video:
                video = container.streams.video[0]
                rate = video.average_rate or video.base_rate or video.guessed_rate
                duration = _seconds(video.duration, video.time_base) or duration
                if rate and rate > 0:
                    meta["fps"] = round(float(rate), 6)
                frames = video.frames
                if not frames and duration and rate:
                    frames = math.floor(duration * float(rate) + 0.5)
                if frames:
                    meta["frame_count"] = int(frames)
                width, height = video.codec_context.width, video.codec_context.height
            if container.streams.audio:
                audio = container.streams.audio[0]
                if audio.sample_rate:
                    meta["sample_rate"] = int(audio.sample_rate)
                if audio.channels:
                    meta["channels"] = int(audio.channels)
                if modality == "audio":
                    duration = _seconds(audio.duration, audio.time_base) or duration
            if duration:
                meta["duration"] = round(duration, 6)
            return MediaFacts(meta=meta, width=max(0, width), height=max(0, height))
    except (av.FFmpegError, ValueError, IndexError) as exc:
        log.debug("media not probed", extra={"reason": str(exc)})
        return MediaFacts(meta={})
