"""Issued reports: partners ask for a short-lived signed link, then download through it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from corroborate.downloads import download_headers, download_response
from corroborate.http import Partner, problem_responses
from reporting.entrypoints.api.deps import IssuingService
from reporting.entrypoints.api.schemas import ReportLinkView

router = APIRouter(tags=["issued reports"])


@router.post(
    "/cases/{case_id}/report/link",
    responses=problem_responses(401, 403, 404),
    summary="A short-lived signed link to the latest issued report",
)
async def report_link(
    case_id: uuid.UUID,
    caller: Partner,
    issuing: IssuingService,
    version: Annotated[int | None, Query(ge=1, description="An earlier version.")] = None,
) -> ReportLinkView:
    link = await issuing.link_for_partner(caller=caller, case_id=case_id, version=version)
    return ReportLinkView.of(link)


@router.get(
    "/reports/{report_id}/download",
    responses={
        **problem_responses(401, 403, 404),
        200: download_response(["application/pdf"], "the report, decrypted and verified"),
    },
    response_class=Response,
    summary="Download an issued report through a signed link",
)
async def download(
    report_id: uuid.UUID,
    caller: Partner,
    issuing: IssuingService,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", max_length=64)],
) -> Response:
    result = await issuing.download(
        caller=caller, report_id=report_id, expires=expires, signature=signature
    )
    return Response(
        content=result.content,
        media_type="application/pdf",
        headers=download_headers(
            filename=f"{result.reference}-v{result.report.version}.pdf",
            sha256=result.report.sha256,
        ),
    )
