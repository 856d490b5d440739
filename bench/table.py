"""The one table a run prints: each figure, its ratio to what it is compared with, the target."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One figure. ``passed`` is None for a figure with no target (raw limits, context)."""

    section: str
    figure: str
    measured: str
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None
    value: float | None = None
    unit: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def info(section: str, figure: str, value: float, unit: str, *, digits: int = 1) -> Row:
    """A figure reported for context, with no target."""
    return Row(section, figure, f"{value:,.{digits}f} {unit}", value=value, unit=unit)


def at_least(
    section: str, figure: str, value: float, unit: str, *, ratio: float, minimum: float
) -> Row:
    return Row(
        section,
        figure,
        f"{value:,.2f} {unit}",
        ratio=ratio,
        target=f"ratio >= {minimum:g}",
        passed=ratio >= minimum,
        value=value,
        unit=unit,
    )


def below(section: str, figure: str, value: float, unit: str, *, limit: float) -> Row:
    return Row(
        section,
        figure,
        f"{value:,.1f} {unit}",
        target=f"< {limit:g} {unit}",
        passed=value < limit,
        value=value,
        unit=unit,
    )


def render(rows: list[Row]) -> str:
    """A plain-text table, sections in the order given."""
    head = ("section", "figure", "measured", "ratio", "target", "result")
    lines = [
        (
            r.section,
            r.figure,
            r.measured,
            "" if r.ratio is None else f"{r.ratio:.3g}",
            r.target,
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(head, *lines, strict=True)]
    rule = "  ".join("-" * w for w in widths)

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(w) if i in {2, 3} else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(head), rule]
    previous = None
    for cells in lines:
        if previous is not None and cells[0] != previous:
            out.append(rule)
        out.append(line(cells))
        previous = cells[0]
    return "\n".join(out)
