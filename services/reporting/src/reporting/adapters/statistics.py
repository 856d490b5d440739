"""The anonymised projections statistics are computed from (``patterns``, ``operations``).

Each case is filed under a keyed hash of its id, never the id itself, so a projection cannot be
joined back to a case without the key; neither holds a name, a reference or an exact date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.mongo import Document
from reporting.domain.statistics import CaseFacts

PATTERNS = "patterns"
OPERATIONS = "operations"


class PatternProjection:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def record(self, key: str, facts: CaseFacts) -> None:
        """Idempotent: a redelivered event files the same facts under the same key."""
        await self._collection.replace_one(
            {"_id": key},
            {
                "countries": list(facts.countries),
                "year": facts.year,
                "methods": list(facts.methods),
                "perpetrators": list(facts.perpetrators),
                "gender": facts.gender,
                "age_band": facts.age_band,
                "origin": facts.origin,
                "month": facts.month,
            },
            upsert=True,
        )

    async def all(self) -> list[CaseFacts]:
        return [
            CaseFacts(
                countries=tuple(raw["countries"]),
                year=raw["year"],
                methods=tuple(raw["methods"]),
                perpetrators=tuple(raw["perpetrators"]),
                gender=raw["gender"],
                age_band=raw["age_band"],
                origin=raw["origin"],
                month=raw["month"],
            )
            async for raw in self._collection.find({}, {"_id": 0})
        ]


class OperationsProjection:
    """Where each case stands and when it got there (by day), for managers' statistics."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("stage")

    async def update(self, key: str, **fields: Any) -> None:
        stored = {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}
        await self._collection.update_one({"_id": key}, {"$set": stored}, upsert=True)

    async def all(self) -> list[Document]:
        return [raw async for raw in self._collection.find({}, {"_id": 0})]
