"""The review case: how urgent it is, and who may move it along, in which order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from corroborate.events.contracts import ClinicalFindings, RiskFlag
from corroborate.walk.samples import sample_findings
from review.domain.case import (
    AssessmentRuleBroken,
    CaseStatus,
    DraftIncomplete,
    Eligibility,
    IneligibleForAcceptance,
    InvalidTransition,
    NotAssigned,
    Outcome,
    PhotographyRefused,
    RemitBasis,
    ReviewCase,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _case(*flags: RiskFlag, received_at: datetime = T0, service: str = "full_report") -> ReviewCase:
    return ReviewCase.received(
        case_id=uuid.uuid4(),
        reference="CRB-2025-ABCDEF",
        organisation="org-a",
        service_requested=service,
        risk_flags=list(flags),
        documents=[],
        received_at=received_at,
        response_days=7,
        correlation_id=uuid.uuid4(),
    )


def _findings(**overrides: Any) -> ClinicalFindings:
    return ClinicalFindings.model_validate({**sample_findings(), **overrides})


def _assigned(clinician: str = "dr-1", service: str = "full_report") -> ReviewCase:
    case = _case(service=service)
    case.accept(by="coordinator-1", at=T0, delivery_days=150)
    case.assign(clinician_id=clinician, by="coordinator-1", at=T0)
    return case


# --- urgency ---------------------------------------------------------------------------------


def test_suicide_risk_outranks_detention_which_outranks_no_flag() -> None:
    suicide = _case(RiskFlag.SUICIDE_OR_SELF_HARM_RISK).urgency(now=T0)
    detained = _case(RiskFlag.DETAINED).urgency(now=T0)
    none = _case().urgency(now=T0)
    assert suicide.score > detained.score > none.score == 0
    assert suicide.reasons == ["suicide or self harm risk"]
    assert detained.reasons == ["detained"]
    assert none.reasons == []


def test_flags_add_up_and_each_shows_as_a_reason() -> None:
    urgency = _case(RiskFlag.DETAINED, RiskFlag.UNDER_18).urgency(now=T0)
    assert urgency.score == _case(RiskFlag.DETAINED).urgency(now=T0).score + 30
    assert urgency.reasons == ["detained", "under 18"]


def test_waiting_days_add_points_and_show() -> None:
    fresh = _case(RiskFlag.DETAINED).urgency(now=T0 + timedelta(hours=23))
    waiting = _case(RiskFlag.DETAINED).urgency(now=T0 + timedelta(days=3, hours=1))
    assert waiting.score == fresh.score + 3 * 2
    assert "waiting 3 day(s)" in waiting.reasons
    assert not any(r.startswith("waiting") for r in fresh.reasons)


def test_a_long_wait_can_outrank_a_risk_flag() -> None:
    detained_today = _case(RiskFlag.DETAINED).urgency(now=T0)
    waiting_a_month = _case(received_at=T0 - timedelta(days=30)).urgency(now=T0)
    assert waiting_a_month.score > detained_today.score


def test_the_triage_response_shows_overdue_only_after_its_deadline() -> None:
    case = _case()
    assert "triage response overdue" not in case.urgency(now=T0 + timedelta(days=7)).reasons
    late = case.urgency(now=T0 + timedelta(days=7, minutes=1))
    assert late.reasons[-1] == "triage response overdue"


# --- acceptance and assignment ---------------------------------------------------------------


def test_accepting_starts_the_delivery_clock() -> None:
    case = _case()
    due = case.accept(by="coordinator-1", at=T0, delivery_days=150)
    assert due == date(2025, 7, 31)
    assert case.status is CaseStatus.ACCEPTED
    assert (case.accepted_by, case.report_due) == ("coordinator-1", due)


def test_a_case_is_accepted_only_once() -> None:
    case = _case()
    case.accept(by="coordinator-1", at=T0, delivery_days=150)
    with pytest.raises(InvalidTransition, match="is accepted: it cannot be accepted"):
        case.accept(by="coordinator-2", at=T0, delivery_days=150)
    assert case.accepted_by == "coordinator-1"


def test_a_case_must_be_accepted_before_it_is_assigned() -> None:
    case = _case()
    with pytest.raises(InvalidTransition, match="is awaiting_triage: it cannot be assigned"):
        case.assign(clinician_id="dr-1", by="coordinator-1", at=T0)
    assert case.clinician_id is None


def test_reassignment_hands_the_case_to_the_new_clinician() -> None:
    case = _assigned("dr-1")
    case.assign(clinician_id="dr-2", by="coordinator-1", at=T0 + timedelta(days=1))
    assert case.clinician_id == "dr-2"
    assert [a.clinician_id for a in case.assignments] == ["dr-1", "dr-2"]
    with pytest.raises(NotAssigned):
        case.record_findings(_findings(), by="dr-1", at=T0)


# --- the assessment, the draft and peer review ------------------------------------------------


def _examined(clinician: str = "dr-1", service: str = "full_report") -> ReviewCase:
    """Assigned, with an appointment at which the survivor consented to the examination."""
    case = _assigned(clinician, service)
    appointment = case.book_appointment(
        on=T0.date(), remote=False, interpreter_language="ti", by="coordinator-1", at=T0
    )
    case.record_consent(
        appointment_id=appointment.appointment_id,
        examination=True,
        photography=False,
        by=clinician,
        at=T0,
    )
    return case


def test_only_the_assigned_clinician_records_findings() -> None:
    case = _assigned("dr-1")
    with pytest.raises(NotAssigned):
        case.record_findings(_findings(), by="dr-2", at=T0)
    assert case.findings is None
    case.record_findings(_findings(), by="dr-1", at=T0)
    assert case.findings is not None
    assert case.findings.lesions[0].region == "upper_back"


def test_findings_cannot_be_recorded_before_assignment() -> None:
    with pytest.raises(NotAssigned):
        _case().record_findings(_findings(), by="dr-1", at=T0)


def test_each_save_is_a_version_that_says_what_changed() -> None:
    case = _assigned()
    case.record_findings(_findings(), by="dr-1", at=T0)
    lesions = [*_findings().model_dump()["lesions"], _findings().model_dump()["lesions"][0]]
    case.record_findings(
        _findings(lesions=lesions, conclusions="Changed."), by="dr-1", at=T0 + timedelta(hours=1)
    )
    assert [v.number for v in case.versions] == [1, 2]
    assert case.versions[0].changed == ["(first version)"]
    assert case.versions[1].changed == ["lesions.2", "conclusions"]


def test_the_same_draft_saved_again_makes_no_new_version() -> None:
    case = _assigned()
    first = case.record_findings(_findings(), by="dr-1", at=T0)
    again = case.record_findings(_findings(), by="dr-1", at=T0 + timedelta(minutes=1))
    assert again is first
    assert [v.number for v in case.versions] == [1]
    case.record_findings(_findings(conclusions="Changed."), by="dr-1", at=T0)
    assert [v.number for v in case.versions] == [1, 2]


def test_the_same_appointment_booked_again_is_not_booked_twice() -> None:
    case = _assigned()
    first = case.book_appointment(
        on=T0.date(), remote=False, interpreter_language="ti", by="coordinator-1", at=T0
    )
    again = case.book_appointment(
        on=T0.date(), remote=False, interpreter_language="ti", by="coordinator-1", at=T0
    )
    other_day = case.book_appointment(
        on=T0.date() + timedelta(days=7),
        remote=False,
        interpreter_language="ti",
        by="coordinator-1",
        at=T0,
    )
    assert again is first
    assert [a.appointment_id for a in case.appointments] == [
        first.appointment_id,
        other_day.appointment_id,
    ]


def test_an_answer_to_a_question_not_asked_is_refused() -> None:
    case = _assigned()
    wrong = _findings(answers=[{"question": 2, "answer": "An answer to nothing."}])
    with pytest.raises(AssessmentRuleBroken, match=r"answers.0.question: .* 1 question"):
        case.record_findings(wrong, by="dr-1", at=T0)


def test_the_draft_goes_to_peer_review_only_when_complete() -> None:
    with pytest.raises(InvalidTransition, match="submitted before findings are recorded"):
        _assigned().submit_for_peer_review(by="dr-1", at=T0)
    case = _assigned()
    case.record_findings(_findings(lesions=[], answers=[]), by="dr-1", at=T0)
    with pytest.raises(DraftIncomplete) as refused:
        case.submit_for_peer_review(by="dr-1", at=T0)
    assert [m.split(":")[0] for m in refused.value.missing] == [
        "lesions",
        "answers",
        "appointments",
    ]
    assert case.status is CaseStatus.ASSIGNED


def test_a_psychological_report_may_have_no_lesions() -> None:
    case = _examined(service="psychological_report")
    case.record_findings(_findings(lesions=[]), by="dr-1", at=T0)
    case.submit_for_peer_review(by="dr-1", at=T0)
    assert case.status is CaseStatus.IN_PEER_REVIEW


def test_peer_review_can_return_the_draft_and_then_approve_it() -> None:
    case = _examined()
    case.record_findings(_findings(), by="dr-1", at=T0)
    case.submit_for_peer_review(by="dr-1", at=T0)
    with pytest.raises(InvalidTransition, match="by its own author"):
        case.peer_review(approve=True, by="dr-1", at=T0, comments="")
    assert case.peer_review(approve=False, by="dr-senior", at=T0, comments="Measure it.") is None
    assert case.status is CaseStatus.ASSIGNED
    case.record_findings(_findings(conclusions="Measured."), by="dr-1", at=T0)
    case.submit_for_peer_review(by="dr-1", at=T0)
    at = T0 + timedelta(days=20)
    approved = case.peer_review(approve=True, by="dr-senior", at=at, comments="Good.")
    assert approved is not None
    assert approved.conclusions == "Measured."
    assert (case.status, case.completed_at, case.approved_by) == (
        CaseStatus.REVIEW_COMPLETED,
        at,
        "dr-senior",
    )
    assert [n.verdict.value for n in case.notes] == ["returned", "approved"]
    with pytest.raises(InvalidTransition, match="cannot be given findings"):
        case.record_findings(_findings(interpretation="changed"), by="dr-1", at=at)
    with pytest.raises(InvalidTransition):
        case.assign(clinician_id="dr-2", by="coordinator-1", at=at)


def test_changes_requested_by_legal_reopen_the_draft_for_the_same_clinician() -> None:
    case = _examined()
    case.record_findings(_findings(), by="dr-1", at=T0)
    case.submit_for_peer_review(by="dr-1", at=T0)
    case.peer_review(approve=True, by="dr-senior", at=T0, comments="")
    assert case.legal_changes_requested(by="legal-1", at=T0, sealed_comments="sealed") is True
    assert (case.status, case.clinician_id, case.approved_by) == (
        CaseStatus.ASSIGNED,
        "dr-1",
        None,
    )
    assert case.legal_changes_requested(by="legal-1", at=T0, sealed_comments="again") is False


def test_photographs_need_consent_to_photography_at_that_appointment() -> None:
    case = _examined()
    appointment = case.appointments[0]
    with pytest.raises(PhotographyRefused):
        case.ensure_photography_allowed(appointment_id=appointment.appointment_id, by="dr-1")
    case.record_consent(
        appointment_id=appointment.appointment_id,
        examination=None,
        photography=True,
        by="dr-1",
        at=T0,
    )
    case.ensure_photography_allowed(appointment_id=appointment.appointment_id, by="dr-1")
    assert appointment.examination_consent is not None
    assert appointment.examination_consent.given is True  # left as it was


def test_an_appointment_in_the_past_is_refused() -> None:
    with pytest.raises(AssessmentRuleBroken, match=r"^on: "):
        _assigned().book_appointment(
            on=T0.date() - timedelta(days=1),
            remote=True,
            interpreter_language=None,
            by="c-1",
            at=T0,
        )


# --- triage outcomes ---------------------------------------------------------------------------

ELIGIBLE = Eligibility(
    within_remit=True,
    remit_basis=RemitBasis.ORGANISED_GROUP_VIOLENCE,
    material_to_claim=True,
    documents_sufficient=True,
)


def test_acceptance_needs_every_eligibility_item_and_names_the_unmet_ones() -> None:
    case = _case()
    unmet = Eligibility(
        within_remit=True, remit_basis=None, material_to_claim=False, documents_sufficient=True
    )
    with pytest.raises(IneligibleForAcceptance) as refused:
        case.accept(by="c-1", at=T0, delivery_days=150, eligibility=unmet)
    assert [u.split(":")[0] for u in refused.value.unmet] == [
        "eligibility.within_remit",
        "eligibility.material_to_claim",
    ]
    assert case.status is CaseStatus.AWAITING_TRIAGE
    assert case.decisions == []


def test_a_waitlisted_case_can_later_be_accepted_and_both_decisions_are_kept() -> None:
    case = _case()
    case.waitlist(by="c-1", at=T0, eligibility=None)
    assert case.status is CaseStatus.WAITLISTED
    due = case.accept(by="c-2", at=T0 + timedelta(days=3), delivery_days=150, eligibility=ELIGIBLE)
    assert due == date(2025, 8, 3)
    assert [d.outcome for d in case.decisions] == [Outcome.WAITLIST, Outcome.ACCEPT]


def test_a_declined_case_is_final() -> None:
    case = _case()
    case.decline(by="c-1", at=T0, eligibility=None)
    with pytest.raises(InvalidTransition, match="is declined: it cannot be accepted"):
        case.accept(by="c-1", at=T0, delivery_days=150, eligibility=ELIGIBLE)
    assert case.withdraw(at=T0) is False
    assert case.status is CaseStatus.DECLINED


def test_a_question_pauses_the_triage_clock_until_the_answer() -> None:
    case = _case()
    due = case.response_due
    request_id = uuid.uuid4()
    case.request_information(by="c-1", at=T0 + timedelta(days=2), request_id=request_id)
    assert case.status is CaseStatus.INFORMATION_REQUESTED
    assert case.information_provided(request_id=uuid.uuid4(), at=T0, documents=[]) is False
    answered = case.information_provided(
        request_id=request_id, at=T0 + timedelta(days=5), documents=[]
    )
    assert answered is True
    assert case.status.value == "awaiting_triage"
    assert case.response_due == due + timedelta(days=3)
    assert case.open_request is None


def test_withdrawal_stops_everything() -> None:
    case = _assigned()
    assert case.withdraw(at=T0) is True
    assert case.status is CaseStatus.WITHDRAWN
    with pytest.raises(InvalidTransition, match="is withdrawn"):
        case.record_findings(_findings(), by="dr-1", at=T0)
    with pytest.raises(InvalidTransition, match="is withdrawn"):
        case.assign(clinician_id="dr-2", by="c-1", at=T0)


def test_a_hearing_or_removal_close_at_hand_raises_urgency() -> None:
    near = ReviewCase.received(
        case_id=uuid.uuid4(),
        reference="CRB-2025-ABCDEF",
        organisation="org-a",
        service_requested="full_report",
        risk_flags=[RiskFlag.DETAINED],
        documents=[],
        received_at=T0,
        response_days=7,
        correlation_id=uuid.uuid4(),
        urgent_dates={"removal_directions": (T0 + timedelta(days=5)).date()},
        rule_35_report=False,
    )
    urgency = near.urgency(now=T0)
    assert urgency.score == _case(RiskFlag.DETAINED).urgency(now=T0).score + 40
    assert "removal directions in 5 day(s)" in urgency.reasons
    assert "detained, no Rule 35 report made" in urgency.reasons
