"""Intake's use cases: draft, attach evidence, submit, withdraw, answer, follow the case."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from corroborate.audit import SYSTEM, AuditLog, actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import DataKey, KeyRing, open_fields, seal_fields
from corroborate.events.contracts import (
    CASE_EVENTS,
    AllegationSummary,
    AppointmentBooked,
    CaseAssigned,
    CaseErased,
    ContactDetails,
    DetentionStatus,
    DocumentReference,
    ErasureReason,
    InformationProvided,
    InformationRequested,
    KeyDates,
    Needs,
    ProtectedDetails,
    ReferralAccepted,
    ReferralAcknowledged,
    ReferralDeclined,
    ReferralSubmitted,
    ReferralWaitlisted,
    ReferralWithdrawn,
    ReportIssued,
    ReviewCompleted,
    SealedText,
    open_text,
    seal_details,
    seal_text,
)
from corroborate.events.envelope import EventEnvelope, new_event
from corroborate.events.errors import UnknownCase
from corroborate.evidence import (
    HEAD_BYTES,
    IMAGE_TYPES,
    ContentType,
    content_check,
    detect_type,
)
from corroborate.images import WORKING_COPY_TYPE, reencode_without_metadata, stripper_for
from corroborate.links import DownloadLinks, SignedLink
from corroborate.storage import ObjectStore
from corroborate.uploads import checked_stream, limited, prepend, read_head
from corroborate.vocab import vocabulary
from intake.adapters.repository import ListFilter, ReferralRepository, StoredReferral
from intake.domain.details import (
    IDENTITY_PATHS,
    ReferralDetails,
    age_band,
    check_draft,
    merge_patch,
)
from intake.domain.referral import (
    DocumentKind,
    DocumentRecord,
    InvalidTransition,
    Referral,
    ReferralStatus,
    StatusChange,
    SubmissionIncomplete,
    WorkingCopy,
    new_reference,
)

PRODUCER = "intake"
T = TypeVar("T")

# What the sealed note on a timeline entry is, per status (it is bound to this purpose).
NOTE_PURPOSE = {
    ReferralStatus.INFORMATION_REQUESTED: "information-request",
    ReferralStatus.INFORMATION_PROVIDED: "information-answer",
    ReferralStatus.DECLINED: "decline-reason",
    ReferralStatus.WITHDRAWN: "withdrawal-reason",
}


class NotFound(Exception):
    """No such referral for this caller (another organisation's case is not found either)."""


class DraftInvalid(Exception):
    """Some fields of the draft break a rule; ``errors`` names each field and rule."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__(f"{len(errors)} invalid field(s)")
        self.errors = errors


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used for a different request."""


class DocumentRejected(Exception):
    """The upload was refused; nothing was stored."""


class DocumentTypeRefused(DocumentRejected):
    """The bytes are not one of the allowed document types."""


class UploadInterrupted(DocumentRejected):
    """The upload ended before the whole file arrived (the client went away)."""


class DocumentUnreadable(DocumentRejected):
    """The bytes claim an allowed type but could not be read as one (say, a broken image)."""


@dataclass(frozen=True)
class ReferralRead:
    """A referral with its details opened for the partner who owns it."""

    referral: Referral
    details: dict[str, Any]
    missing: list[str]
    notes: dict[uuid.UUID, str]


@dataclass(frozen=True)
class Replayed(Generic[T]):
    """The result of a request, and whether it repeats an earlier one (same Idempotency-Key)."""

    value: T
    replayed: bool


def _details_context(case_id: uuid.UUID) -> str:
    return f"case:{case_id}:referral-details"


def _fingerprint(keyring: KeyRing, action: str, payload: Any) -> str:
    """What a request asked for, as a keyed hash (the body may hold identity)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return keyring.blind_index(f"{action}:{canonical}", purpose="idempotency")


def normalise_home_office_reference(value: str) -> str:
    return "".join(value.split()).upper()


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
        links: DownloadLinks,
        reporting_url: str,
        retention_mode: str,
        retention: timedelta,
        audit: AuditLog,
    ) -> None:
        self._audit = audit
        self._referrals = referrals
        self._keyring = keyring
        self._store = store
        self._bucket = documents_bucket
        self._max_bytes = max_document_bytes
        self._links = links
        self._reporting_url = reporting_url
        self._retention_mode = retention_mode
        self._retention = retention

    async def prepare(self) -> None:
        await self._referrals.ensure_indexes()
        await self._store.ensure_bucket(self._bucket, versioned=True, object_lock=True)

    # Drafts -----------------------------------------------------------------------------

    def _sealed(self, data: Mapping[str, Any], case_id: uuid.UUID, key: DataKey) -> dict[str, Any]:
        return seal_fields(dict(data), IDENTITY_PATHS, key=key, context=_details_context(case_id))

    def _ho_index(self, data: Mapping[str, Any]) -> str | None:
        reference = (data.get("immigration") or {}).get("home_office_reference")
        if not isinstance(reference, str) or not reference.strip():
            return None
        return self._keyring.blind_index(
            normalise_home_office_reference(reference), purpose="home-office-reference"
        )

    async def create_draft(
        self, *, caller: Principal, data: Mapping[str, Any], idempotency_key: str | None = None
    ) -> Replayed[Referral]:
        assert caller.organisation is not None
        check = check_draft(data)
        if check.errors:
            raise DraftInvalid(check.errors)
        fingerprint = _fingerprint(self._keyring, "create", data)
        if idempotency_key is not None:
            case_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{caller.organisation}:{idempotency_key}")
            existing = await self._referrals.get(case_id)
            if existing is not None:
                return Replayed(self._replay(existing, idempotency_key, fingerprint), True)
        else:
            case_id = uuid.uuid4()
        now = utc_now()
        key = self._keyring.new_data_key()
        referral = Referral(
            case_id=case_id,
            reference=new_reference(now.year),
            organisation=caller.organisation,
            created_by=caller.subject,
            status=ReferralStatus.DRAFT,
            created_at=now,
            applied_keys={idempotency_key: fingerprint} if idempotency_key else {},
        )
        created = await self._referrals.add(
            referral,
            details=self._sealed(data, case_id, key),
            wrapped_key=key.wrapped,
            home_office_index=self._ho_index(data),
        )
        if created:
            await self._audit.record("referral.created", actor=actor_of(caller), case_id=case_id)
        if not created:  # the same key, concurrently: the other request made it
            existing = await self._referrals.get(case_id)
            assert existing is not None
            assert idempotency_key is not None
            return Replayed(self._replay(existing, idempotency_key, fingerprint), True)
        return Replayed(referral, False)

    def _replay(self, stored: StoredReferral, key: str, fingerprint: str) -> Referral:
        if stored.referral.applied_keys.get(key) != fingerprint:
            raise IdempotencyKeyReused(key)
        return stored.referral

    async def update_draft(
        self, *, caller: Principal, case_id: uuid.UUID, patch: Mapping[str, Any]
    ) -> Referral:
        stored = await self.get(caller=caller, case_id=case_id)
        stored.referral.ensure_editable()
        key = self._keyring.unwrap(stored.wrapped_key)
        current = open_fields(
            stored.details, IDENTITY_PATHS, key=key, context=_details_context(case_id)
        )
        merged = merge_patch(current, patch)
        check = check_draft(merged)
        if check.errors:
            raise DraftInvalid(check.errors)
        await self._referrals.save(
            stored.referral,
            events=[],
            details=self._sealed(merged, case_id, key),
            home_office_index=self._ho_index(merged),
        )
        await self._audit.record(
            "referral.edited",
            actor=actor_of(caller),
            case_id=case_id,
            details={"fields": sorted(patch)},
        )
        return stored.referral

    # Reading ----------------------------------------------------------------------------

    async def get(self, *, caller: Principal, case_id: uuid.UUID) -> StoredReferral:
        stored = await self._referrals.get(case_id)
        if stored is None or stored.referral.organisation != caller.organisation:
            raise NotFound(str(case_id))
        return stored

    async def read(self, *, caller: Principal, case_id: uuid.UUID) -> ReferralRead:
        """The referral with its details and notes opened, for the organisation that made it."""
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        if stored.wrapped is None:  # erased: only where the case stands remains
            return ReferralRead(referral=referral, details={}, missing=[], notes={})
        key = self._keyring.unwrap(stored.wrapped_key)
        details = open_fields(
            stored.details, IDENTITY_PATHS, key=key, context=_details_context(case_id)
        )
        missing: list[str] = []
        if referral.status is ReferralStatus.DRAFT:
            check = check_draft(details)
            missing = check.missing
            if check.details is not None:
                missing += referral.missing_for_submission(check.details)
        notes = {
            change.change_id: self._open_note(case_id, change)
            for change in referral.timeline
            if change.note is not None
        }
        await self._audit.record("identity.read", actor=actor_of(caller), case_id=case_id)
        return ReferralRead(referral=referral, details=details, missing=missing, notes=notes)

    def _open_note(self, case_id: uuid.UUID, change: StatusChange) -> str:
        assert change.note is not None
        sealed = SealedText.model_validate_json(change.note)
        return open_text(
            sealed, case_id=case_id, keyring=self._keyring, purpose=NOTE_PURPOSE[change.status]
        )

    async def list_referrals(
        self,
        *,
        caller: Principal,
        statuses: list[ReferralStatus],
        created_from: datetime | None,
        created_to: datetime | None,
        home_office_reference: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Referral], str | None]:
        assert caller.organisation is not None
        index = None
        if home_office_reference is not None:
            index = self._keyring.blind_index(
                normalise_home_office_reference(home_office_reference),
                purpose="home-office-reference",
            )
        return await self._referrals.list_for_organisation(
            ListFilter(
                organisation=caller.organisation,
                statuses=statuses,
                created_from=created_from,
                created_to=created_to,
                home_office_index=index,
            ),
            cursor=cursor,
            limit=limit,
        )

    # Evidence ---------------------------------------------------------------------------

    async def add_document(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        kind: DocumentKind,
        body: AsyncIterator[bytes],
        idempotency_key: str | None = None,
    ) -> Replayed[DocumentRecord]:
        """Stream a document in: type from its bytes, hash and size in the same pass, encrypted
        before it leaves the process, locked once recorded."""
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        referral.ensure_accepts_documents()
        document_id = uuid.uuid4()
        if idempotency_key is not None:
            document_id = uuid.uuid5(case_id, f"document:{idempotency_key}")
            earlier = next((d for d in referral.documents if d.document_id == document_id), None)
            if earlier is not None:
                return Replayed(await self._same_document(earlier, kind, body), True)
        head, rest = await read_head(body, HEAD_BYTES)
        content_type = detect_type(head)
        if content_type is None:
            raise DocumentTypeRefused(
                "file: the content is not an allowed type (PDF, JPEG, PNG, HEIC/HEIF, TIFF, "
                "DOCX or plain text), judged from its bytes"
            )
        data_key = self._keyring.unwrap(stored.wrapped_key)
        prefix = f"cases/{case_id}/documents/{document_id}"
        checked = checked_stream(prepend(head, rest), content_check(content_type), self._max_bytes)
        original = await self._store.put_encrypted_from(
            bucket=self._bucket, key=f"{prefix}/original", chunks=checked, data_key=data_key
        )
        written = [original]
        try:
            working = None
            if content_type in IMAGE_TYPES:
                working = await self._working_copy(original, content_type, prefix, data_key)
                written.append(working)
            record = DocumentRecord(
                document_id=document_id,
                kind=kind,
                content_type=content_type.value,
                size=original.size,
                sha256=original.sha256,
                received_at=utc_now(),
                object_key=original.key,
                version_id=original.version_id,
                working_copy=None
                if working is None
                else WorkingCopy(
                    object_key=working.key,
                    content_type=WORKING_COPY_TYPE[content_type.value],
                    size=working.size,
                    sha256=working.sha256,
                    version_id=working.version_id,
                ),
                idempotency_key=idempotency_key,
            )
            attached = await self._referrals.append_document(case_id, record)
        except BaseException:
            await self._forget(written)
            raise
        if attached is None:  # submitted while the file was streaming in
            await self._forget(written)
            raise InvalidTransition(
                referral.status, "given documents (it changed while the file arrived)"
            )
        if not attached:  # the same Idempotency-Key, concurrently: the other request recorded
            await self._forget(written)
            again = await self.get(caller=caller, case_id=case_id)
            earlier = next(d for d in again.referral.documents if d.document_id == document_id)
            if (earlier.sha256, earlier.kind) != (record.sha256, record.kind):
                raise IdempotencyKeyReused(idempotency_key or "")
            return Replayed(earlier, True)
        await self._audit.record(
            "document.received",
            actor=actor_of(caller),
            case_id=case_id,
            details={"document_id": str(document_id), "sha256": record.sha256},
        )
        until = utc_now() + self._retention
        for obj in written:
            await self._store.lock(
                bucket=self._bucket,
                key=obj.key,
                version_id=obj.version_id,
                until=until,
                mode=self._retention_mode,
            )
        return Replayed(record, False)

    async def _same_document(
        self, earlier: DocumentRecord, kind: DocumentKind, body: AsyncIterator[bytes]
    ) -> DocumentRecord:
        """A retried upload: the body must be the same file as the one recorded."""
        digest = hashlib.sha256()
        async for piece in limited(body, self._max_bytes):
            digest.update(piece)
        if (digest.hexdigest(), kind) != (earlier.sha256, earlier.kind):
            raise IdempotencyKeyReused("document")
        return earlier

    async def _working_copy(
        self, original: Any, content_type: ContentType, prefix: str, data_key: DataKey
    ) -> Any:
        source = self._store.read_decrypted(
            bucket=self._bucket,
            key=original.key,
            data_key=data_key,
            expected_sha256=original.sha256,
            version_id=original.version_id,
        )
        stripper = stripper_for(content_type.value)
        try:
            if stripper is not None:

                async def stripped() -> AsyncIterator[bytes]:
                    async for piece in source:
                        if out := stripper.feed(piece):
                            yield out
                    if tail := stripper.finish():
                        yield tail

                chunks: AsyncIterator[bytes] = stripped()
            else:
                whole = b"".join([piece async for piece in source])
                chunks = _once(await asyncio.to_thread(reencode_without_metadata, whole))
            return await self._store.put_encrypted_from(
                bucket=self._bucket, key=f"{prefix}/working-copy", chunks=chunks, data_key=data_key
            )
        except ValueError as exc:
            raise DocumentUnreadable(
                "file: the image could not be read to make a copy without its metadata"
            ) from exc

    async def _forget(self, written: list[Any]) -> None:
        for obj in written:
            await self._store.remove(bucket=self._bucket, key=obj.key, version_id=obj.version_id)

    async def read_document(
        self, *, caller: Principal, case_id: uuid.UUID, document_id: uuid.UUID, working: bool
    ) -> tuple[DocumentRecord, str, AsyncIterator[bytes]]:
        """Decrypt a document for its partner; the hash is checked again as it streams."""
        stored = await self.get(caller=caller, case_id=case_id)
        record = next((d for d in stored.referral.documents if d.document_id == document_id), None)
        if record is None or (working and record.working_copy is None):
            raise NotFound(str(document_id))
        copy = record.working_copy if working else None
        await self._audit.record(
            "document.downloaded",
            actor=actor_of(caller),
            case_id=case_id,
            details={"document_id": str(document_id), "copy": "working" if working else "original"},
        )
        stream = self._store.read_decrypted(
            bucket=self._bucket,
            key=copy.object_key if copy else record.object_key,
            data_key=self._keyring.unwrap(stored.wrapped_key),
            expected_sha256=copy.sha256 if copy else record.sha256,
            version_id=copy.version_id if copy else record.version_id,
        )
        return record, (copy.content_type if copy else record.content_type), stream

    # Submission and after ---------------------------------------------------------------

    def _applied(self, referral: Referral, key: str | None, fingerprint: str) -> bool:
        """True if this keyed request was already carried out; raise if the key is reused."""
        if key is None or key not in referral.applied_keys:
            return False
        if referral.applied_keys[key] != fingerprint:
            raise IdempotencyKeyReused(key)
        return True

    async def submit(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[Referral]:
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = _fingerprint(self._keyring, "submit", str(case_id))
        if self._applied(referral, idempotency_key, fingerprint):
            return Replayed(referral, True)
        if referral.status is not ReferralStatus.DRAFT:
            raise InvalidTransition(referral.status, "submitted")
        key = self._keyring.unwrap(stored.wrapped_key)
        data = open_fields(
            stored.details, IDENTITY_PATHS, key=key, context=_details_context(case_id)
        )
        check = check_draft(data)
        missing = list(check.missing)
        if check.details is not None:
            missing += referral.missing_for_submission(check.details)
        if check.errors or check.details is None or missing:
            raise SubmissionIncomplete(missing)
        details = check.details
        now = utc_now()
        event = new_event(
            payload=self._submitted(referral, details, key=key, now=now),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=correlation_id,
            registry=CASE_EVENTS,
            occurred_at=now,
        )
        referral.submit(change_id=event.event_id, at=now)
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        await self._referrals.save(referral, events=[event])
        await self._audit.record("referral.submitted", actor=actor_of(caller), case_id=case_id)
        return Replayed(referral, False)

    def _submitted(
        self, referral: Referral, details: ReferralDetails, *, key: DataKey, now: datetime
    ) -> ReferralSubmitted:
        survivor, immigration, allegations = (
            details.survivor,
            details.immigration,
            details.allegations,
        )
        representative = details.representative
        contact = survivor.contact
        protected = ProtectedDetails(
            full_name=survivor.full_name,
            other_names=list(survivor.other_names),
            date_of_birth=survivor.date_of_birth,
            approximate_age=survivor.approximate_age,
            home_office_reference=immigration.home_office_reference,
            account=allegations.account,
            questions=list(details.questions),
            survivor_contact=None
            if contact is None
            else ContactDetails(phone=contact.phone, email=contact.email, address=contact.address),
            representative=ContactDetails(
                name=representative.name, email=representative.email, phone=representative.phone
            ),
        )
        return ReferralSubmitted(
            reference=referral.reference,
            organisation=referral.organisation,
            service_requested=details.service_requested,
            protected=seal_details(protected, case_id=referral.case_id, key=key),
            country_of_origin=survivor.country_of_origin,
            countries_of_ill_treatment=list(allegations.countries),
            risk_flags=list(details.risk_flags),
            consent_to_anonymised_use=details.consent.anonymised_use,
            documents=[_reference(d) for d in referral.documents],
            submitted_at=now,
            immigration_stage=immigration.stage,
            key_dates=KeyDates(
                decision=immigration.decision_date,
                appeal_hearing=immigration.appeal_hearing_date,
                removal_directions=immigration.removal_directions_date,
            ),
            detention=DetentionStatus(
                detained=details.detention.detained,
                place=details.detention.place,
                rule_35_report=details.detention.rule_35_report,
            ),
            needs=Needs(
                languages=list(survivor.languages),
                interpreter_needed=survivor.interpreter_needed,
                interpreter_gender=survivor.interpreter_gender,
            ),
            gender=survivor.gender,
            age_band=age_band(details, on=now.date()),
            allegations=AllegationSummary(
                countries=list(allegations.countries),
                period_start=allegations.period.start if allegations.period else None,
                period_end=allegations.period.end if allegations.period else None,
                methods=list(allegations.methods),
                perpetrators=list(allegations.perpetrators),
                vocabulary_version=_vocabulary_version(),
            ),
        )

    async def withdraw(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        reason: str,
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[Referral]:
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = _fingerprint(self._keyring, "withdraw", [str(case_id), reason])
        if self._applied(referral, idempotency_key, fingerprint):
            return Replayed(referral, True)
        key = self._keyring.unwrap(stored.wrapped_key)
        now = utc_now()
        sealed = seal_text(reason, case_id=case_id, key=key, purpose="withdrawal-reason")
        was_draft = referral.status is ReferralStatus.DRAFT
        event = new_event(
            payload=ReferralWithdrawn(reason=sealed, withdrawn_by=caller.subject, withdrawn_at=now),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=correlation_id,
            registry=CASE_EVENTS,
            occurred_at=now,
        )
        referral.withdraw(change_id=event.event_id, at=now, note=sealed.model_dump_json())
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        # A draft was never seen downstream: there is nobody to tell.
        await self._referrals.save(referral, events=[] if was_draft else [event])
        await self._audit.record("referral.withdrawn", actor=actor_of(caller), case_id=case_id)
        return Replayed(referral, False)

    async def provide_information(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        request_id: uuid.UUID,
        answer: str,
        document_ids: list[uuid.UUID],
        correlation_id: uuid.UUID,
        idempotency_key: str | None = None,
    ) -> Replayed[Referral]:
        """The partner answers triage's question; the case goes back to triage."""
        stored = await self.get(caller=caller, case_id=case_id)
        referral = stored.referral
        fingerprint = _fingerprint(
            self._keyring, "answer", [str(request_id), answer, sorted(map(str, document_ids))]
        )
        if self._applied(referral, idempotency_key, fingerprint):
            return Replayed(referral, True)
        documents = {d.document_id: d for d in referral.documents}
        unknown = [str(d) for d in document_ids if d not in documents]
        if unknown:
            raise NotFound(f"documents {', '.join(unknown)}")
        key = self._keyring.unwrap(stored.wrapped_key)
        now = utc_now()
        sealed = seal_text(answer, case_id=case_id, key=key, purpose="information-answer")
        event = new_event(
            payload=InformationProvided(
                request_id=request_id,
                answer=sealed,
                documents=[_reference(documents[d]) for d in document_ids],
                provided_at=now,
            ),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=correlation_id,
            registry=CASE_EVENTS,
            occurred_at=now,
        )
        referral.provide_information(request_id=request_id, change_id=event.event_id, at=now)
        referral.timeline[-1].note = sealed.model_dump_json()
        if idempotency_key is not None:
            referral.applied_keys[idempotency_key] = fingerprint
        await self._referrals.save(referral, events=[event])
        await self._audit.record("information.provided", actor=actor_of(caller), case_id=case_id)
        return Replayed(referral, False)

    async def report_link(
        self, *, caller: Principal, case_id: uuid.UUID, version: int | None = None
    ) -> tuple[dict[str, Any], SignedLink]:
        """A short-lived signed link to reporting's download endpoint: the latest version, or
        an earlier one by number (every issued version stays retrievable)."""
        stored = await self.get(caller=caller, case_id=case_id)
        stored.wrapped_key  # noqa: B018 - an erased case's report can no longer be opened
        reports = stored.referral.reports
        report = (
            stored.referral.report
            if version is None
            else next((r for r in reports if r["version"] == version), None)
        )
        if report is None:
            raise NotFound(f"no report version {version or ''} issued for {case_id}")
        link = self._links.link(
            base_url=self._reporting_url,
            report_id=uuid.UUID(str(report["report_id"])),
            organisation=stored.referral.organisation,
            now=utc_now(),
        )
        await self._audit.record(
            "report.link_issued",
            actor=actor_of(caller),
            case_id=case_id,
            details={"version": report["version"]},
        )
        return report, link

    # Retention: legal-claims holds and erasure (admins) --------------------------------------

    async def _any(self, case_id: uuid.UUID) -> StoredReferral:
        stored = await self._referrals.get(case_id)
        if stored is None:
            raise NotFound(str(case_id))
        return stored

    async def set_hold(
        self, *, caller: Principal, case_id: uuid.UUID, reason: str | None
    ) -> Referral:
        """Set (with a reason) or lift (None) a legal-claims hold, which forbids erasure."""
        stored = await self._any(case_id)
        stored.referral.legal_hold = reason
        await self._referrals.save(stored.referral, events=[])
        await self._audit.record(
            "legal_hold.set" if reason else "legal_hold.lifted",
            actor=actor_of(caller),
            case_id=case_id,
        )
        return stored.referral

    async def erase(
        self,
        *,
        caller: Principal,
        case_id: uuid.UUID,
        reason: ErasureReason,
        correlation_id: uuid.UUID,
    ) -> Referral:
        """Destroy the case's data key here and, through ``case.erased``, in every service: its
        identity, notes and documents (every stored version) can no longer be read anywhere.
        The anonymised statistics keep their counts; the audit log keeps the act, not who."""
        stored = await self._any(case_id)
        referral = stored.referral
        if referral.status is ReferralStatus.ERASED:
            return referral
        now = utc_now()
        event = new_event(
            payload=CaseErased(reason=reason, erased_by=caller.subject, erased_at=now),
            case_id=case_id,
            producer=PRODUCER,
            correlation_id=correlation_id,
            registry=CASE_EVENTS,
            occurred_at=now,
        )
        referral.erase(change_id=event.event_id, at=now)
        await self._referrals.erase(referral, events=[event])
        await self._audit.record(
            "case.erased", actor=actor_of(caller), case_id=case_id, details={"reason": reason.value}
        )
        return referral

    # Progress reported by the other services. Each write records the event as processed,
    # atomically, so a redelivered event changes nothing.

    async def on_progress(self, envelope: EventEnvelope, payload: object) -> None:
        stored = await self._referrals.get(envelope.case_id)
        if stored is None:
            raise UnknownCase(f"no referral {envelope.case_id}")
        referral = stored.referral
        change, request_id = _change_for(envelope, payload)
        referral.progress(change, request_id=request_id)
        if isinstance(payload, ReportIssued) and referral.status is ReferralStatus.ISSUED:
            entry: dict[str, object] = {
                "report_id": str(payload.report_id),
                "version": payload.version,
                "sha256": payload.sha256,
                "size": payload.size,
                "issued_at": payload.issued_at,
            }
            if all(r["report_id"] != entry["report_id"] for r in referral.reports):
                referral.reports.append(entry)
                referral.reports.sort(key=lambda r: int(str(r["version"])))
        await self._referrals.save(referral, events=[], processed_event=envelope.event_id)
        await self._audit.record(
            "status.changed",
            actor=SYSTEM,
            case_id=envelope.case_id,
            details={"status": change.status.value, "event_id": str(envelope.event_id)},
        )


_STATUS_FOR: dict[type, ReferralStatus] = {
    ReferralAcknowledged: ReferralStatus.ACKNOWLEDGED,
    InformationRequested: ReferralStatus.INFORMATION_REQUESTED,
    ReferralAccepted: ReferralStatus.ACCEPTED,
    ReferralDeclined: ReferralStatus.DECLINED,
    ReferralWaitlisted: ReferralStatus.WAITLISTED,
    CaseAssigned: ReferralStatus.IN_ASSESSMENT,
    AppointmentBooked: ReferralStatus.APPOINTMENT_BOOKED,
    ReviewCompleted: ReferralStatus.IN_LEGAL_REVIEW,
    ReportIssued: ReferralStatus.ISSUED,
}


def _change_for(envelope: EventEnvelope, payload: object) -> tuple[StatusChange, uuid.UUID | None]:
    """The timeline entry an event makes: its status, any deadline, any sealed note."""
    deadline: date | None = None
    note: str | None = None
    request_id: uuid.UUID | None = None
    match payload:
        case ReferralAcknowledged():
            deadline = payload.response_due
        case InformationRequested():
            note, request_id = payload.question.model_dump_json(), payload.request_id
        case ReferralAccepted():
            deadline = payload.report_due
        case ReferralDeclined():
            note = payload.reason.model_dump_json()
        case AppointmentBooked():
            deadline = payload.appointment_on
        case ReviewCompleted():
            deadline = payload.report_due
    change = StatusChange(
        change_id=envelope.event_id,
        status=_STATUS_FOR[type(payload)],
        at=envelope.occurred_at,
        deadline=deadline,
        note=note,
    )
    return change, request_id


PROGRESS_EVENTS = (
    "referral.acknowledged",
    "referral.information_requested",
    "referral.accepted",
    "referral.declined",
    "referral.waitlisted",
    "case.assigned",
    "appointment.booked",
    "review.completed",
    "report.issued",
)
PUBLISHES = (
    "referral.submitted",
    "referral.withdrawn",
    "referral.information_provided",
    "case.erased",
)


def _vocabulary_version() -> str:
    return ",".join(
        f"{name}@{vocabulary(name).version}" for name in ("torture_methods", "perpetrator_types")
    )


def _reference(d: DocumentRecord) -> DocumentReference:
    return DocumentReference(
        document_id=d.document_id,
        kind=d.kind.value,
        content_type=d.content_type,
        size=d.size,
        sha256=d.sha256,
        received_at=d.received_at,
    )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
