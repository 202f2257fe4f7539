"""Settings of the orchestrator (env prefix ``ANNOTARY_ORCHESTRATOR_``) plus the shared ones."""

from __future__ import annotations

from annotary_common.settings import CommonSettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_ORCHESTRATOR_", extra="ignore")

    grpc_port: int = Field(default=50051, ge=1, le=65535)
    http_port: int = Field(default=8081, ge=1, le=65535)
    common: CommonSettings = Field(default_factory=CommonSettings)
