"""Poison messages on every queue of every service: each is parked with its reason, the
consumers carry on, ``corroborate parked list`` shows them and ``replay`` puts them back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from typer.testing import CliRunner

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.cli.main import app as cli
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    AppointmentBooked,
    CaseAssigned,
    ClinicalFindings,
    InformationProvided,
    InformationRequested,
    PersonChanged,
    ProtectedDetails,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralWaitlisted,
    ReferralWithdrawn,
    ReportChangesRequested,
    ReportIssued,
    ReviewCompleted,
    seal_details,
    seal_text,
)
from corroborate.events.envelope import new_event
from corroborate.messaging.parked import list_parked
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, sample_findings, sample_referral
from corroborate_testing import eventually, running
from intake.bootstrap import create_app as create_intake
from reporting.bootstrap import create_app as create_reporting
from review.bootstrap import create_app as create_review

pytestmark = pytest.mark.integration

Headers = dict[str, str]
SERVICES = ("intake", "review", "reporting")
# Queues whose event opens a new aggregate: "a case we do not know" does not apply to them.
OPENING = {("review", "referral.submitted"), ("reporting", "review.completed")}
OPENING |= {("reporting", t) for t in ("referral.submitted", "referral.accepted")}
OPENING |= {("reporting", t) for t in ("referral.declined", "report.issued", "case.escalated")}
OPENING |= {("reporting", "referral.withdrawn")}
# Erasure of a case a service never held leaves it nothing to do: not a poison either.
OPENING |= {(service, "case.erased") for service in ("intake", "review", "reporting")}
# A person the copy of the directory has not heard of is a person to add to it.
OPENING |= {(service, "directory.person_changed") for service in ("review", "reporting")}


@pytest.fixture
async def apps(settings: Settings) -> AsyncIterator[dict[str, tuple[FastAPI, httpx.AsyncClient]]]:
    built = {
        "intake": create_intake(service_settings(settings, "intake")),
        "review": create_review(service_settings(settings, "review")),
        "reporting": create_reporting(service_settings(settings, "reporting")),
    }
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running(a)) for name, a in built.items()}
        yield {name: (built[name], clients[name]) for name in built}


def _payload(event_type: str, keyring: KeyRing) -> BaseModel:
    """A valid payload of each type a service applies to a case it must already know."""
    now, key = datetime.now(UTC), keyring.new_data_key()
    case = uuid.uuid4()
    text = seal_text("sealed", case_id=case, key=key, purpose="x")
    sealed = seal_details(ProtectedDetails(full_name="Nobody"), case_id=case, key=key)
    findings = ClinicalFindings.model_validate(sample_findings())
    samples: dict[str, BaseModel] = {
        "referral.acknowledged": ReferralAcknowledged(acknowledged_at=now, response_due=now.date()),
        "referral.information_requested": InformationRequested(
            request_id=uuid.uuid4(), question=text, requested_by="c", requested_at=now
        ),
        "referral.accepted": ReferralAccepted(
            accepted_by="c", accepted_at=now, report_due=now.date()
        ),
        "referral.declined": ReferralDeclined(reason=text, declined_by="c", declined_at=now),
        "referral.waitlisted": ReferralWaitlisted(waitlisted_by="c", waitlisted_at=now),
        "case.assigned": CaseAssigned(clinician_id="d", assigned_by="c", assigned_at=now),
        "appointment.booked": AppointmentBooked(
            appointment_id=uuid.uuid4(), appointment_on=now.date(), remote=False, booked_at=now
        ),
        "review.completed": ReviewCompleted(
            reference="CRB-2026-ABCDEF",
            organisation="o",
            protected=sealed,
            clinician_id="d",
            clinician_name="D",
            completed_at=now,
            report_due=None,
            findings=findings,
            documents=[],
        ),
        "report.issued": ReportIssued(
            report_id=uuid.uuid4(),
            version=1,
            object_key="k",
            sha256="0" * 64,
            size=1,
            issued_at=now,
            signed_off_by="l",
        ),
        "referral.withdrawn": ReferralWithdrawn(reason=text, withdrawn_by="p", withdrawn_at=now),
        "referral.information_provided": InformationProvided(
            request_id=uuid.uuid4(), answer=text, documents=[], provided_at=now
        ),
        "report.changes_requested": ReportChangesRequested(
            comments=text, requested_by="l", requested_at=now
        ),
        "directory.person_changed": PersonChanged(
            person_id=uuid.uuid4(),
            revision=1,
            email="someone@corroborate.test",
            name="Someone",
            roles=[Role.CLINICIAN],
            active=True,
            changed_at=now,
        ),
    }
    return samples[event_type]


def _bodies(event_type: str, keyring: KeyRing, *, unknown_case: bool) -> dict[str, bytes]:
    """Four kinds of poison for one queue: not JSON, a type nobody knows, a schema version
    nobody knows, and (where the service must know the case) news of a case it does not."""
    envelope: dict[str, Any] = {
        "type": event_type,
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "case_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "producer": "test",
        "payload": {},
    }
    bodies = {
        "malformed": b'{"event_id": "not closed',
        "unknown-event-type": json.dumps(
            {**envelope, "event_id": str(uuid.uuid4()), "type": "case.teleported"}
        ).encode(),
        "unsupported-schema-version": json.dumps(
            {**envelope, "event_id": str(uuid.uuid4()), "schema_version": 99}
        ).encode(),
    }
    if unknown_case:
        stray = new_event(
            payload=_payload(event_type, keyring),
            case_id=uuid.uuid4(),
            producer="test",
            correlation_id=uuid.uuid4(),
            registry=CASE_EVENTS,
        )
        bodies["unknown-case"] = stray.model_dump_json().encode()
    return bodies


async def test_every_queue_parks_what_it_cannot_process_and_carries_on(
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]],
    settings: Settings,
    bearer: Callable[..., Headers],
    keyring: KeyRing,
) -> None:
    sent: dict[str, dict[str, set[str]]] = {s: {} for s in SERVICES}
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        for service in SERVICES:
            app, _ = apps[service]
            for event_type in app.state.runtime.consumer.handled_types:
                queue = f"{settings.namespace}.{service}.{event_type}"
                # Sent straight to the one queue, so each message tests that queue alone.
                unknown_case = (service, event_type) not in OPENING
                for reason, body in _bodies(event_type, keyring, unknown_case=unknown_case).items():
                    await channel.default_exchange.publish(
                        aio_pika.Message(body, message_id=str(uuid.uuid4())), routing_key=queue
                    )
                    sent[service].setdefault(queue, set()).add(reason)

    async def all_parked() -> dict[str, list[Any]] | None:
        found = {s: await list_parked(settings, s) for s in SERVICES}
        expected = sum(len(r) for q in sent.values() for r in q.values())
        return found if sum(len(v) for v in found.values()) >= expected else None

    parked = await eventually(all_parked, within=60, what="every poison message parked")
    for service, queues in sent.items():
        for queue, reasons in queues.items():
            seen = {p.reason for p in parked[service] if p.from_queue == queue}
            assert seen == reasons, (service, queue)
            assert all(p.parked_by == service for p in parked[service])

    # The consumers carry on: a real referral still goes from intake to review's triage.
    _, intake = apps["intake"]
    _, review = apps["review"]
    partner = bearer(Role.PARTNER, org="poison-test", sub="solicitor-1")
    created = await intake.post("/referrals", json=sample_referral("Poison Test"), headers=partner)
    case_id = created.json()["case_id"]
    attached = await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "home_office_decision"},
        content=minimal_pdf("x"),
        headers=partner,
    )
    assert attached.status_code == 201
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200
    coordinator = bearer(Role.COORDINATOR, sub="coordinator-1")

    async def in_triage() -> bool:
        queue = (await review.get("/triage", headers=coordinator)).json()
        return any(item["case_id"] == case_id for item in queue)

    await eventually(in_triage, what="a good referral after the poison")


async def test_a_parked_event_is_replayed_once_its_cause_is_fixed(
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]],
    settings: Settings,
    bearer: Callable[..., Headers],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """News of a case intake does not know yet is parked; once the referral exists, the replay
    lands. (The case id comes from an Idempotency-Key, so it is known beforehand.)"""
    intake_app, intake = apps["intake"]
    org, key = "replay-solicitors", f"replay-{uuid.uuid4()}"
    case_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{org}:{key}")
    accepted = new_event(
        payload=ReferralAccepted(
            accepted_by="c-1", accepted_at=datetime.now(UTC), report_due=date(2027, 1, 1)
        ),
        case_id=case_id,
        producer="review",
        correlation_id=uuid.uuid4(),
        registry=CASE_EVENTS,
    )
    await intake_app.state.runtime.publisher.publish(accepted)

    async def parked_here() -> bool:
        found = await list_parked(settings, "intake")
        return any(p.event_id == str(accepted.event_id) for p in found)

    await eventually(parked_here, what="the event parked")
    monkeypatch.setenv("CORROBORATE_NAMESPACE", settings.namespace)
    # The command runs its own event loop: from this test's loop, in a thread.
    listed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["parked", "list", "--service", "intake"]
    )
    assert listed.exit_code == 0, listed.output
    assert f"event {accepted.event_id}" in listed.output
    assert "unknown-case" in listed.output

    partner = bearer(Role.PARTNER, org=org, sub="solicitor-1")
    created = await intake.post(
        "/referrals",
        json=sample_referral("Replay Test"),
        headers={**partner, "Idempotency-Key": key},
    )
    assert created.json()["case_id"] == str(case_id)
    await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "home_office_decision"},
        content=minimal_pdf("x"),
        headers=partner,
    )
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200

    replayed = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["parked", "replay", "--service", "intake", "--event-id", str(accepted.event_id)],
    )
    assert replayed.exit_code == 0, replayed.output
    assert "1 message(s) replayed" in replayed.output

    async def accepted_now() -> bool:
        # It is older news than the submission, so it joins the timeline in its place.
        view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
        return "accepted" in {change["status"] for change in view["timeline"]}

    await eventually(accepted_now, what="the replayed acceptance applied")
    left = await list_parked(settings, "intake")
    assert str(accepted.event_id) not in {p.event_id for p in left}
