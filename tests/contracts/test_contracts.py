"""The committed OpenAPI and AsyncAPI documents match the code.

Regenerate after an intended change with ``make contracts``
(``uv run python tests/contracts/test_contracts.py``) and commit the result.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from corroborate.auth import generate_keypair
from corroborate.settings import Settings

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts"
SERVICES = ("intake", "review", "reporting")


def contract_settings() -> Settings:
    """Settings that make no connection and hold throwaway keys: contracts don't depend on them."""
    _, public_pem = generate_keypair()
    return Settings(
        _env_file=None,
        namespace="corroborate",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        auth_public_key=public_pem,
        report_link_secret="contracts",
        s3_secret_key="contracts",
    )


def generate(service: str) -> dict[str, dict[str, Any]]:
    module = __import__(f"{service}.bootstrap", fromlist=["create_app", "create_asyncapi_app"])
    settings = contract_settings()
    openapi: dict[str, Any] = module.create_app(settings).openapi()
    asyncapi: dict[str, Any] = (
        module.create_asyncapi_app(settings).schema.to_specification().to_jsonable()
    )
    return {"openapi": openapi, "asyncapi": asyncapi}


def _path(service: str, kind: str) -> Path:
    return CONTRACTS / f"{service}.{kind}.json"


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("kind", ["openapi", "asyncapi"])
def test_committed_contract_matches_the_code(service: str, kind: str) -> None:
    committed = _path(service, kind)
    assert committed.is_file(), f"{committed} is missing: run make contracts"
    current = _render(generate(service)[kind])
    assert committed.read_text(encoding="utf-8") == current, (
        f"{committed.name} has drifted from the code: review the change, run make contracts, "
        "and commit the regenerated document"
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_the_openapi_document_is_read_on_pages_the_service_serves_itself(
    service: str,
) -> None:
    module = __import__(f"{service}.bootstrap", fromlist=["create_app"])
    # No lifespan runs through this transport: nothing connects.
    transport = httpx.ASGITransport(app=module.create_app(contract_settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for path in ("/docs", "/redoc"):
            page = await http.get(path)
            assert page.status_code == 200, path
            assert "http" not in page.text, f"{path} names another origin"
            assert 'data-openapi-url="/openapi.json"' in page.text
        assert (await http.get("/docs/oauth2-redirect")).status_code == 404
        paths = (await http.get("/openapi.json")).json()["paths"]
    assert [p for p in paths if p.startswith(("/docs", "/redoc"))] == []


def test_asyncapi_documents_every_published_and_consumed_event() -> None:
    channels: set[str] = set()
    for service in SERVICES:
        document = json.loads(_path(service, "asyncapi").read_text(encoding="utf-8"))
        channels |= {channel["address"] for channel in document["channels"].values()}
    assert channels >= {
        "referral.submitted",
        "referral.accepted",
        "case.assigned",
        "review.completed",
        "report.issued",
    }


def write_all() -> None:
    CONTRACTS.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        for kind, document in generate(service).items():
            _path(service, kind).write_text(_render(document), encoding="utf-8")
            print(f"wrote {_path(service, kind)}")


if __name__ == "__main__":
    write_all()
    sys.exit(0)
