"""Controlled vocabularies, kept as versioned JSON data files beside this module.

Each file holds ``{"name", "version", "source", "terms": [{"code", "label"}]}``. Models refer to
a vocabulary through the aliases at the end of this module (``BodyRegion``...).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema


class VocabularyTerm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    label: str


class Vocabulary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    source: str
    terms: tuple[VocabularyTerm, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(term.code for term in self.terms)

    def label(self, code: str) -> str:
        for term in self.terms:
            if term.code == code:
                return term.label
        raise KeyError(code)


@cache
def vocabulary(name: str) -> Vocabulary:
    """Load one vocabulary by name (the file ``<name>.json``)."""
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    loaded = Vocabulary.model_validate(json.loads(text))
    if loaded.name != name:
        raise ValueError(f"vocabulary file {name}.json names itself {loaded.name}")
    return loaded


class InVocabulary:
    """Annotation marker: the ``str`` must be a code of the named vocabulary.

    ``Annotated[str, InVocabulary("body_regions")]`` validates the code and lists the allowed
    values in the JSON schema (and so in OpenAPI and AsyncAPI).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        vocabulary(name)  # fail at import if the data file is missing or invalid

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        vocab = vocabulary(self.name)
        return {
            "type": "string",
            "enum": list(vocab.codes),
            "description": f"A code from the {self.name} vocabulary, version {vocab.version}.",
        }

    def _check(self, value: str) -> str:
        vocab = vocabulary(self.name)
        if value not in vocab.codes:
            raise ValueError(
                f"'{value}' is not in the {self.name} vocabulary (version {vocab.version})"
            )
        return value


BodyRegion = Annotated[str, InVocabulary("body_regions")]
LesionType = Annotated[str, InVocabulary("lesion_types")]
ConsistencyLevel = Annotated[str, InVocabulary("consistency_levels")]
TortureMethod = Annotated[str, InVocabulary("torture_methods")]
PerpetratorType = Annotated[str, InVocabulary("perpetrator_types")]
DetentionPlace = Annotated[str, InVocabulary("detention_places")]
