"""Issuing reports: legal sign-off renders, stores and announces a version; partners fetch it
through a short-lived signed link, every download recorded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from corroborate.audit import AuditTrail, actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import CASE_EVENTS, ReportIssued, open_details
from corroborate.events.envelope import new_event
from corroborate.links import DownloadLinks, SignedLink
from corroborate.mongo import ConcurrencyConflict
from corroborate.storage import ObjectStore, StoredObject
from reporting.adapters.pdf import render_pdf
from reporting.domain.legal_review import Download, LegalReview, ReportVersion
from reporting.domain.report import assemble
from reporting.ports import LegalReviews, StoredReview
from reporting.service.legal_review import PRODUCER, NotFound, OpenedReview, load, open_review

DOWNLOAD_ATTEMPTS = 5


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


@dataclass(frozen=True)
class Retention:
    """How long, and in which object-lock mode, every issued report is kept unaltered."""

    mode: str
    period: timedelta


class Issuing:
    def __init__(
        self,
        *,
        reviews: LegalReviews,
        keyring: KeyRing,
        store: ObjectStore,
        reports_bucket: str,
        retention: Retention,
        links: DownloadLinks,
        public_url: str,
        audit: AuditTrail,
    ) -> None:
        self._reviews = reviews
        self._keyring = keyring
        self._store = store
        self._bucket = reports_bucket
        self._retention = retention
        self._links = links
        self._public_url = public_url
        self._audit = audit

    async def prepare(self) -> None:
        await self._store.ensure_bucket(self._bucket, versioned=True, object_lock=True)

    async def sign_off(
        self, *, caller: Principal, case_id: uuid.UUID, statement: str
    ) -> OpenedReview:
        """Legal approval, recorded first; then the report: rendered, stored, announced.

        Recording the sign-off before rendering means two reviewers signing at once get one
        report (the second is refused), and a sign-off interrupted before its report was
        issued is completed by signing again.
        """
        stored = await load(self._reviews, case_id)
        review = stored.aggregate
        if not review.awaiting_issue:
            review.sign(by=caller.subject, at=utc_now(), statement=statement)
            await self._reviews.save(review, events=[])
            await self._audit.record("report.signed_off", actor=actor_of(caller), case_id=case_id)
        await self._issue(stored)
        latest = review.latest_report
        await self._audit.record(
            "report.issued",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": latest.version if latest else None},
        )
        return open_review(review, self._keyring)

    async def _issue(self, stored: StoredReview) -> None:
        review = stored.aggregate
        assert review.sign_off is not None  # signed just before, or earlier by whoever signed
        report_id, version = review.report_identity()
        stored_object = await self._store_report(stored, report_id=report_id, version=version)
        report = ReportVersion(
            report_id=report_id,
            version=version,
            object_key=stored_object.key,
            sha256=stored_object.sha256,
            size=stored_object.size,
            issued_at=utc_now(),
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
                issued_at=report.issued_at,
                signed_off_by=review.sign_off.by,
            ),
            case_id=review.case_id,
            producer=PRODUCER,
            correlation_id=review.correlation_id,
            registry=CASE_EVENTS,
        )
        await self._reviews.save(review, events=[event])

    async def _store_report(
        self, stored: StoredReview, *, report_id: uuid.UUID, version: int
    ) -> StoredObject:
        """Render the report, store it encrypted under the case's key, and lock it."""
        review: LegalReview = stored.aggregate
        assert review.sign_off is not None
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
        # Locked before it is recorded: every report on record is locked. A retry after a crash
        # here leaves one more locked copy of the same bytes, never an unlocked report.
        await self._store.lock(
            bucket=self._bucket,
            key=stored_object.key,
            version_id=stored_object.version_id,
            until=utc_now() + self._retention.period,
            mode=self._retention.mode,
        )
        return stored_object

    async def link_for_partner(
        self, *, caller: Principal, case_id: uuid.UUID, version: int | None = None
    ) -> ReportLink:
        """A link to the latest issued version, or to an earlier one by number."""
        stored = await self._reviews.get(case_id)
        if stored is None or stored.aggregate.organisation != caller.organisation:
            raise NotFound(str(case_id))
        stored.protected  # noqa: B018 - an erased case's reports can no longer be opened
        review = stored.aggregate
        latest = (
            review.latest_report
            if version is None
            else next((r for r in review.reports if r.version == version), None)
        )
        if latest is None:
            raise NotFound(f"no report version {version or ''} issued for {case_id}")
        link = self._links.link(
            base_url=self._public_url,
            report_id=latest.report_id,
            organisation=review.organisation,
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
        if stored is None or stored.aggregate.organisation != caller.organisation:
            raise NotFound(str(report_id))
        review = stored.aggregate
        self._links.verify(
            report_id=report_id,
            organisation=review.organisation,
            expires=expires,
            signature=signature,
            now=utc_now(),
        )
        report = next(r for r in review.reports if r.report_id == report_id)
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
            case_id=review.case_id,
            details={"report_id": str(report_id), "version": report.version},
        )
        return ReportDownload(report=report, reference=review.reference, content=content)

    async def _record_download(
        self, stored: StoredReview, report_id: uuid.UUID, caller: Principal
    ) -> None:
        """Who downloaded which version, when: recorded before the bytes go out."""
        download = Download(by=caller.subject, organisation=caller.organisation or "", at=utc_now())
        for _attempt in range(DOWNLOAD_ATTEMPTS):
            stored.aggregate.record_download(report_id, download)
            try:
                await self._reviews.save(stored.aggregate, events=[])
                return
            except ConcurrencyConflict:
                reloaded = await self._reviews.get(stored.aggregate.case_id)
                assert reloaded is not None  # a review is never removed, only erased
                stored = reloaded
        raise ConcurrencyConflict("the download could not be recorded; try again")
