"""What a partner may send: every invalid field is refused, by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from intake.domain.details import ReferralDetails, age_band, check_draft, merge_patch

ReferralBody = Callable[..., dict[str, Any]]


def _errors(body: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as refused:
        ReferralDetails.model_validate(body)
    return {tuple(e["loc"]): e["type"] for e in refused.value.errors()}


def test_the_sample_referral_is_accepted(referral_body: ReferralBody) -> None:
    details = ReferralDetails.model_validate(referral_body())
    assert details.survivor.languages == ["ti"]
    assert details.service_requested.value == "full_report"


def test_unknown_fields_are_refused_at_any_level(referral_body: ReferralBody) -> None:
    body = referral_body(nickname="Ami")
    body["survivor"]["address"] = "1 Somewhere Street"
    errors = _errors(body)
    assert errors[("nickname",)] == "extra_forbidden"
    assert errors[("survivor", "address")] == "extra_forbidden"


def test_either_date_of_birth_or_approximate_age_is_required(
    referral_body: ReferralBody,
) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]
    with pytest.raises(ValidationError) as refused:
        ReferralDetails.model_validate(body)
    (error,) = refused.value.errors()
    assert (error["loc"], error["type"]) == (("survivor", "date_of_birth"), "age_unknown")
    assert "date_of_birth or approximate_age" in error["msg"]


def test_a_missing_age_is_reported_together_with_other_errors(
    referral_body: ReferralBody,
) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]
    body["survivor"]["nationality"] = "eritrea"
    with pytest.raises(ValidationError) as refused:
        ReferralDetails.model_validate(body)
    assert {e["loc"] for e in refused.value.errors()} == {
        ("survivor", "nationality"),
        ("survivor", "date_of_birth"),
    }


def test_an_approximate_age_is_enough(referral_body: ReferralBody) -> None:
    body = referral_body()
    del body["survivor"]["date_of_birth"]
    body["survivor"]["approximate_age"] = 34
    assert ReferralDetails.model_validate(body).survivor.approximate_age == 34


@pytest.mark.parametrize("code", ["er", "ERI", "Eritrea", "E1"])
def test_country_codes_must_be_iso_alpha_2(referral_body: ReferralBody, code: str) -> None:
    body = referral_body()
    body["survivor"]["nationality"] = code
    body["allegations"]["countries"] = ["ER", code]
    errors = _errors(body)
    assert errors[("survivor", "nationality")] == "string_pattern_mismatch"
    assert errors[("allegations", "countries", 1)] == "string_pattern_mismatch"


@pytest.mark.parametrize("tag", ["Tigrinya", "t", "TI", "ti_ER", "ti-"])
def test_language_tags_must_be_well_formed(referral_body: ReferralBody, tag: str) -> None:
    body = referral_body()
    body["survivor"]["languages"] = ["en", tag]
    assert _errors(body) == {("survivor", "languages", 1): "string_pattern_mismatch"}


@pytest.mark.parametrize("tag", ["ti", "tir", "ti-ER", "zh-Hant-TW"])
def test_valid_language_tags_are_accepted(referral_body: ReferralBody, tag: str) -> None:
    body = referral_body()
    body["survivor"]["languages"] = [tag]
    assert ReferralDetails.model_validate(body).survivor.languages == [tag]


def test_every_invalid_field_is_named_at_once(referral_body: ReferralBody) -> None:
    body = referral_body(service_requested="second_opinion", questions=[])
    body["representative"]["email"] = "not-an-email"
    body["allegations"]["methods"] = ["beating", "not_a_method"]
    body["survivor"]["approximate_age"] = 130
    errors = _errors(body)
    assert set(errors) >= {
        ("service_requested",),
        ("questions",),
        ("representative", "email"),
        ("allegations", "methods", 1),
        ("survivor", "approximate_age"),
    }


def test_blank_names_are_refused_after_trimming(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["survivor"]["full_name"] = "   "
    assert _errors(body) == {("survivor", "full_name"): "string_too_short"}


# --- drafts: what is wrong now, and what is still to come --------------------------------------


def test_an_empty_draft_is_not_wrong_only_unfinished() -> None:
    check = check_draft({})
    assert check.errors == []
    assert check.details is None
    assert {m.split(":")[0] for m in check.missing} == {
        "representative",
        "survivor",
        "immigration",
        "detention",
        "service_requested",
        "allegations",
        "consent",
    } | {"questions"}


def test_a_draft_keeps_wrong_values_apart_from_missing_ones(referral_body: ReferralBody) -> None:
    body = referral_body()
    del body["questions"]
    body["survivor"]["gender"] = "unknown"
    check = check_draft(body)
    assert [(e["loc"], e["type"]) for e in check.errors] == [
        (("survivor", "gender"), "literal_error")
    ]
    assert check.missing == ["questions: Field required"]


@pytest.mark.parametrize(
    ("immigration", "missing"),
    [
        ({"stage": "refused"}, ["immigration.decision_date"]),
        (
            {"stage": "appeal_pending"},
            ["immigration.decision_date", "immigration.appeal_hearing_date"],
        ),
        (
            {"stage": "appeal_pending", "decision_date": "2026-01-02"},
            ["immigration.appeal_hearing_date"],
        ),
        ({"stage": "not_yet_claimed"}, []),
    ],
)
def test_the_immigration_stage_decides_which_dates_are_needed(
    referral_body: ReferralBody, immigration: dict[str, str], missing: list[str]
) -> None:
    check = check_draft(referral_body(immigration=immigration))
    assert check.errors == []
    assert [m.split(":")[0] for m in check.missing] == missing


def test_a_detained_survivor_needs_the_place_and_is_flagged(referral_body: ReferralBody) -> None:
    check = check_draft(referral_body(detention={"detained": True}, risk_flags=[]))
    assert [m.split(":")[0] for m in check.missing] == ["detention.place"]
    details = check_draft(
        referral_body(detention={"detained": True, "place": "Yarl's Wood"}, risk_flags=[])
    ).details
    assert details is not None
    assert details.risk_flags == ["detained"]


def test_consent_to_the_referral_must_be_given(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["consent"]["referral_and_assessment"] = False
    check = check_draft(body)
    assert [(e["loc"], e["type"]) for e in check.errors] == [
        (("consent", "referral_and_assessment"), "literal_error")
    ]


def test_a_date_of_birth_in_the_future_is_refused(referral_body: ReferralBody) -> None:
    body = referral_body()
    body["survivor"]["date_of_birth"] = "2999-01-01"
    assert _errors(body) == {("survivor", "date_of_birth"): "date_in_future"}


def test_merge_patch_merges_objects_replaces_lists_and_removes_nulls() -> None:
    target: dict[str, Any] = {
        "survivor": {"full_name": "A", "languages": ["ti"]},
        "questions": ["Q1?"],
    }
    patch: dict[str, Any] = {
        "survivor": {"languages": ["ar", "en"], "full_name": None},
        "risk_flags": ["detained"],
    }
    assert merge_patch(target, patch) == {
        "survivor": {"languages": ["ar", "en"]},
        "questions": ["Q1?"],
        "risk_flags": ["detained"],
    }
    assert target["survivor"]["full_name"] == "A"  # the original is left alone


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        ("2009-06-01", date(2026, 5, 31), "0-17"),
        ("2008-06-01", date(2026, 6, 1), "18-25"),
        ("1991-04-12", date(2026, 11, 26), "26-35"),
        ("1950-01-01", date(2026, 1, 1), "56+"),
    ],
)
def test_the_age_band_is_coarse_and_exact_at_birthdays(
    referral_body: ReferralBody, born: str, on: date, band: str
) -> None:
    body = referral_body()
    body["survivor"]["date_of_birth"] = born
    assert age_band(ReferralDetails.model_validate(body), on=on) == band
