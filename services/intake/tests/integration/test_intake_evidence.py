"""Documents as evidence: kept as received and locked, images copied without their metadata,
every download checked against the receipt, and nothing stored from a broken upload."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pillow_heif
import pytest
from fastapi import FastAPI
from minio import Minio
from minio.error import S3Error
from PIL import Image

from corroborate.settings import Settings
from corroborate.storage import minio_client

pytestmark = pytest.mark.integration

Headers = dict[str, str]
Create = Callable[..., Awaitable[dict[str, Any]]]
Upload = Callable[..., Awaitable[httpx.Response]]

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _s3(settings: Settings) -> Minio:
    return minio_client(settings)


def _versions(settings: Settings, prefix: str) -> list[tuple[str, str | None]]:
    return [
        (o.object_name or "", o.version_id)
        for o in _s3(settings).list_objects(
            bucket_name=settings.bucket_name("intake-documents"),
            prefix=prefix,
            recursive=True,
            include_version=True,
        )
    ]


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        package.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        package.writestr("word/document.xml", "<w:document>Witness statement</w:document>")
    return out.getvalue()


def _image(image_format: str) -> bytes:
    image = Image.new("RGB", (40, 30), (20, 140, 200))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"
    out = io.BytesIO()
    if image_format == "HEIF":
        pillow_heif.register_heif_opener()
    image.save(out, format=image_format, exif=exif)
    return out.getvalue()


async def _download(
    intake: httpx.AsyncClient, headers: Headers, case_id: str, document_id: str, copy: str
) -> httpx.Response:
    return await intake.get(
        f"/referrals/{case_id}/documents/{document_id}", params={"copy": copy}, headers=headers
    )


async def test_a_photograph_is_kept_as_received_and_copied_without_exif_or_gps(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    jpeg_photo: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]
    assert b"CanaryCam" in jpeg_photo
    assert Image.open(io.BytesIO(jpeg_photo)).getexif().get_ifd(0x8825)  # has a GPS position

    receipt = await upload(case_id, jpeg_photo, kind="photograph")

    assert receipt.status_code == 201, receipt.text
    body = receipt.json()
    assert body["sha256"] == hashlib.sha256(jpeg_photo).hexdigest()
    assert body["working_copy"]["content_type"] == "image/jpeg"
    original = await _download(intake, partner, case_id, body["document_id"], "original")
    working = await _download(intake, partner, case_id, body["document_id"], "working")
    assert original.content == jpeg_photo
    assert original.headers["X-Content-SHA256"] == body["sha256"]
    assert hashlib.sha256(working.content).hexdigest() == body["working_copy"]["sha256"]
    assert b"CanaryCam" not in working.content
    copy = Image.open(io.BytesIO(working.content))
    assert dict(copy.getexif()) == {}
    assert copy.size == (64, 48)


@pytest.mark.parametrize(
    ("image_format", "content_type"), [("TIFF", "image/tiff"), ("HEIF", "image/heic")]
)
async def test_tiff_and_heic_are_accepted_with_a_png_working_copy(
    intake: httpx.AsyncClient,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    image_format: str,
    content_type: str,
) -> None:
    case_id = (await create_referral())["case_id"]
    picture = _image(image_format)

    receipt = await upload(case_id, picture, kind="photograph")

    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["content_type"] == content_type
    assert receipt.json()["working_copy"]["content_type"] == "image/png"
    working = await _download(intake, partner, case_id, receipt.json()["document_id"], "working")
    assert working.content.startswith(b"\x89PNG")
    assert b"CanaryCam" not in working.content
    assert Image.open(io.BytesIO(working.content)).size == (40, 30)


async def test_word_documents_and_text_are_accepted_without_a_working_copy(
    intake: httpx.AsyncClient, partner: Headers, create_referral: Create, upload: Upload
) -> None:
    case_id = (await create_referral())["case_id"]
    docx = await upload(case_id, _docx(), kind="witness_statement")
    text = await upload(case_id, "Statement in Tigrinya: ሰላም\n".encode(), kind="other")

    assert docx.status_code == 201, docx.text
    assert docx.json()["content_type"] == DOCX_MIME
    assert docx.json()["working_copy"] is None
    assert text.json()["content_type"] == "text/plain"
    missing = await _download(intake, partner, case_id, docx.json()["document_id"], "working")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a ZIP that is not a Word document", b"PK\x03\x04" + b"\x14\x00" * 20 + b"payload.exe"),
        ("a PDF cut short", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"),
        ("text with a NUL far into it", b"plain text " * 200 + b"\x00binary"),
        ("a GIF", b"GIF89a" + b"\x00" * 40),
    ],
)
async def test_what_is_not_what_it_claims_is_refused_and_nothing_is_kept(
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
    upload: Upload,
    name: str,
    content: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]

    refused = await upload(case_id, content, kind="other")

    assert refused.status_code == 415, name
    assert refused.json()["detail"].startswith("file: ")
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["documents"] == []
    assert await asyncio.to_thread(_versions, settings, f"cases/{case_id}/") == []


async def test_received_evidence_is_locked_and_an_overwrite_changes_nothing_served(
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    referrals: Any,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]
    receipt = (await upload(case_id, document)).json()
    stored = await referrals.find_one({"_id": case_id})
    record = stored["documents"][0]
    bucket = settings.bucket_name("intake-documents")
    s3 = _s3(settings)

    retention = await asyncio.to_thread(
        s3.get_object_retention,
        bucket_name=bucket,
        object_name=record["object_key"],
        version_id=record["version_id"],
    )
    assert retention is not None
    assert retention.mode == settings.evidence_retention_mode
    assert retention.retain_until_date > datetime.now(UTC) + timedelta(hours=23)
    with pytest.raises(S3Error):
        await asyncio.to_thread(
            s3.remove_object,
            bucket_name=bucket,
            object_name=record["object_key"],
            version_id=record["version_id"],
        )
    forged = b"%PDF-1.4 a different letter %%EOF"
    await asyncio.to_thread(
        s3.put_object,
        bucket_name=bucket,
        object_name=record["object_key"],
        data=io.BytesIO(forged),
        length=len(forged),
    )

    served = await _download(intake, partner, case_id, receipt["document_id"], "original")

    assert served.status_code == 200
    assert served.content == document  # the recorded version, not the newest


async def test_a_download_that_fails_its_integrity_check_fails_loudly(
    intake: httpx.AsyncClient,
    partner: Headers,
    referrals: Any,
    create_referral: Create,
    upload: Upload,
    document: bytes,
) -> None:
    case_id = (await create_referral())["case_id"]
    first = (await upload(case_id, document)).json()
    second = (await upload(case_id, document + b"\n% second copy")).json()
    stored = await referrals.find_one({"_id": case_id})
    other_version = stored["documents"][1]["version_id"]

    # The recorded hash altered in the database...
    await referrals.update_one(
        {"_id": case_id, "documents.document_id": first["document_id"]},
        {"$set": {"documents.$.sha256": "0" * 64}},
    )
    # ...and a record pointed at other ciphertext (another object's content).
    await referrals.update_one(
        {"_id": case_id, "documents.document_id": second["document_id"]},
        {
            "$set": {
                "documents.$.object_key": stored["documents"][0]["object_key"],
                "documents.$.version_id": stored["documents"][0]["version_id"],
            }
        },
    )
    del other_version

    for document_id in (first["document_id"], second["document_id"]):
        response = await _download(intake, partner, case_id, document_id, "original")
        assert response.status_code == 500
        assert response.json()["detail"] == (
            "the stored document failed its integrity check; it was not sent"
        )


async def test_an_upload_cut_off_mid_file_stores_nothing(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
) -> None:
    case_id = (await create_referral())["case_id"]
    pieces: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"%PDF-1.7\n" + b"0" * 65_536, "more_body": True},
        {"type": "http.request", "body": b"1" * 65_536, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pieces.pop(0) if pieces else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/referrals/{case_id}/documents",
        "raw_path": f"/referrals/{case_id}/documents".encode(),
        "query_string": b"kind=other",
        "headers": [
            (b"authorization", partner["Authorization"].encode()),
            (b"content-length", b"10000000"),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await intake_app(scope, receive, send)

    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert "ended before the whole file arrived" in json.loads(body)["detail"]
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert view["documents"] == []
    assert await asyncio.to_thread(_versions, settings, f"cases/{case_id}/") == []


async def test_a_large_file_streams_in_parts_and_an_oversized_one_is_stopped(
    intake_app: FastAPI,
    intake: httpx.AsyncClient,
    settings: Settings,
    partner: Headers,
    create_referral: Create,
) -> None:
    """Past several storage parts (8 MiB each), so the upload is multipart both times."""
    case_id = (await create_referral())["case_id"]
    chunk = b"%PDF-1.7\n" + bytes(range(256)) * 4096
    big = chunk * 20 + b"\n%%EOF\n"  # about 20 MiB

    async def body(data: bytes) -> Any:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    received = await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "medical_records"},
        content=body(big),
        headers=partner,
    )
    assert received.status_code == 201, received.text
    assert received.json()["sha256"] == hashlib.sha256(big).hexdigest()
    assert received.json()["size"] == len(big)
    back = await _download(intake, partner, case_id, received.json()["document_id"], "original")
    assert hashlib.sha256(back.content).hexdigest() == received.json()["sha256"]

    intake_app.state.intake.documents._max_bytes = 18 * 1024 * 1024
    refused = await intake.post(
        f"/referrals/{case_id}/documents",
        params={"kind": "medical_records"},
        content=body(big),
        headers=partner,
    )
    assert refused.status_code == 413
    view = (await intake.get(f"/referrals/{case_id}", headers=partner)).json()
    assert len(view["documents"]) == 1
    keys = {name for name, _ in await asyncio.to_thread(_versions, settings, f"cases/{case_id}/")}
    assert len(keys) == 1
