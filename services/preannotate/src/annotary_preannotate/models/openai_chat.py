"""LLM text pre-labels through an OpenAI-compatible chat-completions endpoint (``POST {base}/chat/completions``).

The answer is constrained with ``response_format: {"type": "json_schema"}``, the schema derived from the
project's label schema (``domain/llm_schema.py``); the score is the answer's mean token probability when the
server returns ``logprobs``, else 1.0. Not trainable: ``fit`` is not offered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from annotary_preannotate.domain.llm_schema import answer_schema, regions_from_answer
from annotary_preannotate.domain.plugin import Capabilities, ItemPrediction, ModelPlugin, PredictItem

SYSTEM = ("You label data for a machine-learning dataset. Answer only with JSON that follows the given schema. "
          "Choose options exactly as written; for spans copy the exact text from the input.")


class OpenAIChatLabeler(ModelPlugin):
    name: ClassVar[str] = "openai-chat"
    capabilities: ClassVar[Capabilities] = Capabilities(modality="text", tools=("choice", "span"), batch_size=16)

    def __init__(self, base_url: str, model: str, label_schema: dict[str, Any], api_key: str = "",
                 timeout_s: float = 60.0, client: httpx.Client | None = None) -> None:
        super().__init__(f"{self.name}:{model}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.label_schema = label_schema
        self.schema = answer_schema(label_schema)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout_s, headers=headers)

    def setup(self) -> None:
        """Check the endpoint answers (``GET {base}/models``) and serves the model."""
        reply = self._client.get(f"{self.base_url}/models")
        reply.raise_for_status()
        served = {m.get("id") for m in reply.json().get("data", [])}
        if served and self.model not in served:
            raise RuntimeError(f"{self.base_url} does not serve {self.model!r} (it has {sorted(served)})")

    def request_body(self, text: str) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": 0,
            "logprobs": True,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "annotary_labels", "strict": True, "schema": self.schema}},
        }

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        out = []
        for item in items:
            reply = self._client.post(f"{self.base_url}/chat/completions", json=self.request_body(item.text))
            reply.raise_for_status()
            choice = reply.json()["choices"][0]
            try:
                answer = json.loads(choice["message"]["content"] or "")
            except ValueError:
                answer = None
            regions = regions_from_answer(answer, self.label_schema, item.text)
            tokens = ((choice.get("logprobs") or {}).get("content")) or []
            score = math.exp(sum(t["logprob"] for t in tokens) / len(tokens)) if tokens else 1.0
            out.append(ItemPrediction(item.item_id, self.model_version,
                                      [{**r, "score": round(score, 4)} for r in regions], score))
        return out

    def close(self) -> None:
        self._client.close()
