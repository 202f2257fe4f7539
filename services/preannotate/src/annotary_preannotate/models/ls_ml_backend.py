"""Adapter for models served by a Label Studio ML backend (the HTTP protocol of ``label-studio-ml``), so a
team's existing backend plugs in unchanged.

The protocol, as Label Studio speaks it: ``GET /health`` answers ``{"status": "UP"}``; ``POST /setup`` with
the project and its labeling config loads the model and answers its ``model_version``; ``POST /predict`` with
``{"tasks": [...], "project", "label_config"}`` answers ``{"results": [...]}``, one prediction per task, in
order, each ``{"result": [Label Studio results], "score"}``; ``POST /webhook`` with an ``action`` such as
``ANNOTATION_CREATED`` hands it new annotations to train on. Annotary translates the label schema to a
labeling config, items to tasks, and Label Studio results (percent coordinates) to regions (pixels).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from annotary_common.labelstudio import LabelStudioFormatError, from_labelstudio_result, label_config, to_labelstudio
from annotary_preannotate.domain.plugin import (
    Accepted,
    Capabilities,
    FitReport,
    ItemPrediction,
    ModelPlugin,
    NotEnoughData,
    PredictItem,
)


class BackendError(RuntimeError):
    """The backend answered, but not as the protocol says; the message names the endpoint and what is wrong."""


class LabelStudioMLBackend(ModelPlugin):
    name: ClassVar[str] = "ls-ml-backend"
    capabilities: ClassVar[Capabilities] = Capabilities(
        modality="any", tools=("bbox", "polygon", "keypoints", "mask", "span", "choice", "relation", "transcript"),
        trainable=True, batch_size=32)

    def __init__(self, url: str, label_schema: dict[str, Any], project: str, timeout_s: float = 60.0,
                 client: httpx.Client | None = None) -> None:
        super().__init__(f"{self.name}:unset")
        self.url = url.rstrip("/")
        self.label_schema = label_schema
        self.modality = str(label_schema.get("modality", "text"))
        self.project = project
        self.config = label_config(label_schema)
        self._client = client or httpx.Client(timeout=timeout_s)

    # -- protocol ------------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> Any:
        reply = self._client.post(f"{self.url}{path}", json=body)
        if reply.status_code >= 400:
            raise BackendError(f"{self.url}{path} answered {reply.status_code}: {reply.text[:300]}")
        try:
            return reply.json()
        except ValueError as exc:
            raise BackendError(f"{self.url}{path} answered something that is not JSON: {reply.text[:200]!r}") from exc

    def setup(self) -> None:
        """Check ``/health``, then ``/setup`` the project; the backend's model version names this model."""
        health = self._client.get(f"{self.url}/health")
        if health.status_code != 200 or health.json().get("status") != "UP":
            raise BackendError(f"{self.url}/health is not UP: {health.status_code} {health.text[:200]}")
        answer = self._post("/setup", {"project": self.project, "schema": self.config, "hostname": "",
                                       "access_token": ""})
        version = answer.get("model_version") if isinstance(answer, dict) else None
        self.model_version = f"{self.name}:{version or 'unversioned'}"

    def task(self, item: PredictItem, index: int) -> dict[str, Any]:
        data: dict[str, Any] = ({"text": item.text} if self.modality == "text"
                                else {self.modality: item.media_uri})
        return {"id": index, "data": data, "meta": {"annotary_item_id": item.item_id}}

    def predict(self, items: Sequence[PredictItem]) -> list[ItemPrediction]:
        if not items:
            return []
        answer = self._post("/predict", {"tasks": [self.task(item, k) for k, item in enumerate(items)],
                                         "project": self.project, "label_config": self.config, "params": {}})
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(items):
            got = len(results) if isinstance(results, list) else type(results).__name__
            raise BackendError(f"{self.url}/predict must answer one result per task, in order: sent {len(items)} "
                               f"tasks, got {got}")
        version = answer.get("model_version")
        if version:
            self.model_version = f"{self.name}:{version}"
        out = []
        for k, (item, prediction) in enumerate(zip(items, results, strict=True)):
            if not isinstance(prediction, dict):
                raise BackendError(f"{self.url}/predict results[{k}] must be an object, got {prediction!r:.100}")
            try:
                regions = from_labelstudio_result(list(prediction.get("result") or []), f"results[{k}].result")
            except LabelStudioFormatError as exc:
                raise BackendError(f"{self.url}/predict: {exc}") from None
            raw_score = prediction.get("score")
            score = float(raw_score) if isinstance(raw_score, int | float) and 0 <= raw_score <= 1 else 1.0
            out.append(ItemPrediction(item.item_id, self.model_version,
                                      [{**r, "score": round(score, 4)} for r in regions], score))
        return out

    def fit(self, accepted: Sequence[Accepted], model_version: str) -> tuple[ModelPlugin, FitReport]:
        """Hand the accepted annotations to the backend, one ``ANNOTATION_CREATED`` webhook each, as Label Studio
        does; the backend trains in the background, and each run is a model version named after its job. Waits
        until ``/setup`` serves the last run, so the returned model predicts with everything it was sent."""
        if not accepted:
            raise NotEnoughData("no accepted annotations to send")
        job = None
        for k, example in enumerate(accepted):
            converted = (to_labelstudio(region, n, modality=self.modality, text=example.text)
                         for n, region in enumerate(example.result) if isinstance(region, dict))
            task = {"id": k, "data": {"text": example.text} if self.modality == "text" else {},
                    "meta": {"annotary_item_id": example.item_id}}
            answer = self._post("/webhook", {
                "action": "ANNOTATION_CREATED", "project": {"id": self.project, "label_config": self.config},
                "task": task, "annotation": {"id": k, "result": [r for r in converted if r]}})
            job = answer.get("job_id") if isinstance(answer, dict) else None
            if job is not None:
                self._wait_for_version(str(job))
        trained = LabelStudioMLBackend(self.url, self.label_schema, self.project, client=self._client)
        trained.setup()
        return trained, FitReport(training_items=len(accepted), details={"backend": self.url, "last_job": job})

    def _wait_for_version(self, version: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._post("/setup", {"project": self.project, "schema": self.config})
            if isinstance(answer, dict) and str(answer.get("model_version")) == version:
                return
            if time.monotonic() > deadline:
                raise BackendError(f"{self.url}: training job {version} did not become the served model version "
                                   f"within {timeout_s:.0f}s (it serves {answer!r:.100})")
            time.sleep(0.1)

    def close(self) -> None:
        self._client.close()
