"""The partner fetches the issued report through a short-lived signed link."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pypdf import PdfReader

from corroborate.auth import Role
from corroborate.events.envelope import EventEnvelope
from corroborate.links import DownloadLinks
from corroborate.settings import Settings

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Issue = Callable[[], Awaitable[tuple[EventEnvelope, dict[str, Any]]]]


def _path(url: str) -> str:
    """The link's path and query, to call the in-process app."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _link(reporting: httpx.AsyncClient, case_id: uuid.UUID, headers: Headers) -> Any:
    response = await reporting.post(f"/cases/{case_id}/report/link", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_partner_downloads_the_report_it_was_issued(
    reporting: httpx.AsyncClient, settings: Settings, partner: Headers, issued: Issue
) -> None:
    event, view = await issued()
    (report,) = view["reports"]

    link = await _link(reporting, event.case_id, partner)
    download = await reporting.get(_path(link["url"]), headers=partner)

    assert link["report_id"] == report["report_id"]
    assert link["version"] == 1
    lifetime = datetime.fromisoformat(link["expires_at"]) - datetime.now(UTC)
    assert abs(lifetime.total_seconds() - settings.report_link_ttl_seconds) < 10
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == report["sha256"]
    assert download.headers["X-Content-SHA256"] == report["sha256"]
    assert len(download.content) == report["size"]
    assert download.headers["Cache-Control"] == "no-store"
    reference = event.payload["reference"]
    assert f'filename="{reference}-v1.pdf"' in download.headers["Content-Disposition"]
    text = PdfReader(io.BytesIO(download.content)).pages[0].extract_text()
    assert reference in text


async def test_an_altered_link_is_forbidden(
    reporting: httpx.AsyncClient, partner: Headers, issued: Issue
) -> None:
    event, _ = await issued()
    link = await _link(reporting, event.case_id, partner)
    path = _path(link["url"])
    signature = path.rsplit("signature=", 1)[1]
    altered = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    response = await reporting.get(path.replace(signature, altered), headers=partner)
    assert response.status_code == 403
    assert "signature" in response.json()["detail"]


async def test_an_expired_link_is_forbidden(
    reporting: httpx.AsyncClient, settings: Settings, partner: Headers, org: str, issued: Issue
) -> None:
    _, view = await issued()
    report_id = view["reports"][0]["report_id"]
    links = DownloadLinks(
        secret=settings.report_link_secret.get_secret_value().encode(),
        ttl=timedelta(seconds=settings.report_link_ttl_seconds),
    )
    expires, signature = links.sign(
        report_id=uuid.UUID(report_id), organisation=org, now=datetime.now(UTC) - timedelta(hours=1)
    )
    response = await reporting.get(
        f"/reports/{report_id}/download",
        params={"expires": expires, "signature": signature},
        headers=partner,
    )
    assert response.status_code == 403
    assert "expired" in response.json()["detail"]


async def test_another_organisation_cannot_get_a_link_or_the_report(
    reporting: httpx.AsyncClient, bearer: Callable[..., Headers], partner: Headers, issued: Issue
) -> None:
    event, _ = await issued()
    link = await _link(reporting, event.case_id, partner)
    stranger = bearer(Role.PARTNER, org="other-solicitors", sub="solicitor-9")

    asked = await reporting.post(f"/cases/{event.case_id}/report/link", headers=stranger)
    fetched = await reporting.get(_path(link["url"]), headers=stranger)

    assert asked.status_code == 404
    assert fetched.status_code == 404
    assert fetched.headers["content-type"] != "application/pdf"


@pytest.mark.parametrize("role", [Role.LEGAL, Role.CLINICIAN])
async def test_downloads_are_for_partners(
    reporting: httpx.AsyncClient,
    bearer: Callable[..., Headers],
    partner: Headers,
    issued: Issue,
    role: Role,
) -> None:
    event, _ = await issued()
    link = await _link(reporting, event.case_id, partner)
    response = await reporting.get(_path(link["url"]), headers=bearer(role))
    assert response.status_code == 403


async def test_there_is_no_link_before_a_report_is_issued(
    reporting: httpx.AsyncClient,
    partner: Headers,
    awaiting_review: Callable[[], Awaitable[EventEnvelope]],
) -> None:
    event = await awaiting_review()
    response = await reporting.post(f"/cases/{event.case_id}/report/link", headers=partner)
    assert response.status_code == 404
    unknown = await reporting.post(f"/cases/{uuid.uuid4()}/report/link", headers=partner)
    assert unknown.status_code == 404
