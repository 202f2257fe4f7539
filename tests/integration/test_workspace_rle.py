"""Issue 5: the brush tool's COCO RLE (services/annotation-api/web/src/lib/rle.ts) against pycocotools.

The TypeScript module is transpiled with the web UI's own TypeScript and run in Node on random masks; its
compressed and uncompressed output is decoded by pycocotools, and pycocotools' encodings are decoded by it.
Needs the web UI's node_modules (`make web`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

WEB = Path(__file__).resolve().parents[2] / "services" / "annotation-api" / "web"
RUNNER = r"""
const fs = require("fs");
const ts = require(process.argv[1] + "/node_modules/typescript");
const source = fs.readFileSync(process.argv[1] + "/src/lib/rle.ts", "utf8");
const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 };
const js = ts.transpileModule(source, { compilerOptions: options });
const module_ = { exports: {} };
new Function("module", "exports", js.outputText)(module_, module_.exports);
const rle = module_.exports;
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const out = cases.map((c) => {
  if (c.encode) {
    const bitmap = { width: c.width, height: c.height, data: Uint8Array.from(c.encode) };
    const enc = rle.encodeRle(bitmap);
    return { compressed: enc, runs: rle.bitmapToRuns(bitmap), area: rle.rleArea(enc), bounds: rle.rleBounds(enc) };
  }
  const bitmap = rle.decodeRle(c.decode);
  return { data: Array.from(bitmap.data), area: rle.rleArea(c.decode), bounds: rle.rleBounds(c.decode) };
});
process.stdout.write(JSON.stringify(out));
"""


def run_ts(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is needed to run the web UI's TypeScript"
    assert (WEB / "node_modules" / "typescript").is_dir(), f"run `make web` first: {WEB}/node_modules is missing"
    done = subprocess.run(
        [node, "-e", RUNNER, str(WEB)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def masks() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = [
        np.zeros((7, 5), np.uint8),
        np.ones((4, 9), np.uint8),
        np.eye(6, 8, dtype=np.uint8),
        np.pad(np.ones((1, 1), np.uint8), ((3, 4), (2, 0))),  # one pixel on the right edge
        (rng.random((1, 300)) > 0.5).astype(np.uint8),
        (rng.random((300, 1)) > 0.97).astype(np.uint8),
    ]
    for h, w in [(40, 60), (123, 77), (240, 320)]:
        yy, xx = np.mgrid[:h, :w]
        blob = ((yy - h / 2) ** 2 / (h / 3) ** 2 + (xx - w / 3) ** 2 / (w / 4) ** 2 < 1).astype(np.uint8)
        noise = (rng.random((h, w)) > 0.995).astype(np.uint8)
        out.append(blob | noise)
        out.append((rng.random((h, w)) > 0.5).astype(np.uint8))  # long counts, negative deltas
    return out


def coco_box(bitmap: np.ndarray) -> list[float] | None:
    if not bitmap.any():
        return None
    rle = mask_utils.encode(np.asfortranarray(bitmap))
    return [float(v) for v in mask_utils.toBbox(rle)]


def test_typescript_rle_matches_pycocotools() -> None:
    bitmaps = masks()
    encode_cases = [
        {"encode": [int(v) for v in bitmap.flatten(order="F")], "width": bitmap.shape[1], "height": bitmap.shape[0]}
        for bitmap in bitmaps
    ]
    ours = run_ts(encode_cases)
    decode_cases = []
    for bitmap, out in zip(bitmaps, ours, strict=True):
        h, w = bitmap.shape
        compressed = out["compressed"]
        assert compressed["size"] == [h, w]
        # pycocotools reads our compressed string and our run lengths back to the same pixels
        decoded = mask_utils.decode({"size": [h, w], "counts": compressed["counts"].encode()})
        assert np.array_equal(decoded, bitmap)
        uncompressed = mask_utils.frPyObjects({"size": [h, w], "counts": out["runs"]}, h, w)
        assert np.array_equal(mask_utils.decode(uncompressed), bitmap)
        # and writes the very same string
        theirs = mask_utils.encode(np.asfortranarray(bitmap))
        assert compressed["counts"] == theirs["counts"].decode()
        assert out["area"] == int(mask_utils.area(theirs)) == int(bitmap.sum())
        box = coco_box(bitmap)
        assert (out["bounds"] and [out["bounds"][k] for k in ("x", "y", "w", "h")]) == box or (
            box is None and out["bounds"] is None
        )
        decode_cases.append({"decode": {"size": [h, w], "counts": theirs["counts"].decode()}})
    # our decoder reads pycocotools' strings
    for bitmap, out in zip(bitmaps, run_ts(decode_cases), strict=True):
        assert np.array_equal(np.array(out["data"], np.uint8).reshape(bitmap.shape, order="F"), bitmap)
        assert out["area"] == int(bitmap.sum())
