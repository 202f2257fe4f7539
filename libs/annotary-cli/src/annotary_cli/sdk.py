"""A small Python SDK for Annotary's REST API (the one the ``annotary`` CLI uses).

    from annotary_cli.sdk import Annotary
    with Annotary("http://127.0.0.1:8080", token) as a:
        pid = a.project_id("my project")
        a.import_foreign(pid, "labelstudio", [Path("export.json"), *Path("images").iterdir()])
        path = a.export(pid, "coco", Path("out"), on_progress=lambda done, total: print(done, total))

Every call raises :class:`ApiError` (status and the server's ``detail``) on a 4xx/5xx answer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

Progress = Callable[[int, int], None]   # (done, total)


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail


class Annotary:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 300.0) -> None:
        self.url = url or os.environ.get("ANNOTARY_URL", "http://127.0.0.1:8080")
        token = token or os.environ.get("ANNOTARY_TOKEN", "")
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def __enter__(self) -> Annotary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, detail)
        return response.json() if response.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self._check(self.http.get(f"/api/v1{path}", **kw))

    def post(self, path: str, **kw: Any) -> Any:
        return self._check(self.http.post(f"/api/v1{path}", **kw))

    # -- projects and items ----------------------------------------------------------------------
    def project_id(self, project: str) -> str:
        for p in self.get("/projects"):
            if project in (p["id"], p["name"]):
                return str(p["id"])
        raise ApiError(404, f"no project named or with id {project!r}")

    def import_file(self, project_id: str, path: Path) -> dict[str, Any]:
        """A JSON (list of items) or JSONL file in the item import format."""
        fmt = "jsonl" if path.suffix == ".jsonl" else "json"
        result: dict[str, Any] = self.post(f"/projects/{project_id}/items", params={"format": fmt},
                                           content=path.read_bytes(), headers={"content-type": "application/json"})
        return result

    def upload(self, project_id: str, files: Sequence[Path], root: Path | None = None, batch: int = 200,
               on_progress: Progress | None = None) -> dict[str, int]:
        """Upload media/text files, one item each (name relative to ``root`` as external id), in batches."""
        totals = {"created": 0, "duplicates": 0}
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            upload = [("files", (str(p.relative_to(root)) if root else p.name, p.read_bytes())) for p in chunk]
            reply = self.post(f"/projects/{project_id}/items", files=upload)
            totals["created"] += reply["created"]
            totals["duplicates"] += reply["duplicates"]
            if on_progress:
                on_progress(min(start + batch, len(files)), len(files))
        return totals

    def import_foreign(self, project_id: str, fmt: str, files: Iterable[Path]) -> dict[str, Any]:
        """Another tool's export (labelstudio | coco | yolo | conll): its files (JSON, label files, images, zips)."""
        upload = [("files", (p.name if p.suffix in (".json", ".zip") else str(p), p.read_bytes())) for p in files]
        result: dict[str, Any] = self.post(f"/projects/{project_id}/items", params={"format": fmt}, files=upload)
        return result

    def import_source(self, project_id: str, uri: str, incremental: bool = False) -> dict[str, Any]:
        """``s3://bucket/prefix`` or ``file:///folder``; ``incremental``: only keys new or changed since the last
        sync of that source."""
        path = f"/projects/{project_id}/sources/sync" if incremental else f"/projects/{project_id}/sources"
        result: dict[str, Any] = self.post(path, json={"uri": uri})
        return result

    # -- exports (dataset versions) --------------------------------------------------------------
    def start_export(self, project_id: str, fmt: str, since: str | None = None) -> dict[str, Any]:
        if since:
            job: dict[str, Any] = self.post(f"/projects/{project_id}/versions", json={"format": fmt, "since": since})
        else:
            job = self.post(f"/projects/{project_id}/exports", json={"format": fmt})
        return job

    def wait_export(self, export_id: str, timeout: float = 600.0, on_progress: Progress | None = None,
                    poll_s: float = 0.5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self.get(f"/exports/{export_id}/progress")
            if on_progress:
                on_progress(job["progress"]["items_done"], job["progress"]["items_total"])
            if job["status"] in ("done", "failed"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"export {export_id} still {job['status']} after {timeout}s")
            time.sleep(poll_s)

    def download(self, job: dict[str, Any], out: Path, on_progress: Progress | None = None) -> Path:
        """Stream the export's file into the folder ``out`` (never the whole file in memory)."""
        out.mkdir(parents=True, exist_ok=True)
        target = out / str(job["file_name"])
        with self.http.stream("GET", str(job["download_url"])) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            total = int(response.headers.get("content-length") or 0)
            done = 0
            with target.open("wb") as f:
                for chunk in response.iter_bytes(1 << 20):
                    f.write(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, total)
        return target

    def export(self, project_id: str, fmt: str, out: Path, since: str | None = None, timeout: float = 600.0,
               on_progress: Progress | None = None) -> tuple[dict[str, Any], Path]:
        job = self.wait_export(self.start_export(project_id, fmt, since)["id"], timeout, on_progress)
        if job["status"] == "failed":
            raise ApiError(500, f"export failed: {job['error']}")
        return job, self.download(job, out)

    def versions(self, project_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(f"/projects/{project_id}/versions")
        return result

    # -- webhooks --------------------------------------------------------------------------------
    def add_webhook(self, project_id: str, url: str, events: Sequence[str] = ("annotation.accepted",),
                    secret: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self.post(f"/projects/{project_id}/webhooks",
                                           json={"url": url, "events": list(events), "secret": secret})
        return result

    def deliveries(self, webhook_id: str) -> Iterator[dict[str, Any]]:
        yield from self.get(f"/webhooks/{webhook_id}/deliveries")
