"""Roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    MANAGER = "manager"
    ADMIN = "admin"


_RANK = {Role.ANNOTATOR: 0, Role.REVIEWER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def at_least(role: Role, needed: Role) -> bool:
    return _RANK[role] >= _RANK[needed]
