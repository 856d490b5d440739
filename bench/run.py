"""One benchmark run: raw limits, then pipeline, uploads, statistics and memory, as ratios.

Each figure is set against a raw limit measured in the same run on the same servers.

    .venv/bin/python -m bench [--quick] [--referrals N] [--in-flight K]
                              [--sections raw,pipeline,hops,upload,statistics] [--profile SERVICE]

Starts the infrastructure and the three services in a state folder, on ports and in a fresh
namespace of its own, prints one table, writes the figures to ``bench/results/``, and stops
everything it started (also on Ctrl-C or failure). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench import actors, dbstats, figures, patterns, pipeline, raw, upload
from bench.profiling import profile_service, stop_profiled
from bench.stack import (
    ROOT,
    SERVICES,
    BenchStack,
    Ports,
    ignoring_interrupts,
    remove_namespace,
    remove_stale,
    rss_mib,
)
from bench.table import Row, render
from corroborate.settings import Settings

MIB = raw.MIB
SECTIONS = ("raw", "pipeline", "hops", "upload", "statistics")


@dataclass(frozen=True)
class Plan:
    """How much of everything a run does."""

    quick: bool
    referrals: int
    in_flight: int
    messages: int  # RabbitMQ: published in flight (a quarter as many again one at a time)
    documents: int  # database: inserted in flight (a quarter as many again one at a time)
    modified: int  # database: find-and-modify and conditional updates
    s3_objects: dict[int, int]  # size in bytes: how many puts and gets
    pipeline_budget_seconds: float  # no referral is started after this
    hop_referrals: int  # through each hop on its own
    upload_mib: int
    statistics_sizes: tuple[int, int]
    statistics_repeats: int
    settle_seconds: float  # after start-up, before idle memory is read


QUICK = Plan(
    quick=True,
    referrals=24,
    in_flight=16,
    messages=2000,
    documents=1000,
    modified=150,
    s3_objects={2 * MIB: 4, 32 * MIB: 2},
    pipeline_budget_seconds=45,
    hop_referrals=16,
    upload_mib=128,
    statistics_sizes=(1_000, 10_000),
    statistics_repeats=3,
    settle_seconds=2.0,
)
FULL = Plan(
    quick=False,
    referrals=500,
    in_flight=16,
    messages=10_000,
    documents=2_000,
    modified=300,
    s3_objects={8 * MIB: 8, 256 * MIB: 2},
    pipeline_budget_seconds=480,
    hop_referrals=160,
    upload_mib=1024,
    statistics_sizes=(10_000, 100_000),
    statistics_repeats=3,
    settle_seconds=5.0,
)


def say(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Run:
    """The measurements of one run, in order, and the rows they give. A section that fails
    (a server stops answering, say) gives a failed row and the run goes on with the next."""

    def __init__(self, stack: BenchStack, plan: Plan, sections: tuple[str, ...]) -> None:
        self.stack = stack
        self.plan = plan
        self.sections = sections
        self.results: dict[str, Any] = {}
        self.rows: list[Row] = []
        self.load = _load()
        self.profiled: str | None = None

    @property
    def settings(self) -> Settings:
        return self.stack.settings()

    def _service_rss(self) -> dict[str, float]:
        return {s: round(rss_mib(pid), 1) for s, pid in self.stack.pids().items()}

    async def _guarded(self, section: str, step: Callable[[], Awaitable[None]]) -> bool:
        try:
            await step()
        except Exception as exc:  # reported in the table; the other sections still run
            detail = f"{type(exc).__name__}: {exc}"
            say(f"{section} failed: {detail[:300]}")
            self.results.setdefault("errors", {})[section] = detail[:2000]
            self.rows.append(Row(section, "section failed", detail[:70], passed=False))
            return False
        return True

    async def measure(self) -> None:
        await asyncio.sleep(self.plan.settle_seconds)
        idle = self._service_rss()
        self.results["memory"] = {"idle_mib": idle}
        limits: dict[str, raw.Rate] = {}
        raw_done = await self._guarded("raw limits", lambda: self._raw(limits))
        if "pipeline" in self.sections:
            if raw_done:
                await self._guarded("pipeline", lambda: self._pipeline(limits))
            else:
                self.rows.append(Row("pipeline", "not run: no raw limits", "", passed=False))
        after = self._service_rss()
        self.results["memory"]["after_pipeline_mib"] = after
        if "hops" in self.sections:
            if raw_done:
                await self._guarded("hops", lambda: self._hops(limits))
            else:
                self.rows.append(Row("hops", "not run: no raw limits", "", passed=False))
        if "upload" in self.sections:
            await self._guarded("upload", self._upload)
        if "statistics" in self.sections:
            await self._guarded("statistics", self._statistics)
        self.rows += figures.memory_rows(idle, after if "pipeline" in self.sections else {})

    async def _raw(self, limits: dict[str, raw.Rate]) -> None:
        plan = self.plan
        say("raw limits: RabbitMQ")
        rabbit = await raw.rabbit_limits(
            self.settings, messages=plan.messages, window=plan.in_flight
        )
        say("raw limits: database")
        database = await raw.mongo_limits(
            self.settings, documents=plan.documents, modified=plan.modified, window=plan.in_flight
        )
        say("raw limits: S3")
        s3 = await asyncio.to_thread(raw.s3_limits, self.settings, sizes=plan.s3_objects)
        limits.update(
            publish=rabbit["publish"],
            insert=database["insert"],
            update=database["conditional_update"],
        )
        documents = plan.documents + plan.documents // 4
        self.results["raw"] = {
            "rabbitmq": {k: v.as_json() for k, v in rabbit.items()},
            "database": {k: v.as_json() for k, v in database.items()},
            "database_documents": documents,
            "s3": {k: v.as_json() for k, v in s3.items()},
        }
        self.rows += figures.raw_rows(
            {"rabbitmq": rabbit, "database": database, "s3": s3, "database_documents": documents}
        )

    async def _pipeline(self, limits: dict[str, raw.Rate]) -> None:
        plan = self.plan
        say(
            f"pipeline: {plan.referrals} referrals, {plan.in_flight} in flight, none started "
            f"after {plan.pipeline_budget_seconds:.0f} s"
        )
        before = await dbstats.snapshot(self.settings)
        run = await pipeline.run_pipeline(
            self.settings,
            referrals=plan.referrals,
            in_flight=plan.in_flight,
            budget_seconds=plan.pipeline_budget_seconds,
            progress=say,
        )
        summary = figures.summarise_pipeline(run, limits)
        summary["budget_seconds"] = plan.pipeline_budget_seconds
        self.results["pipeline"] = summary
        try:
            after = await dbstats.snapshot(self.settings)
            summary["database"] = dbstats.difference(before, after, per=summary["completed"])
        finally:  # the pipeline's figures stand even if the database stopped answering
            self.rows += figures.pipeline_rows(summary, limits)

    async def _hops(self, limits: dict[str, raw.Rate]) -> None:
        plan = self.plan
        say(f"hops: {plan.hop_referrals} referrals through each hop on its own")
        staged = await pipeline.run_staged(
            self.settings,
            referrals=plan.hop_referrals,
            in_flight=plan.in_flight,
            budget_seconds=plan.pipeline_budget_seconds,
            counters=lambda: dbstats.snapshot(self.settings),
            progress=say,
        )
        summary = figures.summarise_staged(staged, limits)
        self.results["hops"] = summary
        self.rows += figures.staged_rows(summary)

    async def _upload(self) -> None:
        say(f"upload: {self.plan.upload_mib} MiB through a fresh intake, then raw")
        uploaded = await upload.measure(
            self.settings, self.stack.environment(), self.plan.upload_mib
        )
        self.results["upload"] = uploaded
        self.rows += figures.upload_rows(uploaded)

    async def _statistics(self) -> None:
        small, large = self.plan.statistics_sizes
        say(f"statistics: seeding {small:,} then {large:,} cases")
        tokens = actors.Tokens(self.settings, organisation="bench-solicitors")
        statistics = await patterns.measure(
            self.settings,
            tokens.analyst,
            sizes=self.plan.statistics_sizes,
            repeats=self.plan.statistics_repeats,
        )
        self.results["statistics"] = statistics
        self.rows += figures.statistics_rows(statistics)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run (under two minutes)")
    parser.add_argument("--referrals", type=int, help="referrals through the pipeline")
    parser.add_argument("--in-flight", type=int, help="referrals in flight at once")
    parser.add_argument("--hop-referrals", type=int, help="referrals through each hop on its own")
    parser.add_argument("--budget", type=float, help="seconds after which no referral starts")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {','.join(SECTIONS)} (raw limits are always measured)",
    )
    parser.add_argument(
        "--profile",
        choices=SERVICES,
        help="run this service under pyinstrument (installed by hand; not a project dependency)",
    )
    parser.add_argument("--state-dir", default=".local/bench", help="state folder of the stack")
    return parser.parse_args(argv)


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _plan(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    if args.referrals:
        plan = replace(plan, referrals=args.referrals)
    if args.in_flight:
        plan = replace(plan, in_flight=args.in_flight)
    if args.hop_referrals:
        plan = replace(plan, hop_referrals=args.hop_referrals)
    if args.budget:
        plan = replace(plan, pipeline_budget_seconds=args.budget)
    return plan


def _stop(
    stack: BenchStack, *, infrastructure: bool, profiled: subprocess.Popen[bytes] | None
) -> None:
    """Services, then the namespace's queues, databases and buckets, then what this run
    started of the infrastructure; a second Ctrl-C does not cut this short."""
    with ignoring_interrupts():
        if profiled is not None:
            stop_profiled(profiled)
        say("stopping the services")
        stack.stop_services()
        if stack.env_file.exists():
            for problem in asyncio.run(remove_namespace(stack.settings())):
                say(f"clean-up: {problem}")
        if infrastructure:
            say("stopping the infrastructure")
            stack.stop_infrastructure()


def _write(run: Run, *, started_at: datetime, seconds: float, complete: bool) -> Path:
    plan = run.plan
    document = {
        "started_at": started_at.isoformat(),
        "seconds": round(seconds, 1),
        "quick": plan.quick,
        "complete": complete,
        "namespace": run.stack.namespace,
        "plan": {**plan.__dict__, "s3_objects": {str(k): v for k, v in plan.s3_objects.items()}},
        "sections": list(run.sections),
        "machine": {"cpus": os.cpu_count(), "load": run.load, "load_after": _load()},
        # The services' database options (retryWrites changes SecantusDB's cost per write).
        "mongo_url_options": dict(parse_qsl(urlsplit(run.stack.mongo_url()).query)),
        "profiled": run.profiled,
        **run.results,
        "rows": [row.as_json() for row in run.rows],
    }
    out = ROOT / "bench/results" / f"bench-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, default=str))
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = _plan(args)
    sections = tuple(s for s in args.sections.split(",") if s)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"unknown sections: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    namespace = f"bench{secrets.token_hex(4)}"
    stack = BenchStack(
        state_dir=(ROOT / args.state_dir).resolve(),
        namespace=namespace,
        ports=Ports(),
        max_document_bytes=(plan.upload_mib + 2) * MIB,
    )
    # This process reads the same settings as the services it starts, and nothing else.
    for key in [k for k in os.environ if k.startswith("CORROBORATE_")]:
        del os.environ[key]
    os.environ.update({k: v for k, v in stack.environment().items() if k.startswith("CORR")})
    signal.signal(signal.SIGTERM, _on_sigterm)

    started_at = datetime.now(UTC)
    began = time.perf_counter()
    run = Run(stack, plan, sections)
    stop_infrastructure = False
    profiler: subprocess.Popen[bytes] | None = None
    status = 0
    try:
        say(f"namespace {namespace}; state in {stack.state_dir}")
        stop_infrastructure = not stack.running("stack")
        say("starting the infrastructure")
        stack.start_infrastructure()
        for stale in asyncio.run(remove_stale(stack.settings())):
            say(f"removed what an interrupted run left behind: namespace {stale}")
        say("starting the services")
        stack.start_services()
        if args.profile:
            out, profiler = profile_service(stack, args.profile)
            run.profiled = str(out.relative_to(ROOT))
            say(f"{args.profile} runs under pyinstrument; its profile goes to {run.profiled}")
        asyncio.run(run.measure())
        status = 1 if run.results.get("errors") else 0  # a MISS is a finding, not a failure
    except KeyboardInterrupt:
        say("interrupted; stopping what this run started")
        status = 130
    except Exception as exc:
        say(f"failed: {type(exc).__name__}: {exc}")
        status = 1
    finally:
        _stop(stack, infrastructure=stop_infrastructure, profiled=profiler)
    if not run.rows:
        return status or 1
    seconds = time.perf_counter() - began
    out = _write(run, started_at=started_at, seconds=seconds, complete=status == 0)
    print(render(run.rows))
    print(
        f"\n{'quick' if plan.quick else 'full'} run in {seconds:.0f} s on {os.cpu_count()} CPUs "
        f"(load average {run.load[0]} at the start, {_load()[0]} at the end); "
        f"figures in {out.relative_to(ROOT)}"
        + (f"; profile in {run.profiled}" if run.profiled else "")
    )
    return status
