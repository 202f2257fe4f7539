"""Rate limits on the API: a token bucket per API token, and one per client address for requests without a token
and for requests whose token was refused (401), so guessing tokens is throttled too.

Over the limit: 429 with ``Retry-After`` (whole seconds) and a JSON message, before the request is read further.
Health, metrics and the web UI's static files are not limited. Limits are per process (each replica its own).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_KEYS = 100_000  # buckets kept; the least recently used go first (a full bucket is the default anyway)


@dataclass
class Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """``rate`` tokens a second up to ``burst``; one request takes one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._clock: Callable[[], float] = clock or time.monotonic

    def _bucket(self, key: str) -> Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def take(self, key: str) -> float:
        """0 when a request may go now (and it is counted), else the seconds until one may."""
        bucket = self._bucket(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def peek(self, key: str) -> float:
        bucket = self._bucket(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def charge(self, key: str) -> None:
        """Count a request after the fact (a refused token), down to empty."""
        bucket = self._bucket(key)
        bucket.tokens = max(0.0, bucket.tokens - 1)


class RateLimit:
    """ASGI middleware. ``per_s``/``burst``: per bearer token; ``anon_per_s``/``anon_burst``: per client address
    for requests without a token and for refused tokens. A rate of 0 turns that limit off."""

    EXEMPT = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, per_s: float, burst: float, anon_per_s: float, anon_burst: float) -> None:
        self.app = app
        self.tokens = TokenBuckets(per_s, max(burst, 1.0)) if per_s > 0 else None
        self.anon = TokenBuckets(anon_per_s, max(anon_burst, 1.0)) if anon_per_s > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        token = _bearer(scope)
        if token is None:
            wait = self.anon.take(address) if self.anon else 0.0
            who = f"requests without a token from {address}"
        else:
            # A client whose refused tokens emptied its address's bucket waits, whatever token it sends now.
            wait = self.anon.peek(address) if self.anon else 0.0
            who = f"refused tokens from {address}"
            if not wait and self.tokens:
                wait = self.tokens.take(hashlib.sha256(token.encode()).hexdigest())
                who = "this token"
        if wait:
            await _too_many(send, wait, who)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401 and token and self.anon:
                self.anon.charge(address)
            await send(message)

        await self.app(scope, receive, watch)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


async def _too_many(send: Send, wait: float, who: str) -> None:
    retry = max(1, math.ceil(wait))
    body = json.dumps({"detail": f"rate limit exceeded for {who}: retry in {retry} s", "retry_after": retry}).encode()
    await send({
        "type": "http.response.start",
        "status": 429,
        "headers": [(b"content-type", b"application/json"), (b"retry-after", str(retry).encode()),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
