"""Legal reviews and issued report versions in MongoDB: every query reporting makes.

A review's stored document is shaped here and only here: the models below read the domain
objects' attributes and dump them as stored (ids and due dates as text, the findings and
documents as JSON, times as BSON dates); a ``TypeAdapter`` of the domain class reads it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, TypeAdapter
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import ClinicalFindings, DocumentReference, SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document, StoredAggregate
from reporting.domain.legal_review import ChangeRequest, LegalReview, LegalReviewStatus
from reporting.ports import StoredReview

COLLECTION = "legal_reviews"


def _as_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


_Text = Annotated[uuid.UUID, PlainSerializer(str)]
_Day = Annotated[date, PlainSerializer(date.isoformat)]
_Findings = Annotated[ClinicalFindings, PlainSerializer(_as_json)]
_DocumentRef = Annotated[DocumentReference, PlainSerializer(_as_json)]


class _Shape(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _SignOff(_Shape):
    by: str
    at: datetime
    statement: str


class _Download(_Shape):
    by: str
    organisation: str
    at: datetime


class _Report(_Shape):
    report_id: _Text
    version: int
    object_key: str
    sha256: str
    size: int
    issued_at: datetime
    version_id: str | None
    signed_off: _SignOff | None
    downloads: list[_Download]


class _ChangeRequest(_Shape):
    by: str
    at: datetime
    sealed_comments: str


class _State(_Shape):
    """What a save may change."""

    status: str
    sign_off: _SignOff | None
    reports: list[_Report]
    change_requests: list[_ChangeRequest]
    findings: _Findings
    previous_findings: _Findings | None
    approved_by: str | None
    documents: list[_DocumentRef]
    received_at: datetime


class _Opening(_Shape):
    """What the review is opened with and keeps."""

    reference: str
    organisation: str
    clinician_id: str
    clinician_name: str
    clinician_qualifications: str
    report_due: _Day | None
    correlation_id: _Text


_REVIEW = TypeAdapter(LegalReview)


def _state(review: LegalReview) -> Document:
    return _State.model_validate(review).model_dump()


def _load(raw: Document) -> LegalReview:
    return _REVIEW.validate_python({**raw, "case_id": raw["_id"]})


def _stored(raw: Document | None) -> StoredReview | None:
    if raw is None:
        return None
    protected = raw.get("protected") or {}
    alive = "key_id" in (protected.get("wrapped_key") or {})
    review = _load(raw)
    return StoredAggregate(
        review,
        case_id=review.case_id,
        protected=SealedDetails.model_validate(protected) if alive else None,
    )


class LegalReviewRepository:
    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("status", 1), ("report_due", 1)])
        await self._collection.create_index("reports.report_id")

    async def add(
        self, review: LegalReview, *, protected: SealedDetails, caused_by: uuid.UUID
    ) -> None:
        await self._aggregates.create(
            document={
                "_id": str(review.case_id),
                **_Opening.model_validate(review).model_dump(),
                "protected": protected.model_dump(),
                **_state(review),
            },
            events=[],
            caused_by=caused_by,
        )
        review.version = 1

    async def get(self, case_id: uuid.UUID) -> StoredReview | None:
        return _stored(await self._aggregates.load(str(case_id)))

    async def by_report(self, report_id: uuid.UUID) -> StoredReview | None:
        return _stored(
            await self._collection.find_one({"reports.report_id": str(report_id)}, {"outbox": 0})
        )

    async def queue(self, *, limit: int) -> list[LegalReview]:
        cursor = (
            self._collection.find(
                {
                    "status": {
                        "$in": [
                            LegalReviewStatus.AWAITING_LEGAL_REVIEW.value,
                            LegalReviewStatus.SIGNED_OFF.value,  # signed, report not yet issued
                        ]
                    }
                },
                {"outbox": 0, "protected": 0},
            )
            .sort([("report_due", 1), ("received_at", 1)])
            .limit(limit)
        )
        return [_load(raw) async for raw in cursor]

    async def erase(self, review: LegalReview, *, processed_event: uuid.UUID) -> None:
        """Save the erased review with its data key and sealed comments destroyed."""
        review.change_requests = [
            ChangeRequest(c.by, c.at, sealed_comments="") for c in review.change_requests
        ]
        await self._aggregates.save(
            aggregate_id=str(review.case_id),
            expected_version=review.version,
            changes=_state(review) | {"protected": {"erased": True}},
            events=[],
            processed_event=processed_event,
        )
        review.version += 1

    async def save(
        self,
        review: LegalReview,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
    ) -> None:
        await self._aggregates.save(
            aggregate_id=str(review.case_id),
            expected_version=review.version,
            changes=_state(review),
            events=events,
            processed_event=processed_event,
        )
        review.version += 1
