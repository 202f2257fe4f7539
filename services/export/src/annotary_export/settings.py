"""Settings of the export service (env prefix ``ANNOTARY_EXPORT_``; shared keys from ``ANNOTARY_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class ExportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_EXPORT_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    grpc_port: int = 50054
    http_port: int = 8084
    # Exports built at once by this process.
    max_concurrent_builds: int = Field(default=2, ge=1)
    # How often unfinished exports (left by a process that died) are looked for and rebuilt.
    resume_interval_s: float = Field(default=30.0, gt=0)
    # Webhook deliveries: per-attempt timeout, attempts before giving up, exponential backoff between attempts.
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_base_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    webhook_poll_s: float = Field(default=0.5, gt=0)
