"""Sessions in the real database: idle and absolute lifetimes, a sign-in in flight taken once,
a new id at every sign-in, every session of a person ended at once, no usable id stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from corroborate.oidc import AuthorizationRequest
from corroborate.settings import Settings
from corroborate.web.sessions import SessionPolicy, Sessions

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url.get_secret_value()
    )
    try:
        yield client[f"{settings.namespace}_websessions"]
    finally:
        await client.close()


@pytest.fixture
async def sessions(database: Any) -> tuple[Sessions, Clock]:
    clock = Clock()
    store = Sessions(
        database["web_sessions"],
        database["web_sign_ins"],
        policy=SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12)),
        clock=clock,
    )
    await store.prepare()
    return store, clock


async def test_a_session_ends_after_thirty_idle_minutes(sessions: tuple[Sessions, Clock]) -> None:
    store, clock = sessions
    session_id = await store.open(person_id="p1", subject="s1", id_token="t")
    clock.advance(minutes=29)
    assert await store.current(session_id) is not None  # a request: the idle clock restarts
    clock.advance(minutes=29)
    assert await store.current(session_id) is not None
    clock.advance(minutes=30)
    assert await store.current(session_id) is None
    assert await store.current(session_id) is None  # gone for good


async def test_a_busy_session_still_ends_twelve_hours_after_sign_in(
    sessions: tuple[Sessions, Clock],
) -> None:
    store, clock = sessions
    session_id = await store.open(person_id="p2", subject="s2", id_token="t")
    for _ in range(47):  # a request every quarter of an hour, for 11 h 45 min
        clock.advance(minutes=15)
        assert await store.current(session_id) is not None
    clock.advance(minutes=15)
    assert await store.current(session_id) is None


async def test_each_sign_in_gets_a_new_id_and_ids_are_not_stored(
    sessions: tuple[Sessions, Clock], database: Any
) -> None:
    store, _clock = sessions
    first = await store.open(person_id="p3", subject="s3", id_token="t")
    second = await store.open(person_id="p3", subject="s3", id_token="t")
    assert first != second
    stored = [d async for d in database["web_sessions"].find({"person_id": "p3"})]
    assert len(stored) == 2
    assert {first, second}.isdisjoint({d["_id"] for d in stored})
    assert await store.close_all("p3") == 2
    assert await store.current(first) is None
    assert await store.current(second) is None


async def test_a_sign_in_in_flight_is_taken_once_and_expires(
    sessions: tuple[Sessions, Clock],
) -> None:
    store, clock = sessions
    begun = AuthorizationRequest(url="u", state="s", nonce="n", code_verifier="v")
    token = await store.remember_sign_in(begun, "/next")
    taken = await store.take_sign_in(token)
    assert taken is not None
    assert taken.begun == begun
    assert taken.next_path == "/next"
    assert await store.take_sign_in(token) is None

    late = await store.remember_sign_in(begun, "/next")
    clock.advance(minutes=11)
    assert await store.take_sign_in(late) is None
