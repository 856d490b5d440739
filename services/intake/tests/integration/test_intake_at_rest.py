"""Survivor identity is never in clear at rest: not in the database, not in the bucket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from corroborate.settings import Settings
from corroborate.storage import minio_client

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]


def _raw_object(settings: Settings, key: str) -> bytes:
    s3 = minio_client(settings)
    response = s3.get_object(bucket_name=settings.bucket_name("intake-documents"), object_name=key)
    try:
        data: bytes = response.read()
        return data
    finally:
        response.close()
        response.release_conn()


async def test_the_stored_referral_holds_no_identity_in_clear(
    intake: httpx.AsyncClient,
    referrals: Any,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    survivor_identity: dict[str, str],
) -> None:
    created = await create_referral()
    case_id = created["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200

    stored = await referrals.find_one({"_id": case_id})

    assert stored is not None
    assert stored["reference"] == created["reference"]
    assert stored["status"] == "submitted"
    dumped = json.dumps(stored, default=str)
    for label, value in survivor_identity.items():
        assert value not in dumped, f"{label} is stored in clear"
    for contact in ("+44 7700 900123", "referrals@example.org", "A. Solicitor"):
        assert contact not in dumped, "contact details are stored in clear"
    assert "Detained for four months" not in dumped  # the account is sealed too
    # Field by field: identity is sealed, each on its own; the rest stays readable.
    details = stored["details"]
    assert isinstance(details["survivor"]["full_name"], str)
    assert details["survivor"]["full_name"] != survivor_identity["full_name"]
    assert details["survivor"]["nationality"] == "ER"
    assert details["immigration"]["stage"] == "refused"
    assert len(stored["home_office_index"]) == 64  # a keyed hash, never the reference


async def test_a_referral_is_found_by_its_home_office_reference_through_the_blind_index(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    survivor_identity: dict[str, str],
) -> None:
    created = await create_referral()
    await create_referral(immigration={"stage": "not_yet_claimed"})
    reference = survivor_identity["home_office_reference"]

    for spelling in (reference, reference.lower(), f" {reference[:4]} {reference[4:]} "):
        found = await intake.get(
            "/referrals", params={"home_office_reference": spelling}, headers=partner
        )
        assert [r["case_id"] for r in found.json()["items"]] == [created["case_id"]], spelling
    none = await intake.get(
        "/referrals", params={"home_office_reference": "HO-NOBODY-1"}, headers=partner
    )
    assert none.json()["items"] == []


async def test_the_stored_document_is_ciphertext(
    intake: httpx.AsyncClient,
    referrals: Any,
    settings: Settings,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    created = await create_referral()
    case_id = created["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    stored = await referrals.find_one({"_id": case_id})
    (record,) = stored["documents"]

    raw = await asyncio.to_thread(_raw_object, settings, record["object_key"])

    assert record["object_key"].startswith(f"cases/{case_id}/documents/")
    assert not raw.startswith(b"%PDF")
    assert b"Home Office refusal letter" not in raw
    assert raw.startswith(b"CRB1")
    assert len(raw) > len(document)
