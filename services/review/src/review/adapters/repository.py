"""Review cases in MongoDB: every query review makes lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor

from corroborate.events.contracts import SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document, StoredAggregate
from review.domain.case import IN_DELIVERY, OPEN_CASELOAD, CaseStatus, ReviewCase
from review.ports import StoredCase

COLLECTION = "cases"
# Never loaded into a case: its sealed details are read apart, its events by the relay.
NOT_THE_CASE = {"outbox": 0, "protected": 0}


class CaseDocument:
    """How a case is stored: ids and dates as text, times as BSON dates, contract models
    (findings, documents) as their JSON; the latest clinician beside them, for queries."""

    # Set once, from ``referral.submitted``; a save writes only what can change.
    RECEIVED = (
        "reference",
        "organisation",
        "service_requested",
        "risk_flags",
        "received_at",
        "correlation_id",
        "urgent_dates",
        "rule_35_report",
        "languages",
        "interpreter_needed",
    )
    _case = TypeAdapter(ReviewCase)

    @classmethod
    def received(cls, case: ReviewCase, *, protected: SealedDetails) -> Document:
        """The whole document of a case just opened."""
        return {"_id": str(case.case_id), **cls._fields(case), "protected": protected.model_dump()}

    @classmethod
    def changes(cls, case: ReviewCase) -> Document:
        """What a save writes: everything but what was set on receipt."""
        return {k: v for k, v in cls._fields(case).items() if k not in cls.RECEIVED}

    @staticmethod
    def _fields(case: ReviewCase) -> Document:
        # The id is stored as ``_id``, and the version is kept by the aggregate collection.
        document: Document = _stored(case)
        del document["case_id"], document["version"]
        document["clinician_id"] = case.clinician_id
        return document

    @classmethod
    def load(cls, raw: Document) -> ReviewCase:
        # Fields added since a document was written take the case's defaults.
        return cls._case.validate_python({**raw, "case_id": raw["_id"]})

    @staticmethod
    def protected(raw: Document) -> SealedDetails | None:
        """The sealed details, or None once the case was erased (its data key destroyed)."""
        protected = raw.get("protected") or {}
        wrapped = protected.get("wrapped_key") or {}
        return SealedDetails.model_validate(protected) if "key_id" in wrapped else None


def _stored(value: Any) -> Any:
    """A domain value as the document holds it."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _stored(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_stored(item) for item in value]
    if isinstance(value, dict):
        return {key: _stored(item) for key, item in value.items()}
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value  # times stay BSON dates


class MongoCaseRepository:
    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("status", 1), ("received_at", 1)])
        await self._collection.create_index([("clinician_id", 1), ("status", 1)])

    async def add_received(
        self,
        case: ReviewCase,
        *,
        protected: SealedDetails,
        caused_by: uuid.UUID,
        events: list[EventEnvelope],
    ) -> None:
        """Open a case from ``referral.submitted``; the case id makes a redelivery a no-op."""
        await self._aggregates.create(
            document=CaseDocument.received(case, protected=protected),
            events=events,
            caused_by=caused_by,
        )
        case.version = 1

    async def get(self, case_id: uuid.UUID) -> StoredCase | None:
        raw = await self._aggregates.load(str(case_id))
        if raw is None:
            return None
        return StoredAggregate(
            CaseDocument.load(raw), case_id=case_id, protected=CaseDocument.protected(raw)
        )

    async def triage_queue(self, *, status: CaseStatus, limit: int) -> list[ReviewCase]:
        found = self._collection.find({"status": status.value}, NOT_THE_CASE)
        return await self._cases(found.sort("received_at", 1).limit(limit))

    async def active(self, *, limit: int) -> list[ReviewCase]:
        """Cases whose deadlines can still be at risk: undecided or being delivered."""
        statuses = [CaseStatus.AWAITING_TRIAGE, *IN_DELIVERY]
        found = self._collection.find(
            {"status": {"$in": [s.value for s in statuses]}}, NOT_THE_CASE
        )
        return await self._cases(found.limit(limit))

    async def in_status(self, status: CaseStatus, *, limit: int) -> list[ReviewCase]:
        found = self._collection.find({"status": status.value}, NOT_THE_CASE)
        return await self._cases(found.sort("submitted_at", 1).limit(limit))

    async def assigned_to(self, clinician_id: str, *, limit: int) -> list[ReviewCase]:
        found = self._collection.find(
            {"clinician_id": clinician_id, "status": {"$in": [s.value for s in OPEN_CASELOAD]}},
            NOT_THE_CASE,
        )
        return await self._cases(found.limit(limit))

    async def erase(self, case: ReviewCase, *, processed_event: uuid.UUID) -> None:
        """Save the erased case with its sealed details' data key destroyed, in one write."""
        await self._save(case, {"protected": {"erased": True}}, [], processed_event)

    async def save(
        self,
        case: ReviewCase,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None:
        await self._save(case, {}, events, processed_event)

    async def _save(
        self,
        case: ReviewCase,
        extra: Document,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None,
    ) -> None:
        await self._aggregates.save(
            aggregate_id=str(case.case_id),
            expected_version=case.version,
            changes=CaseDocument.changes(case) | extra,
            events=events,
            processed_event=processed_event,
        )
        case.version += 1

    @staticmethod
    async def _cases(cursor: AsyncCursor[Document]) -> list[ReviewCase]:
        return [CaseDocument.load(raw) async for raw in cursor]
