"""The referral aggregate: submission rules, the partner's timeline, withdrawal and answers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from corroborate.walk.samples import sample_referral
from intake.domain.details import ReferralDetails
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralStatus,
    StatusChange,
    new_reference,
)

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
S = ReferralStatus


def _referral(status: ReferralStatus = S.DRAFT) -> Referral:
    referral = Referral(
        case_id=uuid.uuid4(),
        reference=new_reference(2025),
        organisation="org-a",
        created_by="solicitor-1",
        status=S.DRAFT,
        created_at=T0,
    )
    if status is not S.DRAFT:
        referral.submit(change_id=uuid.uuid4(), at=T0)
    if status not in {S.DRAFT, S.SUBMITTED}:
        referral.progress(_change(status, hours=1))
    return referral


def _change(status: ReferralStatus, *, hours: float, **extra: Any) -> StatusChange:
    return StatusChange(
        change_id=uuid.uuid4(), status=status, at=T0 + timedelta(hours=hours), **extra
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
        object_key="cases/x/documents/y/original",
    )


# --- the timeline -----------------------------------------------------------------------------


def test_each_change_joins_the_timeline_and_the_latest_is_the_status() -> None:
    referral = _referral(S.SUBMITTED)
    stages = [S.ACKNOWLEDGED, S.ACCEPTED, S.IN_ASSESSMENT, S.APPOINTMENT_BOOKED]
    for hour, stage in enumerate(stages, start=1):
        assert referral.progress(_change(stage, hours=hour)) is True
        assert referral.status is stage
    assert [c.status for c in referral.timeline] == [S.SUBMITTED, *stages]
    assert len(referral.new_changes) == 5  # each one is a partner notification


def test_news_that_arrives_late_is_placed_in_time_and_does_not_move_the_status_back() -> None:
    referral = _referral(S.SUBMITTED)
    referral.progress(_change(S.ACCEPTED, hours=5))
    assert referral.progress(_change(S.ACKNOWLEDGED, hours=1)) is True
    assert referral.status is S.ACCEPTED
    assert [c.status for c in referral.timeline] == [S.SUBMITTED, S.ACKNOWLEDGED, S.ACCEPTED]


def test_the_same_change_twice_is_recorded_once() -> None:
    referral = _referral(S.SUBMITTED)
    change = _change(S.ACKNOWLEDGED, hours=1)
    assert referral.progress(change) is True
    assert referral.progress(change) is False
    assert [c.status for c in referral.timeline] == [S.SUBMITTED, S.ACKNOWLEDGED]


@pytest.mark.parametrize("terminal", [S.DECLINED, S.ISSUED])
def test_nothing_moves_a_referral_out_of_a_final_status(terminal: ReferralStatus) -> None:
    referral = _referral(terminal)
    assert referral.progress(_change(S.IN_LEGAL_REVIEW, hours=9)) is False
    assert referral.status is terminal


@pytest.mark.parametrize("terminal", [S.DECLINED, S.ISSUED])
def test_news_of_what_happened_before_a_final_status_still_joins_the_timeline(
    terminal: ReferralStatus,
) -> None:
    # Events queued while intake was down arrive in any order: the report can be issued here
    # before the news that the case went to legal review.
    referral = _referral(S.SUBMITTED)
    referral.progress(_change(terminal, hours=9))
    referral.new_changes.clear()
    assert referral.progress(_change(S.IN_LEGAL_REVIEW, hours=8)) is True
    assert referral.status is terminal
    assert [c.status for c in referral.timeline] == [S.SUBMITTED, S.IN_LEGAL_REVIEW, terminal]
    assert [c.status for c in referral.new_changes] == [S.IN_LEGAL_REVIEW]  # the partner is told


def test_an_erased_referral_takes_no_news_even_of_what_happened_before() -> None:
    referral = _referral(S.ISSUED)
    referral.erase(change_id=uuid.uuid4(), at=T0 + timedelta(hours=9))
    assert referral.progress(_change(S.IN_LEGAL_REVIEW, hours=2)) is False
    assert referral.status is S.ERASED


def test_a_final_status_stays_when_news_of_an_earlier_one_arrives() -> None:
    # Review declined at hour 2; the partner, not yet told, withdrew at hour 3.
    referral = _referral(S.SUBMITTED)
    referral.withdraw(change_id=uuid.uuid4(), at=T0 + timedelta(hours=3), note="sealed")
    assert referral.progress(_change(S.DECLINED, hours=2)) is True
    assert referral.status is S.WITHDRAWN
    assert [c.status for c in referral.timeline] == [S.SUBMITTED, S.DECLINED, S.WITHDRAWN]


def test_a_draft_takes_no_news_from_downstream() -> None:
    referral = _referral()
    assert referral.progress(_change(S.ACCEPTED, hours=1)) is False
    assert referral.status is S.DRAFT
    assert referral.timeline == []


def test_the_deadline_shown_is_the_latest_one_set() -> None:
    referral = _referral(S.SUBMITTED)
    referral.progress(_change(S.ACKNOWLEDGED, hours=1, deadline=date(2025, 1, 13)))
    assert referral.deadline == date(2025, 1, 13)
    referral.progress(_change(S.ACCEPTED, hours=2, deadline=date(2025, 6, 6)))
    assert referral.deadline == date(2025, 6, 6)


# --- requests for information ------------------------------------------------------------------


def test_an_answer_closes_the_open_request_and_returns_the_case_to_triage() -> None:
    referral = _referral(S.SUBMITTED)
    request_id = uuid.uuid4()
    referral.progress(_change(S.INFORMATION_REQUESTED, hours=1), request_id=request_id)
    assert referral.open_request == request_id
    referral.ensure_accepts_documents()  # documents may come with the answer
    referral.provide_information(
        request_id=request_id, change_id=uuid.uuid4(), at=T0 + timedelta(hours=2)
    )
    assert referral.status is S.INFORMATION_PROVIDED
    assert referral.open_request is None


def test_an_answer_to_a_request_that_is_not_open_is_refused() -> None:
    referral = _referral(S.SUBMITTED)
    referral.progress(_change(S.INFORMATION_REQUESTED, hours=1), request_id=uuid.uuid4())
    with pytest.raises(InvalidTransition, match="not the open one"):
        referral.provide_information(request_id=uuid.uuid4(), change_id=uuid.uuid4(), at=T0)
    with pytest.raises(InvalidTransition, match="is accepted"):
        _referral(S.ACCEPTED).provide_information(
            request_id=uuid.uuid4(), change_id=uuid.uuid4(), at=T0
        )


# --- withdrawal ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.IN_ASSESSMENT])
def test_a_referral_can_be_withdrawn_until_it_is_final(status: ReferralStatus) -> None:
    referral = _referral(status)
    referral.withdraw(change_id=uuid.uuid4(), at=T0 + timedelta(hours=3), note="sealed")
    assert referral.status is S.WITHDRAWN
    assert referral.progress(_change(S.IN_LEGAL_REVIEW, hours=4)) is False
    assert referral.status is S.WITHDRAWN


def test_withdrawal_is_final_even_if_later_news_was_timestamped_after_it() -> None:
    referral = _referral(S.ACCEPTED)
    referral.withdraw(change_id=uuid.uuid4(), at=T0 + timedelta(hours=2), note="sealed")
    with pytest.raises(InvalidTransition, match="is withdrawn"):
        referral.withdraw(change_id=uuid.uuid4(), at=T0 + timedelta(hours=3), note="again")


# --- submission ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SUBMITTED, S.ACCEPTED, S.ISSUED])
def test_only_a_draft_can_be_submitted_or_edited(status: ReferralStatus) -> None:
    referral = _referral(status)
    with pytest.raises(InvalidTransition, match=f"is {status.value}: it cannot be submitted"):
        referral.submit(change_id=uuid.uuid4(), at=T0)
    with pytest.raises(InvalidTransition, match="cannot be edited"):
        referral.ensure_editable()


def test_submission_without_documents_says_so() -> None:
    assert _referral().missing_for_submission(_details()) == [
        "documents: at least one supporting document is required"
    ]


def test_a_clinical_response_letter_without_anything_lists_every_missing_item() -> None:
    missing = _referral().missing_for_submission(_details("clinical_response_letter"))
    assert len(missing) == 2
    assert any("at least one supporting document" in m for m in missing)
    assert any("Home Office decision" in m for m in missing)


def test_an_addendum_needs_the_previous_report() -> None:
    referral = _referral()
    referral.add_document(_document(DocumentKind.HOME_OFFICE_DECISION))
    assert referral.missing_for_submission(_details("addendum")) == [
        "documents: an addendum needs the previous report"
    ]
    referral.add_document(_document(DocumentKind.PREVIOUS_REPORT))
    assert referral.missing_for_submission(_details("addendum")) == []


def test_a_submitted_referral_takes_documents_only_to_answer_a_request() -> None:
    referral = _referral()
    referral.add_document(_document(DocumentKind.HOME_OFFICE_DECISION))
    at = T0 + timedelta(hours=2)
    referral.submit(change_id=uuid.uuid4(), at=at)
    assert referral.status is S.SUBMITTED
    assert referral.submitted_at == at
    with pytest.raises(InvalidTransition, match="cannot be given documents"):
        referral.add_document(_document(DocumentKind.OTHER))
    assert len(referral.documents) == 1


def test_references_say_nothing_about_the_survivor() -> None:
    references = {new_reference(2025) for _ in range(50)}
    assert len(references) == 50
    assert all(r.startswith("CRB-2025-") and len(r) == 15 for r in references)
