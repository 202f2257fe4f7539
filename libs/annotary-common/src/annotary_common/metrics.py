"""Every Annotary Prometheus metric, in one place (the contract with the dashboards and alert rules).

Services import the objects below and update them where the event happens; gauges that mirror the database or the
broker (queue depth, outbox backlog, consumer lag) are refreshed by :class:`Refreshers` just before a scrape, so a
scrape sees current numbers and nothing runs between scrapes. ``render`` produces the exposition for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

log = logging.getLogger(__name__)
disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the exposition and no query uses them

__all__ = [
    "ANNOTATIONS_SUBMITTED",
    "CONSUMER_LAG",
    "CONTENT_TYPE_LATEST",
    "DB_QUERY_DURATION",
    "EVENTS",
    "EXPORTS",
    "GOLD_CHECKS",
    "GRPC_SERVER_DURATION",
    "HTTP_REQUEST_DURATION",
    "ITEMS_INGESTED",
    "MODEL_ACCURACY",
    "OUTBOX_BACKLOG",
    "OUTBOX_PUBLISHED",
    "PREANNOTATE_LATENCY",
    "QA_DECISIONS",
    "QUEUE_DEPTH",
    "TASK_DURATION",
    "GaugeFamily",
    "Refreshers",
    "after_commit",
    "apply_deferred",
    "deferred",
    "operation_of",
    "partition_lag",
    "render",
]

_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_TASK_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
_MODEL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# -- domain ------------------------------------------------------------------------------------------------------
ITEMS_INGESTED = Counter("annotary_items_ingested", "Items ingested (new, not re-imports)", ["project"])
ANNOTATIONS_SUBMITTED = Counter(
    "annotary_annotations_submitted", "Annotations submitted by annotators", ["project", "annotator", "task_type"]
)
TASK_DURATION = Histogram(
    "annotary_task_duration_seconds",
    "Time from lease to submit of one assignment",
    ["project", "task_type"],
    buckets=_TASK_BUCKETS,
)
QA_DECISIONS = Counter(
    "annotary_qa_decisions", "QA outcomes per item (accepted, rejected, review)", ["project", "decision"]
)
GOLD_CHECKS = Counter(
    "annotary_gold_checks", "Gold items scored per annotator (correct, incorrect)", ["project", "annotator", "outcome"]
)
PREANNOTATE_LATENCY = Histogram(
    "annotary_preannotate_latency_seconds",
    "Model prediction latency per item",
    ["project", "model"],
    buckets=_MODEL_BUCKETS,
)
MODEL_ACCURACY = Gauge(
    "annotary_model_accuracy", "Accuracy of the serving model at its last evaluation", ["project", "model"]
)
QUEUE_DEPTH = Gauge("annotary_queue_depth", "Items per state", ["project", "state"])
EXPORTS = Counter("annotary_exports", "Dataset exports finished (succeeded, failed)", ["format", "outcome"])

# -- plumbing ----------------------------------------------------------------------------------------------------
CONSUMER_LAG = Gauge(
    "annotary_consumer_lag", "Messages not yet consumed (high-water mark - position)", ["group", "topic"]
)
OUTBOX_BACKLOG = Gauge("annotary_outbox_backlog", "Outbox rows not yet published", ["service"])
EVENTS = Counter("annotary_events", "Events taken off the bus", ["group", "topic", "outcome"])
OUTBOX_PUBLISHED = Counter("annotary_outbox_published", "Outbox events published to the bus", ["schema"])
HTTP_REQUEST_DURATION = Histogram(
    "annotary_http_request_duration_seconds",
    "HTTP request duration by route template",
    ["service", "method", "route", "status"],
    buckets=_FAST_BUCKETS,
)
GRPC_SERVER_DURATION = Histogram(
    "annotary_grpc_server_duration_seconds",
    "gRPC server call duration by method and status code",
    ["service", "method", "code"],
    buckets=_FAST_BUCKETS,
)
DB_QUERY_DURATION = Histogram(
    "annotary_db_query_duration_seconds",
    "Database operation duration (a fixed operation name, never SQL)",
    ["service", "operation"],
    buckets=_FAST_BUCKETS,
)


_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("annotary_after_commit", default=None)


def after_commit(update: Callable[[], None]) -> None:
    """Apply a metric update once the surrounding transaction commits (inside :func:`deferred`), so a transaction
    that rolls back and is retried counts once; outside :func:`deferred` it applies at once."""
    pending = _after_commit.get()
    if pending is None:
        update()
    else:
        pending.append(update)


@contextlib.contextmanager
def deferred() -> Iterator[list[Callable[[], None]]]:
    """Collect :func:`after_commit` updates; the caller runs :func:`apply_deferred` when its transaction committed,
    and drops them (by not applying) when it failed."""
    pending: list[Callable[[], None]] = []
    token = _after_commit.set(pending)
    try:
        yield pending
    finally:
        _after_commit.reset(token)


def apply_deferred(pending: list[Callable[[], None]]) -> None:
    for update in pending:
        try:
            update()
        except Exception as exc:  # a metric must never fail the work it measures
            log.warning("metric update failed", extra={"error": repr(exc)})
    pending.clear()


def render() -> tuple[bytes, str]:
    """(the exposition of every metric in this process, its content type)."""
    return generate_latest(), CONTENT_TYPE_LATEST


class GaugeFamily:
    """Sets a labelled gauge from a full snapshot: label sets missing from the new snapshot drop to zero (for
    ``zero_missing``) or disappear, so a state that emptied does not keep its last value forever."""

    def __init__(self, gauge: Gauge, *, zero_missing: bool = True) -> None:
        self._gauge = gauge
        self._zero_missing = zero_missing
        self._seen: set[tuple[str, ...]] = set()

    def set_all(self, values: Mapping[tuple[str, ...], float]) -> None:
        for labels, value in values.items():
            self._gauge.labels(*labels).set(value)
        for labels in self._seen - values.keys():
            if self._zero_missing:
                self._gauge.labels(*labels).set(0)
            else:
                self._gauge.remove(*labels)
        if self._zero_missing:
            self._seen |= set(values)
        else:
            self._seen = set(values)


def partition_lag(
    assigned: Iterable[Any], highwater: Callable[[Any], int | None], position: Callable[[Any], int | None]
) -> dict[str, int]:
    """Lag per topic: the sum over the assigned partitions (objects with ``.topic``) of high-water mark minus the
    consumer's position; partitions whose high-water or position is not known yet count as 0."""
    lag: dict[str, int] = {}
    for tp in assigned:
        high, pos = highwater(tp), position(tp)
        behind = max(0, high - pos) if high is not None and pos is not None else 0
        lag[tp.topic] = lag.get(tp.topic, 0) + behind
    return lag


_IDENT = r"([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)"
_CHANGE = r"^(?:with\s+[a-z_][a-z0-9_]*\s+as\s+\(\s*)?"  # a data-modifying WITH is named by what it changes
_SQL_SHAPES = (
    (re.compile(_CHANGE + r"insert\s+into\s+" + _IDENT), "insert"),
    (re.compile(_CHANGE + r"update\s+(?:only\s+)?" + _IDENT), "update"),
    (re.compile(_CHANGE + r"delete\s+from\s+(?:only\s+)?" + _IDENT), "delete"),
    (re.compile(r"^select\b.*?\bfrom\s+" + _IDENT), "select"),
    (re.compile(r"^select\s+" + _IDENT), "select"),
    (re.compile(r"^copy\s+" + _IDENT), "copy"),
)
_OPERATIONS: dict[str, str] = {}
_MAX_CACHED = 4096


def operation_of(sql: str) -> str:
    """A short, fixed name for a statement: its verb and first table (``select tasks``, ``insert outbox``; a WITH
    whose first part changes a table by that change, ``update tasks``), or the function a table-less SELECT calls
    (``select pg_notify``), or the bare verb (``begin``, ``with``). Only SQL
    keywords and identifiers ever make it into the name, never values; cached per statement text."""
    cached = _OPERATIONS.get(sql)
    if cached is not None:
        return cached
    text = " ".join(sql.split()).lower()
    name = ""
    for pattern, verb in _SQL_SHAPES:
        match = pattern.match(text)
        if match:
            name = f"{verb} {match.group(1)}"
            break
    if not name:
        first = re.match(r"[a-z_]+", text)
        name = first.group(0) if first else "other"
    if len(_OPERATIONS) < _MAX_CACHED:
        _OPERATIONS[sql] = name
    return name


Refresher = Callable[[], Awaitable[None]]


class Refreshers:
    """Gauges fed from the database or the broker, refreshed on scrape (at most every ``min_interval_s``), each
    bounded by ``timeout_s`` so a slow dependency never blocks ``/metrics``; a failed refresh keeps the last value."""

    def __init__(self, *, min_interval_s: float = 1.0, timeout_s: float = 2.0) -> None:
        self._items: dict[str, Refresher] = {}
        self._min_interval_s = min_interval_s
        self._timeout_s = timeout_s
        self._last = -1e18
        self._lock = asyncio.Lock()

    def add(self, name: str, refresh: Refresher) -> None:
        self._items[name] = refresh

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            now = time.monotonic()
            if not force and now - self._last < self._min_interval_s:
                return
            self._last = now
            for name, refresh in list(self._items.items()):
                try:
                    await asyncio.wait_for(refresh(), self._timeout_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a metric refresh must never break the scrape
                    log.warning("metric refresh failed", extra={"refresher": name, "error": repr(exc)})

    async def render(self) -> tuple[bytes, str]:
        await self.refresh()
        return render()
