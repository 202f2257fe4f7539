"""Issue 5: the text tools in the browser, against the real stack. NER spans labelled with the mouse (a click
selects a token, Shift+click extends, a drag selects a span) and with the keyboard (arrow keys move and extend
a token selection), a pre-label accepted, a relation linked from the keyboard, a span attribute, document
classification, undo/redo, a reload that finds the draft, submit-and-advance; and a 100k-character text with
2,000 pre-labels rendered a window at a time. Offsets are checked in code points (the text has an emoji)."""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

from playwright.sync_api import Browser, Page, expect

from annotary_cli.stack import Stack
from tests.integration.test_browser import submitted_result
from tests.integration.test_pipeline import wait_items
from tests.integration.test_workspace_image import held, open_workspace, wait_ready

TEXT = "📷 Photograph of Eileen Collins, an American astronaut at NASA in Houston, Texas."
SCHEMA: dict[str, Any] = {
    "modality": "text",
    "tools": ["span", "relation", "choice"],
    "labels": [
        {"name": "PER", "hotkey": "1"},
        {"name": "ORG", "hotkey": "2"},
        {"name": "LOC", "hotkey": "3"},
        {"name": "MISC", "hotkey": "4"},
        {"name": "works_for", "tools": ["relation"]},
    ],
    "choices": [{"name": "sentiment", "options": ["positive", "neutral", "negative"]}],
    "attributes": [{"name": "negated", "type": "boolean", "tools": ["span"]}],
    "guidelines": 'People are PER.\n\n```example\n{"text": "Ada met Bob.", "result": '
    '[{"type": "span", "label": "PER", "start": 0, "end": 3}]}\n```\n',
}


def word_box(page: Page, word: str) -> dict[str, float]:
    """Where the first occurrence of `word` is drawn in the text."""
    box: dict[str, float] | None = page.evaluate(
        """(word) => {
            const root = document.querySelector('[data-testid=text-content]');
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
              const at = node.textContent.indexOf(word);
              if (at < 0) continue;
              const range = document.createRange();
              range.setStart(node, at);
              range.setEnd(node, at + word.length);
              const r = range.getBoundingClientRect();
              return {x: r.x, y: r.y, width: r.width, height: r.height};
            }
            return null;
        }""",
        word,
    )
    assert box is not None, f"{word!r} is not on screen"
    return box


def click_word(page: Page, word: str, shift: bool = False) -> None:
    box = word_box(page, word)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    if shift:
        page.keyboard.up("Shift")


def selection(page: Page) -> str:
    text: str = page.evaluate("getSelection().toString()")
    return text


def spans(page: Page) -> list[tuple[str, str]]:
    result: list[list[str]] = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=text-content] [data-testid=region]')]"
        ".map(m => [m.dataset.label, m.textContent])"
    )
    return [(label, text) for label, text in result]


def cp(text: str, needle: str) -> tuple[int, int]:
    """Code point offsets of `needle` in `text` (Python str indices are code points)."""
    start = text.index(needle)
    return start, start + len(needle)


def test_label_ner_spans_with_keyboard_and_mouse(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-ner-{uuid.uuid4().hex[:6]}"
    project = manager.create_project(name, SCHEMA, {"overlap": 1})
    pid = project["id"]
    nasa = cp(TEXT, "NASA")
    items = [
        {
            "external_id": "caption",
            "text": TEXT,
            "predictions": [
                {
                    "model_version": "ner-v1",
                    "score": 0.8,
                    "result": [{"type": "span", "label": "ORG", "start": nasa[0], "end": nasa[1], "score": 0.91}],
                }
            ],
        },
        {"external_id": "second", "text": "A second caption."},
    ]
    for n, item in enumerate(items, start=1):  # one at a time: leased in this order
        assert manager.post(f"/projects/{pid}/items", json=[item]).status_code == 201
        wait_items(manager, pid, n)

    page = open_workspace(browser, stack, annotator.token, name)
    expect(page.get_by_test_id("current-external-id")).to_have_text("caption")
    wait_ready(page)
    assert spans(page) == [("ORG", "NASA")]
    expect(page.get_by_test_id("prelabels")).to_contain_text("1 to review")

    # mouse: a click selects a token, Shift+click extends it; the hotkey labels it
    click_word(page, "Eileen")
    assert selection(page) == "Eileen"
    click_word(page, "Collins", shift=True)
    assert selection(page) == "Eileen Collins"
    page.keyboard.press("1")
    # keyboard: the arrows go on from the labelled text, token by token; Shift+arrow extends
    for _ in range(8):  # , an American astronaut at NASA in Houston
        page.keyboard.press("ArrowRight")
    assert selection(page) == "Houston"
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert selection(page) == "Houston, Texas"
    page.keyboard.press("3")
    # mouse: a drag selects a span; a label button labels it
    american, astronaut = word_box(page, "American"), word_box(page, "astronaut")
    page.mouse.move(american["x"] + 2, american["y"] + american["height"] / 2)
    page.mouse.down()
    page.mouse.move(astronaut["x"] + astronaut["width"] - 2, astronaut["y"] + astronaut["height"] / 2, steps=6)
    page.mouse.up()
    assert selection(page) == "American astronaut"
    page.get_by_test_id("label-MISC").click()
    assert sorted(spans(page)) == sorted(
        [("PER", "Eileen Collins"), ("MISC", "American astronaut"), ("ORG", "NASA"), ("LOC", "Houston, Texas")]
    )

    # the pre-label: select it with a click, accept it with A
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="NASA").click()
    page.keyboard.press("a")
    expect(page.get_by_test_id("prelabels")).to_contain_text("0 to review")
    # a relation from the keyboard: select the person, R, move to NASA with . and , then R again
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="Eileen").click()
    page.keyboard.press("r")
    expect(page.get_by_test_id("status")).to_contain_text("Linking from PER")
    for _ in range(5):
        if page.locator("[data-testid=region][aria-selected=true]").inner_text() == "NASA":
            break
        page.keyboard.press(".")
    page.keyboard.press("r")
    expect(page.get_by_test_id("relation")).to_have_count(1)
    # a span attribute and the document's class
    page.locator("[data-testid=text-content] [data-testid=region]", has_text="Eileen").click()
    page.get_by_test_id("attribute-negated").check()
    page.keyboard.press("Shift+1")
    expect(page.get_by_test_id("choice-sentiment-positive")).to_be_checked()
    # undo and redo
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("choice-sentiment-positive")).not_to_be_checked()
    page.keyboard.press("Control+Shift+z")
    expect(page.get_by_test_id("choice-sentiment-positive")).to_be_checked()

    # reload: the draft is back
    page.wait_for_timeout(1500)
    page.reload()
    open_workspace(browser, stack, annotator.token, name, page)
    expect(page.get_by_test_id("current-external-id")).to_have_text("caption")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.get_by_test_id("relation")).to_have_count(1)
    assert len(spans(page)) == 4
    task_id = next(t["id"] for t in held(annotator, pid) if t["item"]["external_id"] == "caption")

    page.keyboard.press("Enter")
    expect(page.get_by_test_id("current-external-id")).to_have_text("second", timeout=5_000)
    result = submitted_result(manager, task_id)
    by_label = {r["label"]: r for r in result if r["type"] == "span"}
    assert {k: (v["start"], v["end"]) for k, v in by_label.items()} == {
        "PER": cp(TEXT, "Eileen Collins"),
        "LOC": cp(TEXT, "Houston, Texas"),
        "MISC": cp(TEXT, "American astronaut"),
        "ORG": nasa,
    }
    assert by_label["ORG"]["origin"] == {"model_version": "ner-v1", "edited": False}
    assert "origin" not in by_label["PER"] and by_label["PER"]["attributes"] == {"negated": True}
    (relation,) = [r for r in result if r["type"] == "relation"]
    assert relation["label"] == "works_for"
    assert relation["from"] == by_label["PER"]["id"] and relation["to"] == by_label["ORG"]["id"]
    assert [r for r in result if r["type"] == "choice"] == [
        {"type": "choice", "name": "sentiment", "value": "positive", "id": result[-1]["id"]}
    ]
    page.close()


def long_text(length: int = 100_000) -> str:
    words = ["alpha", "Berlin", "delta", "Marie Curie", "works", "at", "the", "Sorbonne", "and", "lives", "in", "Paris"]
    rnd = random.Random(7)
    paragraphs = []
    size = 0
    while size < length:
        paragraph = " ".join(rnd.choice(words) for _ in range(rnd.randint(40, 160))) + "."
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:length]


def long_spans(text: str, count: int = 2000) -> list[dict[str, Any]]:
    label = {"Paris": "LOC", "Berlin": "LOC", "Marie Curie": "PER", "Sorbonne": "ORG"}
    return [
        {"type": "span", "label": label[m.group()], "start": m.start(), "end": m.end()}
        for m in re.finditer("Paris|Berlin|Marie Curie|Sorbonne", text)
    ][:count]


def test_a_100k_character_text_renders_a_window_at_a_time(stack: Stack, make_user: Any, browser: Browser) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-long-{uuid.uuid4().hex[:6]}"
    pid = manager.create_project(name, SCHEMA, {"overlap": 1})["id"]
    text = long_text()
    prelabels = long_spans(text)
    assert len(text) == 100_000 and len(prelabels) == 2000
    item = {"external_id": "long", "text": text, "predictions": [{"model_version": "ner-v2", "result": prelabels}]}
    assert manager.post(f"/projects/{pid}/items", json=[item]).status_code == 201
    wait_items(manager, pid, 1)
    page = open_workspace(browser, stack, annotator.token, name)
    wait_ready(page)
    rendered = page.locator(".text-chunk").count()
    shown = len(spans(page))
    assert 0 < rendered < 20 and 0 < shown < 600, (rendered, shown)  # a window, not 100k characters
    # scroll to the end: the window follows, and the last words can be labelled
    page.evaluate("document.querySelector('.text-scroll').scrollTop = 1e9")
    page.wait_for_timeout(300)
    page.evaluate("document.querySelector('.text-scroll').scrollTop = 1e9")
    page.wait_for_timeout(300)
    end_chunk = page.evaluate("Math.max(...[...document.querySelectorAll('.text-chunk')].map(c => +c.dataset.chunk))")
    assert page.locator(f".text-chunk[data-chunk='{end_chunk}']").inner_text().rstrip().endswith(text.rstrip()[-30:])
    page.keyboard.press("Shift+a")  # accept all 2,000 pre-labels
    expect(page.get_by_test_id("prelabels")).to_contain_text("0 to review, 2000 accepted")
    box = page.evaluate(
        """() => { const segs = [...document.querySelectorAll('.text-chunk [data-start]')];
            for (const seg of segs.reverse()) {
              if (seg.closest('mark')) continue;
              const m = /\\b[a-z]{4,}\\b/.exec(seg.textContent);
              if (!m) continue;
              const r = document.createRange();
              r.setStart(seg.firstChild, m.index);
              r.setEnd(seg.firstChild, m.index + 2);
              const b = r.getBoundingClientRect();
              return {x: b.x, y: b.y, h: b.height, start: +seg.dataset.start + m.index, word: m[0]};
            } }"""
    )
    page.mouse.click(box["x"] + 2, box["y"] + box["h"] / 2)
    token = selection(page)
    assert token == box["word"] and text[box["start"] : box["start"] + len(token)] == token
    page.keyboard.press("4")
    task_id = held(annotator, pid)[0]["id"]
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("nothing-left")).to_be_visible(timeout=10_000)
    result = submitted_result(manager, task_id)
    assert len(result) == 2001
    (misc,) = [r for r in result if r["label"] == "MISC"]
    assert (misc["start"], text[misc["start"] : misc["end"]]) == (box["start"], token)
    assert all(r["origin"] == {"model_version": "ner-v2", "edited": False} for r in result if r is not misc)
    page.close()
