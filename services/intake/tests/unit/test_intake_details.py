"""What a partner may send: every invalid field is refused, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from intake.domain.details import ReferralDetails

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
