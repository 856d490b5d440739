"""The clinician roster in MongoDB (``clinicians``), and each clinician's open caseload."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.mongo import Document
from review.domain.case import OPEN_CASELOAD
from review.domain.roster import Clinician

COLLECTION = "clinicians"


class MongoRoster:
    def __init__(
        self, clinicians: AsyncCollection[Document], cases: AsyncCollection[Document]
    ) -> None:
        self._clinicians = clinicians
        self._cases = cases

    async def put(self, clinician: Clinician) -> None:
        """Add a clinician or replace their entry (leave, capacity, leaving the service)."""
        document: dict[str, Any] = clinician.model_dump(mode="json")
        document["_id"] = document.pop("clinician_id")
        await self._clinicians.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def get(self, clinician_id: str) -> Clinician | None:
        raw = await self._clinicians.find_one({"_id": clinician_id})
        return None if raw is None else _load(raw)

    async def all(self) -> list[Clinician]:
        return [_load(raw) async for raw in self._clinicians.find({}).sort("_id", 1)]

    async def caseloads(self) -> Counter[str]:
        """Open cases per clinician (assigned and not yet completed)."""
        counts: Counter[str] = Counter()
        found = self._cases.find(
            {"status": {"$in": [s.value for s in OPEN_CASELOAD]}}, {"clinician_id": 1}
        )
        async for raw in found:
            if raw.get("clinician_id"):
                counts[raw["clinician_id"]] += 1
        return counts


def _load(raw: Document) -> Clinician:
    fields = {k: v for k, v in raw.items() if k != "_id"}
    return Clinician.model_validate({"clinician_id": raw["_id"], **fields})
