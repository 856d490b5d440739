"""Review running in-process against the real broker, database and object storage."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    ProtectedDetails,
    RiskFlag,
    ServiceRequested,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.settings import Settings
from corroborate.testing import eventually, referral_submitted, running
from review.bootstrap import create_app

SURVIVOR_NAME = "Selam Canary-Haile"
Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    return eventually


@pytest.fixture
def survivor_name() -> str:
    return SURVIVOR_NAME


@pytest.fixture
def review_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def review(review_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(review_app) as client:
        yield client


@pytest.fixture
def coordinator(bearer: Callable[..., Headers]) -> Headers:
    return bearer(Role.COORDINATOR, sub="coordinator-1")


@pytest.fixture
async def clinician_id(review: httpx.AsyncClient, coordinator: Headers) -> str:
    """A clinician of this test's own, on the roster."""
    clinician = f"dr-{secrets.token_hex(3)}"
    entry = {"name": "Dr Test", "disciplines": ["physical", "psychological"], "capacity": 10}
    added = await review.put(f"/roster/{clinician}", json=entry, headers=coordinator)
    assert added.status_code == 200, added.text
    return clinician


@pytest.fixture
def clinician(bearer: Callable[..., Headers], clinician_id: str) -> Headers:
    return bearer(Role.CLINICIAN, sub=clinician_id)


@pytest.fixture
def submitted_event(keyring: KeyRing) -> Callable[..., EventEnvelope]:
    """A ``referral.submitted`` as intake sends it, identity sealed with a fresh case key."""

    def build(*flags: RiskFlag, service: str = "full_report") -> EventEnvelope:
        protected = ProtectedDetails(
            full_name=SURVIVOR_NAME,
            date_of_birth=date(1990, 2, 17),
            home_office_reference="HO-CANARY-4410",
            account="Held for three weeks and beaten.",
            questions=["Are the scars consistent with the account?"],
        )
        return referral_submitted(
            keyring=keyring,
            protected=protected,
            reference=f"CRB-2025-{secrets.token_hex(3).upper()}",
            service=ServiceRequested(service),
            risk_flags=flags,
        )

    return build


@pytest.fixture
def publish(review_app: FastAPI) -> Callable[[EventEnvelope], Awaitable[None]]:
    async def send(event: EventEnvelope) -> None:
        await review_app.state.runtime.publisher.publish(event)

    return send


@pytest.fixture
def in_triage(
    review: httpx.AsyncClient, coordinator: Headers
) -> Callable[[str], Awaitable[dict[str, Any] | None]]:
    async def find(case_id: str) -> dict[str, Any] | None:
        response = await review.get("/triage", headers=coordinator)
        assert response.status_code == 200
        return next((i for i in response.json() if i["case_id"] == case_id), None)

    return find
