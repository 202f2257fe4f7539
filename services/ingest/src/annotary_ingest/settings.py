"""Settings of the ingest service (env prefix ``ANNOTARY_INGEST_``; shared keys from ``ANNOTARY_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_INGEST_", extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    grpc_port: int = 50053
    http_port: int = 8083
    # Media reads (s3://, file://, https://) running at once within one import.
    fetch_concurrency: int = Field(default=8, ge=1)
    # An import is all-or-nothing, so its media is held until it commits: refuse bigger ones.
    max_import_bytes: int = Field(default=1 << 30, ge=1)
    # How often each replica looks for scheduled source syncs that are due.
    schedule_poll_s: float = Field(default=1.0, gt=0)
