"""What the OpenAPI documents say beyond what FastAPI infers: schemas of bodies a service
validates itself (a draft, checked against the full form), named in the components."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

REF = "#/components/schemas/{model}"


PLACEHOLDER = "x-corroborate-component"


def component(name: str) -> dict[str, str]:
    """Where a field's schema (``pydantic.WithJsonSchema``) is the component ``name``, which
    ``add_components`` adds: pydantic cannot refer to a schema it did not make, so the field
    holds a placeholder, replaced by the reference once the document is made."""
    return {"type": "object", PLACEHOLDER: name}


def model_components(model: type[BaseModel], *, name: str) -> dict[str, dict[str, Any]]:
    """``model``'s JSON schema as component schemas: ``name`` and each of its sections."""
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    sections: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {name: schema, **sections}


def partial_components(
    components: Mapping[str, dict[str, Any]], *, suffix: str
) -> dict[str, dict[str, Any]]:
    """The same object schemas with nothing required (a draft: any part may still be missing),
    each named with ``suffix``, referring to each other."""
    objects = {n: schema for n, schema in components.items() if "properties" in schema}
    text = json.dumps(objects)
    for name in objects:  # enumerations stay as they are, shared by both
        text = text.replace(f'"{REF.format(model=name)}"', f'"{REF.format(model=name + suffix)}"')
    partial: dict[str, dict[str, Any]] = json.loads(text)
    for schema in partial.values():
        _drop_required(schema)
    return {f"{n}{suffix}": schema for n, schema in partial.items()}


def _refer(schema: Any) -> None:
    """Each placeholder ``component`` left, made a reference (keeping its description)."""
    if isinstance(schema, dict):
        name = schema.pop(PLACEHOLDER, None)
        if name is not None:
            schema.pop("type", None)
            schema["$ref"] = REF.format(model=name)
        for value in schema.values():
            _refer(value)
    elif isinstance(schema, list):
        for value in schema:
            _refer(value)


def _drop_required(schema: Any) -> None:
    if isinstance(schema, dict):
        schema.pop("required", None)
        for value in schema.values():
            _drop_required(value)
    elif isinstance(schema, list):
        for value in schema:
            _drop_required(value)


def add_components(app: FastAPI, schemas: Mapping[str, dict[str, Any]]) -> None:
    """Put ``schemas`` in ``app``'s OpenAPI document, beside those FastAPI finds."""
    generate = app.openapi
    extra = copy.deepcopy(dict(schemas))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        known = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in extra.items():
            if name in known and known[name] != schema:
                raise ValueError(f"two different schemas are named {name}")
            known[name] = schema
        _refer(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
