"""Every agreement metric against its reference implementation, on seeded random inputs (missing ratings and
ties included), to 1e-9; where we differ on purpose the test says so (and the README documents it).

References: scikit-learn, statsmodels, krippendorff, pycocotools, shapely, numpy.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import krippendorff
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import shapely.geometry as shapely_geometry
import sklearn.metrics as sklearn_metrics
import statsmodels.stats.inter_rater as inter_rater

from annotary_qa.domain.metrics import classification, geometry, keypoints, rle, spans, stats
from annotary_qa.domain.metrics.dawid_skene import dawid_skene
from annotary_qa.domain.metrics.matching import match
from annotary_qa.service_layer.quality import rating_agreement

TOL = 1e-9
SEEDS = range(200)


def same(ours: float, ref: float, tol: float = TOL) -> bool:
    if math.isnan(ref) or math.isnan(ours):
        return math.isnan(ref) and math.isnan(ours)
    return abs(ours - ref) <= tol


# -- Cohen's kappa vs scikit-learn -------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    k = int(rng.integers(1, 5))  # one category: every rating ties, kappa undefined
    a = rng.integers(0, k, n)
    # b agrees with a with some probability, else random: many ties in the marginals
    b = np.where(rng.random(n) < rng.random(), a, rng.integers(0, k, n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sklearn_metrics.cohen_kappa_score(a, b)
    assert same(classification.cohen_kappa(a.tolist(), b.tolist()), float(ref))


def test_cohen_kappa_undefined_cases() -> None:
    assert math.isnan(classification.cohen_kappa(["x", "x"], ["x", "x"]))  # one category: sklearn NaN too
    assert math.isnan(classification.cohen_kappa([], []))
    assert classification.cohen_kappa(["x", "y"], ["x", "y"]) == 1.0
    with pytest.raises(ValueError):
        classification.cohen_kappa(["x"], ["x", "y"])


# -- Fleiss' kappa vs statsmodels --------------------------------------------------------------
def test_fleiss_kappa_wikipedia_table() -> None:
    """The Wikipedia example statsmodels' own tests use (kappa 0.210)."""
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ours = classification.fleiss_kappa(table)
    assert same(ours, float(inter_rater.fleiss_kappa(np.array(table))))
    assert round(ours, 3) == 0.210


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    units, raters, k = int(rng.integers(1, 30)), int(rng.integers(2, 7)), int(rng.integers(1, 5))
    truth = rng.integers(0, k, units)
    ratings = [[int(t) if rng.random() < 0.6 else int(rng.integers(0, k)) for _ in range(raters)] for t in truth]
    table = classification.fleiss_table(ratings, list(range(k)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = float(inter_rater.fleiss_kappa(np.array(table)))
    assert same(classification.fleiss_kappa(table), ref)


def test_fleiss_kappa_needs_equal_raters() -> None:
    with pytest.raises(ValueError, match="same number of ratings"):
        classification.fleiss_kappa([[1, 1], [2, 1]])
    assert math.isnan(classification.fleiss_kappa([[3, 0], [3, 0]]))  # one category only: statsmodels NaN too


# -- Krippendorff's alpha vs the krippendorff package --------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_krippendorff_alpha_matches_package_with_missing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raters, units, k = int(rng.integers(2, 6)), int(rng.integers(1, 25)), int(rng.integers(1, 5))
    missing = rng.random() * 0.6
    truth = rng.integers(0, k, units)
    data: list[list[int | None]] = [
        [None if rng.random() < missing else (int(t) if rng.random() < 0.7 else int(rng.integers(0, k)))
         for t in truth] for _ in range(raters)
    ]
    ours = classification.krippendorff_alpha(data)
    ref_data = np.array([[np.nan if v is None else float(v) for v in row] for row in data])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = float(krippendorff.alpha(reliability_data=ref_data, level_of_measurement="nominal"))
    except ValueError:
        # Documented difference: the package raises when no unit has two ratings or the data hold one value;
        # alpha is undefined there and we return NaN.
        assert math.isnan(ours)
        return
    assert same(ours, ref)


def test_krippendorff_alpha_docstring_example() -> None:
    nan = None
    data = [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]]
    assert round(classification.krippendorff_alpha(data), 6) == 0.691358


def test_krippendorff_alpha_on_strings_and_undefined() -> None:
    data: list[list[str | None]] = [["a", "b", None, "a"], ["a", "b", "b", None], [None, "a", "b", "a"]]
    ref = krippendorff.alpha(reliability_data=np.array([[v if v is not None else np.nan for v in r] for r in data],
                                                       dtype=object).astype(str), level_of_measurement="nominal")
    assert same(classification.krippendorff_alpha(data), float(ref))
    assert math.isnan(classification.krippendorff_alpha([["a", None], [None, "a"]]))  # nothing pairable


# -- project-level figures over units with missing raters (quality.rating_agreement) ---------------
@pytest.mark.parametrize("seed", range(60))
def test_project_rating_agreement_matches_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raters = [f"a{i}" for i in range(int(rng.integers(2, 5)))]
    units: dict[tuple[object, ...], dict[str, str]] = {}
    for u in range(int(rng.integers(3, 30))):
        truth = str(rng.integers(0, 3))
        unit = {r: (truth if rng.random() < 0.7 else str(rng.integers(0, 3))) for r in raters if rng.random() < 0.8}
        units[(u,)] = unit
    figures = rating_agreement(units)
    values = sorted({v for u in units.values() for v in u.values()})
    code = {v: float(i) for i, v in enumerate(values)}
    data = np.array([[code[u[r]] if r in u else np.nan for u in units.values()] for r in raters])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            alpha = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
        except ValueError:
            alpha = math.nan
        kappas = []
        for a, b in itertools.combinations(raters, 2):
            shared = [u for u in units.values() if a in u and b in u]
            if len(shared) >= 2:
                kappa = float(sklearn_metrics.cohen_kappa_score([u[a] for u in shared], [u[b] for u in shared]))
                if not math.isnan(kappa):
                    kappas.append(kappa)
        sizes = [len(u) for u in units.values() if len(u) >= 2]
        fleiss = math.nan
        if sizes:
            m = max(set(sizes), key=lambda s: (sizes.count(s), -sizes.index(s)))
            rows = [list(u.values()) for u in units.values() if len(u) == m]
            table, _ = inter_rater.aggregate_raters(np.array([[code[v] for v in row] for row in rows]))
            fleiss = float(inter_rater.fleiss_kappa(table))
    assert same(figures.get("krippendorff_alpha", math.nan), alpha)
    assert same(figures.get("cohen_kappa", math.nan), float(np.mean(kappas)) if kappas else math.nan)
    assert same(figures.get("fleiss_kappa", math.nan), fleiss)
    if len(raters) == 2 and kappas:  # two annotators: exactly Cohen's kappa on their shared units
        assert same(figures["cohen_kappa"], kappas[0])


# -- box IoU vs pycocotools --------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_box_iou_matches_pycocotools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    def boxes(n: int) -> list[tuple[float, ...]]:
        return [tuple(float(v) for v in row)
                for row in np.column_stack([rng.uniform(0, 50, (n, 2)), rng.uniform(0, 40, (n, 2))])]

    a, b = boxes(6), boxes(5)
    b.append(a[0])  # an identical pair
    b.append((a[1][0] + a[1][2], a[1][1], 5.0, 5.0))  # touching edges: IoU 0
    ours = geometry.box_iou_matrix(a, b)  # type: ignore[arg-type]
    ref = mask_utils.iou([list(x) for x in a], [list(x) for x in b], [0] * len(b))
    assert np.allclose(ours, ref, rtol=0, atol=TOL)


# -- polygons vs shapely -----------------------------------------------------------------------
def star_polygon(rng: np.random.Generator, n: int, scale: float = 30.0) -> list[tuple[float, float]]:
    """A random simple (star-shaped, usually non-convex) polygon."""
    angles = (np.arange(n) + rng.uniform(0, 0.9, n)) * 2 * np.pi / n  # increasing, gaps < pi
    radii = rng.uniform(0.2, 1.0, n) * scale
    cx, cy = rng.uniform(20, 60, 2)
    return [(float(cx + r * np.cos(t)), float(cy + r * np.sin(t))) for r, t in zip(radii, angles, strict=True)]


@pytest.mark.parametrize("seed", SEEDS)
def test_polygon_iou_matches_shapely(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = star_polygon(rng, int(rng.integers(3, 15)))
    b = star_polygon(rng, int(rng.integers(3, 15)))
    pa, pb = shapely_geometry.Polygon(a), shapely_geometry.Polygon(b)
    assert pa.is_valid and pb.is_valid
    inter = pa.intersection(pb).area
    ref = inter / (pa.area + pb.area - inter)
    assert same(geometry.polygon_area(a), pa.area, 1e-9 * max(1.0, pa.area))
    assert same(geometry.polygon_iou(a, b), ref)
    assert same(geometry.polygon_iou(a, a), 1.0)


@pytest.mark.parametrize("a, b, iou", [
    ([(0, 0), (2, 0), (2, 2), (0, 2)], [(2, 0), (4, 0), (4, 2), (2, 2)], 0.0),  # a shared edge
    ([(0, 0), (2, 0), (2, 2), (0, 2)], [(1, 0), (3, 0), (3, 2), (1, 2)], 1 / 3),  # collinear edges
    ([(0, 0), (4, 0), (4, 4), (0, 4)], [(1, 1), (2, 1), (2, 2), (1, 2)], 1 / 16),  # nested
    ([(0, 0), (4, 0), (4, 4), (2, 1), (0, 4)], [(0, 0), (4, 0), (4, 4), (0, 4)], 10 / 16),  # non-convex
])
def test_polygon_iou_on_grid_cases(a: list[tuple[float, float]], b: list[tuple[float, float]], iou: float) -> None:
    pa, pb = shapely_geometry.Polygon(a), shapely_geometry.Polygon(b)
    inter = pa.intersection(pb).area
    assert same(geometry.polygon_iou(a, b), inter / (pa.area + pb.area - inter))
    assert same(geometry.polygon_iou(a, b), iou)


@pytest.mark.parametrize("seed", SEEDS)
def test_polygon_simplicity_matches_shapely(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    points = [(float(x), float(y)) for x, y in rng.integers(0, 6, (n, 2))]  # a small grid: many touching cases
    points = geometry.distinct_points(points)
    if len(points) < 3:
        return
    ring = shapely_geometry.LinearRing(points)
    assert (geometry.self_intersection(points) is None) == ring.is_simple


# -- RLE masks vs pycocotools ------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_rle_decode_area_and_iou_match_pycocotools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    ma = (rng.random((h, w)) < rng.random()).astype(np.uint8)
    mb = (rng.random((h, w)) < rng.random()).astype(np.uint8)
    if seed % 10 == 0:
        mb = ma.copy()
    ra, rb = mask_utils.encode(np.asfortranarray(ma)), mask_utils.encode(np.asfortranarray(mb))
    runs_a = rle.decode_counts(ra["counts"].decode("ascii"))
    runs_b = rle.decode_counts(rb["counts"].decode("ascii"))
    # decoding: the runs rebuild the mask (column-major)
    flat = np.zeros(h * w, dtype=np.uint8)
    for start, end in rle.ones(runs_a):
        flat[start:end] = 1
    assert np.array_equal(flat.reshape((w, h)).T, ma)
    assert sum(runs_a) == h * w
    assert rle.area(runs_a) == int(mask_utils.area(ra))
    assert same(rle.iou(runs_a, runs_b), float(mask_utils.iou([ra], [rb], [0])[0][0]))
    # the uncompressed form (a list of run lengths) gives the same
    from_list = mask_utils.frPyObjects({"size": [h, w], "counts": runs_a}, h, w)
    assert from_list["counts"] == ra["counts"]


def test_rle_rejects_garbage() -> None:
    with pytest.raises(rle.RleError):
        rle.decode_counts("\x7f")
    with pytest.raises(rle.RleError):
        rle.decode_counts([1, -2])


# -- OKS vs pycocotools' COCOeval.computeOks ---------------------------------------------------
def coco_oks(gt: list[list[float]], dt: list[list[float]], area: float, sigmas: list[float]) -> float:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    k = len(sigmas)
    cat = {"id": 1, "name": "x", "keypoints": [f"k{i}" for i in range(k)], "skeleton": []}
    gt_coco = COCO()
    gt_coco.dataset = {
        "images": [{"id": 1, "width": 200, "height": 200}], "categories": [cat],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": area,
                         "bbox": [0, 0, 10, 10], "num_keypoints": sum(1 for p in gt if p[2] > 0),
                         "keypoints": [c for p in gt for c in p]}],
    }
    gt_coco.createIndex()
    dt_coco = gt_coco.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0,
                                "keypoints": [c for p in dt for c in p]}])
    ev = COCOeval(gt_coco, dt_coco, "keypoints")
    ev.params.kpt_oks_sigmas = np.array(sigmas)
    ev.params.imgIds = [1]
    ev._prepare()
    return float(ev.computeOks(1, 1)[0][0])


@pytest.mark.parametrize("seed", range(60))
def test_oks_matches_pycocotools(seed: int) -> None:
    import contextlib
    import io

    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 8))
    gt = [[float(x), float(y), int(v)] for (x, y), v in zip(rng.uniform(0, 100, (k, 2)), rng.integers(0, 3, k),
                                                          strict=True)]
    gt[0][2] = 2  # at least one labelled keypoint (see the documented difference below)
    dt = [[x + float(rng.normal(0, 5)), y + float(rng.normal(0, 5)), 2] for x, y, _ in gt]
    sigmas = [float(s) for s in rng.uniform(0.02, 0.1, k)]
    area = float(rng.uniform(50, 5000))
    with contextlib.redirect_stdout(io.StringIO()):
        ref = coco_oks(gt, dt, area, sigmas)
    assert same(keypoints.oks(gt, dt, area, sigmas), ref)


def test_oks_documented_differences() -> None:
    """No labelled ground-truth keypoint: 1.0 if the other labels none either, else 0.0 (COCO measures the
    distance to the ground truth's box instead, which keypoint regions do not have)."""
    assert keypoints.oks([[0, 0, 0]], [[5, 5, 0]], 100.0, [0.05]) == 1.0
    assert keypoints.oks([[0, 0, 0]], [[5, 5, 2]], 100.0, [0.05]) == 0.0
    a = [[10.0, 10.0, 2], [30.0, 40.0, 2]]
    assert keypoints.symmetric_oks(a, a) == 1.0
    assert keypoints.symmetric_oks(a, a[:1]) == 0.0


# -- matching vs brute force -------------------------------------------------------------------
def brute_force(sim: np.ndarray, threshold: float) -> tuple[int, float]:
    """The best (pairs, total similarity) over every one-to-one matching of eligible pairs."""
    n, m = sim.shape
    best = (0, 0.0)
    for assignment in itertools.product(range(-1, m), repeat=n):
        cols = [c for c in assignment if c >= 0]
        if len(cols) != len(set(cols)):
            continue
        if any(c >= 0 and not (np.isfinite(sim[r, c]) and sim[r, c] >= threshold) for r, c in enumerate(assignment)):
            continue
        total = math.fsum(sim[r, c] for r, c in enumerate(assignment) if c >= 0)
        if (len(cols), total) > (best[0], best[1] + 1e-12):
            best = (len(cols), total)
    return best


@pytest.mark.parametrize("seed", range(150))
def test_matching_is_optimal(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    sim = rng.random((n, m))
    sim[rng.random((n, m)) < 0.2] = -np.inf  # label mismatches
    threshold = float(rng.choice([0.3, 0.5, 0.7]))
    result = match(sim, threshold)
    tp, total = brute_force(sim, threshold)
    assert result.tp == tp
    assert same(math.fsum(s for _, _, s in result.pairs), total)
    assert same(result.f1, 2 * tp / (n + m) if n + m else 1.0)
    assert same(result.precision, tp / m if m else (1.0 if n == 0 else 0.0))
    assert same(result.recall, tp / n if n else (1.0 if m == 0 else 0.0))
    assert same(result.mean_similarity, total / tp if tp else math.nan)


def test_matching_prefers_more_pairs_over_more_iou() -> None:
    # one pair of IoU 0.95, or two pairs of 0.55 each: the two pairs win (F1 counts pairs)
    sim = np.array([[0.95, 0.55], [0.55, -np.inf]])
    assert match(sim, 0.5).tp == 2


# -- spans vs scikit-learn's f1_score ----------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_span_f1_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def random_spans() -> list[tuple[int, int, str]]:
        out = []
        for _ in range(int(rng.integers(0, 6))):
            start = int(rng.integers(0, 20))
            out.append((start, start + int(rng.integers(1, 6)), str(rng.choice(["PER", "ORG"]))))
        return out

    a, b = random_spans(), random_spans()
    if seed % 7 == 0:
        b = list(a)
    universe = sorted(set(a) | set(b))
    if not universe:
        assert spans.exact_f1(a, b) == 1.0 and spans.partial_f1(a, b) == 1.0  # both empty: full agreement
        return
    ref = sklearn_metrics.f1_score([t in set(a) for t in universe], [t in set(b) for t in universe],
                                   zero_division=1.0)
    assert same(spans.exact_f1(a, b), float(ref))
    chars_a, chars_b = spans.characters(a), spans.characters(b)
    cells = sorted(chars_a | chars_b)
    ref_partial = sklearn_metrics.f1_score([c in chars_a for c in cells], [c in chars_b for c in cells],
                                           zero_division=1.0)
    assert same(spans.partial_f1(a, b), float(ref_partial))


# -- percentiles and throughput vs numpy -------------------------------------------------------
@pytest.mark.parametrize("seed", range(100))
def test_percentiles_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [float(v) for v in rng.integers(1, 10**6, int(rng.integers(1, 50)))]
    if seed % 5 == 0:
        values = values[:1] * len(values)  # all tied
    for q in (50, 95):
        ref = float(np.percentile(values, q))
        assert abs(stats.percentile(values, q) - ref) <= 1e-9 * max(1.0, abs(ref))


def test_throughput_per_hour() -> None:
    assert stats.throughput_per_hour([1_800_000, 1_800_000]) == 2.0  # two tasks in one working hour
    assert stats.throughput_per_hour([0, 0]) == 0.0
    assert math.isnan(stats.percentile([], 50))


# -- Dawid-Skene ---------------------------------------------------------------------------------
def test_dawid_skene_beats_majority_with_unreliable_annotators() -> None:
    rng = np.random.default_rng(7)
    classes = ["a", "b", "c"]
    accuracy = {"good1": 0.9, "good2": 0.85, "bad1": 0.2, "bad2": 0.2, "bad3": 0.25}
    truth = [str(rng.choice(classes)) for _ in range(300)]
    units: list[dict[str, Any]] = []
    for t in truth:
        units.append({a: (t if rng.random() < acc else str(rng.choice([c for c in classes if c != t])))
                      for a, acc in accuracy.items()})
    ds = dawid_skene(units, classes)
    ds_acc = np.mean([ds.estimate(u) == t for u, t in enumerate(truth)])
    from collections import Counter

    majority = np.mean([Counter(u.values()).most_common(1)[0][0] == t for u, t in zip(units, truth, strict=True)])
    assert ds_acc > majority + 0.05
    assert ds_acc > 0.85
    assert ds.confusion["good1"][0, 0] > ds.confusion["bad1"][0, 0]


def test_dawid_skene_unanimous_and_empty() -> None:
    ds = dawid_skene([{"a": "x", "b": "x"}, {"a": "y", "b": "y"}], ["x", "y"])
    assert [ds.estimate(0), ds.estimate(1)] == ["x", "y"]
    with pytest.raises(ValueError):
        dawid_skene([{"a": "z"}], ["x"])
