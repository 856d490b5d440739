"""A partner drafts, attaches evidence and submits, over HTTP, against the real servers."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corroborate.settings import Settings
from corroborate.storage import minio_client

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]
ReferralBody = Callable[..., dict[str, Any]]

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + b"payload"


def _objects_under(settings: Settings, prefix: str) -> list[str]:
    s3 = minio_client(settings)
    return [
        o.object_name or ""
        for o in s3.list_objects(
            bucket_name=settings.bucket_name("intake-documents"), prefix=prefix, recursive=True
        )
    ]


async def test_create_upload_submit_gives_receipts_with_the_evidence_hash(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
    png_photo: bytes,
) -> None:
    created = await create_referral()
    assert created["status"] == "draft"
    assert created["reference"].startswith("CRB-")
    photo = png_photo

    first = await upload(created["case_id"], document)
    second = await upload(created["case_id"], photo, kind="photograph")

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text
    assert first.json()["sha256"] == hashlib.sha256(document).hexdigest()
    assert first.json()["size"] == len(document)
    assert first.json()["content_type"] == "application/pdf"
    assert second.json()["sha256"] == hashlib.sha256(photo).hexdigest()
    assert second.json()["content_type"] == "image/png"

    submitted = await intake.post(f"/referrals/{created['case_id']}/submit", headers=partner)
    assert submitted.status_code == 200, submitted.text
    view = submitted.json()
    assert view["status"] == "submitted"
    assert view["submitted_at"] is not None
    assert [h["status"] for h in view["timeline"]] == ["submitted"]
    assert {d["sha256"] for d in view["documents"]} == {
        hashlib.sha256(document).hexdigest(),
        hashlib.sha256(photo).hexdigest(),
    }

    listed = await intake.get("/referrals", headers=partner)
    assert [r["case_id"] for r in listed.json()["items"]] == [created["case_id"]]


async def test_an_executable_is_refused_and_nothing_is_stored(
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
) -> None:
    created = await create_referral()
    case_id = created["case_id"]

    refused = await upload(case_id, ELF, kind="other")

    assert refused.status_code == 415
    assert "not an allowed type" in refused.json()["detail"]
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["documents"] == []
    assert await asyncio.to_thread(_objects_under, settings, f"cases/{case_id}/") == []


async def test_plain_text_is_kept_as_text_whatever_it_claims_to_be(
    create_referral: Create, upload: Upload
) -> None:
    created = await create_referral()
    received = await upload(created["case_id"], b"This is not really a PDF at all.\n")
    assert received.status_code == 201, received.text
    assert received.json()["content_type"] == "text/plain"


async def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_recorded(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    intake_app.state.intake.documents._max_bytes = 1024
    created = await create_referral()
    case_id = created["case_id"]
    oversized = document + b"%" + b"0" * 2048

    refused = await upload(case_id, oversized)

    assert refused.status_code == 413
    assert "1024 bytes" in refused.json()["detail"]
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["documents"] == []
    assert await asyncio.to_thread(_objects_under, settings, f"cases/{case_id}/") == []
    within = await upload(case_id, document)
    assert within.status_code == 201, within.text


async def test_invalid_details_list_every_field_without_echoing_identity(
    intake: httpx.AsyncClient,
    partner: Headers,
    referral_body: ReferralBody,
    survivor_identity: dict[str, str],
) -> None:
    body = referral_body(service_requested="second_opinion", unexpected="x")
    body["survivor"]["nationality"] = "Eritrean"
    body["survivor"]["languages"] = ["Tigrinya"]
    body["allegations"]["countries"] = ["ER", "sudan"]

    response = await intake.post("/referrals", json=body, headers=partner)

    assert response.status_code == 422
    problem = response.json()
    fields = {e["field"]: e["rule"] for e in problem["errors"]}
    assert fields == {
        "service_requested": "enum",
        "unexpected": "extra_forbidden",
        "survivor.nationality": "string_pattern_mismatch",
        "survivor.languages.0": "string_pattern_mismatch",
        "allegations.countries.1": "string_pattern_mismatch",
    }
    assert problem["detail"] == "5 field(s) invalid"
    assert all(e["message"] for e in problem["errors"])
    for value in survivor_identity.values():
        assert value not in response.text
    assert (await intake.get("/referrals", headers=partner)).json()["items"] == []


async def test_a_draft_without_an_age_says_so_and_cannot_be_submitted(
    intake: httpx.AsyncClient,
    partner: Headers,
    referral_body: ReferralBody,
    upload: Upload,
    document: bytes,
    survivor_identity: dict[str, str],
) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]

    created = await intake.post("/referrals", json=body, headers=partner)
    assert created.status_code == 201, created.text
    assert created.json()["missing"] == [
        "survivor.date_of_birth: give date_of_birth or approximate_age"
    ]
    case_id = created.json()["case_id"]
    assert (await upload(case_id, document)).status_code == 201

    response = await intake.post(f"/referrals/{case_id}/submit", headers=partner)

    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["field"], error["rule"]) == ("survivor.date_of_birth", "required_for_submission")
    assert "date_of_birth or approximate_age" in error["message"]
    assert survivor_identity["full_name"] not in response.text


async def test_submitting_without_documents_lists_what_is_missing_as_field_errors(
    intake: httpx.AsyncClient, partner: Headers, create_referral: Create
) -> None:
    """The documented 422 shape (ValidationProblem) is ``{"detail": str, "errors": [...]}``."""
    created = await create_referral(service_requested="clinical_response_letter")

    response = await intake.post(f"/referrals/{created['case_id']}/submit", headers=partner)

    assert response.status_code == 422
    problem = response.json()
    assert isinstance(problem["detail"], str)
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [
        ("documents", "required_for_submission"),
        ("documents", "required_for_submission"),
    ]
    view = (await intake.get(f"/referrals/{created['case_id']}", headers=partner)).json()
    assert view["status"] == "draft"


async def test_submitting_twice_is_a_conflict_and_documents_are_closed(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    created = await create_referral()
    case_id = created["case_id"]
    assert (await upload(case_id, document)).status_code == 201
    assert (await intake.post(f"/referrals/{case_id}/submit", headers=partner)).status_code == 200

    again = await intake.post(f"/referrals/{case_id}/submit", headers=partner)
    late_document = await upload(case_id, document)

    assert again.status_code == 409
    assert again.json()["detail"] == "the referral is submitted: it cannot be submitted"
    assert late_document.status_code == 409
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert [h["status"] for h in view["timeline"]] == ["submitted"]
    assert len(view["documents"]) == 1
