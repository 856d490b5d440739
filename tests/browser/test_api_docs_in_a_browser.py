"""The API's documentation in a browser: intake's /docs (Swagger UI) lists every operation of its
OpenAPI document and runs one against the service, and /redoc (ReDoc) lists them all and finds
them by search, under the policies the service sends: no policy violation, no failed request,
no script error, nothing asked of another origin. Both pages are kept as screenshots; they are
the viewers' own pages, not Corroborate's, so axe does not scan them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request

from corroborate_testing import Stack
from corroborate_testing.browser import Visit

pytestmark = pytest.mark.browser

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contracts" / "intake.openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


def operations() -> int:
    paths = json.loads(CONTRACT.read_text(encoding="utf-8"))["paths"]
    return sum(1 for item in paths.values() for method in item if method in METHODS)


def watched(page: Page, origin: str) -> list[str]:
    """Everything that went wrong on ``page``, as it happens: console errors and warnings (a
    blocked style, script, image or worker is reported there), failed requests, script errors
    and any request to another origin."""
    trouble: list[str] = []
    ours = (origin, f"blob:{origin}", "data:")

    def console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            trouble.append(f"console {message.type}: {message.text}")

    def request(sent: Request) -> None:
        if not sent.url.startswith(ours):
            trouble.append(f"elsewhere: {sent.url}")

    page.on("console", console)
    page.on("request", request)
    page.on("requestfailed", lambda r: trouble.append(f"failed: {r.url} ({r.failure})"))
    page.on("pageerror", lambda error: trouble.append(f"script error: {error}"))
    return trouble


async def test_swagger_ui_lists_every_operation_and_tries_one_under_the_policy(
    stack: Stack, browser: Browser
) -> None:
    intake = stack.settings.intake_url
    visit = Visit("api-docs-swagger-ui")
    page = await browser.new_page()
    trouble = watched(page, intake)

    await page.goto(f"{intake}/docs")
    await page.wait_for_selector(".opblock")
    assert await page.locator(".opblock").count() == operations()
    assert "Corroborate intake" in await page.locator(".info .title").inner_text()
    await visit.saw(page, "swagger ui lists the operations", scan=False)

    # The service answers the page's own request: the policy lets it reach its origin.
    health = page.locator(".opblock", has_text="/healthz")
    await health.locator(".opblock-summary").click()
    await health.get_by_role("button", name="Try it out").click()
    await health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table tbody .response-col_status").first
    await status.wait_for()
    assert (await status.inner_text()).strip() == "200"
    await visit.saw(page, "swagger ui ran healthz", scan=False)

    assert trouble == []


async def test_redoc_lists_every_operation_and_searches_them_under_the_policy(
    stack: Stack, browser: Browser
) -> None:
    intake = stack.settings.intake_url
    visit = Visit("api-docs-redoc")
    page = await browser.new_page()
    trouble = watched(page, intake)

    await page.goto(f"{intake}/redoc")
    await page.wait_for_selector("[data-section-id^='operation/']")
    assert await page.locator("[data-section-id^='operation/']").count() == operations()
    await visit.saw(page, "redoc lists the operations", scan=False)

    # Search runs in ReDoc's worker, started from a blob: address the policy allows.
    await page.fill("input[placeholder='Search...']", "referral")
    results = page.locator("[data-role='search:results'] li[role='menuitem']")
    await results.first.wait_for()
    assert "referral" in (await results.first.inner_text()).lower()
    await visit.saw(page, "redoc finds the referral operations", scan=False)

    assert trouble == []
