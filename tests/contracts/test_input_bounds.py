"""Every input is bounded in the committed OpenAPI documents: each string a caller sends has a
maximum length (or is an enumeration, a date, a time or an id), each list a maximum number of
items, so that no input size reaches a database's limit or a 5xx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts"
SERVICES = ("intake", "review", "reporting")
BOUNDED_FORMATS = frozenset({"date", "date-time", "uuid", "binary", "time"})


def _document(service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (CONTRACTS / f"{service}.openapi.json").read_text(encoding="utf-8")
    )
    return document


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _unbounded(
    document: dict[str, Any], schema: dict[str, Any], where: str, seen: frozenset[str]
) -> Iterator[str]:
    """Every place under ``schema`` where a string or a list has no upper bound."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen = seen | {name}
        schema = _resolve(document, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        for choice in schema.get(key, []):
            yield from _unbounded(document, choice, where, seen)
    kind = schema.get("type")
    closed = (
        "enum" in schema
        or "const" in schema
        or schema.get("format") in BOUNDED_FORMATS
        or _bounded_pattern(schema.get("pattern"))
    )
    if kind == "string" and not closed and "maxLength" not in schema:
        yield f"{where}: a string without maxLength"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: a list without maxItems"
        yield from _unbounded(document, schema.get("items", {}), f"{where}[]", seen)
    for name, field in schema.get("properties", {}).items():
        yield from _unbounded(document, field, f"{where}.{name}", seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _unbounded(document, extra, f"{where}.*", seen)
        if "maxProperties" not in schema:
            yield f"{where}: a map without maxProperties"


def _bounded_pattern(pattern: str | None) -> bool:
    """An anchored pattern with no open repetition (``*``, ``+``, ``{n,}``) bounds a length."""
    if pattern is None or not (pattern.startswith("^") and pattern.endswith("$")):
        return False
    return not re.search(r"(?<!\\)[*+]|,\}", pattern)


def _inputs(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield f"{where} {parameter['in']} {parameter['name']}", parameter["schema"]
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{where} body ({media})", content.get("schema", {})


@pytest.mark.parametrize("service", SERVICES)
def test_every_string_and_list_a_caller_sends_is_bounded(service: str) -> None:
    document = _document(service)
    problems = [
        problem
        for where, schema in _inputs(document)
        for problem in _unbounded(document, schema, where, frozenset())
    ]
    assert problems == []


def test_the_check_finds_an_unbounded_input() -> None:
    """The check itself: a string and a list without bounds are found, through a reference."""
    document: dict[str, Any] = {
        "components": {
            "schemas": {
                "Form": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
                        "words": {"type": "string", "pattern": "^[a-z]+$"},
                        "tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
                        "born": {"type": "string", "format": "date"},
                    },
                }
            }
        }
    }
    found = list(_unbounded(document, {"$ref": "#/components/schemas/Form"}, "body", frozenset()))
    assert found == [
        "body.name: a string without maxLength",
        "body.words: a string without maxLength",
        "body.tags: a list without maxItems",
    ]
