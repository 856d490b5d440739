"""Reporting's use cases: the legal review queue, sign-off and issue, and report download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from corroborate.audit import SYSTEM, AuditLog, actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseErased,
    CaseEscalated,
    ReferralWithdrawn,
    ReportChangesRequested,
    ReportIssued,
    ReviewCompleted,
    SealedText,
    open_details,
    open_text,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.links import DownloadLinks, SignedLink
from corroborate.mongo import ConcurrencyConflict
from corroborate.storage import ObjectStore
from reporting.adapters.operations import DeadlineLog, WithdrawnCases
from reporting.adapters.pdf import render_pdf
from reporting.adapters.repository import LegalReviewRepository, StoredReview
from reporting.domain.legal_review import Download, LegalReview, LegalReviewStatus, ReportVersion
from reporting.domain.report import assemble

PRODUCER = "reporting"


class NotFound(Exception):
    """No such case or report for this caller."""


@dataclass(frozen=True)
class ReportLink:
    report_id: uuid.UUID
    version: int
    link: SignedLink


@dataclass(frozen=True)
class ReportDownload:
    report: ReportVersion
    reference: str
    content: bytes


class Reporting:
    def __init__(
        self,
        *,
        reviews: LegalReviewRepository,
        keyring: KeyRing,
        store: ObjectStore,
        reports_bucket: str,
        links: DownloadLinks,
        deadlines: DeadlineLog,
        withdrawn: WithdrawnCases,
        retention_mode: str,
        retention: timedelta,
        audit: AuditLog,
    ) -> None:
        self._audit = audit
        self._withdrawn = withdrawn
        self._retention_mode = retention_mode
        self._retention = retention
        self._deadlines = deadlines
        self._reviews = reviews
        self._keyring = keyring
        self._store = store
        self._bucket = reports_bucket
        self._links = links

    async def prepare(self) -> None:
        await self._reviews.ensure_indexes()
        await self._store.ensure_bucket(self._bucket, versioned=True, object_lock=True)

    async def on_case_escalated(self, envelope: EventEnvelope, payload: object) -> None:
        """Kept for the managers' operational statistics (deadlines at risk or missed)."""
        assert isinstance(payload, CaseEscalated)
        await self._deadlines.record(envelope, payload)

    async def on_review_completed(self, envelope: EventEnvelope, payload: object) -> None:
        """A draft approved in peer review: a new case in the legal queue, or the revision of one
        legal sent back (the earlier findings kept, to show what changed)."""
        assert isinstance(payload, ReviewCompleted)
        if await self._withdrawn.contains(envelope.case_id):
            return  # withdrawn meanwhile: nothing is issued for it
        existing = await self._reviews.get(envelope.case_id)
        if existing is not None and existing.review.resubmitted(
            findings=payload.findings,
            approved_by=payload.approved_by,
            documents=list(payload.documents),
            at=payload.completed_at,
        ):
            await self._reviews.save(existing.review, events=[], processed_event=envelope.event_id)
            return
        review = LegalReview(
            case_id=envelope.case_id,
            reference=payload.reference,
            organisation=payload.organisation,
            clinician_id=payload.clinician_id,
            clinician_name=payload.clinician_name,
            clinician_qualifications=payload.clinician_qualifications,
            approved_by=payload.approved_by,
            findings=payload.findings,
            documents=list(payload.documents),
            report_due=payload.report_due,
            received_at=payload.completed_at,
            correlation_id=envelope.correlation_id,
        )
        await self._reviews.add(review, protected=payload.protected, caused_by=envelope.event_id)

    async def on_referral_withdrawn(self, envelope: EventEnvelope, payload: object) -> None:
        """The partner withdrew: nothing more is issued (versions already issued stay)."""
        assert isinstance(payload, ReferralWithdrawn)
        await self._withdrawn.add(envelope.case_id, at=payload.withdrawn_at)
        stored = await self._reviews.get(envelope.case_id)
        if stored is not None and stored.review.withdraw():
            await self._reviews.save(stored.review, events=[], processed_event=envelope.event_id)

    async def on_case_erased(self, envelope: EventEnvelope, payload: object) -> None:
        """Destroy this service's copy of the case's data key: its reports, every version, can
        no longer be decrypted, and nothing more is issued for it."""
        assert isinstance(payload, CaseErased)
        await self._withdrawn.add(envelope.case_id, at=payload.erased_at)
        stored = await self._reviews.get(envelope.case_id)
        if stored is None:
            return
        stored.review.status = LegalReviewStatus.ERASED
        await self._reviews.erase(stored.review, processed_event=envelope.event_id)
        await self._audit.record(
            "case.erased",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"reason": payload.reason.value},
        )

    async def request_changes(
        self, *, caller: Principal, case_id: uuid.UUID, comments: str
    ) -> LegalReview:
        """Send the draft back to its clinician with comments (sealed on the way and at rest);
        after issue, this starts a corrected version."""
        stored = await self.get(case_id)
        review = stored.review
        now = utc_now()
        key = self._keyring.unwrap(stored.protected.wrapped_key)
        sealed = seal_text(comments, case_id=case_id, key=key, purpose="legal-comments")
        review.request_changes(by=caller.subject, at=now, sealed_comments=sealed.model_dump_json())
        event = new_event(
            payload=ReportChangesRequested(
                comments=sealed, requested_by=caller.subject, requested_at=now
            ),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=review.correlation_id,
            registry=CASE_EVENTS,
        )
        await self._reviews.save(review, events=[event])
        await self._audit.record(
            "report.changes_requested", actor=actor_of(caller), case_id=case_id
        )
        return review

    def comments(self, review: LegalReview) -> list[str]:
        return [
            ""
            if not c.sealed_comments
            else open_text(
                SealedText.model_validate_json(c.sealed_comments),
                case_id=review.case_id,
                keyring=self._keyring,
                purpose="legal-comments",
            )
            for c in review.change_requests
        ]

    async def queue(self) -> list[LegalReview]:
        return await self._reviews.queue(limit=500)

    async def get(self, case_id: uuid.UUID) -> StoredReview:
        stored = await self._reviews.get(case_id)
        if stored is None:
            raise NotFound(str(case_id))
        return stored

    async def sign_off(
        self, *, caller: Principal, case_id: uuid.UUID, statement: str
    ) -> LegalReview:
        """Legal approval, recorded first; then the report: rendered, stored, announced.

        Recording the sign-off before rendering means two reviewers signing at once get one
        report (the second is refused), and a sign-off interrupted before its report was
        issued is completed by signing again.
        """
        stored = await self.get(case_id)
        review = stored.review
        if not review.awaiting_issue:
            review.sign(by=caller.subject, at=utc_now(), statement=statement)
            await self._reviews.save(review, events=[])
            await self._audit.record("report.signed_off", actor=actor_of(caller), case_id=case_id)
        issued = await self._issue(stored)
        latest = issued.latest_report
        await self._audit.record(
            "report.issued",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": latest.version if latest else None},
        )
        return issued

    async def _issue(self, stored: StoredReview) -> LegalReview:
        review = stored.review
        assert review.sign_off is not None
        report_id, version = review.report_identity()
        survivor = open_details(stored.protected, case_id=review.case_id, keyring=self._keyring)
        # The same inputs give the same bytes, so a repeated attempt rewrites the same object.
        pdf = await render_pdf(
            assemble(review, survivor=survivor, version=version, generated_at=review.sign_off.at)
        )
        stored_object = await self._store.put_encrypted(
            bucket=self._bucket,
            key=f"cases/{review.case_id}/reports/v{version}-{report_id}.pdf",
            chunks=iter([pdf]),
            data_key=self._keyring.unwrap(stored.protected.wrapped_key),
        )
        now = utc_now()
        # Locked before it is recorded: every report on record is locked. A retry after a crash
        # here leaves one more locked copy of the same bytes, never an unlocked report.
        await self._store.lock(
            bucket=self._bucket,
            key=stored_object.key,
            version_id=stored_object.version_id,
            until=now + self._retention,
            mode=self._retention_mode,
        )
        report = ReportVersion(
            report_id=report_id,
            version=version,
            object_key=stored_object.key,
            sha256=stored_object.sha256,
            size=stored_object.size,
            issued_at=now,
            version_id=stored_object.version_id,
        )
        review.issue(report)
        event = new_event(
            payload=ReportIssued(
                report_id=report_id,
                version=version,
                object_key=report.object_key,
                sha256=report.sha256,
                size=report.size,
                issued_at=now,
                signed_off_by=review.sign_off.by,
            ),
            case_id=review.case_id,
            producer=PRODUCER,
            correlation_id=review.correlation_id,
            registry=CASE_EVENTS,
        )
        await self._reviews.save(review, events=[event])
        return review

    async def link_for_partner(
        self, *, caller: Principal, case_id: uuid.UUID, base_url: str, version: int | None = None
    ) -> ReportLink:
        """A link to the latest issued version, or to an earlier one by number."""
        stored = await self._reviews.get(case_id)
        if stored is None or stored.review.organisation != caller.organisation:
            raise NotFound(str(case_id))
        stored.protected  # noqa: B018 - an erased case's reports can no longer be opened
        reports = stored.review.reports
        latest = (
            stored.review.latest_report
            if version is None
            else next((r for r in reports if r.version == version), None)
        )
        if latest is None:
            raise NotFound(f"no report version {version or ''} issued for {case_id}")
        link = self._links.link(
            base_url=base_url,
            report_id=latest.report_id,
            organisation=stored.review.organisation,
            now=utc_now(),
        )
        await self._audit.record(
            "report.link_issued",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": latest.version},
        )
        return ReportLink(latest.report_id, latest.version, link)

    async def download(
        self, *, caller: Principal, report_id: uuid.UUID, expires: int, signature: str
    ) -> ReportDownload:
        """Check the link and the caller, then decrypt and verify the report's hash."""
        stored = await self._reviews.by_report(report_id)
        if stored is None or stored.review.organisation != caller.organisation:
            raise NotFound(str(report_id))
        self._links.verify(
            report_id=report_id,
            organisation=stored.review.organisation,
            expires=expires,
            signature=signature,
            now=utc_now(),
        )
        report = next(r for r in stored.review.reports if r.report_id == report_id)
        content = await self._store.read_all(
            bucket=self._bucket,
            key=report.object_key,
            data_key=self._keyring.unwrap(stored.protected.wrapped_key),
            expected_sha256=report.sha256,
            version_id=report.version_id,
        )
        await self._record_download(stored, report_id, caller)
        await self._audit.record(
            "report.downloaded",
            actor=actor_of(caller),
            case_id=stored.review.case_id,
            details={"report_id": str(report_id), "version": report.version},
        )
        return ReportDownload(report=report, reference=stored.review.reference, content=content)

    async def _record_download(
        self, stored: StoredReview, report_id: uuid.UUID, caller: Principal
    ) -> None:
        """Who downloaded which version, when: recorded before the bytes go out."""
        download = Download(by=caller.subject, organisation=caller.organisation or "", at=utc_now())
        for _attempt in range(5):
            stored.review.record_download(report_id, download)
            try:
                await self._reviews.save(stored.review, events=[])
                return
            except ConcurrencyConflict:
                reloaded = await self._reviews.get(stored.review.case_id)
                assert reloaded is not None
                stored = reloaded
        raise ConcurrencyConflict("the download could not be recorded; try again")
