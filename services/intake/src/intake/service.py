"""Intake's use cases: draft, attach evidence, submit, and follow the case's progress."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import KeyRing
from corroborate.events.contracts import (
    CASE_EVENTS,
    CaseAssigned,
    DocumentReference,
    ProtectedDetails,
    ReferralAccepted,
    ReferralSubmitted,
    ReportIssued,
    ReviewCompleted,
    seal_details,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.events.errors import UnknownCase
from corroborate.storage import ObjectStore
from intake.adapters.repository import ReferralRepository, StoredReferral
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralDetails,
    ReferralStatus,
    detect_document_type,
    new_reference,
)

PRODUCER = "intake"


class NotFound(Exception):
    """No such referral for this caller (another organisation's case is not found either)."""


class DocumentRejected(Exception):
    """The upload was refused; nothing was stored."""


class DocumentTypeRefused(DocumentRejected):
    """The bytes are not one of the allowed document types."""


class DocumentTooLarge(DocumentRejected):
    """The upload passed the size limit while streaming."""


class Intake:
    """The use cases, wired to their adapters by the composition root."""

    def __init__(
        self,
        *,
        referrals: ReferralRepository,
        keyring: KeyRing,
        store: ObjectStore,
        documents_bucket: str,
        max_document_bytes: int,
    ) -> None:
        self._referrals = referrals
        self._keyring = keyring
        self._store = store
        self._bucket = documents_bucket
        self._max_bytes = max_document_bytes

    async def prepare(self) -> None:
        await self._referrals.ensure_indexes()

    def _details_context(self, case_id: uuid.UUID) -> str:
        return f"case:{case_id}:referral-details"

    async def create_draft(self, *, caller: Principal, details: ReferralDetails) -> Referral:
        assert caller.organisation is not None
        now = utc_now()
        case_id = uuid.uuid4()
        key = self._keyring.new_data_key()
        referral = Referral(
            case_id=case_id,
            reference=new_reference(now.year),
            organisation=caller.organisation,
            created_by=caller.subject,
            status=ReferralStatus.DRAFT,
            created_at=now,
            status_history=[(ReferralStatus.DRAFT, now)],
        )
        await self._referrals.add(
            referral,
            sealed_details=key.seal(
                details.model_dump_json().encode(), context=self._details_context(case_id)
            ),
            wrapped_key=key.wrapped,
            service_requested=details.service_requested.value,
        )
        return referral

    async def get(self, *, caller: Principal, case_id: uuid.UUID) -> StoredReferral:
        stored = await self._referrals.get(case_id)
        if stored is None or stored.referral.organisation != caller.organisation:
            raise NotFound(str(case_id))
        return stored

    async def list(self, *, caller: Principal, limit: int = 100) -> list[Referral]:
        assert caller.organisation is not None
        return await self._referrals.list_for_organisation(caller.organisation, limit=limit)

    async def add_document(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        kind: DocumentKind,
        body: AsyncIterator[bytes],
    ) -> DocumentRecord:
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        referral.ensure_accepts_documents()
        head, rest = await _read_head(body, 16)
        content_type = detect_document_type(head)
        if content_type is None:
            raise DocumentTypeRefused(
                "file: the content is not an allowed type (PDF, JPEG or PNG, judged from its bytes)"
            )
        document_id = uuid.uuid4()
        object_key = f"cases/{case_id}/documents/{document_id}"
        stored_object = await self._store.put_encrypted_from(
            bucket=self._bucket,
            key=object_key,
            chunks=_limited(_prepend(head, rest), self._max_bytes),
            data_key=self._keyring.unwrap(stored.wrapped_key),
        )
        record = DocumentRecord(
            document_id=document_id,
            kind=kind,
            content_type=content_type,
            size=stored_object.size,
            sha256=stored_object.sha256,
            received_at=utc_now(),
            object_key=object_key,
        )
        try:
            attached = await self._referrals.append_document(case_id, record)
        except BaseException:
            await self._store.remove(bucket=self._bucket, key=object_key)
            raise
        if not attached:  # submitted while the file was streaming in
            await self._store.remove(bucket=self._bucket, key=object_key)
            raise InvalidTransition("documents can be added only while the referral is a draft")
        return record

    async def submit(
        self, *, caller: Principal, case_id: uuid.UUID, correlation_id: uuid.UUID
    ) -> Referral:
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        key = self._keyring.unwrap(stored.wrapped_key)
        details = ReferralDetails.model_validate_json(
            key.open(stored.sealed_details, context=self._details_context(case_id))
        )
        now = utc_now()
        referral.submit(details, at=now)
        survivor = details.survivor
        protected = ProtectedDetails(
            full_name=survivor.full_name,
            other_names=list(survivor.other_names),
            date_of_birth=survivor.date_of_birth,
            approximate_age=survivor.approximate_age,
            home_office_reference=details.home_office_reference,
            account=details.allegations.account,
            questions=list(details.questions),
        )
        event = new_event(
            payload=ReferralSubmitted(
                reference=referral.reference,
                organisation=referral.organisation,
                service_requested=details.service_requested,
                protected=seal_details(protected, case_id=case_id, key=key),
                country_of_origin=survivor.country_of_origin,
                countries_of_ill_treatment=list(details.allegations.countries),
                risk_flags=list(details.risk_flags),
                consent_to_anonymised_use=details.consent.anonymised_use,
                documents=[_reference(d) for d in referral.documents],
                submitted_at=now,
            ),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=correlation_id,
            registry=CASE_EVENTS,
        )
        await self._referrals.save(referral, events=[event])
        return referral

    # Progress reported by the other services. Each write records the event as processed,
    # atomically, so a redelivered event changes nothing.

    async def on_progress(self, envelope: EventEnvelope, payload: object) -> None:
        stored = await self._referrals.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no referral {envelope.case_id}")
        referral = stored.referral
        status = _STATUS_FOR[type(payload)]
        referral.progress_to(status, at=envelope.occurred_at)
        if isinstance(payload, ReportIssued):
            referral.report = {
                "report_id": str(payload.report_id),
                "version": payload.version,
                "sha256": payload.sha256,
                "size": payload.size,
                "issued_at": payload.issued_at,
            }
        await self._referrals.save(referral, events=[], processed_event=envelope.event_id)


_STATUS_FOR: dict[type, ReferralStatus] = {
    ReferralAccepted: ReferralStatus.ACCEPTED,
    CaseAssigned: ReferralStatus.IN_ASSESSMENT,
    ReviewCompleted: ReferralStatus.IN_LEGAL_REVIEW,
    ReportIssued: ReferralStatus.ISSUED,
}

PROGRESS_EVENTS = ("referral.accepted", "case.assigned", "review.completed", "report.issued")


def _reference(d: DocumentRecord) -> DocumentReference:
    return DocumentReference(
        document_id=d.document_id,
        kind=d.kind.value,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        received_at=d.received_at,
    )


async def _read_head(body: AsyncIterator[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    head = b""
    async for piece in body:
        head += piece
        if len(head) >= size:
            break
    return head, body


async def _prepend(head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if head:
        yield head
    async for piece in rest:
        yield piece


async def _limited(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for piece in chunks:
        total += len(piece)
        if total > limit:
            raise DocumentTooLarge(f"file: larger than the limit of {limit} bytes")
        yield piece
