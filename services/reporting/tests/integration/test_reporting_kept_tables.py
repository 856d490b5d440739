"""Kept tables: each table asked of the patterns is kept with its counts, brought up to date
from the cases filed since, and counts every case exactly once whatever runs at the same time.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from corroborate.mongo import Document
from corroborate.settings import Settings
from reporting.adapters import statistics as adapter
from reporting.adapters.statistics import PatternProjection
from reporting.domain.statistics import CaseFacts, Counts, count

pytestmark = pytest.mark.integration

BY = ["country", "year", "method"]
COUNTRIES = ("ER", "SD", "SY", "AF", "LY")
METHODS = ("beating", "suspension", "burning", "electric_shock", "sexual_violence")


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible sample cases, not a secret


def facts(rng: random.Random) -> CaseFacts:
    countries = tuple(sorted(set(rng.choices(COUNTRIES, k=rng.choice((1, 1, 2))))))
    return CaseFacts(
        countries=countries,
        year=str(rng.randint(2015, 2024)),
        methods=tuple(sorted(set(rng.choices(METHODS, k=rng.randint(1, 3))))),
        perpetrators=("military",),
        gender=rng.choice(("female", "male")),
        age_band=rng.choice(("18-25", "26-35")),
        origin=countries[0],
        month="2024-01",
    )


@pytest.fixture
async def collections(settings: Settings) -> AsyncIterator[tuple[Any, Any, Any]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongo_url.get_secret_value())
    name = secrets.token_hex(4)
    database = client[settings.database_name("reporting")]
    try:
        yield database[f"patterns_{name}"], database[f"tables_{name}"], database[f"seq_{name}"]
    finally:
        for kind in ("patterns", "tables", "seq"):
            await database.drop_collection(f"{kind}_{name}")
        await client.close()


@pytest.fixture
async def projection(collections: tuple[Any, Any, Any]) -> PatternProjection:
    projection = PatternProjection(*collections)
    await projection.ensure_indexes()
    return projection


def same(counts: Counts, expected: Counts) -> None:
    assert counts.total == expected.total
    assert counts.cells == expected.cells
    assert {d: +c for d, c in counts.margins.items()} == {
        d: +c for d, c in expected.margins.items()
    }


async def exact(
    projection: PatternProjection, filters: Mapping[str, set[str]] | None = None
) -> Counts:
    """Every case counted afresh, as the table was before tables were kept."""
    return count(await projection.all(), by=BY, filters=filters)


async def test_a_table_is_kept_and_brought_up_to_date_from_the_cases_filed_since(
    projection: PatternProjection, collections: tuple[Any, Any, Any]
) -> None:
    cases, tables, _ = collections
    rng = seeded(1)
    await projection.record_many([(f"case-{i}", facts(rng)) for i in range(300)])

    first = await projection.counts(by=BY, filters={})
    same(first, await exact(projection))
    kept = await tables.find_one({"by": BY})
    assert kept is not None
    assert kept["total"] == 300

    for i in range(300, 340):
        await projection.record(f"case-{i}", facts(rng))
    later = await projection.counts(by=BY, filters={})
    same(later, await exact(projection))
    assert later.total == 340
    kept_later = await tables.find_one({"by": BY})
    assert kept_later is not None
    assert kept_later["total"] == 340
    assert kept_later["through"] > kept["through"]

    # The kept counts are what answers: a case removed behind the projection's back is still
    # counted, since only cases filed after the table was kept are read.
    await cases.delete_one({"_id": "case-0"})
    assert (await projection.counts(by=BY, filters={})).total == 340


async def test_each_grouping_and_filter_is_a_table_of_its_own(
    projection: PatternProjection,
) -> None:
    rng = seeded(2)
    await projection.record_many([(f"case-{i}", facts(rng)) for i in range(200)])
    filters = {"country": {"ER", "SY"}, "method": {"beating"}}

    for _ in range(2):  # counted afresh, then from the kept table
        same(await projection.counts(by=BY, filters=filters), await exact(projection, filters))
        same(
            await projection.counts(by=["gender"], filters={}),
            count(await projection.all(), by=["gender"]),
        )
        nobody = await projection.counts(by=BY, filters={"country": {"XX"}})
        assert nobody.total == 0
        assert not nobody.cells


async def test_a_redelivered_event_changes_no_count(projection: PatternProjection) -> None:
    rng = seeded(3)
    original = facts(rng)
    await projection.record("case-1", original)
    before = await projection.counts(by=BY, filters={})

    await projection.record("case-1", original)
    await projection.record_many([("case-1", original), ("case-2", original)])

    after = await projection.counts(by=BY, filters={})
    assert before.total == 1
    assert after.total == 2
    same(after, await exact(projection))


async def test_a_case_whose_filing_was_interrupted_is_counted_and_then_kept(
    projection: PatternProjection, collections: tuple[Any, Any, Any]
) -> None:
    cases, tables, _ = collections
    rng = seeded(4)
    await projection.record_many([(f"case-{i}", facts(rng)) for i in range(50)])
    await projection.counts(by=BY, filters={})
    # Stopped after the facts were filed and before the case was numbered; and a case filed
    # before tables were kept, with no number at all.
    await cases.insert_one({"_id": "interrupted", **adapter._stored(facts(rng)), "seq": None})
    await cases.insert_one({"_id": "older", **adapter._stored(facts(rng))})

    answered = await projection.counts(by=BY, filters={})
    assert answered.total == 52
    kept = await tables.find_one({"by": BY})
    assert kept is not None
    assert kept["total"] == 50

    again = await projection.counts(by=BY, filters={})
    same(again, await exact(projection))
    kept = await tables.find_one({"by": BY})
    assert kept is not None
    assert kept["total"] == 52
    assert await cases.count_documents({"seq": None}) == 0


async def test_filings_and_questions_at_the_same_time_count_each_case_once(
    projection: PatternProjection, collections: tuple[Any, Any, Any]
) -> None:
    _, tables, _ = collections
    rng = seeded(5)
    filed = [(f"case-{i}", facts(rng)) for i in range(240)]

    async def file(part: list[tuple[str, CaseFacts]]) -> None:
        for key, case in part:
            await projection.record(key, case)
            if rng.random() < 0.2:
                await projection.record(key, case)  # redelivered

    async def ask() -> None:
        for _ in range(12):
            await projection.counts(by=BY, filters={})
            await asyncio.sleep(0)

    await asyncio.gather(*(file(filed[i::6]) for i in range(6)), ask(), ask(), ask())

    final = await projection.counts(by=BY, filters={})
    same(final, await exact(projection))
    assert final.total == 240
    kept = await tables.find_one({"by": BY})
    assert kept is not None
    assert kept["total"] == 240


async def test_a_table_too_large_to_keep_is_still_answered(
    projection: PatternProjection,
    collections: tuple[Any, Any, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, tables, _ = collections
    monkeypatch.setattr(adapter, "MAX_KEPT_BYTES", 200)
    rng = seeded(6)
    await projection.record_many([(f"case-{i}", facts(rng)) for i in range(100)])

    answered = await projection.counts(by=BY, filters={})

    same(answered, await exact(projection))
    assert await tables.find_one({"by": BY}) is None
