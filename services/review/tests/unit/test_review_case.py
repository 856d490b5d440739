"""The review case: how urgent it is, and who may move it along, in which order."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from corroborate.cli.demo import sample_findings
from corroborate.events.contracts import ClinicalFindings, RiskFlag
from review.domain.case import (
    CaseStatus,
    Eligibility,
    IneligibleForAcceptance,
    InvalidTransition,
    NotAssigned,
    Outcome,
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
        case.record_findings(_findings(), by="dr-1")


# --- findings and completion -----------------------------------------------------------------


def test_only_the_assigned_clinician_records_findings() -> None:
    case = _assigned("dr-1")
    with pytest.raises(NotAssigned):
        case.record_findings(_findings(), by="dr-2")
    assert case.findings is None
    case.record_findings(_findings(), by="dr-1")
    assert case.findings is not None
    assert case.findings.lesions[0].region == "upper_back"


def test_findings_cannot_be_recorded_before_assignment() -> None:
    case = _case()
    with pytest.raises(NotAssigned):
        case.record_findings(_findings(), by="dr-1")


def test_submission_needs_findings_first() -> None:
    with pytest.raises(InvalidTransition, match="submitted before findings are recorded"):
        _assigned().complete(by="dr-1", at=T0)


def test_a_full_report_needs_at_least_one_lesion() -> None:
    case = _assigned()
    case.record_findings(_findings(lesions=[]), by="dr-1")
    with pytest.raises(InvalidTransition, match="at least one documented lesion"):
        case.complete(by="dr-1", at=T0)
    assert case.status is CaseStatus.ASSIGNED


def test_a_psychological_report_may_have_no_lesions() -> None:
    case = _assigned(service="psychological_report")
    case.record_findings(_findings(lesions=[]), by="dr-1")
    findings = case.complete(by="dr-1", at=T0)
    assert findings.lesions == []
    assert case.status is CaseStatus.REVIEW_COMPLETED


def test_completion_is_by_the_assigned_clinician_and_final() -> None:
    case = _assigned()
    case.record_findings(_findings(), by="dr-1")
    with pytest.raises(NotAssigned):
        case.complete(by="dr-2", at=T0)
    at = T0 + timedelta(days=20)
    case.complete(by="dr-1", at=at)
    assert (case.status, case.completed_at) == (CaseStatus.REVIEW_COMPLETED, at)
    with pytest.raises(InvalidTransition, match="cannot be submitted"):
        case.complete(by="dr-1", at=at)
    with pytest.raises(InvalidTransition, match="cannot be given findings"):
        case.record_findings(_findings(interpretation="changed"), by="dr-1")
    with pytest.raises(InvalidTransition):
        case.assign(clinician_id="dr-2", by="coordinator-1", at=at)


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
        case.record_findings(_findings(), by="dr-1")
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
