"""Settings shared by every service (env prefix ``ANNOTARY_``); services add their own class."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Keys every service reads: database, bus, object store, peers, telemetry."""

    model_config = SettingsConfigDict(env_prefix="ANNOTARY_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/annotary"
    database_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Partitions of the topics the services create. Keep it equal to the broker's count for topics it auto-creates
    # (Kafka's num.partitions; 4 on Tansu, the embedded broker): after a broker loses its log, a client's metadata
    # request can re-create a topic before the services do, and its partitions then change under running groups
    # (a rebalance each; on Tansu one the group must catch going stale, see bus._remembering_assignor).
    kafka_partitions: int = Field(default=4, ge=1)
    # Small timeouts make consumer-group joins fast (tests, embedded); production keeps Kafka's defaults.
    kafka_fast_rebalance: bool = False

    object_store: Literal["local", "s3"] = "local"
    data_dir: Path = Path(".annotary-data")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "annotary"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    # file:// imports are allowed only below these folders (os.pathsep-separated in the env).
    import_roots: str = ""
    # https:// media: addresses that are not public (loopback, private, link-local...) are refused unless allowed
    # here (comma-separated host names and CIDR networks); a CA bundle for private certificate authorities.
    fetch_allow: str = ""
    fetch_ca_bundle: str = ""
    fetch_max_bytes: int = Field(default=1 << 30, ge=1)

    orchestrator_addr: str = "127.0.0.1:50051"
    qa_addr: str = "127.0.0.1:50052"
    ingest_addr: str = "127.0.0.1:50053"
    export_addr: str = "127.0.0.1:50054"
    preannotate_addr: str = "127.0.0.1:50055"
    grpc_timeout_s: float = Field(default=10.0, gt=0)

    otlp_endpoint: str = ""
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _production_needs_real_config(self) -> CommonSettings:
        if self.env == "production":
            # S3 credentials may come from the platform (instance roles, IRSA), so they are not required here.
            if self.object_store == "local":
                raise ValueError("ANNOTARY_OBJECT_STORE=local is for single-machine use; production needs s3")
            if "ANNOTARY_DATABASE_URL" not in os.environ:
                raise ValueError("ANNOTARY_DATABASE_URL must be set in production")
        return self
