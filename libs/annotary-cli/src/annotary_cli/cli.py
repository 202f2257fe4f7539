"""`annotary`: run the embedded stack, and talk to a running Annotary over its REST API."""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from annotary_cli import demo
from annotary_cli.infra import Managed, ensure_database, start_broker, start_postgres
from annotary_cli.stack import Stack, StackConfig

app = typer.Typer(help="Annotary: data labeling with measured quality.", no_args_is_help=True)
project_app = typer.Typer(help="Manage projects.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users (admin).", no_args_is_help=True)
app.add_typer(project_app, name="project")
app.add_typer(user_app, name="user")
console = Console()
err = Console(stderr=True)


@app.command()
def up(
    data_dir: Annotated[
        Path, typer.Option(envvar="ANNOTARY_DATA_DIR", help="where data, objects and logs live")
    ] = Path(".annotary-data"),
    port: Annotated[int, typer.Option(envvar="ANNOTARY_PORT", help="port of the web UI and REST API")] = 8080,
    with_demo: Annotated[bool, typer.Option("--demo/--no-demo", help="create the demo projects")] = True,
) -> None:
    """Start everything on this machine: Postgres, a Kafka-protocol broker, every service and the web UI."""
    data_dir = data_dir.resolve()
    log_dir = data_dir / "logs"
    infra: list[Managed] = []
    stack: Stack | None = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        database_url = os.environ.get("ANNOTARY_DATABASE_URL")
        if not database_url:
            console.print("[dim]starting Postgres in the data folder[/]")
            pg, database_url = start_postgres(data_dir, log_dir)
            infra.append(pg)
        ensure_database(database_url)
        bootstrap = os.environ.get("ANNOTARY_KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker, bootstrap = start_broker(log_dir)
            infra.append(broker)
        token = os.environ.get("ANNOTARY_ADMIN_TOKEN") or _saved_token(data_dir)
        stack = Stack(
            StackConfig(
                database_url=database_url,
                kafka_bootstrap=bootstrap,
                data_dir=data_dir,
                log_dir=log_dir,
                api_port=port,
                admin_token=token,
                import_roots=[data_dir / "imports"],
            )
        )
        stack.start_all()
        stack.wait_ready(timeout=120.0)
        if with_demo:
            demo.ensure_demo(stack.api_url, token)
        console.print(f"\n[bold green]Annotary is up[/] at [link]{stack.api_url}[/]  (logs in {log_dir})")
        console.print(f"admin token: [bold]{token}[/]   (sign in with it; Ctrl-C stops everything)\n")
        while not stop.is_set():
            for name, proc in stack.procs.items():
                if not proc.alive:
                    err.print(f"[red]{name} exited[/]; restarting it. Last lines:\n{proc.tail(10)}")
                    stack.restart(name)
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("[dim]stopping...[/]")
        if stack is not None:
            stack.stop_all()
        for proc in reversed(infra):
            proc.stop()
        console.print("stopped")


def _saved_token(data_dir: Path) -> str:
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token)
    path.chmod(0o600)
    return token


# -- API client commands -----------------------------------------------------------------------
def _client() -> httpx.Client:
    url = os.environ.get("ANNOTARY_URL", "http://127.0.0.1:8080")
    token = os.environ.get("ANNOTARY_TOKEN")
    if not token:
        err.print("[red]set ANNOTARY_TOKEN[/] (and ANNOTARY_URL when not http://127.0.0.1:8080)")
        raise typer.Exit(2)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300.0)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        err.print(f"[red]{response.status_code}[/] {detail}")
        raise typer.Exit(1)
    return response.json() if response.content else None


def _project_id(client: httpx.Client, project: str) -> str:
    for p in _check(client.get("/api/v1/projects")):
        if project in (p["id"], p["name"]):
            return str(p["id"])
    err.print(f"[red]no project named or with id {project!r}[/]")
    raise typer.Exit(1)


@project_app.command("create")
def project_create(
    name: str,
    schema: Annotated[Path, typer.Option(help="label schema JSON file", exists=True, dir_okay=False)],
    policy: Annotated[Path | None, typer.Option(help="policy JSON file", exists=True, dir_okay=False)] = None,
) -> None:
    """Create a project from a schema (and policy) file."""
    body: dict[str, Any] = {"name": name, "schema": json.loads(schema.read_text())}
    if policy is not None:
        body["policy"] = json.loads(policy.read_text())
    with _client() as client:
        project = _check(client.post("/api/v1/projects", json=body))
    console.print_json(data=project)


@project_app.command("list")
def project_list() -> None:
    with _client() as client:
        for p in _check(client.get("/api/v1/projects")):
            console.print(f"{p['id']}  {p['name']}")


@user_app.command("create")
def user_create(
    username: str, role: Annotated[str, typer.Option(help="admin|manager|reviewer|annotator")] = "annotator"
) -> None:
    """Create a user; prints the user's API token."""
    with _client() as client:
        console.print_json(data=_check(client.post("/api/v1/users", json={"username": username, "role": role})))


@app.command("import")
def import_items(
    project: str,
    source: Annotated[str, typer.Argument(help="a .json/.jsonl file, a folder, s3://bucket/prefix or file:///folder")],
    batch: int = 200,
) -> None:
    """Import items: a JSON/JSONL file of items, every file of a folder (one item per file), or a source URI
    that the ingest service reads itself (an S3 prefix, or a folder inside its allowed import roots)."""
    with _client() as client:
        pid = _project_id(client, project)
        if source.startswith(("s3://", "file://")):
            reply = _check(client.post(f"/api/v1/projects/{pid}/sources", json={"uri": source}))
            console.print(f"created {reply['created']}, duplicates {reply['duplicates']}")
            return
        path = Path(source)
        if not path.exists():
            err.print(f"[red]{source} does not exist[/]")
            raise typer.Exit(2)
        created = duplicates = 0
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            fmt = "jsonl" if path.suffix == ".jsonl" else "json"
            reply = _check(
                client.post(
                    f"/api/v1/projects/{pid}/items",
                    params={"format": fmt},
                    content=path.read_bytes(),
                    headers={"content-type": "application/json"},
                )
            )
            created, duplicates = reply["created"], reply["duplicates"]
        else:
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for start in range(0, len(files), batch):
                chunk = files[start : start + batch]
                upload = [
                    ("files", (str(p.relative_to(path)) if path.is_dir() else p.name, p.read_bytes())) for p in chunk
                ]
                reply = _check(client.post(f"/api/v1/projects/{pid}/items", files=upload))
                created += reply["created"]
                duplicates += reply["duplicates"]
    console.print(f"created {created}, duplicates {duplicates}")


@app.command("export")
def export(
    project: str,
    format: Annotated[str, typer.Option("--format")] = "jsonl",
    out: Annotated[Path, typer.Option("--out")] = Path("."),
    timeout: float = 600.0,
) -> None:
    """Export a project's accepted annotations and download the file into OUT."""
    with _client() as client:
        pid = _project_id(client, project)
        job = _check(client.post(f"/api/v1/projects/{pid}/exports", json={"format": format}))
        deadline = time.monotonic() + timeout
        while job["status"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                err.print(f"[red]export {job['id']} still {job['status']} after {timeout}s[/]")
                raise typer.Exit(1)
            time.sleep(0.5)
            job = _check(client.get(f"/api/v1/exports/{job['id']}"))
        if job["status"] == "failed":
            err.print(f"[red]export failed:[/] {job['error']}")
            raise typer.Exit(1)
        response = client.get(job["download_url"])
        _ = response.status_code >= 400 and _check(response)
        out.mkdir(parents=True, exist_ok=True)
        target = out / job["file_name"]
        target.write_bytes(response.content)
    console.print(f"{job['item_count']} items, {job['annotation_count']} annotations -> {target}")


if __name__ == "__main__":
    app()
