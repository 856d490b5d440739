"""Reporting running in-process against the real broker, database and object storage."""

from __future__ import annotations

import secrets
import uuid
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
    CASE_EVENTS,
    ClinicalFindings,
    DocumentReference,
    ProtectedDetails,
    ReviewCompleted,
    seal_details,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.settings import Settings
from corroborate_testing import eventually, running
from reporting.bootstrap import create_app

Headers = dict[str, str]
Spy = Callable[..., Awaitable[dict[str, bytes]]]
Issue = Callable[[], Awaitable[tuple[EventEnvelope, dict[str, Any]]]]


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    return eventually


@pytest.fixture
def reporting_app(settings: Settings) -> FastAPI:
    return create_app(service_settings(settings, "reporting"))


@pytest.fixture
async def reporting(reporting_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(reporting_app) as client:
        yield client


@pytest.fixture
def org() -> str:
    return f"solicitors-{secrets.token_hex(3)}"


@pytest.fixture
def legal(bearer: Callable[..., Headers]) -> Headers:
    return bearer(Role.LEGAL, sub="legal-1")


@pytest.fixture
def partner(bearer: Callable[..., Headers], org: str) -> Headers:
    return bearer(Role.PARTNER, org=org, sub="solicitor-1")


@pytest.fixture
def completed_event(
    keyring: KeyRing,
    org: str,
    survivor: ProtectedDetails,
    findings: ClinicalFindings,
    documents: list[DocumentReference],
) -> Callable[[], EventEnvelope]:
    """A ``review.completed`` as review sends it, identity sealed with a fresh case key."""

    def build() -> EventEnvelope:
        case_id = uuid.uuid4()
        payload = ReviewCompleted(
            reference=f"CRB-2025-{secrets.token_hex(3).upper()}",
            organisation=org,
            protected=seal_details(survivor, case_id=case_id, key=keyring.new_data_key()),
            clinician_id="dr-1",
            clinician_name="Dr Abeba Clinician",
            approved_by="Dr Senior Reviewer",
            completed_at=datetime.now(UTC),
            report_due=date(2026, 8, 1),
            findings=findings,
            documents=documents,
        )
        return new_event(
            payload=payload,
            case_id=case_id,
            producer="review",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )

    return build


@pytest.fixture
def publish(reporting_app: FastAPI) -> Callable[[EventEnvelope], Awaitable[None]]:
    async def send(event: EventEnvelope) -> None:
        await reporting_app.state.runtime.publisher.publish(event)

    return send


@pytest.fixture
def awaiting_review(
    reporting: httpx.AsyncClient,
    legal: Headers,
    completed_event: Callable[[], EventEnvelope],
    publish: Callable[[EventEnvelope], Awaitable[None]],
) -> Callable[[], Awaitable[EventEnvelope]]:
    """Publish a ``review.completed`` and wait until legal review shows the case."""

    async def make() -> EventEnvelope:
        event = completed_event()
        await publish(event)

        async def arrived() -> bool:
            response = await reporting.get(f"/legal-reviews/{event.case_id}", headers=legal)
            return response.status_code == 200

        await eventually(arrived, what="the case in legal review")
        return event

    return make


@pytest.fixture
def issued(
    reporting: httpx.AsyncClient,
    legal: Headers,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
) -> Issue:
    """A case signed off by legal: the event that opened it and the sign-off answer."""

    async def make() -> tuple[EventEnvelope, dict[str, Any]]:
        event = await awaiting_review()
        response = await reporting.post(
            f"/legal-reviews/{event.case_id}/sign-off",
            json={"statement": "Reviewed for legal sufficiency and approved for issue."},
            headers=legal,
        )
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return event, view

    return make
