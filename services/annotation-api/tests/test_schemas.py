"""Label mappings between schema versions (service_layer/schemas.py): what the migrate endpoint accepts."""

from __future__ import annotations

import pytest

from annotary_annotation_api.service_layer.schemas import MappingError, check_mapping, label_names

V1 = {"modality": "image", "tools": ["bbox"], "labels": [{"name": "cat"}, {"name": "dog"}, {"name": "bird"}]}
V2 = {"modality": "image", "tools": ["bbox"], "labels": [{"name": "feline"}, {"name": "dog"}]}


def test_label_names() -> None:
    assert label_names(V1) == ["cat", "dog", "bird"]
    assert label_names({"labels": [{"color": "#fff"}, "x"]}) == []


def test_a_mapping_renames_drops_and_leaves_out_identities() -> None:
    assert check_mapping(V1, V2, {"cat": "feline", "bird": None, "dog": "dog"}) == {"cat": "feline", "bird": ""}
    assert check_mapping(V1, V2, {"cat": "feline", "bird": "", "dog": "feline"}) == {
        "cat": "feline",
        "bird": "",
        "dog": "feline",
    }


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"cat": "feline"}, "label(s) 'bird' of the old version are not in the new one"),
        ({}, "label(s) 'cat', 'bird' of the old version"),
        ({"cat": "tiger", "bird": None}, "mapping['cat']: 'tiger' is not a label of the new version"),
        ({"cow": "dog", "cat": "feline", "bird": None}, "mapping: 'cow' is not a label of the old version"),
    ],
)
def test_a_mapping_that_does_not_fit_is_refused_naming_the_label(mapping: dict[str, str | None], message: str) -> None:
    with pytest.raises(MappingError) as info:
        check_mapping(V1, V2, mapping)
    assert message in str(info.value)
