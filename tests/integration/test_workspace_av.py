"""Issue 8: audio and video annotation in the browser. Debian's Chromium, driven by Playwright, against the real
stack: a generated WAV (Python's wave module) gets a segment drawn on its waveform, a label by hotkey and a
transcript, and is played back with the segment highlighted; a generated WebM (PyAV's libvpx) gets a box track
with keyframes at frames 0 and 10, the interpolated box at frame 5 is checked on screen (and the frame shown is
checked to be frame 5), and both stored annotations are read back through the API.

``ANNOTARY_SCREENSHOTS=docs/screenshots`` writes audio.png and video.png where the README links them."""

from __future__ import annotations

import io
import math
import struct
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from annotary_cli.stack import Stack
from annotary_preannotate.domain.plugin import PredictItem
from annotary_preannotate.models.energy_vad import EnergyVAD, decode_audio
from tests.integration.test_browser import submitted_result
from tests.integration.test_pipeline import wait_items
from tests.integration.test_review_ui import exported

RATE = 16_000
TONE = (0.5, 1.5)  # seconds of 440 Hz in a 2 s recording, silence around it
VW, VH, FPS, FRAMES = 320, 240, 25, 20
BAR = 16  # frame i shows a white bar i * BAR pixels wide along the top


def tone_wav() -> bytes:
    samples = [int(12_000 * math.sin(2 * math.pi * 440 * i / RATE)) if TONE[0] * RATE <= i < TONE[1] * RATE else 0
               for i in range(2 * RATE)]
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()


def bar_webm() -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = VW, VH, "yuv420p"
        stream.options = {"crf": "4", "b": "2M"}
        for i in range(FRAMES):
            img = np.full((VH, VW, 3), 40, np.uint8)
            img[:, : i * BAR] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()






def open_project(browser: Browser, stack: Stack, token: str, project: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.goto(stack.api_url + "/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id(f"project-{project}").click()
    expect(page.get_by_test_id("current-external-id")).to_be_visible(timeout=20_000)
    return page


def markers(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        "() => [...document.querySelectorAll('.region-markers [data-testid=region]')].map(m => ({...m.dataset,"
        " selected: m.getAttribute('aria-selected') === 'true'}))"
    )
    return result


def upload(manager: Any, project_id: str, name: str, data: bytes, media_type: str) -> None:
    reply = manager.post(f"/projects/{project_id}/items", files=[("files", (name, data, media_type))])
    assert reply.status_code == 201, reply.text
    wait_items(manager, project_id, 1)


def import_with_predictions(manager: Any, stack: Stack, project_id: str, name: str, data: bytes,
                            predictions: list[dict[str, Any]], count: int) -> None:
    root = stack.config.import_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{uuid.uuid4().hex}-{name}"
    path.write_bytes(data)
    item = {"external_id": name, "audio": path.resolve().as_uri(), "predictions": predictions}
    reply = manager.post(f"/projects/{project_id}/items", json=[item])
    assert reply.status_code == 201, reply.text
    wait_items(manager, project_id, count)


def test_audio_segment_with_label_and_transcript(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-audio-{uuid.uuid4().hex[:6]}"
    schema = {"modality": "audio", "tools": ["segment"],
              "labels": [{"name": "speech", "hotkey": "1"}, {"name": "music", "hotkey": "2"}]}
    pid = manager.create_project(name, schema, {"overlap": 1})["id"]
    upload(manager, pid, "tone.wav", tone_wav(), "audio/wav")
    # the second item comes with a model's segments: the energy VAD plugin run on it (its transcripts are empty)
    samples, rate = decode_audio(tone_wav())
    [vad] = EnergyVAD("audio-energy-vad-1").predict([PredictItem("second", audio=samples, sample_rate=rate)])
    assert [(r["start"], r["end"]) for r in vad.result] == [(0.5, 1.5)]
    import_with_predictions(manager, stack, pid, "second.wav", tone_wav()[:-2] + b"\x01\x00",
                            [{"model_version": vad.model_version, "score": vad.score, "result": vad.result}], 2)
    page = open_project(browser, stack, annotator.token, name)
    expect(page.get_by_test_id("audio-stage")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("audio-time")).to_contain_text("0:02.000", timeout=20_000)  # decoded: 2 s
    task_id = page.locator(".editor").get_attribute("data-task-id")
    assert task_id
    task = manager.get(f"/tasks/{task_id}").json()
    assert task["item"]["meta"]["duration"] == pytest.approx(2.0) and task["item"]["meta"]["sample_rate"] == RATE

    # the waveform fits the 2 s: drag over the tone, then label it by hotkey and type its transcript
    wave_box = page.get_by_test_id("waveform").bounding_box()
    assert wave_box is not None
    px_per_s = wave_box["width"] / 2.0

    def at(t: float) -> tuple[float, float]:
        return wave_box["x"] + t * px_per_s, wave_box["y"] + wave_box["height"] / 2

    page.mouse.move(*at(TONE[0]))
    page.mouse.down()
    page.mouse.move(*at(1.0), steps=4)
    page.mouse.move(*at(TONE[1]), steps=4)
    page.mouse.up()
    [segment] = markers(page)
    assert segment["type"] == "segment" and segment["label"] == "speech" and segment["selected"]
    assert float(segment["start"]) == pytest.approx(TONE[0], abs=0.02)
    page.keyboard.press("2")
    assert markers(page)[0]["label"] == "music"
    # resize: drag the end edge out to 1.6 s
    page.mouse.move(*at(TONE[1]))
    page.mouse.down()
    page.mouse.move(*at(1.6), steps=4)
    page.mouse.up()
    assert float(markers(page)[0]["end"]) == pytest.approx(1.6, abs=0.02)
    page.get_by_test_id("transcript").fill("a steady tone")

    # playback: P plays the selected segment; the cursor follows and the segment is highlighted while it plays
    page.get_by_test_id("transcript").blur()
    page.keyboard.press("p")
    page.wait_for_function(
        "() => document.querySelector('.region-markers [data-testid=region]').dataset.active === 'true'",
        timeout=10_000)
    expect(page.get_by_test_id("active-segment")).to_contain_text("music")
    page.wait_for_timeout(300)
    page.keyboard.press(" ")  # pause
    page.mouse.move(2, 940)
    page.screenshot(path=str(shots / "audio.png"))

    page.keyboard.press("Enter")
    result = submitted_result(manager, task_id)
    assert len(result) == 1
    stored = result[0]
    assert stored["type"] == "segment" and stored["label"] == "music" and stored["text"] == "a steady tone"
    assert stored["start"] == pytest.approx(TONE[0], abs=0.02) and stored["end"] == pytest.approx(1.6, abs=0.02)

    # the next item opens with the model's segment pending (dashed): select it, accept it, write its transcript
    expect(page.get_by_test_id("current-external-id")).to_have_text("second.wav")
    expect(page.get_by_test_id("audio-time")).to_contain_text("0:02.000", timeout=20_000)
    [pending] = markers(page)
    assert pending["pending"] == "true" and (float(pending["start"]), float(pending["end"])) == (0.5, 1.5)
    page.keyboard.press(".")
    page.keyboard.press("a")
    assert markers(page)[0]["pending"] == "false"
    expect(page.get_by_test_id("transcript")).to_have_value("")
    page.get_by_test_id("transcript").fill("corrected by a person")
    second = page.locator(".editor").get_attribute("data-task-id")
    assert second and second != task_id
    page.keyboard.press("Control+Enter")
    [stored] = submitted_result(manager, second)
    assert stored["text"] == "corrected by a person" and (stored["start"], stored["end"]) == (0.5, 1.5)
    assert stored["origin"] == {"model_version": "audio-energy-vad-1", "edited": True}
    page.close()


def frame_bar_width(page: Page) -> float:
    """The white bar's width (video pixels) along the top of the frame shown: which frame is on screen."""
    shot = Image.open(io.BytesIO(page.get_by_test_id("video-frame").screenshot())).convert("L")
    row = shot.height * 5 // VH  # video row 5: above every box and label
    white = sum(1 for x in range(shot.width) if shot.getpixel((x, row)) > 150)  # type: ignore[operator]
    return white * VW / shot.width


def expect_frame_shown(page: Page, frame: int, timeout: float = 15.0) -> None:
    """The frame painted is `frame` (its bar is frame * BAR pixels wide), once the worker has painted it."""
    deadline = time.monotonic() + timeout
    while True:
        width = frame_bar_width(page)
        if abs(width - frame * BAR) <= 4:
            return
        assert time.monotonic() < deadline, f"frame {frame} not shown: a bar {width:.1f} px wide"
        page.wait_for_timeout(100)


def test_video_track_with_interpolation(stack: Stack, make_user: Any, browser: Browser, shots: Path) -> None:
    manager, annotator = make_user("manager"), make_user("annotator")
    name = f"ws-video-{uuid.uuid4().hex[:6]}"
    schema = {"modality": "video", "tools": ["track"], "labels": [{"name": "car", "hotkey": "1"}]}
    pid = manager.create_project(name, schema, {"overlap": 1})["id"]
    upload(manager, pid, "bars.webm", bar_webm(), "video/webm")
    page = open_project(browser, stack, annotator.token, name)
    expect(page.get_by_test_id("video-stage")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("frame-slider")).to_have_attribute("max", str(FRAMES - 1), timeout=20_000)
    task_id = page.locator(".editor").get_attribute("data-task-id")
    assert task_id
    meta = manager.get(f"/tasks/{task_id}").json()["item"]["meta"]
    assert meta["fps"] == FPS and meta["frame_count"] == FRAMES
    assert page.get_by_test_id("video-frame").get_attribute("data-mode") == "worker"  # painted off the main thread
    expect_frame_shown(page, 0)

    overlay = page.get_by_test_id("video-overlay").bounding_box()
    assert overlay is not None
    scale = overlay["width"] / VW

    def at(x: float, y: float) -> tuple[float, float]:
        return overlay["x"] + x * scale, overlay["y"] + y * scale

    def drag(a: tuple[float, float], b: tuple[float, float]) -> None:
        page.mouse.move(*at(*a))
        page.mouse.down()
        page.mouse.move(*at(*b), steps=5)
        page.mouse.up()

    # frame 0: a new track, its first keyframe
    drag((40, 40), (120, 100))
    [track] = markers(page)
    assert track["type"] == "track" and track["label"] == "car" and track["keyframes"] == "0"
    box0 = [float(v) for v in track["box"].split(",")]
    assert box0 == pytest.approx([40, 40, 80, 60], abs=1)

    # frame 10 (arrow keys, one frame each): move the box there, which makes a keyframe
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("frame-index")).to_have_text("10")
    expect_frame_shown(page, 10)
    drag((80, 70), (180, 150))
    track = markers(page)[0]
    assert track["keyframes"] == "0,10" and track["keyframe"] == "true"
    box10 = [float(v) for v in track["box"].split(",")]
    assert box10 == pytest.approx([140, 120, 80, 60], abs=1)
    page.keyboard.press("o")  # occluded at frame 10
    expect(page.get_by_test_id("frame-attr-occluded")).to_be_checked()

    # frame 5: the box is interpolated halfway, on screen and in the markers; the frame shown is frame 5
    page.keyboard.press("Shift+n")  # previous keyframe: 0
    expect(page.get_by_test_id("frame-index")).to_have_text("0")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("frame-index")).to_have_text("5")
    expected = [round((a + b) / 2, 2) for a, b in zip(box0, box10, strict=True)]
    shown = page.get_by_test_id("track-box").inner_text()
    assert [float(v) for v in shown.split(",")] == pytest.approx(expected, abs=0.01)
    assert markers(page)[0]["keyframe"] == "false"
    expect(page.get_by_test_id("track-panel")).to_contain_text("interpolated")
    expect_frame_shown(page, 5)
    page.keyboard.press("n")  # next keyframe: 10
    expect(page.get_by_test_id("frame-index")).to_have_text("10")
    page.keyboard.press("Shift+n")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.mouse.move(2, 940)
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "video.png"))

    # Space plays: the frame index follows the presented frames (requestVideoFrameCallback) to the end
    page.keyboard.press(" ")
    expect(page.get_by_test_id("frame-index")).to_have_text(str(FRAMES - 1), timeout=10_000)
    expect_frame_shown(page, FRAMES - 1)

    # bad input through the API: a 422 naming the rule, and nothing changes
    bad = annotator.post(f"/tasks/{task_id}/submit", json={"result": [
        {"type": "track", "label": "car", "track_id": "1", "keyframes": [{"frame": FRAMES, "bbox": [0, 0, 9, 9]}]}]})
    assert bad.status_code == 422, bad.text
    assert [v["rule"] for v in bad.json()["violations"]] == ["track_keyframes"]
    assert "frame count" in bad.json()["violations"][0]["message"]
    assert manager.get(f"/tasks/{task_id}").json()["state"] != "submitted"

    page.keyboard.press("Enter")
    [stored] = submitted_result(manager, task_id)
    assert stored["type"] == "track" and stored["label"] == "car" and stored["track_id"] == "1"
    k0, k10 = stored["keyframes"]
    assert (k0["frame"], k10["frame"]) == (0, 10)
    assert k0["bbox"] == pytest.approx(box0) and k10["bbox"] == pytest.approx(box10)
    assert k10["attributes"] == {"occluded": True} and not k0["attributes"].get("occluded")
    # the stored keyframes interpolate to what the screen showed at frame 5
    at5 = [a + (b - a) * 5 / 10 for a, b in zip(k0["bbox"], k10["bbox"], strict=True)]
    assert at5 == pytest.approx([float(v) for v in shown.split(",")], abs=0.01)
    page.close()

    # qa accepts it (one annotator) and the JSONL export carries the track and the probed metadata (the export
    # service consumes annotation.accepted on its own: exported again until it holds the item)
    [record] = exported(manager, pid, lambda rows: len(rows) == 1)
    assert record["meta"]["fps"] == FPS and (record["width"], record["height"]) == (VW, VH)
    assert record["annotations"][0]["result"][0]["keyframes"] == stored["keyframes"]
