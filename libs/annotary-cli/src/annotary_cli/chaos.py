"""The chaos harness: a load of submissions through the REST API while services, the broker and Postgres die.

It starts a stack of its own (so nothing it kills is shared): a Postgres it initialises in a temp folder, moto's
S3 server, Tansu (on ``s3://`` storage in a moto bucket, so a restart keeps topics and offsets), and every service
as a process (:mod:`annotary_cli.stack`). C annotator clients (asyncio, one ``httpx`` client each) lease and submit
until N submissions are in; a schedule SIGKILLs every service at least ``kills_per_service`` times, restarts the
broker once on ``s3://`` (keeps its data) and once on ``memory://`` (loses everything: the outbox relays must see
it and publish again what the broker lost) and restarts Postgres (``pg_ctl stop -m immediate``, then start). A
supervisor restarts any service that exits on its own (as Kubernetes would) and counts it.

Clients retry a call that hits a connection error, a 5xx or a 429 with the same task id (submit is idempotent per
task: a retried submit returns the first result and applies nothing). Afterwards :func:`verify` checks the
client-side ledger against the databases and the ``annotation.accepted`` topic read from the start: every
submission accepted or rejected exactly once, one acceptance per item everywhere, no item stuck, no lease left.

    python -m annotary_cli.chaos --submissions 600 --clients 10      # prints the JSON summary
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from annotary_cli.infra import (
    Managed,
    ensure_database,
    free_port,
    start_broker,
    start_postgres,
    start_s3,
    stop_postgres_immediate,
)
from annotary_cli.stack import SERVICES, Stack, StackConfig
from annotary_common.events import parse_event

log = logging.getLogger("annotary.chaos")

SCHEMA = {"modality": "text", "labels": [{"name": "WORD"}, {"name": "NUM"}], "tools": ["span"]}
TANSU_BUCKET = "tansu"
RETRY_STATUSES = {429, 500, 502, 503, 504}
CANARY_ITEMS = 3  # per project, through the broker on s3:// before it restarts
TERMINAL_ITEM_STATES = {"accepted", "rejected"}
WAITING_ITEM_STATES = {"under_review"}


@dataclass
class ChaosConfig:
    submissions: int = 600
    clients: int = 10
    projects: int = 2
    overlap: int = 2
    kills_per_service: int = 2
    broker_restarts: tuple[str, ...] = ("memory",)  # during the load; set-up restarts on s3:// then memory://
    postgres_restarts: int = 1
    lease_seconds: int = 15
    settle_timeout_s: float = 180.0
    load_timeout_s: float = 900.0
    call_deadline_s: float = 180.0
    seed: int = 0
    base_dir: Path | None = None
    keep_logs: Path | None = None


@dataclass
class Submission:
    """One client-side ledger entry: a task this client leased and submitted, and how it ended."""

    task_id: str
    item_id: str
    project_id: str
    annotator_id: str
    outcome: str = "pending"  # accepted | rejected | unresolved
    status: int = 0
    attempts: int = 0


@dataclass
class Ledger:
    """Every lease a client submitted, by task id (a slot refused with 409 goes back to the queue under the same
    task id and may be leased again, by anyone)."""

    entries: dict[str, list[Submission]] = field(default_factory=dict)
    duplicate_task_ids: list[str] = field(default_factory=list)
    retries: int = 0
    accepted: int = 0  # kept as a plain count: the chaos thread reads it while the clients write entries

    def all(self) -> list[Submission]:
        return [s for subs in list(self.entries.values()) for s in subs]

    def counts(self) -> dict[str, int]:
        return dict(Counter(s.outcome for s in self.all()))


class Infra:
    """The harness's own Postgres, S3 and broker, which it may kill and restart at will."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.log_dir = base / "logs"
        self.pg_dir = base / "pg"
        self.pg_port = free_port()
        self.broker_port = free_port()
        self.postgres: Managed | None = None
        self.s3: Managed | None = None
        self.s3_url = ""
        self.broker: Managed | None = None
        self.broker_storage = ""
        self.database_url = ""

    def start(self) -> None:
        self.base.chmod(0o755)  # the postgres user must reach its data folder
        self.postgres, dsn = start_postgres(self.pg_dir, self.log_dir, self.pg_port)
        self.database_url = dsn
        ensure_database(dsn)
        self.s3, self.s3_url = start_s3(self.log_dir, serial=True, name="s3-tansu")
        _create_bucket(self.s3_url, TANSU_BUCKET)
        self.start_broker("s3")

    def broker_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT": self.s3_url,
            "AWS_ACCESS_KEY_ID": "annotary",
            "AWS_SECRET_ACCESS_KEY": "annotary-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def start_broker(self, storage: str) -> None:
        url = f"s3://{TANSU_BUCKET}/" if storage == "s3" else "memory://tansu/"
        self.broker, _ = start_broker(self.log_dir, self.broker_port, storage=url, env=self.broker_env())
        self.broker_storage = storage

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    def restart_broker(self, storage: str) -> None:
        assert self.broker is not None
        self.broker.kill()
        self.broker.stop()
        time.sleep(0.5)
        self.start_broker(storage)

    def restart_postgres(self) -> None:
        assert self.postgres is not None
        stop_postgres_immediate(self.pg_dir, self.postgres)
        time.sleep(0.5)
        self.postgres, _ = start_postgres(self.pg_dir, self.log_dir, self.pg_port)
        _wait_database(self.database_url, 60.0)

    def stop(self) -> None:
        for proc in (self.broker, self.s3, self.postgres):
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()


def _create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="annotary",
        aws_secret_access_key="annotary-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)


async def _post_retrying(http: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    deadline = time.monotonic() + 120.0
    while True:
        try:
            reply = await http.post(path, json=body)
            if reply.status_code not in RETRY_STATUSES:
                reply.raise_for_status()
                return reply
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"POST {path} kept failing")
        await asyncio.sleep(0.5)


def _wait_database(dsn: str, timeout: float) -> None:
    async def probe() -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(dsn, timeout=2.0)
                await conn.close()
                return
            except (TimeoutError, OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    asyncio.run(probe())


class Chaos:
    """One run: start everything, set up users/projects/items, load + chaos, settle, verify."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.base = Path(tempfile.mkdtemp(prefix="annotary-chaos-", dir=config.base_dir))
        self.infra = Infra(self.base)
        self.stack: Stack | None = None
        self.admin_token = secrets.token_urlsafe(24)
        self.ledger = Ledger()
        self.kills: Counter[str] = Counter()
        self.crashes: Counter[str] = Counter()
        self.broker_restarts: Counter[str] = Counter()
        self.postgres_restarts = 0
        self.s3_kept_log: bool | None = None
        self.actions: list[dict[str, Any]] = []
        self.projects: list[str] = []
        self.items: dict[str, str] = {}  # item id -> project id
        self._restarting: set[str] = set()
        self._waiters: list[threading.Thread] = []
        self._cap = float("inf")  # the clients pause at this many accepted submissions until the chaos catches up
        self._lock = threading.Lock()
        self._stop_supervisor = threading.Event()

    # -- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.infra.start()
        self.stack = Stack(
            StackConfig(
                database_url=self.infra.database_url,
                kafka_bootstrap=self.infra.bootstrap,
                data_dir=self.base / "data",
                log_dir=self.infra.log_dir,
                api_port=free_port(),
                admin_token=self.admin_token,
                object_store="local",
                extra_env={
                    "ANNOTARY_DATABASE_POOL_SIZE": "6",
                    "ANNOTARY_ORCHESTRATOR_REAPER_INTERVAL_S": "1",
                },
            )
        )
        self.stack.start_all()
        self.stack.wait_ready(timeout=120.0)

    def stop(self) -> None:
        self._stop_supervisor.set()
        if self.stack is not None:
            with contextlib.suppress(Exception):
                self.stack.stop_all()
        self.infra.stop()
        if self.config.keep_logs is not None and self.infra.log_dir.exists():
            shutil.copytree(self.infra.log_dir, self.config.keep_logs, dirs_exist_ok=True)
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def api(self) -> str:
        assert self.stack is not None
        return f"{self.stack.api_url}/api/v1"

    async def setup(self) -> list[tuple[str, str]]:
        """Annotators (user id, token), projects, and items imported and held by the orchestrator.

        The broker starts on ``s3://``: a canary of a few items per project goes through it, the broker restarts
        on ``s3://`` and must still hold the canary's events (``s3_kept_log``); then it restarts on ``memory://``
        (losing everything: the outboxes publish again) and the main items are imported. Tansu's S3 engine on
        moto takes one S3 write per consumer-group commit and partition, too slow to carry the whole load."""
        c = self.config
        async with httpx.AsyncClient(
            base_url=self.api, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=120.0
        ) as admin:
            users = []
            for i in range(c.clients):
                reply = await admin.post("/users", json={"username": f"chaos-{i}-{uuid.uuid4().hex[:6]}",
                                                         "role": "annotator"})
                reply.raise_for_status()
                users.append((str(reply.json()["id"]), str(reply.json()["token"])))
            n_items = -(-c.submissions // c.overlap)
            per_project = [n_items // c.projects + (1 if p < n_items % c.projects else 0) for p in range(c.projects)]
            policy = {"overlap": c.overlap, "agreement_threshold": 0.5, "review": "none",
                      "lease_seconds": c.lease_seconds}
            for p in range(c.projects):
                reply = await admin.post("/projects", json={"name": f"chaos-{p}-{uuid.uuid4().hex[:6]}",
                                                            "schema": SCHEMA, "policy": policy})
                reply.raise_for_status()
                self.projects.append(str(reply.json()["id"]))
            canary = [min(CANARY_ITEMS, count) for count in per_project]
            await self._import(admin, [(p, 0, n) for p, n in enumerate(canary)])
            if self.infra.broker_storage == "s3":
                before = await self._topic_items("item.ingested")
                await asyncio.to_thread(self._act, "broker", "s3")
                after = await self._topic_items("item.ingested", expected=before)
                self.s3_kept_log = before <= after and len(before) == sum(canary)
                await asyncio.to_thread(self._act, "broker", "memory")
            await self._import(admin, [(p, canary[p], count) for p, count in enumerate(per_project)])
        return users

    async def _import(self, admin: httpx.AsyncClient, ranges: list[tuple[int, int, int]]) -> None:
        """Items ``start..stop`` of each project ``(index, start, stop)``; returns once the orchestrator holds
        every item imported so far."""
        for p, begin, stop in ranges:
            pid = self.projects[p]
            for start in range(begin, stop, 2000):
                batch = [{"external_id": f"c{p}-{i:06d}", "text": f"Word {i} of chaos project {p}"}
                         for i in range(start, min(stop, start + 2000))]
                reply = await _post_retrying(admin, f"/projects/{pid}/items", batch)
                for item_id in reply.json()["item_ids"]:
                    self.items[str(item_id)] = pid
        deadline = time.monotonic() + 300
        for pid in self.projects:
            count = sum(1 for p in self.items.values() if p == pid)
            while True:
                stats = await admin.get(f"/projects/{pid}/stats")
                if stats.status_code == 200 and sum(stats.json()["states"].values()) >= count:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"project {pid}: the orchestrator never held its {count} items")
                await asyncio.sleep(0.2)

    @contextlib.asynccontextmanager
    async def _from_start(self, topic: str, take: Callable[[Any], None], done: Callable[[float], bool],
                          limit_s: float) -> AsyncIterator[AIOKafkaConsumer]:
        """Read ``topic`` from the start with no group, handing each record to ``take``, until ``done(quiet_s)``
        holds (the seconds since records last came) or ``limit_s`` passes; yields the consumer, still running, for
        questions about the topic (partitions, end offsets)."""
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.infra.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            deadline = time.monotonic() + limit_s
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        take(record)
                if batches:
                    quiet_since = time.monotonic()
                if done(time.monotonic() - quiet_since):
                    break
            yield consumer
        finally:
            await consumer.stop()

    async def _topic_items(self, topic: str, expected: set[str] | None = None) -> set[str]:
        """The item ids (record keys) of this run on ``topic``, read from the start."""
        found: set[str] = set()

        def take(record: Any) -> None:
            if record.key and record.key.decode() in self.items:
                found.add(record.key.decode())

        def done(_quiet_s: float) -> bool:
            if expected is None:
                return bool(found) and len(found) >= len(self.items)
            return expected <= found

        async with self._from_start(topic, take, done, limit_s=30.0):
            pass
        return found

    # -- load ----------------------------------------------------------------------------------------
    @property
    def target(self) -> int:
        return len(self.items) * self.config.overlap

    async def _call(
        self, http: httpx.AsyncClient, path: str, body: dict[str, Any] | None
    ) -> tuple[httpx.Response | None, int]:
        """POST with retries on connection errors, 5xx and 429, until the call deadline: (the answer, or None
        when it never got a definite one; attempts)."""
        deadline = time.monotonic() + self.config.call_deadline_s
        delay = 0.1
        attempts = 0
        while time.monotonic() < deadline:
            attempts += 1
            if attempts > 1:
                self.ledger.retries += 1
            try:
                reply = await http.post(path, json=body)
                if reply.status_code not in RETRY_STATUSES:
                    return reply, attempts
            except httpx.TransportError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        return None, attempts

    async def client(self, index: int, user_id: str, token: str, done: asyncio.Event) -> None:
        projects = list(self.projects)
        async with httpx.AsyncClient(
            base_url=self.api, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        ) as http:
            idle = 0
            while not done.is_set():
                if self.ledger.accepted >= self._cap:
                    await asyncio.sleep(0.1)  # the next scheduled action must happen mid-load, not after it
                    continue
                pid = projects[(index + idle) % len(projects)]
                reply, _ = await self._call(http, f"/projects/{pid}/tasks/next", None)
                if reply is None:
                    continue
                if reply.status_code == 204:
                    idle += 1
                    if idle % len(projects) == 0:
                        await asyncio.sleep(0.5)
                    continue
                if reply.status_code != 200:
                    log.warning("next: %s %s", reply.status_code, reply.text[:200])
                    await asyncio.sleep(0.5)
                    continue
                idle = 0
                task = reply.json()
                tid = str(task["id"])
                entry = Submission(task_id=tid, item_id=str(task["item"]["id"]), project_id=pid, annotator_id=user_id)
                if any(s.outcome == "accepted" for s in self.ledger.entries.get(tid, [])):
                    # a task handed out again after a submission of it was answered 200: that submission was lost
                    self.ledger.duplicate_task_ids.append(tid)
                self.ledger.entries.setdefault(tid, []).append(entry)
                region = {"type": "span", "label": "WORD", "start": 0, "end": 4}
                done_reply, entry.attempts = await self._call(
                    http, f"/tasks/{tid}/submit", {"result": [region], "lead_time_ms": 500}
                )
                if done_reply is None:
                    entry.outcome = "unresolved"
                    continue
                entry.status = done_reply.status_code
                entry.outcome = "accepted" if done_reply.status_code == 200 else "rejected"
                if entry.outcome == "accepted":
                    self.ledger.accepted += 1
                else:
                    log.info("submit %s refused: %s %s", tid, done_reply.status_code, done_reply.text[:200])
                if self.ledger.accepted >= self.target:
                    done.set()

    # -- chaos ---------------------------------------------------------------------------------------
    def schedule(self) -> list[tuple[float, str, str]]:
        """(progress fraction, action, argument), in the order they run."""
        c = self.config
        actions: list[tuple[str, str]] = [("kill", s) for s in SERVICES for _ in range(c.kills_per_service)]
        actions += [("broker", storage) for storage in c.broker_restarts]
        actions += [("postgres", "immediate")] * c.postgres_restarts
        self.rng.shuffle(actions)
        span = (0.05, 0.85)
        step = (span[1] - span[0]) / max(1, len(actions))
        return [(span[0] + i * step, a, arg) for i, (a, arg) in enumerate(actions)]

    def _act(self, action: str, arg: str) -> None:
        stack = self.stack
        assert stack is not None
        started = time.monotonic()
        if action == "kill":
            # one kill of a service at a time: wait until its previous restart is ready
            while True:
                with self._lock:
                    if arg not in self._restarting:
                        self._restarting.add(arg)
                        break
                time.sleep(0.1)
            try:
                stack.kill(arg)
                self.kills[arg] += 1
                time.sleep(self.rng.uniform(0.0, 1.0))
                stack.start(arg)
            except BaseException:
                with self._lock:
                    self._restarting.discard(arg)
                raise
            # the next action does not wait for this service to be ready: several may be down at once
            waiter = threading.Thread(target=self._await_ready, args=(arg,), name=f"chaos-ready-{arg}", daemon=True)
            waiter.start()
            self._waiters.append(waiter)
        elif action == "broker":
            self.infra.restart_broker(arg)
            self.broker_restarts[arg] += 1
        elif action == "postgres":
            self.infra.restart_postgres()
            self.postgres_restarts += 1
        self.actions.append({"action": action, "target": arg, "at_submissions": self.ledger.accepted,
                             "took_s": round(time.monotonic() - started, 2)})
        log.info("chaos: %s %s at %d submissions", action, arg, self.ledger.accepted)

    def _await_ready(self, service: str) -> None:
        assert self.stack is not None
        try:
            self.stack.wait_ready([service], timeout=180.0)
        except (RuntimeError, TimeoutError) as exc:  # it exited or hangs: the supervisor restarts and counts it
            log.warning("chaos: %s not ready after its restart: %s", service, str(exc)[:300])
        finally:
            with self._lock:
                self._restarting.discard(service)

    def supervise(self) -> None:
        """Restart any service that exited on its own (not one the schedule is restarting), as an orchestrator
        such as Kubernetes would; each is counted in ``crashes``."""
        stack = self.stack
        assert stack is not None
        while not self._stop_supervisor.wait(0.5):
            for name, proc in list(stack.procs.items()):
                with self._lock:
                    if name in self._restarting or proc.alive:
                        continue
                    self._restarting.add(name)
                try:
                    self.crashes[name] += 1
                    log.warning("chaos: %s exited on its own (code %s); restarting\n%s", name,
                                proc.proc.returncode if proc.proc else None, proc.tail(15))
                    proc.stop()
                    time.sleep(0.5)
                    stack.start(name)
                finally:
                    with self._lock:
                        self._restarting.discard(name)

    async def run_chaos(self, done: asyncio.Event, plan: list[tuple[float, str, str]]) -> None:
        """Each action when the load reaches its point; meanwhile the load may run on to the next point only."""
        for i, (at, action, arg) in enumerate(plan):
            while self.ledger.accepted < at * self.target and not done.is_set():  # noqa: ASYNC110 - a count
                await asyncio.sleep(0.05)
            self._cap = plan[i + 1][0] * self.target if i + 1 < len(plan) else float("inf")
            await asyncio.to_thread(self._act, action, arg)
        self._cap = float("inf")

    async def load(self, users: list[tuple[str, str]]) -> float:
        done = asyncio.Event()
        started = time.monotonic()
        plan = self.schedule()
        self._cap = plan[1][0] * self.target if len(plan) > 1 else float("inf")
        clients = [asyncio.ensure_future(self.client(i, uid, tok, done)) for i, (uid, tok) in enumerate(users)]
        chaos = asyncio.ensure_future(self.run_chaos(done, plan))
        try:
            await asyncio.wait_for(done.wait(), self.config.load_timeout_s)
        except TimeoutError:
            log.error("load did not finish in %ss: %d of %d submissions", self.config.load_timeout_s,
                      self.ledger.accepted, self.target)
        done.set()
        await asyncio.gather(*clients, return_exceptions=True)
        await chaos  # every scheduled action runs, even when the load finished first
        for waiter in self._waiters:
            await asyncio.to_thread(waiter.join, 200.0)
        return time.monotonic() - started

    # -- verification --------------------------------------------------------------------------------
    async def _db_state(self) -> dict[str, Any]:
        conn = await asyncpg.connect(self.infra.database_url)
        try:
            ids = [uuid.UUID(i) for i in self.items]
            return {
                "items": {str(r["item_id"]): r["state"] for r in await conn.fetch(
                    "SELECT item_id, state FROM orchestrator.items WHERE item_id = ANY($1)", ids)},
                "tasks": [dict(r) for r in await conn.fetch(
                    "SELECT task_id::text, item_id::text, annotator_id, state, round FROM orchestrator.tasks"
                    " WHERE item_id = ANY($1)", ids)],
                "decisions": Counter(str(r["item_id"]) for r in await conn.fetch(
                    "SELECT item_id FROM qa.decisions WHERE item_id = ANY($1) AND outcome = 'accepted'", ids)),
                "exported": Counter(str(r["item_id"]) for r in await conn.fetch(
                    "SELECT item_id FROM export.accepted WHERE item_id = ANY($1)", ids)),
                "staged": {r["key"]: r["ids"] for r in await conn.fetch(
                    "SELECT key, array_agg(event_id::text) AS ids FROM qa.outbox"
                    " WHERE topic = 'annotation.accepted' AND key = ANY($1::text[]) GROUP BY key",
                    [str(i) for i in ids])},
                "unpublished": await conn.fetchval(
                    "SELECT (SELECT count(*) FROM qa.outbox WHERE published_at IS NULL)"
                    " + (SELECT count(*) FROM orchestrator.outbox WHERE published_at IS NULL)"),
            }
        finally:
            await conn.close()

    async def _settle(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.config.settle_timeout_s
        while True:
            state = await self._db_state()
            unsettled = {
                "items_not_done": sum(1 for s in state["items"].values()
                                      if s not in TERMINAL_ITEM_STATES | WAITING_ITEM_STATES),
                "items_unknown": len(self.items) - len(state["items"]),
                "accepted_not_exported": sum(1 for i, s in state["items"].items()
                                             if s == "accepted" and not state["exported"].get(i)),
                "leased": sum(1 for t in state["tasks"] if t["state"] == "assigned"),
                "unpublished": state["unpublished"],
            }
            state["unsettled"] = {k: v for k, v in unsettled.items() if v}  # what was still open at the deadline
            if not state["unsettled"]:
                return state
            if time.monotonic() > deadline:
                stuck = [i for i, s in state["items"].items() if s not in TERMINAL_ITEM_STATES | WAITING_ITEM_STATES]
                try:  # a diagnosis: it never changes the verdict
                    state["stuck_trail"] = await self._trail(stuck[:5]) if stuck else {}
                except Exception as exc:
                    state["stuck_trail"] = {"error": repr(exc)}
                return state
            await asyncio.sleep(1.0)

    async def _trail(self, item_ids: list[str]) -> dict[str, Any]:
        """Where the task.submitted events of items that never settled went: staged and published by the
        orchestrator, on the bus (partition, offset), taken by qa (its inbox), and qa's saved positions; the topic's
        end offsets. Said in the verdict so that a failed run names the step that dropped them."""
        conn = await asyncpg.connect(self.infra.database_url)
        try:
            staged = [dict(r) for r in await conn.fetch(
                "SELECT key AS item_id, event_id::text, published_at IS NOT NULL AS published FROM orchestrator.outbox"
                " WHERE topic = 'task.submitted' AND key = ANY($1::text[]) ORDER BY id", item_ids)]
            taken = {str(r["event_id"]) for r in await conn.fetch(
                "SELECT event_id FROM qa.inbox WHERE event_id = ANY($1::uuid[])",
                [uuid.UUID(r["event_id"]) for r in staged])}
            positions = {f"{r['topic']}:{r['partition']}": r["next_offset"] for r in await conn.fetch(
                "SELECT topic, partition, next_offset FROM qa.consumer_positions WHERE topic = 'task.submitted'")}
        finally:
            await conn.close()
        on_bus: dict[str, str] = {}

        def take(record: Any) -> None:
            with contextlib.suppress(Exception):
                on_bus[parse_event(record.value).event_id] = f"{record.partition}@{record.offset}"

        async with self._from_start("task.submitted", take, lambda quiet_s: quiet_s >= 3.0, limit_s=120.0) as consumer:
            partitions = sorted(consumer.partitions_for_topic("task.submitted") or [])
            assigned = list(consumer.assignment())
            ends = {f"{tp.topic}:{tp.partition}": offset
                    for tp, offset in (await consumer.end_offsets(assigned)).items()} if assigned else {}
        return {"events": [{**e, "on_bus": on_bus.get(e["event_id"], ""), "taken_by_qa": e["event_id"] in taken}
                           for e in staged],
                "topic_partitions": partitions, "end_offsets": ends, "qa_positions": positions}

    async def _bus(self, expected: int) -> dict[str, set[str]]:
        """Event ids of ``annotation.accepted`` per item of this run, read from the start of the topic."""
        per_item: dict[str, set[str]] = {}

        def take(record: Any) -> None:
            event = parse_event(record.value)
            item_id = event.payload.item.item_id  # type: ignore[attr-defined]
            if item_id in self.items:
                per_item.setdefault(item_id, set()).add(event.event_id)

        async with self._from_start("annotation.accepted", take,
                                    lambda quiet_s: len(per_item) >= expected and quiet_s > 3.0, limit_s=120.0):
            pass
        return per_item

    async def verify(self, settle_started: float) -> dict[str, Any]:
        state = await self._settle()
        settle_s = time.monotonic() - settle_started
        accepted_items = {i for i, s in state["items"].items() if s == "accepted"}
        bus = await self._bus(len(accepted_items))
        problems: dict[str, list[str]] = {"lost": [], "duplicated": [], "stuck": [], "disagree": []}

        def note(kind: str, text: str) -> None:
            problems[kind].append(text)

        submitted = {t["task_id"]: t for t in state["tasks"] if t["state"] == "submitted"}
        # the ledger against the orchestrator: each accepted submission recorded once, by its annotator;
        # none the client saw refused was applied
        for tid, subs in self.ledger.entries.items():
            row = submitted.get(tid)
            accepted = [s for s in subs if s.outcome == "accepted"]
            for s in subs:
                if s.outcome in ("unresolved", "pending"):
                    note("lost", f"submission of task {tid} by {s.annotator_id} never got an answer")
            if len(accepted) > 1:
                note("duplicated", f"task {tid} answered 200 to {len(accepted)} submissions")
            if accepted and (row is None or row["annotator_id"] != accepted[-1].annotator_id):
                note("lost", f"task {tid} (item {accepted[-1].item_id}) answered 200 but not recorded")
            if not accepted and row is not None:
                note("duplicated", f"task {tid} refused ({[s.status for s in subs]}) but recorded as submitted")
        for tid in self.ledger.duplicate_task_ids:
            note("duplicated", f"task {tid} handed out again after its submission")
        for tid in submitted:
            if tid not in self.ledger.entries:
                note("duplicated", f"task {tid} submitted but no client submitted it")
        per_item_round: Counter[tuple[str, int]] = Counter(
            (t["item_id"], t["round"]) for t in submitted.values())
        for (item_id, rnd), n in per_item_round.items():
            if n > self.config.overlap:
                note("duplicated", f"item {item_id} round {rnd}: {n} submissions for {self.config.overlap} slots")
        # one acceptance per item, in every place it shows
        for item_id in self.items:
            item_state = state["items"].get(item_id)
            decisions = state["decisions"].get(item_id, 0)
            exported = state["exported"].get(item_id, 0)
            staged = state["staged"].get(item_id, [])
            on_bus = bus.get(item_id, set())
            if item_state is None:
                note("lost", f"item {item_id} unknown to the orchestrator")
                continue
            if item_state not in TERMINAL_ITEM_STATES | WAITING_ITEM_STATES:
                note("stuck", f"item {item_id} {item_state}")
            if decisions > 1 or exported > 1 or len(staged) > 1 or len(on_bus) > 1:
                note("duplicated", f"item {item_id}: decisions {decisions}, exported {exported},"
                                   f" staged {len(staged)}, event ids on the bus {len(on_bus)}")
            if item_state == "accepted":
                if not (decisions and exported and staged and on_bus):
                    note("lost", f"item {item_id} accepted but decisions {decisions}, exported {exported},"
                                 f" staged {len(staged)}, on the bus {len(on_bus)}")
                elif set(staged) != on_bus:
                    note("disagree", f"item {item_id}: staged {staged} but the bus carries {sorted(on_bus)}")
            elif decisions or exported or on_bus:
                note("disagree", f"item {item_id} {item_state} yet decisions {decisions}, exported {exported},"
                                 f" on the bus {len(on_bus)}")
        if self.s3_kept_log is False:
            note("lost", "the broker on s3:// did not hold the canary's item.ingested events after its restart")
        leased = [t["task_id"] for t in state["tasks"] if t["state"] == "assigned"]
        for tid in leased:
            note("stuck", f"task {tid} still leased after settling")
        return {
            "settle_s": round(settle_s, 1),
            "unsettled": state["unsettled"],
            "items": {"total": len(self.items), "states": dict(Counter(state["items"].values()))},
            "lost": len(problems["lost"]),
            "duplicated": len(problems["duplicated"]),
            "stuck": len(problems["stuck"]),
            "disagree": len(problems["disagree"]),
            "examples": {k: v[:10] for k, v in problems.items() if v},
            **({"stuck_trail": state["stuck_trail"]} if state.get("stuck_trail") else {}),
        }

    # -- the whole run -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self.start()
            ready_s = time.monotonic() - started
            users = asyncio.run(self.setup())
            supervisor = threading.Thread(target=self.supervise, name="chaos-supervisor", daemon=True)
            supervisor.start()

            async def body() -> tuple[float, dict[str, Any]]:
                load_s = await self.load(users)
                return load_s, await self.verify(time.monotonic())

            load_s, verdict = asyncio.run(body())
            self._stop_supervisor.set()
            supervisor.join(5.0)
            counts = self.ledger.counts()
            return {
                "benchmark": "chaos",
                "config": {"submissions": self.config.submissions, "clients": self.config.clients,
                           "projects": self.config.projects, "overlap": self.config.overlap,
                           "lease_seconds": self.config.lease_seconds, "seed": self.config.seed},
                "submissions": {"target": self.target, "accepted": counts.get("accepted", 0),
                                "rejected": counts.get("rejected", 0),
                                "unresolved": counts.get("unresolved", 0) + counts.get("pending", 0),
                                "retried_calls": self.ledger.retries,
                                "rejected_by_status": dict(Counter(str(s.status) for s in self.ledger.all()
                                                                   if s.outcome == "rejected"))},
                "kills": dict(self.kills),
                "crashes": dict(self.crashes),
                "broker_restarts": dict(self.broker_restarts),
                "postgres_restarts": self.postgres_restarts,
                "s3_kept_log": self.s3_kept_log,
                **verdict,
                "timings_s": {"stack_ready": round(ready_s, 1), "load": round(load_s, 1),
                              "total": round(time.monotonic() - started, 1)},
                "submissions_per_s": round(counts.get("accepted", 0) / load_s, 1) if load_s else None,
                "actions": self.actions,
            }
        finally:
            self.stop()


def run_chaos(config: ChaosConfig) -> dict[str, Any]:
    return Chaos(config).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--projects", type=int, default=2)
    parser.add_argument("--kills-per-service", type=int, default=2)
    parser.add_argument("--postgres-restarts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("ANNOTARY_CHAOS_SEED", "0")))
    parser.add_argument("--keep-logs", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    summary = run_chaos(ChaosConfig(submissions=args.submissions, clients=args.clients, projects=args.projects,
                                    kills_per_service=args.kills_per_service,
                                    postgres_restarts=args.postgres_restarts, seed=args.seed,
                                    keep_logs=args.keep_logs))
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    ok = summary["lost"] == 0 and summary["duplicated"] == 0 and summary["stuck"] == 0 and summary["disagree"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
