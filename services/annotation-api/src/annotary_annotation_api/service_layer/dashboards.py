"""The dashboards' figures: the orchestrator's work timeline and qa's quality timeline (both per bucket) merged into
one project view and one annotator view. Pure functions of the two replies; no I/O.

Definitions (also in docs/rest-api.md): throughput is submissions per bucket (``per_hour`` = submissions in the
range / the range's hours); time per task is lease to submit (median and p95 over the tasks submitted in the range);
agreement is the mean of the decided items' agreement; gold accuracy the mean score of gold submissions; the
rejection rate of the project is rejected decisions / decisions, the review rate decisions not settled by
consensus / decisions; an annotator's rejection rate is rejected / closed regular submissions."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from annotary.orchestrator.v1 import dashboards_pb2 as work_pb2
from annotary.qa.v1 import dashboards_pb2 as quality_pb2
from annotary_common.timeline import TimeRange

COMPARED = ("per_hour", "median_ms", "p95_ms", "gold_accuracy", "agreement", "rejection_rate")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


class _Tally:
    """Counts and sums of one subject, in total and per bucket index."""

    def __init__(self, buckets: int) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.series: list[dict[str, float]] = [defaultdict(float) for _ in range(buckets)]

    def add(self, index: int | None, **figures: float) -> None:
        for key, value in figures.items():
            self.total[key] += value
            if index is not None:
                self.series[index][key] += value


class Merger:
    def __init__(self, rng: TimeRange, work: work_pb2.GetWorkTimelineResponse,
                 quality: quality_pb2.GetQualityTimelineResponse, names: Mapping[str, str]) -> None:
        self.rng = rng
        self.starts = rng.bucket_starts()
        self.index = {b: i for i, b in enumerate(self.starts)}
        self.work = work
        self.quality = quality
        self.names = names
        n = len(self.starts)
        self.by_annotator: dict[str, _Tally] = defaultdict(lambda: _Tally(n))
        self.by_type: dict[str, _Tally] = defaultdict(lambda: _Tally(n))
        self.project = _Tally(n)
        for t in work.throughput:
            i = self._at(t.bucket_start)
            self.by_annotator[t.annotator_id].add(i, submissions=t.submissions)
            self.by_type[t.task_type].add(i, submissions=t.submissions)
            self.project.add(i, submissions=t.submissions)
        for q in quality.annotators:
            i = self._at(q.bucket_start)
            figures = {"gold_scored": q.gold_scored, "gold_sum": q.gold_sum, "agreement_scored": q.agreement_scored,
                       "agreement_sum": q.agreement_sum, "closed": q.closed, "rejected": q.rejected}
            self.by_annotator[q.annotator_id].add(i, **figures)
            self.project.add(i, gold_scored=q.gold_scored, gold_sum=q.gold_sum)
        for d in quality.decisions:
            self.project.add(self._at(d.bucket_start), decided=d.decided, accepted=d.accepted,
                             rejected_items=d.rejected, reviewed=d.reviewed, in_review=d.in_review,
                             item_agreement_scored=d.agreement_scored, item_agreement_sum=d.agreement_sum)
        self.times = {f.annotator_id: f for f in work.task_time}
        for annotator in self.times:
            if annotator:  # an annotator with timed tasks only still gets a row
                _ = self.by_annotator[annotator]

    def _at(self, ts: Any) -> int | None:
        return self.index.get(ts.ToDatetime(tzinfo=UTC))

    # -- one annotator --------------------------------------------------------------------------------
    def annotator_row(self, annotator: str) -> dict[str, Any]:
        t = self.by_annotator[annotator].total
        times = self.times.get(annotator)
        return {
            "annotator_id": annotator,
            "username": self.names.get(annotator),
            "submissions": int(t["submissions"]),
            "per_hour": t["submissions"] / self.rng.hours,
            "timed_tasks": times.tasks if times else 0,
            "median_ms": times.median_ms if times else None,
            "p95_ms": times.p95_ms if times else None,
            "gold_scored": int(t["gold_scored"]),
            "gold_accuracy": _ratio(t["gold_sum"], t["gold_scored"]),
            "agreement": _ratio(t["agreement_sum"], t["agreement_scored"]),
            "closed": int(t["closed"]),
            "rejected": int(t["rejected"]),
            "rejection_rate": _ratio(t["rejected"], t["closed"]),
        }

    def annotators(self) -> list[dict[str, Any]]:
        rows = [self.annotator_row(a) for a in self.by_annotator if a]
        return sorted(rows, key=lambda r: (r["username"] or r["annotator_id"]))

    def _series(self, tally: _Tally, num: str, den: str | None = None) -> list[float | None]:
        if den is None:
            return [s[num] for s in tally.series]
        return [_ratio(s[num], s[den]) for s in tally.series]

    def _people(self, num: str, den: str | None = None) -> list[dict[str, Any]]:
        out = []
        for annotator, tally in self.by_annotator.items():
            if not annotator or (den is not None and not tally.total[den]) or (den is None and not tally.total[num]):
                continue
            out.append({"annotator_id": annotator, "username": self.names.get(annotator),
                        "total": tally.total[num] if den is None else _ratio(tally.total[num], tally.total[den]),
                        "series": self._series(tally, num, den)})
        return sorted(out, key=lambda r: (r["username"] or r["annotator_id"]))

    # -- the project ----------------------------------------------------------------------------------
    def project_view(self) -> dict[str, Any]:
        p = self.project.total
        overall = self.times.get("")
        by_bucket = {f.bucket_start.ToDatetime(tzinfo=UTC): f for f in self.work.task_time_series}
        return {
            "range": self.range_view(),
            "buckets": [iso(b) for b in self.starts],
            "throughput": {
                "total": int(p["submissions"]),
                "per_hour": p["submissions"] / self.rng.hours,
                "series": self._series(self.project, "submissions"),
                "by_annotator": self._people("submissions"),
                "by_task_type": sorted(
                    ({"task_type": k, "total": int(v.total["submissions"]), "series": self._series(v, "submissions")}
                     for k, v in self.by_type.items()), key=lambda r: str(r["task_type"])),
            },
            "task_time": {
                "tasks": overall.tasks if overall else 0,
                "median_ms": overall.median_ms if overall else None,
                "p95_ms": overall.p95_ms if overall else None,
                "series": [_time(by_bucket.get(b)) for b in self.starts],
            },
            "agreement": {
                "scored": int(p["item_agreement_scored"]),
                "mean": _ratio(p["item_agreement_sum"], p["item_agreement_scored"]),
                "series": self._series(self.project, "item_agreement_sum", "item_agreement_scored"),
                "by_annotator": self._people("agreement_sum", "agreement_scored"),
            },
            "gold_accuracy": {
                "scored": int(p["gold_scored"]),
                "mean": _ratio(p["gold_sum"], p["gold_scored"]),
                "series": self._series(self.project, "gold_sum", "gold_scored"),
                "by_annotator": self._people("gold_sum", "gold_scored"),
            },
            "decisions": {
                "decided": int(p["decided"]),
                "accepted": int(p["accepted"]),
                "rejected": int(p["rejected_items"]),
                "reviewed": int(p["reviewed"]),
                "in_review": int(p["in_review"]),
                "rejection_rate": _ratio(p["rejected_items"], p["decided"]),
                "review_rate": _ratio(p["reviewed"], p["decided"]),
                "series": [{"decided": int(s["decided"]), "rejection_rate": _ratio(s["rejected_items"], s["decided"]),
                            "review_rate": _ratio(s["reviewed"], s["decided"])} for s in self.project.series],
            },
            "queue": {
                "now": dict(self.work.queue_now.states),
                "series": [{"at": iso(q.at.ToDatetime(tzinfo=UTC)), "states": dict(q.states)}
                           for q in self.work.queue_depth],
            },
            "annotators": self.annotators(),
        }

    def annotator_view(self, annotator: str) -> dict[str, Any]:
        tally = self.by_annotator[annotator] if annotator in self.by_annotator else _Tally(len(self.starts))
        others = self.annotators()
        return {
            "range": self.range_view(),
            "buckets": [iso(b) for b in self.starts],
            "annotator": self.annotator_row(annotator),
            "project_median": project_median(others),
            "annotators_compared": len(others),
            "series": {
                "submissions": self._series(tally, "submissions"),
                "gold_accuracy": self._series(tally, "gold_sum", "gold_scored"),
                "agreement": self._series(tally, "agreement_sum", "agreement_scored"),
                "rejection_rate": self._series(tally, "rejected", "closed"),
            },
        }

    def range_view(self) -> dict[str, Any]:
        return {"start": iso(self.rng.start), "end": iso(self.rng.end), "bucket": self.rng.bucket,
                "hours": self.rng.hours}


def _time(figures: work_pb2.TaskTimeFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {"tasks": figures.tasks, "median_ms": figures.median_ms, "p95_ms": figures.p95_ms}


def project_median(rows: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """The median over annotators of each compared figure (annotators without the figure left out)."""
    rows = list(rows)
    out: dict[str, float | None] = {}
    for key in COMPARED:
        values = [float(r[key]) for r in rows if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    return out
