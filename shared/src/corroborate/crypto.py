"""Envelope encryption: one data key per case, wrapped by a key-encryption key.

Identity fields and every stored document are encrypted with the case's data key (AES-256-GCM).
The data key travels and rests only wrapped by the master key (in production, a KMS key), so a
database dump, a bucket listing or a message on the bus reveals no survivor identity.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict

_NONCE = 12
_TAG = 16
CHUNK_SIZE = 64 * 1024
_STREAM_MAGIC = b"CRB1"
_PREFIX = 7


class DecryptionError(Exception):
    """Ciphertext was altered, truncated, or encrypted under another key."""


class WrappedKey(BaseModel):
    """A case data key encrypted under the master key; safe to store and to send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    ciphertext: str


@dataclass(frozen=True)
class DataKey:
    """A case's 256-bit data key, in the clear only in memory."""

    secret: bytes
    wrapped: WrappedKey

    def seal(self, plaintext: bytes, *, context: str) -> str:
        """Encrypt a small value; ``context`` binds it to where it belongs (case, field)."""
        nonce = os.urandom(_NONCE)
        ciphertext = AESGCM(self.secret).encrypt(nonce, plaintext, context.encode())
        return base64.b64encode(nonce + ciphertext).decode()

    def open(self, sealed: str, *, context: str) -> bytes:
        """Decrypt a value sealed with the same key and context."""
        try:
            raw = base64.b64decode(sealed, validate=True)
        except ValueError as exc:
            raise DecryptionError("sealed value is not base64") from exc
        if len(raw) < _NONCE + _TAG:
            raise DecryptionError("sealed value is truncated")
        try:
            return AESGCM(self.secret).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode())
        except InvalidTag as exc:
            raise DecryptionError("sealed value failed authentication") from exc

    def stream_encryptor(self, *, context: str) -> StreamEncryptor:
        """Chunked encryption for documents too large to hold in memory."""
        return StreamEncryptor(self.secret, context=context)

    def decrypt_stream(self, chunks: Iterator[bytes], *, context: str) -> Iterator[bytes]:
        """Decrypt what ``stream_encryptor`` produced, verifying every chunk and the end."""
        return _decrypt_chunks(self.secret, chunks, context=context)


def seal_fields(
    document: dict[str, Any], paths: Iterable[str], *, key: DataKey, context: str
) -> dict[str, Any]:
    """A copy of ``document`` with the value at each dotted path sealed on its own.

    Field-level encryption: the rest of the document stays queryable, and each sealed value is
    bound to its path, so one cannot be swapped for another.
    """
    sealed = copy.deepcopy(document)
    for path in paths:
        parent, name = _parent(sealed, path)
        if parent is not None and parent.get(name) is not None:
            plaintext = json.dumps(parent[name], default=str).encode()
            parent[name] = key.seal(plaintext, context=f"{context}:{path}")
    return sealed


def open_fields(
    document: dict[str, Any], paths: Iterable[str], *, key: DataKey, context: str
) -> dict[str, Any]:
    """The inverse of ``seal_fields``."""
    opened = copy.deepcopy(document)
    for path in paths:
        parent, name = _parent(opened, path)
        if parent is not None and parent.get(name) is not None:
            parent[name] = json.loads(key.open(parent[name], context=f"{context}:{path}"))
    return opened


def _parent(document: dict[str, Any], path: str) -> tuple[dict[str, Any] | None, str]:
    *ancestors, name = path.split(".")
    node: Any = document
    for part in ancestors:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), name


def _master_key(value_b64: str) -> bytes:
    try:
        master = base64.b64decode(value_b64, validate=True)
    except ValueError as exc:
        raise ValueError("master key must be base64") from exc
    if len(master) != 32:
        raise ValueError("master key must be 32 bytes (base64 of 32 random bytes)")
    return master


class KeyRing:
    """Holds the master key and makes, wraps and unwraps case data keys.

    After a rotation the new master key wraps new data keys, and the previous ones still unwrap
    what they wrapped until ``rewrap`` has moved every data key to the new one. Blind indexes use
    a key of their own, which a rotation leaves alone (else every index would change).
    """

    def __init__(
        self,
        master_key_b64: str,
        *,
        previous_keys_b64: Iterable[str] = (),
        blind_index_key_b64: str = "",
    ) -> None:
        master = _master_key(master_key_b64)
        self._master = AESGCM(master)
        self.key_id = hashlib.sha256(master).hexdigest()[:16]
        self._unwrappers = {self.key_id: self._master}
        for previous_b64 in previous_keys_b64:
            previous = _master_key(previous_b64)
            self._unwrappers[hashlib.sha256(previous).hexdigest()[:16]] = AESGCM(previous)
        # A separate key for blind indexes, never equal to a wrapping key: the one given, or one
        # derived from the master key (then set it explicitly before rotating the master key).
        blind = _master_key(blind_index_key_b64) if blind_index_key_b64 else master
        self._blind_root = hmac.new(blind, b"corroborate blind index v1", hashlib.sha256).digest()

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key, wrapped by the current master key."""
        if wrapped.key_id == self.key_id:
            return wrapped
        secret = self.unwrap(wrapped).secret
        nonce = os.urandom(_NONCE)
        ciphertext = self._master.encrypt(nonce, secret, self.key_id.encode())
        return WrappedKey(
            key_id=self.key_id, ciphertext=base64.b64encode(nonce + ciphertext).decode()
        )

    def new_data_key(self) -> DataKey:
        secret = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        wrapped = self._master.encrypt(nonce, secret, self.key_id.encode())
        return DataKey(
            secret=secret,
            wrapped=WrappedKey(
                key_id=self.key_id, ciphertext=base64.b64encode(nonce + wrapped).decode()
            ),
        )

    def blind_index(self, value: str, *, purpose: str) -> str:
        """A keyed hash to look a value up by, never the value itself (a blind index).

        The same value gives the same index for one master key, so an equality search works;
        without the key, a list of indexes reveals nothing, not even by guessing values.
        """
        key = hmac.new(self._blind_root, purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

    def unwrap(self, wrapped: WrappedKey) -> DataKey:
        unwrapper = self._unwrappers.get(wrapped.key_id)
        if unwrapper is None:
            raise DecryptionError(f"data key was wrapped by an unknown master key {wrapped.key_id}")
        raw = base64.b64decode(wrapped.ciphertext)
        try:
            secret = unwrapper.decrypt(raw[:_NONCE], raw[_NONCE:], wrapped.key_id.encode())
        except InvalidTag as exc:
            raise DecryptionError("wrapped data key failed authentication") from exc
        return DataKey(secret=secret, wrapped=wrapped)


def _nonce(prefix: bytes, counter: int, *, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class StreamEncryptor:
    """Encrypts a byte stream in fixed-size authenticated chunks (a STREAM construction).

    Each chunk's nonce holds its index and a last-chunk flag, so reordering, dropping or
    truncating chunks fails authentication.
    """

    def __init__(self, key: bytes, *, context: str) -> None:
        self._aead = AESGCM(key)
        self._aad = context.encode()
        self._prefix = os.urandom(_PREFIX)
        self._buffer = bytearray()
        self._counter = 0
        self._header_sent = False

    def _header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return _STREAM_MAGIC + self._prefix

    def update(self, data: bytes) -> bytes:
        """Take plaintext, return whatever ciphertext is complete."""
        self._buffer.extend(data)
        out = bytearray(self._header())
        # Keep at least one byte back so the final chunk is always sealed by finalize().
        while len(self._buffer) > CHUNK_SIZE:
            chunk = bytes(self._buffer[:CHUNK_SIZE])
            del self._buffer[:CHUNK_SIZE]
            out += self._aead.encrypt(
                _nonce(self._prefix, self._counter, last=False), chunk, self._aad
            )
            self._counter += 1
        return bytes(out)

    def finalize(self) -> bytes:
        out = self._header() + self._aead.encrypt(
            _nonce(self._prefix, self._counter, last=True), bytes(self._buffer), self._aad
        )
        self._buffer.clear()
        return out


class StreamDecryptor:
    """Reverses ``StreamEncryptor`` incrementally, authenticating each chunk and the end."""

    def __init__(self, key: bytes, *, context: str) -> None:
        self._aead = AESGCM(key)
        self._aad = context.encode()
        self._buffer = bytearray()
        self._prefix: bytes | None = None
        self._counter = 0

    def _open(self, sealed: bytes, *, last: bool) -> bytes:
        assert self._prefix is not None
        try:
            return self._aead.decrypt(
                _nonce(self._prefix, self._counter, last=last), sealed, self._aad
            )
        except InvalidTag as exc:
            where = "final chunk (truncated or altered)" if last else f"chunk {self._counter}"
            raise DecryptionError(f"{where} failed authentication") from exc

    def update(self, piece: bytes) -> list[bytes]:
        """Take ciphertext, return the plaintext chunks it completes."""
        self._buffer.extend(piece)
        if self._prefix is None:
            if len(self._buffer) < len(_STREAM_MAGIC) + _PREFIX:
                return []
            if bytes(self._buffer[:4]) != _STREAM_MAGIC:
                raise DecryptionError("not an encrypted Corroborate object")
            self._prefix = bytes(self._buffer[4 : 4 + _PREFIX])
            del self._buffer[: 4 + _PREFIX]
        out: list[bytes] = []
        sealed_size = CHUNK_SIZE + _TAG
        # A full-size chunk may still be the last one; only open it once more bytes follow.
        while len(self._buffer) > sealed_size:
            sealed = bytes(self._buffer[:sealed_size])
            del self._buffer[:sealed_size]
            out.append(self._open(sealed, last=False))
            self._counter += 1
        return out

    def finalize(self) -> bytes:
        if self._prefix is None:
            raise DecryptionError("encrypted object is truncated")
        return self._open(bytes(self._buffer), last=True)


def _decrypt_chunks(key: bytes, chunks: Iterator[bytes], *, context: str) -> Iterator[bytes]:
    decryptor = StreamDecryptor(key, context=context)
    for piece in chunks:
        yield from decryptor.update(piece)
    yield decryptor.finalize()
