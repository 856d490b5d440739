"""Case events reporting consumes."""

from __future__ import annotations

from corroborate.messaging.rabbit import EventHandler
from reporting.service import Reporting


def event_handlers(reporting: Reporting) -> dict[str, EventHandler]:
    return {
        "review.completed": reporting.on_review_completed,
        "case.escalated": reporting.on_case_escalated,
        "referral.withdrawn": reporting.on_referral_withdrawn,
    }
