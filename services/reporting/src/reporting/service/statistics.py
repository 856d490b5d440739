"""Statistics use cases: the anonymised projections fed by case events, and the queries on them.

Patterns of torture count only cases whose survivor consented to anonymised use; operational
statistics (how many referrals, how fast, how many on time) count every case but say nothing
about the people in them.
"""

from __future__ import annotations

import statistics as stats
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from corroborate.audit import AuditTrail, actor_of
from corroborate.auth import Principal
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    ReferralAccepted,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWithdrawn,
    ReportIssued,
    ReviewCompleted,
)
from corroborate.events.envelope import EventEnvelope
from reporting.domain.statistics import UNKNOWN, CaseFacts, Table, protect, year_of
from reporting.ports import OperationsStore, PatternStore


@dataclass(frozen=True)
class MonthCounts:
    month: str
    received: int
    accepted: int
    declined: int


@dataclass(frozen=True)
class Operations:
    months: list[MonthCounts]
    median_days_acceptance_to_issue: float | None
    issued: int
    issued_within_deadline: int
    backlog: dict[str, int]

    @property
    def share_within_deadline(self) -> float | None:
        return None if not self.issued else round(self.issued_within_deadline / self.issued, 3)


class Statistics:
    def __init__(
        self,
        *,
        patterns: PatternStore,
        operations: OperationsStore,
        keyring: KeyRing,
        threshold: int,
        base: int,
        audit: AuditTrail,
    ) -> None:
        self._audit = audit
        self._patterns = patterns
        self._operations = operations
        self._keyring = keyring
        self.threshold = threshold
        self.base = base

    async def prepare(self) -> None:
        await self._operations.ensure_indexes()
        await self._patterns.ensure_indexes()

    def _key(self, case_id: uuid.UUID) -> str:
        return self._keyring.blind_index(str(case_id), purpose="statistics")

    async def on_referral_submitted(
        self, envelope: EventEnvelope, payload: ReferralSubmitted
    ) -> None:
        key = self._key(envelope.case_id)
        month = payload.submitted_at.strftime("%Y-%m")
        await self._operations.update(key, received_month=month, stage="triage")
        if not payload.consent_to_anonymised_use:
            return  # patterns keep only what the survivor allowed
        allegations = payload.allegations
        facts = CaseFacts(
            countries=tuple(sorted(set(payload.countries_of_ill_treatment))),
            year=year_of(allegations.period_start if allegations else None, submitted=month),
            methods=tuple(sorted(set(allegations.methods))) if allegations else (),
            perpetrators=tuple(sorted(set(allegations.perpetrators))) if allegations else (),
            gender=payload.gender or UNKNOWN,
            age_band=payload.age_band or UNKNOWN,
            origin=payload.country_of_origin,
            month=month,
        )
        await self._patterns.record(key, facts)

    async def on_referral_accepted(
        self, envelope: EventEnvelope, payload: ReferralAccepted
    ) -> None:
        await self._operations.update(
            self._key(envelope.case_id),
            accepted_on=payload.accepted_at.date(),
            accepted_month=payload.accepted_at.strftime("%Y-%m"),
            report_due=payload.report_due,
            stage="assessment",
        )

    async def on_referral_declined(
        self, envelope: EventEnvelope, payload: ReferralDeclined
    ) -> None:
        await self._operations.update(
            self._key(envelope.case_id),
            declined_month=payload.declined_at.strftime("%Y-%m"),
            stage="declined",
        )

    async def on_referral_withdrawn(
        self, envelope: EventEnvelope, payload: ReferralWithdrawn
    ) -> None:
        await self._operations.update(self._key(envelope.case_id), stage="withdrawn")

    async def on_review_completed(self, envelope: EventEnvelope, payload: ReviewCompleted) -> None:
        await self._operations.update(self._key(envelope.case_id), stage="legal_review")

    async def on_report_issued(self, envelope: EventEnvelope, payload: ReportIssued) -> None:
        if payload.version != 1:
            return  # corrections do not change when the report was first delivered
        await self._operations.update(
            self._key(envelope.case_id), issued_on=payload.issued_at.date(), stage="issued"
        )

    async def patterns(
        self, *, caller: Principal, by: Sequence[str], filters: Mapping[str, set[str]]
    ) -> Table:
        await self._audit.record(
            "statistics.exported",
            actor=actor_of(caller),
            details={"by": list(by), "filters": {d: sorted(v) for d, v in filters.items()}},
        )
        counts = await self._patterns.counts(by=by, filters=filters)
        return protect(counts, threshold=self.threshold, base=self.base)

    async def operations(self, *, caller: Principal) -> Operations:
        await self._audit.record("operations.read", actor=actor_of(caller))
        rows = await self._operations.all()
        received = Counter(r["received_month"] for r in rows if r.get("received_month"))
        accepted = Counter(r["accepted_month"] for r in rows if r.get("accepted_month"))
        declined = Counter(r["declined_month"] for r in rows if r.get("declined_month"))
        months = sorted(set(received) | set(accepted) | set(declined))
        delivered = [r for r in rows if r.get("issued_on") and r.get("accepted_on")]
        days = [
            (date.fromisoformat(r["issued_on"]) - date.fromisoformat(r["accepted_on"])).days
            for r in delivered
        ]
        on_time = [
            r for r in delivered if r.get("report_due") and r["issued_on"] <= r["report_due"]
        ]
        open_stages = {"triage", "assessment", "legal_review"}
        return Operations(
            months=[MonthCounts(m, received[m], accepted[m], declined[m]) for m in months],
            median_days_acceptance_to_issue=float(stats.median(days)) if days else None,
            issued=len(delivered),
            issued_within_deadline=len(on_time),
            backlog=dict(Counter(r["stage"] for r in rows if r.get("stage") in open_stages)),
        )
