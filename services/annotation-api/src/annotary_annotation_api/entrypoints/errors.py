"""Every error leaves the API as JSON ``{"detail": "<message naming what is wrong>"}``."""

from __future__ import annotations

import json
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}


class ErrorOut(BaseModel):
    """What every error answer carries: a message naming what is wrong (and, for some, the details)."""

    model_config = ConfigDict(extra="allow")
    detail: str


_ERROR_CODES = {
    400: "Malformed request (JSON that does not parse)",
    401: "Missing or invalid bearer token",
    403: "The caller's role or state does not allow this",
    404: "No such object (or not visible to the caller)",
    405: "Method not allowed",
    409: "Conflicts with the object's current state",
    413: "Request body over the size limit",
    422: "Invalid input; the message names the field or rule",
    429: "Too many requests; retry later",
    503: "A backing service is unavailable; retry",
}
# Declared on every /api/v1 operation, so the OpenAPI names the error shape (and schemathesis checks it).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text} for code, text in _ERROR_CODES.items()
}

# Endpoints that answer with a file's bytes (any media type) rather than JSON.
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes, in its own media type", "content": {"*/*": {}}},
    307: {"description": "Redirect to the media's https:// address"},
}


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def describe_errors(errors: list[Any], prefix: str = "") -> str:
    """``items[3].image: Field required; policy.overlap: ...`` from pydantic's error list."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        path = prefix
        for p in loc:
            path += f"[{p}]" if p.isdigit() else (f".{p}" if path else p)
        msg = err.get("msg", "invalid")
        if err.get("type") == "json_invalid":
            msg = f"malformed JSON: {err.get('ctx', {}).get('error', msg)}"
        parts.append(f"{path}: {msg}" if path else msg)
    return "; ".join(parts)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from exc


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
        return JSONResponse({"detail": describe_errors(errors)}, status_code=status)

    @app.exception_handler(ValidationError)
    async def model_error(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": describe_errors(list(exc.errors()))}, status_code=422)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def rpc_error(_: Request, exc: grpc.aio.AioRpcError) -> JSONResponse:
        status = _GRPC_TO_HTTP.get(exc.code(), 502)
        detail = exc.details() or exc.code().name
        if status == 503:
            detail = f"a backing service is unavailable, retry: {detail}"
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug, still answered in the API's shape (the server logs the traceback); the fuzz test hunts these.
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); it has been logged"}, status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(f"request body is larger than the limit of {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body is larger than the limit of {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
