"""Real test images: crops of scikit-image's sample photographs, as PNG bytes."""

from __future__ import annotations

import io

from PIL import Image

from annotary_cli.demo import skimage_data_dir


def photo_crops(count: int, size: tuple[int, int] = (160, 120)) -> list[tuple[str, bytes]]:
    sources = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png"]
    crops: list[tuple[str, bytes]] = []
    i = 0
    while len(crops) < count:
        src = Image.open(skimage_data_dir() / sources[i % len(sources)]).convert("RGB")
        step = i // len(sources)
        x, y = (step * 37) % (src.width - size[0]), (step * 23) % (src.height - size[1])
        buf = io.BytesIO()
        src.crop((x, y, x + size[0], y + size[1])).save(buf, format="PNG")
        crops.append((f"crop-{i:03d}.png", buf.getvalue()))
        i += 1
    return crops
