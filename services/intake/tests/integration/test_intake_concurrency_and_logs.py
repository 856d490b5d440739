"""Several files attached at once, and what the service's own log lines may contain."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.access import service_settings
from corroborate.settings import Settings
from corroborate.storage import minio_client
from corroborate.walk.samples import minimal_pdf
from corroborate_testing import running
from intake.bootstrap import create_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
ReferralBody = Callable[..., dict[str, Any]]


def _object_count(settings: Settings, prefix: str) -> int:
    s3 = minio_client(settings)
    bucket = settings.bucket_name("intake-documents")
    return sum(1 for _ in s3.list_objects(bucket_name=bucket, prefix=prefix, recursive=True))


async def test_documents_attached_at_the_same_time_are_all_accounted_for(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
) -> None:
    """A browser uploading several files at once: each is recorded, or cleanly refused (409)
    with nothing left behind; never a server error with an orphaned object in the bucket."""
    case_id = (await create_referral())["case_id"]
    transport = httpx.ASGITransport(app=intake_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/referrals/{case_id}/documents",
                    params={"kind": "other"},
                    content=minimal_pdf(f"statement page {n}"),
                    headers=partner,
                )
                for n in range(4)
            )
        )

    statuses = sorted(r.status_code for r in responses)
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    receipts = {r.json()["document_id"] for r in responses if r.status_code == 201}
    stored = await asyncio.to_thread(_object_count, settings, f"cases/{case_id}/")
    assert set(statuses) <= {201, 409}, f"uploads answered {statuses}"
    assert {d["document_id"] for d in view["documents"]} == receipts
    assert stored == len(view["documents"])


async def test_log_lines_never_carry_the_survivor_identity(
    capfd: pytest.CaptureFixture[str],
    settings: Settings,
    partner: Headers,
    referral_body: ReferralBody,
    document: bytes,
    survivor_identity: dict[str, str],
) -> None:
    app = create_app(
        service_settings(settings, "intake")
    )  # logging is configured now, while the output is captured
    async with running(app) as intake:
        created = await intake.post("/referrals", json=referral_body(), headers=partner)
        case_id = created.json()["case_id"]
        uploaded = await intake.post(
            f"/referrals/{case_id}/documents",
            params={"kind": "home_office_decision"},
            content=document,
            headers=partner,
        )
        submitted = await intake.post(f"/referrals/{case_id}/submit", headers=partner)
        bad = referral_body(service_requested="unknown")
        refused = await intake.post("/referrals", json=bad, headers=partner)
        await asyncio.sleep(0.3)  # let the outbox relay try to publish, and log it

    assert [created.status_code, uploaded.status_code, submitted.status_code] == [201, 201, 200]
    assert refused.status_code == 422
    out, err = capfd.readouterr()
    logged = out + err
    assert logged.count('"message": "request"') == 4  # every request was logged
    for label, value in survivor_identity.items():
        assert value not in logged, f"{label} appears in the logs"
