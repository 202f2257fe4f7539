"""Agreement, consensus merge and scoring of results, per region family (README "Agreement and consensus").

Pure functions on results that passed validation (``None`` stands for a submission that did not).

Families and their pair score (two results; the "headline" of the family):
- box (bbox), polygon, mask: F1 of the optimal one-to-one matching of same-label regions at
  IoU >= ``rules.iou_threshold`` (default 0.5); also the mean IoU of the matched pairs.
- keypoint: the same with OKS (mean of both directions) in place of IoU; also the mean OKS.
- span: exact-match F1 on (start, end, label); also the character-overlap F1.
- choice: F1 on the (choice name, answer) pairs, i.e. exact agreement on every answered choice.
- relation: F1 on (label, from, to) where the endpoints are paired through the matchings above.
- exact (polyline, transcript): F1 on the normalised regions as multisets.
A pair's score is the minimum over the schema's families; an invalid submission scores 0 with everyone.

Item agreement: per family the mean over all pairs of submissions (1.0 for a single valid submission),
except choices, where it is the mean over the answered choice names of the share of submissions giving
the most common answer ("fraction agreeing"); the item's agreement is the minimum over the families.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from annotary_qa.domain.metrics import geometry, keypoints, rle, spans
from annotary_qa.domain.metrics.classification import plurality_share
from annotary_qa.domain.metrics.dawid_skene import dawid_skene
from annotary_qa.domain.metrics.matching import Match, match
from annotary_qa.domain.policy import ReviewPolicy
from annotary_qa.domain.schema import LabelSchema

DROPPED_KEYS = frozenset({"id", "score"})
DECIMALS = 2
# A choice answer's history must be this long (units of the same choice) before Dawid-Skene weighs it.
DS_MIN_HISTORY = 5

FAMILY_OF_TYPE: dict[str, str] = {
    "bbox": "box", "polygon": "polygon", "mask": "mask", "keypoints": "keypoint", "span": "span",
    "choice": "choice", "relation": "relation", "polyline": "exact", "transcript": "exact",
    "segment": "segment", "track": "exact",
}
FAMILY_ORDER: tuple[str, ...] = ("box", "polygon", "mask", "keypoint", "segment", "span", "choice", "relation",
                                 "exact")
MATCHED_FAMILIES: tuple[str, ...] = ("box", "polygon", "mask", "keypoint", "segment")
# Per-item figures (project-level keys of GetProjectQuality): family -> (headline key, secondary key).
METRIC_KEYS: dict[str, tuple[str, str | None]] = {
    "box": ("box_f1", "mean_iou"),
    "polygon": ("polygon_f1", "polygon_mean_iou"),
    "mask": ("mask_f1", "mask_mean_iou"),
    "keypoint": ("keypoint_f1", "mean_oks"),
    "segment": ("segment_f1", "segment_mean_iou"),
    "span": ("span_f1", "span_partial_f1"),
    "choice": ("choice_agreement", None),
    "relation": ("relation_f1", None),
    "exact": ("exact_f1", None),
}

Outcome = Literal["accepted", "review_required"]


# -- normalisation -----------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _strip(region: Any) -> Any:
    if isinstance(region, dict):
        return {k: v for k, v in region.items() if k not in DROPPED_KEYS}
    return region


def _round(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, float):
        rounded = round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
        return int(rounded) if rounded.is_integer() else rounded
    return value


def _region_order(region: Any) -> tuple[str, str, str]:
    """By type, then label (or choice name), then the whole region: a total, stable order."""
    if isinstance(region, dict):
        return str(region.get("type", "")), str(region.get("label", region.get("name", ""))), canonical_json(region)
    return "", "", canonical_json(region)


@dataclass(frozen=True)
class Prepared:
    """A result ready for comparison: regions normalised (no id/score, rounded) in their original order,
    and each relation's endpoints as indices into ``regions``."""

    regions: tuple[dict[str, Any], ...]
    endpoints: Mapping[int, tuple[int, int]]

    def of_family(self, family: str) -> list[int]:
        return [i for i, r in enumerate(self.regions) if FAMILY_OF_TYPE.get(str(r.get("type")), "exact") == family]


def prepare(result: Sequence[Any]) -> Prepared:
    regions = [r for r in result if isinstance(r, dict)]
    by_id: dict[str, int] = {}
    for i, region in enumerate(regions):
        if "id" in region and region.get("type") != "relation":
            by_id.setdefault(canonical_json(region["id"]), i)
    endpoints: dict[int, tuple[int, int]] = {}
    for i, region in enumerate(regions):
        if region.get("type") == "relation":
            ends = [by_id.get(canonical_json(region.get(end))) for end in ("from", "to")]
            if ends[0] is not None and ends[1] is not None:
                endpoints[i] = (ends[0], ends[1])
    cleaned = []
    for region in regions:
        content = _round(_strip(region))
        if region.get("type") == "relation":
            content = {k: v for k, v in content.items() if k not in ("from", "to")}
        cleaned.append(content)
    return Prepared(tuple(cleaned), endpoints)


# -- the families' similarities ----------------------------------------------------------------
def choice_value(region: Mapping[str, Any], schema: LabelSchema) -> Hashable:
    """A choice's answer as a hashable: the option, or a sorted tuple for a multiple choice."""
    value = region.get("value")
    spec = schema.choice(str(region.get("name")))
    if spec is not None and spec.multiple:
        values = value if isinstance(value, list) else [value]
        return tuple(sorted({str(v) for v in values}))
    return str(value) if not isinstance(value, list) else tuple(sorted({str(v) for v in value}))


def answer_key(value: Hashable) -> str:
    """A choice answer as stored (choice_ratings.value): the option, or a JSON list for a multiple choice."""
    return canonical_json(list(value)) if isinstance(value, tuple) else str(value)


def _answer_output(value: Hashable) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _box(region: Mapping[str, Any]) -> geometry.Box:
    return (float(region["x"]), float(region["y"]), float(region["w"]), float(region["h"]))


def temporal_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time intervals (seconds); 0 when either is empty."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if inter > 0 and union > 0 else 0.0


def _similarity(family: str, a: Mapping[str, Any], b: Mapping[str, Any], schema: LabelSchema) -> float:
    """IoU (box, polygon, mask) or OKS (keypoint) of two regions; -inf when their labels differ."""
    if a.get("label") != b.get("label"):
        return -math.inf
    if family == "box":
        return geometry.box_iou(_box(a), _box(b))
    if family == "polygon":
        pa = geometry.distinct_points([(float(p[0]), float(p[1])) for p in a["points"]])
        pb = geometry.distinct_points([(float(p[0]), float(p[1])) for p in b["points"]])
        return geometry.polygon_iou(pa, pb)
    if family == "mask":
        ma, mb = a["rle"], b["rle"]
        if list(ma["size"]) != list(mb["size"]):
            return 0.0
        return rle.iou(rle.decode_counts(ma["counts"]), rle.decode_counts(mb["counts"]))
    if family == "keypoint":
        return keypoints.symmetric_oks(a["points"], b["points"], schema.rules.keypoint_sigmas)
    if family == "segment":
        return temporal_iou((float(a["start"]), float(a["end"])), (float(b["start"]), float(b["end"])))
    raise ValueError(f"no similarity for family {family!r}")


def _match_family(family: str, a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]],
                  schema: LabelSchema) -> Match:
    sim = np.full((len(a), len(b)), -math.inf)
    for i, ra in enumerate(a):
        for j, rb in enumerate(b):
            sim[i, j] = _similarity(family, ra, rb, schema)
    return match(sim, schema.rules.iou_threshold)


def _key_match(keys_a: Sequence[str], keys_b: Sequence[str]) -> list[tuple[int, int]]:
    """One-to-one pairs of equal keys (in order)."""
    free: dict[str, list[int]] = {}
    for j, key in enumerate(keys_b):
        free.setdefault(key, []).append(j)
    pairs = []
    for i, key in enumerate(keys_a):
        if free.get(key):
            pairs.append((i, free[key].pop(0)))
    return pairs


def _multiset_f1(n_a: int, n_b: int, tp: int) -> float:
    return 2 * tp / (n_a + n_b) if n_a + n_b else 1.0


@dataclass(frozen=True)
class PairScore:
    """Two results compared: per family its score (and secondary figure), and the overall score."""

    families: Mapping[str, float]
    secondary: Mapping[str, float]  # mean IoU / mean OKS / span partial F1, NaN when undefined
    score: float


def compare(a: Prepared, b: Prepared, schema: LabelSchema) -> PairScore:
    """Score two results against each other, family by family (symmetric)."""
    scores: dict[str, float] = {}
    secondary: dict[str, float] = {}
    mapping: dict[int, int] = {}  # region index in a -> the one it is paired with in b
    for family in families(schema):
        ia, ib = a.of_family(family), b.of_family(family)
        ra, rb = [a.regions[i] for i in ia], [b.regions[j] for j in ib]
        if family in MATCHED_FAMILIES:
            m = _match_family(family, ra, rb, schema)
            scores[family] = m.f1
            secondary[family] = m.mean_similarity
            mapping.update({ia[i]: ib[j] for i, j, _ in m.pairs})
        elif family == "span":
            sa = [(int(r["start"]), int(r["end"]), str(r["label"])) for r in ra]
            sb = [(int(r["start"]), int(r["end"]), str(r["label"])) for r in rb]
            scores[family] = spans.exact_f1(sa, sb)
            secondary[family] = spans.partial_f1(sa, sb)
            keys_a, keys_b = [canonical_json(s) for s in sa], [canonical_json(s) for s in sb]
            mapping.update({ia[i]: ib[j] for i, j in _key_match(keys_a, keys_b)})
        elif family == "choice":
            pa = {(str(r.get("name")), choice_value(r, schema)) for r in ra}
            pb = {(str(r.get("name")), choice_value(r, schema)) for r in rb}
            scores[family] = _multiset_f1(len(pa), len(pb), len(pa & pb))
        elif family == "exact":
            keys_a, keys_b = [canonical_json(r) for r in ra], [canonical_json(r) for r in rb]
            pairs = _key_match(keys_a, keys_b)
            scores[family] = _multiset_f1(len(ra), len(rb), len(pairs))
            mapping.update({ia[i]: ib[j] for i, j in pairs})
    if "relation" in families(schema):
        ka = [_relation_key(a, i, mapping) for i in a.of_family("relation")]
        kb = [_relation_key(b, j, None) for j in b.of_family("relation")]
        tp = len(_key_match([k for k in ka if k is not None], [k for k in kb if k is not None]))
        scores["relation"] = _multiset_f1(len(ka), len(kb), tp)
    overall = min(scores.values()) if scores else 1.0
    return PairScore(scores, secondary, overall)


def _relation_key(p: Prepared, index: int, mapping: Mapping[int, int] | None) -> str | None:
    ends = p.endpoints.get(index)
    if ends is None:
        return None
    if mapping is not None:
        if ends[0] not in mapping or ends[1] not in mapping:
            return None
        ends = (mapping[ends[0]], mapping[ends[1]])
    return canonical_json([p.regions[index].get("label"), ends[0], ends[1]])


def families(schema: LabelSchema) -> tuple[str, ...]:
    present = {FAMILY_OF_TYPE[t] for t in schema.tools}
    return tuple(f for f in FAMILY_ORDER if f in present)


def headline_name(family: str, schema: LabelSchema) -> str:
    key = METRIC_KEYS[family][0]
    if family in MATCHED_FAMILIES:
        return f"{key}@{schema.rules.iou_threshold:g}"
    return key


def metric_name(schema: LabelSchema) -> str:
    """What ``agreement`` measures for the schema, e.g. "box_f1@0.5" or "min(span_f1,choice_agreement)"."""
    names = [headline_name(f, schema) for f in families(schema)]
    return names[0] if len(names) == 1 else f"min({','.join(names)})"


def score_against(result: Sequence[Any], reference: Sequence[Any], schema: LabelSchema) -> float:
    """How well a result matches a reference result (gold, or the consensus): the pair score, in 0..1."""
    return compare(prepare(result), prepare(reference), schema).score


# -- an item's submissions together ------------------------------------------------------------
@dataclass(frozen=True)
class Assessment:
    agreement: float
    metric: str
    metrics: Mapping[str, float]  # project-level keys (METRIC_KEYS) for this item, undefined ones left out
    pairs: tuple[tuple[int, int, float], ...]  # (submission i, submission j, pair score), i < j
    merged: list[Any]  # the consensus result (majority merge); [] when nothing reaches a majority
    choice_answers: tuple[Mapping[str, str], ...] = field(default=())  # per submission: name -> answer key


ChoiceHistory = Mapping[str, Sequence[Mapping[str, str]]]  # choice name -> past units (annotator -> answer key)


def assess(results: Sequence[Sequence[Any] | None], schema: LabelSchema, annotators: Sequence[str] = (),
           history: ChoiceHistory | None = None) -> Assessment:
    """Agreement and merged consensus of one item's submissions (``None`` = failed validation).

    ``annotators`` (one per submission) and ``history`` (earlier answers in the project) switch on
    Dawid-Skene weighting for single choices when an annotator of the item has >= DS_MIN_HISTORY answers.
    """
    if not results:
        raise ValueError("no submissions to assess")
    prepared = [prepare(r) if r is not None else None for r in results]
    n = len(prepared)
    fams = families(schema)
    pairs: list[tuple[int, int, float]] = []
    family_sums: dict[str, list[float]] = {f: [] for f in fams}
    secondary: dict[str, list[float]] = {f: [] for f in fams}
    for i in range(n):
        for j in range(i + 1, n):
            pi, pj = prepared[i], prepared[j]
            if pi is None or pj is None:
                pairs.append((i, j, 0.0))
                for f in fams:
                    family_sums[f].append(0.0)
                continue
            score = compare(pi, pj, schema)
            pairs.append((i, j, score.score))
            for f in fams:
                family_sums[f].append(score.families.get(f, 1.0))
                value = score.secondary.get(f, math.nan)
                if not math.isnan(value):
                    secondary[f].append(value)

    valid = [p for p in prepared if p is not None]
    answers = tuple(_answers(p, schema) if p is not None else {} for p in prepared)
    family_value: dict[str, float] = {}
    for f in fams:
        if f == "choice":
            family_value[f] = _choice_agreement(prepared, answers)
        elif n == 1:
            family_value[f] = 1.0 if valid else 0.0
        else:
            family_value[f] = math.fsum(family_sums[f]) / len(family_sums[f])
    agreement = min(family_value.values()) if (family_value and valid) else (1.0 if valid else 0.0)

    metrics: dict[str, float] = {}
    for f in fams:
        head, second = METRIC_KEYS[f]
        metrics[head] = family_value[f]
        if second is not None and secondary[f]:
            metrics[second] = math.fsum(secondary[f]) / len(secondary[f])
    merged = merge(prepared, schema, annotators, history) if valid else []
    return Assessment(agreement=agreement, metric=metric_name(schema), metrics=metrics, pairs=tuple(pairs),
                      merged=merged, choice_answers=tuple({k: answer_key(v) for k, v in a.items()} for a in answers))


def _answers(p: Prepared, schema: LabelSchema) -> dict[str, Hashable]:
    out: dict[str, Hashable] = {}
    for i in p.of_family("choice"):
        region = p.regions[i]
        out.setdefault(str(region.get("name")), choice_value(region, schema))
    return out


_INVALID = object()  # an invalid submission's "answer": equal to nothing


def _choice_agreement(prepared: Sequence[Prepared | None], answers: Sequence[Mapping[str, Hashable]]) -> float:
    """Mean over the answered choice names of the share of submissions giving the most common answer
    (no answer counts as an answer of its own; an invalid submission agrees with nobody)."""
    if not any(p is not None for p in prepared):
        return 0.0
    names = list(dict.fromkeys(name for a in answers for name in a))
    if not names:
        return 1.0
    shares = []
    for name in names:
        votes: list[Hashable] = [a.get(name) if p is not None else (_INVALID, k)
                                 for k, (p, a) in enumerate(zip(prepared, answers, strict=True))]
        shares.append(plurality_share(votes))
    return math.fsum(shares) / len(shares)


def best_submission(results: Sequence[Sequence[Any] | None], schema: LabelSchema) -> int | None:
    """The valid submission agreeing best with the others (highest mean pair score; ties: the first)."""
    assessment_pairs = assess(results, schema).pairs
    totals = [0.0] * len(results)
    for i, j, score in assessment_pairs:
        totals[i] += score
        totals[j] += score
    candidates = [k for k, r in enumerate(results) if r is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda k: (totals[k], -k))


# -- merge -------------------------------------------------------------------------------------
Member = tuple[int, int]  # (submission, region index)


def _clusters_matched(family: str, prepared: Sequence[Prepared | None], schema: LabelSchema) -> list[list[Member]]:
    """Sequential optimal matching: each submission's regions are matched to the clusters so far (their
    representative: the mean box for boxes, else the first member); unmatched regions open new clusters."""
    clusters: list[list[Member]] = []
    reps: list[dict[str, Any]] = []
    for s, p in enumerate(prepared):
        if p is None:
            continue
        idx = p.of_family(family)
        regions = [p.regions[i] for i in idx]
        m = _match_family(family, regions, reps, schema)
        matched = set()
        for r, c, _ in m.pairs:
            clusters[c].append((s, idx[r]))
            matched.add(r)
            if family == "box":
                reps[c] = _mean_box([prepared_region(prepared, member) for member in clusters[c]])
        for r, i in enumerate(idx):
            if r not in matched:
                clusters.append([(s, i)])
                reps.append(dict(regions[r]))
    return clusters


def _clusters_by_key(family: str, prepared: Sequence[Prepared | None], key: Callable[[dict[str, Any]], str]
                     ) -> list[list[Member]]:
    by_key: dict[str, list[Member]] = {}
    for s, p in enumerate(prepared):
        if p is None:
            continue
        for i in p.of_family(family):
            members = by_key.setdefault(key(p.regions[i]), [])
            if all(ms != s for ms, _ in members):  # one member per submission
                members.append((s, i))
    return list(by_key.values())


def prepared_region(prepared: Sequence[Prepared | None], member: Member) -> dict[str, Any]:
    p = prepared[member[0]]
    assert p is not None
    return p.regions[member[1]]


def _mean_box(regions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out = dict(regions[0])
    for k in ("x", "y", "w", "h"):
        out[k] = math.fsum(float(r[k]) for r in regions) / len(regions)
    return out


def _medoid(family: str, regions: Sequence[dict[str, Any]], schema: LabelSchema) -> dict[str, Any]:
    if len(regions) <= 2:
        return regions[0]
    totals = [sum(max(_similarity(family, a, b, schema), 0.0) for b in regions) for a in regions]
    return regions[max(range(len(regions)), key=lambda k: (totals[k], -k))]


def _mean_keypoints(regions: Sequence[dict[str, Any]], schema: LabelSchema) -> dict[str, Any]:
    out = dict(_medoid("keypoint", regions, schema))
    length = len(out["points"])
    if any(len(r["points"]) != length for r in regions):
        return out
    points = []
    for k in range(length):
        seen = [r["points"][k] for r in regions if r["points"][k][2] > 0]
        if 2 * len(seen) > len(regions):
            vis = Counter(int(p[2]) for p in seen).most_common(1)[0][0]
            points.append([math.fsum(float(p[0]) for p in seen) / len(seen),
                           math.fsum(float(p[1]) for p in seen) / len(seen), vis])
        else:
            points.append([0, 0, 0])
    out["points"] = points
    return out


def _merged_region(family: str, regions: list[dict[str, Any]], schema: LabelSchema) -> dict[str, Any]:
    if family == "box":
        mean = _mean_box(regions)
        closest = max(regions, key=lambda r: geometry.box_iou(_box(r), _box(mean)))
        return {**closest, **{k: mean[k] for k in ("x", "y", "w", "h")}}
    if family == "keypoint":
        return _mean_keypoints(regions, schema)
    if family in ("polygon", "mask", "segment"):
        return _medoid(family, regions, schema)
    return regions[0]


def _choose(name: str, votes: Sequence[tuple[int, Hashable | None]], schema: LabelSchema,
            annotators: Sequence[str], history: ChoiceHistory | None) -> Hashable | None:
    """The merged answer of one choice: majority vote (no answer is a vote too; ties go to an answer, then to
    the first given), or Dawid-Skene's estimate when an annotator of the item has a history."""
    spec = schema.choice(name)
    given = [(s, v) for s, v in votes if v is not None]
    if not given:
        return None
    if len({v for _, v in given}) == 1 and len(given) == len(votes):
        return given[0][1]  # unanimous: no weighting can change it
    if spec is not None and not spec.multiple and history and annotators:
        past = history.get(name, ())
        experience = Counter(a for unit in past for a in unit)
        if any(experience[annotators[s]] >= DS_MIN_HISTORY for s, _ in given):
            current = {annotators[s]: str(v) for s, v in given}
            classes = list(spec.options) + [v for unit in past for v in unit.values() if v not in spec.options]
            ds = dawid_skene([*past, current], classes)
            return ds.estimate(len(past))
    counts = Counter(v for _, v in votes)
    order = {v: k for k, (_, v) in reversed(list(enumerate(votes)))}  # first appearance
    return max(counts, key=lambda v: (counts[v], v is not None, -order[v]))


def merge(prepared: Sequence[Prepared | None], schema: LabelSchema, annotators: Sequence[str] = (),
          history: ChoiceHistory | None = None) -> list[Any]:
    """The consensus result: regions found by a strict majority of all submissions (matched regions
    averaged: boxes coordinate-wise, keypoints point-wise; polygons and masks the member agreeing best with
    the others), spans and other regions by exact majority, each choice by (weighted) majority vote, and
    relations whose label and both endpoints a majority agree on."""
    n = len(prepared)
    fams = families(schema)
    kept: list[tuple[list[Member], dict[str, Any]]] = []
    cluster_of: dict[Member, int] = {}
    for family in fams:
        if family in MATCHED_FAMILIES:
            clusters = _clusters_matched(family, prepared, schema)
        elif family in ("span", "exact"):
            clusters = _clusters_by_key(family, prepared, canonical_json)
        else:
            continue
        for members in clusters:
            if 2 * len({s for s, _ in members}) > n:
                regions = [prepared_region(prepared, m) for m in members]
                for m in members:
                    cluster_of[m] = len(kept)
                kept.append((members, _merged_region(family, regions, schema)))
    out: list[dict[str, Any]] = [region for _, region in kept]

    relations: list[dict[str, Any]] = []
    if "relation" in fams:
        votes: dict[str, set[int]] = {}
        for s, p in enumerate(prepared):
            if p is None:
                continue
            for i in p.of_family("relation"):
                ends = p.endpoints.get(i)
                if ends is None or (s, ends[0]) not in cluster_of or (s, ends[1]) not in cluster_of:
                    continue
                key = canonical_json([p.regions[i], cluster_of[(s, ends[0])], cluster_of[(s, ends[1])]])
                votes.setdefault(key, set()).add(s)
        for key, voters in votes.items():
            if 2 * len(voters) > n:
                region, a, b = json.loads(key)
                relations.append({**region, "from": f"r{a}", "to": f"r{b}"})
        if relations:
            out = [{**region, "id": f"r{k}"} for k, region in enumerate(out)]

    choices: list[dict[str, Any]] = []
    if "choice" in fams:
        answers = [(_answers(p, schema) if p is not None else None) for p in prepared]
        names = list(dict.fromkeys(name for a in answers if a for name in a))
        for name in names:
            ballot = [(s, a.get(name)) for s, a in enumerate(answers) if a is not None]
            winner = _choose(name, ballot, schema, annotators if len(annotators) == n else (), history)
            if winner is not None:
                choices.append({"type": "choice", "name": name, "value": _answer_output(winner)})
    return sorted((_round(r) for r in [*out, *relations, *choices]), key=_region_order)


# -- the decision ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    agreement: float
    result: list[Any] | None  # the consensus result when accepted
    reason: str = ""  # why review is required; empty when accepted


def decide(assessment: Assessment, any_valid: bool, threshold: float, review: ReviewPolicy,
           sample_key: str) -> Decision:
    """Accepted with the merged result when agreement >= threshold and the policy does not review anyway."""
    agreement = assessment.agreement
    if not any_valid:
        return Decision("review_required", 0.0, None, "no submission passed validation")
    if agreement < threshold:
        return Decision("review_required", agreement, None,
                        f"agreement {agreement:.2f} ({assessment.metric}) is below the project threshold "
                        f"{threshold:.2f}")
    if review.mode == "all":
        return Decision("review_required", agreement, None, "the project's policy reviews every item (review: all)")
    if review.samples(sample_key):
        return Decision("review_required", agreement, None, f"sampled for review (review: {review.text})")
    return Decision("accepted", agreement, assessment.merged)
