"""Review's pages: each person's home, with what their roles have waiting (the coordinators',
clinicians' and senior clinicians' workspaces grow from here)."""

from __future__ import annotations

from corroborate.auth import Role
from corroborate.web.signin import Visitor
from corroborate.web.views import HomeSections, Section, principal_of
from review.service import Review


def home_sections(review: Review) -> HomeSections:
    async def sections(visitor: Visitor) -> list[Section]:
        roles = set(visitor.member.roles)
        found: list[Section] = []
        if Role.COORDINATOR in roles:
            waiting = len(await review.triage_queue())
            at_risk = len(await review.at_risk())
            found.append(
                Section(
                    "Triage",
                    [
                        f"Referrals awaiting triage: {waiting}.",
                        f"Cases with a deadline at risk or missed, or whose clinician has "
                        f"left: {at_risk}.",
                    ],
                )
            )
        if Role.CLINICIAN in roles:
            mine = await review.my_cases(caller=principal_of(visitor, Role.CLINICIAN))
            found.append(Section("Your cases", [f"Cases assigned to you and open: {len(mine)}."]))
        if Role.SENIOR_CLINICIAN in roles:
            drafts = await review.peer_review_queue(
                caller=principal_of(visitor, Role.SENIOR_CLINICIAN)
            )
            found.append(
                Section("Peer review", [f"Drafts awaiting your peer review: {len(drafts)}."])
            )
        if not found:
            found.append(
                Section(
                    "Nothing for you at review",
                    ["Triage and clinical work happen here; your own work is elsewhere."],
                )
            )
        return found

    return sections
