"""Intake's document upload against a raw S3 put of the same bytes, and intake's memory.

Starts an intake process of its own (so its resident memory is the upload's alone) against a
running stack, streams one large file through ``POST /referrals/{id}/documents`` (typed from
its bytes, hashed, encrypted, stored, locked), then puts the same bytes straight into S3 with
the minio SDK: in 8 MiB parts like intake, once with the SDK's default three parts in flight
(the raw limit) and once one part at a time (as intake sends them). Prints the rates, their
ratios, and intake's resident memory before and at its peak during the upload.

``python -m bench`` runs this as one of its sections; on its own, against the stack that
``deploy/local/stack.sh start`` brought up:

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
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx
from minio import Minio

from corroborate.auth import SERVICE_AUDIENCES, Role, issue_token
from corroborate.settings import Settings
from corroborate.walk.samples import sample_referral

ROOT = Path(__file__).resolve().parent.parent
PIECE = 1 << 20
PART = 8 * PIECE  # intake's part size (corroborate.storage.ObjectStore.PART_SIZE)
BLOCK = os.urandom(PIECE)  # incompressible, as a scanned document is


def _content(mib: int) -> Iterator[bytes]:
    """A PDF-shaped file of ``mib`` MiB (its head and tail are what intake checks)."""
    yield b"%PDF-1.7\n"
    for _ in range(mib):
        yield BLOCK
    yield b"\n%%EOF\n"


def content_size(mib: int) -> int:
    return sum(len(piece) for piece in (b"%PDF-1.7\n", b"\n%%EOF\n")) + mib * PIECE


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


def start_intake(environment: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """An intake process of our own on a free loopback port, once it answers /readyz."""
    port = _free_port()
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
        env=dict(environment),
        start_new_session=True,  # a Ctrl-C reaches the benchmark, which stops it
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return intake, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or intake.poll() is not None:
            stop_intake(intake)
            raise RuntimeError("the upload's intake did not become ready")
        time.sleep(0.3)


def stop_intake(intake: subprocess.Popen[bytes]) -> None:
    intake.terminate()
    try:
        intake.wait(timeout=60)
    except subprocess.TimeoutExpired:
        intake.kill()
        intake.wait()


async def upload_through_intake(
    settings: Settings, base: str, mib: int, pid: int
) -> dict[str, Any]:
    """Stream ``mib`` MiB through intake's upload; sample its VmRSS every 20 ms."""
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
    async with httpx.AsyncClient(base_url=base, timeout=900) as http:
        form = sample_referral("Bench Person")
        created = await http.post("/referrals", json=form, headers=headers)
        created.raise_for_status()
        case_id = created.json()["case_id"]
        await asyncio.sleep(1.0)  # let the process settle after the first request
        idle_kib = _rss_kib(pid)
        peak_kib = idle_kib
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak_kib
            while not done.is_set():
                peak_kib = max(peak_kib, _rss_kib(pid))
                await asyncio.sleep(0.02)

        async def body() -> AsyncIterator[bytes]:
            for piece in _content(mib):
                yield piece

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        try:
            response = await http.post(
                f"/referrals/{case_id}/documents",
                params={"kind": "medical_records"},
                content=body(),
                headers=headers,
            )
            seconds = time.perf_counter() - started
        finally:
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


class _Reader:
    """The same bytes as a file-like object the SDK reads part by part."""

    def __init__(self, mib: int) -> None:
        self._pieces = _content(mib)
        self._pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._pending) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._pending += piece
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def raw_put(settings: Settings, mib: int, *, parallel: int = 3) -> dict[str, Any]:
    """The same bytes straight into S3, streamed in intake's part size."""
    client = Minio(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
    )
    bucket = f"{settings.namespace}-bench-upload"
    if not client.bucket_exists(bucket_name=bucket):
        client.make_bucket(bucket_name=bucket)
    try:
        started = time.perf_counter()
        client.put_object(
            bucket_name=bucket,
            object_name="raw",
            data=cast(BinaryIO, _Reader(mib)),
            length=-1,
            part_size=PART,
            num_parallel_uploads=parallel,
        )
        seconds = time.perf_counter() - started
    finally:
        client.remove_object(bucket_name=bucket, object_name="raw")
        client.remove_bucket(bucket_name=bucket)
    size = content_size(mib)
    return {
        "bytes": size,
        "parts_in_flight": parallel,
        "seconds": round(seconds, 2),
        "mib_per_s": round(size / seconds / PIECE, 1),
    }


async def measure(settings: Settings, environment: Mapping[str, str], mib: int) -> dict[str, Any]:
    """The whole comparison: through a fresh intake, then raw (default, then one part at a
    time)."""
    intake, base = await asyncio.to_thread(start_intake, environment)
    try:
        through_intake = await upload_through_intake(settings, base, mib, intake.pid)
    finally:
        await asyncio.to_thread(stop_intake, intake)
    raw = await asyncio.to_thread(raw_put, settings, mib)
    serial = await asyncio.to_thread(raw_put, settings, mib, parallel=1)
    return {
        "mib": mib,
        "intake_upload": through_intake,
        "raw_s3_put": raw,
        "raw_s3_put_one_part_at_a_time": serial,
        "ratio": round(through_intake["mib_per_s"] / raw["mib_per_s"], 3),
        "ratio_to_one_part_at_a_time": round(through_intake["mib_per_s"] / serial["mib_per_s"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the file (MiB)")
    args = parser.parse_args()
    env_file = os.environ.setdefault("CORROBORATE_ENV_FILE", str(ROOT / ".local/corroborate.env"))
    settings = Settings(
        _env_file=env_file,
        max_document_bytes=(args.mib + 1) * PIECE,
        evidence_retention_mode="GOVERNANCE",
        evidence_retention_days=1,
    )
    environment = {
        **os.environ,
        "CORROBORATE_MAX_DOCUMENT_BYTES": str(settings.max_document_bytes),
        "CORROBORATE_EVIDENCE_RETENTION_MODE": "GOVERNANCE",
        "CORROBORATE_EVIDENCE_RETENTION_DAYS": "1",
        "CORROBORATE_LOG_LEVEL": "WARNING",
    }
    try:
        result = asyncio.run(measure(settings, environment, args.mib))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    through_intake, raw = result["intake_upload"], result["raw_s3_put"]
    serial = result["raw_s3_put_one_part_at_a_time"]
    print(f"upload of {args.mib} MiB")
    print(
        f"  through intake : {through_intake['mib_per_s']:>7} MiB/s  "
        f"({through_intake['seconds']} s)"
    )
    print(f"  raw S3 put     : {raw['mib_per_s']:>7} MiB/s  ({raw['seconds']} s)")
    print(f"  raw, 1 part    : {serial['mib_per_s']:>7} MiB/s  ({serial['seconds']} s)")
    print(f"  ratio          : {result['ratio']:>7}  (target >= 0.7)")
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
