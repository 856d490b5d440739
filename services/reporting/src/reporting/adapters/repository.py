"""Legal reviews and issued report versions in MongoDB: every query reporting makes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.events.contracts import ClinicalFindings, DocumentReference, SealedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document
from reporting.domain.legal_review import (
    ChangeRequest,
    Download,
    LegalReview,
    LegalReviewStatus,
    ReportVersion,
    SignOff,
)

COLLECTION = "legal_reviews"


class CaseErasedError(Exception):
    """The case was erased: its data key is gone here too, and its reports unreadable."""


class StoredReview:
    def __init__(self, review: LegalReview, *, protected: SealedDetails | None) -> None:
        self.review = review
        self._protected = protected

    @property
    def protected(self) -> SealedDetails:
        if self._protected is None:
            raise CaseErasedError(f"case {self.review.case_id} was erased")
        return self._protected


def _state(review: LegalReview) -> Document:
    return {
        "status": review.status.value,
        "sign_off": _sign_off(review.sign_off),
        "reports": [
            {
                "report_id": str(r.report_id),
                "version": r.version,
                "object_key": r.object_key,
                "sha256": r.sha256,
                "size": r.size,
                "issued_at": r.issued_at,
                "version_id": r.version_id,
                "signed_off": _sign_off(r.signed_off),
                "downloads": [
                    {"by": d.by, "organisation": d.organisation, "at": d.at} for d in r.downloads
                ],
            }
            for r in review.reports
        ],
        "change_requests": [
            {"by": c.by, "at": c.at, "sealed_comments": c.sealed_comments}
            for c in review.change_requests
        ],
        "findings": review.findings.model_dump(mode="json"),
        "previous_findings": review.previous_findings.model_dump(mode="json")
        if review.previous_findings
        else None,
        "approved_by": review.approved_by,
        "documents": [d.model_dump(mode="json") for d in review.documents],
        "received_at": review.received_at,
    }


def _sign_off(sign_off: SignOff | None) -> Document | None:
    if sign_off is None:
        return None
    return {"by": sign_off.by, "at": sign_off.at, "statement": sign_off.statement}


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
                "reference": review.reference,
                "organisation": review.organisation,
                "clinician_id": review.clinician_id,
                "clinician_name": review.clinician_name,
                "clinician_qualifications": review.clinician_qualifications,
                "report_due": review.report_due.isoformat() if review.report_due else None,
                "correlation_id": str(review.correlation_id),
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


def _stored(raw: Document | None) -> StoredReview | None:
    if raw is None:
        return None
    protected = raw.get("protected") or {}
    alive = "key_id" in (protected.get("wrapped_key") or {})
    return StoredReview(
        _load(raw), protected=SealedDetails.model_validate(protected) if alive else None
    )


def _load(raw: Document) -> LegalReview:
    sign_off = raw.get("sign_off")
    return LegalReview(
        case_id=uuid.UUID(raw["_id"]),
        reference=raw["reference"],
        organisation=raw["organisation"],
        clinician_id=raw["clinician_id"],
        clinician_name=raw["clinician_name"],
        approved_by=raw.get("approved_by"),
        findings=ClinicalFindings.model_validate(raw["findings"]),
        documents=[DocumentReference.model_validate(d) for d in raw["documents"]],
        report_due=date.fromisoformat(raw["report_due"]) if raw.get("report_due") else None,
        received_at=raw["received_at"],
        correlation_id=uuid.UUID(raw["correlation_id"]),
        status=LegalReviewStatus(raw["status"]),
        version=raw["version"],
        sign_off=SignOff(**sign_off) if sign_off else None,
        reports=[
            ReportVersion(
                report_id=uuid.UUID(r["report_id"]),
                version=r["version"],
                object_key=r["object_key"],
                sha256=r["sha256"],
                size=r["size"],
                issued_at=r["issued_at"],
                version_id=r.get("version_id"),
                signed_off=SignOff(**r["signed_off"]) if r.get("signed_off") else None,
                downloads=[Download(**d) for d in r.get("downloads", [])],
            )
            for r in raw.get("reports", [])
        ],
        change_requests=[ChangeRequest(**c) for c in raw.get("change_requests", [])],
        previous_findings=ClinicalFindings.model_validate(raw["previous_findings"])
        if raw.get("previous_findings")
        else None,
        clinician_qualifications=raw.get("clinician_qualifications", ""),
    )
