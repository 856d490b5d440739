"""From what was measured to the figures: hop rates, latencies, breakdowns, ratios, targets."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from bench.pipeline import HOPS, MARKS, Hop, PipelineRun, Referral, StagedRun
from bench.raw import Rate
from bench.table import Row, at_least, below, info

HOP_TARGET = 0.5
UPLOAD_TARGET = 0.7
UPLOAD_RSS_LIMIT_MIB = 64.0
STATISTICS_LIMIT = 2.0
IDLE_RSS_LIMIT_MIB = 150.0


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating between the nearest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "mean": round(sum(values) / len(values), 4) if values else math.nan,
        "p50": round(percentile(values, 50), 4),
        "p95": round(percentile(values, 95), 4),
        "p99": round(percentile(values, 99), 4),
        "max": round(max(values), 4) if values else math.nan,
    }


def _spread_text(values: dict[str, float]) -> str:
    return f"p50 {values['p50']:.2f} / p95 {values['p95']:.2f} / p99 {values['p99']:.2f} s"


def binding_limit(hop: Hop, raw: dict[str, Rate]) -> tuple[float, str]:
    """Referrals per second the raw servers allow through ``hop``: the slower of publishing and
    inserting, divided by the events the hop writes per referral (or, for a hop writing none,
    the insert rate divided by its database writes)."""
    publish, insert = raw["publish"].per_second, raw["insert"].per_second
    if hop.events:
        slower, which = (publish, "publish") if publish < insert else (insert, "insert")
        return slower / hop.events, f"{which}/{hop.events} events"
    return insert / hop.writes, f"insert/{hop.writes} writes"


def _completed(run: PipelineRun) -> list[Referral]:
    return [r for r in run.referrals if r.error is None and all(m in r.marks for m in MARKS)]


def summarise_pipeline(run: PipelineRun, raw: dict[str, Rate]) -> dict[str, Any]:
    done = _completed(run)
    skipped = [
        r for r in run.referrals if r.error is not None and r.error.startswith("not started")
    ]
    summary: dict[str, Any] = {
        "referrals": len(run.referrals),
        "completed": len(done),
        "not_started": len(skipped),
        "not_started_because": dict(
            Counter(str(r.error).removeprefix("not started: ") for r in skipped)
        ),
        "failed_count": sum(1 for r in run.referrals if r.error and r not in skipped),
        "failed": [r.error for r in run.referrals if r.error and r not in skipped][:20],
        "seconds": round(run.seconds, 2),
        "polls": dict(run.polls),
    }
    if not done:
        return summary
    first = min(r.marks["start"] for r in done)
    last = max(r.marks["partner_issued"] for r in done)
    summary["end_to_end"] = {
        "referrals_per_second": round(len(done) / (last - first), 3),
        "events_per_referral": sum(h.events for h in HOPS),
    }
    hops = {}
    busy = {h.key: sum(r.marks[h.end] - r.marks[h.start] for r in done) for h in HOPS}
    for hop in HOPS:
        window = max(r.marks[hop.end] for r in done) - min(r.marks[hop.start] for r in done)
        rate = len(done) / window
        limit, basis = binding_limit(hop, raw)
        hops[hop.key] = {
            "title": hop.title,
            "events": list(hop.event_types),
            "referrals_per_second": round(rate, 3),
            "binding_limit_per_second": round(limit, 1),
            "binding_basis": basis,
            "ratio": round(rate / limit, 5),
            "latency_seconds": spread([r.marks[hop.end] - r.marks[hop.start] for r in done]),
            "share_of_referral_time": round(busy[hop.key] / sum(busy.values()), 3),
        }
    summary["hops"] = hops

    def between(start: str, end: str) -> dict[str, float]:
        return spread([r.marks[end] - r.marks[start] for r in done])

    summary["latency_seconds"] = {
        "submit_to_triage_visible": between("submit", "triage_visible"),
        "signoff_to_issued": between("sign_off", "issued"),
        "signoff_to_partner_sees_issued": between("sign_off", "partner_issued"),
        "submit_to_partner_sees_issued": between("submit", "partner_issued"),
    }
    summary["breakdown_seconds"] = _breakdown(run, done)
    summary["events_per_referral"] = _events_per_referral(run, done)
    return summary


def _events_per_referral(run: PipelineRun, done: list[Referral]) -> dict[str, float]:
    cases = {r.case_id for r in done}
    counted = Counter(kind for kind, case, _at in run.events if case in cases)
    return {kind: round(n / len(done), 3) for kind, n in sorted(counted.items())}


def _breakdown(run: PipelineRun, done: list[Referral]) -> dict[str, dict[str, float]]:
    """Each asynchronous hop split at the moments its events reached the broker (as the spy
    queue received them)."""
    seen: dict[tuple[str, str], float] = {}
    for kind, case, at in run.events:
        seen.setdefault((case, kind), at)
    steps = {
        "submit: request -> intake answers": ("submit", None, "submitted", None),
        "submit: request -> referral.submitted at broker": (
            "submit",
            None,
            None,
            "referral.submitted",
        ),
        "submitted -> acknowledged at broker (review consumed)": (
            None,
            "referral.submitted",
            None,
            "referral.acknowledged",
        ),
        "acknowledged -> seen in triage queue": (
            None,
            "referral.acknowledged",
            "triage_visible",
            None,
        ),
        "approve answered -> review.completed at broker": (
            "assessed",
            None,
            None,
            "review.completed",
        ),
        "review.completed -> seen in legal queue": (
            None,
            "review.completed",
            "legal_visible",
            None,
        ),
        "sign-off: request -> reporting answers": ("sign_off", None, "issued", None),
        "sign-off: request -> report.issued at broker": (
            "sign_off",
            None,
            None,
            "report.issued",
        ),
        "report.issued -> partner sees issued": (
            None,
            "report.issued",
            "partner_issued",
            None,
        ),
    }
    out = {}
    for name, (mark_from, event_from, mark_to, event_to) in steps.items():
        values = []
        for r in done:
            begin = (
                r.marks[mark_from] if mark_from else seen.get((str(r.case_id), event_from or ""))
            )
            end = r.marks[mark_to] if mark_to else seen.get((str(r.case_id), event_to or ""))
            if begin is not None and end is not None:
                values.append(end - begin)
        out[name] = spread(values)
    return out


def staged_limit(
    *, inserts: float, updates: float, events: float, raw: dict[str, Rate]
) -> tuple[float, str]:
    """Referrals per second the raw servers allow through a hop that writes, per referral,
    ``inserts`` and ``updates`` (as the database counted them) and publishes ``events``: the
    slower of the database (each write at its raw rate, one after another) and the broker."""
    candidates = []
    if inserts or updates:
        seconds = inserts / raw["insert"].per_second + updates / raw["update"].per_second
        candidates.append((1 / seconds, f"DB {inserts:.0f} inserts + {updates:.0f} updates"))
    if events:
        candidates.append((raw["publish"].per_second / events, f"publish {events:.0f} events"))
    if not candidates:
        return math.inf, "no writes"
    return min(candidates)


def summarise_staged(run: StagedRun, raw: dict[str, Rate]) -> dict[str, Any]:
    """Each hop's throughput on its own, against the raw limit its own writes set."""
    titles = {hop.key: hop.title for hop in HOPS}
    hops: dict[str, Any] = {}
    for stage in run.stages:
        done = len(stage.times)
        if not done:
            hops[stage.key] = {"title": titles[stage.key], "completed": 0}
            continue
        span = max(t1 for _t0, t1 in stage.times) - min(t0 for t0, _t1 in stage.times)
        rate = done / span
        before = stage.counters_before.get("opcounters", {})
        after = stage.counters_after.get("opcounters", {})
        per = {
            op: (after.get(op, 0) - before.get(op, 0)) / done
            for op in ("insert", "update", "query")
        }
        events = sum(stage.events.values()) / done
        limit, basis = staged_limit(
            inserts=per["insert"], updates=per["update"], events=events, raw=raw
        )
        hops[stage.key] = {
            "title": titles[stage.key],
            "attempted": stage.attempted,
            "completed": done,
            "seconds": round(span, 2),
            "referrals_per_second": round(rate, 3),
            "latency_seconds": spread([t1 - t0 for t0, t1 in stage.times]),
            "database_per_referral": {op: round(n, 1) for op, n in per.items()},
            "events_per_referral": {
                kind: round(n / done, 2) for kind, n in sorted(stage.events.items())
            },
            "binding_limit_per_second": round(limit, 1),
            "binding_basis": basis,
            "ratio": round(rate / limit, 4),
        }
    failed = [r.error for r in run.referrals if r.error]
    return {
        "referrals": len(run.referrals),
        "completed": sum(1 for r in run.referrals if r.error is None),
        "failed": failed[:20],
        "seconds": round(run.seconds, 2),
        "hops": hops,
    }


def staged_rows(summary: dict[str, Any]) -> list[Row]:
    rows = []
    for hop in summary["hops"].values():
        if not hop["completed"]:
            rows.append(Row("hops", f"{hop['title']}: none completed", "", passed=False))
            continue
        rows.append(
            at_least(
                "hops",
                f"{hop['title']} [bound {hop['binding_limit_per_second']:,.0f}/s: "
                f"{hop['binding_basis']}]",
                hop["referrals_per_second"],
                "ref/s",
                ratio=hop["ratio"],
                minimum=HOP_TARGET,
            )
        )
    return rows


# --- rows of the table ----------------------------------------------------------------------


def raw_rows(raw: dict[str, Any]) -> list[Row]:
    rabbit, mongo, s3 = raw["rabbitmq"], raw["database"], raw["s3"]
    window = rabbit["publish"].concurrency
    rows = [
        info(
            "raw limits",
            f"RabbitMQ publish (persistent, confirmed, quorum), {window} in flight",
            rabbit["publish"].per_second,
            "msg/s",
            digits=0,
        ),
        info(
            "raw limits",
            "RabbitMQ publish, one at a time",
            rabbit["publish_serial"].per_second,
            "msg/s",
            digits=0,
        ),
        info(
            "raw limits",
            f"RabbitMQ consume-and-ack, prefetch {rabbit['consume_ack'].concurrency}",
            rabbit["consume_ack"].per_second,
            "msg/s",
            digits=0,
        ),
        info(
            "raw limits",
            f"DB insert_one, {mongo['insert'].concurrency} in flight",
            mongo["insert"].per_second,
            "doc/s",
            digits=0,
        ),
        info(
            "raw limits",
            "DB insert_one, one at a time",
            mongo["insert_serial"].per_second,
            "doc/s",
            digits=0,
        ),
        info(
            "raw limits",
            f"DB find-and-modify on version ({raw['database_documents']:,} docs)",
            mongo["find_and_modify"].per_second,
            "op/s",
            digits=0,
        ),
        info(
            "raw limits",
            "DB update_one on version (services' save)",
            mongo["conditional_update"].per_second,
            "op/s",
            digits=0,
        ),
    ]
    rows += [
        info("raw limits", f"S3 {name.replace('_', ' ')}", value.mib_per_second, "MiB/s")
        for name, value in s3.items()
    ]
    return rows


def pipeline_rows(summary: dict[str, Any], raw: dict[str, Rate]) -> list[Row]:
    unstarted = summary["not_started"]
    why = ", ".join(f"{n} {reason}" for reason, n in summary["not_started_because"].items())
    failed = summary["failed_count"]
    rows = [
        Row(
            "pipeline",
            "referrals completed"
            + (f"; {failed} failed" if failed else "")
            + (f"; {why}" if unstarted else ""),
            f"{summary['completed']} of {summary['referrals']}",
            target="all",
            passed=summary["completed"] == summary["referrals"],
        )
    ]
    if "hops" not in summary:
        return rows
    end = summary["end_to_end"]
    rows.append(
        info(
            "pipeline",
            "end to end (draft -> partner sees issued)",
            end["referrals_per_second"],
            "ref/s",
            digits=2,
        )
    )
    rows += database_rows(summary.get("database", {}), raw)
    names = {
        "submit_to_triage_visible": "submit -> triage item visible",
        "signoff_to_issued": "sign-off -> report issued (HTTP)",
        "signoff_to_partner_sees_issued": "sign-off -> partner sees issued",
        "submit_to_partner_sees_issued": "submit -> partner sees issued",
    }
    for key, title in names.items():
        values = summary["latency_seconds"][key]
        rows.append(Row("latency", title, _spread_text(values), value=values["p50"], unit="s"))
    for title, values in summary["breakdown_seconds"].items():
        if values["count"]:
            rows.append(
                Row("breakdown", title, _spread_text(values), value=values["p50"], unit="s")
            )
    return rows


def database_rows(database: dict[str, Any], raw: dict[str, Rate]) -> list[Row]:
    """Writes per referral as the database counted them, the bound they set at the raw insert
    rate, and the three collections the database spent most time on."""
    per = database.get("operations_per_referral") or {}
    rows = []
    if per:
        writes = per.get("insert", 0) + per.get("update", 0)
        bound = raw["insert"].per_second / writes if writes else math.nan
        rows.append(
            Row(
                "pipeline",
                f"DB writes per referral ({per.get('insert', 0):.0f} inserts, "
                f"{per.get('update', 0):.0f} updates; {per.get('query', 0):.0f} queries) "
                f"-> bound {bound:.1f} ref/s",
                f"{writes:,.0f}",
                value=writes,
            )
        )
    for item in database.get("collections", [])[:3]:
        ops = ", ".join(f"{n} {op}" for op, n in item["operations"].items())
        rows.append(
            Row(
                "pipeline",
                f"DB time on {item['collection']} ({ops}; {item['documents']} docs)",
                f"{item['seconds']:,.1f} s",
                value=item["seconds"],
                unit="s",
            )
        )
    return rows


def upload_rows(upload: dict[str, Any]) -> list[Row]:
    through, raw = upload["intake_upload"], upload["raw_s3_put"]
    serial = upload["raw_s3_put_one_part_at_a_time"]
    size = f"{upload['mib']} MiB"
    return [
        info(
            "upload",
            f"raw S3 put of the same {size} (8 MiB parts, 3 in flight)",
            raw["mib_per_s"],
            "MiB/s",
        ),
        info("upload", "raw S3 put, one part at a time", serial["mib_per_s"], "MiB/s"),
        at_least(
            "upload",
            f"intake upload of {size} vs raw put",
            through["mib_per_s"],
            "MiB/s",
            ratio=upload["ratio"],
            minimum=UPLOAD_TARGET,
        ),
        below(
            "upload",
            f"intake peak RSS growth during {size} (from {through['rss_before_mib']:.0f} MiB)",
            through["rss_growth_mib"],
            "MiB",
            limit=UPLOAD_RSS_LIMIT_MIB,
        ),
    ]


def statistics_rows(result: dict[str, Any]) -> list[Row]:
    small, large = result["sizes"]
    at_small, at_large = result["small"]["query"], result["large"]["query"]
    t_small, t_large = at_small["seconds"], at_large["seconds"]
    new = at_small["after_new_cases"]["filed"]
    return [
        info(
            "statistics",
            f"patterns by country,year,method at {small:,} cases",
            t_small,
            "s",
            digits=3,
        ),
        Row(
            "statistics",
            f"... at {large:,} cases, vs at {small:,}",
            f"{t_large:,.3f} s",
            ratio=result["ratio"],
            target=f"ratio <= {STATISTICS_LIMIT:g}",
            passed=result["ratio"] <= STATISTICS_LIMIT,
            value=t_large,
            unit="s",
        ),
        Row(
            "statistics",
            f"... after {new} more cases filed, at {large:,} vs at {small:,}",
            f"{at_large['after_new_cases']['seconds']:,.3f} s",
            ratio=result["ratio_after_new_cases"],
            target=f"ratio <= {STATISTICS_LIMIT:g}",
            passed=result["ratio_after_new_cases"] <= STATISTICS_LIMIT,
            value=at_large["after_new_cases"]["seconds"],
            unit="s",
        ),
        info(
            "statistics",
            f"first answer after seeding {small:,} (counts every case, once)",
            at_small["first_after_seeding_seconds"],
            "s",
            digits=3,
        ),
        info(
            "statistics",
            f"first answer after seeding up to {large:,} (counts the cases added)",
            at_large["first_after_seeding_seconds"],
            "s",
            digits=3,
        ),
    ]


def memory_rows(idle: dict[str, float], after: dict[str, float]) -> list[Row]:
    rows = [
        below(
            "memory", f"{service} RSS at idle after start-up", mib, "MiB", limit=IDLE_RSS_LIMIT_MIB
        )
        for service, mib in idle.items()
    ]
    rows += [
        info(
            "memory",
            f"{service} RSS after the pipeline ({mib - idle.get(service, 0):+.0f})",
            mib,
            "MiB",
        )
        for service, mib in after.items()
    ]
    return rows
