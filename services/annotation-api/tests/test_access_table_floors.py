"""Role floors of routes whose handlers no longer check the caller's role themselves.

These handlers used to call ``require(user, Role.X)`` (http.py, manage.py, review.py), ``_manager(user)``
(datasets.py) or an inline ``at_least`` (dashboards.py, workspace.py); the access table (domain/access.py),
enforced before every /api/v1 handler, is now the only role check they get. Loosening one of these rules would
open the route to a lower role, so each must stay at least at the role the handler used to require.
"""

from __future__ import annotations

import pytest

from annotary_annotation_api.domain.access import allowed, rule_for
from annotary_annotation_api.domain.roles import Role, at_least

FLOORS: list[tuple[str, str, Role]] = [
    # entrypoints/http.py
    ("POST", "/api/v1/users", Role.ADMIN),
    ("POST", "/api/v1/projects", Role.MANAGER),
    ("PATCH", "/api/v1/projects/{project_id}", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/items", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/sources", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/priority", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/annotators/{annotator_id}/reinstate", Role.MANAGER),
    ("GET", "/api/v1/items/{item_id}/history", Role.REVIEWER),
    ("GET", "/api/v1/projects/{project_id}/reviews", Role.REVIEWER),
    ("POST", "/api/v1/projects/{project_id}/reviews/{item_id}", Role.REVIEWER),
    ("POST", "/api/v1/projects/{project_id}/exports", Role.MANAGER),
    ("GET", "/api/v1/exports/{export_id}", Role.MANAGER),
    ("GET", "/api/v1/exports/{export_id}/download", Role.MANAGER),
    # entrypoints/datasets.py
    ("GET", "/api/v1/projects/{project_id}/versions", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/versions", Role.MANAGER),
    ("GET", "/api/v1/exports/{export_id}/progress", Role.MANAGER),
    ("GET", "/api/v1/exports/{export_id}/manifest", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/webhooks", Role.MANAGER),
    ("GET", "/api/v1/projects/{project_id}/webhooks", Role.MANAGER),
    ("DELETE", "/api/v1/projects/{project_id}/webhooks/{webhook_id}", Role.MANAGER),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/sources/sync", Role.MANAGER),
    ("PUT", "/api/v1/projects/{project_id}/sources/sync/schedule", Role.MANAGER),
    ("GET", "/api/v1/projects/{project_id}/sources/sync/schedule", Role.MANAGER),
    ("DELETE", "/api/v1/projects/{project_id}/sources/sync/schedule", Role.MANAGER),
    # entrypoints/manage.py
    ("GET", "/api/v1/projects/{project_id}/schema/versions", Role.REVIEWER),
    ("POST", "/api/v1/projects/{project_id}/schema/migrate", Role.MANAGER),
    ("GET", "/api/v1/projects/{project_id}/people", Role.MANAGER),
    ("POST", "/api/v1/projects/{project_id}/annotators/{annotator_id}/pause", Role.MANAGER),
    ("POST", "/api/v1/users/{user_id}/role", Role.MANAGER),
    # entrypoints/review.py
    ("GET", "/api/v1/projects/{project_id}/review-queue", Role.REVIEWER),
    ("POST", "/api/v1/projects/{project_id}/review-queue/{item_id}", Role.REVIEWER),
    # entrypoints/dashboards.py
    ("GET", "/api/v1/projects/{project_id}/dashboard", Role.MANAGER),
    # entrypoints/workspace.py
    ("GET", "/api/v1/projects/{project_id}/flags", Role.REVIEWER),
]


@pytest.mark.parametrize(("method", "path", "floor"), FLOORS, ids=[f"{m} {p}" for m, p, _ in FLOORS])
def test_the_table_keeps_the_role_the_handler_used_to_require(method: str, path: str, floor: Role) -> None:
    rule = rule_for(method, path)
    assert rule is not None, f"{method} {path} has no access rule"
    assert rule.role is not None, f"{method} {path} is public in the access table; it needs {floor.value}"
    assert at_least(rule.role, floor), (
        f"{method} {path} needs only {rule.role.value} in the access table; its handler has no role check of its "
        f"own any more and it must stay at {floor.value} or above"
    )
    refused = [role for role in Role if not at_least(role, floor)]
    assert not any(allowed(rule, role) for role in refused)
    assert not allowed(rule, None)
