"""Authentication and the access table (domain/access.py) enforced for every route of the API router.

``enforce_access`` runs before each /api/v1 handler: it finds the route's template, looks its rule up, and
answers 401 (no or bad token) or 403 (role too low; or no rule declared: fail closed) before the handler runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import iter_route_contexts

from annotary_annotation_api.domain.access import allowed, rule_for
from annotary_annotation_api.entrypoints.errors import ApiError
from annotary_annotation_api.service_layer import users
from annotary_annotation_api.service_layer.users import User

_TEMPLATES = "annotary_route_templates"


def route_templates(app: Any) -> dict[int, str]:
    """id(original route) -> its full path template, for every route of ``app`` (included routers flattened)."""
    return {id(ctx.original_route): ctx.path for ctx in iter_route_contexts(app.routes) if ctx.path}


def _template(request: Request) -> str | None:
    route = request.scope.get("route")
    if route is None:
        return None
    app = request.app
    templates: dict[int, str] | None = getattr(app.state, _TEMPLATES, None)
    if templates is None or id(route) not in templates:
        templates = route_templates(app)
        setattr(app.state, _TEMPLATES, templates)
    return templates.get(id(route))


async def authenticate(request: Request) -> User:
    """The user behind the bearer token (cached on the request); 401 when there is none or it is not active."""
    cached: User | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
    deps = request.app.state.deps
    async with deps.pool.acquire() as conn:
        user = await users.user_for_token(conn, token.strip())
    if user is None:
        raise ApiError(401, "invalid token: unknown, revoked or expired")
    request.state.user = user
    return user


async def enforce_access(request: Request) -> None:
    method = request.method
    template = _template(request)
    rule = rule_for(method, template) if template else None
    if rule is None:
        raise ApiError(403, f"{method} {template or request.url.path} has no access rule (domain/access.py), so it "
                            "is refused to everyone")
    if rule.public:
        return
    user = await authenticate(request)
    if not allowed(rule, user.role):
        assert rule.role is not None
        raise ApiError(403, f"{method} {template} needs the {rule.role.value} role or above; "
                            f"you are {user.role.value}")
