"""Moving every data key of a service to the current master key, after a rotation.

Wrapped data keys sit in many places: a referral's own key, the sealed details a case carries,
sealed notes kept as JSON text. ``rewrap_value`` walks a document and re-wraps every one it
finds (the data keys themselves do not change, so nothing encrypted with them does either).
"""

from __future__ import annotations

import json
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from corroborate.crypto import KeyRing, WrappedKey
from corroborate.mongo import Document


def _is_wrapped(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"key_id", "ciphertext"}


def rewrap_value(value: Any, keyring: KeyRing) -> tuple[Any, int]:
    """``value`` with every wrapped key re-wrapped, and how many were; JSON text holding sealed
    values is re-wrapped inside and written back as JSON."""
    if _is_wrapped(value):
        wrapped = WrappedKey.model_validate(value)
        fresh = keyring.rewrap(wrapped)
        return fresh.model_dump(), int(fresh != wrapped)
    if isinstance(value, dict):
        out, count = {}, 0
        for name, item in value.items():
            out[name], n = rewrap_value(item, keyring)
            count += n
        return out, count
    if isinstance(value, list):
        items = [rewrap_value(item, keyring) for item in value]
        return [i for i, _ in items], sum(n for _, n in items)
    if isinstance(value, str) and value.startswith("{") and '"wrapped_key"' in value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return value, 0
        fresh_value, count = rewrap_value(parsed, keyring)
        return (json.dumps(fresh_value) if count else value), count
    return value, 0


async def rewrap_database(database: AsyncDatabase[Document], keyring: KeyRing) -> dict[str, int]:
    """Re-wrap every data key in every collection; returns keys re-wrapped per collection.

    Each document is replaced only if it did not change meanwhile (its ``version``, where it has
    one); a document that changed is read again and retried.
    """
    done: dict[str, int] = {}
    for name in await database.list_collection_names():
        collection = database[name]
        total = 0
        async for found in collection.find({}):
            current: Document | None = found
            for _attempt in range(5):
                if current is None:
                    break
                fresh, count = rewrap_value(current, keyring)
                if not count:
                    break
                guard = {"_id": current["_id"]} | (
                    {"version": current["version"]} if "version" in current else {}
                )
                result = await collection.replace_one(guard, fresh)
                if result.matched_count == 1:
                    total += count
                    break
                current = await collection.find_one({"_id": current["_id"]})
        if total:
            done[name] = total
    return done


ERASED = {"erased": True}


def erase_keys(value: Any) -> tuple[Any, int]:
    """``value`` with every wrapped data key (and every sealed text carrying one) removed: what
    they protected can no longer be decrypted by anyone (crypto-shredding)."""
    if _is_wrapped(value):
        return dict(ERASED), 1
    if isinstance(value, dict):
        out, count = {}, 0
        for name, item in value.items():
            out[name], n = erase_keys(item)
            count += n
        return out, count
    if isinstance(value, list):
        items = [erase_keys(item) for item in value]
        return [i for i, _ in items], sum(n for _, n in items)
    if isinstance(value, str) and value.startswith("{") and '"wrapped_key"' in value:
        return None, 1
    return value, 0
