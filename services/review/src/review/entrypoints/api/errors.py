"""Review's refusals as HTTP answers, mapped once for every route; a broken rule names its
field."""

from __future__ import annotations

from fastapi import status

from corroborate.evidence import ContentRefused
from corroborate.http import ErrorAnswers, FieldError, InvalidFields, Refusal
from corroborate.mongo import CaseErasedError, ConcurrencyConflict
from corroborate.uploads import UploadTooLarge
from review.domain.case import (
    AssessmentRuleBroken,
    DraftIncomplete,
    IneligibleForAcceptance,
    InvalidTransition,
    NotAssigned,
    PhotographyRefused,
)
from review.entrypoints.api.schemas import RosterEntryInvalid
from review.service import NotFound, NotOnRoster, PhotographRefused


def _assessment_rule(exc: AssessmentRuleBroken) -> InvalidFields:
    field, _, message = str(exc).partition(": ")
    return InvalidFields(
        message, [FieldError(field=field, rule="assessment_rule", message=message)]
    )


def _draft_incomplete(exc: DraftIncomplete) -> InvalidFields:
    return InvalidFields(
        "the draft is not ready for peer review",
        [
            FieldError(field=m.split(":")[0], rule="required_for_peer_review", message=m)
            for m in exc.missing
        ],
    )


def _ineligible(exc: IneligibleForAcceptance) -> InvalidFields:
    return InvalidFields(
        "the eligibility checklist does not allow acceptance",
        [FieldError(field=item.split(":")[0], rule="not_met", message=item) for item in exc.unmet],
    )


def _not_on_roster(exc: NotOnRoster) -> InvalidFields:
    return InvalidFields(
        "no such clinician",
        [FieldError(field="clinician_id", rule="not_on_roster", message=str(exc))],
    )


def _roster_entry(exc: RosterEntryInvalid) -> InvalidFields:
    return InvalidFields(
        str(exc),
        [
            FieldError(field=".".join(str(p) for p in e["loc"]), rule=e["type"], message=e["msg"])
            for e in exc.error.errors(include_input=False)
        ],
    )


NO_SUCH_CASE = Refusal(status.HTTP_404_NOT_FOUND, "no such case")

ERRORS: ErrorAnswers = {
    NotFound: NO_SUCH_CASE,
    NotAssigned: NO_SUCH_CASE,
    InvalidTransition: Refusal(status.HTTP_409_CONFLICT),
    ConcurrencyConflict: Refusal(status.HTTP_409_CONFLICT, "the case changed; reload and retry"),
    PhotographyRefused: Refusal(status.HTTP_409_CONFLICT),
    CaseErasedError: Refusal(status.HTTP_410_GONE, "the case was erased; its contents are gone"),
    PhotographRefused: Refusal(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    ContentRefused: Refusal(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    UploadTooLarge: Refusal(status.HTTP_413_CONTENT_TOO_LARGE),
    AssessmentRuleBroken: _assessment_rule,
    DraftIncomplete: _draft_incomplete,
    IneligibleForAcceptance: _ineligible,
    NotOnRoster: _not_on_roster,
    RosterEntryInvalid: _roster_entry,
}
