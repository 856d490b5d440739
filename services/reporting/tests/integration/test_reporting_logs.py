"""Reporting opens the survivor's identity to render the report; its logs must not show it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from corroborate.access import service_settings
from corroborate.events.contracts import ProtectedDetails
from corroborate.events.envelope import EventEnvelope
from corroborate.settings import Settings
from corroborate_testing import running
from reporting.bootstrap import create_app

pytestmark = pytest.mark.integration

Headers = dict[str, str]
WaitUntil = Callable[..., Awaitable[Any]]


async def test_rendering_and_downloading_log_no_identity(
    capfd: pytest.CaptureFixture[str],
    settings: Settings,
    legal: Headers,
    partner: Headers,
    completed_event: Callable[[], EventEnvelope],
    survivor: ProtectedDetails,
    wait_until: WaitUntil,
) -> None:
    app = create_app(
        service_settings(settings, "reporting")
    )  # logging is configured now, while the output is captured
    event = completed_event()
    case = event.case_id
    async with running(app) as reporting:
        await app.state.runtime.publisher.publish(event)

        async def arrived() -> bool:
            response = await reporting.get(f"/legal-reviews/{case}", headers=legal)
            return response.status_code == 200

        await wait_until(arrived, what="the case in legal review")
        signed = await reporting.post(
            f"/legal-reviews/{case}/sign-off",
            json={"statement": "Reviewed for legal sufficiency and approved for issue."},
            headers=legal,
        )
        link = await reporting.post(f"/cases/{case}/report/link", headers=partner)
        url = urlsplit(link.json()["url"])
        download = await reporting.get(f"{url.path}?{url.query}", headers=partner)
        failed = await reporting.get(f"{url.path}?{url.query}", headers=legal)

    assert (signed.status_code, download.status_code, failed.status_code) == (200, 200, 403)
    out, err = capfd.readouterr()
    logged = out + err
    assert f'"case_id": "{case}"' in logged  # the requests were logged, by case
    assert '"message": "event handled"' in logged
    for value in (survivor.full_name, survivor.home_office_reference, "1989-08-30", "Yoni"):
        assert str(value) not in logged
