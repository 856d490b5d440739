"""Case events reporting consumes: for legal review and the report, and for statistics."""

from __future__ import annotations

from corroborate.events.contracts import (
    CaseErased,
    CaseEscalated,
    PersonChanged,
    ReferralAccepted,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReportIssued,
    ReviewCompleted,
)
from corroborate.messaging.handlers import EventHandlers
from corroborate.web.directory_copy import DirectoryCopy
from reporting.service.legal_review import LegalQueue
from reporting.service.statistics import Statistics


def event_handlers(
    legal: LegalQueue, statistics: Statistics, staff: DirectoryCopy
) -> EventHandlers:
    """Each handler is idempotent. Where both hear an event, statistics go first, so a
    redelivery that the legal review recognises as already handled has updated them too."""
    return (
        EventHandlers()
        .on(ReviewCompleted, statistics.on_review_completed, legal.on_review_completed)
        .on(CaseEscalated, legal.on_case_escalated)
        .on(ReferralWithdrawn, statistics.on_referral_withdrawn, legal.on_referral_withdrawn)
        .on(ReferralSubmitted, statistics.on_referral_submitted)
        .on(ReferralAccepted, statistics.on_referral_accepted)
        .on(ReferralDeclined, statistics.on_referral_declined)
        .on(ReportIssued, statistics.on_report_issued)
        .on(CaseErased, legal.on_case_erased)
        .on(PersonChanged, staff.on_person_changed)
    )
