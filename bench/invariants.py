"""The invariant after the load: no slot leased to two annotators at once, no annotator twice on an item.

Checked twice: in the orchestrator's tables (its current state and its history table, the audit trail every
lease and submission writes a row to) and from what the load generator itself saw.
"""

from __future__ import annotations

from typing import Any

import asyncpg

SCHEMA = "orchestrator"  # ServiceRuntime("orchestrator"): the service name is its schema

CHECKS: dict[str, str] = {
    # The state: one row per slot carries one annotator; the same annotator on two slots of an item's round?
    "annotator_twice_on_item_round": """
        SELECT count(*) FROM (
            SELECT item_id, round, annotator_id FROM tasks
            WHERE project_id = $1 AND annotator_id IS NOT NULL
            GROUP BY item_id, round, annotator_id HAVING count(*) > 1) x""",
    # The history: an annotator who submitted two slots of the same item and round.
    "annotator_submitted_item_round_twice": """
        SELECT count(*) FROM (
            SELECT t.item_id, t.round, h.actor FROM item_history h JOIN tasks t ON t.task_id = h.task_id
            WHERE t.project_id = $1 AND h.subject = 'task' AND h.to_state = 'submitted'
            GROUP BY t.item_id, t.round, h.actor HAVING count(DISTINCT h.task_id) > 1) x""",
    # The history: a slot leased to B while A's lease was live, i.e. A's lease had neither ended in a release
    # (skip, back to 'unassigned') nor expired (leased_at + lease_seconds; the benchmark sends no heartbeats).
    "slot_leased_to_two_at_once": """
        WITH a AS (
            SELECT h.id, h.task_id, h.actor, h.at,
                   lag(h.actor) OVER w AS prev_actor, lag(h.at) OVER w AS prev_at, lag(h.id) OVER w AS prev_id
            FROM item_history h JOIN tasks t ON t.task_id = h.task_id
            WHERE t.project_id = $1 AND h.subject = 'task' AND h.to_state = 'assigned'
            WINDOW w AS (PARTITION BY h.task_id ORDER BY h.id))
        SELECT count(*) FROM a
        WHERE a.prev_actor IS NOT NULL AND a.prev_actor <> a.actor
          AND a.at < a.prev_at + make_interval(
                secs => (SELECT (policy->>'lease_seconds')::int FROM projects WHERE id = $1))
          AND NOT EXISTS (SELECT 1 FROM item_history r
                          WHERE r.task_id = a.task_id AND r.subject = 'task' AND r.to_state = 'unassigned'
                            AND r.id > a.prev_id AND r.id < a.id)""",
    # The history: a submission by someone other than the slot's latest lease holder.
    "submitted_by_non_holder": """
        SELECT count(*) FROM item_history s JOIN tasks t ON t.task_id = s.task_id
        WHERE t.project_id = $1 AND s.subject = 'task' AND s.to_state = 'submitted'
          AND s.actor IS DISTINCT FROM (
              SELECT a.actor FROM item_history a
              WHERE a.task_id = s.task_id AND a.subject = 'task' AND a.to_state = 'assigned' AND a.id < s.id
              ORDER BY a.id DESC LIMIT 1)""",
}


async def check(database_url: str, project_id: str, leased_to: dict[str, set[str]],
                successful_pairs: int) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": SCHEMA})
    try:
        found = {name: int(await conn.fetchval(sql, project_id)) for name, sql in CHECKS.items()}
        submitted = int(await conn.fetchval(
            "SELECT count(*) FROM tasks WHERE project_id = $1 AND state = 'submitted'", project_id))
        leases = int(await conn.fetchval(
            "SELECT count(*) FROM item_history h JOIN tasks t ON t.task_id = h.task_id"
            " WHERE t.project_id = $1 AND h.subject = 'task' AND h.to_state = 'assigned'", project_id))
    finally:
        await conn.close()
    found["client_saw_task_leased_to_two"] = sum(1 for names in leased_to.values() if len(names) > 1)
    violations = sum(found.values())
    return {
        "ok": violations == 0,
        "violations": found,
        "leases_in_history": leases,
        "tasks_submitted": submitted,
        "pairs_the_client_completed": successful_pairs,
        "tasks_the_client_leased": len(leased_to),
        "note": "submitted >= completed: a submit that failed on the client (e.g. its deadline) may have committed",
    }
