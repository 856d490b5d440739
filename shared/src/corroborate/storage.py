"""Object storage through the S3 API (minio SDK), with every object encrypted client-side.

The minio SDK is synchronous; each call runs in a worker thread so the event loop keeps
serving. Objects are written through the case's data key (``corroborate.crypto``) and read
back decrypted and verified, so the store only ever holds ciphertext.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast

from minio import Minio
from minio.error import S3Error

from corroborate.crypto import DataKey
from corroborate.settings import Settings


@dataclass(frozen=True)
class StoredObject:
    """What was written: where, how big in the clear, and the SHA-256 of the plaintext."""

    bucket: str
    key: str
    size: int
    sha256: str
    version_id: str | None = None


# The request side hands the upload thread blocks of this size (a whole number per part).
_HANDOFF_BYTES = 1024 * 1024


class UploadAbandoned(Exception):
    """The upload thread's source went away (the request failed or was cancelled)."""


class IntegrityError(Exception):
    """A stored object's plaintext no longer matches the hash recorded when it was stored."""


class _EncryptingReader(io.RawIOBase):
    """A file-like view that encrypts and hashes a plaintext iterator as minio reads it."""

    def __init__(self, chunks: Iterator[bytes], key: DataKey, context: str) -> None:
        self._chunks = chunks
        self._encryptor = key.stream_encryptor(context=context)
        self._hash = hashlib.sha256()
        self._size = 0
        self._pending = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            try:
                piece = next(self._chunks)
            except StopIteration:
                self._pending += self._encryptor.finalize()
                self._done = True
                break
            self._hash.update(piece)
            self._size += len(piece)
            self._pending += self._encryptor.update(piece)
        if size < 0:
            size = len(self._pending)
        with memoryview(self._pending) as pending:  # one copy of the part, not two
            out = bytes(pending[:size])
        del self._pending[:size]
        return out

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def plaintext_size(self) -> int:
        return self._size


def minio_client(settings: Settings) -> Minio:
    """The S3 client for the configured endpoint and credentials (the store, tests, tools)."""
    return Minio(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


class ObjectStore:
    """Encrypted, hash-verified object storage for one deployment."""

    PART_SIZE = 8 * 1024 * 1024

    def __init__(self, settings: Settings) -> None:
        self._client = minio_client(settings)

    async def ensure_bucket(
        self, bucket: str, *, versioned: bool = False, object_lock: bool = False
    ) -> None:
        """Create the bucket if missing (at start-up, by the service that owns it).

        ``object_lock`` (which implies versioning) lets objects be locked against deletion and
        overwrite; it can only be chosen when the bucket is created.
        """

        def create() -> None:
            if not self._client.bucket_exists(bucket_name=bucket):
                try:
                    self._client.make_bucket(bucket_name=bucket, object_lock=object_lock)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
            if versioned:
                from minio.commonconfig import ENABLED  # noqa: PLC0415
                from minio.versioningconfig import VersioningConfig  # noqa: PLC0415

                self._client.set_bucket_versioning(
                    bucket_name=bucket, config=VersioningConfig(ENABLED)
                )

        await asyncio.to_thread(create)

    async def ping(self, bucket: str) -> None:
        await asyncio.to_thread(self._client.bucket_exists, bucket_name=bucket)

    async def put_encrypted(
        self,
        *,
        bucket: str,
        key: str,
        chunks: Iterator[bytes],
        data_key: DataKey,
        metadata: dict[str, str] | None = None,
    ) -> StoredObject:
        """Stream plaintext chunks in, encrypted; return the plaintext's size and SHA-256."""
        reader = _EncryptingReader(chunks, data_key, context=f"{bucket}/{key}")

        def put() -> Any:
            return self._client.put_object(
                bucket_name=bucket,
                object_name=key,
                data=cast(BinaryIO, reader),
                length=-1,
                part_size=self.PART_SIZE,
                # One part in memory at a time: parallel parts would queue without bound
                # whenever the sender is faster than the store.
                num_parallel_uploads=1,
                content_type="application/octet-stream",
                metadata=metadata or {},  # type: ignore[arg-type]
            )

        written = await asyncio.to_thread(put)
        return StoredObject(
            bucket=bucket,
            key=key,
            size=reader.plaintext_size,
            sha256=reader.sha256,
            version_id=written.version_id,
        )

    async def put_encrypted_from(
        self,
        *,
        bucket: str,
        key: str,
        chunks: AsyncIterator[bytes],
        data_key: DataKey,
    ) -> StoredObject:
        """As ``put_encrypted``, from an async stream (an HTTP request body).

        The body is received on the event loop while the upload thread encrypts and sends what
        came before, so receiving and sending overlap instead of taking turns. They meet at a
        queue of blocks holding at most half a part, which keeps memory bounded whichever
        side is faster. A failure on the receiving side (the size limit, the content check, a
        dropped connection) reaches the upload thread, which abandons the multipart upload.
        """
        loop = asyncio.get_running_loop()
        blocks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(
            maxsize=max(1, self.PART_SIZE // _HANDOFF_BYTES // 2)
        )

        async def receive() -> None:
            block = bytearray()
            try:
                async for piece in chunks:
                    block += piece
                    if len(block) >= _HANDOFF_BYTES:
                        await blocks.put(bytes(block))
                        block.clear()
                if block:
                    await blocks.put(bytes(block))
                await blocks.put(None)
            except Exception as exc:  # raised again in the upload thread, and from there here
                await blocks.put(exc)

        def pull() -> Iterator[bytes]:
            # Runs in the upload thread: one hand-off per block, not per request chunk.
            while True:
                item = asyncio.run_coroutine_threadsafe(blocks.get(), loop).result()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item

        receiver = asyncio.create_task(receive())
        try:
            stored = await self.put_encrypted(
                bucket=bucket, key=key, chunks=pull(), data_key=data_key
            )
        except BaseException:
            if not receiver.done():
                # The upload failed or was cancelled: stop receiving, and wake an upload thread
                # still waiting for a block so that it abandons the upload instead of waiting.
                receiver.cancel()
                while not blocks.empty():
                    blocks.get_nowait()
                blocks.put_nowait(UploadAbandoned(f"{bucket}/{key}: the upload was abandoned"))
            raise
        await receiver  # it has handed over the end of the body
        return stored

    async def remove(self, *, bucket: str, key: str, version_id: str | None = None) -> None:
        """Delete an object that was stored but never recorded (the write that would have
        referred to it failed), so no unreferenced evidence is left behind. In a versioned
        bucket, pass the version: without it only a delete marker is added."""
        await asyncio.to_thread(
            self._client.remove_object, bucket_name=bucket, object_name=key, version_id=version_id
        )

    async def lock(
        self, *, bucket: str, key: str, version_id: str | None, until: datetime, mode: str
    ) -> None:
        """Lock one object version against deletion and overwrite until ``until``.

        ``COMPLIANCE``: nobody can shorten or lift it; ``GOVERNANCE``: only with a special
        permission (used by tests, which must clean up).
        """
        from minio.retention import Retention  # noqa: PLC0415

        await asyncio.to_thread(
            self._client.set_object_retention,
            bucket_name=bucket,
            object_name=key,
            config=Retention(mode, until),
            version_id=version_id,
        )

    async def retention(self, *, bucket: str, key: str, version_id: str | None) -> Any:
        """The lock on an object version (mode and retain-until date), or None."""
        return await asyncio.to_thread(
            self._client.get_object_retention,
            bucket_name=bucket,
            object_name=key,
            version_id=version_id,
        )

    async def read_decrypted(
        self,
        *,
        bucket: str,
        key: str,
        data_key: DataKey,
        expected_sha256: str,
        version_id: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the plaintext, and fail at the end if it does not hash to what was recorded."""
        response: Any = await asyncio.to_thread(
            self._client.get_object, bucket_name=bucket, object_name=key, version_id=version_id
        )
        digest = hashlib.sha256()
        try:
            decrypted = data_key.decrypt_stream(
                iter(lambda: response.read(ObjectStore.PART_SIZE // 4), b""),
                context=f"{bucket}/{key}",
            )
            while True:
                piece = await asyncio.to_thread(next, decrypted, None)
                if piece is None:
                    break
                digest.update(piece)
                yield piece
        finally:
            response.close()
            response.release_conn()
        if digest.hexdigest() != expected_sha256:
            raise IntegrityError(f"{bucket}/{key} does not match its recorded SHA-256")

    async def read_all(
        self,
        *,
        bucket: str,
        key: str,
        data_key: DataKey,
        expected_sha256: str,
        version_id: str | None = None,
    ) -> bytes:
        parts = [
            piece
            async for piece in self.read_decrypted(
                bucket=bucket,
                key=key,
                data_key=data_key,
                expected_sha256=expected_sha256,
                version_id=version_id,
            )
        ]
        return b"".join(parts)
