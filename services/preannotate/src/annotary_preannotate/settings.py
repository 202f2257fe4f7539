"""Settings of the preannotate service (env prefix ``ANNOTARY_PREANNOTATE_``); shared keys from ``CommonSettings``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class PreannotateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_PREANNOTATE_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    grpc_port: int = Field(default=50055, ge=1, le=65535)
    http_port: int = Field(default=8085, ge=1, le=65535)
    # The flywheel: train a candidate after every N accepted annotations of a project (0 turns it off).
    retrain_every: int = Field(default=50, ge=0)
    # Share of accepted items held out (by item id) to compare candidates with the serving model.
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    # The active-learning score published as item.scored: an uncertainty measure of the serving model's prediction...
    sampling: Literal["least_confidence", "margin", "entropy"] = "margin"
    # ...and how the queue is ordered with it. uncertainty: by that score alone; density: the score times the item's
    # information density (mean similarity to its nearest neighbours among the project's items) squared, so outliers
    # wait; diversity: batches of `selection_size` chosen by k-center greedy over the embeddings (farthest from all
    # labeled); hybrid: the 5 x selection_size most uncertain, then k-center among them weighted by uncertainty.
    # Batches come first in the queue, in their order, and are chosen again once half a batch of labels has come in.
    selection: Literal["uncertainty", "density", "diversity", "hybrid"] = "density"
    selection_size: int = Field(default=100, ge=1, le=10_000)
    # How many unlabeled items a newly serving version re-scores (the most uncertain by the last model, never-scored
    # ones first): the part of the queue served next. New items are always scored as they arrive.
    rescore_window: int = Field(default=10_000, ge=1)
    predict_batch: int = Field(default=128, ge=1, le=4096)
    poll_interval_s: float = Field(default=0.5, gt=0.0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Where model weights go in the object store (ANNOTARY_OBJECT_STORE: the data dir or S3).
    model_prefix: str = "preannotate/models"
    # The NER flywheel's transformer: minilm fine-tunes the shipped MiniLM-L6 weights; tiny trains a 2-layer
    # model from scratch (small machines, tests).
    ner_base: Literal["minilm", "tiny"] = "minilm"
    ner_epochs: int = Field(default=8, ge=1, le=200)
    ner_learning_rate: float = Field(default=5e-5, gt=0.0, lt=1.0)
    # torch's threads while training (0: torch's default, one per core); set it when the pod shares its cores.
    torch_threads: int = Field(default=0, ge=0, le=256)
    # The image classifier's training epochs (image choice projects).
    image_epochs: int = Field(default=30, ge=1, le=500)
    # The box detector's training epochs (image projects whose accepted results are boxes).
    box_epochs: int = Field(default=60, ge=1, le=1000)
    # The process's CPU priority (added to its nice value, 0-19): model work is background work, and where this
    # service shares cores with the lease and submit path it should yield them (0: leave the priority alone).
    nice: int = Field(default=10, ge=0, le=19)
