"""Referrals in MongoDB: every query intake makes lives here."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from corroborate.crypto import WrappedKey
from corroborate.events.envelope import EventEnvelope
from corroborate.mongo import AggregateCollection, Document
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    Referral,
    ReferralStatus,
    StatusChange,
    WorkingCopy,
)

COLLECTION = "referrals"


class InvalidCursor(ValueError):
    """The page cursor was not one this service gave out."""


class CaseErasedError(Exception):
    """The case was erased: its data key is gone, and with it everything the key protected."""


@dataclass(frozen=True)
class StoredReferral:
    """A referral as loaded: the aggregate, its details (identity fields sealed one by one),
    and its wrapped data key (None once the case is erased)."""

    referral: Referral
    details: dict[str, Any]
    wrapped: WrappedKey | None

    @property
    def wrapped_key(self) -> WrappedKey:
        if self.wrapped is None:
            raise CaseErasedError(f"case {self.referral.case_id} was erased")
        return self.wrapped


@dataclass(frozen=True)
class ListFilter:
    organisation: str
    statuses: list[ReferralStatus]
    created_from: datetime | None = None
    created_to: datetime | None = None
    home_office_index: str | None = None


def _document_to_mongo(d: DocumentRecord) -> Document:
    working = d.working_copy
    return {
        "document_id": str(d.document_id),
        "kind": d.kind.value,
        "content_type": d.content_type,
        "size": d.size,
        "sha256": d.sha256,
        "received_at": d.received_at,
        "object_key": d.object_key,
        "version_id": d.version_id,
        "working_copy": None
        if working is None
        else {
            "object_key": working.object_key,
            "content_type": working.content_type,
            "size": working.size,
            "sha256": working.sha256,
            "version_id": working.version_id,
        },
        "idempotency_key": d.idempotency_key,
    }


def _document_from_mongo(raw: Document) -> DocumentRecord:
    working = raw.get("working_copy")
    return DocumentRecord(
        document_id=uuid.UUID(raw["document_id"]),
        kind=DocumentKind(raw["kind"]),
        content_type=raw["content_type"],
        size=raw["size"],
        sha256=raw["sha256"],
        received_at=raw["received_at"],
        object_key=raw["object_key"],
        version_id=raw.get("version_id"),
        working_copy=None if working is None else WorkingCopy(**working),
        idempotency_key=raw.get("idempotency_key"),
    )


def _change_to_mongo(c: StatusChange) -> Document:
    return {
        "change_id": str(c.change_id),
        "status": c.status.value,
        "at": c.at,
        "deadline": None if c.deadline is None else c.deadline.isoformat(),
        "note": c.note,
    }


def _change_from_mongo(raw: Document) -> StatusChange:
    return StatusChange(
        change_id=uuid.UUID(raw["change_id"]),
        status=ReferralStatus(raw["status"]),
        at=raw["at"],
        deadline=None if raw.get("deadline") is None else date.fromisoformat(raw["deadline"]),
        note=raw.get("note"),
    )


def _state(referral: Referral) -> Document:
    return {
        "status": referral.status.value,
        "submitted_at": referral.submitted_at,
        "documents": [_document_to_mongo(d) for d in referral.documents],
        "timeline": [_change_to_mongo(c) for c in referral.timeline],
        "reports": referral.reports,
        "open_request": None if referral.open_request is None else str(referral.open_request),
        # Keys are stored as values, never as field names (a key may hold "." or "$").
        "applied_keys": [{"key": k, "fingerprint": f} for k, f in referral.applied_keys.items()],
        "updated_at": referral.timeline[-1].at if referral.timeline else referral.created_at,
        "legal_hold": referral.legal_hold,
    }


def _cursor_token(raw: Document) -> str:
    position = [raw["created_at"].isoformat(), raw["_id"]]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _cursor_position(token: str) -> tuple[datetime, str]:
    try:
        created_at, case_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return datetime.fromisoformat(created_at), str(uuid.UUID(case_id))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("cursor: not a cursor this service gave out") from exc


class ReferralRepository:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        *,
        on_events: Callable[[], None],
        on_notifications: Callable[[], None] = lambda: None,
    ) -> None:
        self._aggregates = AggregateCollection(collection, on_events=on_events)
        self._collection = collection
        self._on_notifications = on_notifications

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("organisation", 1), ("created_at", -1), ("_id", -1)])
        await self._collection.create_index([("organisation", 1), ("home_office_index", 1)])
        await self._collection.create_index("reference", unique=True)
        # The webhook dispatcher looks for referrals with notifications waiting by this flag:
        # a query on the array itself would read every referral on SecantusDB.
        await self._collection.create_index("notifications_pending")
        with contextlib.suppress(OperationFailure):  # the index an earlier version made
            await self._collection.drop_index("pending_notifications.change_id_1")
        await self._collection.update_many(  # notifications queued by an earlier version
            {
                "pending_notifications.change_id": {"$exists": True},
                "notifications_pending": {"$ne": True},
            },
            {"$set": {"notifications_pending": True}},
        )

    async def add(
        self,
        referral: Referral,
        *,
        details: dict[str, Any],
        wrapped_key: WrappedKey,
        home_office_index: str | None,
    ) -> bool:
        """Store a new draft; False if one with this id exists (a keyed retry raced us)."""
        try:
            await self._aggregates.create(
                document={
                    "_id": str(referral.case_id),
                    "reference": referral.reference,
                    "organisation": referral.organisation,
                    "created_by": referral.created_by,
                    "created_at": referral.created_at,
                    "details": details,
                    "home_office_index": home_office_index,
                    "wrapped_key": wrapped_key.model_dump(),
                    "pending_notifications": [],
                    **_state(referral),
                },
                events=[],
            )
        except DuplicateKeyError:
            existing = await self._collection.find_one({"_id": str(referral.case_id)}, {"_id": 1})
            if existing is None:
                raise  # the reference collided, not the id: let the caller retry
            return False
        referral.version = 1
        return True

    async def get(self, case_id: uuid.UUID) -> StoredReferral | None:
        raw = await self._aggregates.load(str(case_id))
        return None if raw is None else self._load(raw)

    async def list_for_organisation(
        self, where: ListFilter, *, cursor: str | None, limit: int
    ) -> tuple[list[Referral], str | None]:
        """Newest first, a page at a time; the cursor is where the last page ended."""
        query: dict[str, Any] = {"organisation": where.organisation}
        if where.statuses:
            query["status"] = {"$in": [s.value for s in where.statuses]}
        created: dict[str, Any] = {}
        if where.created_from is not None:
            created["$gte"] = where.created_from
        if where.created_to is not None:
            created["$lt"] = where.created_to
        if created:
            query["created_at"] = created
        if where.home_office_index is not None:
            query["home_office_index"] = where.home_office_index
        if cursor is not None:
            at, case_id = _cursor_position(cursor)
            query["$or"] = [
                {"created_at": {"$lt": at}},
                {"created_at": at, "_id": {"$lt": case_id}},
            ]
        found = self._collection.find(
            query, {"outbox": 0, "details": 0, "processed_events": 0}
        ).sort([("created_at", -1), ("_id", -1)])
        page = [raw async for raw in found.limit(limit + 1)]
        more = len(page) > limit
        page = page[:limit]
        following = _cursor_token(page[-1]) if more and page else None
        return [self._load(raw).referral for raw in page], following

    async def append_document(self, case_id: uuid.UUID, document: DocumentRecord) -> bool | None:
        """Attach a document in one atomic step, while the referral still accepts documents.

        Uploads in parallel each append their own record: none overwrites another. Returns
        False if a document with this id is already there (a keyed retry), None if the
        referral no longer accepts documents.
        """
        accepting = [ReferralStatus.DRAFT.value, ReferralStatus.INFORMATION_REQUESTED.value]
        result = await self._collection.update_one(
            {
                "_id": str(case_id),
                "status": {"$in": accepting},
                "documents.document_id": {"$ne": str(document.document_id)},
            },
            {"$push": {"documents": _document_to_mongo(document)}, "$inc": {"version": 1}},
        )
        if result.modified_count == 1:
            return True
        duplicate = await self._collection.count_documents(
            {"_id": str(case_id), "documents.document_id": str(document.document_id)}, limit=1
        )
        return False if duplicate else None

    async def erase(self, referral: Referral, *, events: list[EventEnvelope]) -> None:
        """Save the erased referral and, in the same write, destroy its data key and the blind
        index of its Home Office reference (sealed values become ciphertext nobody can open)."""
        await self._aggregates.save(
            aggregate_id=str(referral.case_id),
            expected_version=referral.version,
            changes=_state(referral)
            | {"wrapped_key": None, "home_office_index": None}
            | ({"notifications_pending": True} if referral.new_changes else {}),
            events=events,
            appends={
                "pending_notifications": [
                    {"change_id": str(c.change_id), "status": c.status.value, "at": c.at}
                    for c in referral.new_changes
                ]
            },
        )
        referral.version += 1
        referral.new_changes.clear()

    async def save(
        self,
        referral: Referral,
        *,
        events: list[EventEnvelope],
        processed_event: uuid.UUID | None = None,
        details: dict[str, Any] | None = None,
        home_office_index: str | None = None,
    ) -> None:
        """Save the aggregate and its events; each new status change also queues a partner
        notification in the same write."""
        changes = _state(referral)
        if details is not None:
            changes["details"] = details
            changes["home_office_index"] = home_office_index
        notifications = [
            {"change_id": str(c.change_id), "status": c.status.value, "at": c.at}
            for c in referral.new_changes
            if c.status is not ReferralStatus.DRAFT
        ]
        if notifications:
            changes["notifications_pending"] = True
        await self._aggregates.save(
            aggregate_id=str(referral.case_id),
            expected_version=referral.version,
            changes=changes,
            events=events,
            processed_event=processed_event,
            appends={"pending_notifications": notifications},
        )
        referral.version += 1
        referral.new_changes.clear()
        if notifications:
            self._on_notifications()

    @staticmethod
    def _load(raw: Document) -> StoredReferral:
        open_request = raw.get("open_request")
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
            timeline=[_change_from_mongo(c) for c in raw.get("timeline", [])],
            reports=raw.get("reports", []),
            open_request=None if open_request is None else uuid.UUID(open_request),
            applied_keys={a["key"]: a["fingerprint"] for a in raw.get("applied_keys", [])},
            legal_hold=raw.get("legal_hold"),
        )
        wrapped = raw.get("wrapped_key")
        return StoredReferral(
            referral=referral,
            details=raw.get("details", {}),
            wrapped=WrappedKey.model_validate(wrapped) if wrapped and "key_id" in wrapped else None,
        )
