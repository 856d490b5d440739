"""What managers' operational statistics are made of: deadlines review escalated, per case."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import CaseEscalated
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import Document

COLLECTION = "deadline_escalations"


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
