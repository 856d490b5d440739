"""Review running in-process against the real broker, database and object storage."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.auth import Role
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    ProtectedDetails,
    ReferralSubmitted,
    RiskFlag,
    ServiceRequested,
    seal_details,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.settings import Settings
from corroborate.testing import eventually, running
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
def clinician_id() -> str:
    return f"dr-{secrets.token_hex(3)}"


@pytest.fixture
def clinician(bearer: Callable[..., Headers], clinician_id: str) -> Headers:
    return bearer(Role.CLINICIAN, sub=clinician_id)


@pytest.fixture
def submitted_event(keyring: KeyRing) -> Callable[..., EventEnvelope]:
    """A ``referral.submitted`` as intake sends it, identity sealed with a fresh case key."""

    def build(*flags: RiskFlag, service: str = "full_report") -> EventEnvelope:
        case_id = uuid.uuid4()
        protected = ProtectedDetails(
            full_name=SURVIVOR_NAME,
            date_of_birth=date(1990, 2, 17),
            home_office_reference="HO-CANARY-4410",
            account="Held for three weeks and beaten.",
            questions=["Are the scars consistent with the account?"],
        )
        payload = ReferralSubmitted(
            reference=f"CRB-2025-{secrets.token_hex(3).upper()}",
            organisation="solicitors-a",
            service_requested=ServiceRequested(service),
            protected=seal_details(protected, case_id=case_id, key=keyring.new_data_key()),
            country_of_origin="ER",
            countries_of_ill_treatment=["ER", "LY"],
            risk_flags=list(flags),
            consent_to_anonymised_use=True,
            documents=[],
            submitted_at=datetime.now(UTC),
        )
        return new_event(
            payload=payload,
            case_id=case_id,
            producer="intake",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
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
