"""The use cases of intake as one object, wired to their adapters by the composition root."""

from __future__ import annotations

from datetime import timedelta

from corroborate.audit import AuditTrail
from corroborate.crypto import KeyRing
from corroborate.links import DownloadLinks
from corroborate.storage import ObjectStore
from intake.ports import ReferralRepository
from intake.service.cases import Cases
from intake.service.documents import Documents
from intake.service.drafts import Drafts
from intake.service.progress import Progress
from intake.service.reports import Reports
from intake.service.retention import Retention
from intake.service.submission import Submission


class Intake:
    """Each feature's use cases, over one repository, keyring and audit log."""

    def __init__(
        self,
        *,
        referrals: ReferralRepository,
        keyring: KeyRing,
        store: ObjectStore,
        documents_bucket: str,
        max_document_bytes: int,
        links: DownloadLinks,
        reporting_url: str,
        retention_mode: str,
        retention: timedelta,
        audit: AuditTrail,
    ) -> None:
        self.cases = Cases(referrals=referrals, keyring=keyring, audit=audit)
        self.drafts = Drafts(cases=self.cases)
        self.documents = Documents(
            cases=self.cases,
            store=store,
            bucket=documents_bucket,
            max_bytes=max_document_bytes,
            retention_mode=retention_mode,
            retention=retention,
        )
        self.submission = Submission(cases=self.cases)
        self.progress = Progress(cases=self.cases)
        self.retention = Retention(cases=self.cases)
        self.reports = Reports(cases=self.cases, links=links, reporting_url=reporting_url)

    async def prepare(self) -> None:
        await self.cases.referrals.ensure_indexes()
        await self.documents.prepare()
