"""Review cases in MongoDB: every query review makes lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import (
    ClinicalFindings,
    DocumentReference,
    RiskFlag,
    SealedDetails,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document
from review.domain.case import Assignment, CaseStatus, ReviewCase

COLLECTION = "cases"


class StoredCase:
    def __init__(self, case: ReviewCase, *, protected: SealedDetails) -> None:
        self.case = case
        self.protected = protected


def _state(case: ReviewCase) -> Document:
    return {
        "status": case.status.value,
        "accepted_by": case.accepted_by,
        "accepted_at": case.accepted_at,
        "report_due": case.report_due.isoformat() if case.report_due else None,
        "clinician_id": case.clinician_id,
        "assignments": [
            {
                "clinician_id": a.clinician_id,
                "assigned_by": a.assigned_by,
                "assigned_at": a.assigned_at,
            }
            for a in case.assignments
        ],
        "findings": case.findings.model_dump(mode="json") if case.findings else None,
        "completed_at": case.completed_at,
    }


class CaseRepository:
    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("status", 1), ("received_at", 1)])
        await self._collection.create_index([("clinician_id", 1), ("status", 1)])

    async def add_received(
        self, case: ReviewCase, *, protected: SealedDetails, caused_by: uuid.UUID
    ) -> None:
        """Open a case from ``referral.submitted``; the case id makes a redelivery a no-op."""
        await self._aggregates.create(
            document={
                "_id": str(case.case_id),
                "reference": case.reference,
                "organisation": case.organisation,
                "service_requested": case.service_requested,
                "risk_flags": [f.value for f in case.risk_flags],
                "documents": [d.model_dump(mode="json") for d in case.documents],
                "received_at": case.received_at,
                "response_due": case.response_due,
                "correlation_id": str(case.correlation_id),
                "protected": protected.model_dump(),
                **_state(case),
            },
            events=[],
            caused_by=caused_by,
        )
        case.version = 1

    async def get(self, case_id: uuid.UUID) -> StoredCase | None:
        raw = await self._aggregates.load(str(case_id))
        if raw is None:
            return None
        return StoredCase(_load(raw), protected=SealedDetails.model_validate(raw["protected"]))

    async def triage_queue(self, *, limit: int) -> list[ReviewCase]:
        cursor = (
            self._collection.find(
                {"status": CaseStatus.AWAITING_TRIAGE.value}, {"outbox": 0, "protected": 0}
            )
            .sort("received_at", 1)
            .limit(limit)
        )
        return [_load(raw) async for raw in cursor]

    async def assigned_to(self, clinician_id: str, *, limit: int) -> list[ReviewCase]:
        cursor = self._collection.find(
            {"clinician_id": clinician_id, "status": CaseStatus.ASSIGNED.value},
            {"outbox": 0, "protected": 0},
        ).limit(limit)
        return [_load(raw) async for raw in cursor]

    async def save(self, case: ReviewCase, *, events: list[EventEnvelope]) -> None:
        await self._aggregates.save(
            aggregate_id=str(case.case_id),
            expected_version=case.version,
            changes=_state(case),
            events=events,
        )
        case.version += 1


def _load(raw: Document) -> ReviewCase:
    return ReviewCase(
        case_id=uuid.UUID(raw["_id"]),
        reference=raw["reference"],
        organisation=raw["organisation"],
        service_requested=raw["service_requested"],
        risk_flags=[RiskFlag(f) for f in raw["risk_flags"]],
        documents=[DocumentReference.model_validate(d) for d in raw["documents"]],
        received_at=raw["received_at"],
        response_due=raw["response_due"],
        correlation_id=uuid.UUID(raw["correlation_id"]),
        status=CaseStatus(raw["status"]),
        version=raw["version"],
        accepted_by=raw.get("accepted_by"),
        accepted_at=raw.get("accepted_at"),
        report_due=date.fromisoformat(raw["report_due"]) if raw.get("report_due") else None,
        assignments=[Assignment(**a) for a in raw.get("assignments", [])],
        findings=ClinicalFindings.model_validate(raw["findings"]) if raw.get("findings") else None,
        completed_at=raw.get("completed_at"),
    )
