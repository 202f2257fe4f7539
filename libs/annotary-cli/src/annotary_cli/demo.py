"""The demo projects `annotary up` creates: real sample data shipped inside scikit-image."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

import httpx

IMAGE_PROJECT = "Demo: objects in photographs"
TEXT_PROJECT = "Demo: entities in image captions"
IMAGE_FILES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "horse.png",
    "coins.png",
    "camera.png",
    "hubble_deep_field.jpg",
    "page.png",
    "retina.jpg",
    "logo.png",
)

IMAGE_SCHEMA: dict[str, Any] = {
    "modality": "image",
    "labels": [
        {"name": "person", "color": "#e6194b", "hotkey": "1"},
        {"name": "animal", "color": "#3cb44b", "hotkey": "2"},
        {"name": "vehicle", "color": "#4363d8", "hotkey": "3"},
        {"name": "object", "color": "#f58231", "hotkey": "4"},
        {"name": "text", "color": "#911eb4", "hotkey": "5"},
    ],
    "tools": ["bbox"],
    "rules": {"min_box_size": 4},
    "guidelines": "Draw a tight box around every person, animal, vehicle, object and block of text.",
}
TEXT_SCHEMA: dict[str, Any] = {
    "modality": "text",
    "labels": [
        {"name": "PERSON", "color": "#e6194b", "hotkey": "1"},
        {"name": "ORG", "color": "#4363d8", "hotkey": "2"},
        {"name": "PLACE", "color": "#3cb44b", "hotkey": "3"},
        {"name": "DATE", "color": "#f58231", "hotkey": "4"},
    ],
    "tools": ["span", "choice"],
    "choices": [{"name": "topic", "options": ["space", "photography", "science", "other"], "multiple": False}],
    "guidelines": "Mark people, organisations, places and dates; pick the caption's topic.",
}


def skimage_data_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-image is not installed")
    return Path(spec.submodule_search_locations[0]) / "data"


def caption_items() -> list[dict[str, Any]]:
    """The descriptive paragraphs of scikit-image's sample images: real English with names and dates."""
    import skimage.data

    items = []
    for name in sorted(dir(skimage.data)):
        func = getattr(skimage.data, name)
        doc = inspect.getdoc(func) if callable(func) else None
        if not doc:
            continue
        paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
        text = next(
            (p for p in paragraphs[1:] if len(p) > 60 and not p.startswith(("Parameters", "Returns", "Notes"))), None
        )
        if text and "`" not in text and "http" not in text:
            items.append({"external_id": f"skimage.data.{name}", "text": text, "meta": {"source": "scikit-image"}})
    return items


def ensure_demo(api_url: str, token: str) -> dict[str, str]:
    """Create the demo projects and import their data, once (re-importing creates no duplicates)."""
    headers = {"Authorization": f"Bearer {token}"}
    created: dict[str, str] = {}
    with httpx.Client(base_url=api_url, headers=headers, timeout=120.0) as client:
        existing = {p["name"]: p["id"] for p in client.get("/api/v1/projects").raise_for_status().json()}
        for name, schema in ((IMAGE_PROJECT, IMAGE_SCHEMA), (TEXT_PROJECT, TEXT_SCHEMA)):
            if name not in existing:
                policy = {"overlap": 1, "agreement_threshold": 1.0, "review": "disagreements", "lease_seconds": 900}
                reply = client.post("/api/v1/projects", json={"name": name, "schema": schema, "policy": policy})
                existing[name] = reply.raise_for_status().json()["id"]
            created[name] = existing[name]
        data_dir = skimage_data_dir()
        files = [("files", (f, (data_dir / f).read_bytes())) for f in IMAGE_FILES if (data_dir / f).exists()]
        client.post(f"/api/v1/projects/{created[IMAGE_PROJECT]}/items", files=files).raise_for_status()
        client.post(f"/api/v1/projects/{created[TEXT_PROJECT]}/items", json=caption_items()).raise_for_status()
    return created
