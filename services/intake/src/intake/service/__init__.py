"""Intake's use cases, by feature: drafts, documents, submission and after, progress heard
from the other services, retention, report links, and webhooks."""

from intake.service.cases import ReferralRead, Replayed
from intake.service.intake import Intake
from intake.service.submission import PUBLISHES

__all__ = ["PUBLISHES", "Intake", "ReferralRead", "Replayed"]
