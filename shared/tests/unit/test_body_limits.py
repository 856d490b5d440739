"""A JSON body over the limit is refused with 413 before it is parsed; an upload streams past
it; an error response lists at most 50 problems and says how many there were."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from corroborate.http import binary_upload, install_common
from corroborate.limits import MAX_ERRORS

LIMIT = 64 * 1024


class Note(BaseModel):
    text: str


def build_app(parsed: list[int]) -> FastAPI:
    app = FastAPI()
    install_common(app, max_body_bytes=LIMIT)

    @app.post("/notes")
    def add_note(note: Note) -> dict[str, int]:
        parsed.append(len(note.text))
        return {"length": len(note.text)}

    @app.post("/many")
    def many(notes: list[Note]) -> dict[str, int]:
        return {"count": len(notes)}

    @app.post("/files", openapi_extra=binary_upload(refused="not a file")["openapi_extra"])
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for piece in request.stream():
            size += len(piece)
        return {"size": size}

    return app


@pytest.fixture
def parsed() -> list[int]:
    return []


@pytest.fixture
async def client(parsed: list[int]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(parsed))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_a_body_within_the_limit_is_parsed(
    client: httpx.AsyncClient, parsed: list[int]
) -> None:
    response = await client.post("/notes", json={"text": "x" * 1000})
    assert response.json() == {"length": 1000}
    assert parsed == [1000]


async def test_a_body_declared_over_the_limit_is_refused_unread(
    client: httpx.AsyncClient, parsed: list[int]
) -> None:
    response = await client.post("/notes", json={"text": "x" * (LIMIT + 10)})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"(body): larger than the limit of {LIMIT} bytes; nothing was read"
    )
    assert parsed == []


async def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(
    client: httpx.AsyncClient, parsed: list[int]
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            sent.append(1)
            yield b"x" * 4096
        yield b'"}'

    response = await client.post(
        "/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert parsed == []
    assert len(sent) < 100  # refused before the whole body was read


async def test_an_upload_route_streams_past_the_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/files", content=b"y" * (LIMIT * 4))
    assert response.json() == {"size": LIMIT * 4}


async def test_an_error_response_lists_the_first_problems_and_counts_them_all(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/many", json=[{"text": 1}] * 200)
    assert response.status_code == 422
    problem = response.json()
    assert problem["count"] == 200
    assert len(problem["errors"]) == MAX_ERRORS
    assert problem["errors"][0]["field"] == "0.text"
