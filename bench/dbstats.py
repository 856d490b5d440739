"""What the database server says it did: operation counters, and time per collection.

``serverStatus.opcounters`` counts commands of every client; ``top`` gives per-collection
counts and time (microseconds, lock waits included) on MongoDB and on SecantusDB. The
difference across the pipeline says where the database's time went.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from corroborate.settings import Settings

OPERATIONS = ("queries", "insert", "update", "remove", "getmore", "commands")


def _client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        settings.mongo_url.get_secret_value(), serverSelectionTimeoutMS=5_000, timeoutMS=30_000
    )


async def snapshot(settings: Settings) -> dict[str, Any]:
    """Counters and per-collection totals of the run's namespace, now; empty where the
    server does not say."""
    client = _client(settings)
    prefix = f"{settings.namespace.replace('-', '_')}_"
    out: dict[str, Any] = {"opcounters": {}, "collections": {}, "documents": {}}
    try:
        try:
            status = await client.admin.command("serverStatus")
            out["opcounters"] = {k: int(v) for k, v in status.get("opcounters", {}).items()}
            totals = (await client.admin.command("top")).get("totals", {})
        except Exception:  # a server without these commands: the figures are left out
            return out
        for name, figures in totals.items():
            if not name.startswith(prefix) or not isinstance(figures, dict):
                continue
            out["collections"][name.removeprefix(prefix)] = {
                op: (int(figures[op]["count"]), int(figures[op]["time"]))
                for op in (*OPERATIONS, "total")
                if isinstance(figures.get(op), dict)
            }
            database, _, collection = name.partition(".")
            out["documents"][name.removeprefix(prefix)] = await client[database][
                collection
            ].estimated_document_count()
    finally:
        await client.close()
    return out


def difference(before: dict[str, Any], after: dict[str, Any], *, per: int) -> dict[str, Any]:
    """Operations per referral, and each collection's share of the database's time."""
    counters = {
        k: round((v - before["opcounters"].get(k, 0)) / max(per, 1), 1)
        for k, v in after["opcounters"].items()
    }
    collections = []
    for name, ops in after["collections"].items():
        earlier = before["collections"].get(name, {})
        spent = {
            op: (count - earlier.get(op, (0, 0))[0], micros - earlier.get(op, (0, 0))[1])
            for op, (count, micros) in ops.items()
        }
        total = spent.get("total", (0, 0))
        if not total[0]:
            continue
        collections.append(
            {
                "collection": name,
                "seconds": round(total[1] / 1e6, 2),
                "operations": {op: n for op, (n, _t) in spent.items() if op != "total" and n},
                "documents": after["documents"].get(name),
            }
        )
    collections.sort(key=lambda c: -float(c["seconds"]))
    return {"operations_per_referral": counters, "collections": collections}
