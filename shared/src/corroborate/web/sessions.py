"""Server-side sessions and the sign-ins in flight, kept in the service's own database.

The browser holds only a random session id in an ``HttpOnly`` cookie; the database holds its
SHA-256, so a reader of the database cannot take over a session. A session ends after
``idle`` without a request or ``absolute`` after it began, whichever comes first, when its
person signs out, or when the directory no longer admits them. Each sign-in opens a new
session (ids rotate at sign-in). A sign-in in flight (its ``state``, ``nonce`` and PKCE
verifier) is kept for ten minutes under a second random cookie and can be taken once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from corroborate.clock import utc_now
from corroborate.oidc import AuthorizationRequest

SESSIONS = "web_sessions"
SIGN_INS = "web_sign_ins"
SIGN_IN_LIFETIME = timedelta(minutes=10)
TOUCH_EVERY = timedelta(seconds=60)
"""A request refreshes the idle clock at most this often (one write a minute, not per page)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class WebSession:
    person_id: str
    subject: str
    csrf_token: str
    started_at: datetime
    seen_at: datetime
    id_token: str


@dataclass(frozen=True)
class PendingSignIn:
    begun: AuthorizationRequest
    next_path: str


class Sessions:
    def __init__(
        self,
        sessions: AsyncCollection[dict[str, Any]],
        sign_ins: AsyncCollection[dict[str, Any]],
        *,
        policy: SessionPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._sign_ins = sign_ins
        self.policy = policy or SessionPolicy()
        self._clock = clock

    async def prepare(self) -> None:
        # Expired entries are removed by the database too; the checks below never rely on it.
        await self._sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)
        await self._sessions.create_index([("person_id", ASCENDING)])
        await self._sign_ins.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0)

    async def remember_sign_in(self, begun: AuthorizationRequest, next_path: str) -> str:
        """Keep a sign-in in flight; the answer is the token for the browser's cookie."""
        token = secrets.token_urlsafe(32)
        await self._sign_ins.insert_one(
            {
                "_id": _digest(token),
                "url": begun.url,
                "state": begun.state,
                "nonce": begun.nonce,
                "code_verifier": begun.code_verifier,
                "next": next_path,
                "expires_at": self._clock() + SIGN_IN_LIFETIME,
            }
        )
        return token

    async def take_sign_in(self, token: str) -> PendingSignIn | None:
        """The sign-in in flight under ``token``, once: a second return finds nothing."""
        found = await self._sign_ins.find_one_and_delete({"_id": _digest(token)})
        if found is None or _aware(found["expires_at"]) <= self._clock():
            return None
        begun = AuthorizationRequest(
            url=found["url"],
            state=found["state"],
            nonce=found["nonce"],
            code_verifier=found["code_verifier"],
        )
        return PendingSignIn(begun=begun, next_path=found["next"])

    async def open(self, *, person_id: str, subject: str, id_token: str) -> str:
        """A new session for ``person_id``; the answer is the session id for the cookie."""
        session_id, now = secrets.token_urlsafe(32), self._clock()
        await self._sessions.insert_one(
            {
                "_id": _digest(session_id),
                "person_id": person_id,
                "subject": subject,
                "csrf_token": secrets.token_urlsafe(32),
                "started_at": now,
                "seen_at": now,
                "id_token": id_token,
                "expires_at": min(now + self.policy.idle, now + self.policy.absolute),
            }
        )
        return session_id

    async def current(self, session_id: str) -> WebSession | None:
        """The live session under ``session_id``, its idle clock refreshed; None if it has
        ended (and then it is removed)."""
        key = _digest(session_id)
        found = await self._sessions.find_one({"_id": key})
        if found is None:
            return None
        now = self._clock()
        started, seen = _aware(found["started_at"]), _aware(found["seen_at"])
        if now - seen >= self.policy.idle or now - started >= self.policy.absolute:
            await self._sessions.delete_one({"_id": key})
            return None
        if now - seen >= TOUCH_EVERY:
            seen = now
            expires = min(now + self.policy.idle, started + self.policy.absolute)
            await self._sessions.update_one(
                {"_id": key}, {"$set": {"seen_at": now, "expires_at": expires}}
            )
        return WebSession(
            person_id=found["person_id"],
            subject=found["subject"],
            csrf_token=found["csrf_token"],
            started_at=started,
            seen_at=seen,
            id_token=found["id_token"],
        )

    async def close(self, session_id: str) -> None:
        await self._sessions.delete_one({"_id": _digest(session_id)})

    async def close_all(self, person_id: str) -> int:
        """End every session of ``person_id`` (they left, or their access was taken away)."""
        result = await self._sessions.delete_many({"person_id": person_id})
        return result.deleted_count


def _aware(value: datetime) -> datetime:
    """The database gives naive UTC datetimes back."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
