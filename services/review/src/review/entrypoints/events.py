"""Case events review consumes."""

from __future__ import annotations

from corroborate.messaging.rabbit import EventHandler
from review.service import Review


def event_handlers(review: Review) -> dict[str, EventHandler]:
    return {
        "referral.submitted": review.on_referral_submitted,
        "referral.withdrawn": review.on_referral_withdrawn,
        "referral.information_provided": review.on_information_provided,
        "report.changes_requested": review.on_changes_requested,
        "case.erased": review.on_case_erased,
    }
