"""Case events review consumes, each with the use case that hears it."""

from __future__ import annotations

from corroborate.events.contracts import (
    CaseErased,
    InformationProvided,
    PersonChanged,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReportChangesRequested,
)
from corroborate.messaging.handlers import EventHandlers
from corroborate.web.directory_copy import DirectoryCopy
from review.service import Review


def event_handlers(review: Review, staff: DirectoryCopy) -> EventHandlers:
    return (
        EventHandlers()
        # The copy first: the roster then reads who the person now is from it.
        .on(PersonChanged, staff.on_person_changed, review.on_person_changed)
        .on(ReferralSubmitted, review.on_referral_submitted)
        .on(ReferralWithdrawn, review.on_referral_withdrawn)
        .on(InformationProvided, review.on_information_provided)
        .on(ReportChangesRequested, review.on_changes_requested)
        .on(CaseErased, review.on_case_erased)
    )
