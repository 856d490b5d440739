"""Evidence: documents streamed in, encrypted before they leave the process, locked once
recorded, and read back decrypted and checked against their receipt."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from corroborate.audit import actor_of
from corroborate.auth import Principal
from corroborate.clock import utc_now
from corroborate.crypto import DataKey
from corroborate.evidence import HEAD_BYTES, IMAGE_TYPES, ContentType, content_check, detect_type
from corroborate.images import WORKING_COPY_TYPE, reencode_without_metadata, stripper_for
from corroborate.storage import ObjectStore, StoredObject
from corroborate.uploads import checked_stream, limited, prepend, read_head
from intake.domain.referral import DocumentKind, DocumentRecord, InvalidTransition, WorkingCopy
from intake.ports import StoredReferral
from intake.service.cases import Cases, Replayed
from intake.service.errors import (
    DocumentTypeRefused,
    DocumentUnreadable,
    IdempotencyKeyReused,
    NotFound,
)


class Documents:
    def __init__(
        self,
        *,
        cases: Cases,
        store: ObjectStore,
        bucket: str,
        max_bytes: int,
        retention_mode: str,
        retention: timedelta,
    ) -> None:
        self._cases = cases
        self._store = store
        self._bucket = bucket
        self._max_bytes = max_bytes
        self._retention_mode = retention_mode
        self._retention = retention

    async def prepare(self) -> None:
        await self._store.ensure_bucket(self._bucket, versioned=True, object_lock=True)

    async def add(
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
        stored = await self._cases.get(caller=caller, case_id=case_id)
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
        record, written = await self._write(
            stored,
            document_id=document_id,
            kind=kind,
            content_type=content_type,
            chunks=prepend(head, rest),
            idempotency_key=idempotency_key,
        )
        if written is None:  # the same Idempotency-Key, concurrently: the other request recorded
            return Replayed(await self._recorded_by_retry(caller, case_id, record), True)
        await self._received(caller, case_id, record, written)
        return Replayed(record, False)

    async def _write(
        self,
        stored: StoredReferral,
        *,
        document_id: uuid.UUID,
        kind: DocumentKind,
        content_type: ContentType,
        chunks: AsyncIterator[bytes],
        idempotency_key: str | None,
    ) -> tuple[DocumentRecord, list[StoredObject] | None]:
        """Store the original (and, for an image, a copy without metadata) and attach the
        record to the referral; whatever was written is removed again if that fails, or if
        a concurrent retry attached its own first (None then)."""
        data_key = self._cases.data_key(stored)
        case_id = stored.referral.case_id
        prefix = f"cases/{case_id}/documents/{document_id}"
        checked = checked_stream(chunks, content_check(content_type), self._max_bytes)
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
                working_copy=None if working is None else _working(working, content_type),
                idempotency_key=idempotency_key,
            )
            attached = await self._cases.referrals.append_document(case_id, record)
        except BaseException:
            await self._forget(written)
            raise
        if attached is None:  # submitted while the file was streaming in
            await self._forget(written)
            raise InvalidTransition(
                stored.referral.status, "given documents (it changed while the file arrived)"
            )
        if not attached:
            await self._forget(written)
            return record, None
        return record, written

    async def _recorded_by_retry(
        self, caller: Principal, case_id: uuid.UUID, record: DocumentRecord
    ) -> DocumentRecord:
        """The document a concurrent retry with the same key attached: it must be this file."""
        again = await self._cases.get(caller=caller, case_id=case_id)
        earlier = next(d for d in again.referral.documents if d.document_id == record.document_id)
        if (earlier.sha256, earlier.kind) != (record.sha256, record.kind):
            raise IdempotencyKeyReused(record.idempotency_key or "")
        return earlier

    async def _received(
        self,
        caller: Principal,
        case_id: uuid.UUID,
        record: DocumentRecord,
        written: list[StoredObject],
    ) -> None:
        """Audit a document just attached, and lock what was stored for the retention period."""
        await self._cases.audit.record(
            "document.received",
            actor=actor_of(caller),
            case_id=case_id,
            details={"document_id": str(record.document_id), "sha256": record.sha256},
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
        self, original: StoredObject, content_type: ContentType, prefix: str, data_key: DataKey
    ) -> StoredObject:
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

    async def _forget(self, written: list[StoredObject]) -> None:
        for obj in written:
            await self._store.remove(bucket=self._bucket, key=obj.key, version_id=obj.version_id)

    async def read(
        self, *, caller: Principal, case_id: uuid.UUID, document_id: uuid.UUID, working: bool
    ) -> tuple[DocumentRecord, str, AsyncIterator[bytes]]:
        """Decrypt a document for its partner; the hash is checked again as it streams."""
        stored = await self._cases.get(caller=caller, case_id=case_id)
        record = next((d for d in stored.referral.documents if d.document_id == document_id), None)
        if record is None or (working and record.working_copy is None):
            raise NotFound(str(document_id))
        copy = record.working_copy if working else None
        await self._cases.audit.record(
            "document.downloaded",
            actor=actor_of(caller),
            case_id=case_id,
            details={"document_id": str(document_id), "copy": "working" if working else "original"},
        )
        stream = self._store.read_decrypted(
            bucket=self._bucket,
            key=copy.object_key if copy else record.object_key,
            data_key=self._cases.data_key(stored),
            expected_sha256=copy.sha256 if copy else record.sha256,
            version_id=copy.version_id if copy else record.version_id,
        )
        return record, (copy.content_type if copy else record.content_type), stream


def _working(stored: StoredObject, content_type: ContentType) -> WorkingCopy:
    return WorkingCopy(
        object_key=stored.key,
        content_type=WORKING_COPY_TYPE[content_type.value],
        size=stored.size,
        sha256=stored.sha256,
        version_id=stored.version_id,
    )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
