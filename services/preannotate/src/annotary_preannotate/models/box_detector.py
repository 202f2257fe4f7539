"""Object detection from accepted boxes: a small fully convolutional network trained here on the project's accepted
bbox regions (no detection weights ship in a PyPI package that loads offline), CUDA when present, else CPU.

The design is CenterNet's, scaled down: the image is resized (aspect kept, padded) to ``SIZE`` x ``SIZE``; the
network predicts, on a grid of stride ``STRIDE``, a heatmap per label whose peaks are box centres (trained with the
penalty-reduced focal loss against Gaussians at the accepted boxes' centres) and each box's width and height (log,
L1 at the centres). A prediction keeps the heatmap's local maxima above ``threshold``; each is a bbox region in the
image's pixels with its confidence as ``score``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from annotary_common.regions import bbox_geometry
from annotary_preannotate.domain.plugin import (
    Accepted,
    Capabilities,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
    Region,
)
from annotary_preannotate.models.embeddings import pick_device
from annotary_preannotate.models.torch_weights import dump, load, network_of, restore

SIZE = 256
STRIDE = 4
GRID = SIZE // STRIDE
MAX_BOXES = 300  # per image (dense scenes: nuclei, crowds)


def boxes_of(result: Sequence[Region]) -> list[tuple[str, float, float, float, float]]:
    """(label, x, y, w, h) of the well-formed labeled bbox regions of a result."""
    out = []
    for region in result:
        if isinstance(region, dict) and region.get("type") == "bbox" and isinstance(region.get("label"), str) \
                and (box := bbox_geometry(region)) is not None and box[1] > 0:
            x, y, w, h = box[0]
            out.append((str(region["label"]), x, y, w, h))
    return out


def letterbox(image: Any) -> tuple[NDArray[np.float32], float]:
    """An image (PIL, or an H x W [x C] array) as a 3 x SIZE x SIZE float array in [0, 1], scaled so its longer side
    is SIZE (the rest padded with black), and the scale applied."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype != np.uint8:
            top = float(array.max(initial=0))
            array = np.clip(array * (255.0 / top if top > 0 else 1.0), 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
    rgb = image.convert("RGB")
    scale = SIZE / max(rgb.width, rgb.height)
    resized = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BILINEAR)
    canvas = np.zeros((SIZE, SIZE, 3), dtype=np.float32)
    canvas[:resized.height, :resized.width] = np.asarray(resized, dtype=np.float32) / 255.0
    return canvas.transpose(2, 0, 1), scale


def targets(boxes: Sequence[tuple[str, float, float, float, float]], labels: Sequence[str], scale: float
            ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """(heatmap labels x GRID x GRID, size 2 x GRID x GRID as log cells, mask GRID x GRID of the centre cells)."""
    heat = np.zeros((len(labels), GRID, GRID), dtype=np.float32)
    size = np.zeros((2, GRID, GRID), dtype=np.float32)
    mask = np.zeros((GRID, GRID), dtype=np.float32)
    ys, xs = np.mgrid[0:GRID, 0:GRID].astype(np.float32)
    for label, x, y, w, h in boxes:
        if label not in labels:
            continue
        cx, cy = (x + w / 2) * scale / STRIDE, (y + h / 2) * scale / STRIDE
        bw, bh = max(w * scale / STRIDE, 0.25), max(h * scale / STRIDE, 0.25)
        ix, iy = min(GRID - 1, max(0, int(cx))), min(GRID - 1, max(0, int(cy)))
        sigma = max(0.5, min(bw, bh) / 6)
        gauss = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
        k = labels.index(label)
        heat[k] = np.maximum(heat[k], gauss)
        size[:, iy, ix] = (math.log(bw), math.log(bh))
        mask[iy, ix] = 1.0
    return heat, size, mask


def _network(labels: int) -> Any:
    from torch import nn

    def block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[Any]:
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(*block(3, 16, 2), *block(16, 32, 2), *block(32, 32), *block(32, 64, 1, 2),
                                      *block(64, 64, 1, 4), *block(64, 64))
            self.heat = nn.Conv2d(64, labels, 1)
            self.size = nn.Conv2d(64, 2, 1)
            assert self.heat.bias is not None
            nn.init.constant_(self.heat.bias, -2.19)  # a prior of 0.1 on every cell: stable focal loss at the start

        def forward(self, x: Any) -> tuple[Any, Any]:
            features = self.body(x)
            return self.heat(features), self.size(features)

    return Net()


def _focal(logits: Any, heat: Any) -> Any:
    """CenterNet's penalty-reduced focal loss, per object."""
    import torch

    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1.0).float()
    pos_loss = -(torch.log(p) * (1 - p) ** 2 * positive).sum()
    neg_loss = -(torch.log(1 - p) * p**2 * (1 - heat) ** 4 * (1 - positive)).sum()
    return (pos_loss + neg_loss) / positive.sum().clamp(min=1.0)


class BoxDetector(ModelPlugin):
    name: ClassVar[str] = "image-bbox-centernet"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="image", tools=("bbox",), trainable=True,
                                                        batch_size=16)

    def __init__(self, model_version: str, labels: Sequence[str] = (),
                 state: dict[str, NDArray[np.float32]] | None = None, *, epochs: int = 60,
                 learning_rate: float = 3e-3, threshold: float = 0.3, seed: int = 0, device: str = "auto",
                 threads: int = 0) -> None:
        super().__init__(model_version)
        self.labels = tuple(labels)
        self.state = state
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.threshold = threshold
        self.seed = seed
        self.device = device
        self.threads = threads
        self._net: Any = None

    def setup(self) -> None:
        if self.state is not None:
            self._net, self.device = restore(_network(len(self.labels)), self.state, self.device)

    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[BoxDetector, FitReport]:
        import torch

        examples = [(a, boxes) for a in accepted if a.image is not None and (boxes := boxes_of(a.result))]
        if len(examples) < 2:
            raise NotEnoughData(f"need at least two images with boxes to train, got {len(examples)}")
        labels = sorted({label for _, boxes in examples for label, *_ in boxes})
        if self.threads:
            torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        rng = random.Random(self.seed)
        xs, heats, sizes, masks = [], [], [], []
        for a, boxes in examples:
            pixels, scale = letterbox(a.image)
            heat, size, mask = targets(boxes, labels, scale)
            xs.append(pixels)
            heats.append(heat)
            sizes.append(size)
            masks.append(mask)
        x, heat_t = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(heats))
        size_t, mask_t = torch.from_numpy(np.stack(sizes)), torch.from_numpy(np.stack(masks))
        device = pick_device(self.device)
        net = _network(len(labels)).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, self.epochs))
        order = list(range(len(examples)))
        net.train()
        last = 0.0
        for _ in range(self.epochs):
            rng.shuffle(order)
            for start in range(0, len(order), 8):
                idx = torch.tensor(order[start:start + 8])
                batch, h, s, m = (t[idx].to(device) for t in (x, heat_t, size_t, mask_t))
                if rng.random() < 0.5:  # flips move the boxes with the pixels: the targets flip too
                    batch, h, s, m = (torch.flip(t, dims=[-1]) for t in (batch, h, s, m))
                if rng.random() < 0.5:
                    batch, h, s, m = (torch.flip(t, dims=[-2]) for t in (batch, h, s, m))
                heat_logits, size_pred = net(batch)
                size_loss = ((size_pred - s).abs() * m.unsqueeze(1)).sum() / m.sum().clamp(min=1.0)
                loss = _focal(heat_logits, h) + 0.5 * size_loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                last = float(loss.detach())
            schedule.step()
        state = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        trained = BoxDetector(model_version, labels, state, epochs=self.epochs, learning_rate=self.learning_rate,
                              threshold=self.threshold, seed=self.seed, device=device, threads=self.threads)
        trained.setup()
        counts = {label: sum(1 for _, boxes in examples for b in boxes if b[0] == label) for label in labels}
        return trained, FitReport(len(examples), tuple(labels), {"box_counts": counts, "final_loss": last,
                                                                 "epochs": self.epochs})

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        import torch

        net = network_of(self)
        out: list[ItemPrediction] = []
        for start in range(0, len(items), self.capabilities.batch_size):
            chunk = items[start:start + self.capabilities.batch_size]
            boxed = [letterbox(item.image) for item in chunk]
            device = next(net.parameters()).device
            x = torch.from_numpy(np.stack([pixels for pixels, _ in boxed])).to(device)
            with torch.no_grad():
                heat_logits, size_pred = net(x)
                heat = torch.sigmoid(heat_logits)
                peaks = heat * (heat == torch.nn.functional.max_pool2d(heat, 3, stride=1, padding=1)).float()
            for item, (_, scale), peak, size in zip(chunk, boxed, peaks.cpu().numpy(), size_pred.cpu().numpy(),
                                                    strict=True):
                out.append(self._regions(item, peak, size, scale))
        return out

    def _regions(self, item: PredictItem, peak: NDArray[np.float32], size: NDArray[np.float32],
                 scale: float) -> ItemPrediction:
        width, height = (SIZE / scale,) * 2
        if hasattr(item.image, "size") and isinstance(item.image.size, tuple):  # a PIL image: (width, height)
            width, height = float(item.image.size[0]), float(item.image.size[1])
        elif item.image is not None:
            height, width = (float(v) for v in np.asarray(item.image).shape[:2])
        flat = peak.reshape(-1)
        best = np.argsort(-flat, kind="stable")[:MAX_BOXES]
        regions: list[Region] = []
        for index in best:
            confidence = float(flat[index])
            if confidence < self.threshold:
                break
            k, rest = divmod(int(index), GRID * GRID)
            iy, ix = divmod(rest, GRID)
            w, h = math.exp(float(size[0, iy, ix])), math.exp(float(size[1, iy, ix]))
            cx, cy = ix + 0.5, iy + 0.5
            to_px = STRIDE / scale
            # clipped to the image (its size in pixels: the letterboxed part of the SIZE x SIZE input)
            x0, y0 = max(0.0, (cx - w / 2) * to_px), max(0.0, (cy - h / 2) * to_px)
            x1, y1 = min(width, (cx + w / 2) * to_px), min(height, (cy + h / 2) * to_px)
            if x1 <= x0 or y1 <= y0:
                continue
            regions.append({"type": "bbox", "label": self.labels[k], "x": round(x0, 1), "y": round(y0, 1),
                            "w": round(x1 - x0, 1), "h": round(y1 - y0, 1), "score": round(confidence, 4)})
        score = float(np.mean([r["score"] for r in regions])) if regions else 0.0
        return ItemPrediction(item.item_id, self.model_version, regions, score)

    def dumps(self) -> bytes:
        return dump(self.state, labels=list(self.labels), threshold=self.threshold)

    @classmethod
    def loads(cls, data: bytes, model_version: str) -> BoxDetector:
        state, meta = load(data)
        return cls(model_version, [str(label) for label in meta["labels"]], state, threshold=float(meta["threshold"]))
