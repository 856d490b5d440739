"""Referrals in MongoDB: every query intake makes lives here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from corroborate.crypto import WrappedKey
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document
from intake.domain.referral import DocumentKind, DocumentRecord, Referral, ReferralStatus

COLLECTION = "referrals"


class StoredReferral:
    """A referral as loaded: the aggregate plus its sealed details and wrapped data key."""

    def __init__(self, referral: Referral, *, sealed_details: str, wrapped_key: WrappedKey) -> None:
        self.referral = referral
        self.sealed_details = sealed_details
        self.wrapped_key = wrapped_key


def _document_to_mongo(d: DocumentRecord) -> Document:
    return {
        "document_id": str(d.document_id),
        "kind": d.kind.value,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "received_at": d.received_at,
        "object_key": d.object_key,
    }


def _document_from_mongo(raw: Document) -> DocumentRecord:
    return DocumentRecord(
        document_id=uuid.UUID(raw["document_id"]),
        kind=DocumentKind(raw["kind"]),
        content_type=raw["content_type"],
        size=raw["size"],
        sha256=raw["sha256"],
        received_at=raw["received_at"],
        object_key=raw["object_key"],
    )


def _state(referral: Referral) -> Document:
    return {
        "status": referral.status.value,
        "submitted_at": referral.submitted_at,
        "documents": [_document_to_mongo(d) for d in referral.documents],
        "status_history": [{"status": s.value, "at": at} for s, at in referral.status_history],
        "report": referral.report,
    }


class ReferralRepository:
    def __init__(
        self, collection: AsyncCollection[Document], *, on_events: Callable[[], None]
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("organisation", 1), ("created_at", -1)])
        await self._collection.create_index("reference", unique=True)

    async def add(
        self,
        referral: Referral,
        *,
        sealed_details: str,
        wrapped_key: WrappedKey,
        service_requested: str,
    ) -> None:
        await self._aggregates.create(
            document={
                "_id": str(referral.case_id),
                "reference": referral.reference,
                "organisation": referral.organisation,
                "created_by": referral.created_by,
                "created_at": referral.created_at,
                "sealed_details": sealed_details,
                "wrapped_key": wrapped_key.model_dump(),
                "service_requested": service_requested,
                **_state(referral),
            },
            events=[],
        )
        referral.version = 1

    async def get(self, case_id: uuid.UUID) -> StoredReferral | None:
        raw = await self._aggregates.load(str(case_id))
        return None if raw is None else self._load(raw)

    async def list_for_organisation(self, organisation: str, *, limit: int) -> list[Referral]:
        cursor = (
            self._collection.find(
                {"organisation": organisation}, {"outbox": 0, "sealed_details": 0}
            )
            .sort("created_at", -1)
            .limit(limit)
        )
        return [self._load(raw).referral async for raw in cursor]

    async def append_document(self, case_id: uuid.UUID, document: DocumentRecord) -> bool:
        """Attach a document to a draft in one atomic step; False if it is no longer a draft.

        Uploads in parallel each append their own record: none overwrites another.
        """
        result = await self._collection.update_one(
            {"_id": str(case_id), "status": ReferralStatus.DRAFT.value},
            {"$push": {"documents": _document_to_mongo(document)}, "$inc": {"version": 1}},
        )
        return result.modified_count == 1

    async def save(
        self,
        referral: Referral,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
        sealed_details: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        changes = _state(referral) | (extra or {})
        if sealed_details is not None:
            changes["sealed_details"] = sealed_details
        await self._aggregates.save(
            aggregate_id=str(referral.case_id),
            expected_version=referral.version,
            changes=changes,
            events=events,
            processed_event=processed_event,
        )
        referral.version += 1

    @staticmethod
    def _load(raw: Document) -> StoredReferral:
        referral = Referral(
            case_id=uuid.UUID(raw["_id"]),
            reference=raw["reference"],
            organisation=raw["organisation"],
            created_by=raw["created_by"],
            status=ReferralStatus(raw["status"]),
            created_at=raw["created_at"],
            version=raw["version"],
            documents=[_document_from_mongo(d) for d in raw.get("documents", [])],
            submitted_at=raw.get("submitted_at"),
            status_history=[
                (ReferralStatus(h["status"]), h["at"]) for h in raw.get("status_history", [])
            ],
            report=raw.get("report"),
        )
        return StoredReferral(
            referral,
            sealed_details=raw.get("sealed_details", ""),
            wrapped_key=WrappedKey.model_validate(raw["wrapped_key"]),
        )
