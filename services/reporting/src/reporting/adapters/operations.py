"""What reporting keeps about cases besides their legal review: escalated deadlines (for the
managers' operational statistics) and withdrawals."""

from __future__ import annotations

import uuid
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import CaseEscalated
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import Document

COLLECTION = "deadline_escalations"
WITHDRAWN = "withdrawn_cases"


class DeadlineLog:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def record(self, envelope: EventEnvelope, escalated: CaseEscalated) -> None:
        """One document per event (its id), so a redelivery records nothing twice."""
        await self._collection.update_one(
            {"_id": str(envelope.event_id)},
            {
                "$setOnInsert": {
                    "case_id": str(envelope.case_id),
                    "kind": escalated.kind.value,
                    "due": escalated.due.isoformat(),
                    "detected_at": escalated.detected_at,
                }
            },
            upsert=True,
        )

    async def for_case(self, case_id: str) -> list[Document]:
        return [d async for d in self._collection.find({"case_id": case_id}).sort("detected_at")]


class WithdrawnCases:
    """Cases the partner withdrew, kept even when no legal review exists yet, so a draft
    approved in the same moment is never issued."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def add(self, case_id: uuid.UUID, *, at: datetime) -> None:
        await self._collection.update_one(
            {"_id": str(case_id)}, {"$setOnInsert": {"withdrawn_at": at}}, upsert=True
        )

    async def contains(self, case_id: uuid.UUID) -> bool:
        return await self._collection.count_documents({"_id": str(case_id)}, limit=1) > 0
