"""Patterns of torture for analysts: anonymised tables (JSON or CSV) and a chart."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import Field

from corroborate.http import Analyst, problem_responses
from reporting.entrypoints.api.deps import StatisticsService
from reporting.entrypoints.api.formats import methods_chart, table_csv
from reporting.entrypoints.api.schemas import Dimension, PatternTable

router = APIRouter(prefix="/statistics", tags=["statistics"])
Filter = Annotated[
    list[Annotated[str, Field(max_length=100)]],
    Query(max_length=100, description="Only these values (any of them)."),
]


@router.get(
    "/patterns",
    responses={
        **problem_responses(401, 403, 422),
        200: {"content": {"text/csv": {}}, "description": "the table (JSON or CSV)"},
    },
    summary="Patterns of torture: anonymised counts, small ones suppressed, all rounded",
)
async def patterns(
    *,
    caller: Analyst,
    statistics: StatisticsService,
    by: Annotated[list[Dimension], Query(max_length=7, description="Count by these dimensions.")],
    country: Filter = [],  # noqa: B006 - FastAPI copies defaults
    year: Filter = [],  # noqa: B006
    method: Filter = [],  # noqa: B006
    perpetrator: Filter = [],  # noqa: B006
    gender: Filter = [],  # noqa: B006
    age_band: Filter = [],  # noqa: B006
    origin: Filter = [],  # noqa: B006
    format: Literal["json", "csv"] = "json",
) -> Response:
    given = {
        "country": country,
        "year": year,
        "method": method,
        "perpetrator": perpetrator,
        "gender": gender,
        "age_band": age_band,
        "origin": origin,
    }
    filters = {d: set(values) for d, values in given.items() if values}
    table = await statistics.patterns(caller=caller, by=by, filters=filters)
    if format == "csv":
        return Response(table_csv(table), media_type="text/csv")
    return Response(
        PatternTable.of(table, filters).model_dump_json(), media_type="application/json"
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
    country: Annotated[str, Query(pattern=r"^[A-Z]{2}$", max_length=2)],
) -> Response:
    table = await statistics.patterns(
        caller=caller, by=["year", "method"], filters={"country": {country}}
    )
    return Response(methods_chart(table, country), media_type="image/svg+xml")
