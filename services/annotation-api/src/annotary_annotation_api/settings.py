"""annotation-api settings (env prefix ``ANNOTARY_ANNOTATION_API_``; the admin token is ``ANNOTARY_ADMIN_TOKEN``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from annotary_common.settings import CommonSettings

_DEFAULT_STATIC = Path(__file__).resolve().parents[2] / "web" / "dist"


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANNOTARY_ANNOTATION_API_", extra="ignore")

    port: int = 8080
    static_dir: Path = _DEFAULT_STATIC
    max_body_bytes: int = Field(default=64 << 20, gt=0)
    admin_token: str | None = Field(default=None, validation_alias=AliasChoices("ANNOTARY_ADMIN_TOKEN"))
    # Rate limits (token buckets, requests a second and burst): per API token, and per client address for requests
    # without a token or with a refused one. 0 turns a limit off.
    rate_limit_per_s: float = Field(default=300.0, ge=0)
    rate_limit_burst: float = Field(default=600.0, ge=1)
    anon_rate_limit_per_s: float = Field(default=20.0, ge=0)
    anon_rate_limit_burst: float = Field(default=300.0, ge=1)
    # HMAC key of signed media/export links (served by the API when objects are in the local store); links made by
    # one replica work on another only when they share it. Unset: derived from ANNOTARY_ADMIN_TOKEN, else random.
    signing_key: str | None = None
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _admin_token_in_production(self) -> ApiSettings:
        if self.common.env == "production" and (not self.admin_token or len(self.admin_token) < 24):
            raise ValueError("ANNOTARY_ADMIN_TOKEN (at least 24 characters) is required in production")
        if self.common.env == "production" and self.signing_key is not None and len(self.signing_key) < 32:
            raise ValueError("ANNOTARY_ANNOTATION_API_SIGNING_KEY must have at least 32 characters")
        return self
