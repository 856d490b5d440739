"""Browser tests: Debian's Chromium driven by Playwright, a person signing in through the
provider's own pages (typing the password and the code from their authenticator app), a
screenshot of every page visited, and an axe-core scan of each of Corroborate's pages."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright, ViewportSize

from corroborate.provider import Person
from corroborate_testing.identity import Codes

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling out to the internet, which
# these machines refuse; the sandbox needs a user namespace a root container lacks.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERIOUS = ("serious", "critical")
PHONE: ViewportSize = {"width": 390, "height": 844}


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def axe_script() -> Path:
    """axe-core's ``axe.min.js``, fetched from npm by the test command."""
    state = Path(os.environ.get("CORROBORATE_STATE_DIR", ".local/test"))
    return state / "vendor" / "axe.min.js"


@dataclass
class Visit:
    """One test's walk through pages: a numbered screenshot of each, and axe's findings on
    each of Corroborate's own pages."""

    name: str
    folder: Path = field(init=False)
    shots: int = 0
    violations: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        state = Path(os.environ.get("CORROBORATE_STATE_DIR", ".local/test"))
        self.folder = state / "screenshots" / self.name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    async def saw(self, page: Page, what: str, *, scan: bool = True) -> None:
        """Keep a screenshot of ``page``, at desktop and at phone width; with ``scan``, record
        axe's serious findings."""
        self.shots += 1
        slug = re.sub(r"[^a-z0-9]+", "-", what.lower()).strip("-")
        await page.screenshot(path=self.folder / f"{self.shots:02d}-{slug}.png", full_page=True)
        # And as on a phone, for a person to see that nothing is cut off or overlaps.
        desktop = page.viewport_size
        await page.set_viewport_size(PHONE)
        await page.screenshot(
            path=self.folder / f"{self.shots:02d}-{slug}-phone.png", full_page=True
        )
        if desktop is not None:
            await page.set_viewport_size(desktop)
        if scan:
            # Evaluated through the debugging protocol, which the page's policy (no inline
            # script) rightly does not let a <script> tag do.
            await page.evaluate(axe_script().read_text(encoding="utf-8") + "\n;undefined")
            result: dict[str, Any] = await page.evaluate("axe.run()")
            serious = [
                f"{v['id']} ({v['impact']}): {v['help']} at "
                + json.dumps([n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]
                if v["impact"] in SERIOUS
            ]
            if serious:
                self.violations[what] = serious


async def sign_in_at_provider_pages(
    page: Page, person: Person, codes: Codes, *, back_at: str
) -> None:
    """On the provider's sign-in page: the name and password, then whatever it asks next
    (consent to the scopes, the TOTP code, continue) until the browser is back at ``back_at``."""
    await page.fill("#username", person.username)
    await page.fill("#password", person.password)
    await page.click("#loginbut")
    await _until_back(page, person, codes, back_at=back_at)


async def continue_at_provider(page: Page, *, back_at: str) -> None:
    """At the provider, whose session the person still holds: whatever it asks next (consent,
    continue) until the browser is back at ``back_at``; never the password."""
    await page.wait_for_url(lambda url: not url.startswith(back_at))
    await _until_back(page, None, None, back_at=back_at)


async def _until_back(
    page: Page, person: Person | None, codes: Codes | None, *, back_at: str
) -> None:
    for _ in range(6):
        if page.url.startswith(back_at):
            return
        found = await page.wait_for_selector(
            'input[id^="grant-"]:not([disabled]), #value, '
            'button[title="Continue to client application"]',
            timeout=15_000,
        )
        if found is None:
            break
        ident = await found.get_attribute("id") or ""
        if ident.startswith("grant-"):
            for box in await page.query_selector_all('input[id^="grant-"]:not([disabled])'):
                if not await box.is_checked():
                    await box.check()
            await page.click("text=Grant access")
        elif ident == "value":
            if person is None or codes is None:
                raise AssertionError("the provider asked for a code, as if signed out")
            await page.fill("#value", await codes.fresh(person))
            await page.click("#but")
        else:
            await found.click()
        try:
            await page.wait_for_url(f"{back_at}**", timeout=3_000)
        except Exception:  # noqa: S112 - the provider shows its next step instead
            continue
    if not page.url.startswith(back_at):
        raise AssertionError(f"the provider did not send the browser back: at {page.url}")
