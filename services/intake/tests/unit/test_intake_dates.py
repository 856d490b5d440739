"""Dates that cannot be true are refused by field and rule, in a draft as at submission:
ill-treatment before birth or in the future, a decision taken in the future, a hearing before
the decision, events before birth, a consent recorded in the future."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from intake.domain.details import ReferralDetails, check_draft

ReferralBody = Callable[..., dict[str, Any]]
NEXT_YEAR = str(datetime.now(UTC).year + 1)
TOMORROW = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()


def _errors(body: dict[str, Any]) -> dict[tuple[str | int, ...], tuple[str, str]]:
    with pytest.raises(ValidationError) as refused:
        ReferralDetails.model_validate(body)
    return {tuple(e["loc"]): (e["type"], e["msg"]) for e in refused.value.errors()}


def _born(body: dict[str, Any], on: str) -> dict[str, Any]:
    body["survivor"]["date_of_birth"] = on
    return body


def test_ill_treatment_before_birth_is_refused(referral_body: ReferralBody) -> None:
    body = _born(referral_body(), "1991-04-12")
    body["allegations"]["period"] = {"start": "1990-01", "end": "1991-03"}
    errors = _errors(body)
    assert errors == {
        ("allegations", "period", "start"): (
            "before_birth",
            "the period's start is before the survivor was born",
        ),
        ("allegations", "period", "end"): (
            "before_birth",
            "the period's end is before the survivor was born",
        ),
    }


def test_ill_treatment_in_the_month_of_birth_is_possible(referral_body: ReferralBody) -> None:
    body = _born(referral_body(), "1991-04-12")
    body["allegations"]["period"] = {"start": "1991-04"}
    assert ReferralDetails.model_validate(body).allegations.period is not None


def test_ill_treatment_before_birth_by_approximate_age(referral_body: ReferralBody) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]
    body["survivor"]["approximate_age"] = 20
    long_before = datetime.now(UTC).year - 30
    body["allegations"]["period"] = {"start": f"{long_before}-01"}
    assert _errors(body)[("allegations", "period", "start")][0] == "before_birth"


def test_ill_treatment_in_the_future_is_refused(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["allegations"]["period"] = {"start": f"{NEXT_YEAR}-01"}
    assert _errors(body) == {
        ("allegations", "period", "start"): (
            "date_in_future",
            "the period's start is in the future",
        )
    }


def test_a_decision_in_the_future_or_before_birth_is_refused(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["immigration"]["decision_date"] = TOMORROW
    assert _errors(body)[("immigration", "decision_date")][0] == "date_in_future"
    body = _born(referral_body(), "1991-04-12")
    body["immigration"]["decision_date"] = "1990-05-01"
    assert _errors(body) == {
        ("immigration", "decision_date"): (
            "before_birth",
            "decision_date is before the survivor's date of birth",
        )
    }


def test_a_hearing_may_be_ahead_but_not_before_the_decision(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["immigration"] = {
        "stage": "appeal_pending",
        "decision_date": "2026-01-10",
        "appeal_hearing_date": TOMORROW,
    }
    assert ReferralDetails.model_validate(body).immigration.appeal_hearing_date is not None
    body["immigration"]["appeal_hearing_date"] = "2025-12-01"
    assert _errors(body) == {
        ("immigration", "appeal_hearing_date"): (
            "before_decision",
            "appeal_hearing_date is before the decision appealed against",
        )
    }


def test_a_consent_recorded_in_the_future_is_refused(referral_body: ReferralBody) -> None:
    body = referral_body()
    later = datetime.now(UTC) + timedelta(hours=1)
    body["consent"]["referral_consent_recorded_at"] = later.isoformat()
    assert _errors(body)[("consent", "referral_consent_recorded_at")][0] == "date_in_future"


def test_an_impossible_date_is_an_error_of_a_draft_beside_what_is_missing(
    referral_body: ReferralBody,
) -> None:
    """A draft with only some sections: the dates it does give are checked together, and
    what is still missing is listed apart."""
    body = referral_body()
    draft = {
        "survivor": _born(body, "1991-04-12")["survivor"],
        "allegations": {**body["allegations"], "period": {"start": "1980-01"}},
    }
    check = check_draft(draft)
    assert [(e["loc"], e["type"]) for e in check.errors] == [
        (("allegations", "period", "start"), "before_birth")
    ]
    assert "immigration: Field required" in check.missing


def test_other_errors_are_reported_beside_an_impossible_date(referral_body: ReferralBody) -> None:
    body = _born(referral_body(), "1991-04-12")
    body["allegations"]["period"] = {"start": "1980-01"}
    body["survivor"]["languages"] = ["not a language"]
    errors = _errors(body)
    assert errors[("allegations", "period", "start")][0] == "before_birth"
    assert errors[("survivor", "languages", 0)][0] == "string_pattern_mismatch"


def test_an_invalid_contact_beside_an_unknown_age_is_listed_not_a_crash(
    referral_body: ReferralBody,
) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]
    body["survivor"]["contact"] = {"email": "not an address"}
    errors = _errors(body)
    assert errors[("survivor", "contact", "email")][0] == "value_error"
    assert errors[("survivor", "date_of_birth")][0] == "age_unknown"
