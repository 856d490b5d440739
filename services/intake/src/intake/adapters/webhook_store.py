"""Webhooks in MongoDB: endpoints, the delivery log, and the notifications referrals queue.

A status change is written to the referral with a pending notification (one write, by the
referral's own save). The dispatch copies each into ``webhook_deliveries`` under its change id
(an upsert that inserts at most once) and only then removes it from the referral, so a crash
between the two steps repeats the copy harmlessly and never duplicates a delivery.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.clock import utc_now
from corroborate.crypto import WrappedKey
from corroborate.logging import get_logger
from corroborate.mongo import Document
from intake.domain.webhooks import (
    Attempt,
    ClaimedDelivery,
    DeliveryPage,
    DeliveryRecord,
    DeliveryState,
    RegisteredEndpoint,
    SealedEndpoint,
    StatusChangeNotice,
)
from intake.ports import InvalidCursor

ENDPOINTS = "webhook_endpoints"
DELIVERIES = "webhook_deliveries"
CLAIM_CANDIDATES = 16  # due deliveries read at a time when claiming one

log = get_logger(__name__)


class MongoWebhookEndpoints:
    """``webhook_endpoints``: one per organisation (``_id``), its secret sealed at rest."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def save(
        self, endpoint: RegisteredEndpoint, *, wrapped_key: WrappedKey, sealed_secret: str
    ) -> None:
        """Register or replace the organisation's endpoint."""
        await self._collection.replace_one(
            {"_id": endpoint.organisation},
            {
                "url": endpoint.url,
                "wrapped_key": wrapped_key.model_dump(),
                "sealed_secret": sealed_secret,
                "registered_by": endpoint.registered_by,
                "registered_at": endpoint.registered_at,
            },
            upsert=True,
        )

    async def get(self, organisation: str) -> RegisteredEndpoint | None:
        raw = await self._collection.find_one(
            {"_id": organisation}, {"wrapped_key": 0, "sealed_secret": 0}
        )
        return (
            None if raw is None else _ENDPOINT.validate_python(raw | {"organisation": raw["_id"]})
        )

    async def sealed(self, organisation: str) -> SealedEndpoint | None:
        raw = await self._collection.find_one({"_id": organisation})
        return None if raw is None else _SEALED.validate_python(raw)

    async def exists(self, organisation: str) -> bool:
        return bool(await self._collection.count_documents({"_id": organisation}, limit=1))

    async def remove(self, organisation: str) -> bool:
        result = await self._collection.delete_one({"_id": organisation})
        return result.deleted_count == 1


_ENDPOINT = TypeAdapter(RegisteredEndpoint)
_SEALED = TypeAdapter(SealedEndpoint)
_RECORD = TypeAdapter(DeliveryRecord)
# What an attempt recorded by an earlier version may lack.
_ATTEMPT_DEFAULTS: Document = {"status_code": None, "error": None, "duration_ms": 0}


def _encode_cursor(occurred_at: datetime, delivery_id: str) -> str:
    raw = json.dumps({"t": occurred_at.isoformat(), "id": delivery_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
        occurred_at = datetime.fromisoformat(position["t"])
        delivery_id = position["id"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("the cursor is not one this service handed out") from exc
    if not isinstance(delivery_id, str) or occurred_at.tzinfo is None:
        raise InvalidCursor("the cursor is not one this service handed out")
    return occurred_at, delivery_id


class MongoWebhookDeliveries:
    """``webhook_deliveries``: one document per status change (``_id`` = its change id)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
        await self._collection.create_index(
            [("organisation", ASCENDING), ("occurred_at", DESCENDING), ("_id", DESCENDING)]
        )

    async def record(self, notice: StatusChangeNotice, *, has_endpoint: bool) -> bool:
        """Record a status change for delivery once; False if it was recorded before."""
        state = DeliveryState.PENDING if has_endpoint else DeliveryState.NO_ENDPOINT
        now = utc_now()
        try:
            result = await self._collection.update_one(
                {"_id": notice.change_id},
                {
                    "$setOnInsert": {
                        "organisation": notice.organisation,
                        "case_id": notice.case_id,
                        "case_reference": notice.case_reference,
                        "status": notice.status,
                        "occurred_at": notice.at,
                        "state": state.value,
                        "attempts": [],
                        "next_attempt_at": now if has_endpoint else None,
                        "recorded_at": now,
                    }
                },
                upsert=True,
            )
        except DuplicateKeyError:  # another replica inserted it between our match and insert
            return False
        return result.upserted_id is not None

    async def any_due(self, *, due_by: datetime) -> bool:
        """Whether a delivery is due: a plain read, so that a pass with nothing to deliver
        (the usual case) takes no lease, each a find-and-modify, which on SecantusDB scans."""
        found = await self._collection.find_one(
            {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": due_by}},
            {"_id": 1},
        )
        return found is not None

    async def claim_due(self, *, due_by: datetime, lease_until: datetime) -> ClaimedDelivery | None:
        """Take the oldest due delivery, hiding it from other replicas until ``lease_until``.

        Read the oldest due deliveries, then claim one with a write conditional on it being
        unchanged since it was read; another replica that claimed it first makes that write
        match nothing, and the next is tried. (A find-and-modify would claim in one call, but on
        SecantusDB it scans the whole collection, which grows with every status change.)"""
        due = {"state": DeliveryState.PENDING.value, "next_attempt_at": {"$lte": due_by}}
        while True:
            candidates = await self._collection.find(
                due, sort=[("next_attempt_at", ASCENDING)], limit=CLAIM_CANDIDATES
            ).to_list()
            if not candidates:
                return None
            for raw in candidates:
                lease_id = str(uuid.uuid4())
                taken = await self._collection.update_one(
                    {
                        "_id": raw["_id"],
                        "state": DeliveryState.PENDING.value,
                        "next_attempt_at": raw["next_attempt_at"],
                    },
                    {"$set": {"next_attempt_at": lease_until, "lease_id": lease_id}},
                )
                if taken.matched_count == 1:
                    return ClaimedDelivery(
                        delivery_id=raw["_id"],
                        organisation=raw["organisation"],
                        case_reference=raw["case_reference"],
                        status=raw["status"],
                        occurred_at=raw["occurred_at"],
                        attempts_made=len(raw.get("attempts", [])),
                        lease_id=lease_id,
                    )
            # Every candidate was claimed by someone else meanwhile: read again.

    async def complete(
        self,
        claim: ClaimedDelivery,
        *,
        attempt: Attempt | None,
        state: DeliveryState,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record the outcome of a claimed attempt; False if the lease was lost meanwhile."""
        update: dict[str, Any] = {
            "$set": {"state": state.value, "next_attempt_at": next_attempt_at},
            "$unset": {"lease_id": ""},
        }
        if attempt is not None:
            update["$push"] = {"attempts": dataclasses.asdict(attempt)}
        result = await self._collection.update_one(
            {"_id": claim.delivery_id, "lease_id": claim.lease_id}, update
        )
        return result.matched_count == 1

    async def history(
        self, organisation: str, *, limit: int, cursor: str | None = None
    ) -> DeliveryPage:
        """The organisation's deliveries, newest status change first, a page at a time."""
        query: dict[str, Any] = {"organisation": organisation}
        if cursor is not None:
            occurred_at, delivery_id = _decode_cursor(cursor)
            query["$or"] = [
                {"occurred_at": {"$lt": occurred_at}},
                {"occurred_at": occurred_at, "_id": {"$lt": delivery_id}},
            ]
        found = (
            self._collection.find(query, {"lease_id": 0})
            .sort([("occurred_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit + 1)
        )
        records = [self._record(raw) async for raw in found]
        page = records[:limit]
        next_cursor = None
        if len(records) > limit:
            last = page[-1]
            next_cursor = _encode_cursor(last.occurred_at, last.delivery_id)
        return DeliveryPage(deliveries=page, next_cursor=next_cursor)

    @staticmethod
    def _record(raw: Document) -> DeliveryRecord:
        return _RECORD.validate_python(
            raw
            | {
                "delivery_id": raw["_id"],
                "attempts": [_ATTEMPT_DEFAULTS | a for a in raw.get("attempts", [])],
                "next_attempt_at": raw.get("next_attempt_at"),
            }
        )


class MongoPendingNotifications:
    """The notifications waiting on referrals (the other half of each status change's write)."""

    def __init__(self, referrals: AsyncCollection[Document]) -> None:
        self._referrals = referrals

    async def waiting(self) -> AsyncIterator[StatusChangeNotice]:
        """Every pending notice, oldest first within each referral; unreadable ones are logged."""
        found = self._referrals.find(
            {"notifications_pending": True},
            {"organisation": 1, "reference": 1, "pending_notifications": 1},
        )
        async for raw in found:
            notices: list[StatusChangeNotice] = []
            for entry in raw.get("pending_notifications", []):
                try:
                    notices.append(
                        StatusChangeNotice(
                            case_id=str(raw["_id"]),
                            organisation=str(raw["organisation"]),
                            case_reference=str(raw["reference"]),
                            change_id=str(uuid.UUID(str(entry["change_id"]))),
                            status=str(entry["status"]),
                            at=entry["at"],
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    # Left in place, and logged on every pass, until someone looks.
                    log.error(
                        "pending notification unreadable",
                        case_id=str(raw["_id"]),
                        outcome="skipped",
                    )
            for notice in sorted(notices, key=lambda n: n.at):
                yield notice

    async def acknowledge(self, notice: StatusChangeNotice) -> None:
        await self._referrals.update_one(
            {"_id": notice.case_id},
            {"$pull": {"pending_notifications": {"change_id": notice.change_id}}},
        )

    async def settle(self, case_id: str) -> None:
        """Clear a referral's flag once nothing waits on it; a notification queued meanwhile
        keeps the array non-empty, so the flag stays."""
        await self._referrals.update_one(
            {"_id": case_id, "pending_notifications": {"$size": 0}},
            {"$set": {"notifications_pending": False}},
        )
