from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from annotary_annotation_api.domain.models import ItemIn, LabelSchema, Policy, ProjectIn
from annotary_annotation_api.domain.roles import Role, at_least
from annotary_annotation_api.entrypoints.errors import describe_errors

SCHEMA: dict[str, Any] = {"modality": "image", "labels": [{"name": "cat"}], "tools": ["bbox"]}


def test_valid_project_defaults_policy() -> None:
    project = ProjectIn.model_validate({"name": "p", "schema": SCHEMA})
    assert project.policy.overlap == 1 and project.policy.review == "disagreements"


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({**SCHEMA, "tools": ["lasso"]}, ["lasso"]),
        ({**SCHEMA, "labels": [{"name": "a"}, {"name": "a"}]}, ["unique"]),
        ({**SCHEMA, "labels": []}, ["labels"]),
        ({**SCHEMA, "tools": ["choice"], "labels": []}, ["choices"]),
        ({**SCHEMA, "modality": "smell"}, ["modality"]),
    ],
)
def test_bad_schema_names_the_problem(schema: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        LabelSchema.model_validate(schema)
    message = describe_errors(list(info.value.errors()))
    for word in words:
        assert word in message


@pytest.mark.parametrize("review", ["none", "disagreements", "all", "sample:0.25", "sample:1"])
def test_review_modes(review: str) -> None:
    assert Policy(review=review).review == review


@pytest.mark.parametrize(
    ("field", "value"), [("review", "sample:2"), ("overlap", 0), ("lease_seconds", 1), ("agreement_threshold", 1.5)]
)
def test_bad_policy(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Policy.model_validate({field: value})
    assert field in describe_errors(list(info.value.errors()))


def test_item_needs_exactly_one_content() -> None:
    assert ItemIn.model_validate({"text": "hi"}).modality == "text"
    assert ItemIn.model_validate({"image": "s3://b/k.png"}).modality == "image"
    for bad in ({}, {"text": "a", "image": "s3://b/k"}):
        with pytest.raises(ValidationError, match="exactly one"):
            ItemIn.model_validate(bad)


def test_describe_errors_paths() -> None:
    errors = [
        {"loc": ("body", "policy", "overlap"), "msg": "too small", "type": "x"},
        {"loc": (3, "image"), "msg": "bad", "type": "x"},
    ]
    assert describe_errors(errors) == "policy.overlap: too small; [3].image: bad"
    assert describe_errors(errors[1:], prefix="items") == "items[3].image: bad"


def test_roles_order() -> None:
    assert at_least(Role.ADMIN, Role.MANAGER)
    assert at_least(Role.REVIEWER, Role.ANNOTATOR)
    assert not at_least(Role.ANNOTATOR, Role.REVIEWER)
