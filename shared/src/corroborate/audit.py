"""A tamper-evident audit log per service: who read identity, downloaded, changed or exported
what, and when.

Records are appended to the service's ``audit_log`` collection, numbered without gaps, each
carrying the SHA-256 of the one before and its own hash over its content and that link (a hash
chain). Altering a record breaks its own hash; deleting one breaks the numbering and the next
record's link; ``verify`` names the first broken link. Records say which case, never who the
survivor is.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

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


HEAD = "head"


class AuditTrail(Protocol):
    """What a use case needs of the audit log (``AuditLog``; a fake in unit tests)."""

    async def record(
        self,
        action: str,
        *,
        actor: Actor,
        case_id: object | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int: ...


class AuditLog:
    """Append-only, hash-chained. The chain's head (last number and hash) is one document read
    by id, so an append costs the same however long the log is; appenders in one process take
    turns, and across processes a unique sequence number decides who got a number first."""

    ATTEMPTS = 50

    def __init__(self, collection: AsyncCollection[Document], *, service: str) -> None:
        self._collection = collection
        self._service = service
        self._lock = asyncio.Lock()  # appenders of this process take turns

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("seq", unique=True)  # the head has none

    async def _head(self) -> tuple[int, str]:
        head = await self._collection.find_one({"_id": HEAD})
        return (0, GENESIS) if head is None else (int(head["last_seq"]), str(head["last_hash"]))

    async def _advance(self, seq: int, record_hash_: str) -> None:
        """Move the head to ``seq`` unless it is already there or past it."""
        await self._collection.update_one(
            {"_id": HEAD, "last_seq": {"$lt": seq}},
            {"$set": {"last_seq": seq, "last_hash": record_hash_}},
        )
        if seq == 1:
            with contextlib.suppress(DuplicateKeyError):
                await self._collection.insert_one(
                    {"_id": HEAD, "last_seq": seq, "last_hash": record_hash_}
                )

    async def record(
        self,
        action: str,
        *,
        actor: Actor,
        case_id: object | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one record; returns its sequence number."""
        async with self._lock:
            for _attempt in range(self.ATTEMPTS):
                last_seq, last_hash = await self._head()
                seq = last_seq + 1
                entry: dict[str, Any] = {
                    "seq": seq,
                    "at": utc_now(),
                    "service": self._service,
                    "action": action,
                    "actor": actor.subject,
                    "actor_role": actor.role,
                    "case_id": None if case_id is None else str(case_id),
                    "details": dict(details or {}),
                    "prev_hash": last_hash,
                }
                entry["hash"] = record_hash(entry)
                try:
                    await self._collection.insert_one(entry)
                except DuplicateKeyError:
                    # Another process took this number (or one stopped before moving the
                    # head): move the head past it, then try the next number.
                    taken = await self._collection.find_one({"seq": seq})
                    if taken is not None:
                        await self._advance(seq, str(taken["hash"]))
                    continue
                await self._advance(seq, entry["hash"])
                return seq
        raise RuntimeError("could not append to the audit log: too much contention")

    async def chain(self) -> list[Document]:
        records = self._collection.find({"seq": {"$exists": True}}, {"_id": 0}).sort("seq", 1)
        return [r async for r in records]

    async def verify(self) -> Broken | None:
        return verify(await self.chain())
