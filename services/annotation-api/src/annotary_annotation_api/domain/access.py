"""Who may call which endpoint: the one table of the API's access rules.

Every route of the app has a rule here, keyed ``"METHOD /path/template"``: the least role it needs (roles are
ordered annotator < reviewer < manager < admin), ``SIGNED_IN`` for any user with a valid token, or ``PUBLIC``. The
gateway enforces the table before a handler runs (entrypoints/access.py): no token, 401; a role below the rule,
403 naming the role needed. A route missing from the table is refused for everyone (fail closed), and the RBAC
matrix test (tests/test_rbac_matrix.py) fails until it has a rule.

Object-level rules stay in the handlers and are noted here: an annotator reaches a task, its media, draft, flags,
comments and rework only while it is theirs; anything else answers 404 exactly as for an id that does not exist.
There are no per-project memberships: a role applies to every project.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotary_annotation_api.domain.roles import Role, at_least


@dataclass(frozen=True)
class Rule:
    role: Role | None  # None: no token needed
    note: str = ""

    @property
    def public(self) -> bool:
        return self.role is None


PUBLIC = Rule(None)
SIGNED_IN = Rule(Role.ANNOTATOR)
OWN_TASK = Rule(Role.ANNOTATOR, "annotators: only tasks leased to them (else 404); reviewers and above: any")
HOLDER = Rule(Role.ANNOTATOR, "only the annotator holding the lease (else 404 for annotators)")
REVIEWER = Rule(Role.REVIEWER)
MANAGER = Rule(Role.MANAGER)
ADMIN = Rule(Role.ADMIN)

RULES: dict[str, Rule] = {
    # documentation, health, metrics and the web UI (its data comes from the API below)
    "GET /api/v1/openapi.json": PUBLIC,
    "GET /api/v1/docs": PUBLIC,
    "GET /docs/oauth2-redirect": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /{path:path}": PUBLIC,
    # a presigned link (media, export) carries its own HMAC signature and expiry instead of a token
    "GET /api/v1/signed/{token}": PUBLIC,
    # users and tokens
    "GET /api/v1/me": SIGNED_IN,
    "GET /api/v1/me/tokens": Rule(Role.ANNOTATOR, "the caller's own tokens"),
    "POST /api/v1/me/tokens": Rule(Role.ANNOTATOR, "a token for the caller"),
    "DELETE /api/v1/tokens/{token_id}": Rule(Role.ANNOTATOR, "own tokens; an admin any (else 404)"),
    "GET /api/v1/users": ADMIN,
    "POST /api/v1/users": ADMIN,
    "GET /api/v1/users/{user_id}/tokens": ADMIN,
    "POST /api/v1/users/{user_id}/tokens": ADMIN,
    # audit
    "GET /api/v1/audit": Rule(Role.MANAGER, "entity user and token: admin only"),
    "GET /api/v1/annotations/{annotation_id}/history": REVIEWER,
    "GET /api/v1/items/{item_id}/history": REVIEWER,
    # projects
    "POST /api/v1/projects": MANAGER,
    "GET /api/v1/projects": SIGNED_IN,
    "GET /api/v1/projects/{project_id}": SIGNED_IN,
    "PATCH /api/v1/projects/{project_id}": MANAGER,
    "POST /api/v1/projects/{project_id}/items": MANAGER,
    "POST /api/v1/projects/{project_id}/sources": MANAGER,
    "POST /api/v1/projects/{project_id}/sources/sync": MANAGER,
    "PUT /api/v1/projects/{project_id}/sources/sync/schedule": MANAGER,
    "GET /api/v1/projects/{project_id}/sources/sync/schedule": MANAGER,
    "DELETE /api/v1/projects/{project_id}/sources/sync/schedule": MANAGER,
    "POST /api/v1/projects/{project_id}/priority": MANAGER,
    "GET /api/v1/projects/{project_id}/stats": SIGNED_IN,
    "GET /api/v1/projects/{project_id}/annotators": Rule(Role.ANNOTATOR, "annotators see only their own figures"),
    "POST /api/v1/projects/{project_id}/annotators/{annotator_id}/reinstate": MANAGER,
    "GET /api/v1/projects/{project_id}/flags": REVIEWER,
    # labeling
    "POST /api/v1/projects/{project_id}/tasks/next": SIGNED_IN,
    "POST /api/v1/projects/{project_id}/tasks/lease": SIGNED_IN,
    "GET /api/v1/tasks/{task_id}": OWN_TASK,
    "GET /api/v1/tasks/{task_id}/media": OWN_TASK,
    "GET /api/v1/tasks/{task_id}/media/link": OWN_TASK,
    "POST /api/v1/tasks/{task_id}/submit": HOLDER,
    "POST /api/v1/tasks/{task_id}/skip": HOLDER,
    "POST /api/v1/tasks/{task_id}/heartbeat": HOLDER,
    "GET /api/v1/tasks/{task_id}/draft": HOLDER,
    "PUT /api/v1/tasks/{task_id}/draft": HOLDER,
    "DELETE /api/v1/tasks/{task_id}/draft": OWN_TASK,
    "POST /api/v1/tasks/{task_id}/flag": OWN_TASK,
    "GET /api/v1/tasks/{task_id}/flags": OWN_TASK,
    "GET /api/v1/tasks/{task_id}/comments": OWN_TASK,
    "POST /api/v1/tasks/{task_id}/comments": OWN_TASK,
    "GET /api/v1/tasks/{task_id}/rework": OWN_TASK,
    "POST /api/v1/tasks/{task_id}/assist": OWN_TASK,
    # review
    "GET /api/v1/projects/{project_id}/reviews": REVIEWER,
    "POST /api/v1/projects/{project_id}/reviews/{item_id}": REVIEWER,
    # review screen and project management (entrypoints/review.py, entrypoints/manage.py)
    "GET /api/v1/projects/{project_id}/review-queue": REVIEWER,
    "POST /api/v1/projects/{project_id}/review-queue/{item_id}": REVIEWER,
    "GET /api/v1/projects/{project_id}/schema/versions": REVIEWER,
    "POST /api/v1/projects/{project_id}/schema/migrate": MANAGER,
    "GET /api/v1/projects/{project_id}/people": MANAGER,
    "POST /api/v1/projects/{project_id}/annotators/{annotator_id}/pause": MANAGER,
    "POST /api/v1/users/{user_id}/role": Rule(Role.MANAGER, "the admin role: only an admin grants or takes it"),
    # dashboards (entrypoints/dashboards.py)
    "GET /api/v1/projects/{project_id}/dashboard": MANAGER,
    "GET /api/v1/projects/{project_id}/dashboard/annotators/{annotator_id}": Rule(
        Role.ANNOTATOR, "annotators and reviewers: only their own figures (annotators/me); managers: anyone's"
    ),
    # exports, dataset versions, webhooks
    "POST /api/v1/projects/{project_id}/exports": MANAGER,
    "GET /api/v1/exports/{export_id}": MANAGER,
    "GET /api/v1/exports/{export_id}/download": MANAGER,
    "GET /api/v1/exports/{export_id}/link": MANAGER,
    "GET /api/v1/exports/{export_id}/progress": MANAGER,
    "GET /api/v1/exports/{export_id}/manifest": MANAGER,
    "GET /api/v1/projects/{project_id}/versions": MANAGER,
    "POST /api/v1/projects/{project_id}/versions": MANAGER,
    "POST /api/v1/projects/{project_id}/webhooks": MANAGER,
    "GET /api/v1/projects/{project_id}/webhooks": MANAGER,
    "DELETE /api/v1/projects/{project_id}/webhooks/{webhook_id}": MANAGER,
    "GET /api/v1/webhooks/{webhook_id}/deliveries": MANAGER,
    # model registry (preannotate): versions, promotion, connected models
    "GET /api/v1/projects/{project_id}/models": MANAGER,
    "POST /api/v1/projects/{project_id}/models/promote": MANAGER,
    "POST /api/v1/projects/{project_id}/models/connect": MANAGER,
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of ``METHOD /path/template`` (HEAD follows GET); None when the route has none."""
    method = "GET" if method == "HEAD" else method
    return RULES.get(f"{method} {path}")


def allowed(rule: Rule, role: Role | None) -> bool:
    """Whether a caller with ``role`` (None: no valid token) passes ``rule``."""
    if rule.role is None:
        return True
    return role is not None and at_least(role, rule.role)
