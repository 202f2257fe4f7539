"""Label Studio's brush RLE (``brushlabels``, ``"format": "rle"``) imported as COCO RLE masks.

The encoder here writes the bit stream from the format's description (thi.ng rle-pack, as Label Studio uses it:
RGBA bytes of the image, the mask in alpha), with both chunk kinds (repeat runs and literal runs), so the decoder
is checked against an independent writer; the COCO RLE that comes out is decoded with pycocotools.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from annotary_ingest.domain.brush import BrushInvalid, decode_ls_rle
from annotary_ingest.domain.foreign import ForeignInvalid, InFile, parse_foreign

RUN_WIDTHS = (3, 6, 10, 16)  # bits of the four run-length fields


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def write(self, value: int, width: int) -> None:
        assert 0 <= value < (1 << width)
        self.bits.extend((value >> (width - 1 - k)) & 1 for k in range(width))

    def to_list(self) -> list[int]:
        padded = self.bits + [0] * (-len(self.bits) % 8)
        return [int("".join(map(str, padded[k:k + 8])), 2) for k in range(0, len(padded), 8)]


def _field(length: int) -> int:
    return next(k for k, w in enumerate(RUN_WIDTHS) if length - 1 < (1 << w))


def encode_ls_rle(mask: np.ndarray) -> list[int]:
    """A 0/1 mask -> Label Studio brush RLE: RGBA (255, 0, 0, 255) on painted pixels, runs of >= 4 equal values as
    repeat chunks, the rest as literal chunks."""
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[mask > 0] = (255, 0, 0, 255)
    values = rgba.ravel().tolist()
    out = _BitWriter()
    out.write(len(values), 32)
    out.write(8 - 1, 5)
    for w in RUN_WIDTHS:
        out.write(w - 1, 4)
    limit = 1 << RUN_WIDTHS[-1]
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and values[j] == values[i] and j - i < limit:
            j += 1
        if j - i >= 4:
            out.write(1, 1)
            out.write(_field(j - i), 2)
            out.write(j - i - 1, RUN_WIDTHS[_field(j - i)])
            out.write(values[i], 8)
        else:  # a literal chunk up to the next run of 4
            j = i
            while j < len(values) and j - i < limit and not (j + 3 < len(values)
                                                             and len(set(values[j:j + 4])) == 1):
                j += 1
            j = max(j, i + 1)
            out.write(0, 1)
            out.write(_field(j - i), 2)
            out.write(j - i - 1, RUN_WIDTHS[_field(j - i)])
            for v in values[i:j]:
                out.write(v, 8)
        i = j
    return out.to_list()


def known_mask() -> np.ndarray:
    mask = np.zeros((37, 53), dtype=np.uint8)
    mask[5:20, 10:30] = 1          # a block
    mask[25, 3:50:2] = 1           # alternating pixels: literal chunks
    mask[30:36, 40] = 1            # a thin vertical line
    return mask


def test_decoder_round_trips_a_known_mask() -> None:
    mask = known_mask()
    assert np.array_equal(decode_ls_rle(encode_ls_rle(mask), 37, 53), mask)


def brush_task(rle: Any, width: int = 53, height: int = 37) -> list[dict[str, Any]]:
    return [{"id": 1, "data": {"image": "https://example.org/m.png"}, "annotations": [{"completed_by": 2, "result": [
        {"id": "b1", "type": "brushlabels", "from_name": "tag", "to_name": "image", "original_width": width,
         "original_height": height, "value": {"format": "rle", "rle": rle, "brushlabels": ["road"]}}]}]}]


def test_labelstudio_brush_imports_as_a_coco_rle_mask() -> None:
    mask = known_mask()
    (item,) = parse_foreign("labelstudio", [InFile("ls.json", json.dumps(brush_task(encode_ls_rle(mask))).encode())])
    assert item.annotation is not None
    (region,) = item.annotation.result
    assert (region["type"], region["label"], region["id"]) == ("mask", "road", "b1")
    assert region["rle"]["size"] == [37, 53] and isinstance(region["rle"]["counts"], str)
    coco = {"size": region["rle"]["size"], "counts": region["rle"]["counts"].encode()}
    assert np.array_equal(mask_utils.decode(coco), mask)
    assert int(mask_utils.area(coco)) == int(mask.sum())


def test_broken_brush_rle_is_refused_naming_the_result() -> None:
    good = encode_ls_rle(known_mask())
    with pytest.raises(ForeignInvalid, match=r"tasks\[0\]\.annotations\.result\[0\]: brush rle: .*ends early"):
        parse_foreign("labelstudio", [InFile("ls.json", json.dumps(brush_task(good[:20])).encode())])
    with pytest.raises(ForeignInvalid, match=r"brush rle: rle holds 7844 values, but a 10x37 RGBA image"):
        parse_foreign("labelstudio", [InFile("ls.json", json.dumps(brush_task(good, width=10)).encode())])
    with pytest.raises(BrushInvalid, match=r"0\.\.255"):
        decode_ls_rle([1, 300], 1, 1)
