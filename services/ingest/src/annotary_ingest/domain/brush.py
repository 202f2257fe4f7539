"""Label Studio's brush masks (``brushlabels`` with ``"format": "rle"``) -> COCO RLE.

Label Studio stores a brush stroke as the RGBA pixels of the image (``height * width * 4`` bytes, row-major),
packed with the bit-level run-length scheme of thi.ng's ``rle-pack``, as a list of byte values. The bit stream,
most significant bit first:

- 32 bits: how many values the unpacked array holds (``height * width * 4``);
- 5 bits: the word size minus 1 (bits per value, 8 for RGBA bytes);
- 4 x 4 bits: four run-length field widths minus 1;
- then chunks until every value is out: 1 bit ``repeat``; 2 bits choose a run-length width; that many bits give the
  chunk length minus 1; a repeat chunk has one value (a word) filled over the whole length, a literal chunk has one
  word per value.

The mask is the alpha channel (a painted pixel has a non-zero alpha); it is re-encoded as COCO RLE (compressed
counts) with pycocotools.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class BrushInvalid(ValueError):
    """A Label Studio brush RLE that cannot be decoded; the message says what is wrong."""


class _Bits:
    """A most-significant-bit-first reader over bytes."""

    def __init__(self, data: bytes) -> None:
        self._bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self._at = 0

    def read(self, width: int) -> int:
        end = self._at + width
        if end > len(self._bits):
            raise BrushInvalid(f"the bit stream ends early (bit {self._at} of {len(self._bits)}, {width} more wanted)")
        value = 0
        for bit in self._bits[self._at:end]:
            value = (value << 1) | int(bit)
        self._at = end
        return value


def decode_ls_rle(rle: Any, height: int, width: int) -> npt.NDArray[np.uint8]:
    """Label Studio's brush RLE (a list of byte values) -> a ``height x width`` mask of 0/1."""
    if not isinstance(rle, list) or not rle:
        raise BrushInvalid("rle: must be a non-empty list of byte values")
    if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in rle):
        raise BrushInvalid("rle: every value must be an integer 0..255")
    if height <= 0 or width <= 0:
        raise BrushInvalid(f"original_width and original_height must be positive, got {width}x{height}")
    bits = _Bits(bytes(rle))
    count = bits.read(32)
    if count != height * width * 4:
        raise BrushInvalid(f"rle holds {count} values, but a {width}x{height} RGBA image has {height * width * 4}")
    word = bits.read(5) + 1
    widths = [bits.read(4) + 1 for _ in range(4)]
    out = np.zeros(count, dtype=np.uint32)
    i = 0
    while i < count:
        repeat = bits.read(1)
        end = i + 1 + bits.read(widths[bits.read(2)])
        if end > count:
            raise BrushInvalid(f"a run ends at value {end}, past the {count} values announced")
        if repeat:
            out[i:end] = bits.read(word)
            i = end
        else:
            while i < end:
                out[i] = bits.read(word)
                i += 1
    alpha = out.reshape(height, width, 4)[:, :, 3]
    return (alpha > 0).astype(np.uint8)


def mask_to_coco_rle(mask: npt.NDArray[np.uint8]) -> dict[str, Any]:
    """A 0/1 mask -> COCO RLE ``{"size": [h, w], "counts": str}`` (compressed counts)."""
    from pycocotools import mask as mask_utils

    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = encoded["counts"]
    return {"size": [int(s) for s in encoded["size"]],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def ls_brush_to_coco_rle(rle: Any, height: Any, width: Any) -> dict[str, Any]:
    """Label Studio's brush RLE of an image of ``width x height`` -> COCO RLE."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
               for v in (height, width)):
        raise BrushInvalid(f"original_width and original_height must be whole numbers, got {width!r}, {height!r}")
    return mask_to_coco_rle(decode_ls_rle(rle, int(height), int(width)))
