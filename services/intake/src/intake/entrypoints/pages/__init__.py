"""Intake's pages: a partner's referrals, and the administrators' directory of organisations,
people and partners' systems. Each page calls the same use cases as the API."""

from __future__ import annotations

from pathlib import Path

from corroborate.auth import Role
from corroborate.web.signin import Visitor
from corroborate.web.views import Section
from intake.entrypoints.pages.directory import router as directory_pages
from intake.entrypoints.pages.partner import router as partner_pages

TEMPLATES = Path(__file__).parent / "templates"
ROUTERS = (partner_pages, directory_pages)


def landing(visitor: Visitor) -> str | None:
    """A partner lands on their referrals, an administrator on the directory."""
    if Role.PARTNER in visitor.member.roles:
        return "/partner/referrals"
    if Role.ADMIN in visitor.member.roles:
        return "/admin/organisations"
    return None


async def home_sections(visitor: Visitor) -> list[Section]:
    return [
        Section(
            "Nothing for you at intake",
            [
                "Referral partners send referrals here, and administrators keep the directory; "
                "your own work is elsewhere."
            ],
        )
    ]


__all__ = ["ROUTERS", "TEMPLATES", "home_sections", "landing"]
