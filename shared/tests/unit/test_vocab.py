"""Controlled vocabularies: every data file loads, and models accept only their codes."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from corroborate.events.contracts import ClinicalFindings, Lesion
from corroborate.vocab import vocabulary

NAMES = sorted(
    entry.name.removesuffix(".json")
    for entry in resources.files("corroborate.vocab").iterdir()
    if entry.name.endswith(".json")
)


def test_the_six_vocabularies_ship_with_the_package() -> None:
    assert NAMES == [
        "body_regions",
        "consistency_levels",
        "detention_places",
        "lesion_types",
        "perpetrator_types",
        "torture_methods",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_vocabulary_loads_with_unique_codes_and_labels(name: str) -> None:
    vocab = vocabulary(name)
    assert vocab.name == name
    assert vocab.version
    assert vocab.source
    assert vocab.terms
    assert len(set(vocab.codes)) == len(vocab.codes), "duplicate codes"
    labels = [term.label for term in vocab.terms]
    assert len(set(labels)) == len(labels), "duplicate labels"
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", code) for code in vocab.codes)
    assert all(label.strip() for label in labels)


def test_consistency_levels_are_exactly_the_istanbul_protocols_five() -> None:
    levels = vocabulary("consistency_levels")
    assert levels.codes == (
        "not_consistent_with",
        "consistent_with",
        "highly_consistent_with",
        "typical_of",
        "diagnostic_of",
    )
    assert levels.label("highly_consistent_with") == "highly consistent with"
    assert "Istanbul Protocol" in levels.source


def test_label_of_an_unknown_code_raises_key_error() -> None:
    with pytest.raises(KeyError):
        vocabulary("consistency_levels").label("probably")


def test_unknown_vocabulary_cannot_be_loaded() -> None:
    with pytest.raises(FileNotFoundError):
        vocabulary("astrological_signs")


def lesion(**overrides: Any) -> dict[str, Any]:
    region = vocabulary("body_regions").codes[0]
    kind = vocabulary("lesion_types").codes[0]
    return {
        "region": region,
        "lesion_type": kind,
        "size_mm": 30,
        "description": "linear scar",
        "attributed_cause": "beating with a cable",
        "consistency": "highly_consistent_with",
    } | overrides


def test_lesion_with_known_codes_is_valid() -> None:
    assert Lesion.model_validate(lesion()).consistency == "highly_consistent_with"


@pytest.mark.parametrize(
    ("field", "vocab"),
    [
        ("region", "body_regions"),
        ("lesion_type", "lesion_types"),
        ("consistency", "consistency_levels"),
    ],
)
def test_lesion_with_an_unknown_code_fails_naming_the_vocabulary(field: str, vocab: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Lesion.model_validate(lesion(**{field: "left_wing"}))
    message = str(raised.value)
    assert field in message
    assert f"'left_wing' is not in the {vocab} vocabulary" in message
    assert vocabulary(vocab).version in message


def test_overall_consistency_is_checked_against_the_vocabulary() -> None:
    with pytest.raises(ValidationError, match="consistency_levels"):
        ClinicalFindings(
            lesions=[Lesion.model_validate(lesion())],
            overall_consistency="somewhat",
            interpretation="i",
            conclusions="c",
        )


def test_json_schema_lists_the_allowed_codes() -> None:
    """API clients (OpenAPI/AsyncAPI) see exactly the codes the server accepts."""
    properties = Lesion.model_json_schema()["properties"]
    assert properties["region"]["enum"] == list(vocabulary("body_regions").codes)
    assert properties["consistency"]["enum"] == list(vocabulary("consistency_levels").codes)
    assert "consistency_levels vocabulary" in properties["consistency"]["description"]
