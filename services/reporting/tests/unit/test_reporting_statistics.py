"""Patterns of torture: small counts never shown, and never recoverable by subtraction."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import pytest

from reporting.domain.statistics import (
    UNKNOWN,
    CaseFacts,
    Cell,
    Table,
    count,
    protect,
    tabulate,
    year_of,
)

THRESHOLD = 5
BASE = 5


def _case(
    country: str = "ER",
    year: str = "2023",
    methods: tuple[str, ...] = ("beating",),
    gender: str = "male",
    age_band: str = "26-35",
    perpetrators: tuple[str, ...] = ("military",),
) -> CaseFacts:
    return CaseFacts(
        countries=(country,),
        year=year,
        methods=methods,
        perpetrators=perpetrators,
        gender=gender,
        age_band=age_band,
        origin=country,
        month=f"{year}-06",
    )


def _cases() -> list[CaseFacts]:
    """Eritrea: 9 men and 3 women; Libya: 7 men and 6 women; Syria: 6 men; Sudan: 2 women."""
    return [
        *[_case("SY", gender="male") for _ in range(6)],
        *[_case("ER", gender="male") for _ in range(9)],
        *[_case("ER", gender="female", methods=("beating", "sexual_violence")) for _ in range(3)],
        *[_case("LY", gender="male", year="2022") for _ in range(7)],
        *[_case("LY", gender="female", year="2022") for _ in range(6)],
        *[_case("SD", gender="female") for _ in range(2)],
    ]


def _cell(table: Table, *key: str) -> Cell:
    return next(c for c in table.cells if c.key == key)


def _margin(table: Table, dimension: str, value: str) -> Cell:
    return next(c for c in table.margins[dimension] if c.key == (value,))


def _consistent(estimate: int, terms: int) -> set[int]:
    """The suppressed values an attacker cannot rule out, given an estimate made by adding and
    subtracting ``terms`` published numbers, each rounded to the nearest multiple of BASE."""
    slack = terms * (BASE // 2)
    return {v for v in range(1, THRESHOLD) if abs(estimate - v) <= slack}


def test_small_counts_are_never_shown_and_shown_ones_are_rounded() -> None:
    table = tabulate(_cases(), by=["country", "gender"], threshold=THRESHOLD, base=BASE)
    assert _cell(table, "ER", "female").suppressed
    assert _cell(table, "SD", "female").suppressed
    shown = [c.count for c in table.cells if c.count is not None]
    shown += [c.count for cells in table.margins.values() for c in cells if c.count is not None]
    assert shown
    assert all(n >= THRESHOLD and n % BASE == 0 for n in shown)
    assert table.total.count == 35  # 33 cases, rounded


def test_no_line_is_left_with_a_single_hidden_cell() -> None:
    table = tabulate(_cases(), by=["country", "gender"], threshold=THRESHOLD, base=BASE)
    # Eritrea's women (3) are hidden, so Eritrea's men are hidden with them.
    assert _cell(table, "ER", "male").suppressed
    for dimension in range(2):
        lines: dict[tuple[str, ...], list[Cell]] = {}
        for cell in table.cells:
            lines.setdefault(cell.key[:dimension] + cell.key[dimension + 1 :], []).append(cell)
        for members in lines.values():
            if len(members) > 1:  # a lone cell is its line's total, hidden or shown with it
                assert sum(c.suppressed for c in members) != 1, members
    for cells in table.margins.values():
        assert sum(c.suppressed for c in cells) != 1


def test_a_suppressed_count_cannot_be_recovered_from_totals_or_other_queries() -> None:
    cases = _cases()
    by_country = tabulate(cases, by=["country"], threshold=THRESHOLD, base=BASE)
    by_country_gender = tabulate(cases, by=["country", "gender"], threshold=THRESHOLD, base=BASE)
    women_by_country = tabulate(
        cases, by=["country"], filters={"gender": {"female"}}, threshold=THRESHOLD, base=BASE
    )
    by_gender = tabulate(cases, by=["gender"], threshold=THRESHOLD, base=BASE)
    true_value = 3  # Eritrean women

    # 1. The country's total minus the other cells of its line (hidden too, so nothing to use).
    er_men = _cell(by_country_gender, "ER", "male")
    assert er_men.suppressed
    # 2. A coarser query minus a finer one: Eritrea's total minus a published Eritrea cell, if
    #    any; there is none, so the attacker turns to a filtered query for women.
    er_total = _cell(by_country, "ER").count
    assert er_total is not None
    er_women = next(c for c in women_by_country.cells if c.key == ("ER",))
    assert er_women.suppressed
    # 3. All women minus the women of every other country shown.
    women_total = _margin(by_gender, "gender", "female").count
    others = [c.count for c in women_by_country.cells if c.key != ("ER",) and c.count]
    assert women_total is not None
    estimate = women_total - sum(others)
    assert _consistent(estimate, 1 + len(others)) == {1, 2, 3, 4}
    # 4. Eritrea's total minus its men from the table of men only.
    men_by_country = tabulate(
        cases, by=["country"], filters={"gender": {"male"}}, threshold=THRESHOLD, base=BASE
    )
    er_men_only = _cell(men_by_country, "ER").count
    assert er_men_only is not None  # 9 men: shown in this table...
    estimate = er_total - er_men_only  # ...but both numbers are rounded
    assert _consistent(estimate, 2) == {1, 2, 3, 4}
    assert true_value in _consistent(estimate, 2)


@pytest.mark.parametrize("by", [*itertools.permutations(["country", "year", "gender"], 2)])
def test_every_grouping_keeps_the_rules(by: tuple[str, ...]) -> None:
    table = tabulate(_cases(), by=list(by), threshold=THRESHOLD, base=BASE)
    shown = _all_counts(table)
    assert all(n >= THRESHOLD and n % BASE == 0 for n in shown)


def _all_counts(table: Table) -> Iterable[int]:
    yield from (c.count for c in table.cells if c.count is not None)
    for cells in table.margins.values():
        yield from (c.count for c in cells if c.count is not None)


def test_a_case_counts_once_in_each_of_its_methods() -> None:
    cases = [_case(methods=("beating", "suspension")) for _ in range(6)]
    table = tabulate(cases, by=["method"], threshold=THRESHOLD, base=BASE)
    assert {c.key: c.count for c in table.cells} == {("beating",): 5, ("suspension",): 5}
    assert table.total.count == 5  # six cases, rounded


def test_unknown_dimensions_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="by: unknown dimension religion"):
        tabulate(_cases(), by=["religion"])
    with pytest.raises(ValueError, match="given twice"):
        tabulate(_cases(), by=["country", "country"])


@pytest.mark.parametrize("seed", range(5))
def test_large_sparse_tables_keep_the_rule_on_every_line(seed: int) -> None:
    """Hiding spreads through lines in three dimensions; wherever it stops, no line of any
    dimension is left with a single hidden cell."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not a secret
    countries = [f"C{i}" for i in range(12)]
    years = [str(2000 + i) for i in range(10)]
    methods = [f"m{i}" for i in range(15)]
    cases = [
        _case(
            rng.choice(countries),
            year=rng.choice(years),
            methods=tuple(set(rng.choices(methods, k=rng.randint(1, 3)))),
        )
        for _ in range(3000)
    ]
    by = ["country", "year", "method"]
    raw = count(cases, by=by)
    table = protect(raw, threshold=THRESHOLD, base=BASE)
    hidden = {c.key for c in table.cells if c.suppressed}
    assert {k for k, n in raw.cells.items() if n < THRESHOLD} <= hidden
    assert len(hidden) < len(table.cells)  # a rule that hid everything would pass trivially
    for dimension in range(len(by)):
        lines: dict[tuple[str, ...], list[Cell]] = {}
        for cell in table.cells:
            lines.setdefault(cell.key[:dimension] + cell.key[dimension + 1 :], []).append(cell)
        for members in lines.values():
            if len(members) > 1:
                assert sum(c.suppressed for c in members) != 1, members


def test_a_year_that_cannot_be_true_is_counted_as_unknown() -> None:
    assert year_of("2023-02", submitted="2026-10") == "2023"
    assert year_of("2026-10", submitted="2026-10") == "2026"
    assert year_of("2027-01", submitted="2026-10") == UNKNOWN  # after the referral was made
    assert year_of(None, submitted="2026-10") == UNKNOWN
