"""The issued report, for its partner: a short-lived signed link to reporting's download."""

from __future__ import annotations

import uuid
from typing import Any

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.links import DownloadLinks, SignedLink
from intake.service.cases import Cases
from intake.service.errors import NotFound


class Reports:
    def __init__(self, *, cases: Cases, links: DownloadLinks, reporting_url: str) -> None:
        self._cases = cases
        self._links = links
        self._reporting_url = reporting_url

    async def link(
        self, *, caller: Principal, case_id: uuid.UUID, version: int | None = None
    ) -> tuple[dict[str, Any], SignedLink]:
        """A short-lived signed link to reporting's download endpoint: the latest version, or
        an earlier one by number (every issued version stays retrievable)."""
        stored = await self._cases.get(caller=caller, case_id=case_id)
        self._cases.wrapped_key(stored)  # an erased case's report can no longer be opened
        referral = stored.referral
        report = (
            referral.report
            if version is None
            else next((r for r in referral.reports if r["version"] == version), None)
        )
        if report is None:
            raise NotFound(f"no report version {version or ''} issued for {case_id}")
        link = self._links.link(
            base_url=self._reporting_url,
            report_id=uuid.UUID(str(report["report_id"])),
            organisation=referral.organisation,
            now=utc_now(),
        )
        await self._cases.audit.record(
            "report.link_issued",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": report["version"]},
        )
        return report, link
