"""Intake's document upload against a raw S3 put of the same bytes, and intake's memory.

Starts its own intake process (so its resident memory is its own) against the stack that
``deploy/local/stack.sh start`` brought up, streams one large file through
``POST /referrals/{id}/documents`` (typed from its bytes, hashed, encrypted, stored, locked), then
puts the same bytes straight into S3 with the minio SDK, and prints both rates, their ratio, and
the intake process's resident memory before and at its peak during the upload.

    .venv/bin/python bench/upload.py [--mib 1024]

Results are also written as JSON under bench/results/ (not kept in git).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx
from minio import Minio

from corroborate.auth import SERVICE_AUDIENCES, Role, issue_token
from corroborate.cli.demo import sample_referral
from corroborate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PIECE = 1 << 20
BLOCK = os.urandom(PIECE)  # incompressible, as a scanned document is


def _content(mib: int) -> Iterator[bytes]:
    """A PDF-shaped file of ``mib`` MiB (its head and tail are what intake checks)."""
    yield b"%PDF-1.7\n"
    for _ in range(mib):
        yield BLOCK
    yield b"\n%%EOF\n"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _upload(settings: Settings, base: str, mib: int, pid: int) -> dict[str, Any]:
    assert settings.auth_private_key_file is not None
    token = issue_token(
        private_key_pem=settings.auth_private_key_file.read_text(),
        issuer=settings.auth_issuer,
        subject="bench-solicitor",
        role=Role.PARTNER,
        organisation="bench-solicitors",
        audiences=[SERVICE_AUDIENCES["intake"]],
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        form = sample_referral("Bench Person")
        created = await http.post("/referrals", json=form, headers=headers)
        created.raise_for_status()
        case_id = created.json()["case_id"]
        idle_kib = _rss_kib(pid)
        peak_kib = idle_kib
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak_kib
            while not done.is_set():
                peak_kib = max(peak_kib, _rss_kib(pid))
                await asyncio.sleep(0.05)

        async def body() -> AsyncIterator[bytes]:
            for piece in _content(mib):
                yield piece

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        response = await http.post(
            f"/referrals/{case_id}/documents",
            params={"kind": "medical_records"},
            content=body(),
            headers=headers,
        )
        seconds = time.perf_counter() - started
        done.set()
        await sampler
        response.raise_for_status()
    size = response.json()["size"]
    return {
        "bytes": size,
        "seconds": round(seconds, 2),
        "mib_per_s": round(size / seconds / PIECE, 1),
        "rss_before_mib": round(idle_kib / 1024, 1),
        "rss_peak_mib": round(peak_kib / 1024, 1),
        "rss_growth_mib": round((peak_kib - idle_kib) / 1024, 1),
    }


def _raw_put(settings: Settings, mib: int) -> dict[str, Any]:
    client = Minio(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
    bucket = f"{settings.namespace}-bench-raw"
    if not client.bucket_exists(bucket_name=bucket):
        client.make_bucket(bucket_name=bucket)

    class Reader:
        def __init__(self) -> None:
            self._pieces = _content(mib)
            self._pending = b""

        def read(self, size: int = -1) -> bytes:
            while len(self._pending) < size:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._pending += piece
            out, self._pending = self._pending[:size], self._pending[size:]
            return out

    started = time.perf_counter()
    client.put_object(
        bucket_name=bucket,
        object_name="raw",
        data=cast(BinaryIO, Reader()),
        length=-1,
        part_size=16 * PIECE,
    )
    seconds = time.perf_counter() - started
    client.remove_object(bucket_name=bucket, object_name="raw")
    size = mib * PIECE + 16
    rate = round(size / seconds / PIECE, 1)
    return {"bytes": size, "seconds": round(seconds, 2), "mib_per_s": rate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the file (MiB)")
    args = parser.parse_args()
    env_file = os.environ.setdefault("CORROBORATE_ENV_FILE", str(ROOT / ".local/corroborate.env"))
    settings = Settings(
        _env_file=env_file,
        max_document_bytes=(args.mib + 1) * PIECE,
        evidence_retention_mode="GOVERNANCE",
        evidence_retention_days=1,
    )
    port = _free_port()
    environment = {
        **os.environ,
        "CORROBORATE_MAX_DOCUMENT_BYTES": str(settings.max_document_bytes),
        "CORROBORATE_EVIDENCE_RETENTION_MODE": "GOVERNANCE",
        "CORROBORATE_EVIDENCE_RETENTION_DAYS": "1",
        "CORROBORATE_LOG_LEVEL": "WARNING",
    }
    intake = subprocess.Popen(  # our own service, on loopback
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "--factory",
            "intake.bootstrap:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=environment,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or intake.poll() is not None:
                print("intake did not become ready", file=sys.stderr)
                return 1
            time.sleep(0.3)
        through_intake = asyncio.run(_upload(settings, base, args.mib, intake.pid))
    finally:
        intake.terminate()
        intake.wait(timeout=60)
    raw = _raw_put(settings, args.mib)
    ratio = round(through_intake["mib_per_s"] / raw["mib_per_s"], 2)
    result = {"mib": args.mib, "intake_upload": through_intake, "raw_s3_put": raw, "ratio": ratio}
    print(f"upload of {args.mib} MiB")
    print(
        f"  through intake : {through_intake['mib_per_s']:>7} MiB/s  "
        f"({through_intake['seconds']} s)"
    )
    print(f"  raw S3 put     : {raw['mib_per_s']:>7} MiB/s  ({raw['seconds']} s)")
    print(f"  ratio          : {ratio:>7}  (target >= 0.7)")
    print(
        f"  intake RSS     : {through_intake['rss_before_mib']} MiB before, "
        f"{through_intake['rss_peak_mib']} MiB peak "
        f"(+{through_intake['rss_growth_mib']} MiB; target growth < 64 MiB)"
    )
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"upload-{int(time.time())}.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
