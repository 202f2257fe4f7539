"""The review part of a project's quality policy: "none" | "disagreements" | "sample:<p>" | "all"."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

REVIEW_MODES: tuple[str, ...] = ("none", "disagreements", "sample:<p>", "all")
DEFAULT_REVIEW = "disagreements"


class PolicyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ReviewPolicy:
    mode: str  # none | disagreements | sample | all
    sample_rate: float = 0.0

    @property
    def text(self) -> str:
        return f"sample:{self.sample_rate:g}" if self.mode == "sample" else self.mode

    def samples(self, key: str) -> bool:
        """Whether an agreed item is drawn for review anyway; deterministic in ``key`` (item and round)."""
        if self.mode != "sample" or self.sample_rate <= 0:
            return False
        draw = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
        return draw < self.sample_rate


def parse_review(text: str) -> ReviewPolicy:
    """Parse the policy's ``review``; an empty string means the default, "disagreements"."""
    value = text.strip() or DEFAULT_REVIEW
    if value in ("none", "disagreements", "all"):
        return ReviewPolicy(value)
    if value.startswith("sample:"):
        try:
            rate = float(value.removeprefix("sample:"))
        except ValueError:
            rate = math.nan
        if math.isfinite(rate) and 0.0 <= rate <= 1.0:
            return ReviewPolicy("sample", rate)
        raise PolicyError("review", f"{value!r} needs a probability between 0 and 1 after 'sample:', e.g. 'sample:0.1'")
    raise PolicyError("review", f"{value!r} is not allowed (allowed: {', '.join(REVIEW_MODES)})")


def check_fraction(field: str, value: float) -> float:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise PolicyError(field, f"must be between 0 and 1, got {value!r}")
    return value


def check_threshold(value: float) -> float:
    return check_fraction("agreement_threshold", value)
