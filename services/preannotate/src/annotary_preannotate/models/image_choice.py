"""Image classification from accepted choices: a small convolutional network trained here on the project's
accepted annotations (no pretrained weights: none ship in a PyPI package that loads offline), CUDA when
present, else CPU. Images are resized to ``SIZE`` x ``SIZE`` RGB; predictions are the choice with its
probability and the class probabilities for the active-learning scores."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from annotary_preannotate.domain.labels import choice_result, choice_target
from annotary_preannotate.domain.plugin import (
    Accepted,
    Capabilities,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
)
from annotary_preannotate.models.embeddings import pick_device
from annotary_preannotate.models.torch_weights import dump, load, network_of, restore

SIZE = 48


def pixels(image: Any) -> NDArray[np.float32]:
    """An image (PIL image, or an H x W [x C] array of 0-255 or 0-1 values) as a 3 x SIZE x SIZE float array
    in [0, 1]."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype != np.uint8:
            scale = 255.0 if array.max(initial=0) <= 1.0 else 1.0
            array = np.clip(array * scale, 0, 255).astype(np.uint8)
        image = Image.fromarray(array)
    rgb = image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _network(classes: int) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, classes))


class ImageChoiceCNN(ModelPlugin):
    name: ClassVar[str] = "image-choice-cnn"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="image", tools=("choice",), trainable=True,
                                                        batch_size=64)

    def __init__(self, model_version: str, choice_name: str = "", classes: Sequence[str] = (),
                 state: dict[str, NDArray[np.float32]] | None = None, *, epochs: int = 30,
                 learning_rate: float = 3e-3, seed: int = 0, device: str = "auto", threads: int = 0,
                 flip: bool = True) -> None:
        super().__init__(model_version)
        self.choice_name = choice_name
        self.classes = tuple(classes)
        self.state = state
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.seed = seed
        self.device = device
        self.threads = threads
        self.flip = flip  # horizontal flips as augmentation (off for what a mirror changes: digits, text)
        self._net: Any = None

    def setup(self) -> None:
        if self.state is not None:
            self._net, self.device = restore(_network(len(self.classes)), self.state, self.device)

    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[ImageChoiceCNN, FitReport]:
        import torch

        examples = [(a, target) for a in accepted if a.image is not None
                    and (target := choice_target(a.result, self.choice_name or None)) is not None]
        names = {name for _, (name, _) in examples}
        if len(names) > 1:
            raise NotEnoughData(f"accepted results answer several choices ({sorted(names)}); name one")
        classes = sorted({value for _, (_, value) in examples})
        if len(classes) < 2:
            raise NotEnoughData(f"need at least two classes to train, got {classes}")
        if self.threads:
            torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        rng = random.Random(self.seed)
        x = torch.from_numpy(np.stack([pixels(a.image) for a, _ in examples]))
        y = torch.tensor([classes.index(value) for _, (_, value) in examples])
        device = pick_device(self.device)
        net = _network(len(classes)).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        loss_fn = torch.nn.CrossEntropyLoss()
        order = list(range(len(examples)))
        net.train()
        last = 0.0
        for _ in range(self.epochs):
            rng.shuffle(order)
            for start in range(0, len(order), 32):
                idx = torch.tensor(order[start:start + 32])
                batch = x[idx].to(device)
                if self.flip and rng.random() < 0.5:  # cheap augmentation for small sets
                    batch = torch.flip(batch, dims=[3])
                loss = loss_fn(net(batch), y[idx].to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                last = float(loss.detach())
        state = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        trained = ImageChoiceCNN(model_version, next(iter(names)), classes, state, epochs=self.epochs,
                                 learning_rate=self.learning_rate, seed=self.seed, device=device,
                                 threads=self.threads, flip=self.flip)
        trained.setup()
        counts = {c: sum(1 for _, (_, v) in examples if v == c) for c in classes}
        return trained, FitReport(len(examples), tuple(classes), {"class_counts": counts, "final_loss": last})

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        import torch

        net = network_of(self)
        out: list[ItemPrediction] = []
        for start in range(0, len(items), self.capabilities.batch_size):
            chunk = items[start:start + self.capabilities.batch_size]
            device = next(net.parameters()).device
            x = torch.from_numpy(np.stack([pixels(item.image) for item in chunk])).to(device)
            with torch.no_grad():
                probs = torch.softmax(net(x), dim=1).cpu().numpy()
            for item, p in zip(chunk, probs, strict=True):
                best = int(p.argmax())
                score = float(p[best])
                out.append(ItemPrediction(item.item_id, self.model_version,
                                          choice_result(self.choice_name, self.classes[best], score), score,
                                          tuple(float(v) for v in p), self.classes))
        return out

    def dumps(self) -> bytes:
        return dump(self.state, classes=list(self.classes), choice=self.choice_name)

    @classmethod
    def loads(cls, data: bytes, model_version: str) -> ImageChoiceCNN:
        state, meta = load(data)
        return cls(model_version, str(meta["choice"]), [str(c) for c in meta["classes"]], state)
