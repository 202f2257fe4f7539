"""Project quality figures, annotator metrics and reinstating a paused annotator."""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import asyncpg

from annotary.events.v1 import events_pb2
from annotary_common import outbox, topics
from annotary_qa.domain.metrics import classification, stats
from annotary_qa.service_layer.decisions import PRODUCER
from annotary_qa.service_layer.projects import load_project

log = logging.getLogger(__name__)

Unit = tuple[object, ...]


@dataclass(frozen=True)
class ProjectQuality:
    agreement: dict[str, float]
    items_decided: int
    items_accepted: int
    items_in_review: int


def rating_agreement(units: Mapping[Unit, Mapping[str, str]], overlap: int = 0) -> dict[str, float]:
    """Cohen's kappa (mean over annotator pairs with >= 2 shared units: Cohen's own for two annotators),
    Fleiss' kappa (units with the project's overlap, or the most common number of ratings, >= 2) and
    Krippendorff's alpha (nominal, every unit, missing ratings allowed) over units of annotator -> answer.
    Undefined figures are left out."""
    out: dict[str, float] = {}
    if not units:
        return out
    raters = sorted({a for unit in units.values() for a in unit})
    data = [[unit.get(r) for unit in units.values()] for r in raters]
    alpha = classification.krippendorff_alpha(data)
    if math.isfinite(alpha):
        out["krippendorff_alpha"] = alpha

    sizes = Counter(len(u) for u in units.values() if len(u) >= 2)
    m = overlap if overlap >= 2 and sizes.get(overlap) else (sizes.most_common(1)[0][0] if sizes else 0)
    if m >= 2:
        table = classification.fleiss_table([list(u.values()) for u in units.values() if len(u) == m])
        fleiss = classification.fleiss_kappa(table)
        if math.isfinite(fleiss):
            out["fleiss_kappa"] = fleiss

    kappas = []
    for a, b in itertools.combinations(raters, 2):
        shared = [u for u in units.values() if a in u and b in u]
        if len(shared) >= 2:
            kappa = classification.cohen_kappa([u[a] for u in shared], [u[b] for u in shared])
            if math.isfinite(kappa):
                kappas.append(kappa)
    if kappas:
        out["cohen_kappa"] = math.fsum(kappas) / len(kappas)
    return out


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return math.fsum(items) / len(items) if items else math.nan


async def project_quality(conn: asyncpg.Connection, project_id: str) -> ProjectQuality:
    project = await load_project(conn, project_id)
    rows = await conn.fetch("SELECT outcome, agreement, metrics FROM decisions WHERE project_id = $1", project_id)
    figures: dict[str, list[float]] = {}
    for row in rows:
        for key, value in json.loads(row["metrics"]).items():
            if isinstance(value, int | float) and math.isfinite(value):
                figures.setdefault(key, []).append(float(value))
    agreement = {key: _mean(values) for key, values in figures.items()}
    if rows:
        agreement["agreement"] = _mean(r["agreement"] for r in rows)

    ratings = await conn.fetch(
        "SELECT item_id, round, annotator_id, choice_name, value FROM choice_ratings WHERE project_id = $1",
        project_id,
    )
    by_name: dict[str, dict[Unit, dict[str, str]]] = {}
    for r in ratings:
        by_name.setdefault(r["choice_name"], {}).setdefault((r["item_id"], r["round"]), {})[r["annotator_id"]] = \
            r["value"]
    per_name = {name: rating_agreement(units, project.overlap) for name, units in sorted(by_name.items())}
    for key in ("cohen_kappa", "fleiss_kappa", "krippendorff_alpha"):
        values = [figures_of[key] for figures_of in per_name.values() if key in figures_of]
        if values:
            agreement[key] = _mean(values)  # one choice: its own figure; several: their mean
        if len(per_name) > 1:
            for name, figures_of in per_name.items():
                if key in figures_of:
                    agreement[f"{key}[{name}]"] = figures_of[key]

    in_review = await conn.fetchval("SELECT count(*) FROM review_queue WHERE project_id = $1", project_id)
    return ProjectQuality(
        agreement=agreement, items_decided=len(rows),
        items_accepted=sum(1 for r in rows if r["outcome"] == "accepted"), items_in_review=int(in_review),
    )


@dataclass(frozen=True)
class AnnotatorFigures:
    annotator_id: str
    submissions: int
    throughput_per_hour: float
    gold_accuracy: float
    gold_scored: int
    agreement_with_consensus: float
    rejection_rate: float
    median_lead_time_ms: float
    p95_lead_time_ms: float
    paused: bool
    pause_reason: str


async def annotator_metrics(conn: asyncpg.Connection, project_id: str, annotator_id: str = "") -> list[
        AnnotatorFigures]:
    """Every annotator of the project (or the one named; an annotator with no record gets zeros)."""
    await load_project(conn, project_id)
    subs = await conn.fetch(
        "SELECT annotator_id, kind, lead_time_ms, score, outcome FROM submissions"
        " WHERE project_id = $1 AND ($2 = '' OR annotator_id = $2)",
        project_id, annotator_id,
    )
    tallies = {r["annotator_id"]: r for r in await conn.fetch(
        "SELECT annotator_id, gold_scored, gold_sum, paused, pause_reason FROM annotators"
        " WHERE project_id = $1 AND ($2 = '' OR annotator_id = $2)",
        project_id, annotator_id,
    )}
    names = sorted({r["annotator_id"] for r in subs} | set(tallies) | ({annotator_id} if annotator_id else set()))
    out = []
    for name in names:
        mine = [r for r in subs if r["annotator_id"] == name]
        regular = [r for r in mine if r["kind"] == "regular"]
        closed = [r for r in regular if r["outcome"] is not None]
        lead = [float(r["lead_time_ms"]) for r in mine if r["lead_time_ms"] > 0]
        tally = tallies.get(name)
        gold_scored = tally["gold_scored"] if tally else 0
        out.append(AnnotatorFigures(
            annotator_id=name,
            submissions=len(mine),
            throughput_per_hour=stats.throughput_per_hour(lead),
            gold_accuracy=tally["gold_sum"] / gold_scored if tally and gold_scored else math.nan,
            gold_scored=gold_scored,
            agreement_with_consensus=_mean(r["score"] for r in regular
                                           if r["outcome"] == "accepted" and r["score"] is not None),
            rejection_rate=sum(1 for r in closed if r["outcome"] == "rejected") / len(closed) if closed else 0.0,
            median_lead_time_ms=stats.percentile(lead, 50) if lead else 0.0,
            p95_lead_time_ms=stats.percentile(lead, 95) if lead else 0.0,
            paused=bool(tally and tally["paused"]),
            pause_reason=tally["pause_reason"] if tally else "",
        ))
    return out


async def reinstate(conn: asyncpg.Connection, project_id: str, annotator_id: str, actor: str) -> bool:
    """Lift a pause (publishing annotator.paused with paused=false) and restart the gold window, so that the
    annotator is judged again on the gold items scored from now on. False (and nothing published) when the
    annotator was not paused."""
    async with conn.transaction():
        await load_project(conn, project_id)
        lifted = await conn.fetchval(
            """
            UPDATE annotators SET paused = false, pause_reason = '', paused_at = NULL, window_scored = 0,
                   window_sum = 0
             WHERE project_id = $1 AND annotator_id = $2 AND paused
            RETURNING true
            """,
            project_id, annotator_id,
        )
        if not lifted:
            return False
        await outbox.add_event(
            conn, topics.ANNOTATOR_PAUSED, key=project_id, producer=PRODUCER,
            payload=events_pb2.AnnotatorPaused(project_id=project_id, annotator_id=annotator_id, paused=False,
                                               reason=f"reinstated by {actor}", actor=actor),
        )
    log.info("annotator reinstated", extra={"project_id": project_id, "annotator_id": annotator_id, "actor": actor})
    return True
