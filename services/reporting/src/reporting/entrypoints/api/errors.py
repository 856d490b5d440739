"""Every domain refusal reporting's routes may meet, and how it is answered."""

from __future__ import annotations

from fastapi import status

from corroborate.http import ErrorAnswers, FieldError, InvalidFields, Refusal
from corroborate.links import LinkRejected
from corroborate.mongo import CaseErasedError, ConcurrencyConflict
from reporting.domain.legal_review import InvalidTransition
from reporting.domain.statistics import InvalidQuery
from reporting.service.legal_review import NotFound


def _invalid_query(error: Exception) -> InvalidFields:
    return InvalidFields(
        str(error), [FieldError(field="by", rule="dimensions", message=str(error))]
    )


ERRORS: ErrorAnswers = {
    NotFound: Refusal(status.HTTP_404_NOT_FOUND, "no such case or report"),
    InvalidTransition: Refusal(status.HTTP_409_CONFLICT),
    ConcurrencyConflict: Refusal(status.HTTP_409_CONFLICT, "the case changed; reload and retry"),
    LinkRejected: Refusal(status.HTTP_403_FORBIDDEN),
    CaseErasedError: Refusal(status.HTTP_410_GONE, "the case was erased; its reports are gone"),
    InvalidQuery: _invalid_query,
}
