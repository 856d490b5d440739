"""Survivor identity is never in clear at rest: not in the database, not in the bucket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from minio import Minio

from corroborate.settings import Settings

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]


def _raw_object(settings: Settings, key: str) -> bytes:
    s3 = Minio(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
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
    assert "Detained for four months" not in dumped  # the account is sealed too
    assert stored["sealed_details"]


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
