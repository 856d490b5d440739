"""Review running in-process against the real broker, database and object storage."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    ProtectedDetails,
    RiskFlag,
    ServiceRequested,
)
from corroborate.events.envelope import EventEnvelope
from corroborate.settings import Settings
from corroborate.walk.samples import ACCEPT
from corroborate_testing import eventually, referral_submitted, running
from review.bootstrap import create_app

SURVIVOR_NAME = "Selam Canary-Haile"
Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
Build = Callable[..., EventEnvelope]
Publish = Callable[[EventEnvelope], Awaitable[None]]
Find = Callable[[str], Awaitable[dict[str, Any] | None]]
WaitUntil = Callable[..., Awaitable[Any]]


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    return eventually


@pytest.fixture
def survivor_name() -> str:
    return SURVIVOR_NAME


@pytest.fixture
def review_app(settings: Settings) -> FastAPI:
    return create_app(service_settings(settings, "review"))


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


@pytest.fixture
async def senior(
    review: httpx.AsyncClient, coordinator: Headers, bearer: Callable[..., Headers]
) -> Headers:
    """A senior clinician of this test's own, on the roster."""
    senior_id = f"senior-{secrets.token_hex(3)}"
    entry = {
        "name": "Dr Senior",
        "disciplines": ["physical", "psychological"],
        "capacity": 5,
        "senior": True,
    }
    added = await review.put(f"/roster/{senior_id}", json=entry, headers=coordinator)
    assert added.status_code == 200, added.text
    return bearer(Role.SENIOR_CLINICIAN, sub=senior_id)


@pytest.fixture
def examined(
    review: httpx.AsyncClient, coordinator: Headers, clinician: Headers
) -> Callable[[str], Awaitable[str]]:
    """Book an appointment for an assigned case and record consent to the examination and to
    photography; returns the appointment id."""

    async def make(case_id: str) -> str:
        booked = await review.post(
            f"/cases/{case_id}/appointments",
            json={
                "on": datetime.now(UTC).date().isoformat(),
                "remote": False,
                "interpreter_language": "ti",
            },
            headers=coordinator,
        )
        assert booked.status_code == 201, booked.text
        appointment: str = booked.json()["appointments"][-1]["appointment_id"]
        consent = await review.put(
            f"/cases/{case_id}/appointments/{appointment}/consent",
            json={"examination": True, "photography": True},
            headers=clinician,
        )
        assert consent.status_code == 200, consent.text
        return appointment

    return make


@pytest.fixture
def triaged(
    submitted_event: Build, publish: Publish, in_triage: Find, wait_until: WaitUntil
) -> Callable[..., Awaitable[EventEnvelope]]:
    async def make(service: str = "full_report") -> EventEnvelope:
        event = submitted_event(service=service)
        await publish(event)
        await wait_until(lambda: in_triage(str(event.case_id)), what="in triage")
        return event

    return make


@pytest.fixture
def assigned(
    review: httpx.AsyncClient,
    coordinator: Headers,
    clinician_id: str,
    triaged: Callable[..., Awaitable[EventEnvelope]],
) -> Callable[..., Awaitable[EventEnvelope]]:
    async def make(service: str = "full_report") -> EventEnvelope:
        event = await triaged(service)
        case = event.case_id
        decided = await review.post(f"/cases/{case}/decision", json=ACCEPT, headers=coordinator)
        assert decided.status_code == 200, decided.text
        body = {"clinician_id": clinician_id}
        given = await review.post(f"/cases/{case}/assignment", json=body, headers=coordinator)
        assert given.status_code == 200, given.text
        return event

    return make
