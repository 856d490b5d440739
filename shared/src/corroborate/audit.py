"""A tamper-evident audit log per service: who read identity, downloaded, changed or exported
what, and when.

Records are appended to the service's ``audit_log`` collection, numbered without gaps, each
carrying the SHA-256 of the one before and its own hash over its content and that link (a hash
chain). Altering a record breaks its own hash; deleting one breaks the numbering and the next
record's link; ``verify`` names the first broken link. Records say which case, never who the
survivor is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.mongo import Document

COLLECTION = "audit_log"
GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    subject: str
    role: str


SYSTEM = Actor(subject="system", role="service")


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, role=principal.role.value)


def record_hash(record: Mapping[str, Any]) -> str:
    """The hash of a record: its content (without its own hash), canonically serialised."""
    content = {k: v for k, v in record.items() if k not in {"hash", "_id"}}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=_iso)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="milliseconds")
    return str(value)


@dataclass(frozen=True)
class Broken:
    """The first record where the chain does not hold, and why."""

    seq: int
    reason: str


def verify(records: Iterable[Mapping[str, Any]]) -> Broken | None:
    """Check a chain in order of ``seq``: numbering, links and hashes."""
    expected_seq, previous = 1, GENESIS
    for record in records:
        seq = int(record["seq"])
        if seq != expected_seq:
            return Broken(expected_seq, f"record {expected_seq} is missing (next is {seq})")
        if record.get("prev_hash") != previous:
            return Broken(seq, "it does not link to the record before it")
        if record_hash(record) != record.get("hash"):
            return Broken(seq, "its content does not match its hash (altered)")
        expected_seq, previous = seq + 1, str(record["hash"])
    return None


class AuditLog:
    """Append-only, hash-chained; concurrent appenders (requests, replicas) take turns through
    a unique sequence number."""

    ATTEMPTS = 50

    def __init__(self, collection: AsyncCollection[Document], *, service: str) -> None:
        self._collection = collection
        self._service = service

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("seq", unique=True)

    async def record(
        self,
        action: str,
        *,
        actor: Actor,
        case_id: object | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one record; returns its sequence number."""
        for _attempt in range(self.ATTEMPTS):
            last = await self._collection.find_one({}, sort=[("seq", DESCENDING)])
            seq = 1 if last is None else int(last["seq"]) + 1
            entry: dict[str, Any] = {
                "seq": seq,
                "at": utc_now(),
                "service": self._service,
                "action": action,
                "actor": actor.subject,
                "actor_role": actor.role,
                "case_id": None if case_id is None else str(case_id),
                "details": dict(details or {}),
                "prev_hash": GENESIS if last is None else last["hash"],
            }
            entry["hash"] = record_hash(entry)
            try:
                await self._collection.insert_one(entry)
            except DuplicateKeyError:
                continue  # someone else appended this number first: take the next
            return seq
        raise RuntimeError("could not append to the audit log: too much contention")

    async def chain(self) -> list[Document]:
        return [r async for r in self._collection.find({}, {"_id": 0}).sort("seq", 1)]

    async def verify(self) -> Broken | None:
        return verify(await self.chain())
