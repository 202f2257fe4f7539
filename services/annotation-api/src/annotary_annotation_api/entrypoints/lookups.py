"""Lookups the route modules share: an id in a path that is not a UUID, and a project that does not exist, are
both a 404 that names what was asked for."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from annotary.events.v1 import events_pb2
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.service_layer import projects

if TYPE_CHECKING:
    from annotary_annotation_api.entrypoints.http import Deps


def parse_id(value: str, name: str) -> uuid.UUID:
    """``value`` as a UUID; anything else is a 404 for the ``name`` it was meant to be."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise ApiError(404, f"{name} {value!r} not found") from exc


async def project_row(deps: Deps, project_id: str) -> Any:
    """The project's row, or a 404."""
    async with deps.pool.acquire() as conn:
        row = await projects.get_project(conn, parse_id(project_id, "project"))
    if row is None:
        raise ApiError(404, f"project {project_id} not found")
    return row


async def require_project(deps: Deps, project_id: str) -> None:
    """A 404 when the project does not exist; asked of the database once per project and process (projects are
    never deleted), for the calls that only need to know it exists (leasing)."""
    key = str(parse_id(project_id, "project"))  # one spelling per project, however the path wrote it
    if key in deps.known_projects:
        return
    await project_row(deps, project_id)
    deps.known_projects.add(key)


async def project_or_404(deps: Deps, project_id: str) -> dict[str, Any]:
    """The project as the API shows it, or a 404."""
    return projects.project_view(await project_row(deps, project_id))


def proto_time(message: Any, name: str) -> str | None:
    """A protobuf Timestamp field as ISO 8601 (UTC, ``Z``), or None when it is unset."""
    return str(getattr(message, name).ToDatetime().isoformat()) + "Z" if message.HasField(name) else None


@dataclass(frozen=True)
class Leased:
    """What a submit needs of a task this gateway leased: who it went to, its project and its item."""

    annotator_id: str
    project_id: str
    item: events_pb2.ItemSnapshot


class LeasedTasks:
    """The tasks this gateway handed out lately, so that the holder's submit validates against the item it was given
    without asking the orchestrator for the task again. Only a hint: the orchestrator checks the holder on submit
    (a lease lost since is refused there), and a task not here (another replica leased it, or it was pushed out) is
    looked up as before. A task's project and item never change, so an entry is never stale in what it is used for.

    Bounded by entries and by the items' encoded bytes (oldest out first); an item bigger than a hundredth of the
    byte budget is not kept (its submit looks the task up)."""

    def __init__(self, capacity: int = 20_000, max_bytes: int = 64 << 20) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._tasks: OrderedDict[str, tuple[Leased, int]] = OrderedDict()

    def put(self, task_id: str, annotator_id: str, project_id: str, item: events_pb2.ItemSnapshot) -> None:
        size = item.ByteSize()
        self.forget(task_id)
        if size > self._max_bytes // 100:
            return
        copy = events_pb2.ItemSnapshot()
        copy.CopyFrom(item)  # not a view into the reply, which would stay alive with it
        self._tasks[task_id] = (Leased(annotator_id, project_id, copy), size)
        self._bytes += size
        while len(self._tasks) > self._capacity or self._bytes > self._max_bytes:
            _, (_, dropped) = self._tasks.popitem(last=False)
            self._bytes -= dropped

    def held_by(self, task_id: str, annotator_id: str) -> Leased | None:
        """The entry when ``annotator_id`` was given the task here, else None."""
        entry = self._tasks.get(task_id)
        return entry[0] if entry is not None and entry[0].annotator_id == annotator_id else None

    def forget(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id, None)
        if entry is not None:
            self._bytes -= entry[1]

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def bytes(self) -> int:
        return self._bytes
