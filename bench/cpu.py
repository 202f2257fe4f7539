"""Where the CPU goes during a measurement: CPU seconds per process (each service, the broker, Postgres and the
load generator itself), so a figure can be read as "what it cost" and not only "how long it took"."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil


def _cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def postgres_processes(database: str | None) -> list[psutil.Process]:
    """The Postgres server's processes that work for ``database``: its backends (and autovacuum workers) plus the
    server-wide ones (WAL writer, checkpointer, ...); not other databases' backends. All of them when None."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] != "postgres":
                continue
            cmd = " ".join(proc.info["cmdline"] or [])
            client = "(" in cmd or "[local]" in cmd or "autovacuum worker" in cmd
            if database is None or not client or f" {database} " in f"{cmd} ":
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@dataclass
class CpuMeter:
    """CPU seconds used between :meth:`start` and :meth:`stop` by named processes.

    ``pids`` names our own processes; ``postgres`` sums the Postgres processes working for ``database`` (its
    backends and the server-wide writers); everything else on the machine is ``other_processes``.
    """

    pids: Mapping[str, int]
    database: str | None = None
    _before: dict[str, float] = field(default_factory=dict)
    _pg_before: dict[int, float] = field(default_factory=dict)
    _wall: float = 0.0
    _busy: float = 0.0
    _steal: float = 0.0

    def _sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, pid in self.pids.items():
            try:
                out[name] = _cpu_seconds(psutil.Process(pid))
            except psutil.NoSuchProcess:
                out[name] = 0.0
        out["bench-client"] = _cpu_seconds(psutil.Process(os.getpid()))
        return out

    def _pg_sample(self) -> dict[int, float]:
        out = {}
        for proc in postgres_processes(self.database):
            try:
                out[proc.pid] = _cpu_seconds(proc)
            except psutil.NoSuchProcess:
                continue
        return out

    def start(self) -> None:
        self._before = self._sample()
        self._pg_before = self._pg_sample()
        self._wall = float(os.times().elapsed)
        self._busy = _machine_busy()
        self._steal = _machine_steal()

    def stop(self) -> dict[str, float]:
        """CPU seconds per process over the interval, plus ``postgres`` (all its processes), ``total`` (ours),
        ``other_processes`` (the rest of the machine), ``wall_s``, ``cores``, and the shares of the machine that other
        processes and the hypervisor (``steal_share_of_machine``: time this virtual machine wanted its cores and
        another guest had them) took."""
        after = self._sample()
        pg_after = self._pg_sample()
        used = {name: round(after[name] - self._before.get(name, 0.0), 3) for name in after}
        # Backends that started during the interval count from zero; ones that ended are lost (rare, small).
        used["postgres"] = round(sum(v - self._pg_before.get(pid, 0.0) for pid, v in pg_after.items()), 3)
        used["total"] = round(sum(used.values()), 3)
        busy = _machine_busy() - self._busy
        # The rest of the machine: the kernel (loopback networking is softirq time, partly ours) and other
        # processes (on a shared machine: noise in the figures).
        used["other_processes"] = round(max(0.0, busy - used["total"]), 3)
        used["wall_s"] = round(float(os.times().elapsed) - self._wall, 3)
        used["cores"] = psutil.cpu_count() or 0
        capacity = used["wall_s"] * used["cores"]
        used["other_share_of_machine"] = round(used["other_processes"] / capacity, 3) if capacity else 0.0
        used["steal_share_of_machine"] = round((_machine_steal() - self._steal) / capacity, 3) if capacity else 0.0
        return used


def _machine_busy() -> float:
    """CPU seconds the whole machine spent running (all cores): not idle, not waiting for the disk, not taken by
    the hypervisor (steal); guest time is already in user time."""
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - sum(getattr(t, f, 0.0) for f in ("iowait", "steal", "guest", "guest_nice")))


def _machine_steal() -> float:
    """CPU seconds the hypervisor gave to other guests while this machine wanted them (0 where not reported)."""
    return float(getattr(psutil.cpu_times(), "steal", 0.0))


@contextlib.contextmanager
def measured(meter: CpuMeter | None, into: dict[str, Any]) -> Iterator[None]:
    """Put the CPU seconds the block used into ``into["cpu_s"]``."""
    if meter is None:
        yield
        return
    meter.start()
    try:
        yield
    finally:
        into["cpu_s"] = meter.stop()
