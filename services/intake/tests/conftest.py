"""Fixtures for intake's tests: a complete referral as a partner would send it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from corroborate.walk.samples import sample_referral

SURVIVOR_NAME = "Amanuel Canary-Tesfazion"
DATE_OF_BIRTH = "1987-03-14"
HOME_OFFICE_REFERENCE = "HO-CANARY-7731"

ReferralBody = Callable[..., dict[str, Any]]


@pytest.fixture
def survivor_identity() -> dict[str, str]:
    """The identifying values the referral carries; none may appear in clear at rest."""
    return {
        "full_name": SURVIVOR_NAME,
        "date_of_birth": DATE_OF_BIRTH,
        "home_office_reference": HOME_OFFICE_REFERENCE,
    }


@pytest.fixture
def referral_body() -> ReferralBody:
    """A fresh, valid referral body; keyword arguments replace top-level fields."""

    def build(**overrides: Any) -> dict[str, Any]:
        body = copy.deepcopy(sample_referral(SURVIVOR_NAME))
        body["survivor"]["date_of_birth"] = DATE_OF_BIRTH
        body["immigration"]["home_office_reference"] = HOME_OFFICE_REFERENCE
        body.update(overrides)
        return body

    return build
