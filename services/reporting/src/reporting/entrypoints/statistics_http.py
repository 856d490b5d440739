"""Statistics over HTTP: patterns of torture for analysts, operations for managers."""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from corroborate.auth import Principal, Role
from corroborate.http import FieldError, InvalidFields, problem_responses, require_roles
from reporting.domain.statistics import Cell, Table
from reporting.statistics_service import Statistics

Analyst = Annotated[Principal, Depends(require_roles(Role.ANALYST))]
Manager = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
Dimension = Literal["country", "year", "method", "perpetrator", "gender", "age_band", "origin"]


def _statistics(request: Request) -> Statistics:
    statistics: Statistics = request.app.state.statistics
    return statistics


StatisticsService = Annotated[Statistics, Depends(_statistics)]


class CellView(BaseModel):
    key: dict[str, str]
    count: int | None = Field(description="Rounded; null when suppressed.")


class PatternTable(BaseModel):
    by: list[str]
    filters: dict[str, list[str]]
    threshold: int = Field(description="Counts below this are never shown.")
    rounded_to: int = Field(description="Every count shown is rounded to a multiple of this.")
    total: int | None
    cells: list[CellView]
    margins: dict[str, list[CellView]]


class MonthView(BaseModel):
    month: str
    received: int
    accepted: int
    declined: int


class OperationsView(BaseModel):
    months: list[MonthView]
    median_days_acceptance_to_issue: float | None
    issued: int
    issued_within_deadline: int
    share_within_deadline: float | None
    backlog: dict[str, int] = Field(description="Open cases by stage.")


def _cells(by: tuple[str, ...], cells: list[Cell]) -> list[CellView]:
    return [CellView(key=dict(zip(by, c.key, strict=True)), count=c.count) for c in cells]


def _table_view(table: Table, filters: dict[str, set[str]]) -> PatternTable:
    return PatternTable(
        by=list(table.by),
        filters={d: sorted(v) for d, v in filters.items()},
        threshold=table.threshold,
        rounded_to=table.base,
        total=table.total.count,
        cells=_cells(table.by, table.cells),
        margins={d: _cells((d,), cells) for d, cells in table.margins.items()},
    )


def _csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*table.by, "count"])
    for cell in table.cells:
        writer.writerow([*cell.key, "suppressed" if cell.count is None else cell.count])
    return out.getvalue()


def _filters(**given: list[str]) -> dict[str, set[str]]:
    return {d: set(values) for d, values in given.items() if values}


def _chart(table: Table, country: str) -> str:
    """Methods by year for one country, as an SVG bar chart (suppressed cells drawn empty)."""
    years = sorted({c.key[0] for c in table.cells})
    methods = sorted({c.key[1] for c in table.cells})
    counts = {c.key: c.count for c in table.cells}
    tallest = max((c.count or 0 for c in table.cells), default=0) or 1
    width, height, left, bottom = 120 + 90 * max(len(years), 1), 340, 60, 280
    bar = 70 / max(len(methods), 1)
    palette = ["#1f5f8b", "#c2571a", "#3d8b37", "#8b1f5f", "#6b6b6b", "#b58b00", "#2b8b8b"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="DejaVu Sans, sans-serif" font-size="11">',
        f'<text x="{left}" y="18" font-size="14">Methods reported, {escape(country)}, by year '
        "(rounded; counts under the threshold not shown)</text>",
        f'<line x1="{left}" y1="{bottom}" x2="{width - 20}" y2="{bottom}" stroke="#333"/>',
    ]
    for i, year in enumerate(years):
        x0 = left + 10 + i * 90
        parts.append(f'<text x="{x0}" y="{bottom + 16}">{escape(year)}</text>')
        for j, method in enumerate(methods):
            count = counts.get((year, method))
            if not count:
                continue
            h = 230 * count / tallest
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{bottom - h:.1f}" width="{bar - 1:.1f}" '
                f'height="{h:.1f}" fill="{palette[j % len(palette)]}">'
                f"<title>{escape(method)} {escape(year)}: {count}</title></rect>"
            )
    for j, method in enumerate(methods):
        y = 40 + 14 * j
        parts.append(
            f'<rect x="{width - 150}" y="{y - 9}" width="10" height="10" '
            f'fill="{palette[j % len(palette)]}"/>'
        )
        parts.append(f'<text x="{width - 135}" y="{y}">{escape(method)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def build_statistics_router() -> APIRouter:
    router = APIRouter(prefix="/statistics", tags=["statistics"])

    @router.get(
        "/patterns",
        responses={
            **problem_responses(401, 403, 422),
            200: {"content": {"text/csv": {}}, "description": "the table (JSON or CSV)"},
        },
        summary="Patterns of torture: anonymised counts, small ones suppressed, all rounded",
    )
    async def patterns(
        caller: Analyst,
        statistics: StatisticsService,
        by: Annotated[list[Dimension], Query(description="Count by these dimensions.")],
        country: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        year: Annotated[list[str], Query()] = [],  # noqa: B006
        method: Annotated[list[str], Query()] = [],  # noqa: B006
        perpetrator: Annotated[list[str], Query()] = [],  # noqa: B006
        gender: Annotated[list[str], Query()] = [],  # noqa: B006
        age_band: Annotated[list[str], Query()] = [],  # noqa: B006
        origin: Annotated[list[str], Query()] = [],  # noqa: B006
        format: Literal["json", "csv"] = "json",
    ) -> Response:
        filters = _filters(
            country=country,
            year=year,
            method=method,
            perpetrator=perpetrator,
            gender=gender,
            age_band=age_band,
            origin=origin,
        )
        try:
            table = await statistics.patterns(caller=caller, by=by, filters=filters)
        except ValueError as exc:
            raise InvalidFields(
                str(exc), [FieldError(field="by", rule="dimensions", message=str(exc))]
            ) from exc
        if format == "csv":
            return Response(_csv(table), media_type="text/csv")
        return Response(
            _table_view(table, filters).model_dump_json(), media_type="application/json"
        )

    @router.get(
        "/patterns/chart.svg",
        responses={
            **problem_responses(401, 403),
            200: {"content": {"image/svg+xml": {}}, "description": "the chart"},
        },
        response_class=Response,
        summary="A country's methods over the years, as an SVG chart",
    )
    async def chart(
        caller: Analyst,
        statistics: StatisticsService,
        country: Annotated[str, Query(pattern=r"^[A-Z]{2}$")],
    ) -> Response:
        table = await statistics.patterns(
            caller=caller, by=["year", "method"], filters={"country": {country}}
        )
        return Response(_chart(table, country), media_type="image/svg+xml")

    @router.get(
        "/operations",
        responses=problem_responses(401, 403),
        summary="For managers: referrals per month, time to issue, on-time share, backlog",
    )
    async def operations(caller: Manager, statistics: StatisticsService) -> OperationsView:
        ops = await statistics.operations(caller=caller)
        return OperationsView(
            months=[
                MonthView(
                    month=m.month, received=m.received, accepted=m.accepted, declined=m.declined
                )
                for m in ops.months
            ],
            median_days_acceptance_to_issue=ops.median_days_acceptance_to_issue,
            issued=ops.issued,
            issued_within_deadline=ops.issued_within_deadline,
            share_within_deadline=ops.share_within_deadline,
            backlog=ops.backlog,
        )

    return router
