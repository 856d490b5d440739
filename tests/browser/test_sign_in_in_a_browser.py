"""A person at a browser: invited to the directory, they sign in through the provider's own
pages with their password and the code from their authenticator app, see who they are, and
sign out with the keyboard alone. Every page is kept as a screenshot; each of Corroborate's
is scanned by axe-core for serious and critical violations."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest
from playwright.async_api import Browser

from corroborate.auth import Role
from corroborate.settings import Settings
from corroborate_testing import Stack
from corroborate_testing.browser import (
    Visit,
    continue_at_provider,
    sign_in_at_provider_pages,
)
from corroborate_testing.identity import Codes, LocalProvider

pytestmark = pytest.mark.browser

CODES = Codes()


async def test_an_invited_solicitor_signs_in_with_a_second_factor_and_signs_out(
    stack: Stack, browser: Browser, settings: Settings, bearer: Callable[..., dict[str, str]]
) -> None:
    provider = LocalProvider.of(settings)
    intake = stack.settings.intake_url
    admin = bearer(Role.ADMIN, sub="admin-browser")
    person = await provider.new_person(name="Grace Osei")
    async with httpx.AsyncClient(base_url=intake, headers=admin, timeout=30) as http:
        firm = await http.post(
            "/directory/organisations", json={"name": f"Osei {secrets.token_hex(2)} Law"}
        )
        assert firm.status_code == 201, firm.text
        invited = await http.post(
            "/directory/people",
            json={
                "email": person.email,
                "name": person.name,
                "roles": ["partner"],
                "organisation_id": firm.json()["organisation_id"],
            },
        )
        assert invited.status_code == 201, invited.text

    visit = Visit("sign-in")
    page = await browser.new_page()
    await page.goto(f"{intake}/auth/me")
    await page.wait_for_selector("#username")
    await visit.saw(page, "provider sign-in page", scan=False)
    await sign_in_at_provider_pages(page, person, CODES, back_at=intake)
    await page.wait_for_url(f"{intake}/auth/me")
    await visit.saw(page, "signed in")

    assert await page.locator("h1").inner_text() == "You are signed in"
    assert "Grace Osei" in await page.locator("main").inner_text()
    assert firm.json()["name"] in await page.locator("header").inner_text()

    # Keyboard only: the skip link first, then on to the sign-out button.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to main content"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Sign out"
    ending: list[str] = []
    page.on(
        "request",
        lambda r: (
            ending.append(r.url) if r.url.startswith(f"{provider.issuer}/end_session") else None
        ),
    )
    await page.keyboard.press("Enter")
    # Intake ends its session and sends the browser to the provider's end-session endpoint
    # (RP-initiated logout), naming this client and the ID token it was given.
    await page.wait_for_url(f"{provider.url}/**")
    assert len(ending) == 1
    assert "client_id=corroborate-intake" in ending[0]
    assert "id_token_hint=" in ending[0]
    assert "post_logout_redirect_uri=" in ending[0]
    # The provider is asked to end its session too, and shows its own end-session page.
    await page.wait_for_selector("text=End session")
    await visit.saw(page, "provider asks to end its session", scan=False)

    # Signed out here: the next sign-in at intake asks for the password and the code again
    # (prompt=login), whatever became of the provider's own session.
    await page.goto(f"{intake}/auth/me")
    await page.wait_for_selector("#username")
    await page.wait_for_load_state("networkidle")
    await visit.saw(page, "signing in again", scan=False)
    assert "Grace Osei" not in await page.locator("body").inner_text()
    assert visit.violations == {}, visit.violations


async def test_someone_not_in_the_directory_is_told_why_and_what_to_do(
    stack: Stack, browser: Browser, settings: Settings
) -> None:
    provider = LocalProvider.of(settings)
    intake = stack.settings.intake_url
    stranger = await provider.new_person(name="Not Invited")
    visit = Visit("sign-in-refused")
    page = await browser.new_page()

    await page.goto(f"{intake}/auth/sign-in")
    await page.wait_for_selector("#username")
    await sign_in_at_provider_pages(page, stranger, CODES, back_at=intake)
    await page.wait_for_selector("h1")
    await visit.saw(page, "refused")

    assert await page.locator("h1").inner_text() == "You could not be signed in"
    assert "ask your administrator" in await page.locator("main").inner_text()
    assert visit.violations == {}, visit.violations
    # Nothing signed them in: their page of who they are sends them to sign in, and the
    # provider, whose session they still hold, sends them back to the same refusal.
    await page.goto(f"{intake}/auth/me")
    await continue_at_provider(page, back_at=intake)
    await page.wait_for_selector("h1")
    assert await page.locator("h1").inner_text() == "You could not be signed in"
