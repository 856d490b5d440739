"""Intake running in-process against the real broker, database and object storage."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from pymongo import AsyncMongoClient

from corroborate.access import service_settings
from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate.walk.samples import minimal_pdf
from corroborate_testing import eventually, running
from intake.bootstrap import create_app

Headers = dict[str, str]
ReferralBody = Callable[..., dict[str, Any]]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def intake_app(settings: Settings) -> FastAPI:
    return create_app(service_settings(settings, "intake"))


@pytest.fixture
async def intake(intake_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(intake_app) as client:
        yield client


@pytest.fixture
async def referrals(settings: Settings) -> AsyncIterator[Any]:
    """Intake's referrals collection, read directly (as a database dump would show it)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value(), tz_aware=True
    )
    try:
        yield client[settings.database_name("intake")]["referrals"]
    finally:
        await client.close()


@pytest.fixture
def org() -> str:
    """An organisation of its own for each test, so listings never mix."""
    return f"solicitors-{secrets.token_hex(3)}"


@pytest.fixture
def partner(bearer: Callable[..., Headers], org: str) -> Headers:
    return bearer(Role.PARTNER, org=org, sub="solicitor-1")


@pytest.fixture
def document() -> bytes:
    return minimal_pdf("Home Office refusal letter (test)")


GPS_LATITUDE = (51.0, 30.0, 12.34)


def _photo(image_format: str) -> bytes:
    """A small photograph carrying EXIF with a GPS position, as a phone camera writes it."""
    image = Image.new("RGB", (64, 48), (180, 120, 90))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", GPS_LATITUDE, "W", (0.0, 7.0, 39.0)
    out = io.BytesIO()
    image.save(out, format=image_format, exif=exif)
    return out.getvalue()


@pytest.fixture
def jpeg_photo() -> bytes:
    return _photo("JPEG")


@pytest.fixture
def png_photo() -> bytes:
    return _photo("PNG")


@pytest.fixture
def create_referral(
    intake: httpx.AsyncClient, partner: Headers, referral_body: ReferralBody
) -> Create:
    async def create(headers: Headers | None = None, **overrides: Any) -> dict[str, Any]:
        response = await intake.post(
            "/referrals", json=referral_body(**overrides), headers=headers or partner
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return create


@pytest.fixture
def upload(intake: httpx.AsyncClient, partner: Headers) -> Upload:
    async def send(
        case_id: str,
        content: bytes,
        *,
        kind: str = "home_office_decision",
        headers: Headers | None = None,
    ) -> httpx.Response:
        return await intake.post(
            f"/referrals/{case_id}/documents",
            params={"kind": kind},
            content=content,
            headers=headers or partner,
        )

    return send


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    return eventually
