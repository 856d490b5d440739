"""The anonymised projections statistics are computed from (``patterns``, ``operations``).

Each case is filed under a keyed hash of its id, never the id itself, so a projection cannot be
joined back to a case without the key; neither holds a name, a reference or an exact date.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import bson
from pydantic import TypeAdapter
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from corroborate.logging import get_logger
from corroborate.mongo import Document
from reporting.domain.statistics import CaseFacts, Counts, check_query, count

log = get_logger("reporting.statistics")

PATTERNS = "patterns"
PATTERN_TABLES = "pattern_tables"
PATTERN_SEQUENCE = "pattern_sequence"
OPERATIONS = "operations"

# Raise when the way cases are counted changes: tables kept under an older way are then left
# alone and counted afresh.
COUNTING = 1
# A table whose stored form would be larger than this is answered but not kept.
MAX_KEPT_BYTES = 4 * 1024 * 1024
_SEQUENCE = "sequence"
_DUPLICATE_KEY = 11000


class PatternProjection:
    """The consenting cases' facts, and the tables asked of them kept up to date.

    Counting every case for every question is linear in the number of cases, so each table
    asked for (its dimensions and filters) is kept with the counts of the cases filed *through*
    a sequence number. Cases are filed in three steps: the facts with no number, then a number
    taken from a shared counter, then that number on the case. A question reads the counter
    ``C``, then the cases still without a number, then the cases numbered after its table's
    ``through``, and answers with all of them. It keeps the counts through ``C`` only when no
    case was without a number: every number up to ``C`` was taken after its case was filed, so
    such a case is either seen without a number or seen numbered, never missed. A case is
    therefore counted exactly once in a kept table, whatever runs at the same time.

    A case's facts are filed once (a redelivered event changes nothing); nothing removes a
    case, since an erasure keeps the anonymised counts.
    """

    def __init__(
        self,
        collection: AsyncCollection[Document],
        tables: AsyncCollection[Document],
        sequence: AsyncCollection[Document],
    ) -> None:
        self._collection = collection
        self._tables = tables
        # One document; a collection of its own, since SecantusDB's find-and-modify reads every
        # document of the collection it runs on.
        self._sequence = sequence

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("seq")

    async def record(self, key: str, facts: CaseFacts) -> None:
        """Idempotent: a redelivered event files nothing new under the same key."""
        await self.record_many([(key, facts)])

    async def record_many(self, cases: Sequence[tuple[str, CaseFacts]]) -> None:
        """File several cases with one number (bulk loads and imports)."""
        if not cases:
            return
        documents = [{"_id": key, **_stored(facts), "seq": None} for key, facts in cases]
        try:
            await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            others = [e for e in error.details["writeErrors"] if e["code"] != _DUPLICATE_KEY]
            if others:
                raise
        await self._number([key for key, _ in cases])

    async def _next_number(self) -> int:
        counter = await self._sequence.find_one_and_update(
            {"_id": _SEQUENCE},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None
        return int(counter["value"])

    async def _number(self, keys: list[str]) -> None:
        number = await self._next_number()
        # One update per case: SecantusDB's time for an update_many over ``$in`` grows with
        # the square of the keys (2.4 s for 1,000, 7.5 s for 2,000; 0.9 s as single updates).
        await self._collection.bulk_write(
            [UpdateOne({"_id": key, "seq": None}, {"$set": {"seq": number}}) for key in keys],
            ordered=False,
        )

    async def all(self) -> list[CaseFacts]:
        return [
            facts_from_stored(raw) async for raw in self._collection.find({}, {"_id": 0, "seq": 0})
        ]

    async def counts(self, *, by: Sequence[str], filters: Mapping[str, set[str]]) -> Counts:
        """The raw counts of one table over every case filed, from its kept counts and the
        cases filed since (see the class). The first question of a kind counts every case."""
        check_query(by, filters)
        table_id = _table_id(by, filters)
        kept = await self._tables.find_one({"_id": table_id})
        through = int(kept["through"]) if kept else 0
        counts = _decode(kept, by) if kept else Counts(by=tuple(by))

        counter = await self._sequence.find_one({"_id": _SEQUENCE})
        latest = int(counter["value"]) if counter else 0
        unnumbered = {raw["_id"]: raw async for raw in self._collection.find({"seq": None})}
        since = {raw["_id"]: raw async for raw in self._collection.find({"seq": {"$gt": through}})}
        for key in unnumbered.keys() & since.keys():
            del unnumbered[key]  # numbered between the two reads: counted once, numbered
        settled = [r for r in since.values() if r["seq"] <= latest]
        count((facts_from_stored(r) for r in settled), by=by, filters=filters, into=counts)
        if not unnumbered and latest > through:
            await self._keep(table_id, by, filters, counts, was=kept, through=latest)
        elif unnumbered:
            # A filing under way, one interrupted before its case was numbered, or a case filed
            # before tables were kept: numbered here, so that the next question keeps its table.
            await self._number(list(unnumbered))
        answer = counts.copy()
        rest = [r for r in since.values() if r["seq"] > latest] + list(unnumbered.values())
        return count((facts_from_stored(r) for r in rest), by=by, filters=filters, into=answer)

    async def _keep(
        self,
        table_id: str,
        by: Sequence[str],
        filters: Mapping[str, set[str]],
        counts: Counts,
        *,
        was: Document | None,
        through: int,
    ) -> None:
        document: Document = {
            "by": list(by),
            "filters": {d: sorted(v) for d, v in sorted(filters.items())},
            "counting": COUNTING,
            "through": through,
            "cells": [[list(k), n] for k, n in counts.cells.items()],
            "margins": {d: [[v, n] for v, n in c.items()] for d, c in counts.margins.items()},
            "total": counts.total,
        }
        if len(bson.encode(document)) > MAX_KEPT_BYTES:
            return
        if was is None:
            with contextlib.suppress(DuplicateKeyError):  # another question kept it first
                await self._tables.insert_one({"_id": table_id, **document})
            return
        # Only over what this question started from: a table kept meanwhile by another
        # question is as good, and is left as it is.
        await self._tables.update_one(
            {"_id": table_id, "through": was["through"]}, {"$set": document}
        )


def _table_id(by: Sequence[str], filters: Mapping[str, set[str]]) -> str:
    shape = {
        "counting": COUNTING,
        "by": list(by),
        "filters": {d: sorted(v) for d, v in sorted(filters.items())},
    }
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
    return f"table-{digest[:32]}"


def _decode(document: Document, by: Sequence[str]) -> Counts:
    return Counts(
        by=tuple(by),
        cells=Counter({tuple(key): int(n) for key, n in document["cells"]}),
        margins={
            d: Counter({v: int(n) for v, n in pairs}) for d, pairs in document["margins"].items()
        },
        total=int(document["total"]),
    )


_FACTS = TypeAdapter(CaseFacts)


def _stored(facts: CaseFacts) -> Document:
    stored: Document = _FACTS.dump_python(facts)
    return stored


def facts_from_stored(raw: Mapping[str, Any]) -> CaseFacts:
    """A case's facts from their stored form (as ``PatternProjection`` files them)."""
    facts: CaseFacts = _FACTS.validate_python(raw)
    return facts


class OperationsProjection:
    """Where each case stands and when it got there (by day), for managers' statistics."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index("stage")

    async def update(self, key: str, **fields: Any) -> None:
        stored = {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}
        await self._collection.update_one({"_id": key}, {"$set": stored}, upsert=True)

    async def all(self) -> list[Document]:
        return [raw async for raw in self._collection.find({}, {"_id": 0})]
