"""Patterns of torture: anonymised counts that never reveal a small group of people.

Each consenting case contributes its facts (countries where the ill-treatment happened, the
year it began, methods and perpetrator types in the controlled vocabularies, gender, age band,
country of origin) and nothing that identifies anyone. A table counts cases by the dimensions
asked for, and is protected before anything leaves:

1. Primary suppression: a count below the threshold (default 5) is never shown.
2. Complementary suppression: in every line of the table (cells that differ in one dimension
   only) and among the margins, a lone suppressed cell takes the next smallest with it, so a
   line total minus the cells shown never gives a suppressed count.
3. Rounding: every count shown, totals and margins included, is rounded to the nearest multiple
   of the base (default 5). Tables can be asked for with any grouping and filter, and an answer
   to one query can be subtracted from another's; rounding leaves each shown number uncertain
   by up to half the base, so such differences cannot pin a suppressed count down within its
   range (1 to threshold - 1).
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DIMENSIONS = ("country", "year", "method", "perpetrator", "gender", "age_band", "origin")
UNKNOWN = "unknown"


def year_of(period_start: str | None, *, submitted: str) -> str:
    """The year ill-treatment began (YYYY-MM given), or unknown: never a year that cannot be
    true, such as one after the referral was made."""
    if period_start is None or period_start > submitted:
        return UNKNOWN
    return period_start[:4]


class InvalidQuery(ValueError):
    """A table asked for by an unknown dimension, or by one dimension twice."""


@dataclass(frozen=True)
class CaseFacts:
    """One consenting case as statistics see it: no names, dates of birth or references, no
    exact dates (a year, a month, an age band)."""

    countries: tuple[str, ...]
    year: str
    methods: tuple[str, ...]
    perpetrators: tuple[str, ...]
    gender: str
    age_band: str
    origin: str
    month: str

    def values(self, dimension: str) -> tuple[str, ...]:
        """The case's values in one dimension; several for countries, methods, perpetrators."""
        many = {"country": self.countries, "method": self.methods, "perpetrator": self.perpetrators}
        if dimension in many:
            return many[dimension] or (UNKNOWN,)
        one = {
            "year": self.year,
            "gender": self.gender,
            "age_band": self.age_band,
            "origin": self.origin,
        }
        if dimension in one:
            return (one[dimension],)
        raise InvalidQuery(f"by: unknown dimension {dimension}")


@dataclass(frozen=True)
class Cell:
    key: tuple[str, ...]
    count: int | None  # None: suppressed

    @property
    def suppressed(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class Table:
    by: tuple[str, ...]
    cells: list[Cell]
    margins: dict[str, list[Cell]]
    total: Cell
    threshold: int
    base: int


def matches(facts: CaseFacts, filters: Mapping[str, set[str]]) -> bool:
    return all(set(facts.values(d)) & allowed for d, allowed in filters.items())


def check_query(by: Sequence[str], filters: Mapping[str, set[str]] | None = None) -> None:
    """Refuse a table asked for by an unknown dimension, or by one dimension twice."""
    unknown = [d for d in (*by, *(filters or {})) if d not in DIMENSIONS]
    if unknown:
        raise InvalidQuery(
            f"by: unknown dimension {unknown[0]}; use one of {', '.join(DIMENSIONS)}"
        )
    if len(set(by)) != len(by):
        raise InvalidQuery("by: a dimension is given twice")


@dataclass
class Counts:
    """The raw counts of one table (cells, margins, total) before they are protected; what a
    grouping kept up to date holds. Counting is additive: cases can be added in any order, in
    any number of goes."""

    by: tuple[str, ...]
    cells: Counter[tuple[str, ...]] = field(default_factory=Counter)
    margins: dict[str, Counter[str]] = field(default_factory=dict)
    total: int = 0

    def __post_init__(self) -> None:
        for d in self.by:
            self.margins.setdefault(d, Counter())

    def add(self, case: CaseFacts) -> None:
        """Count one case once in each combination of its values."""
        for key in itertools.product(*(case.values(d) for d in self.by)):
            self.cells[key] += 1
        for d in self.by:
            for value in case.values(d):
                self.margins[d][value] += 1
        self.total += 1

    def copy(self) -> Counts:
        return Counts(
            by=self.by,
            cells=Counter(self.cells),
            margins={d: Counter(c) for d, c in self.margins.items()},
            total=self.total,
        )


def count(
    cases: Iterable[CaseFacts],
    *,
    by: Sequence[str],
    filters: Mapping[str, set[str]] | None = None,
    into: Counts | None = None,
) -> Counts:
    """Add the cases that pass ``filters`` to ``into`` (a new table by ``by`` if not given)."""
    check_query(by, filters)
    counts = into if into is not None else Counts(by=tuple(by))
    for case in cases:
        if matches(case, filters or {}):
            counts.add(case)
    return counts


def tabulate(
    cases: Iterable[CaseFacts],
    *,
    by: Sequence[str],
    filters: Mapping[str, set[str]] | None = None,
    threshold: int = 5,
    base: int = 5,
) -> Table:
    """Count cases by ``by`` (a case counts once in each combination of its values), then
    suppress and round as the module describes."""
    return protect(count(cases, by=by, filters=filters), threshold=threshold, base=base)


def protect(counts: Counts, *, threshold: int = 5, base: int = 5) -> Table:
    """Suppress and round raw counts as the module describes: nothing leaves unprotected."""
    by = counts.by
    hidden = {key for key, n in counts.cells.items() if n < threshold}
    hidden |= _complementary(counts.cells, hidden, len(by))
    margin_cells = {}
    for d in by:
        keyed: dict[tuple[str, ...], int] = {(value,): n for value, n in counts.margins[d].items()}
        small = {key for key, n in keyed.items() if n < threshold}
        small |= _complementary(keyed, small, 1)
        margin_cells[d] = [
            Cell(key, None if key in small else _round(n, base)) for key, n in sorted(keyed.items())
        ]
    total = counts.total
    return Table(
        by=tuple(by),
        cells=[
            Cell(key, None if key in hidden else _round(n, base))
            for key, n in sorted(counts.cells.items())
        ],
        margins=margin_cells,
        total=Cell((), None if total < threshold else _round(total, base)),
        threshold=threshold,
        base=base,
    )


def _round(count: int, base: int) -> int:
    """To the nearest multiple of ``base``, halves up (never below the threshold once shown)."""
    return max(base, ((count + base // 2) // base) * base)


def _complementary(
    counts: Mapping[tuple[str, ...], int], hidden: set[tuple[str, ...]], dimensions: int
) -> set[tuple[str, ...]]:
    """Cells to hide besides the small ones: a line (cells that differ in one dimension only)
    never has a single hidden cell; the smallest shown cell of that line joins it, and every
    line that this touches is checked again, until no line has a single hidden cell.

    Lines are built once, their cells smallest first, and a line is looked at again only when
    one of its cells is hidden, so the work grows with the number of cells rather than with
    how far the hiding spreads."""
    concealed = set(hidden)
    extra: set[tuple[str, ...]] = set()
    members: dict[tuple[int, tuple[str, ...]], list[tuple[str, ...]]] = {}
    hidden_in: dict[tuple[int, tuple[str, ...]], int] = {}
    for key in sorted(counts, key=lambda k: (counts[k], k)):
        for d in range(dimensions):
            line = (d, key[:d] + key[d + 1 :])
            members.setdefault(line, []).append(key)
            hidden_in[line] = hidden_in.get(line, 0) + (key in concealed)
    looked = dict.fromkeys(members, 0)  # how far each line's cells are known to be hidden
    todo = deque(line for line, n in hidden_in.items() if n == 1)
    while todo:
        line = todo.popleft()
        if hidden_in[line] != 1:
            continue
        cells, at = members[line], looked[line]
        while at < len(cells) and cells[at] in concealed:
            at += 1
        looked[line] = at
        if at == len(cells):
            continue  # a line of one cell: it is its own total
        key = cells[at]
        concealed.add(key)
        extra.add(key)
        for d in range(dimensions):
            touched = (d, key[:d] + key[d + 1 :])
            hidden_in[touched] += 1
            if hidden_in[touched] == 1:
                todo.append(touched)
    return extra
