"""Fixtures for the cross-service tests: the three services as real processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import httpx
import pytest

from corroborate.access import service_settings
from corroborate.settings import Settings
from corroborate_testing import Stack, running, services_running
from intake.bootstrap import create_app as create_intake
from reporting.bootstrap import create_app as create_reporting
from review.bootstrap import create_app as create_review


@pytest.fixture(scope="module")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The three services as uvicorn processes, as `make up` runs them."""
    with services_running(settings, tmp_path_factory.mktemp("service-logs")) as running:
        yield running


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The three services in-process, each with its own credentials, as HTTP clients."""
    apps = {
        "intake": create_intake(service_settings(settings, "intake")),
        "review": create_review(service_settings(settings, "review")),
        "reporting": create_reporting(service_settings(settings, "reporting")),
    }
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(running(a)) for name, a in apps.items()}
