"""Patterns of torture at scale: anonymised cases seeded straight into reporting's projection,
then the analysts' query timed through reporting's HTTP API at two sizes."""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from corroborate.settings import Settings
from corroborate.vocab import vocabulary

COUNTRIES = (
    "ER", "SD", "SY", "AF", "IR", "IQ", "LY", "ET", "SO", "CD",
    "CM", "NG", "PK", "LK", "TR", "EG", "BI", "ZW", "UG", "YE",
    "SS", "GN", "CN", "RU", "MM",
)  # fmt: skip
GENDERS = ("female", "male", "non_binary", "other", "not_stated")
AGE_BANDS = ("0-17", "18-25", "26-35", "36-45", "46-55", "56+")
QUERY = {"by": ["country", "year", "method"]}


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


async def seed(settings: Settings, *, upto: int, batch: int = 2000) -> dict[str, Any]:
    """Add seeded cases until the collection holds at least ``upto``; time the inserts."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), serverSelectionTimeoutMS=10_000, timeoutMS=120_000
    )
    try:
        collection = client[settings.database_name("reporting")]["patterns"]
        have_seeded = await collection.count_documents({"_id": {"$regex": "^bench-"}})
        have = await collection.count_documents({})
        added = 0
        started = time.perf_counter()
        while have + added < upto:
            count = min(batch, upto - have - added)
            await collection.insert_many(
                seed_documents(have_seeded + added, count, seed=7), ordered=False
            )
            added += count
        seconds = time.perf_counter() - started
        total = await collection.count_documents({})
    finally:
        await client.close()
    return {"documents": total, "added": added, "seconds": round(seconds, 2)}


async def time_query(
    settings: Settings, headers: dict[str, str], *, repeats: int
) -> dict[str, Any]:
    """The analysts' table by country, year and method; the median of ``repeats`` answers."""
    url = f"{settings.reporting_url}/statistics/patterns"
    times = []
    cells = 0
    async with httpx.AsyncClient(timeout=600.0) as http:
        for _ in range(repeats):
            started = time.perf_counter()
            response = await http.get(url, params=QUERY, headers=headers)
            times.append(time.perf_counter() - started)
            response.raise_for_status()
            cells = len(response.json()["cells"])
    return {
        "seconds": round(statistics.median(times), 3),
        "all_seconds": [round(t, 3) for t in times],
        "cells": cells,
    }


async def measure(
    settings: Settings, headers: dict[str, str], *, sizes: tuple[int, int], repeats: int
) -> dict[str, Any]:
    small, large = sizes
    seeded_small = await seed(settings, upto=small)
    at_small = await time_query(settings, headers, repeats=repeats)
    seeded_large = await seed(settings, upto=large)
    at_large = await time_query(settings, headers, repeats=repeats)
    return {
        "sizes": [small, large],
        "small": {"seed": seeded_small, "query": at_small},
        "large": {"seed": seeded_large, "query": at_large},
        "ratio": round(at_large["seconds"] / at_small["seconds"], 2),
    }
