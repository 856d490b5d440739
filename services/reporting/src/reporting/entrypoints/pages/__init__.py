"""Reporting's pages: each person's home, with what their roles have waiting (the legal
reviewers', analysts' and managers' workspaces grow from here)."""

from __future__ import annotations

from corroborate.auth import Role
from corroborate.web.signin import Visitor
from corroborate.web.views import HomeSections, Section
from reporting.service.legal_review import LegalQueue


def home_sections(legal: LegalQueue) -> HomeSections:
    async def sections(visitor: Visitor) -> list[Section]:
        roles = set(visitor.member.roles)
        found: list[Section] = []
        if Role.LEGAL in roles:
            waiting = len(await legal.queue())
            found.append(
                Section("Legal sign-off", [f"Reports awaiting legal review or issue: {waiting}."])
            )
        if Role.ANALYST in roles:
            found.append(
                Section(
                    "Patterns of torture",
                    [
                        "Anonymised counts of documented cases, with small numbers suppressed, "
                        "are exported from the statistics API (/statistics/patterns); every "
                        "export is audited.",
                    ],
                )
            )
        if Role.MANAGER in roles:
            found.append(
                Section(
                    "Operations",
                    [
                        "Referrals received, accepted and declined by month, and reports "
                        "delivered on time, come from the operations API (/statistics/"
                        "operations).",
                    ],
                )
            )
        if not found:
            found.append(
                Section(
                    "Nothing for you at reporting",
                    ["Legal sign-off and statistics happen here; your own work is elsewhere."],
                )
            )
        return found

    return sections
