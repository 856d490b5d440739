"""Fixtures for review's tests: findings as a clinician records them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from corroborate.walk.samples import sample_findings

FindingsBody = Callable[..., dict[str, Any]]


@pytest.fixture
def findings_body() -> FindingsBody:
    """Valid findings (one lesion on the upper back); keyword arguments replace fields."""

    def build(**overrides: Any) -> dict[str, Any]:
        body = copy.deepcopy(sample_findings())
        body.update(overrides)
        return body

    return build
