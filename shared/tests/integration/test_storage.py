"""ObjectStore on the real S3 API: only ciphertext at rest, and tampering never reads back."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from minio import Minio

from corroborate.crypto import CHUNK_SIZE, DecryptionError, KeyRing
from corroborate.storage import IntegrityError, ObjectStore, UploadAbandoned

pytestmark = pytest.mark.integration

CANARY = b"Zubeida Canary-Qorxoy, born 17/05/1990, HO ref HO-998877. "
MIB = 1024 * 1024


def new_key() -> str:
    return f"cases/{uuid.uuid4()}/statement.pdf"


async def raw_object(s3: Minio, bucket: str, key: str) -> bytes:
    def read() -> bytes:
        response = s3.get_object(bucket_name=bucket, object_name=key)
        try:
            data: bytes = response.read()
            return data
        finally:
            response.close()
            response.release_conn()

    return await asyncio.to_thread(read)


async def overwrite(s3: Minio, bucket: str, key: str, data: bytes) -> None:
    await asyncio.to_thread(
        s3.put_object, bucket_name=bucket, object_name=key, data=io.BytesIO(data), length=len(data)
    )


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, MIB + 7])
async def test_put_then_read_returns_the_plaintext_and_its_sha256(
    size: int, store: ObjectStore, bucket: str, keyring: KeyRing
) -> None:
    plaintext = os.urandom(size)
    data_key = keyring.new_data_key()
    key = new_key()
    pieces = (plaintext[i : i + 10_000] for i in range(0, size, 10_000))

    stored = await store.put_encrypted(bucket=bucket, key=key, chunks=pieces, data_key=data_key)

    assert (stored.bucket, stored.key, stored.size) == (bucket, key, size)
    assert stored.sha256 == hashlib.sha256(plaintext).hexdigest()
    read = await store.read_all(
        bucket=bucket, key=key, data_key=data_key, expected_sha256=stored.sha256
    )
    assert read == plaintext


async def test_object_at_rest_is_ciphertext_only(
    store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing
) -> None:
    plaintext = CANARY * 3000
    key = new_key()
    await store.put_encrypted(
        bucket=bucket, key=key, chunks=iter([plaintext]), data_key=keyring.new_data_key()
    )

    raw = await raw_object(s3, bucket, key)

    assert b"Zubeida" not in raw
    assert b"HO-998877" not in raw
    assert raw.startswith(b"CRB1")
    assert len(raw) > len(plaintext)  # authenticated: a tag per chunk


@pytest.mark.parametrize(
    "alteration",
    ["flip a byte", "drop the last chunk", "drop the tail", "swap two chunks"],
)
async def test_altered_object_fails_to_read(
    alteration: str, store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing
) -> None:
    plaintext = os.urandom(3 * CHUNK_SIZE + 100)
    data_key = keyring.new_data_key()
    key = new_key()
    stored = await store.put_encrypted(
        bucket=bucket, key=key, chunks=iter([plaintext]), data_key=data_key
    )
    raw = bytearray(await raw_object(s3, bucket, key))
    header, sealed = 11, CHUNK_SIZE + 16
    if alteration == "flip a byte":
        raw[header + sealed + 5] ^= 0x01
    elif alteration == "drop the last chunk":
        del raw[header + 3 * sealed :]
    elif alteration == "drop the tail":
        del raw[-1:]
    else:
        first = raw[header : header + sealed]
        raw[header : header + sealed] = raw[header + sealed : header + 2 * sealed]
        raw[header + sealed : header + 2 * sealed] = first
    await overwrite(s3, bucket, key, bytes(raw))

    with pytest.raises((DecryptionError, IntegrityError)):
        await store.read_all(
            bucket=bucket, key=key, data_key=data_key, expected_sha256=stored.sha256
        )


async def test_object_moved_to_another_key_fails_to_read(
    store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing
) -> None:
    data_key = keyring.new_data_key()
    original, elsewhere = new_key(), new_key()
    stored = await store.put_encrypted(
        bucket=bucket, key=original, chunks=iter([CANARY]), data_key=data_key
    )
    await overwrite(s3, bucket, elsewhere, await raw_object(s3, bucket, original))

    with pytest.raises(DecryptionError):
        await store.read_all(
            bucket=bucket, key=elsewhere, data_key=data_key, expected_sha256=stored.sha256
        )


async def test_another_cases_key_cannot_read_the_object(
    store: ObjectStore, bucket: str, keyring: KeyRing
) -> None:
    key = new_key()
    stored = await store.put_encrypted(
        bucket=bucket, key=key, chunks=iter([CANARY]), data_key=keyring.new_data_key()
    )

    with pytest.raises(DecryptionError):
        await store.read_all(
            bucket=bucket, key=key, data_key=keyring.new_data_key(), expected_sha256=stored.sha256
        )


async def test_object_replaced_by_other_valid_content_fails_the_recorded_hash(
    store: ObjectStore, bucket: str, keyring: KeyRing
) -> None:
    data_key = keyring.new_data_key()
    key = new_key()
    original = await store.put_encrypted(
        bucket=bucket, key=key, chunks=iter([b"the statement as received"]), data_key=data_key
    )
    await store.put_encrypted(
        bucket=bucket, key=key, chunks=iter([b"a different statement"]), data_key=data_key
    )

    with pytest.raises(IntegrityError, match=key):
        await store.read_all(
            bucket=bucket, key=key, data_key=data_key, expected_sha256=original.sha256
        )


async def test_put_from_an_async_stream_of_3_mib(
    store: ObjectStore, bucket: str, keyring: KeyRing
) -> None:
    plaintext = os.urandom(3 * MIB)
    data_key = keyring.new_data_key()
    key = new_key()

    async def body() -> AsyncIterator[bytes]:  # an HTTP request body, in uneven pieces
        for start in range(0, len(plaintext), 100_003):
            await asyncio.sleep(0)
            yield plaintext[start : start + 100_003]

    stored = await store.put_encrypted_from(
        bucket=bucket, key=key, chunks=body(), data_key=data_key
    )

    assert stored.size == 3 * MIB
    assert stored.sha256 == hashlib.sha256(plaintext).hexdigest()
    pieces = [
        piece
        async for piece in store.read_decrypted(
            bucket=bucket, key=key, data_key=data_key, expected_sha256=stored.sha256
        )
    ]
    assert len(pieces) > 1  # streamed back in pieces, not held whole
    assert b"".join(pieces) == plaintext


async def test_large_object_is_uploaded_in_parts_and_reads_back(
    store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing
) -> None:
    store.PART_SIZE = 5 * MIB  # S3's smallest part, so 11 MiB takes three parts
    plaintext = os.urandom(11 * MIB)
    data_key = keyring.new_data_key()
    key = new_key()

    stored = await store.put_encrypted(
        bucket=bucket,
        key=key,
        chunks=(plaintext[i : i + MIB] for i in range(0, len(plaintext), MIB)),
        data_key=data_key,
    )

    assert stored.sha256 == hashlib.sha256(plaintext).hexdigest()
    stat = await asyncio.to_thread(s3.stat_object, bucket_name=bucket, object_name=key)
    assert str(stat.etag).endswith("-3")  # a multipart upload's ETag counts its parts
    read = await store.read_all(
        bucket=bucket, key=key, data_key=data_key, expected_sha256=stored.sha256
    )
    assert read == plaintext


class BodyFailed(Exception):
    """The request body broke off (a size limit, a content check, a dropped connection)."""


async def _absent(s3: Minio, bucket: str, key: str) -> bool:
    names = await asyncio.to_thread(
        lambda: [o.object_name for o in s3.list_objects(bucket_name=bucket, prefix=key)]
    )
    return key not in names


async def test_a_stream_that_fails_after_some_parts_raises_its_own_error_and_stores_nothing(
    store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing
) -> None:
    store.PART_SIZE = 5 * MIB  # parts are sent while the rest is still being received
    key = new_key()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(12):
            await asyncio.sleep(0)
            yield os.urandom(MIB)
        raise BodyFailed("file: larger than the limit")

    with pytest.raises(BodyFailed, match="larger than the limit"):
        await store.put_encrypted_from(
            bucket=bucket, key=key, chunks=body(), data_key=keyring.new_data_key()
        )
    assert await _absent(s3, bucket, key)


async def test_a_cancelled_upload_stops_its_upload_thread_and_stores_nothing(
    store: ObjectStore, s3: Minio, bucket: str, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.PART_SIZE = 5 * MIB
    key = new_key()
    stalled = asyncio.Event()
    thread_ended: list[BaseException | None] = []
    put_object = store._client.put_object  # seen from outside: the upload thread's end

    def watched_put(**arguments: object) -> object:
        try:
            written = put_object(**arguments)  # type: ignore[arg-type]
        except BaseException as exc:
            thread_ended.append(exc)
            raise
        thread_ended.append(None)
        return written

    monkeypatch.setattr(store._client, "put_object", watched_put)

    async def body() -> AsyncIterator[bytes]:  # a client that sends 7 MiB, then nothing
        for _ in range(7):
            yield os.urandom(MIB)
        stalled.set()
        await asyncio.Event().wait()
        yield b""  # never reached

    upload = asyncio.create_task(
        store.put_encrypted_from(
            bucket=bucket, key=key, chunks=body(), data_key=keyring.new_data_key()
        )
    )
    await asyncio.wait_for(stalled.wait(), 30)
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    for _ in range(300):
        if thread_ended:
            break
        await asyncio.sleep(0.1)
    assert thread_ended, "the upload thread is still waiting for the body"
    assert isinstance(thread_ended[0], UploadAbandoned)  # it gave up rather than waiting
    assert await _absent(s3, bucket, key)
