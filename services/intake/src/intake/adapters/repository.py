"""Referrals in MongoDB: every query intake makes lives here, and the shape each is stored in."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, TypeAdapter
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
)
from intake.ports import InvalidCursor, ListFilter, StoredReferral

COLLECTION = "referrals"

# Identifiers and enumerations are stored as their text, dates as ISO strings; datetimes as is.
AsText = PlainSerializer(str, return_type=str)
Text = Annotated[uuid.UUID, AsText]
IsoDate = Annotated[
    date | None, PlainSerializer(lambda d: None if d is None else d.isoformat(), return_type=Any)
]


class _Shape(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _WorkingCopy(_Shape):
    object_key: str
    content_type: str
    size: int
    sha256: str
    version_id: str | None


class _Document(_Shape):
    document_id: Text
    kind: Annotated[DocumentKind, AsText]
    content_type: str
    size: int
    sha256: str
    received_at: datetime
    object_key: str
    version_id: str | None
    working_copy: _WorkingCopy | None
    idempotency_key: str | None


class _Change(_Shape):
    change_id: Text
    status: Annotated[ReferralStatus, AsText]
    at: datetime
    deadline: IsoDate
    note: str | None


_REFERRAL = TypeAdapter(Referral)


def _stored_document(document: DocumentRecord) -> Document:
    return _Document.model_validate(document).model_dump()


def _notice(change: StatusChange) -> Document:
    """A partner notification queued by the save that records the change."""
    return {"change_id": str(change.change_id), "status": change.status.value, "at": change.at}


def _state(referral: Referral) -> Document:
    return {
        "status": referral.status.value,
        "submitted_at": referral.submitted_at,
        "documents": [_stored_document(d) for d in referral.documents],
        "timeline": [_Change.model_validate(c).model_dump() for c in referral.timeline],
        "reports": referral.reports,
        "open_request": None if referral.open_request is None else str(referral.open_request),
        # Keys are stored as values, never as field names (a key may hold "." or "$").
        "applied_keys": [{"key": k, "fingerprint": f} for k, f in referral.applied_keys.items()],
        "updated_at": referral.updated_at,
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
        raise InvalidCursor("not a cursor this service gave out") from exc


class MongoReferrals:
    """``referrals``: one document per case, its identity fields sealed one by one."""

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
            {"$push": {"documents": _stored_document(document)}, "$inc": {"version": 1}},
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
            appends={"pending_notifications": [_notice(c) for c in referral.new_changes]},
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
            _notice(c) for c in referral.new_changes if c.status is not ReferralStatus.DRAFT
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
        referral = _REFERRAL.validate_python(
            raw
            | {
                "case_id": raw["_id"],
                "applied_keys": {a["key"]: a["fingerprint"] for a in raw.get("applied_keys", [])},
            }
        )
        wrapped = raw.get("wrapped_key")
        return StoredReferral(
            referral=referral,
            details=raw.get("details", {}),
            wrapped=WrappedKey.model_validate(wrapped) if wrapped and "key_id" in wrapped else None,
        )
