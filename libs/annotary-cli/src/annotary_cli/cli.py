"""`annotary`: run the embedded stack, and talk to a running Annotary over its REST API."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from annotary_cli import demo
from annotary_cli.infra import Managed, ensure_database, start_broker, start_postgres
from annotary_cli.sdk import Annotary, ApiError
from annotary_cli.stack import Stack, StackConfig
from annotary_common.migrate import SERVICES, MigrationError, migrate_services

T = TypeVar("T")
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


@app.command()
def migrate(
    services: Annotated[
        list[str] | None, typer.Argument(help=f"services to migrate (default: all of {', '.join(SERVICES)})")
    ] = None,
    database_url: Annotated[
        str, typer.Option(envvar="ANNOTARY_DATABASE_URL", help="Postgres DSN")
    ] = "postgresql://postgres@127.0.0.1:5432/annotary",
    create_database: Annotated[
        bool, typer.Option("--create-database", help="create the database if it is missing")
    ] = False,
) -> None:
    """Apply every service's pending database migrations (each schema once, under an advisory lock)."""
    try:
        applied = asyncio.run(migrate_services(database_url, services or SERVICES, create_db=create_database))
    except MigrationError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    for service, names in applied.items():
        console.print(f"{service}: {', '.join(names) if names else 'up to date'}", soft_wrap=True)


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


def _progress() -> Progress:
    """A progress bar on stderr (so stdout keeps the results); it draws only on a terminal."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True)


def _sdk_call(call: Callable[[], T]) -> T:
    try:
        return call()
    except ApiError as exc:
        err.print(f"[red]{exc.status}[/] {exc.detail}")
        raise typer.Exit(1) from None


@app.command("import")
def import_items(
    project: str,
    source: Annotated[str, typer.Argument(help="a .json/.jsonl file, a folder, s3://bucket/prefix or file:///folder")],
    batch: int = 200,
    format: Annotated[str | None, typer.Option(
        "--format", help="another tool's export: labelstudio | coco | yolo | conll (SOURCE: a file, zip or folder)")
    ] = None,
    sync: Annotated[bool, typer.Option(help="s3:// or file:// source: import only new or changed keys")] = False,
) -> None:
    """Import items: a JSON/JSONL file of items, every file of a folder (one item per file), a source URI that the
    ingest service reads itself (an S3 prefix, or a folder inside its allowed import roots), or with --format
    another tool's export (its items, accepted annotations and predictions)."""
    with _sdk() as sdk:
        pid = _sdk_call(lambda: sdk.project_id(project))
        if source.startswith(("s3://", "file://")):
            reply = _sdk_call(lambda: sdk.import_source(pid, source, incremental=sync))
            extra = f", unchanged {reply['unchanged']}" if sync else ""
            console.print(f"created {reply['created']}, duplicates {reply['duplicates']}{extra}")
            return
        path = Path(source)
        if not path.exists():
            err.print(f"[red]{source} does not exist[/]")
            raise typer.Exit(2)
        if format is not None:
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            reply = _sdk_call(lambda: sdk.import_foreign(pid, format, files))
            console.print(f"created {reply['created']}, duplicates {reply['duplicates']}, "
                          f"annotations {reply['annotations']}, predictions {reply['predictions']}")
            return
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            reply = _sdk_call(lambda: sdk.import_file(pid, path))
            created, duplicates = reply["created"], reply["duplicates"]
        else:
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            with _progress() as bar:
                task = bar.add_task("uploading", total=len(files))
                totals = _sdk_call(lambda: sdk.upload(
                    pid, files, root=path if path.is_dir() else None, batch=batch,
                    on_progress=lambda done, total: bar.update(task, completed=done)))
            created, duplicates = totals["created"], totals["duplicates"]
    console.print(f"created {created}, duplicates {duplicates}")


@app.command("export")
def export(
    project: str,
    format: Annotated[str, typer.Option("--format")] = "jsonl",
    out: Annotated[Path, typer.Option("--out")] = Path("."),
    timeout: float = 600.0,
    since: Annotated[str | None, typer.Option(help="export id of an earlier version: only what changed since")] = None,
) -> None:
    """Export a project's accepted annotations (a new dataset version) and download the file into OUT."""
    with _sdk() as sdk:
        pid = _sdk_call(lambda: sdk.project_id(project))
        job = _sdk_call(lambda: sdk.start_export(pid, format, since))
        with _progress() as bar:
            task = bar.add_task(f"export v{job.get('version', '?')}", total=None)

            def building(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total or None)

            try:
                job = _sdk_call(lambda: sdk.wait_export(job["id"], timeout, building))
            except TimeoutError as exc:
                err.print(f"[red]{exc}[/]")
                raise typer.Exit(1) from None
            if job["status"] == "failed":
                err.print(f"[red]export failed:[/] {job['error']}")
                raise typer.Exit(1)
            download = bar.add_task("download", total=job.get("byte_size") or None)
            target = _sdk_call(lambda: sdk.download(
                job, out, on_progress=lambda done, total: bar.update(download, completed=done)))
    console.print(f"{job['item_count']} items, {job['annotation_count']} annotations -> {target}")


def _sdk() -> Annotary:
    if not os.environ.get("ANNOTARY_TOKEN"):
        err.print("[red]set ANNOTARY_TOKEN[/] (and ANNOTARY_URL when not http://127.0.0.1:8080)")
        raise typer.Exit(2)
    return Annotary()


if __name__ == "__main__":
    app()
