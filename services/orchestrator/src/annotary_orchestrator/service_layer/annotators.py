"""One annotator in one project (table ``annotators``): pause, qualification verdict and the lease counters.

The row lock serialises one annotator's lease and submit calls with their pause: a pause waits for a lease call in
flight, then releases what it leased; a lease call after the pause sees it.
"""

from __future__ import annotations

import uuid

import asyncpg

from annotary_orchestrator.domain.assignment import AnnotatorStanding, Verdict
from annotary_orchestrator.service_layer.transitions import TASK_COLUMNS, TaskRow, release_tasks

_SELECT = """
SELECT paused, pause_reason, verdict, served_total, gold_served, submitted, qualification_submitted
FROM annotators WHERE project_id = $1 AND annotator_id = $2 FOR UPDATE
"""


def _standing(row: asyncpg.Record) -> AnnotatorStanding:
    return AnnotatorStanding(paused=row["paused"], pause_reason=row["pause_reason"], verdict=Verdict(row["verdict"]),
                             served_total=row["served_total"], gold_served=row["gold_served"],
                             submitted=row["submitted"], qualification_submitted=row["qualification_submitted"])


async def lock_annotator(conn: asyncpg.Connection, project_id: uuid.UUID, annotator: str) -> AnnotatorStanding:
    """The annotator's row, created when missing, locked for the rest of the transaction."""
    row = await conn.fetchrow(_SELECT, project_id, annotator)
    if row is None:
        await conn.execute("INSERT INTO annotators (project_id, annotator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           project_id, annotator)
        row = await conn.fetchrow(_SELECT, project_id, annotator)
        assert row is not None
    return _standing(row)


async def count_served(conn: asyncpg.Connection, project_id: uuid.UUID, annotator: str, *, served: int,
                       gold: int) -> None:
    if served or gold:
        await conn.execute(
            "UPDATE annotators SET served_total = served_total + $3, gold_served = gold_served + $4, updated_at = now()"
            " WHERE project_id = $1 AND annotator_id = $2",
            project_id, annotator, served, gold,
        )


async def set_paused(conn: asyncpg.Connection, project_id: uuid.UUID, annotator: str, *, paused: bool, reason: str,
                     actor: str) -> int:
    """Pause (stop leasing and give the annotator's unsubmitted leases in the project back to the queue, with history
    rows) or resume. Returns the number of leases released."""
    await lock_annotator(conn, project_id, annotator)
    await conn.execute(
        "UPDATE annotators SET paused = $3, pause_reason = $4, paused_by = $5, updated_at = now()"
        " WHERE project_id = $1 AND annotator_id = $2",
        project_id, annotator, paused, reason if paused else "", actor,
    )
    if not paused:
        return 0
    rows = await conn.fetch(
        f"SELECT {TASK_COLUMNS} FROM tasks WHERE project_id = $1 AND annotator_id = $2 AND state = 'assigned'"
        " ORDER BY task_id FOR UPDATE",
        project_id, annotator,
    )
    tasks = [TaskRow.from_record(r) for r in rows]
    why = f"annotator paused: {reason}" if reason else "annotator paused"
    await release_tasks(conn, tasks, actor=actor, reason=lambda _: why)
    return len(tasks)


async def set_verdict(conn: asyncpg.Connection, project_id: uuid.UUID, annotator: str, *, passed: bool,
                      accuracy: float) -> None:
    await lock_annotator(conn, project_id, annotator)
    await conn.execute(
        "UPDATE annotators SET verdict = $3, qualification_accuracy = $4, updated_at = now()"
        " WHERE project_id = $1 AND annotator_id = $2",
        project_id, annotator, (Verdict.PASSED if passed else Verdict.FAILED).value, accuracy,
    )
