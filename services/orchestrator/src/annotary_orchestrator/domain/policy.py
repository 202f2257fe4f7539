"""A project's policy (DESIGN.md "Public formats": Policy, plus the assignment limits) and its validation."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_OVERLAP = 100
MIN_LEASE_SECONDS = 10
MAX_LEASE_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_ACTIVE = 10
MAX_ACTIVE_LIMIT = 1000
MAX_QUALIFICATION_ITEMS = 10_000
_REVIEW_RE = re.compile(r"^(none|disagreements|all|sample:(?P<p>[0-9]*\.?[0-9]+))$")


class InvalidPolicy(ValueError):
    """A policy field out of range; ``field`` names it (e.g. ``policy.overlap``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Policy:
    overlap: int = 1
    lease_seconds: int = 600
    agreement_threshold: float = 0.0
    gold_ratio: float = 0.0
    gold_min_accuracy: float = 0.0
    review: str = "none"
    max_active_per_annotator: int = DEFAULT_MAX_ACTIVE  # leases one annotator may hold at once
    max_items_per_annotator: int = 0                    # submissions one annotator may make (0 = no cap)
    qualification_items: int = 0                        # gold items to submit before regular work (0 = none)
    qualification_min_accuracy: float = 0.0             # qa's business; stored for the record

    def validated(self) -> Policy:
        """Return self, or raise :class:`InvalidPolicy` naming the first broken field."""
        if not 1 <= self.overlap <= MAX_OVERLAP:
            raise InvalidPolicy("policy.overlap", f"must be between 1 and {MAX_OVERLAP}, got {self.overlap}")
        if not MIN_LEASE_SECONDS <= self.lease_seconds <= MAX_LEASE_SECONDS:
            raise InvalidPolicy("policy.lease_seconds", f"must be between {MIN_LEASE_SECONDS} and "
                                                        f"{MAX_LEASE_SECONDS}, got {self.lease_seconds}")
        for name in ("agreement_threshold", "gold_ratio", "gold_min_accuracy", "qualification_min_accuracy"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidPolicy(f"policy.{name}", f"must be between 0 and 1, got {value}")
        match = _REVIEW_RE.match(self.review)
        if match is None or (match["p"] is not None and float(match["p"]) > 1.0):
            raise InvalidPolicy("policy.review", f"must be none, disagreements, all or sample:<p> with p in 0..1, "
                                                 f"got {self.review!r}")
        if not 1 <= self.max_active_per_annotator <= MAX_ACTIVE_LIMIT:
            raise InvalidPolicy("policy.max_active_per_annotator",
                                f"must be between 1 and {MAX_ACTIVE_LIMIT} (0 means {DEFAULT_MAX_ACTIVE}), "
                                f"got {self.max_active_per_annotator}")
        if self.max_items_per_annotator < 0:
            raise InvalidPolicy("policy.max_items_per_annotator",
                                f"must be 0 (no cap) or more, got {self.max_items_per_annotator}")
        if not 0 <= self.qualification_items <= MAX_QUALIFICATION_ITEMS:
            raise InvalidPolicy("policy.qualification_items",
                                f"must be between 0 and {MAX_QUALIFICATION_ITEMS}, got {self.qualification_items}")
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Policy:
        """Read a stored policy; unknown keys are ignored, missing ones take the defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})
