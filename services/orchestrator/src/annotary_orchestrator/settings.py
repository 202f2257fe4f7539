"""Settings of the orchestrator (env prefix ``ANNOTARY_ORCHESTRATOR_``) plus the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_ORCHESTRATOR_", extra="ignore")

    grpc_port: int = Field(default=50051, ge=1, le=65535)
    http_port: int = Field(default=8081, ge=1, le=65535)
    # How often each replica re-queues expired leases (lease calls also sweep their project first).
    reaper_interval_s: float = Field(default=5.0, gt=0, le=3600)
    common: CommonSettings = Field(default_factory=CommonSettings)
