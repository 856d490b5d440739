"""A pattern table as CSV, and a country's methods by year as an SVG chart."""

from __future__ import annotations

import csv
import io
from html import escape

from reporting.domain.statistics import Table

PALETTE = ["#1f5f8b", "#c2571a", "#3d8b37", "#8b1f5f", "#6b6b6b", "#b58b00", "#2b8b8b"]


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*table.by, "count"])
    for cell in table.cells:
        writer.writerow([*cell.key, "suppressed" if cell.count is None else cell.count])
    return out.getvalue()


def methods_chart(table: Table, country: str) -> str:
    """Methods by year for one country, as an SVG bar chart (suppressed cells drawn empty)."""
    years = sorted({c.key[0] for c in table.cells})
    methods = sorted({c.key[1] for c in table.cells})
    counts = {c.key: c.count for c in table.cells}
    tallest = max((c.count or 0 for c in table.cells), default=0) or 1
    width, height, left, bottom = 120 + 90 * max(len(years), 1), 340, 60, 280
    bar = 70 / max(len(methods), 1)
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
                f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f"<title>{escape(method)} {escape(year)}: {count}</title></rect>"
            )
    for j, method in enumerate(methods):
        y = 40 + 14 * j
        parts.append(
            f'<rect x="{width - 150}" y="{y - 9}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{width - 135}" y="{y}">{escape(method)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
