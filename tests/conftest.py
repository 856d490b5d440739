"""Fixtures for the cross-service tests: the three services as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corroborate.settings import Settings
from corroborate_testing import Stack, services_running


@pytest.fixture(scope="module")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The three services as uvicorn processes, as `make up` runs them."""
    with services_running(settings, tmp_path_factory.mktemp("service-logs")) as running:
        yield running
