"""Issue 2, done-when 1: a person can label in the browser. Debian's Chromium, driven by Playwright,
against the real stack: sign in with a token, draw a box on an image, label a span in a text, submit."""

from __future__ import annotations

import time
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect

from annotary_cli.stack import Stack
from tests.integration.client import Api
from tests.integration.images import photo_crops
from tests.integration.test_pipeline import wait_items


def sign_in(browser: Browser, stack: Stack, token: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    return page


def submitted_result(manager: Api, task_id: str) -> list[dict[str, Any]]:
    """The result the UI submitted, read back as a manager (who may see every task)."""
    deadline = time.monotonic() + 20
    while True:
        task = manager.get(f"/tasks/{task_id}").json()
        if task["state"] == "submitted" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert task["state"] == "submitted", task
    result: list[dict[str, Any]] = task["result"]
    return result


def test_label_an_image_with_a_box(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ui-boxes-{uuid.uuid4().hex[:6]}"
    schema = {
        "modality": "image",
        "tools": ["bbox"],
        "rules": {"min_box_size": 4},
        "labels": [{"name": "person", "hotkey": "1"}, {"name": "animal", "hotkey": "2"}],
    }
    project = manager.create_project(name, schema, {"overlap": 1})
    file_name, png = photo_crops(1, size=(400, 300))[0]
    assert (
        manager.post(f"/projects/{project['id']}/items", files=[("files", (file_name, png, "image/png"))]).status_code
        == 201
    )
    wait_items(manager, project["id"], 1)

    page = sign_in(browser, stack, annotator.token)
    page.get_by_test_id(f"project-{name}").click()
    expect(page.get_by_test_id("current-external-id")).to_have_text(file_name, timeout=20_000)
    canvas = page.get_by_test_id("canvas")
    expect(canvas).to_be_visible()
    page.wait_for_timeout(300)
    box = canvas.bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2
    x1, y1 = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    expect(page.get_by_test_id("region")).to_have_count(1)
    page.keyboard.press("2")  # the selected box becomes "animal"
    held = annotator.post(f"/projects/{project['id']}/tasks/next").json()  # the lease the UI holds
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nothing-left")).to_be_visible(timeout=20_000)

    result = submitted_result(manager, held["id"])
    assert len(result) == 1
    region = result[0]
    assert region["type"] == "bbox" and region["label"] == "animal"
    assert abs(region["x"] - 80) <= 6 and abs(region["y"] - 60) <= 6
    assert abs(region["w"] - 160) <= 8 and abs(region["h"] - 150) <= 8
    page.close()


def test_label_a_span_in_a_text(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ui-ner-{uuid.uuid4().hex[:6]}"
    schema = {
        "modality": "text",
        "tools": ["span"],
        "labels": [{"name": "PERSON", "hotkey": "1"}, {"name": "ORG", "hotkey": "2"}],
    }
    project = manager.create_project(name, schema, {"overlap": 1})
    text = "Photograph of Eileen Collins, an American astronaut at NASA."
    assert (
        manager.post(f"/projects/{project['id']}/items", json=[{"text": text, "external_id": "caption"}]).status_code
        == 201
    )
    wait_items(manager, project["id"], 1)

    page = sign_in(browser, stack, annotator.token)
    page.get_by_test_id(f"project-{name}").click()
    expect(page.get_by_test_id("current-external-id")).to_have_text("caption", timeout=20_000)
    content = page.get_by_test_id("text-content")
    expect(content).to_contain_text("Eileen Collins")
    start = text.index("Eileen")
    page.evaluate(
        """([start, end]) => {
            const root = document.querySelector('[data-testid="text-content"]');
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            let offset = 0, node, range = document.createRange(), startSet = false;
            while ((node = walker.nextNode())) {
              const len = node.textContent.length;
              if (!startSet && start < offset + len) { range.setStart(node, start - offset); startSet = true; }
              if (startSet && end <= offset + len) { range.setEnd(node, end - offset); break; }
              offset += len;
            }
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            root.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        }""",
        [start, start + len("Eileen Collins")],
    )
    page.keyboard.press("1")
    expect(page.get_by_test_id("region")).to_have_count(1)
    held = annotator.post(f"/projects/{project['id']}/tasks/next").json()
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("nothing-left")).to_be_visible(timeout=20_000)

    result = submitted_result(manager, held["id"])
    assert len(result) == 1
    assert {k: result[0][k] for k in ("type", "label", "start", "end")} == {
        "type": "span",
        "label": "PERSON",
        "start": start,
        "end": start + len("Eileen Collins"),
    }
    page.close()
