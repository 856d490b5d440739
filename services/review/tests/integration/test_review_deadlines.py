"""Deadlines: each at-risk or missed deadline is raised once, and a restart repeats nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest

from corroborate.access import service_settings
from corroborate.crypto import KeyRing
from corroborate.events.contracts import ProtectedDetails
from corroborate.settings import Settings
from corroborate.walk.samples import ACCEPT
from corroborate_testing import eventually, referral_submitted, running
from review.bootstrap import create_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]


async def _escalations(queue: aio_pika.abc.AbstractQueue, case_id: str) -> list[dict[str, Any]]:
    found = []
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        event = json.loads(message.body)
        if event["case_id"] == case_id and event["type"] == "case.escalated":
            found.append(event["payload"])
    return found


async def test_each_deadline_is_escalated_once_and_survives_a_restart(
    settings: Settings, keyring: KeyRing, coordinator: Headers
) -> None:
    quick = settings.model_copy(
        update={"delivery_days": 3, "no_appointment_days": 0, "deadline_poll_seconds": 3600}
    )
    submitted = referral_submitted(
        keyring=keyring,
        protected=ProtectedDetails(full_name="Deadline Person", questions=["Q?"]),
        reference="CRB-2026-DEADL1",
        submitted_at=datetime.now(UTC) - timedelta(days=10),
    )
    case_id = str(submitted.case_id)
    connection = await aio_pika.connect(settings.amqp_url.get_secret_value())
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{settings.namespace}.case-events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        # Every event: with intake not running, nothing else would take review's own.
        await queue.bind(exchange, routing_key="#")
        seen: list[dict[str, Any]] = []

        async def kinds(expected: set[str]) -> bool:
            seen.extend(await _escalations(queue, case_id))
            return {e["kind"] for e in seen} >= expected

        app = create_app(service_settings(quick, "review"))
        async with running(app) as review:
            await app.state.runtime.publisher.publish(submitted)

            async def in_triage() -> bool:
                queue_now = (await review.get("/triage", headers=coordinator)).json()
                return any(item["case_id"] == case_id for item in queue_now)

            await eventually(in_triage, what="in triage")
            watch = app.state.deadlines
            # Other tests' cases share the database: count this case's escalations only.
            await watch.run_once()  # triage is 3 days overdue
            await watch.run_once()  # ...raised once
            at_risk = (await review.get("/at-risk", headers=coordinator)).json()
            item = next(i for i in at_risk if i["case_id"] == case_id)
            assert item["risks"] == [
                {
                    "kind": "triage_overdue",
                    "due": (datetime.now(UTC).date() - timedelta(days=3)).isoformat(),
                }
            ]
            assert item["escalated"] == ["triage_overdue"]

            accepted = await review.post(
                f"/cases/{case_id}/decision", json=ACCEPT, headers=coordinator
            )
            assert accepted.status_code == 200
            await watch.run_once()  # no appointment yet; the report is due within 14 days
            await watch.run_once()
            await eventually(
                lambda: kinds({"triage_overdue", "no_appointment", "report_due_soon"}),
                what="three escalations",
            )

        restarted = create_app(service_settings(quick, "review"))
        async with running(restarted):
            await restarted.state.deadlines.run_once()  # after a restart: nothing again
        await eventually(lambda: kinds(set()), what="drain")

    assert sorted(e["kind"] for e in seen) == [
        "no_appointment",
        "report_due_soon",
        "triage_overdue",
    ]
    due_soon = next(e for e in seen if e["kind"] == "report_due_soon")
    assert due_soon["due"] == (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
