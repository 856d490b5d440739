"""Fixtures the browser tests share: the three services as processes on the ports the provider
knows as redirect URIs, and Debian's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, async_playwright

from corroborate.settings import Settings
from corroborate_testing import Stack, services_running
from corroborate_testing.browser import launch


@pytest.fixture(scope="module")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Per module, never longer: these processes consume the run's queues, and left running
    # they would compete with the services of the tests after them.
    logs = tmp_path_factory.mktemp("browser-service-logs")
    with services_running(settings, logs, configured_ports=True) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        try:
            yield launched
        finally:
            await launched.close()
