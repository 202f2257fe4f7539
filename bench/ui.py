"""``python bench/ui.py [--quick] [--no-ls]``: the UI workload of the benchmark, one JSON document on stdout.

Headless Debian Chromium, driven by Playwright, against the real stack (annotary_cli.stack: a fresh database on
the machine's Postgres, Tansu, every service as its own process):

- ``submit_to_next``: milliseconds from the submit key (Enter) to the next item drawn (the workspace's
  ``annotary:item-ready`` event, fired after the item's first frame) and interactive (the first task the main
  thread runs after that frame), for image items (1600x1200 photos with 20 pre-labels) and text items (~2,000
  characters with 30 pre-labels); the next three items are pre-leased and pre-decoded, as the UI always does.
  The annotator pauses 400 ms between items (a person needs seconds).
- ``pan``: frame times while panning (right-drag) a 4096x4096 photo with 1,000 boxes, zoomed 2x, and while
  zooming with the wheel from the whole image (1,000 boxes on screen): ``interval`` is the time between
  animation frames (16.7 ms at 60 Hz), ``draw`` the stage's own work per frame.
- ``scroll``: frame times while scrolling (mouse wheel) a 100,000-character text with 2,000 spans.
- ``open_s``: from opening the project (Annotary: a click in the running app; Label Studio: loading the task's
  editor page) to the item drawn: lease, media, decoding and the first frame.
- ``label_studio``: the same image and text in Label Studio 1.23.2's editor (its own venv, see
  bench/labelstudio.py), driven the same way where it can be; what could not be is said in ``not_compared``.

Rendering is Chromium's software rasterizer (these machines have no GPU); with a GPU, Chromium accelerates the
same 2D canvas. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

if __package__ in (None, ""):  # run as a script: the repository root is the import root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotary_cli.demo import skimage_data_dir
from annotary_cli.infra import drop_database, ensure_database, free_port, start_broker
from annotary_cli.stack import Stack, StackConfig

log = logging.getLogger("bench.ui")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-sync",
    "--disable-component-update",
    "--disable-quic",
]
VIEWPORT: ViewportSize = {"width": 1600, "height": 1000}
PAUSE_S = 0.4

# In the page: frame intervals (rAF) and the stage's draw times, between start() and stop().
FRAME_RECORDER = """() => {
  window.__annotaryFrames = [];
  const rec = { intervals: [], running: true, last: performance.now() };
  const tick = (t) => { rec.intervals.push(t - rec.last); rec.last = t; if (rec.running) requestAnimationFrame(tick); };
  requestAnimationFrame((t) => { rec.last = t; requestAnimationFrame(tick); });
  window.__rec = rec;
}"""
FRAME_STOP = """() => { window.__rec.running = false;
  const out = { intervals: window.__rec.intervals.slice(1), draw: window.__annotaryFrames || [] };
  delete window.__annotaryFrames; return out; }"""
# Submit-to-next: the key's time, the item-ready event's, and the first task after it.
LATENCY_PROBE = """() => {
  window.__lat = [];
  addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__key = performance.now(); }, true);
  addEventListener('annotary:item-ready', () => {
    const ready = performance.now(), key = window.__key;
    if (!key) return;
    window.__key = 0;
    const ch = new MessageChannel();
    ch.port1.onmessage = () => window.__lat.push({ ready: ready - key, interactive: performance.now() - key });
    ch.port2.postMessage(0);
  });
}"""


# -- numbers --------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50_ms": round(pct(values, 50), 2),
        "p95_ms": round(pct(values, 95), 2),
        "max_ms": round(max(values), 2) if values else None,
        "mean_ms": round(sum(values) / len(values), 2) if values else None,
    }


def frames(raw: dict[str, list[float]]) -> dict[str, Any]:
    intervals = raw["intervals"]
    return {
        "interval": summary(intervals),
        "fps": round(1000 * len(intervals) / sum(intervals), 1) if intervals else None,
        "slow_frames_over_33ms": sum(1 for v in intervals if v > 33.4),
        **({"draw": summary(raw["draw"])} if raw.get("draw") else {}),
    }


# -- data -----------------------------------------------------------------------------------------------
def photo(size: tuple[int, int], source: str = "astronaut.png", mark: int = 0) -> bytes:
    """A sample photograph scaled to `size`; `mark` changes a few pixels (the import drops duplicate bytes)."""
    img = Image.open(skimage_data_dir() / source).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    for k in range(16):
        img.putpixel((k, 0), (mark >> (k % 8) & 1) * 255 if k < 8 else (mark * 37 + k) % 256)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def boxes(count: int, width: int, height: int, seed: int, label: str = "thing") -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        w, h = rnd.uniform(20, 140), rnd.uniform(20, 140)
        out.append(
            {
                "type": "bbox",
                "label": label,
                "x": round(rnd.uniform(0, width - w), 1),
                "y": round(rnd.uniform(0, height - h), 1),
                "w": round(w, 1),
                "h": round(h, 1),
                "score": round(rnd.uniform(0.3, 0.99), 2),
            }
        )
    return out


WORDS = ["alpha", "Berlin", "delta", "Marie Curie", "works", "at", "the", "Sorbonne", "and", "lives", "in", "Paris"]
ENTITY = {"Paris": "LOC", "Berlin": "LOC", "Marie Curie": "PER", "Sorbonne": "ORG"}


def text_of(length: int, seed: int) -> str:
    rnd = random.Random(seed)
    paragraphs: list[str] = []
    size = 0
    while size < length:
        paragraphs.append(" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(40, 160))) + ".")
        size += len(paragraphs[-1]) + 2
    return "\n\n".join(paragraphs)[:length]


def spans_of(text: str, count: int) -> list[dict[str, Any]]:
    found = re.finditer("|".join(ENTITY), text)
    return [{"type": "span", "label": ENTITY[m.group()], "start": m.start(), "end": m.end()} for m in found][:count]


# -- the stack ------------------------------------------------------------------------------------------
@dataclass
class Running:
    stack: Stack
    token: str
    imports: Path

    @property
    def api(self) -> str:
        return f"{self.stack.api_url}/api/v1"


@contextlib.contextmanager
def annotary(pg_server: str) -> Iterator[Running]:
    base = Path(tempfile.mkdtemp(prefix="annotary-ui-bench-"))
    database = f"{pg_server}/annotary_uibench_{uuid.uuid4().hex[:10]}"
    ensure_database(database)
    broker = None
    stack = None
    try:
        broker, bootstrap = start_broker(base / "logs")
        token = secrets.token_urlsafe(24)
        imports = base / "imports"
        imports.mkdir()
        stack = Stack(
            StackConfig(
                database_url=database,
                kafka_bootstrap=bootstrap,
                data_dir=base / "data",
                log_dir=base / "logs",
                api_port=free_port(),
                admin_token=token,
                object_store="local",
                import_roots=[imports],
                extra_env={"ANNOTARY_ANNOTATION_API_MAX_BODY_BYTES": str(64 << 20)},
            )
        )
        stack.start_all()
        stack.wait_ready(timeout=120.0)
        yield Running(stack, token, imports)
    finally:
        if stack is not None:
            stack.stop_all()
        if broker is not None:
            broker.stop()
        with contextlib.suppress(Exception):
            drop_database(database)
        shutil.rmtree(base, ignore_errors=True)


class Rest:
    def __init__(self, api: str, token: str) -> None:
        self.http = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=300.0)

    def post(self, path: str, **kw: Any) -> Any:
        reply = self.http.post(path, **kw)
        if reply.status_code >= 300:
            raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json()

    def user(self, role: str) -> str:
        return str(self.post("/users", json={"username": f"ui-{role}-{uuid.uuid4().hex[:6]}", "role": role})["token"])

    def project(self, schema: dict[str, Any]) -> tuple[str, str]:
        name = f"ui-bench-{uuid.uuid4().hex[:6]}"
        return str(self.post("/projects", json={"name": name, "schema": schema, "policy": {"overlap": 1}})["id"]), name

    def items(self, project_id: str, items: list[dict[str, Any]]) -> None:
        reply = self.post(f"/projects/{project_id}/items", json=items)
        if reply["created"] != len(items):
            raise RuntimeError(f"import created {reply['created']} of {len(items)} items: {reply}")
        deadline = time.monotonic() + 120
        while True:
            states = self.http.get(f"/projects/{project_id}/stats").json()["states"]
            if sum(states.values()) >= len(items):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(items)} items not queued: {states}")
            time.sleep(0.1)


def image_items(run: Running, images: list[tuple[str, bytes, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    out = []
    for name, data, predictions in images:
        path = run.imports / f"{uuid.uuid4().hex[:8]}-{name}"
        path.write_bytes(data)
        item: dict[str, Any] = {"external_id": name, "image": path.as_uri()}
        if predictions:
            item["predictions"] = [{"model_version": "bench-v1", "score": 0.8, "result": predictions}]
        out.append(item)
    return out


# -- driving the workspace ------------------------------------------------------------------------------
def open_project(browser: Browser, run: Running, token: str, name: str) -> Page:
    """Sign in and open the project; `window.__openMs` is the time from the click to its first item drawn."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(run.stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id(f"project-{name}").wait_for()
    page.evaluate(
        "() => { const t0 = performance.now(); addEventListener('annotary:item-ready',"
        " () => { window.__openMs ??= performance.now() - t0; }); }"
    )
    page.get_by_test_id(f"project-{name}").click()
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-testid=canvas]');"
        " return (c && c.width > 0) || !!document.querySelector('[data-testid=text-content] [data-start]'); }",
        timeout=60_000,
    )
    page.wait_for_timeout(500)
    return page


def submit_loop(page: Page, count: int) -> dict[str, Any]:
    page.evaluate(LATENCY_PROBE)
    for i in range(count):
        time.sleep(PAUSE_S)
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => window.__lat.length > {i}", timeout=30_000)
    samples: list[dict[str, float]] = page.evaluate("window.__lat")
    return {
        "ready": summary([s["ready"] for s in samples]),
        "interactive": summary([s["interactive"] for s in samples]),
    }


def pan_image(page: Page) -> dict[str, Any]:
    box = page.get_by_test_id("canvas").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    # zoom from the whole image (1,000 boxes on screen) to 2x, one wheel notch at a time
    page.evaluate(FRAME_RECORDER)
    for _ in range(10):
        page.mouse.wheel(0, -46.2)  # 10 notches of exp(0.0693): 2x
        page.wait_for_timeout(30)
    zoom = frames(page.evaluate(FRAME_STOP))
    # pan with the right button held: a slow circle, then fast strokes
    page.evaluate(FRAME_RECORDER)
    page.mouse.down(button="right")
    for i in range(240):
        angle = i / 240 * 4 * math.pi
        page.mouse.move(cx + 220 * math.cos(angle), cy + 160 * math.sin(angle))
        page.wait_for_timeout(8)
    page.mouse.up(button="right")
    pan = frames(page.evaluate(FRAME_STOP))
    return {"pan_2x": pan, "wheel_zoom_from_fit": zoom}


def scroll_text(page: Page) -> dict[str, Any]:
    scroller = page.locator(".text-scroll").bounding_box()
    assert scroller is not None
    page.mouse.move(scroller["x"] + scroller["width"] / 2, scroller["y"] + scroller["height"] / 2)
    page.evaluate(
        "() => { const s = document.querySelector('.text-scroll'); window.__scrolled = 0; let last = s.scrollTop;"
        " s.addEventListener('scroll', () => {"
        " window.__scrolled += Math.abs(s.scrollTop - last); last = s.scrollTop; }); }"
    )
    page.evaluate(FRAME_RECORDER)
    for _ in range(150):  # down, a notch at a time
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(12)
    for _ in range(40):  # and back up, faster
        page.mouse.wheel(0, -360)
        page.wait_for_timeout(12)
    raw = page.evaluate(FRAME_STOP)
    scrolled = page.evaluate("window.__scrolled")
    height = page.evaluate("document.querySelector('.text-scroll').scrollHeight")
    chunks = page.locator(".text-chunk").count()
    return {"scroll": frames(raw), "scrolled_px": round(scrolled), "text_height_px": height, "chunks_rendered": chunks}


def annotary_workloads(browser: Browser, run: Running, quick: bool) -> dict[str, Any]:
    admin = Rest(run.api, run.token)
    manager = Rest(run.api, admin.user("manager"))
    n = 10 if quick else 30
    out: dict[str, Any] = {}

    log.info("submit-to-next: %d image items", n)
    schema = {"modality": "image", "tools": ["bbox"], "labels": [{"name": "thing"}]}
    pid, name = manager.project(schema)
    sources = ["astronaut.png", "coffee.png", "chelsea.png", "motorcycle_left.png"]
    images = [
        (f"photo-{i:03d}.jpg", photo((1600, 1200), sources[i % 4], mark=i), boxes(20, 1600, 1200, i))
        for i in range(n + 4)
    ]
    manager.items(pid, image_items(run, images))
    page = open_project(browser, run, admin.user("annotator"), name)
    out["submit_to_next_image"] = submit_loop(page, n)
    page.close()

    log.info("submit-to-next: %d text items", n)
    schema = {"modality": "text", "tools": ["span"], "labels": [{"name": lab} for lab in ("PER", "ORG", "LOC")]}
    pid, name = manager.project(schema)
    texts = [text_of(2000, i) for i in range(n + 4)]
    manager.items(
        pid,
        [
            {
                "external_id": f"text-{i:03d}",
                "text": t,
                "predictions": [{"model_version": "bench-v1", "result": spans_of(t, 30)}],
            }
            for i, t in enumerate(texts)
        ],
    )
    page = open_project(browser, run, admin.user("annotator"), name)
    out["submit_to_next_text"] = submit_loop(page, n)
    page.close()

    log.info("pan: 4096x4096 with 1,000 boxes")
    pid, name = manager.project({"modality": "image", "tools": ["bbox"], "labels": [{"name": "thing"}]})
    manager.items(pid, image_items(run, [("big.jpg", photo((4096, 4096)), boxes(1000, 4096, 4096, 99))]))
    page = open_project(browser, run, admin.user("annotator"), name)
    opened = page.evaluate("window.__openMs")
    page.keyboard.press("Shift+A")  # accept the 1,000 pre-labels: drawn as plain boxes
    page.wait_for_timeout(300)
    out["image_4096_1000_boxes"] = {"open_s": round(opened / 1000, 2), **pan_image(page)}
    page.close()

    log.info("scroll: 100k characters with 2,000 spans")
    pid, name = manager.project(schema)
    text = text_of(100_000, 7)
    manager.items(
        pid,
        [
            {
                "external_id": "long",
                "text": text,
                "predictions": [{"model_version": "bench-v1", "result": spans_of(text, 2000)}],
            }
        ],
    )
    page = open_project(browser, run, admin.user("annotator"), name)
    opened = page.evaluate("window.__openMs")
    page.keyboard.press("Shift+A")
    page.wait_for_timeout(300)
    out["text_100k_2000_spans"] = {"open_s": round(opened / 1000, 2), **scroll_text(page)}
    page.close()
    return out


# -- Label Studio -------------------------------------------------------------------------------------
# In LS's editor: the submit key (Ctrl+Enter) to the next task's text on screen (a MutationObserver sees it),
# then its first frame and the first task after it, as for Annotary.
LS_LATENCY_PROBE = """() => {
  window.__lat = [];
  addEventListener('keydown', (e) => { if (e.key === 'Enter') window.__key = performance.now(); }, true);
  const current = () => (document.body.innerText.match(/item-[0-9]+/) || [''])[0];
  let shown = current();
  new MutationObserver(() => {
    const now = current();
    if (!window.__key || !now || now === shown) return;
    shown = now;
    const key = window.__key;
    window.__key = 0;
    requestAnimationFrame(() => {
      const ready = performance.now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => window.__lat.push({ ready: ready - key, interactive: performance.now() - key });
      ch.port2.postMessage(0);
    });
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""
LS_IMAGE = (
    '<View><Image name="image" value="$image" zoom="true" zoomControl="true"/>'
    '<RectangleLabels name="label" toName="image"><Label value="thing"/></RectangleLabels></View>'
)
LS_TEXT = (
    '<View><Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/>'
    '</Labels><Text name="text" value="$text"/></View>'
)


def ls_rectangles(regions: list[dict[str, Any]], width: int, height: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i}",
            "type": "rectanglelabels",
            "from_name": "label",
            "to_name": "image",
            "original_width": width,
            "original_height": height,
            "value": {
                "x": 100 * r["x"] / width,
                "y": 100 * r["y"] / height,
                "width": 100 * r["w"] / width,
                "height": 100 * r["h"] / height,
                "rotation": 0,
                "rectanglelabels": [r["label"]],
            },
        }
        for i, r in enumerate(regions)
    ]


def ls_spans(text: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"s{i}",
            "type": "labels",
            "from_name": "label",
            "to_name": "text",
            "value": {
                "start": s["start"],
                "end": s["end"],
                "text": text[s["start"] : s["end"]],
                "labels": [s["label"]],
            },
        }
        for i, s in enumerate(spans)
    ]


def ls_project(http: httpx.Client, config: str) -> int:
    reply = http.post("/api/projects/", json={"title": f"ui-bench-{uuid.uuid4().hex[:6]}", "label_config": config})
    reply.raise_for_status()
    return int(reply.json()["id"])


def ls_open_task(page: Page, url: str, project: int, task: int, ready_js: str) -> float:
    """Open one task in LS's editor; seconds until `ready_js` holds and a frame has passed."""
    started = time.monotonic()
    page.goto(f"{url}/projects/{project}/data?task={task}")
    page.wait_for_function(ready_js, timeout=300_000, polling=100)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return time.monotonic() - started


def ls_submit_to_next(page: Page, http: httpx.Client, url: str, n: int) -> dict[str, Any]:
    log.info("Label Studio: submit-to-next, %d text items", n)
    project = ls_project(http, LS_TEXT)
    texts = [f"item-{i:03d} " + text_of(2000, i) for i in range(n + 2)]
    http.post(f"/api/projects/{project}/import", json=[{"text": t} for t in texts]).raise_for_status()
    page.goto(f"{url}/projects/{project}/data?labeling=1")
    page.wait_for_function("document.body.innerText.includes('item-0')", timeout=300_000)
    page.wait_for_timeout(1000)
    page.evaluate(LS_LATENCY_PROBE)
    for i in range(n):
        time.sleep(PAUSE_S)
        page.keyboard.press("Control+Enter")
        page.wait_for_function(f"() => window.__lat.length > {i}", timeout=120_000)
    samples: list[dict[str, float]] = page.evaluate("window.__lat")
    return {
        "ready": summary([s["ready"] for s in samples]),
        "interactive": summary([s["interactive"] for s in samples]),
    }


def ls_pan(page: Page, http: httpx.Client, url: str) -> dict[str, Any]:
    log.info("Label Studio: pan a 4096x4096 image with 1,000 boxes")
    project = ls_project(http, LS_IMAGE)
    http.post(
        f"/api/projects/{project}/import", files={"file": ("big.jpg", photo((4096, 4096)), "image/jpeg")}
    ).raise_for_status()
    task = int(http.get(f"/api/projects/{project}/tasks").json()[0]["id"])
    result = ls_rectangles(boxes(1000, 4096, 4096, 99), 4096, 4096)
    http.post(f"/api/tasks/{task}/annotations/", json={"result": result}).raise_for_status()
    opened = ls_open_task(page, url, project, task, "!!document.querySelector('.konvajs-content canvas')")
    page.wait_for_timeout(1500)
    canvas = page.locator(".konvajs-content").first.bounding_box()
    assert canvas is not None
    cx, cy = canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2
    page.mouse.move(cx, cy)
    page.evaluate(FRAME_RECORDER)
    for _ in range(7):  # LS zooms by 1.1 a click: 1.95x
        page.click("button[aria-label=zoom-in]")
        page.wait_for_timeout(30)
    zoom = frames(page.evaluate(FRAME_STOP))
    page.click("button[aria-label=pan]")
    page.mouse.move(cx, cy)
    page.evaluate(FRAME_RECORDER)
    page.mouse.down()
    for i in range(240):
        angle = i / 240 * 4 * math.pi
        page.mouse.move(cx + 220 * math.cos(angle), cy + 160 * math.sin(angle))
        page.wait_for_timeout(8)
    page.mouse.up()
    return {
        "open_s": round(opened, 2),
        "pan_2x": frames(page.evaluate(FRAME_STOP)),
        "button_zoom_from_fit": zoom,
    }


def ls_scroll(page: Page, http: httpx.Client, url: str) -> dict[str, Any]:
    log.info("Label Studio: scroll 100k characters with 2,000 spans")
    project = ls_project(http, LS_TEXT)
    text = text_of(100_000, 7)
    reply = http.post(f"/api/projects/{project}/import", params={"return_task_ids": "true"}, json=[{"text": text}])
    reply.raise_for_status()
    task = int(reply.json()["task_ids"][0])
    spans = spans_of(text, 2000)
    http.post(f"/api/tasks/{task}/annotations/", json={"result": ls_spans(text, spans)}).raise_for_status()
    # a piece of the first lines that no span cuts (so it is one text node in LS's page)
    ends = [0, *(sp["end"] for sp in spans[:20])]
    gap = max(zip(ends, (sp["start"] for sp in spans[:21]), strict=True), key=lambda g: g[1] - g[0])
    piece = text[gap[0] + 1 : min(gap[1] - 1, gap[0] + 20)]
    opened = ls_open_task(page, url, project, task, f"document.body.innerText.includes({json.dumps(text[-40:])})")
    page.wait_for_timeout(1500)
    # the wheel goes to whatever scrolls under the middle of the text
    area = page.evaluate(
        """(start) => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
          for (let n = w.nextNode(); n; n = w.nextNode()) { const at = n.textContent.indexOf(start);
            if (at < 0) continue; const r = document.createRange(); r.setStart(n, at); r.setEnd(n, at + 1);
            const b = r.getBoundingClientRect(); return { x: b.x, y: b.y }; } return null; }""",
        piece,
    )
    assert area is not None, "Label Studio did not show the text"
    page.mouse.move(area["x"] + 200, area["y"] + 300)
    page.evaluate(
        "() => { window.__scrolled = 0; const last = new Map();"
        " document.addEventListener('scroll', (e) => { const t = e.target.scrollingElement || e.target;"
        " window.__scrolled += Math.abs(t.scrollTop - (last.get(t) ?? 0));"
        " last.set(t, t.scrollTop); }, true); }"
    )
    page.evaluate(FRAME_RECORDER)
    for _ in range(150):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(12)
    for _ in range(40):
        page.mouse.wheel(0, -360)
        page.wait_for_timeout(12)
    return {
        "open_s": round(opened, 2),
        "scroll": frames(page.evaluate(FRAME_STOP)),
        "scrolled_px": round(page.evaluate("window.__scrolled")),
    }


def label_studio_workloads(pg_server: str, quick: bool) -> dict[str, Any]:
    try:
        from bench import labelstudio as lsb  # the peer's install and start-up, shared with bench/run.py
    except ImportError as exc:
        return {"skipped": f"bench/labelstudio.py is needed to install and start Label Studio: {exc}"}
    n = 10 if quick else 30
    out: dict[str, Any] = {
        "version": lsb.VERSION,
        "database": "sqlite",
        "not_compared": {
            "submit_to_next_image": "LS draws images on Konva canvases and signals nothing when the next image "
            "is drawn; the text stream measures the same submit-to-next path",
            "draw": "LS's per-frame work is not instrumented; frame intervals are compared",
        },
    }
    with lsb.running("sqlite", pg_server, None) as ls, sync_playwright() as pw:
        http = httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {lsb.TOKEN}"}, timeout=600.0)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(ls.url + "/user/login/")
            page.fill("input[name=email]", lsb.USER)
            page.fill("input[name=password]", lsb.PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")

            parts: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("submit_to_next_text", lambda: ls_submit_to_next(page, http, ls.url, n)),
                ("image_4096_1000_boxes", lambda: ls_pan(page, http, ls.url)),
                ("text_100k_2000_spans", lambda: ls_scroll(page, http, ls.url)),
            ]
            for key, run in parts:
                try:
                    out[key] = run()
                except Exception as exc:  # one part failing keeps the others
                    log.exception("Label Studio: %s failed", key)
                    out[key] = {"failed": repr(exc)[:500]}
        finally:
            browser.close()
    return out


def chromium_version() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    return "unknown"


def run(
    pg_server: str = "postgresql://postgres@127.0.0.1:5432", quick: bool = False, with_ls: bool = True
) -> dict[str, Any]:
    """The UI workload as a JSON-ready document (what `make bench` can embed; ``main`` prints it)."""
    doc: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(),
            "browser": chromium_version(),
            "rendering": "software (no GPU on this machine)",
            "viewport": VIEWPORT,
            "machine": platform.platform(),
            "goal": {"submit_to_next_p95_ms": 50},
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        }
    }
    # the stacks start outside Playwright's event loop (their set-up runs asyncio itself)
    with annotary(pg_server) as stack, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            doc["annotary"] = annotary_workloads(browser, stack, quick)
        finally:
            browser.close()
    if not with_ls:
        doc["label_studio"] = {"skipped": "--no-ls"}
    else:
        try:
            doc["label_studio"] = label_studio_workloads(pg_server, quick)
        except Exception as exc:  # reported; the Annotary figures stand
            log.exception("Label Studio workload failed")
            doc["label_studio"] = {"skipped": f"failed: {exc!r}"}
    doc["meta"]["finished_at"] = datetime.now(UTC).isoformat()
    doc["meta"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 submits instead of 30")
    parser.add_argument("--no-ls", action="store_true", help="skip Label Studio")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432", help="the Postgres server to use")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname).1s %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    json.dump(run(args.pg, quick=args.quick, with_ls=not args.no_ls), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
