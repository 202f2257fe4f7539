"""Issue 5: the image tools in the browser. Debian's Chromium, driven by Playwright, against the real stack:
pre-labels accepted, edited and rejected, boxes, polygons, keypoints and a brush mask drawn with the mouse, a
relation linked from the keyboard, undo/redo, a reload that finds the draft, submit-and-advance to a pre-loaded
item, and the stored result checked through the API (the mask decoded with pycocotools)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect
from pycocotools import mask as mask_utils

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_browser import submitted_result
from tests.integration.test_pipeline import wait_items

W, H = 400, 280




def open_workspace(browser: Browser, stack: Stack, token: str, project: str, page: Page | None = None) -> Page:
    """Sign in (or reuse the page, whose token is stored), open the project and wait for its first item."""
    if page is None:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(stack.api_url + "/")
        page.get_by_test_id("token-input").fill(token)
        page.get_by_test_id("sign-in").click()
    page.get_by_test_id(f"project-{project}").click()
    expect(page.get_by_test_id("current-external-id")).to_be_visible(timeout=20_000)
    return page


def wait_ready(page: Page) -> None:
    """The stage drew the item (image: the canvas has its size; text: the text is there)."""
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=canvas]');"
        " return (c && c.width > 0) || !!document.querySelector('[data-testid=text-content] [data-start]'); }",
        timeout=20_000,
    )
    page.wait_for_timeout(150)


class Canvas:
    """Image pixels to page pixels at the fitted view (zoom 1), where the canvas shows the whole image."""

    def __init__(self, page: Page, width: int, height: int) -> None:
        self.page = page
        box = page.get_by_test_id("canvas").bounding_box()
        assert box is not None
        self.box, self.width, self.height = box, width, height

    def at(self, x: float, y: float) -> tuple[float, float]:
        return self.box["x"] + x * self.box["width"] / self.width, self.box["y"] + y * self.box["height"] / self.height

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))

    def drag(self, points: list[tuple[float, float]], steps: int = 4) -> None:
        mouse = self.page.mouse
        mouse.move(*self.at(*points[0]))
        mouse.down()
        for p in points[1:]:
            mouse.move(*self.at(*p), steps=steps)
        mouse.up()


def markers(page: Page) -> list[dict[str, Any]]:
    """The regions as the stage lists them (hidden markers next to the canvas)."""
    result: list[dict[str, Any]] = page.evaluate(
        "() => [...document.querySelectorAll('.region-markers [data-testid=region]')].map(m => ({"
        " id: m.dataset.regionId, type: m.dataset.type, label: m.dataset.label,"
        " selected: m.getAttribute('aria-selected') === 'true', pending: m.dataset.pending === 'true'}))"
    )
    return result


def png(seed: int, size: tuple[int, int] = (W, H)) -> bytes:
    _, data = photo_crops(seed + 1, size=size)[seed]
    return data


def import_images(manager: Api, stack: Stack, project_id: str, items: list[dict[str, Any]]) -> None:
    """Write the images into the stack's import root and import them with their predictions as JSON, one at a
    time, so that they are queued (and leased) in this order."""
    root = stack.config.import_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    for n, item in enumerate(items, start=1):
        path = root / f"{uuid.uuid4().hex}-{item['external_id']}"
        path.write_bytes(item.pop("bytes"))
        reply = manager.post(f"/projects/{project_id}/items", json=[{**item, "image": path.resolve().as_uri()}])
        assert reply.status_code == 201, reply.text
        wait_items(manager, project_id, n)


def held(annotator: Api, project_id: str) -> list[dict[str, Any]]:
    """The annotator's held leases (what the UI holds: the call tops up to 4, which the UI already did)."""
    reply = annotator.post(f"/projects/{project_id}/tasks/lease", json={"count": 4})
    assert reply.status_code == 200, reply.text
    tasks: list[dict[str, Any]] = reply.json()["tasks"]
    return tasks


IMAGE_SCHEMA: dict[str, Any] = {
    "modality": "image",
    "tools": ["bbox", "polygon", "keypoints", "mask", "relation"],
    "labels": [
        {"name": "person", "hotkey": "1"},
        {
            "name": "face",
            "hotkey": "2",
            "keypoints": ["left_eye", "right_eye", "nose"],
            "skeleton": [[1, 2], [1, 3], [2, 3]],
        },
        {"name": "sky", "hotkey": "3"},
        {"name": "next_to", "tools": ["relation"]},
    ],
    "attributes": [{"name": "occluded", "type": "boolean"}],
    "guidelines": "Draw **tight** boxes.\n\n```example\n"
    + json.dumps(
        {
            "title": "one person",
            "width": 100,
            "height": 75,
            "result": [{"type": "bbox", "label": "person", "x": 20, "y": 10, "w": 30, "h": 50}],
        }
    )
    + "\n```\n",
}


def test_draw_and_submit_every_image_tool(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-image-{uuid.uuid4().hex[:6]}"
    project = manager.create_project(name, IMAGE_SCHEMA, {"overlap": 1})
    pid = project["id"]
    predictions = [
        {
            "model_version": "det-v1",
            "score": 0.8,
            "result": [
                {"type": "bbox", "label": "person", "x": 220, "y": 30, "w": 80, "h": 60, "score": 0.93},
                {"type": "bbox", "label": "person", "x": 20, "y": 200, "w": 50, "h": 50, "score": 0.41},
            ],
        }
    ]
    import_images(
        manager,
        stack,
        pid,
        [
            {"external_id": "first.png", "bytes": png(0), "predictions": predictions},
            {"external_id": "second.png", "bytes": png(1)},
        ],
    )
    page = open_workspace(browser, stack, annotator.token, name)
    expect(page.get_by_test_id("current-external-id")).to_have_text("first.png")
    wait_ready(page)
    canvas = Canvas(page, W, H)
    assert [m["pending"] for m in markers(page)] == [True, True]
    expect(page.get_by_test_id("prelabels")).to_contain_text("2 to review")

    # pre-labels: reject the weak one, accept the other and then move it (an edit)
    canvas.click(45, 225)
    assert [m["selected"] for m in markers(page)] == [False, True]
    page.keyboard.press("x")
    assert len(markers(page)) == 1
    canvas.click(260, 60)
    page.keyboard.press("a")
    assert markers(page)[0]["pending"] is False
    canvas.drag([(260, 60), (270, 70)])

    # a box: drag, then its label by hotkey
    canvas.drag([(40, 40), (120, 150)])
    page.keyboard.press("1")
    # a polygon: click the vertices, close on the first one
    page.keyboard.press("p")
    for x, y in [(150, 160), (250, 160), (250, 260), (150, 260)]:
        canvas.click(x, y)
    canvas.click(151, 161)
    assert [m["type"] for m in markers(page)] == ["bbox", "bbox", "polygon"]
    # undo takes the polygon back, redo restores it
    page.keyboard.press("Control+z")
    assert [m["type"] for m in markers(page)] == ["bbox", "bbox"]
    page.keyboard.press("Control+Shift+z")
    assert [m["type"] for m in markers(page)] == ["bbox", "bbox", "polygon"]
    # keypoints of a face: three clicks along the skeleton (the nose hidden)
    page.keyboard.press("k")
    page.keyboard.press("2")
    canvas.click(300, 120)
    expect(page.get_by_test_id("status")).to_contain_text("right_eye")
    canvas.click(340, 120)
    page.keyboard.down("Shift")
    canvas.click(320, 140)
    page.keyboard.up("Shift")
    # a brush stroke of sky
    page.keyboard.press("m")
    page.keyboard.press("3")
    canvas.drag([(30, 20), (100, 20), (180, 25)])
    types = [m["type"] for m in markers(page)]
    assert types == ["bbox", "bbox", "polygon", "keypoints", "mask"], types
    # a relation from the keyboard: the drawn box, then the polygon
    page.keyboard.press("b")
    page.keyboard.press("Escape")
    ids = [m["id"] for m in markers(page)]
    page.keyboard.press(".")
    page.keyboard.press(".")  # the second region: the drawn box
    assert markers(page)[1]["selected"]
    page.keyboard.press("r")
    expect(page.get_by_test_id("status")).to_contain_text("Linking from person")
    page.keyboard.press(".")
    page.keyboard.press("r")
    assert [m["type"] for m in markers(page)][-1] == "relation"
    # an attribute on the drawn box
    page.keyboard.press(",")
    page.keyboard.press(",")
    page.keyboard.press(",")
    page.keyboard.press(",")
    expect(page.get_by_test_id("inspector")).to_contain_text("Selected bbox")
    page.get_by_test_id("attribute-occluded").check()

    # the draft survives a reload (it went to localStorage and, a moment later, to the server)
    page.wait_for_timeout(1600)
    before = markers(page)
    page.reload()
    open_workspace(browser, stack, annotator.token, name, page)
    expect(page.get_by_test_id("current-external-id")).to_have_text("first.png")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    wait_ready(page)

    def shape(ms: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(m["id"], m["type"], m["label"]) for m in ms]

    assert shape(markers(page)) == shape(before)
    task_id = next(t["id"] for t in held(annotator, pid) if t["item"]["external_id"] == "first.png")
    draft = annotator.get(f"/tasks/{task_id}/draft")
    assert draft.status_code == 200 and len(draft.json()["result"]) == 6, draft.text

    # submit and advance: the next item was pre-loaded
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-external-id")).to_have_text("second.png", timeout=5_000)

    result = submitted_result(manager, task_id)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for region in result:
        by_type.setdefault(region["type"], []).append(region)
    boxes = by_type["bbox"]
    assert len(boxes) == 2
    model_box = next(b for b in boxes if "origin" in b)
    assert model_box["origin"] == {"model_version": "det-v1", "edited": True}
    assert abs(model_box["x"] - 230) <= 2 and abs(model_box["y"] - 40) <= 2 and model_box["w"] == 80
    assert "score" not in model_box
    drawn = next(b for b in boxes if "origin" not in b)
    assert drawn["label"] == "person" and drawn["attributes"] == {"occluded": True}
    assert abs(drawn["x"] - 40) <= 2 and abs(drawn["y"] - 40) <= 2
    assert abs(drawn["w"] - 80) <= 3 and abs(drawn["h"] - 110) <= 3
    (polygon,) = by_type["polygon"]
    assert len(polygon["points"]) == 4
    for (px, py), (ex, ey) in zip(polygon["points"], [(150, 160), (250, 160), (250, 260), (150, 260)], strict=True):
        assert abs(px - ex) <= 2 and abs(py - ey) <= 2
    (face,) = by_type["keypoints"]
    assert face["label"] == "face" and [p[2] for p in face["points"]] == [2, 2, 1]
    assert abs(face["points"][0][0] - 300) <= 2 and abs(face["points"][2][1] - 140) <= 2
    (relation,) = by_type["relation"]
    assert relation["label"] == "next_to"
    assert relation["from"] == drawn["id"] and relation["to"] == polygon["id"] and drawn["id"] == ids[1]
    (sky,) = by_type["mask"]
    assert sky["label"] == "sky" and sky["rle"]["size"] == [H, W]
    rle = {"size": sky["rle"]["size"], "counts": sky["rle"]["counts"].encode()}
    bitmap = mask_utils.decode(rle)
    assert bitmap.shape == (H, W)
    assert bitmap[20, 30] == 1 and bitmap[20, 100] == 1 and bitmap[25, 180] == 1  # along the stroke
    assert bitmap[150, 200] == 0 and bitmap[270, 390] == 0
    assert 500 < int(mask_utils.area(rle)) < 6000
    page.close()


def test_next_items_are_preleased_and_predecoded(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-preload-{uuid.uuid4().hex[:6]}"
    schema = {"modality": "image", "tools": ["bbox"], "labels": [{"name": "thing"}]}
    project = manager.create_project(name, schema, {"overlap": 1})
    pid = project["id"]
    import_images(manager, stack, pid, [{"external_id": f"img-{i}.png", "bytes": png(i)} for i in range(6)])
    page = open_workspace(browser, stack, annotator.token, name)
    wait_ready(page)
    # the current task and three more are leased, and their media fetched, before anything is submitted
    deadline = time.monotonic() + 10
    while len(page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.endsWith('/media'))")) < 4:
        assert time.monotonic() < deadline, "the next three items' media were not fetched ahead"
        page.wait_for_timeout(100)
    assert len(held(annotator, pid)) == 4

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.evaluate(
        "() => { window.__t = {};"
        " addEventListener('keydown', e => { if (e.key === 'Enter') window.__t.key = performance.now(); }, true);"
        " addEventListener('annotary:item-ready', () => { window.__t.ready ??= performance.now(); }); }"
    )
    first = page.get_by_test_id("current-external-id").inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__t.ready !== undefined", timeout=5_000)
    assert page.get_by_test_id("current-external-id").inner_text() != first
    latency = page.evaluate("window.__t.ready - window.__t.key")
    media_before_ready = [u for u in requests if u.endswith("/media")]
    assert latency < 1000, latency
    # the next item came from memory: no media was fetched for it (only for the item topped up behind it)
    page.wait_for_timeout(500)
    assert len(media_before_ready) <= 1 and len([u for u in requests if u.endswith("/media")]) == 1, requests
    assert len(held(annotator, pid)) == 4
    page.close()
