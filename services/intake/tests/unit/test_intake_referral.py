"""The referral aggregate: submission rules, forward-only progress, and file types by bytes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from corroborate.cli.demo import minimal_pdf, sample_referral
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralDetails,
    ReferralStatus,
    SubmissionIncomplete,
    advances,
    detect_document_type,
    new_reference,
)

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _referral(status: ReferralStatus = ReferralStatus.DRAFT) -> Referral:
    return Referral(
        case_id=uuid.uuid4(),
        reference=new_reference(2025),
        organisation="org-a",
        created_by="solicitor-1",
        status=status,
        created_at=T0,
        status_history=[(status, T0)],
    )


def _details(service: str = "full_report") -> ReferralDetails:
    body: dict[str, Any] = sample_referral("Test Person")
    body["service_requested"] = service
    return ReferralDetails.model_validate(body)


def _document(kind: DocumentKind) -> DocumentRecord:
    return DocumentRecord(
        document_id=uuid.uuid4(),
        kind=kind,
        content_type="application/pdf",
        size=100,
        sha256="0" * 64,
        received_at=T0,
        object_key="cases/x/documents/y",
    )


# --- progress only moves forward -------------------------------------------------------------


def test_progress_moves_through_each_later_stage_and_records_it() -> None:
    referral = _referral(ReferralStatus.SUBMITTED)
    stages = [
        ReferralStatus.ACCEPTED,
        ReferralStatus.IN_ASSESSMENT,
        ReferralStatus.IN_LEGAL_REVIEW,
        ReferralStatus.ISSUED,
    ]
    for day, stage in enumerate(stages, start=1):
        assert referral.progress_to(stage, at=T0 + timedelta(days=day)) is True
        assert referral.status is stage
    assert [s for s, _ in referral.status_history] == [ReferralStatus.SUBMITTED, *stages]


@pytest.mark.parametrize(
    ("current", "late"),
    [
        (ReferralStatus.IN_ASSESSMENT, ReferralStatus.ACCEPTED),
        (ReferralStatus.ISSUED, ReferralStatus.IN_LEGAL_REVIEW),
        (ReferralStatus.IN_LEGAL_REVIEW, ReferralStatus.SUBMITTED),
        (ReferralStatus.ACCEPTED, ReferralStatus.ACCEPTED),
    ],
)
def test_a_late_or_repeated_event_never_moves_the_status_back(
    current: ReferralStatus, late: ReferralStatus
) -> None:
    referral = _referral(current)
    assert referral.progress_to(late, at=T0 + timedelta(days=3)) is False
    assert referral.status is current
    assert referral.status_history == [(current, T0)]
    assert not advances(current, late)


def test_a_stage_can_be_skipped_when_its_news_arrives_late() -> None:
    referral = _referral(ReferralStatus.SUBMITTED)
    assert referral.progress_to(ReferralStatus.IN_ASSESSMENT, at=T0) is True
    assert referral.progress_to(ReferralStatus.ACCEPTED, at=T0) is False
    assert referral.status is ReferralStatus.IN_ASSESSMENT


# --- submission ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [ReferralStatus.SUBMITTED, ReferralStatus.ACCEPTED, ReferralStatus.ISSUED],
)
def test_only_a_draft_can_be_submitted(status: ReferralStatus) -> None:
    referral = _referral(status)
    referral.documents.append(_document(DocumentKind.HOME_OFFICE_DECISION))
    with pytest.raises(InvalidTransition, match="cannot be submitted"):
        referral.submit(_details(), at=T0)
    assert referral.status is status
    assert referral.submitted_at is None


def test_submission_without_documents_is_refused_and_says_so() -> None:
    referral = _referral()
    with pytest.raises(SubmissionIncomplete) as refused:
        referral.submit(_details(), at=T0)
    assert refused.value.missing == ["documents: at least one supporting document is required"]
    assert referral.status is ReferralStatus.DRAFT


def test_a_clinical_response_letter_without_anything_lists_every_missing_item() -> None:
    with pytest.raises(SubmissionIncomplete) as refused:
        _referral().submit(_details("clinical_response_letter"), at=T0)
    assert len(refused.value.missing) == 2
    assert any("at least one supporting document" in m for m in refused.value.missing)
    assert any("Home Office decision" in m for m in refused.value.missing)


def test_a_clinical_response_letter_needs_the_home_office_decision() -> None:
    referral = _referral()
    referral.add_document(_document(DocumentKind.IDENTITY_DOCUMENT))
    with pytest.raises(SubmissionIncomplete) as refused:
        referral.submit(_details("clinical_response_letter"), at=T0)
    assert refused.value.missing == [
        "documents: a clinical response letter needs the Home Office decision"
    ]


def test_an_addendum_needs_the_previous_report() -> None:
    referral = _referral()
    referral.add_document(_document(DocumentKind.HOME_OFFICE_DECISION))
    with pytest.raises(SubmissionIncomplete) as refused:
        referral.submit(_details("addendum"), at=T0)
    assert refused.value.missing == ["documents: an addendum needs the previous report"]
    referral.add_document(_document(DocumentKind.PREVIOUS_REPORT))
    referral.submit(_details("addendum"), at=T0)
    assert referral.status is ReferralStatus.SUBMITTED


def test_a_complete_referral_is_submitted_and_then_takes_no_more_documents() -> None:
    referral = _referral()
    referral.add_document(_document(DocumentKind.HOME_OFFICE_DECISION))
    at = T0 + timedelta(hours=2)
    referral.submit(_details("clinical_response_letter"), at=at)
    assert referral.status is ReferralStatus.SUBMITTED
    assert referral.submitted_at == at
    assert referral.status_history[-1] == (ReferralStatus.SUBMITTED, at)
    with pytest.raises(InvalidTransition, match="only while the referral is a draft"):
        referral.add_document(_document(DocumentKind.OTHER))
    assert len(referral.documents) == 1


def test_references_say_nothing_about_the_survivor() -> None:
    references = {new_reference(2025) for _ in range(50)}
    assert len(references) == 50
    assert all(r.startswith("CRB-2025-") and len(r) == 15 for r in references)


# --- file types are judged from the bytes ----------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (minimal_pdf("x")[:16], "application/pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
    ],
)
def test_pdf_jpeg_and_png_are_recognised_by_their_bytes(head: bytes, expected: str) -> None:
    assert detect_document_type(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",  # an executable
        b"Statement of the witness, renamed to statement.pdf",  # text posing as a PDF
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        b" %PDF-1.4 with a leading space",
        b"%PD",  # a truncated signature
        b"",
    ],
)
def test_anything_else_is_refused_whatever_it_is_called(head: bytes) -> None:
    assert detect_document_type(head) is None
