"""Issue 8: the review queue in the browser (Debian's Chromium, Playwright) on the real stack. Two annotators
disagree on three images; a reviewer sees both versions side by side with the disagreement highlighted, accepts
one version, rejects one with feedback (the annotators get it back as rework) and adjudicates one with the
workspace's editor: the adjudicated result is what is accepted and exported, once.

``ANNOTARY_SCREENSHOTS=docs/screenshots`` writes review.png and adjudicate.png there."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_pipeline import wait_items
from tests.integration.test_workspace_screenshots import VIEWPORT, snap

SCHEMA: dict[str, Any] = {
    "modality": "image",
    "tools": ["bbox", "choice"],
    "labels": [{"name": "cat", "hotkey": "1", "color": "#e6194b"}, {"name": "dog", "hotkey": "2", "color": "#4363d8"}],
    "choices": [{"name": "quality", "options": ["sharp", "blurry"]}],
}






def sign_in(browser: Browser, stack: Stack, token: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    page.goto(stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    return page


def work_all(api: Api, pid: str, answer: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Lease and submit every task the annotator can get; the tasks as submitted."""
    done = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = api.post(f"/projects/{pid}/tasks/next")
        if reply.status_code == 204:
            return done
        assert reply.status_code == 200, reply.text
        task = reply.json()
        submitted = api.post(f"/tasks/{task['id']}/submit", json={"result": answer(task), "lead_time_ms": 900})
        assert submitted.status_code == 200, submitted.text
        done.append(task)
    raise AssertionError("the annotator's queue never ran dry")


def wait_reviews(api: Api, pid: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        reviews: list[dict[str, Any]] = api.get(f"/projects/{pid}/review-queue").json()["reviews"]
        if len(reviews) >= count or time.monotonic() > deadline:
            assert len(reviews) == count, reviews
            return reviews
        time.sleep(0.2)


def exported(api: Api, pid: str, ready: Callable[[list[dict[str, Any]]], bool], timeout: float = 60.0) -> list[Any]:
    """The project's JSONL export, exported again until ``ready`` holds (accepted annotations arrive async)."""
    deadline = time.monotonic() + timeout
    while True:
        reply = api.post(f"/projects/{pid}/exports", json={"format": "jsonl"})
        assert reply.status_code == 202, reply.text
        job = api.wait_export(reply.json()["id"])
        assert job["status"] == "done", job
        lines = [json.loads(x) for x in api.get(f"/exports/{job['id']}/download").text.splitlines() if x.strip()]
        if ready(lines) or time.monotonic() > deadline:
            assert ready(lines), lines
            return lines
        time.sleep(0.5)


def box(label: str, x: int, y: int = 20, w: int = 60, h: int = 50) -> dict[str, Any]:
    return {"type": "bbox", "label": label, "x": x, "y": y, "w": w, "h": h}


def test_review_accept_reject_and_adjudicate(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, reviewer = make_user("manager"), make_user("reviewer")
    ann = [make_user("annotator"), make_user("annotator")]
    names = [a.get("/me").json()["username"] for a in ann]
    name = f"review-{uuid.uuid4().hex[:6]}"
    pid = manager.create_project(name, SCHEMA, {"overlap": 2, "agreement_threshold": 0.9})["id"]
    files = [("files", (f"photo-{k}.png", data, "image/png")) for k, (_, data) in enumerate(photo_crops(3, (320, 240)))]
    assert manager.post(f"/projects/{pid}/items", files=files).status_code == 201
    wait_items(manager, pid, 3)

    # both draw the same cat; they differ on the second box and on the quality
    work_all(
        ann[0],
        pid,
        lambda t: [box("cat", 20), box("dog", 200), {"type": "choice", "name": "quality", "value": "sharp"}],
    )
    work_all(
        ann[1],
        pid,
        lambda t: [box("cat", 22), box("cat", 150, 120), {"type": "choice", "name": "quality", "value": "blurry"}],
    )
    reviews = wait_reviews(reviewer, pid, 3)
    assert {s["username"] for s in reviews[0]["submissions"]} == set(names)

    page = sign_in(browser, stack, reviewer.token)
    page.get_by_test_id(f"review-{name}").click()
    expect(page.get_by_test_id("review-item")).to_have_count(3)
    expect(page.get_by_test_id("review-count")).to_have_text("3")
    first = page.get_by_test_id("review-external-id").inner_text()
    # side by side: the overlay of all versions and one figure per annotator; the cat agrees, the rest does not
    all_versions = page.get_by_test_id("overlay-all")
    expect(all_versions.locator("[data-testid=version-region]")).to_have_count(4)
    expect(all_versions.locator("[data-status=agreed]")).to_have_count(2)
    expect(all_versions.locator("[data-status=disputed]")).to_have_count(2)
    expect(page.get_by_test_id("version-1").locator("[data-status=disputed][data-label=cat]")).to_have_count(1)
    expect(page.get_by_test_id("choice-row-quality")).to_have_attribute("data-status", "disputed")
    expect(page.get_by_test_id("disputed-count")).to_have_text("3 disagreements")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.overlay-box img')].every(i => i.complete && i.naturalWidth)"
    )
    snap(page, shots, "review")

    # 1: accept the first annotator's version
    page.get_by_test_id(f"accept-{names[0]}").click()
    expect(page.get_by_test_id("review-status")).to_contain_text(f"{names[0]}'s version accepted")
    expect(page.get_by_test_id("review-item")).to_have_count(2)

    # 2: reject with feedback: both annotators get the item back, feedback attached
    second = page.get_by_test_id("review-external-id").inner_text()
    expect(page.get_by_test_id("reject")).to_be_disabled()
    page.get_by_test_id("reject-feedback").fill("The second animal is a dog, and the photo is sharp.")
    page.get_by_test_id("reject").click()
    expect(page.get_by_test_id("review-status")).to_contain_text("rejected")
    deadline = time.monotonic() + 30
    while True:
        rework = ann[0].post(f"/projects/{pid}/tasks/next")
        if rework.status_code == 200:
            break
        assert time.monotonic() < deadline, "the rejected item never came back"
        time.sleep(0.3)
    assert rework.json()["item"]["external_id"] == second and rework.json()["round"] == 2
    assert rework.json()["feedback"] == "The second animal is a dog, and the photo is sharp."

    # 3: adjudicate from the second annotator's version with the workspace's editor: drop the wrong box, fix the
    # quality, submit: that result is the accepted one
    third = page.get_by_test_id("review-external-id").inner_text()
    page.get_by_test_id("adjudicate-base").select_option(index=1)
    page.get_by_test_id("adjudicate").click()
    expect(page.get_by_test_id("adjudicator")).to_be_visible()
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=canvas]'); return c && c.width > 0; }"
    )
    expect(page.locator(".region-markers [data-testid=region][data-type=bbox]")).to_have_count(2)
    page.keyboard.press(".")
    page.keyboard.press(".")
    page.keyboard.press("Delete")
    expect(page.locator(".region-markers [data-testid=region][data-type=bbox]")).to_have_count(1)
    page.get_by_test_id("choice-quality-sharp").check()
    snap(page, shots, "adjudicate")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("review-status")).to_contain_text("adjudicated and accepted")
    expect(page.get_by_test_id("review-empty")).to_be_visible()

    # what was accepted, as exported: one line per accepted item, the adjudicated result for the third
    lines = exported(manager, pid, lambda rows: len(rows) == 2)
    by_name = {row["external_id"]: row["annotations"][0] for row in lines}
    assert set(by_name) == {first, third}
    plain = [{k: v for k, v in r.items() if k != "id"} for r in by_name[third]["result"]]
    assert sorted(r["type"] for r in plain) == ["bbox", "choice"]
    assert {"type": "choice", "name": "quality", "value": "sharp"} in plain
    assert by_name[third]["decided_by"] == reviewer.get("/me").json()["id"]
    assert by_name[first]["result"][0]["x"] == 20  # the first annotator's cat

    # a second decision on a decided round changes nothing: 409, nothing accepted twice
    item3 = next(r["item"]["id"] for r in reviews if r["item"]["external_id"] == third)
    again = reviewer.post(
        f"/projects/{pid}/review-queue/{item3}", json={"round": 1, "decision": "adjudicate", "result": []}
    )
    assert again.status_code == 409, again.text
    refused = ann[1].get(f"/projects/{pid}/review-queue")
    assert refused.status_code == 403
    bad = reviewer.post(f"/projects/{pid}/review-queue/{item3}", json={"round": 1, "decision": "reject"})
    assert bad.status_code == 422 and "feedback" in bad.text
    page.close()


NER_SCHEMA: dict[str, Any] = {
    "modality": "text",
    "tools": ["span", "choice"],
    "labels": [{"name": "PER", "color": "#e6194b"}, {"name": "LOC", "color": "#3cb44b"}],
    "choices": [{"name": "lang", "options": ["en", "fr"]}],
}
NER_TEXT = "Ana met Bob in Paris before flying to Lisbon with Carla."


def test_review_text_spans_side_by_side(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, reviewer = make_user("manager"), make_user("reviewer")
    ann = [make_user("annotator"), make_user("annotator")]
    name = f"review-ner-{uuid.uuid4().hex[:6]}"
    pid = manager.create_project(name, NER_SCHEMA, {"overlap": 2, "agreement_threshold": 0.95})["id"]
    assert manager.post(f"/projects/{pid}/items", json=[{"external_id": "trip", "text": NER_TEXT}]).status_code == 201
    wait_items(manager, pid, 1)

    def spans(*marks: tuple[str, int, int], lang: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"type": "span", "label": label, "start": s, "end": e} for label, s, e in marks]
        return [*out, {"type": "choice", "name": "lang", "value": lang}]

    # they agree on Ana, Paris and Lisbon; Bob is a person for one, Carla a place for the other
    work_all(ann[0], pid, lambda t: spans(("PER", 0, 3), ("PER", 8, 11), ("LOC", 15, 20), ("LOC", 38, 44), lang="en"))
    work_all(ann[1], pid, lambda t: spans(("PER", 0, 3), ("LOC", 15, 20), ("LOC", 38, 44), ("LOC", 50, 55), lang="en"))
    wait_reviews(reviewer, pid, 1)

    page = sign_in(browser, stack, reviewer.token)
    page.get_by_test_id(f"review-{name}").click()
    for i, disputed in ((0, "Bob"), (1, "Carla")):
        column = page.get_by_test_id(f"version-{i}")
        expect(column.locator("[data-testid=version-span]")).to_have_count(4)
        expect(column.locator("[data-testid=version-span][data-status=disputed]")).to_have_text(
            [f"PER “{disputed}”"] if i == 0 else [f"LOC “{disputed}”"]
        )
        expect(column.locator(".span-region.invalid")).to_have_count(1)
    expect(page.get_by_test_id("choice-row-lang")).to_have_attribute("data-status", "agreed")
    expect(page.get_by_test_id("disputed-count")).to_have_text("2 disagreements")
    snap(page, shots, "review-text")
    page.get_by_test_id("accept-" + ann[0].get("/me").json()["username"]).click()
    expect(page.get_by_test_id("review-empty")).to_be_visible()
    lines = exported(manager, pid, lambda rows: len(rows) == 1)
    result = lines[0]["annotations"][0]["result"]
    assert sorted((r["label"], r["start"]) for r in result if r["type"] == "span") == [
        ("LOC", 15),
        ("LOC", 38),
        ("PER", 0),
        ("PER", 8),
    ]
    page.close()
