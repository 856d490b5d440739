"""Legal sign-off, issuing versions, and what the report says."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from corroborate.events.contracts import ClinicalFindings, ProtectedDetails
from corroborate.walk.samples import sample_findings
from reporting.domain.legal_review import (
    InvalidTransition,
    LegalReview,
    LegalReviewStatus,
    ReportVersion,
)
from reporting.domain.report import assemble

AT = datetime(2025, 5, 2, 15, 30, tzinfo=UTC)
MakeReview = Callable[..., LegalReview]


def _report(version: int) -> ReportVersion:
    return ReportVersion(
        report_id=uuid.uuid4(),
        version=version,
        object_key=f"cases/x/reports/v{version}.pdf",
        sha256="a" * 64,
        size=1234,
        issued_at=AT,
    )


def test_sign_off_then_issue_version_one(make_review: MakeReview) -> None:
    review = make_review()
    assert review.next_report_version == 1
    assert review.latest_report is None

    sign_off = review.sign(by="legal-1", at=AT, statement="Approved for issue.")
    report = _report(1)
    review.issue(report)

    assert (sign_off.by, sign_off.at, sign_off.statement) == ("legal-1", AT, "Approved for issue.")
    assert review.status is LegalReviewStatus.ISSUED
    assert review.latest_report == report
    assert review.next_report_version == 2


def test_nothing_is_issued_before_legal_sign_off(make_review: MakeReview) -> None:
    review = make_review()
    with pytest.raises(InvalidTransition, match="issued before legal sign-off"):
        review.issue(_report(1))
    assert review.reports == []
    assert review.status is LegalReviewStatus.AWAITING_LEGAL_REVIEW


def test_versions_are_issued_in_order(make_review: MakeReview) -> None:
    review = make_review()
    review.sign(by="legal-1", at=AT, statement="Approved for issue.")
    with pytest.raises(InvalidTransition, match="cannot be issued as version 2"):
        review.issue(_report(2))
    assert review.reports == []


def test_an_issued_case_cannot_be_signed_off_again(make_review: MakeReview) -> None:
    review = make_review()
    review.sign(by="legal-1", at=AT, statement="Approved for issue.")
    review.issue(_report(1))
    with pytest.raises(InvalidTransition, match="is issued: it cannot be signed off"):
        review.sign(by="legal-2", at=AT, statement="Approved again.")
    assert review.sign_off is not None
    assert review.sign_off.by == "legal-1"


def test_a_report_is_not_assembled_before_sign_off(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    with pytest.raises(ValueError, match="assembled only after legal sign-off"):
        assemble(make_review(), survivor=survivor, version=1, generated_at=AT)


def test_lesions_are_shown_with_their_vocabulary_labels(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    lesions = [
        *sample_findings()["lesions"],
        {
            "region": "left_foot_sole",
            "lesion_type": "bruise",
            "description": "Faint bruising across the sole.",
            "attributed_cause": "Falanga",
            "consistency": "consistent_with",
        },
    ]
    findings = ClinicalFindings.model_validate({**sample_findings(), "lesions": lesions})
    review = make_review(findings=findings)
    review.sign(by="legal-1", at=AT, statement="Approved for issue.")

    content = assemble(review, survivor=survivor, version=1, generated_at=AT)

    first, second = content.lesions
    assert (first.number, first.region, first.lesion_type) == (1, "Upper back", "Scar")
    assert (first.size, first.consistency) == ("80 mm", "highly consistent with")
    assert (second.number, second.region) == (2, "Foot, left, sole")
    assert (second.lesion_type, second.size) == ("Bruise (contusion)", "not measured")
    assert second.consistency == "consistent with"
    assert content.overall_consistency == "highly consistent with"
    assert content.generated_on == AT.date()
    assert content.survivor.full_name == survivor.full_name
    assert content.senior_clinician == "Dr Senior Reviewer"


def test_documents_are_listed_in_the_order_they_were_received(
    make_review: MakeReview, survivor: ProtectedDetails
) -> None:
    review = make_review()
    review.sign(by="legal-1", at=AT, statement="Approved for issue.")
    content = assemble(review, survivor=survivor, version=1, generated_at=AT)
    assert [d.kind for d in content.documents] == ["home_office_decision", "witness_statement"]
