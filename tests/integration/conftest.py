"""The whole stack on real infrastructure, started once per test session.

A fresh Postgres database on the machine's server (127.0.0.1:5432, or ANNOTARY_TEST_PG), the
Kafka-protocol broker (Tansu) and an S3 API server (moto) started here, and every service as its
own process, so tests can SIGKILL and restart them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from annotary_cli.infra import Managed, drop_database, ensure_database, start_broker, start_s3
from annotary_cli.stack import Stack, StackConfig
from tests.integration.chromium import CHROMIUM, FLAGS
from tests.integration.client import Api
from tests.integration.otlp import OtlpReceiver

PG_SERVER = os.environ.get("ANNOTARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    """The OTLP trace receiver every service of the session stack exports to (tests/integration/otlp.py)."""
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, otlp: OtlpReceiver) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("annotary")
    log_dir = base / "logs"
    database_url = f"{PG_SERVER}/annotary_test_{uuid.uuid4().hex[:10]}"
    ensure_database(database_url)
    procs: list[Managed] = []
    stack: Stack | None = None
    try:
        broker, bootstrap = start_broker(log_dir)
        procs.append(broker)
        s3, s3_url = start_s3(log_dir)
        procs.append(s3)
        from annotary_cli.infra import free_port

        stack = Stack(
            StackConfig(
                database_url=database_url,
                kafka_bootstrap=bootstrap,
                data_dir=base / "data",
                log_dir=log_dir,
                api_port=free_port(),
                admin_token=secrets.token_urlsafe(24),
                object_store="s3",
                s3_endpoint_url=s3_url,
                s3_bucket="annotary-test",
                import_roots=[base / "imports"],
                extra_env={"ANNOTARY_ANNOTATION_API_MAX_BODY_BYTES": str(8 << 20), "ANNOTARY_DATABASE_POOL_SIZE": "6",
                           "ANNOTARY_OTLP_ENDPOINT": otlp.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200",
                           # SSRF guard: one loopback address allowed, trusting the CA of the test server's
                           # certificate (tests/integration/test_security_sources.py writes it there)
                           "ANNOTARY_FETCH_ALLOW": "127.0.0.2/32",
                           "ANNOTARY_FETCH_CA_BUNDLE": str(base / "tls" / "ca.pem")},
            )
        )
        stack.start_all()
        stack.wait_ready(timeout=90.0)
        yield stack
    finally:
        if stack is not None:
            stack.stop_all()
        for proc in reversed(procs):
            proc.stop()
        drop_database(database_url)


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Api:
    return Api(stack.api_url, stack.config.admin_token)


@pytest.fixture()
def make_user(admin: Api):  # type: ignore[no-untyped-def]
    def make(role: str = "annotator") -> Api:
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        reply = admin.post("/users", json={"username": name, "role": role})
        assert reply.status_code == 201, reply.text
        return Api(admin.base_url, reply.json()["token"])

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, one per test module."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save screenshots: ``ANNOTARY_SCREENSHOTS`` (docs/screenshots to refresh the docs'
    pictures) or a temporary folder."""
    target = os.environ.get("ANNOTARY_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    return tmp_path


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
