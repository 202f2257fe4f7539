"""Settings of the qa service (env prefix ``ANNOTARY_QA_``); shared keys come from ``CommonSettings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class QaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_QA_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    grpc_port: int = Field(default=50052, ge=1, le=65535)
    http_port: int = Field(default=8082, ge=1, le=65535)
    # Gold items an annotator must have scored (since a reinstatement) before low accuracy pauses them.
    min_gold_for_pause: int = Field(default=3, ge=1)
