"""The dashboards' merge of the orchestrator's and qa's timelines (pure: protobuf replies in, JSON figures out), and
the range checks the gateway answers 422 with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from annotary.orchestrator.v1 import dashboards_pb2 as work_pb2
from annotary.qa.v1 import dashboards_pb2 as quality_pb2
from annotary_annotation_api.service_layer.dashboards import Merger, project_median
from annotary_common.timeline import BadRange, TimeRange, timestamp

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def merger() -> Merger:
    rng = TimeRange.checked(T0, T0 + 2 * H, "hour")
    work = work_pb2.GetWorkTimelineResponse(
        throughput=[
            work_pb2.ThroughputPoint(bucket_start=timestamp(T0), annotator_id="a", task_type="regular", submissions=3),
            work_pb2.ThroughputPoint(bucket_start=timestamp(T0), annotator_id="a", task_type="gold", submissions=1),
            work_pb2.ThroughputPoint(bucket_start=timestamp(T0 + H), annotator_id="b", task_type="regular",
                                     submissions=2),
        ],
        task_time=[work_pb2.TaskTimeFigures(annotator_id="", tasks=6, median_ms=4000, p95_ms=9000),
                   work_pb2.TaskTimeFigures(annotator_id="a", tasks=4, median_ms=3000, p95_ms=8000),
                   work_pb2.TaskTimeFigures(annotator_id="b", tasks=2, median_ms=5000, p95_ms=6000)],
        task_time_series=[work_pb2.TaskTimeFigures(bucket_start=timestamp(T0), tasks=4, median_ms=3000, p95_ms=8000)],
        queue_now=work_pb2.QueueDepthPoint(states={"accepted": 2, "unassigned": 1}),
        queue_depth=[work_pb2.QueueDepthPoint(at=timestamp(T0 + H), states={"unassigned": 3}),
                     work_pb2.QueueDepthPoint(at=timestamp(T0 + 2 * H), states={"accepted": 2, "unassigned": 1})],
    )
    quality = quality_pb2.GetQualityTimelineResponse(
        decisions=[
            quality_pb2.DecisionPoint(bucket_start=timestamp(T0), decided=2, accepted=2, agreement_scored=2,
                                      agreement_sum=1.8),
            quality_pb2.DecisionPoint(bucket_start=timestamp(T0 + H), decided=2, rejected=1, reviewed=2, in_review=1,
                                      agreement_scored=1, agreement_sum=0.3),
        ],
        annotators=[
            quality_pb2.AnnotatorQualityPoint(bucket_start=timestamp(T0), annotator_id="a", gold_scored=1, gold_sum=1.0,
                                              agreement_scored=2, agreement_sum=1.8, closed=2),
            quality_pb2.AnnotatorQualityPoint(bucket_start=timestamp(T0 + H), annotator_id="b", gold_scored=2,
                                              gold_sum=0.5, closed=2, rejected=1),
        ],
    )
    return Merger(rng, work, quality, {"a": "ann"})


def test_project_view_merges_both_services() -> None:
    view = merger().project_view()
    assert view["buckets"] == ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"]
    assert view["throughput"]["total"] == 6 and view["throughput"]["per_hour"] == 3.0
    assert view["throughput"]["series"] == [4, 2]
    assert {t["task_type"]: t["series"] for t in view["throughput"]["by_task_type"]} == {
        "gold": [1, 0], "regular": [3, 2]}
    assert view["task_time"]["median_ms"] == 4000 and view["task_time"]["series"][1] is None
    assert view["agreement"]["mean"] == pytest.approx(2.1 / 3)
    assert view["agreement"]["series"] == pytest.approx([0.9, 0.3])
    assert view["gold_accuracy"]["mean"] == pytest.approx(1.5 / 3)
    assert view["gold_accuracy"]["series"] == pytest.approx([1.0, 0.25])
    d = view["decisions"]
    assert (d["decided"], d["rejected"], d["reviewed"], d["in_review"]) == (4, 1, 2, 1)
    assert d["rejection_rate"] == 0.25 and d["review_rate"] == 0.5
    assert d["series"][0]["rejection_rate"] == 0
    assert view["queue"]["series"][-1] == {"at": "2026-03-02T12:00:00Z", "states": {"accepted": 2, "unassigned": 1}}
    rows = {r["annotator_id"]: r for r in view["annotators"]}
    assert rows["a"]["username"] == "ann" and rows["b"]["username"] is None
    assert rows["a"]["submissions"] == 4 and rows["a"]["per_hour"] == 2.0 and rows["a"]["median_ms"] == 3000
    assert rows["a"]["rejection_rate"] == 0 and rows["a"]["agreement"] == pytest.approx(0.9)
    assert rows["b"]["gold_accuracy"] == 0.25 and rows["b"]["rejection_rate"] == 0.5 and rows["b"]["agreement"] is None


def test_annotator_view_and_project_median() -> None:
    view = merger().annotator_view("b")
    assert view["annotator"]["submissions"] == 2
    assert view["series"]["submissions"] == [0, 2]
    assert view["series"]["gold_accuracy"] == [None, 0.25]
    assert view["annotators_compared"] == 2
    assert view["project_median"]["median_ms"] == 4000      # (3000 + 5000) / 2
    assert view["project_median"]["agreement"] == pytest.approx(0.9)   # only a has one
    nobody = merger().annotator_view("c")
    assert nobody["annotator"]["submissions"] == 0 and nobody["series"]["submissions"] == [0, 0]
    assert project_median([]) == dict.fromkeys(("per_hour", "median_ms", "p95_ms", "gold_accuracy", "agreement",
                                                "rejection_rate"))


def test_time_ranges() -> None:
    rng = TimeRange.checked(T0 + timedelta(minutes=30), T0 + 2 * H, "hour")
    assert rng.bucket_starts() == [T0, T0 + H] and rng.hours == 1.5
    assert TimeRange.checked(datetime(2026, 3, 2, 10), datetime(2026, 3, 3), "day").bucket_starts() == [
        datetime(2026, 3, 2, tzinfo=UTC)]
    for start, end, bucket, words in ((T0, T0, "hour", "after start"), (T0, T0 + H, "week", "bucket"),
                                      (T0, T0 + 3000 * H, "hour", "buckets")):
        with pytest.raises(BadRange, match=words):
            TimeRange.checked(start, end, bucket)
