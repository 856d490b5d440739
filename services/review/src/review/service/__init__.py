"""Review's use cases, by feature: case events, triage, assignment, assessment, peer review,
deadlines. ``Review`` is all of them over one set of ports."""

from __future__ import annotations

from review.service.assessment import Assessment, PhotographRefused
from review.service.assignment import Assigning, NotOnRoster
from review.service.base import PUBLISHES, NotFound, ReviewPolicy
from review.service.deadlines import Deadlines
from review.service.events import CaseEvents
from review.service.peer_review import PeerReview
from review.service.triage import QueuedCase, Triage


class Review(CaseEvents, Triage, Assigning, Assessment, PeerReview, Deadlines):
    """Review's use cases: triage, acceptance, assignment, findings, completion."""


__all__ = [
    "PUBLISHES",
    "NotFound",
    "NotOnRoster",
    "PhotographRefused",
    "QueuedCase",
    "Review",
    "ReviewPolicy",
]
