"""Issue 8, dashboards: a project seeded through the real stack (three annotators, gold items, disagreements sent to
review, one rejection), its figures from the REST API checked against what the test itself did, then shown in the
browser: the manager's dashboard and an annotator's own page; an annotator gets 403 on the manager's dashboard.

``ANNOTARY_SCREENSHOTS=docs/screenshots`` writes dashboard.png and my-stats.png where the README links them."""

from __future__ import annotations

import io
import math
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from annotary_cli.stack import Stack
from tests.integration.client import Api

SCHEMA = {"modality": "text", "labels": [{"name": "PERSON"}, {"name": "ORG"}], "tools": ["span"]}
NAMES = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"]
GOLD = ["Katherine Johnson", "Claude Shannon", "Hedy Lamarr"]
VIEWPORT = {"width": 1440, "height": 1300}


def truth(text: str) -> list[dict[str, Any]]:
    return [{"type": "span", "label": "PERSON", "start": 0, "end": len(text.split(" met ")[0])}]


def wrong(text: str) -> list[dict[str, Any]]:
    return [{"type": "span", "label": "ORG", "start": len(text) - 5, "end": len(text) - 1}]


@dataclass
class Done:
    annotator: str          # the annotator's id
    external_id: str
    gold: bool
    correct: bool
    min_ms: float           # lease answered .. submit sent: the server's lease-to-submit time is at least this
    max_ms: float           # lease sent .. submit answered: and at most this


@dataclass
class Seeded:
    project_id: str
    name: str
    manager: Api
    reviewer: Api
    annotators: dict[str, Api]          # username -> client
    ids: dict[str, str]                 # username -> id
    done: list[Done] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)   # external ids sent to review
    rejected: str = ""


def user(admin: Api, role: str) -> tuple[str, Api]:
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    reply = admin.post("/users", json={"username": name, "role": role})
    assert reply.status_code == 201, reply.text
    return name, Api(admin.base_url, reply.json()["token"])


def poll(what: str, fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout}s")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def seeded(stack: Stack, admin: Api) -> Seeded:
    _, manager = user(admin, "manager")
    _, reviewer = user(admin, "reviewer")
    annotators = dict(user(admin, "annotator") for _ in range(3))
    name = f"dash-{uuid.uuid4().hex[:6]}"
    policy = {"overlap": 2, "agreement_threshold": 0.9, "review": "disagreements", "gold_ratio": 0.3,
              "gold_min_accuracy": 0.0, "lease_seconds": 600}
    pid = manager.create_project(name, SCHEMA, policy)["id"]
    items = [{"external_id": f"item-{i}", "text": f"{n} met the committee in 19{50 + i}."} for i, n in enumerate(NAMES)]
    gold = [{"external_id": f"gold-{i}", "text": f"{n} met the board in 20{10 + i}.", "gold": truth(f"{n} met ")}
            for i, n in enumerate(GOLD)]
    reply = manager.post(f"/projects/{pid}/items", json=items + gold)
    assert reply.status_code == 201, reply.text
    item_ids = dict(zip([x["external_id"] for x in items + gold], reply.json()["item_ids"], strict=True))
    poll("items ingested", lambda: manager.get(f"/projects/{pid}/stats").json(),
         lambda st: sum(st["states"].values()) >= len(items) and st["gold_items"] >= len(gold))
    s = Seeded(pid, name, manager, reviewer, annotators,
               {u: api.get("/me").json()["id"] for u, api in annotators.items()})
    careful, gold_wrong, regular_wrong = list(annotators)

    # Round robin, one task each, until nobody gets anything: the first is careful, the second answers gold items
    # wrongly, the third regular items (so every item the third touches disagrees and goes to review).
    idle: set[str] = set()
    while len(idle) < len(annotators):
        for username, api in annotators.items():
            sent = time.monotonic()
            leased = api.post(f"/projects/{pid}/tasks/next")
            got = time.monotonic()
            if leased.status_code == 204:
                idle.add(username)
                continue
            assert leased.status_code == 200, leased.text
            idle.discard(username)
            task = leased.json()
            ext, text = task["item"]["external_id"], task["item"]["text"]
            is_gold = ext.startswith("gold")
            correct = not ((is_gold and username == gold_wrong) or (not is_gold and username == regular_wrong))
            time.sleep(0.05 * (1 + list(annotators).index(username)))  # unequal, known-order working times
            before = time.monotonic()
            done = api.post(f"/tasks/{task['id']}/submit",
                            json={"result": truth(text) if correct else wrong(text), "lead_time_ms": 500})
            after = time.monotonic()
            assert done.status_code == 200, done.text
            s.done.append(Done(s.ids[username], ext, is_gold, correct, (before - got) * 1000, (after - sent) * 1000))
    regular = [d for d in s.done if not d.gold]
    assert Counter(d.external_id for d in regular) == {x["external_id"]: 2 for x in items}
    assert any(d.gold for d in s.done), "no gold item was served"
    s.reviewed = sorted({d.external_id for d in regular if not d.correct})
    assert s.reviewed and len(s.reviewed) < len(items), s.reviewed
    assert careful != regular_wrong

    reviews = poll("reviews", lambda: reviewer.get(f"/projects/{pid}/reviews").json(),
                   lambda r: len(r) >= len(s.reviewed))
    assert sorted(r["item"]["external_id"] for r in reviews) == s.reviewed
    s.rejected = s.reviewed[0]
    first = next(r for r in reviews if r["item"]["external_id"] == s.rejected)
    decision = reviewer.post(f"/projects/{pid}/reviews/{item_ids[s.rejected]}",
                             json={"round": first["round"], "decision": "reject", "feedback": "mark the person"})
    assert decision.status_code == 200 and decision.json()["outcome"] == "rejected", decision.text
    poll("the rejected item back in the queue", lambda: manager.get(f"/projects/{pid}/stats").json()["states"],
         lambda st: st.get("unassigned") == 1)
    return s


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def expected(s: Seeded) -> dict[str, Any]:
    """Every figure the dashboard should show, from what the test did."""
    regular = [d for d in s.done if not d.gold]
    golds = [d for d in s.done if d.gold]
    per: dict[str, dict[str, Any]] = {}
    for uid in s.ids.values():
        mine = [d for d in s.done if d.annotator == uid]
        my_gold = [d for d in mine if d.gold]
        # closed: rounds with a final outcome (accepted by consensus, or the rejected one)
        closed = [d for d in mine if not d.gold and (d.external_id not in s.reviewed or d.external_id == s.rejected)]
        accepted = [d for d in closed if d.external_id != s.rejected]
        per[uid] = {
            "submissions": len(mine),
            "gold_scored": len(my_gold),
            "gold_accuracy": sum(d.correct for d in my_gold) / len(my_gold) if my_gold else None,
            "agreement": 1.0 if accepted else None,
            "closed": len(closed),
            "rejected": sum(1 for d in closed if d.external_id == s.rejected),
            "min_ms": [d.min_ms for d in mine],
            "max_ms": [d.max_ms for d in mine],
        }
    decided = len(NAMES)
    return {
        "total": len(s.done),
        "by_type": {"regular": len(regular), "gold": len(golds)},
        "gold_mean": sum(d.correct for d in golds) / len(golds),
        "decided": decided,
        "rejected": 1,
        "reviewed": len(s.reviewed),
        "in_review": len(s.reviewed) - 1,
        "agreement_mean": (decided - len(s.reviewed)) / decided,   # agreeing items 1.0, the disagreeing ones 0.0
        "queue": {"accepted": decided - len(s.reviewed), "under_review": len(s.reviewed) - 1, "unassigned": 1,
                  "gold": len(GOLD)},
        "per": per,
        "min_ms": [d.min_ms for d in s.done],
        "max_ms": [d.max_ms for d in s.done],
    }


def within_bounds(value: float, lower: list[float], upper: list[float], q: float) -> bool:
    """A percentile of values each inside [lower_i, upper_i] lies between the percentiles of the bounds."""
    return percentile(lower, q) - 1.0 <= value <= percentile(upper, q) + 1.0


def test_dashboard_figures_match_the_seeded_project(seeded: Seeded) -> None:
    s, exp = seeded, expected(seeded)
    board = poll("decisions", lambda: s.manager.get(f"/projects/{s.project_id}/dashboard").json(),
                 lambda b: b.get("decisions", {}).get("rejected") == 1)
    assert board["range"]["bucket"] == "hour" and len(board["buckets"]) in (24, 25)
    assert board["throughput"]["total"] == exp["total"] == sum(board["throughput"]["series"])
    assert {t["task_type"]: t["total"] for t in board["throughput"]["by_task_type"]} == exp["by_type"]
    assert board["throughput"]["per_hour"] == pytest.approx(exp["total"] / board["range"]["hours"])
    assert {p["annotator_id"]: p["total"] for p in board["throughput"]["by_annotator"]} == {
        uid: f["submissions"] for uid, f in exp["per"].items()}
    assert board["task_time"]["tasks"] == exp["total"]
    assert within_bounds(board["task_time"]["median_ms"], exp["min_ms"], exp["max_ms"], 0.5)
    assert within_bounds(board["task_time"]["p95_ms"], exp["min_ms"], exp["max_ms"], 0.95)
    assert board["gold_accuracy"]["mean"] == pytest.approx(exp["gold_mean"])
    assert board["gold_accuracy"]["scored"] == exp["by_type"]["gold"]
    assert board["agreement"]["mean"] == pytest.approx(exp["agreement_mean"])
    d = board["decisions"]
    assert (d["decided"], d["rejected"], d["reviewed"], d["in_review"]) == (
        exp["decided"], exp["rejected"], exp["reviewed"], exp["in_review"])
    assert d["rejection_rate"] == pytest.approx(1 / exp["decided"])
    assert d["review_rate"] == pytest.approx(exp["reviewed"] / exp["decided"])
    assert board["queue"]["now"] == exp["queue"]
    assert board["queue"]["series"][-1]["states"] == exp["queue"]   # the history replayed up to now
    rows = {r["annotator_id"]: r for r in board["annotators"]}
    assert set(rows) == set(exp["per"])
    for uid, f in exp["per"].items():
        row = rows[uid]
        assert row["username"] in s.annotators
        for key in ("submissions", "gold_scored", "closed", "rejected"):
            assert row[key] == f[key], (key, row, f)
        for key in ("gold_accuracy", "agreement"):
            assert row[key] == (pytest.approx(f[key]) if f[key] is not None else None), (key, row, f)
        assert row["rejection_rate"] == pytest.approx(f["rejected"] / f["closed"])
        assert within_bounds(row["median_ms"], f["min_ms"], f["max_ms"], 0.5)
        assert within_bounds(row["p95_ms"], f["min_ms"], f["max_ms"], 0.95)

    # by the day: the same totals in one bucket
    day = s.manager.get(f"/projects/{s.project_id}/dashboard", params={"bucket": "day"}).json()
    assert day["throughput"]["total"] == exp["total"] and day["decisions"]["decided"] == exp["decided"]

    # an annotator's own page, compared with the project median; never someone else's, never the project's
    username, api = next(iter(s.annotators.items()))
    mine = api.get(f"/projects/{s.project_id}/dashboard/annotators/me").json()
    assert mine["annotator"]["annotator_id"] == s.ids[username] and mine["annotator"]["username"] == username
    assert mine["annotator"]["submissions"] == exp["per"][s.ids[username]]["submissions"]
    assert mine["annotators_compared"] == 3
    golds = [f["gold_accuracy"] for f in exp["per"].values() if f["gold_accuracy"] is not None]
    assert mine["project_median"]["gold_accuracy"] == pytest.approx(statistics.median(golds))
    assert mine["project_median"]["per_hour"] == pytest.approx(
        statistics.median(f["submissions"] / mine["range"]["hours"] for f in exp["per"].values()))
    other = next(uid for u, uid in s.ids.items() if u != username)
    for path in (f"/projects/{s.project_id}/dashboard", f"/projects/{s.project_id}/dashboard/annotators/{other}"):
        reply = api.get(path)
        assert reply.status_code == 403, (path, reply.text)
    assert s.reviewer.get(f"/projects/{s.project_id}/dashboard").status_code == 403
    seen = s.manager.get(f"/projects/{s.project_id}/dashboard/annotators/{other}")
    assert seen.status_code == 200 and seen.json()["annotator"]["annotator_id"] == other

    # bad input: a clear 4xx naming the fault
    for params, words in (({"bucket": "week"}, "bucket"),
                          ({"start": "2026-03-02T10:00:00Z", "end": "2026-03-01T10:00:00Z"}, "after start"),
                          ({"start": "2020-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "buckets"),
                          ({"start": "yesterday"}, "start")):
        reply = s.manager.get(f"/projects/{s.project_id}/dashboard", params=params)
        assert reply.status_code == 422 and words in reply.text, (params, reply.text)
    assert s.manager.get(f"/projects/{uuid.uuid4()}/dashboard").status_code == 404


# -- the browser ---------------------------------------------------------------------------------------------
def duration(ms: float | None) -> str:
    """What the UI shows for a time (web/src/dashboard/format.ts)."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{round(ms)} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    total = round(ms / 1000)
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    minutes = round(total / 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def percent(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"






def save(page: Page, path: Path) -> None:
    """The whole page, in 256 colours (a third of the bytes, for the repository)."""
    page.mouse.move(2, 2)
    image = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def open_dashboards(browser: Browser, stack: Stack, token: str, project: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    page.goto(stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("open-dashboards").click()
    page.get_by_test_id("dashboard-project").select_option(label=project)
    return page


def test_dashboard_in_the_browser(stack: Stack, seeded: Seeded, browser: Browser, shots: Path) -> None:
    s, exp = seeded, expected(seeded)
    board = poll("decisions", lambda: s.manager.get(f"/projects/{s.project_id}/dashboard").json(),
                 lambda b: b.get("decisions", {}).get("rejected") == 1)
    page = open_dashboards(browser, stack, s.manager.token, s.name)
    expect(page.get_by_test_id("project-dashboard")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("dash-submissions")).to_have_text(str(exp["total"]))
    expect(page.get_by_test_id("dash-decided")).to_have_text(str(exp["decided"]))
    expect(page.get_by_test_id("dash-gold")).to_have_text(percent(exp["gold_mean"]))
    expect(page.get_by_test_id("dash-agreement")).to_have_text(percent(exp["agreement_mean"]))
    expect(page.get_by_test_id("dash-rejection-rate")).to_have_text(f"{percent(1 / exp['decided'])} (1)")
    expect(page.get_by_test_id("dash-review-rate")).to_have_text(
        f"{percent(exp['reviewed'] / exp['decided'])} ({exp['reviewed']})")
    expect(page.get_by_test_id("dash-median")).to_have_text(duration(board["task_time"]["median_ms"]))
    for state, n in exp["queue"].items():
        expect(page.get_by_test_id(f"dash-queue-{state}")).to_have_text(str(n))
    for username, uid in s.ids.items():
        f = exp["per"][uid]
        row = page.get_by_test_id(f"annotator-row-{username}")
        expect(row.get_by_test_id("cell-submissions")).to_have_text(str(f["submissions"]))
        expect(row.get_by_test_id("cell-gold")).to_contain_text(percent(f["gold_accuracy"]))
        expect(row.get_by_test_id("cell-rejection")).to_have_text(
            f"{percent(f['rejected'] / f['closed'])} ({f['rejected']}/{f['closed']})")
    # every chart drew (uPlot: a canvas per chart)
    for chart in ("throughput-annotator", "throughput-type", "task-time", "queue", "agreement", "gold", "rejections"):
        expect(page.get_by_test_id(f"chart-{chart}").locator("canvas")).to_have_count(1, timeout=10_000)
    page.get_by_test_id("range-preset").select_option("7d")
    expect(page.get_by_test_id("dash-submissions")).to_have_text(str(exp["total"]))
    page.get_by_test_id("range-preset").select_option("24h")
    expect(page.get_by_test_id("dash-submissions")).to_have_text(str(exp["total"]))
    expect(page.get_by_test_id("chart-queue").locator("canvas")).to_have_count(1, timeout=10_000)
    save(page, shots / "dashboard.png")

    # an annotator: no project tab, their own page with the project's median
    username = next(iter(s.annotators))
    f = exp["per"][s.ids[username]]
    page = open_dashboards(browser, stack, s.annotators[username].token, s.name)
    expect(page.get_by_test_id("my-stats")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("view-project")).to_have_count(0)
    expect(page.get_by_test_id("my-submissions")).to_have_text(str(f["submissions"]))
    expect(page.get_by_test_id("my-gold-scored")).to_have_text(str(f["gold_scored"]))
    expect(page.get_by_test_id("my-rejected")).to_have_text(f"{f['rejected']} of {f['closed']}")
    expect(page.get_by_test_id("my-row-gold_accuracy").get_by_test_id("mine")).to_have_text(
        percent(f["gold_accuracy"]))
    expect(page.get_by_test_id("chart-my-throughput").locator("canvas")).to_have_count(1, timeout=10_000)
    save(page, shots / "my-stats.png")
    # the manager's dashboard is refused to them by the API as well
    assert s.annotators[username].get(f"/projects/{s.project_id}/dashboard").status_code == 403
