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
    common: CommonSettings = Field(default_factory=CommonSettings)

    @model_validator(mode="after")
    def _admin_token_in_production(self) -> ApiSettings:
        if self.common.env == "production" and (not self.admin_token or len(self.admin_token) < 24):
            raise ValueError("ANNOTARY_ADMIN_TOKEN (at least 24 characters) is required in production")
        return self
