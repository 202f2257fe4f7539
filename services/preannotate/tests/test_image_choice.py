"""The image classifier trained on accepted choices: scikit-learn's bundled digits (real 8x8 scans of
handwritten digits, shipped inside the package) as images, a held-out split, and its weights round trip."""

from __future__ import annotations

import numpy as np
import pytest

from annotary_preannotate.domain.plugin import Accepted, NotEnoughData, PredictItem
from annotary_preannotate.models import PLUGINS, load_plugin
from annotary_preannotate.models.image_choice import ImageChoiceCNN, pixels


def digits(classes: tuple[int, ...]) -> tuple[list[np.ndarray], list[str]]:
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = [i for i, t in enumerate(data.target) if t in classes]
    return [data.images[i] / 16.0 for i in keep], [str(data.target[i]) for i in keep]


def test_pixels_accepts_arrays_of_any_range_and_gives_rgb_squares() -> None:
    assert pixels(np.zeros((8, 8))).shape == (3, 48, 48)
    grey = pixels(np.full((10, 20), 255, dtype=np.uint8))
    assert grey.min() == pytest.approx(1.0)
    assert pixels(np.full((4, 4, 3), 0.5)).max() == pytest.approx(127 / 255, abs=0.01)


def test_it_learns_digits_from_accepted_choices_and_round_trips() -> None:
    images, labels = digits((0, 1, 7))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    train, test = order[:240], order[240:400]
    accepted = [Accepted(str(i), [{"type": "choice", "name": "digit", "value": labels[i]}], image=images[i])
                for i in train]
    model, report = ImageChoiceCNN("untrained", epochs=15, device="cpu", threads=1, flip=False).fit(accepted, "v1")
    assert report.classes == ("0", "1", "7") and report.training_items == 240
    predictions = model.predict([PredictItem(str(i), image=images[i]) for i in test])
    accuracy = np.mean([p.result[0]["value"] == labels[int(p.item_id)] for p in predictions])
    assert accuracy >= 0.9, accuracy
    first = predictions[0]
    assert first.result[0]["name"] == "digit" and first.classes == ("0", "1", "7")
    assert sum(first.probabilities) == pytest.approx(1.0, abs=1e-4)

    loaded = load_plugin(ImageChoiceCNN.name, model.dumps(), "v1")
    loaded.setup()
    again = loaded.predict([PredictItem(str(i), image=images[i]) for i in test[:20]])
    assert [p.result for p in again] == [p.result for p in predictions[:20]]
    assert ImageChoiceCNN.name in PLUGINS


def test_one_class_is_not_enough() -> None:
    images, labels = digits((3,))
    accepted = [Accepted(str(i), [{"type": "choice", "name": "digit", "value": labels[i]}], image=images[i])
                for i in range(10)]
    with pytest.raises(NotEnoughData, match="two classes"):
        ImageChoiceCNN("u").fit(accepted, "v1")
