"""Intake's domain refusals as HTTP answers, registered once for every route; the ones that
name fields answer 422 with each field and rule."""

from __future__ import annotations

from fastapi import status

from corroborate.crypto import DecryptionError
from corroborate.evidence import ContentRefused
from corroborate.http import ErrorAnswers, FieldError, InvalidFields, Refusal
from corroborate.mongo import CaseErasedError, ConcurrencyConflict
from corroborate.storage import IntegrityError
from corroborate.uploads import UploadTooLarge
from intake.domain.directory import DirectoryRefused, NotInDirectory
from intake.domain.referral import InvalidTransition, LegalHoldSet, SubmissionIncomplete
from intake.domain.webhooks import InvalidWebhookUrl, WebhookNotRegistered
from intake.ports import InvalidCursor
from intake.service.errors import (
    DocumentTypeRefused,
    DocumentUnreadable,
    DraftInvalid,
    IdempotencyKeyReused,
    NotFound,
    UploadInterrupted,
)

TAMPERED = "the stored document failed its integrity check; it was not sent"


def _draft_invalid(exc: DraftInvalid) -> InvalidFields:
    return InvalidFields(
        f"{len(exc.errors)} field(s) invalid",
        [
            FieldError(
                field=".".join(str(p) for p in e["loc"]) or "(body)",
                rule=e["type"],
                message=e["msg"],
            )
            for e in exc.errors
        ],
    )


def _incomplete(exc: SubmissionIncomplete) -> InvalidFields:
    return InvalidFields(
        "the referral is incomplete",
        [
            FieldError(field=m.split(":")[0], rule="required_for_submission", message=m)
            for m in exc.missing
        ],
    )


def _key_reused(_exc: IdempotencyKeyReused) -> InvalidFields:
    return InvalidFields(
        "Idempotency-Key already used",
        [
            FieldError(
                field="Idempotency-Key",
                rule="reused_for_a_different_request",
                message="this key was used for a different request; use a new key",
            )
        ],
    )


def _invalid_cursor(exc: InvalidCursor) -> InvalidFields:
    return InvalidFields(
        "the cursor is refused",
        [FieldError(field="cursor", rule="invalid_cursor", message=str(exc))],
    )


def _unreadable(exc: DocumentUnreadable) -> InvalidFields:
    field, _, message = str(exc).partition(": ")
    return InvalidFields(
        message, [FieldError(field=field, rule="unreadable_content", message=message)]
    )


def _refused_url(exc: InvalidWebhookUrl) -> InvalidFields:
    return InvalidFields(
        "the webhook URL is refused", [FieldError(field="url", rule=exc.rule, message=str(exc))]
    )


def _directory_refused(exc: DirectoryRefused) -> InvalidFields:
    return InvalidFields(
        exc.message, [FieldError(field=exc.field, rule=exc.rule, message=exc.message)]
    )


ERRORS: ErrorAnswers = {
    NotFound: Refusal(status.HTTP_404_NOT_FOUND, "no such referral"),
    InvalidTransition: Refusal(status.HTTP_409_CONFLICT),
    ConcurrencyConflict: Refusal(
        status.HTTP_409_CONFLICT, "the referral changed; reload and retry"
    ),
    DocumentTypeRefused: Refusal(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    UploadTooLarge: Refusal(status.HTTP_413_CONTENT_TOO_LARGE),
    ContentRefused: Refusal(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE),
    UploadInterrupted: Refusal(status.HTTP_400_BAD_REQUEST),
    CaseErasedError: Refusal(status.HTTP_410_GONE, "the case was erased; its contents are gone"),
    LegalHoldSet: Refusal(status.HTTP_409_CONFLICT),
    IntegrityError: Refusal(status.HTTP_500_INTERNAL_SERVER_ERROR, TAMPERED),
    DecryptionError: Refusal(status.HTTP_500_INTERNAL_SERVER_ERROR, TAMPERED),
    WebhookNotRegistered: Refusal(
        status.HTTP_404_NOT_FOUND, "no webhook is registered for this organisation"
    ),
    DraftInvalid: _draft_invalid,
    SubmissionIncomplete: _incomplete,
    IdempotencyKeyReused: _key_reused,
    InvalidCursor: _invalid_cursor,
    DocumentUnreadable: _unreadable,
    InvalidWebhookUrl: _refused_url,
    NotInDirectory: Refusal(status.HTTP_404_NOT_FOUND, "no such organisation or person"),
    DirectoryRefused: _directory_refused,
}
