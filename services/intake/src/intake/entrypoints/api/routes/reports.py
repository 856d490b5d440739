"""The issued report, for its partner: a signed link to download it from reporting."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from corroborate.http import Partner, problem_responses
from intake.entrypoints.api.deps import IntakeService
from intake.entrypoints.api.schemas import ReportLinkView

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.get(
    "/{case_id}/report",
    responses=problem_responses(401, 403, 404),
    summary="The issued report: a short-lived signed link to download it from reporting",
)
async def report_link(
    *,
    case_id: uuid.UUID,
    caller: Partner,
    intake: IntakeService,
    version: Annotated[int | None, Query(ge=1, description="An earlier version.")] = None,
) -> ReportLinkView:
    report, link = await intake.reports.link(caller=caller, case_id=case_id, version=version)
    return ReportLinkView.of(report, link)
