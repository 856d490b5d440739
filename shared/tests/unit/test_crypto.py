"""Envelope encryption: sealed values, case data keys, and chunked streams for documents."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest

from corroborate.crypto import CHUNK_SIZE, DataKey, DecryptionError, KeyRing

HEADER = 11  # magic (4) + nonce prefix (7)
SEALED_CHUNK = CHUNK_SIZE + 16
CONTEXT = "cases/0001/statement.pdf"


def master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing(master_key())


@pytest.fixture
def key(ring: KeyRing) -> DataKey:
    return ring.new_data_key()


def encrypt(key: DataKey, plaintext: bytes, *, piece: int = 7_001) -> bytes:
    encryptor = key.stream_encryptor(context=CONTEXT)
    out = b"".join(
        encryptor.update(plaintext[i : i + piece]) for i in range(0, len(plaintext), piece)
    )
    return out + encryptor.finalize()


def decrypt(
    key: DataKey, ciphertext: bytes, *, piece: int = 5_003, context: str = CONTEXT
) -> bytes:
    pieces = (ciphertext[i : i + piece] for i in range(0, len(ciphertext), piece))
    return b"".join(key.decrypt_stream(pieces, context=context))


# --- sealed values -----------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [b"", b"x", b"Zubeida Qorxoy", os.urandom(5000)])
def test_sealed_value_opens_to_the_plaintext(key: DataKey, plaintext: bytes) -> None:
    sealed = key.seal(plaintext, context="case:1:name")
    assert key.open(sealed, context="case:1:name") == plaintext


def test_sealing_twice_gives_different_ciphertexts_without_the_plaintext(key: DataKey) -> None:
    first = key.seal(b"Zubeida Qorxoy", context="c")
    second = key.seal(b"Zubeida Qorxoy", context="c")
    assert first != second
    assert b"Zubeida" not in base64.b64decode(first)


def test_sealed_value_does_not_open_in_another_context(key: DataKey) -> None:
    sealed = key.seal(b"Zubeida Qorxoy", context="case:1:name")
    with pytest.raises(DecryptionError):
        key.open(sealed, context="case:2:name")


def test_sealed_value_does_not_open_with_another_data_key(ring: KeyRing, key: DataKey) -> None:
    sealed = key.seal(b"Zubeida Qorxoy", context="c")
    with pytest.raises(DecryptionError):
        ring.new_data_key().open(sealed, context="c")


def _flip(sealed: str) -> str:
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _drop_tag_byte(sealed: str) -> str:
    return base64.b64encode(base64.b64decode(sealed)[:-1]).decode()


def _keep_six_bytes(sealed: str) -> str:
    return base64.b64encode(base64.b64decode(sealed)[:6]).decode()


ALTERATIONS: dict[str, Callable[[str], str]] = {
    "flipped bit": _flip,
    "last byte dropped": _drop_tag_byte,
    "truncated below a nonce": _keep_six_bytes,
    "emptied": lambda sealed: "",
    "not base64": lambda sealed: "%%%not-base64%%%",
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS), ids=list(ALTERATIONS))
def test_altered_sealed_value_raises_decryption_error(key: DataKey, alteration: str) -> None:
    """DecryptionError's contract: 'altered, truncated, or encrypted under another key'."""
    sealed = ALTERATIONS[alteration](key.seal(b"Zubeida Qorxoy", context="c"))
    with pytest.raises(DecryptionError):
        key.open(sealed, context="c")


# --- data keys and the master key --------------------------------------------------------


def test_wrapped_data_key_unwraps_to_the_same_key(ring: KeyRing, key: DataKey) -> None:
    unwrapped = ring.unwrap(key.wrapped)
    assert unwrapped.secret == key.secret
    assert key.wrapped.key_id == ring.key_id
    assert base64.b64decode(key.wrapped.ciphertext).find(key.secret) == -1


def test_data_key_wrapped_by_another_master_key_is_refused(ring: KeyRing) -> None:
    foreign = KeyRing(master_key()).new_data_key()
    with pytest.raises(DecryptionError, match=foreign.wrapped.key_id):
        ring.unwrap(foreign.wrapped)


def test_data_key_relabelled_with_this_master_key_id_is_still_refused(ring: KeyRing) -> None:
    foreign = KeyRing(master_key()).new_data_key().wrapped
    relabelled = foreign.model_copy(update={"key_id": ring.key_id})
    with pytest.raises(DecryptionError):
        ring.unwrap(relabelled)


@pytest.mark.parametrize(
    "bad",
    ["", "not base64!", base64.b64encode(os.urandom(16)).decode()],
    ids=["empty", "junk", "16 bytes"],
)
def test_master_key_must_be_base64_of_32_bytes(bad: str) -> None:
    with pytest.raises(ValueError, match="master key"):
        KeyRing(bad)


# --- streams -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE],
    ids=["0", "1", "chunk-1", "chunk", "chunk+1", "3 chunks"],
)
def test_stream_roundtrip(key: DataKey, size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt(key, plaintext)
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(ciphertext) == HEADER + size + 16 * chunks
    assert decrypt(key, ciphertext) == plaintext
    assert decrypt(key, ciphertext, piece=len(ciphertext) or 1) == plaintext
    assert decrypt(key, ciphertext, piece=1) == plaintext


def test_stream_of_known_text_is_not_visible_in_ciphertext(key: DataKey) -> None:
    ciphertext = encrypt(key, b"Zubeida Qorxoy " * 10_000)
    assert b"Zubeida" not in ciphertext


THREE_CHUNKS = 3 * CHUNK_SIZE


def _swap_first_two(c: bytes) -> bytes:
    a, b = c[HEADER : HEADER + SEALED_CHUNK], c[HEADER + SEALED_CHUNK : HEADER + 2 * SEALED_CHUNK]
    return c[:HEADER] + b + a + c[HEADER + 2 * SEALED_CHUNK :]


def _flip_at(position: int) -> Callable[[bytes], bytes]:
    def flip(c: bytes) -> bytes:
        raw = bytearray(c)
        raw[position] ^= 0x80
        return bytes(raw)

    return flip


TAMPERING: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda c: b"",
    "header cut short": lambda c: c[:6],
    "header only": lambda c: c[:HEADER],
    "last chunk dropped": lambda c: c[: HEADER + 2 * SEALED_CHUNK],
    "last byte dropped": lambda c: c[:-1],
    "bytes appended": lambda c: c + b"\x00" * 20,
    "chunks reordered": _swap_first_two,
    "magic flipped": _flip_at(0),
    "nonce prefix flipped": _flip_at(5),
    "first chunk flipped": _flip_at(HEADER + 100),
    "middle chunk flipped": _flip_at(HEADER + SEALED_CHUNK + 100),
    "final tag flipped": _flip_at(-1),
}


@pytest.mark.parametrize("tampering", list(TAMPERING), ids=list(TAMPERING))
def test_tampered_stream_raises_decryption_error(key: DataKey, tampering: str) -> None:
    ciphertext = TAMPERING[tampering](encrypt(key, os.urandom(THREE_CHUNKS)))
    with pytest.raises(DecryptionError):
        decrypt(key, ciphertext)


def test_stream_does_not_decrypt_in_another_context(key: DataKey) -> None:
    ciphertext = encrypt(key, b"statement")
    with pytest.raises(DecryptionError):
        decrypt(key, ciphertext, context="cases/0002/statement.pdf")


def test_stream_does_not_decrypt_with_another_data_key(ring: KeyRing, key: DataKey) -> None:
    ciphertext = encrypt(key, b"statement")
    with pytest.raises(DecryptionError):
        decrypt(ring.new_data_key(), ciphertext)
