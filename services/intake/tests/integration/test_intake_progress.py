"""The partner follows the case: news from review and reporting moves the status forward only."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseAssigned,
    ClinicalFindings,
    ProtectedDetails,
    ReferralAccepted,
    ReportIssued,
    ReviewCompleted,
    seal_details,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.settings import Settings
from corroborate.walk.samples import sample_findings

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
WaitUntil = Callable[..., Awaitable[Any]]


def _event(payload: BaseModel, case_id: str, producer: str = "review") -> EventEnvelope:
    return new_event(
        payload=payload,
        case_id=uuid.UUID(case_id),
        producer=producer,
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )


def _accepted(case_id: str) -> EventEnvelope:
    now = datetime.now(UTC)
    return _event(
        ReferralAccepted(accepted_by="coordinator-1", accepted_at=now, report_due=date(2026, 6, 1)),
        case_id,
    )


def _assigned(case_id: str) -> EventEnvelope:
    now = datetime.now(UTC)
    return _event(
        CaseAssigned(clinician_id="dr-1", assigned_by="coordinator-1", assigned_at=now), case_id
    )


def _completed(case_id: str, keyring: KeyRing) -> EventEnvelope:
    sealed = seal_details(
        ProtectedDetails(full_name="Sealed Name"),
        case_id=uuid.UUID(case_id),
        key=keyring.new_data_key(),
    )
    return _event(
        ReviewCompleted(
            reference="CRB-2025-ABCDEF",
            organisation="any",
            protected=sealed,
            clinician_id="dr-1",
            clinician_name="dr-1",
            approved_by="dr-1",
            completed_at=datetime.now(UTC),
            report_due=date(2026, 6, 1),
            findings=ClinicalFindings.model_validate(sample_findings()),
            documents=[],
        ),
        case_id,
    )


def _issued(case_id: str, pdf: bytes) -> EventEnvelope:
    report_id = uuid.uuid4()
    return _event(
        ReportIssued(
            report_id=report_id,
            version=1,
            object_key=f"cases/{case_id}/reports/v1-{report_id}.pdf",
            sha256=hashlib.sha256(pdf).hexdigest(),
            size=len(pdf),
            issued_at=datetime.now(UTC),
            signed_off_by="legal-1",
        ),
        case_id,
        producer="reporting",
    )


@pytest.fixture
def submitted(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> Callable[[], Awaitable[str]]:
    async def make() -> str:
        case_id: str = (await create_referral())["case_id"]
        assert (await upload(case_id, document)).status_code == 201
        response = await intake.post(f"/referrals/{case_id}/submit", headers=partner)
        assert response.status_code == 200
        return case_id

    return make


async def _publish(app: FastAPI, event: EventEnvelope) -> None:
    await app.state.runtime.publisher.publish(event)


async def _handled(referrals: Any, case_id: str, event: EventEnvelope) -> bool:
    stored = await referrals.find_one({"_id": case_id}, {"processed_events": 1})
    return str(event.event_id) in stored.get("processed_events", [])


async def test_progress_events_move_the_status_forward(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    wait_until: WaitUntil,
    keyring: KeyRing,
    settings: Settings,
) -> None:
    case_id = await submitted()
    none_yet = await intake.get(f"/referrals/{case_id}/report", headers=partner)
    assert none_yet.status_code == 404

    async def status() -> str:
        view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return str(view["status"])

    await _publish(intake_app, _accepted(case_id))
    await wait_until(lambda: _status_is(status, "accepted"), what="accepted")
    await _publish(intake_app, _assigned(case_id))
    await wait_until(lambda: _status_is(status, "in_assessment"), what="in assessment")
    await _publish(intake_app, _completed(case_id, keyring))
    await wait_until(lambda: _status_is(status, "in_legal_review"), what="in legal review")
    pdf = b"%PDF-1.4 the issued report"
    await _publish(intake_app, _issued(case_id, pdf))
    await wait_until(lambda: _status_is(status, "issued"), what="issued")

    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert [h["status"] for h in view["timeline"]] == [
        "submitted",
        "accepted",
        "in_assessment",
        "in_legal_review",
        "issued",
    ]
    assert view["timeline"][1]["deadline"] == "2026-06-01"
    assert view["report"]["version"] == 1
    assert view["report"]["sha256"] == hashlib.sha256(pdf).hexdigest()

    link = (await intake.get(f"/referrals/{case_id}/report", headers=partner)).json()
    assert link["url"].startswith(f"{settings.reporting_url}/reports/{view['report']['report_id']}")
    assert "signature=" in link["url"]
    assert link["sha256"] == view["report"]["sha256"]


async def _status_is(status: Callable[[], Awaitable[str]], expected: str) -> bool:
    return await status() == expected


async def test_a_redelivered_event_changes_nothing(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    referrals: Any,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    wait_until: WaitUntil,
) -> None:
    case_id = await submitted()
    accepted = _accepted(case_id)
    await _publish(intake_app, accepted)
    await wait_until(lambda: _handled(referrals, case_id, accepted), what="first delivery")
    before = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()

    await _publish(intake_app, accepted)  # the same event again, as a redelivery would be
    marker = _accepted(case_id)  # later news on the same queue, so we know the copy was seen
    marker = marker.model_copy(update={"event_id": uuid.uuid4()})
    await _publish(intake_app, marker)
    await wait_until(lambda: _handled(referrals, case_id, marker), what="marker")

    after = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    stored = await referrals.find_one({"_id": case_id})
    assert after["status"] == "accepted"
    assert after["timeline"][:2] == before["timeline"]
    assert [h["status"] for h in after["timeline"]] == ["submitted", "accepted", "accepted"]
    assert stored["processed_events"].count(str(accepted.event_id)) == 1


async def test_late_news_never_moves_the_status_back(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    referrals: Any,
    partner: Headers,
    submitted: Callable[[], Awaitable[str]],
    wait_until: WaitUntil,
) -> None:
    case_id = await submitted()
    issued = _issued(case_id, b"%PDF-1.4 report")
    await _publish(intake_app, issued)
    await wait_until(lambda: _handled(referrals, case_id, issued), what="report issued")

    late = _accepted(case_id)
    await _publish(intake_app, late)
    await wait_until(lambda: _handled(referrals, case_id, late), what="late acceptance")

    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["status"] == "issued"
    assert [h["status"] for h in view["timeline"]] == ["submitted", "issued"]


async def test_news_of_an_unknown_case_is_parked_with_the_reason(
    intake_app: FastAPI, intake: httpx.AsyncClient, settings: Settings, wait_until: WaitUntil
) -> None:
    stray = _accepted(str(uuid.uuid4()))
    await _publish(intake_app, stray)

    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        parking = await channel.get_queue(f"{settings.namespace}.intake.parking")

        async def parked() -> dict[str, Any] | None:
            message = await parking.get(fail=False)
            if message is None:
                return None
            await message.ack()
            return dict(message.headers) if message.message_id == str(stray.event_id) else None

        headers = await wait_until(parked, what="parked message")
    assert headers["x-parked-reason"] == "unknown-case"
    assert headers["x-parked-by"] == "intake"
