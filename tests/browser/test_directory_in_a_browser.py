"""The directory in a browser: an administrator signs in through the provider's pages, makes a
mistake and is shown it (the error summary takes the focus), adds an organisation and invites a
solicitor; the solicitor signs in and lands on their organisation's referrals, none yet; the
administrator ends the solicitor's access and the solicitor's next page sends them to sign in.
A coordinator lands at review on what triage has waiting. Every page is a screenshot; each of
Corroborate's is scanned by axe-core."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx
import pytest
from playwright.async_api import Browser, Page

from corroborate.auth import Role
from corroborate.provider import Person
from corroborate.settings import Settings
from corroborate_testing import Stack
from corroborate_testing.browser import (
    Visit,
    continue_at_provider,
    sign_in_at_provider_pages,
)
from corroborate_testing.identity import Codes, LocalProvider, heard_of

pytestmark = pytest.mark.browser

CODES = Codes()


async def _invite(intake: str, admin: dict[str, str], body: dict[str, object]) -> str:
    async with httpx.AsyncClient(base_url=intake, headers=admin, timeout=30) as http:
        invited = await http.post("/directory/people", json=body)
    assert invited.status_code == 201, invited.text
    person_id: str = invited.json()["person_id"]
    return person_id


async def test_an_administrator_adds_a_firm_invites_a_solicitor_and_ends_their_access(
    stack: Stack, browser: Browser, settings: Settings, bearer: Callable[..., dict[str, str]]
) -> None:
    provider = LocalProvider.of(settings)
    intake = stack.settings.intake_url
    administrator = await provider.new_person(name="Lena Fischer")
    await _invite(
        intake,
        bearer(Role.ADMIN, sub="admin-setup"),
        {"email": administrator.email, "name": administrator.name, "roles": ["admin"]},
    )
    solicitor = await provider.new_person(name="Kwame Asante")
    firm = f"Asante {secrets.token_hex(2)} Solicitors"
    visit = Visit("directory")

    admin_page = await (await browser.new_context()).new_page()
    await admin_page.goto(f"{intake}/")
    await admin_page.wait_for_selector("#username")
    await sign_in_at_provider_pages(admin_page, administrator, CODES, back_at=intake)
    await admin_page.wait_for_url(f"{intake}/admin/organisations")
    await visit.saw(admin_page, "administrator lands on the organisations")
    assert await admin_page.locator("h1").inner_text() == "Organisations"
    nav = await admin_page.locator("nav[aria-label='Your work']").inner_text()
    assert "Organisations and people" in nav

    await _add_the_firm_and_invite(admin_page, visit, firm, solicitor)

    # The solicitor, in a browser of their own.
    solicitor_page = await (await browser.new_context()).new_page()
    await solicitor_page.goto(f"{intake}/")
    await solicitor_page.wait_for_selector("#username")
    await sign_in_at_provider_pages(solicitor_page, solicitor, CODES, back_at=intake)
    await solicitor_page.wait_for_url(f"{intake}/partner/referrals")
    await visit.saw(solicitor_page, "solicitor lands on their referrals")
    main = await solicitor_page.locator("main").inner_text()
    assert "Your organisation has no referrals yet." in main
    assert firm in await solicitor_page.locator("header").inner_text()

    # The administrator sees the sign-in, then ends the solicitor's access.
    await admin_page.reload()
    assert "Never" not in await admin_page.locator("table").inner_text()
    await admin_page.click(f"text={solicitor.name}")
    await admin_page.wait_for_selector("h1")
    await visit.saw(admin_page, "the solicitor's page")
    await admin_page.click(f"text=End {solicitor.name}'s access")
    await admin_page.wait_for_selector("text=Their access has ended")
    await visit.saw(admin_page, "access ended")

    # Their next page: intake has ended their session; signing in again (the provider still
    # vouches for them) ends at the page that says their access has ended.
    await solicitor_page.reload()
    await continue_at_provider(solicitor_page, back_at=intake)
    await solicitor_page.wait_for_selector("h1:has-text('You could not be signed in')")
    await visit.saw(solicitor_page, "solicitor's access has ended")
    assert "ask your administrator" in await solicitor_page.locator("main").inner_text()
    assert visit.violations == {}, visit.violations


async def test_a_coordinator_lands_at_review_on_what_triage_has_waiting(
    stack: Stack, browser: Browser, settings: Settings, bearer: Callable[..., dict[str, str]]
) -> None:
    provider = LocalProvider.of(settings)
    coordinator = await provider.new_person(name="Erin Walsh")
    person_id = await _invite(
        stack.settings.intake_url,
        bearer(Role.ADMIN, sub="admin-setup"),
        {"email": coordinator.email, "name": coordinator.name, "roles": ["coordinator"]},
    )
    review = stack.settings.review_url
    visit = Visit("review-home")
    page = await browser.new_page()

    # Review learns of the coordinator from intake's event.
    await heard_of(settings, "review", person_id)
    await page.goto(f"{review}/")
    await page.wait_for_selector("#username")
    await sign_in_at_provider_pages(page, coordinator, CODES, back_at=review)
    await page.wait_for_selector("h1")
    await visit.saw(page, "coordinator's home at review")

    assert await page.locator("h1").inner_text() == "Welcome, Erin Walsh"
    main = await page.locator("main").inner_text()
    assert "Referrals awaiting triage:" in main
    assert "Triage" in await page.locator("nav[aria-label='Your work']").inner_text()
    assert visit.violations == {}, visit.violations


async def _add_the_firm_and_invite(page: Page, visit: Visit, firm: str, solicitor: Person) -> None:
    # A mistake: the form comes back with an error summary, which takes the focus, and a
    # link to the field.
    await page.click("text=Add organisation")
    await page.wait_for_selector(".error-summary")
    await visit.saw(page, "organisation without a name")
    assert await page.evaluate("document.activeElement.classList.contains('error-summary')")
    await page.click(".error-summary a[href='#name']")
    assert await page.evaluate("document.activeElement.id") == "name"

    # Typed with the keyboard: the name, then Enter submits.
    await page.keyboard.type(firm)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=The organisation was added.")
    await visit.saw(page, "organisation added")
    assert await page.locator("h1").inner_text() == firm

    await page.fill("#person_name", solicitor.name)
    await page.fill("#email", solicitor.email)
    await page.click("button:has-text('Invite')")
    await page.wait_for_selector("text=The invitation was made.")
    await visit.saw(page, "solicitor invited")
    assert "Invited" in await page.locator("table").inner_text()
