"""Statistics through the API, fed by real events: consent respected, identity absent, small
counts hidden, analysts and managers only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import AllegationSummary, ProtectedDetails
from corroborate.settings import Settings
from corroborate_testing import referral_submitted

pytestmark = pytest.mark.integration

Headers = dict[str, str]
WaitUntil = Callable[..., Awaitable[Any]]
CANARY = "Statistics Canary-Person"
WHEN = datetime(2023, 3, 14, 10, 0, tzinfo=UTC)  # a month no other test uses


async def _publish_cases(app: FastAPI, keyring: KeyRing) -> None:
    """Chad: 8 consenting cases (6 beaten in 2021, 2 suspended in 2022), 4 without consent."""
    plan = [("beating", "2021", True)] * 6 + [("suspension", "2022", True)] * 2
    plan += [("beating", "2021", False)] * 4
    for method, year, consent in plan:
        event = referral_submitted(
            keyring=keyring,
            protected=ProtectedDetails(full_name=CANARY, questions=["Q?"]),
            reference="CRB-2023-STATS1",
            submitted_at=WHEN,
            consent_to_anonymised_use=consent,
            countries_of_ill_treatment=["TD"],
            country_of_origin="TD",
            gender="female",
            age_band="26-35",
            allegations=AllegationSummary(
                countries=["TD"],
                period_start=f"{year}-05",
                methods=[method],
                perpetrators=["police"],
                vocabulary_version="torture_methods@1",
            ),
        )
        await app.state.runtime.publisher.publish(event)


async def test_patterns_count_consenting_cases_only_with_small_counts_hidden(
    reporting_app: FastAPI,
    reporting: httpx.AsyncClient,
    settings: Settings,
    bearer: Callable[..., Headers],
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    analyst = bearer(Role.ANALYST, sub="analyst-1")
    await _publish_cases(reporting_app, keyring)

    async def counted() -> dict[str, Any] | None:
        response = await reporting.get(
            "/statistics/patterns",
            params={"by": ["year", "method"], "country": "TD"},
            headers=analyst,
        )
        table: dict[str, Any] = response.json()
        return table if table["total"] == 10 else None  # 8 consenting cases, rounded

    table = await wait_until(counted, what="eight consenting cases counted")
    cells = {(c["key"]["year"], c["key"]["method"]): c["count"] for c in table["cells"]}
    assert cells == {("2021", "beating"): 5, ("2022", "suspension"): None}
    assert table["threshold"] == 5
    assert table["rounded_to"] == 5

    as_csv = await reporting.get(
        "/statistics/patterns",
        params={"by": ["year", "method"], "country": "TD", "format": "csv"},
        headers=analyst,
    )
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["year", "method", "count"]
    assert ["2022", "suspension", "suppressed"] in rows

    chart = await reporting.get(
        "/statistics/patterns/chart.svg", params={"country": "TD"}, headers=analyst
    )
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.startswith("<svg")
    assert "beating 2021: 5" in chart.text

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        stored = [
            d
            async for d in client[settings.database_name("reporting")]["patterns"].find(
                {"origin": "TD"}
            )
        ]
    finally:
        await client.close()
    assert len(stored) == 8
    dumped = json.dumps(stored, default=str)
    assert CANARY not in dumped
    assert "2023-03-14" not in dumped  # a month, never a date
    assert set(stored[0]) == {
        "_id",
        "countries",
        "year",
        "methods",
        "perpetrators",
        "gender",
        "age_band",
        "origin",
        "month",
        "seq",  # the order it was filed in, for kept tables
    }


async def test_a_grouping_that_is_not_a_dimension_is_refused_by_name(
    reporting: httpx.AsyncClient, bearer: Callable[..., Headers]
) -> None:
    analyst = bearer(Role.ANALYST, sub="analyst-1")
    response = await reporting.get(
        "/statistics/patterns", params={"by": "religion"}, headers=analyst
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.by.0"


@pytest.mark.parametrize(
    "role", [Role.PARTNER, Role.CLINICIAN, Role.COORDINATOR, Role.LEGAL, Role.SENIOR_CLINICIAN]
)
async def test_statistics_are_for_analysts_and_operations_for_managers(
    reporting: httpx.AsyncClient, bearer: Callable[..., Headers], role: Role
) -> None:
    caller = bearer(role, org="solicitors-a", sub="someone")
    patterns = await reporting.get("/statistics/patterns", params={"by": "country"}, headers=caller)
    chart = await reporting.get(
        "/statistics/patterns/chart.svg", params={"country": "TD"}, headers=caller
    )
    operations = await reporting.get("/statistics/operations", headers=caller)
    assert (patterns.status_code, chart.status_code, operations.status_code) == (403, 403, 403)
    analyst_ops = await reporting.get(
        "/statistics/operations", headers=bearer(Role.ANALYST, sub="analyst-1")
    )
    assert analyst_ops.status_code == 403


async def test_operations_count_every_referral_by_month(
    reporting_app: FastAPI,
    reporting: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    keyring: KeyRing,
    wait_until: WaitUntil,
) -> None:
    manager = bearer(Role.ADMIN, sub="manager-1")
    await _publish_cases(reporting_app, keyring)

    async def received() -> dict[str, Any] | None:
        ops: dict[str, Any] = (
            await reporting.get("/statistics/operations", headers=manager)
        ).json()
        month = next((m for m in ops["months"] if m["month"] == "2023-03"), None)
        return ops if month and month["received"] >= 12 else None

    ops = await wait_until(received, what="twelve referrals received in March 2023")
    assert ops["backlog"].get("triage", 0) >= 12
