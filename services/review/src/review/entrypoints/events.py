"""Case events review consumes, each with the use case that hears it."""

from __future__ import annotations

from corroborate.events.contracts import (
    CaseErased,
    InformationProvided,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReportChangesRequested,
)
from corroborate.messaging.handlers import EventHandlers
from review.service import Review


def event_handlers(review: Review) -> EventHandlers:
    return (
        EventHandlers()
        .on(ReferralSubmitted, review.on_referral_submitted)
        .on(ReferralWithdrawn, review.on_referral_withdrawn)
        .on(InformationProvided, review.on_information_provided)
        .on(ReportChangesRequested, review.on_changes_requested)
        .on(CaseErased, review.on_case_erased)
    )
