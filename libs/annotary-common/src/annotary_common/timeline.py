"""Time ranges cut into UTC hour or day buckets, shared by the dashboards' aggregates (orchestrator, qa) and the
gateway that merges them. A range is ``[start, end)``; bucket starts are aligned like Postgres'
``date_trunc(bucket, at, 'UTC')``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

BUCKETS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = 2000  # ~83 days by the hour, ~5.5 years by the day


class BadRange(ValueError):
    """A range or bucket that cannot be aggregated; the message names the field."""


def truncate(at: datetime, bucket: str) -> datetime:
    """The start of the UTC bucket holding ``at``."""
    at = at.astimezone(UTC)
    if bucket == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime
    bucket: str

    @classmethod
    def checked(cls, start: datetime, end: datetime, bucket: str) -> TimeRange:
        """The range, or BadRange naming what is wrong (naive datetimes are taken as UTC)."""
        if bucket not in BUCKETS:
            raise BadRange(f"bucket must be one of {', '.join(BUCKETS)}, got {bucket!r}")
        start, end = _aware(start), _aware(end)
        if end <= start:
            raise BadRange(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
        rng = cls(start, end, bucket)
        count = len(rng.bucket_starts())
        if count > MAX_BUCKETS:
            raise BadRange(f"the range holds {count} {bucket} buckets; at most {MAX_BUCKETS} (use a wider bucket)")
        return rng

    @classmethod
    def from_proto(cls, start: Timestamp, end: Timestamp, bucket: str) -> TimeRange:
        return cls.checked(start.ToDatetime(tzinfo=UTC), end.ToDatetime(tzinfo=UTC), bucket)

    @property
    def step(self) -> timedelta:
        return BUCKETS[self.bucket]

    def bucket_starts(self) -> list[datetime]:
        """Every bucket that overlaps the range, oldest first."""
        out, at = [], truncate(self.start, self.bucket)
        while at < self.end:
            out.append(at)
            at += self.step
        return out

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts
