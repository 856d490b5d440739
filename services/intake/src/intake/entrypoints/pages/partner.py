"""A partner's referrals: their organisation's only, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from corroborate.auth import Role
from corroborate.web.pages import render
from corroborate.web.signin import Visitor
from corroborate.web.views import PageRoute, principal_of, signed_in
from intake.domain.referral import ReferralStatus
from intake.service import Intake

router = APIRouter(prefix="/partner", route_class=PageRoute, include_in_schema=False)

STATUS_WORDS = {
    ReferralStatus.DRAFT: "Draft, not yet sent",
    ReferralStatus.SUBMITTED: "Sent, awaiting triage",
    ReferralStatus.ACKNOWLEDGED: "Received by triage",
    ReferralStatus.INFORMATION_REQUESTED: "Triage has asked you a question",
    ReferralStatus.INFORMATION_PROVIDED: "Answered, back with triage",
    ReferralStatus.ACCEPTED: "Accepted",
    ReferralStatus.DECLINED: "Declined",
    ReferralStatus.WAITLISTED: "On the waiting list",
    ReferralStatus.IN_ASSESSMENT: "In clinical assessment",
    ReferralStatus.APPOINTMENT_BOOKED: "Appointment booked",
    ReferralStatus.IN_LEGAL_REVIEW: "In legal review",
    ReferralStatus.ISSUED: "Report issued",
    ReferralStatus.WITHDRAWN: "Withdrawn",
    ReferralStatus.ERASED: "Erased",
}


@router.get("/referrals")
async def referrals(request: Request, visitor: Visitor = signed_in(Role.PARTNER)) -> Response:
    intake: Intake = request.app.state.intake
    found, _ = await intake.cases.list_referrals(
        caller=principal_of(visitor, Role.PARTNER),
        statuses=[],
        created_from=None,
        created_to=None,
        home_office_reference=None,
        cursor=None,
        limit=50,
    )
    return render(
        request,
        "partner_referrals.html",
        title="Your referrals",
        referrals=found,
        status_words=STATUS_WORDS,
        visitor=visitor,
    )
