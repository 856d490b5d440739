"""Patterns of torture at scale: anonymised cases seeded straight into reporting's projection
(filed with its own code, as an import would), then the analysts' query timed through
reporting's HTTP API at two sizes."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from corroborate.settings import Settings
from corroborate.vocab import vocabulary
from reporting.adapters.statistics import (
    PATTERN_SEQUENCE,
    PATTERN_TABLES,
    PATTERNS,
    PatternProjection,
    facts_from_stored,
)

COUNTRIES = (
    "ER", "SD", "SY", "AF", "IR", "IQ", "LY", "ET", "SO", "CD",
    "CM", "NG", "PK", "LK", "TR", "EG", "BI", "ZW", "UG", "YE",
    "SS", "GN", "CN", "RU", "MM",
)  # fmt: skip
GENDERS = ("female", "male", "non_binary", "other", "not_stated")
AGE_BANDS = ("0-17", "18-25", "26-35", "36-45", "46-55", "56+")
QUERY = {"by": ["country", "year", "method"]}
NEW_CASES = 100  # filed between two questions


def seed_documents(start: int, count: int, *, seed: int) -> list[dict[str, Any]]:
    """``count`` anonymised cases shaped as ``reporting.adapters.statistics`` files them, with
    codes from the shipped vocabularies; skewed like real referrals (a few countries and
    methods dominate)."""
    rng = random.Random(seed + start)  # noqa: S311 - reproducible sample data, not a secret
    methods = vocabulary("torture_methods").codes
    perpetrators = vocabulary("perpetrator_types").codes
    country_weights = [1 / (rank + 1) for rank in range(len(COUNTRIES))]
    method_weights = [1 / (rank + 1) ** 0.7 for rank in range(len(methods))]
    documents = []
    for index in range(start, start + count):
        countries = set(rng.choices(COUNTRIES, weights=country_weights, k=rng.choice((1, 1, 2))))
        chosen = set(rng.choices(methods, weights=method_weights, k=rng.randint(1, 4)))
        year = rng.randint(2000, 2025)
        documents.append(
            {
                "_id": f"bench-{index:07d}",
                "countries": sorted(countries),
                "year": str(year),
                "methods": sorted(chosen),
                "perpetrators": sorted(set(rng.choices(perpetrators, k=rng.randint(1, 2)))),
                "gender": rng.choices(GENDERS, weights=(35, 60, 2, 1, 2))[0],
                "age_band": rng.choices(AGE_BANDS, weights=(5, 30, 35, 18, 8, 4))[0],
                "origin": sorted(countries)[0] if rng.random() < 0.9 else rng.choice(COUNTRIES),
                "month": f"{rng.randint(max(year, 2015), 2026)}-{rng.randint(1, 12):02d}",
            }
        )
    return documents


@asynccontextmanager
async def projection(settings: Settings) -> AsyncIterator[tuple[PatternProjection, int]]:
    """Reporting's own projection, on its database, with the operator's credentials; and how
    many cases it holds."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), serverSelectionTimeoutMS=10_000, timeoutMS=120_000
    )
    try:
        database = client[settings.database_name("reporting")]
        have = await database[PATTERNS].count_documents({})
        projection = PatternProjection(
            database[PATTERNS], database[PATTERN_TABLES], database[PATTERN_SEQUENCE]
        )
        yield projection, have
    finally:
        await client.close()


async def seed(settings: Settings, *, upto: int, batch: int = 2000) -> dict[str, Any]:
    """File seeded cases, in batches as an import would, until there are at least ``upto``."""
    async with projection(settings) as (cases, have):
        added = 0
        started = time.perf_counter()
        while have + added < upto:
            count = min(batch, upto - have - added)
            documents = seed_documents(have + added, count, seed=7)
            await cases.record_many([(d["_id"], facts_from_stored(d)) for d in documents])
            added += count
        seconds = time.perf_counter() - started
    return {"documents": have + added, "added": added, "seconds": round(seconds, 2)}


async def file_one_by_one(settings: Settings, *, count: int) -> float:
    """File ``count`` more cases one at a time, as events do; the seconds it took."""
    async with projection(settings) as (cases, have):
        started = time.perf_counter()
        for document in seed_documents(have, count, seed=11):
            await cases.record(document["_id"], facts_from_stored(document))
        return time.perf_counter() - started


async def _ask(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    response = await http.get(url, params=QUERY, headers=headers)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, len(response.json()["cells"])


async def time_query(
    settings: Settings, headers: dict[str, str], *, repeats: int, then_filed: int
) -> dict[str, Any]:
    """The analysts' table by country, year and method: the first answer after the cases
    were seeded (which counts them into the kept table), the median of ``repeats`` answers
    after it, and one answer after ``then_filed`` more cases were filed one by one."""
    url = f"{settings.reporting_url}/statistics/patterns"
    async with httpx.AsyncClient(timeout=600.0) as http:
        first, _ = await _ask(http, url, headers)
        times = [(await _ask(http, url, headers))[0] for _ in range(repeats)]
        await file_one_by_one(settings, count=then_filed)
        after_new, cells = await _ask(http, url, headers)
    return {
        "seconds": round(statistics.median(times), 3),
        "all_seconds": [round(t, 3) for t in times],
        "first_after_seeding_seconds": round(first, 3),
        "after_new_cases": {"filed": then_filed, "seconds": round(after_new, 3)},
        "cells": cells,
    }


async def measure(
    settings: Settings, headers: dict[str, str], *, sizes: tuple[int, int], repeats: int
) -> dict[str, Any]:
    small, large = sizes
    seeded_small = await seed(settings, upto=small)
    at_small = await time_query(settings, headers, repeats=repeats, then_filed=NEW_CASES)
    seeded_large = await seed(settings, upto=large)
    at_large = await time_query(settings, headers, repeats=repeats, then_filed=NEW_CASES)
    return {
        "sizes": [small, large],
        "small": {"seed": seeded_small, "query": at_small},
        "large": {"seed": seeded_large, "query": at_large},
        "ratio": round(at_large["seconds"] / at_small["seconds"], 2),
        "ratio_after_new_cases": round(
            at_large["after_new_cases"]["seconds"] / at_small["after_new_cases"]["seconds"], 2
        ),
        "ratio_first_after_seeding": round(
            at_large["first_after_seeding_seconds"] / at_small["first_after_seeding_seconds"], 2
        ),
    }
