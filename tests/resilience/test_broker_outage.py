"""A broker outage loses nothing: services reconnect, and events saved meanwhile are sent."""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid

import httpx
import pytest
from pydantic import SecretStr

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf, sample_referral
from corroborate_testing import BearerHeaders, TcpProxy, running
from intake.bootstrap import create_app as create_intake
from review.bootstrap import create_app as create_review

pytestmark = pytest.mark.integration


async def _submit(intake: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    created = await intake.post(
        "/referrals", json=sample_referral("Outage Person"), headers=headers
    )
    assert created.status_code == 201, created.text
    case_id = uuid.UUID(created.json()["case_id"])
    uploaded = await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "home_office_decision"},
        content=minimal_pdf("decision"),
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    submitted = await intake.post(f"/referrals/{case_id}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    return case_id


async def _wait_in_triage(
    review: httpx.AsyncClient, headers: dict[str, str], case_id: uuid.UUID
) -> None:
    for _ in range(200):
        queue = await review.get("/triage", headers=headers)
        if any(item["case_id"] == str(case_id) for item in queue.json()):
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"{case_id} never reached triage")


async def test_referral_submitted_during_a_broker_outage_reaches_triage_after_it(
    settings: Settings, bearer: BearerHeaders
) -> None:
    url = urllib.parse.urlparse(settings.amqp_url.get_secret_value())
    proxy = TcpProxy(target_host=url.hostname or "127.0.0.1", target_port=url.port or 5672)
    await proxy.start()
    netloc = f"{url.username}:{url.password}@127.0.0.1:{proxy.port}"
    through_proxy = settings.model_copy(
        update={"amqp_url": SecretStr(url._replace(netloc=netloc).geturl())}
    )
    partner = bearer(Role.PARTNER, org="outage-firm")
    coordinator = bearer(Role.COORDINATOR)
    try:
        async with (
            running(create_intake(service_settings(through_proxy, "intake"))) as intake,
            running(create_review(service_settings(through_proxy, "review"))) as review,
        ):
            before = await _submit(intake, partner)
            await _wait_in_triage(review, coordinator, before)

            proxy.cut()
            during = await _submit(intake, partner)  # saved with its event; the broker is away
            assert (await review.get("/readyz")).status_code == 503
            await asyncio.sleep(2.0)
            proxy.resume()

            await _wait_in_triage(review, coordinator, during)
            after = await _submit(intake, partner)
            await _wait_in_triage(review, coordinator, after)
            assert (await review.get("/readyz")).status_code == 200
    finally:
        await proxy.stop()


async def test_a_broker_that_stops_answering_does_not_keep_a_service_from_stopping(
    settings: Settings, bearer: BearerHeaders, capsys: pytest.CaptureFixture[str]
) -> None:
    url = urllib.parse.urlparse(settings.amqp_url.get_secret_value())
    proxy = TcpProxy(target_host=url.hostname or "127.0.0.1", target_port=url.port or 5672)
    await proxy.start()
    netloc = f"{url.username}:{url.password}@127.0.0.1:{proxy.port}"
    through_proxy = settings.model_copy(
        update={
            "amqp_url": SecretStr(url._replace(netloc=netloc).geturl()),
            "stop_timeout_seconds": 1.0,
        }
    )
    try:
        intake = create_intake(service_settings(through_proxy, "intake"))
        async with running(intake, stop_within=30.0) as client:
            assert (await client.get("/readyz")).status_code == 200
            proxy.freeze()  # the broker's answers to the consumers' cancellation never come
            stopping = asyncio.get_running_loop().time()
        stopped_after = asyncio.get_running_loop().time() - stopping
    finally:
        await proxy.stop()

    assert stopped_after < 10.0
    logged = capsys.readouterr().out
    assert "the connection is dropped" in logged
    assert "service stopped" in logged
