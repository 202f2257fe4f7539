"""A small REST client for the tests, with retries for the moments a service is being restarted."""

from __future__ import annotations

import time
from typing import Any

import httpx


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.http = httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60.0
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, **kw)

    def post_retrying(self, path: str, deadline_s: float = 60.0, **kw: Any) -> httpx.Response:
        """POST until the answer is not 502/503 (a backing service restarting) or the deadline passes."""
        deadline = time.monotonic() + deadline_s
        while True:
            try:
                reply = self.http.post(path, **kw)
                if reply.status_code not in (502, 503) or time.monotonic() > deadline:
                    return reply
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def create_project(self, name: str, schema: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
        reply = self.post("/projects", json={"name": name, "schema": schema, "policy": policy})
        assert reply.status_code == 201, reply.text
        project: dict[str, Any] = reply.json()
        return project

    def wait_export(self, export_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.get(f"/exports/{export_id}").json()
            if job["status"] in ("done", "failed") or time.monotonic() > deadline:
                return job
            time.sleep(0.2)
