"""Issue 5, done-when 3: every tool in use, in the browser, on the real stack. Each scene is driven with the
mouse and keyboard like the other browser tests and photographed; the test checks the pictures show the work.

``ANNOTARY_SCREENSHOTS=docs/screenshots make test`` (or this file alone with pytest) writes them where the README
links them; otherwise they go to a temporary folder."""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page, expect

from annotary_cli.demo import skimage_data_dir
from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.test_pipeline import wait_items
from tests.integration.test_workspace_image import Canvas, import_images, markers, open_workspace, wait_ready
from tests.integration.test_workspace_text import click_word, long_spans, long_text, word_box

VIEWPORT = {"width": 1440, "height": 900}






def snap(page: Page, folder: Path, name: str) -> Image.Image:
    """Save the page as `name`.png and return it (the mouse parked where it hides nothing)."""
    page.mouse.move(2, VIEWPORT["height"] - 2)
    page.wait_for_timeout(250)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    # 256 colours: a third of the bytes, for the repository
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG)
    palette.save(folder / f"{name}.png", optimize=True)
    return image


def colourful(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """How varied a part of the picture is (a blank or grey area is about 0)."""
    return float(sum(ImageStat.Stat(image.crop(box)).stddev))


def astronaut(size: int = 512) -> bytes:
    img = Image.open(skimage_data_dir() / "astronaut.png").convert("RGB").resize((size, size))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def new_page(browser: Browser, stack: Stack, token: str, project: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    page.goto(stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    return open_workspace(browser, stack, token, project, page)


IMAGE_SCHEMA: dict[str, Any] = {
    "modality": "image",
    "tools": ["bbox", "polygon", "polyline", "keypoints", "mask", "relation", "choice"],
    "labels": [
        {"name": "person", "hotkey": "1", "color": "#e6194b"},
        {"name": "rocket", "hotkey": "2", "color": "#4363d8"},
        {"name": "flag", "hotkey": "3", "color": "#f58231"},
        {
            "name": "face",
            "hotkey": "4",
            "color": "#3cb44b",
            "keypoints": ["left_eye", "right_eye", "nose", "mouth"],
            "skeleton": [[1, 2], [1, 3], [2, 3], [3, 4]],
        },
        {"name": "sky", "hotkey": "5", "color": "#42d4f4"},
        {"name": "holds", "tools": ["relation"], "color": "#911eb4"},
    ],
    "choices": [{"name": "quality", "options": ["sharp", "blurry"]}],
    "attributes": [
        {"name": "occluded", "type": "boolean"},
        {"name": "pose", "type": "choice", "options": ["standing", "sitting"], "labels": ["person"]},
    ],
    "guidelines": "## Boxes\nDraw **tight** boxes around every `person` and `rocket`.\n\n"
    "- keypoints: eyes, nose, mouth, in this order\n- paint the `sky` with the brush\n\n```example\n"
    + json.dumps(
        {
            "title": "a tight box",
            "width": 160,
            "height": 90,
            "result": [{"type": "bbox", "label": "person", "x": 50, "y": 10, "w": 50, "h": 70}],
        }
    )
    + "\n```\n",
}


def test_screenshots_of_every_tool(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"Astronauts-{uuid.uuid4().hex[:4]}"
    pid = manager.create_project(name, IMAGE_SCHEMA, {"overlap": 1})["id"]
    prediction = {
        "model_version": "detector-v3",
        "score": 0.87,
        "result": [
            {"type": "bbox", "label": "person", "x": 40, "y": 20, "w": 420, "h": 488, "score": 0.94},
            {"type": "bbox", "label": "rocket", "x": 392, "y": 4, "w": 88, "h": 296, "score": 0.71},
            {"type": "bbox", "label": "flag", "x": 0, "y": 0, "w": 120, "h": 220, "score": 0.38},
        ],
    }
    import_images(
        manager, stack, pid, [{"external_id": "astronaut.png", "bytes": astronaut(), "predictions": [prediction]}]
    )
    page = new_page(browser, stack, annotator.token, name)
    wait_ready(page)
    canvas = Canvas(page, 512, 512)

    # bounding boxes: pre-labels (one accepted, one rejected, one pending) and a drawn box with attributes
    canvas.click(440, 150)
    page.keyboard.press("a")
    canvas.click(20, 210)
    page.keyboard.press("x")
    canvas.drag([(168, 40), (262, 182)])
    page.keyboard.press("1")
    page.get_by_test_id("attribute-pose").select_option("standing")
    shot = snap(page, shots, "image-bbox")
    box = page.get_by_test_id("canvas").bounding_box()
    assert (
        box is not None
        and colourful(shot, (int(box["x"]), int(box["y"]), int(box["x"] + 300), int(box["y"] + 300))) > 30
    )
    expect(page.get_by_test_id("prelabels")).to_contain_text("1 to review")

    # polygons and a polyline
    page.keyboard.press("p")
    page.keyboard.press("2")
    for x, y in [(404, 120), (432, 10), (462, 120), (452, 300), (414, 300)]:
        canvas.click(x, y)
    canvas.click(405, 121)
    page.keyboard.press("l")
    page.keyboard.press("3")
    for x, y in [(0, 232), (60, 214), (120, 226)]:
        canvas.click(x, y)
    page.keyboard.press("Enter")
    snap(page, shots, "image-polygon")
    assert [m["type"] for m in markers(page)].count("polygon") == 1

    # keypoints with the face's skeleton
    page.keyboard.press("k")
    page.keyboard.press("4")
    for x, y in [(192, 100), (232, 98), (214, 128)]:
        canvas.click(x, y)
    canvas.click(214, 152)
    snap(page, shots, "image-keypoints")
    assert "keypoints" in [m["type"] for m in markers(page)]

    # a brush mask of sky, then a relation linked from the keyboard
    page.keyboard.press("m")
    page.keyboard.press("5")
    for _ in range(4):
        page.keyboard.press("]")
    canvas.drag([(330, 24), (372, 40), (380, 110), (360, 170), (346, 236)], steps=8)
    snap(page, shots, "image-mask")
    assert "mask" in [m["type"] for m in markers(page)]
    page.keyboard.press("b")
    types = [m["type"] for m in markers(page)]
    page.keyboard.press(".")  # the person pre-label
    page.keyboard.press("r")
    for _ in range(types.index("polygon")):
        page.keyboard.press(".")
    page.keyboard.press("r")
    page.keyboard.press("Shift+1")  # quality: sharp
    expect(page.get_by_test_id("choice-quality-sharp")).to_be_checked()
    snap(page, shots, "image-relation")
    assert "relation" in [m["type"] for m in markers(page)]

    # the guidelines with their example, a comment, and the shortcut overlay
    page.keyboard.press("g")
    page.keyboard.press("c")
    page.keyboard.type("The rocket is partly cut off on the right.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("comment")).to_have_count(1)
    expect(page.get_by_test_id("guideline-example")).to_be_visible()
    snap(page, shots, "guidelines-comments")
    page.keyboard.press("Shift+F")
    page.get_by_test_id("flag-reason").fill("Is the helmet visor part of the person?")
    snap(page, shots, "flag")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.get_by_test_id("shortcuts")).to_be_visible()
    snap(page, shots, "shortcuts")
    page.close()


TEXT_SCHEMA: dict[str, Any] = {
    "modality": "text",
    "tools": ["span", "relation", "choice"],
    "labels": [
        {"name": "PER", "hotkey": "1"},
        {"name": "ORG", "hotkey": "2"},
        {"name": "LOC", "hotkey": "3"},
        {"name": "DATE", "hotkey": "4"},
        {"name": "works_for", "tools": ["relation"], "color": "#911eb4"},
        {"name": "born_in", "tools": ["relation"], "color": "#9a6324"},
    ],
    "choices": [{"name": "topic", "options": ["science", "politics", "sport"]}],
    "attributes": [{"name": "negated", "type": "boolean", "tools": ["span"]}],
    "guidelines": "Label people, organisations, places and dates.\n\n```example\n"
    + json.dumps(
        {
            "text": "Ada Lovelace was born in London.",
            "result": [
                {"type": "span", "label": "PER", "start": 0, "end": 12},
                {"type": "span", "label": "LOC", "start": 25, "end": 31},
            ],
        }
    )
    + "\n```\n",
}
NEWS = (
    "Marie Curie, born in Warsaw in 1867, worked at the University of Paris, where she led the Radium Institute. "
    "In 1903 she shared the Nobel Prize in Physics with Pierre Curie and Henri Becquerel, and in 1911 she won "
    "the Nobel Prize in Chemistry alone."
)


def test_screenshots_of_the_text_tools(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, annotator, reviewer = make_user("manager"), make_user("annotator"), make_user("reviewer")
    name = f"Biographies-{uuid.uuid4().hex[:4]}"
    pid = manager.create_project(name, TEXT_SCHEMA, {"overlap": 1, "review": "all"})["id"]
    org = (NEWS.index("University of Paris"), NEWS.index("University of Paris") + len("University of Paris"))
    items = [
        {
            "external_id": "curie.txt",
            "text": NEWS,
            "predictions": [
                {
                    "model_version": "ner-v2",
                    "score": 0.8,
                    "result": [
                        {"type": "span", "label": "ORG", "start": org[0], "end": org[1], "score": 0.93},
                        {"type": "span", "label": "LOC", "start": 21, "end": 27, "score": 0.88},
                    ],
                }
            ],
        }
    ]
    text = long_text()
    items.append(
        {
            "external_id": "long.txt",
            "text": text,
            "predictions": [{"model_version": "ner-v2", "result": long_spans(text)}],
        }
    )
    for n, item in enumerate(items, start=1):
        assert manager.post(f"/projects/{pid}/items", json=[item]).status_code == 201
        wait_items(manager, pid, n)
    page = new_page(browser, stack, annotator.token, name)
    wait_ready(page)

    click_word(page, "Marie")
    click_word(page, "Curie", shift=True)
    page.keyboard.press("1")
    for _ in range(6):  # , born in Warsaw in 1867
        page.keyboard.press("ArrowRight")
    assert page.evaluate("getSelection().toString()") == "1867"
    page.keyboard.press("4")
    pierre = word_box(page, "Pierre")
    page.mouse.move(pierre["x"] + 1, pierre["y"] + pierre["height"] / 2)
    page.mouse.down()
    curie = page.evaluate(
        """() => { const root = document.querySelector('[data-testid=text-content]');
            const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT); let n;
            while ((n = w.nextNode())) { const at = n.textContent.indexOf('Curie and');
              if (at >= 0) { const r = document.createRange(); r.setStart(n, at); r.setEnd(n, at + 5);
                const b = r.getBoundingClientRect(); return {x: b.right - 1, y: b.y + b.height / 2}; } } }"""
    )
    page.mouse.move(curie["x"], curie["y"], steps=5)
    page.mouse.up()
    page.get_by_test_id("label-PER").click()
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="University").click()
    page.keyboard.press("a")
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="Marie Curie").click()
    page.keyboard.press("r")
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="University").click()
    page.keyboard.press("r")
    page.keyboard.press("Shift+1")
    expect(page.get_by_test_id("relation")).to_have_count(1)
    shot = snap(page, shots, "text-ner")
    text_box = page.get_by_test_id("text-content").bounding_box()
    assert text_box is not None
    assert (
        colourful(shot, (int(text_box["x"]), int(text_box["y"]), int(text_box["x"] + 600), int(text_box["y"] + 120)))
        > 20
    )
    task_id = page.evaluate("document.querySelector('.editor').dataset.taskId")

    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-external-id")).to_have_text("long.txt", timeout=10_000)
    wait_ready(page)
    page.evaluate("document.querySelector('.text-scroll').scrollTop = 42000")
    page.wait_for_timeout(400)
    snap(page, shots, "text-long")
    assert page.locator(".text-chunk").count() < 20
    page.keyboard.press("Shift+s")  # skip it
    expect(page.get_by_test_id("nothing-left")).to_be_visible(timeout=10_000)

    # the reviewer rejects: the rework opens the rejected annotation next to the feedback
    item_id = Api(stack.api_url, manager.token).get(f"/tasks/{task_id}").json()["item"]["id"]
    deadline = time.monotonic() + 30
    while not any(r["item"]["id"] == item_id for r in reviewer.get(f"/projects/{pid}/reviews").json()):
        assert time.monotonic() < deadline, "the item never reached review"
        time.sleep(0.3)
    feedback = "Warsaw is a place (LOC), and the relation is works_for. Pierre Curie is missing a link."
    decision = reviewer.post(
        f"/projects/{pid}/reviews/{item_id}", json={"round": 1, "decision": "reject", "feedback": feedback}
    )
    assert decision.status_code == 200, decision.text
    deadline = time.monotonic() + 30
    while True:
        page.get_by_test_id("check-again").click()
        page.wait_for_timeout(500)
        if page.get_by_test_id("feedback").count():
            break
        assert time.monotonic() < deadline, "the rework never came"
    wait_ready(page)
    expect(page.get_by_test_id("previous-round")).to_be_visible()
    snap(page, shots, "rework-feedback")
    page.close()
