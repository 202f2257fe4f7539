"""Settings of the preannotate service (env prefix ``ANNOTARY_PREANNOTATE_``); shared keys from ``CommonSettings``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class PreannotateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_PREANNOTATE_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    grpc_port: int = Field(default=50055, ge=1, le=65535)
    http_port: int = Field(default=8085, ge=1, le=65535)
