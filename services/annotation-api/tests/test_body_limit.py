"""The body limit middleware on a real ASGI app served in-process."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from annotary_annotation_api.entrypoints.errors import BodyLimit, install_error_handlers


def make_client(limit: int) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return TestClient(BodyLimit(app, limit))


def test_small_body_passes() -> None:
    assert make_client(100).post("/echo", content=b"x" * 100).json() == {"size": 100}


def test_declared_oversize_is_refused() -> None:
    reply = make_client(100).post("/echo", content=b"x" * 101)
    assert reply.status_code == 413
    assert "100 bytes" in reply.json()["detail"]


def test_streamed_oversize_without_length_is_refused() -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 50

    reply = make_client(100).post("/echo", content=chunks())
    assert reply.status_code == 413
