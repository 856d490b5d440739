"""The clinician roster, and whom to suggest for a case: the order a coordinator sees, and why."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from corroborate.events.contracts import ServiceRequested
from review.domain.roster import (
    COVERS_ALL_DISCIPLINES,
    COVERS_SOME_DISCIPLINES,
    DEADLINE_FREE_PLACE_MULTIPLIER,
    FREE_PLACES_COUNTED,
    LEAVE_BEFORE_REPORT_DUE,
    NO_SHARED_LANGUAGE_NOR_INTERPRETER,
    POINTS_PER_FREE_PLACE,
    SHARES_A_LANGUAGE,
    CaseNeeds,
    Clinician,
    Discipline,
    Suggestion,
    disciplines_needed,
    suggest,
)

TODAY = date(2026, 6, 1)
BOTH = {Discipline.PHYSICAL, Discipline.PSYCHOLOGICAL}


def _clinician(clinician_id: str = "dr-a", **overrides: Any) -> Clinician:
    fields: dict[str, Any] = {
        "clinician_id": clinician_id,
        "name": f"Dr {clinician_id}",
        "disciplines": ["physical", "psychological"],
        "languages": ["en"],
        "capacity": 5,
    }
    return Clinician.model_validate({**fields, **overrides})


def _needs(
    *,
    disciplines: set[Discipline] | None = None,
    languages: tuple[str, ...] = ("ti",),
    interpreter_needed: bool = True,
    report_due: date | None = TODAY + timedelta(days=150),
) -> CaseNeeds:
    return CaseNeeds(
        disciplines=BOTH if disciplines is None else disciplines,
        languages=list(languages),
        interpreter_needed=interpreter_needed,
        report_due=report_due,
    )


def _suggest(
    *clinicians: Clinician, needs: CaseNeeds | None = None, caseloads: dict[str, int] | None = None
) -> list[Suggestion]:
    return suggest(clinicians, needs or _needs(), caseloads=caseloads or {}, today=TODAY)


def _ids(suggestions: list[Suggestion]) -> list[str]:
    return [s.clinician_id for s in suggestions]


def _errors(**overrides: Any) -> dict[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as exc:
        _clinician(**overrides)
    return {tuple(e["loc"]): e["type"] for e in exc.value.errors()}


# --- the roster entry -------------------------------------------------------------------------


def test_a_clinician_reads_from_plain_values_trimmed() -> None:
    clinician = _clinician(
        clinician_id=" dr.amina@example.org ",
        name="  Dr Amina Yusuf ",
        disciplines=["psychological"],
        languages=["ar", "ti-ER"],
    )
    assert clinician.clinician_id == "dr.amina@example.org"
    assert clinician.name == "Dr Amina Yusuf"
    assert clinician.disciplines == {Discipline.PSYCHOLOGICAL}
    assert clinician.languages == ["ar", "ti-ER"]
    assert (clinician.senior, clinician.active) == (False, True)
    assert clinician.unavailable_from is clinician.unavailable_until is None


def test_an_unknown_discipline_is_named() -> None:
    errors = _errors(disciplines=["physical", "dentistry"])
    assert list(errors) == [("disciplines", 1)]
    assert errors[("disciplines", 1)] == "enum"


def test_a_clinician_covers_at_least_one_discipline() -> None:
    assert _errors(disciplines=[]) == {("disciplines",): "too_short"}


@pytest.mark.parametrize("tag", ["Tigrinya", "t", "TI", "ti_ER", "ti-"])
def test_a_bad_language_tag_is_named(tag: str) -> None:
    assert _errors(languages=["en", tag]) == {("languages", 1): "string_pattern_mismatch"}


def test_a_clinician_may_list_no_languages() -> None:
    assert _clinician(languages=[]).languages == []


@pytest.mark.parametrize(
    ("clinician_id", "rule"),
    [
        ("", "string_too_short"),
        ("dr a", "string_pattern_mismatch"),
        ("dr/a", "string_pattern_mismatch"),
        ("dr:a", "string_pattern_mismatch"),
        ("a" * 201, "string_too_long"),
    ],
)
def test_a_bad_clinician_id_is_named(clinician_id: str, rule: str) -> None:
    assert _errors(clinician_id=clinician_id, name="Dr A") == {("clinician_id",): rule}


def test_a_blank_name_is_refused_after_trimming() -> None:
    assert _errors(name="   ") == {("name",): "string_too_short"}


@pytest.mark.parametrize(
    ("capacity", "rule"), [(-1, "greater_than_equal"), (101, "less_than_equal")]
)
def test_capacity_is_between_0_and_100(capacity: int, rule: str) -> None:
    assert _errors(capacity=capacity) == {("capacity",): rule}


def test_unknown_fields_are_refused() -> None:
    assert _errors(grade="consultant") == {("grade",): "extra_forbidden"}


def test_a_leave_period_that_ends_before_it_starts_is_named() -> None:
    with pytest.raises(ValidationError) as exc:
        _clinician(unavailable_from="2026-07-10", unavailable_until="2026-07-01")
    [error] = exc.value.errors()
    assert error["loc"] == ("unavailable_until",)
    assert error["type"] == "leave_period"
    assert "ends before it starts" in error["msg"]


@pytest.mark.parametrize(
    ("given", "missing"),
    [("unavailable_from", "unavailable_until"), ("unavailable_until", "unavailable_from")],
)
def test_a_leave_period_needs_both_ends(given: str, missing: str) -> None:
    assert _errors(**{given: "2026-07-01"}) == {(missing,): "leave_period"}


def test_a_one_day_leave_period_is_allowed() -> None:
    clinician = _clinician(unavailable_from="2026-07-01", unavailable_until="2026-07-01")
    assert not clinician.available_on(date(2026, 7, 1))
    assert clinician.available_on(date(2026, 7, 2))


def test_validation_errors_do_not_repeat_the_input() -> None:
    with pytest.raises(ValidationError) as exc:
        _clinician(name="x" * 201, languages=["Tigrinya"])
    assert "Tigrinya" not in str(exc.value)
    assert "xxxx" not in str(exc.value)


def test_available_outside_the_leave_period_both_ends_included() -> None:
    clinician = _clinician(unavailable_from="2026-07-01", unavailable_until="2026-07-14")
    assert clinician.available_on(date(2026, 6, 30))
    assert not clinician.available_on(date(2026, 7, 1))
    assert not clinician.available_on(date(2026, 7, 8))
    assert not clinician.available_on(date(2026, 7, 14))
    assert clinician.available_on(date(2026, 7, 15))


def test_a_clinician_who_has_left_is_never_available() -> None:
    assert _clinician().available_on(TODAY)
    assert not _clinician(active=False).available_on(TODAY)


# --- the disciplines a service needs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "needed"),
    [
        ("full_report", {Discipline.PHYSICAL, Discipline.PSYCHOLOGICAL}),
        ("psychological_report", {Discipline.PSYCHOLOGICAL}),
        ("clinical_response_letter", set()),
        ("addendum", set()),
    ],
)
def test_disciplines_needed_per_service(service: str, needed: set[Discipline]) -> None:
    assert disciplines_needed(service) == needed


def test_every_service_a_partner_can_request_is_known() -> None:
    for service in ServiceRequested:
        assert disciplines_needed(service) <= BOTH


def test_disciplines_needed_hands_out_a_copy() -> None:
    disciplines_needed("full_report").clear()
    assert disciplines_needed("full_report") == BOTH


def test_an_unknown_service_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="second_opinion"):
        disciplines_needed("second_opinion")


# --- suggestions: disciplines -----------------------------------------------------------------


def test_a_full_report_prefers_a_clinician_covering_both_disciplines() -> None:
    physical = _clinician("dr-a", disciplines=["physical"])
    both = _clinician("dr-b")
    psychological = _clinician("dr-c", disciplines=["psychological"])
    suggestions = _suggest(physical, both, psychological)
    assert _ids(suggestions) == ["dr-b", "dr-a", "dr-c"]
    assert all(s.eligible for s in suggestions)
    assert suggestions[0].reasons[0] == "covers physical and psychological"
    assert suggestions[1].reasons[0] == "covers physical, not psychological"
    assert suggestions[2].reasons[0] == "covers psychological, not physical"
    assert suggestions[0].score - suggestions[1].score == (
        COVERS_ALL_DISCIPLINES - COVERS_SOME_DISCIPLINES
    )


def test_covering_both_disciplines_outweighs_language_and_free_places() -> None:
    both_busy = _clinician("dr-both", capacity=5)
    one_but_speaks_ti_and_free = _clinician(
        "dr-one", disciplines=["physical"], languages=["ti"], capacity=20
    )
    urgent = _needs(report_due=TODAY + timedelta(days=3))
    for needs in (_needs(), urgent):
        suggestions = _suggest(
            both_busy, one_but_speaks_ti_and_free, needs=needs, caseloads={"dr-both": 4}
        )
        assert _ids(suggestions) == ["dr-both", "dr-one"]


def test_a_psychological_report_rules_out_a_physician() -> None:
    physician = _clinician("dr-a", disciplines=["physical"], languages=["ti"])
    psychologist = _clinician("dr-b", disciplines=["psychological"])
    needs = _needs(disciplines=disciplines_needed("psychological_report"))
    suggestions = _suggest(physician, psychologist, needs=needs)
    assert _ids(suggestions) == ["dr-b", "dr-a"]
    assert suggestions[0].eligible
    assert suggestions[0].reasons[0] == "covers psychological"
    assert not suggestions[1].eligible
    assert suggestions[1].reasons[0] == "does not cover psychological"


def test_a_letter_or_addendum_may_go_to_any_discipline() -> None:
    physician = _clinician("dr-a", disciplines=["physical"])
    psychologist = _clinician("dr-b", disciplines=["psychological"])
    for service in ("clinical_response_letter", "addendum"):
        needs = _needs(disciplines=disciplines_needed(service))
        suggestions = _suggest(physician, psychologist, needs=needs)
        assert all(s.eligible for s in suggestions)
        assert suggestions[0].score == suggestions[1].score
        assert [s.reasons[0] for s in suggestions] == ["covers physical", "covers psychological"]


# --- suggestions: language --------------------------------------------------------------------


def test_speaking_the_survivors_language_beats_needing_an_interpreter() -> None:
    english_only = _clinician("dr-a", languages=["en"])
    speaks_ti = _clinician("dr-b", languages=["en", "ti"])
    suggestions = _suggest(english_only, speaks_ti)
    assert _ids(suggestions) == ["dr-b", "dr-a"]
    assert "speaks ti" in suggestions[0].reasons
    assert "interpreter needed (no shared language)" in suggestions[1].reasons
    assert suggestions[0].score - suggestions[1].score == SHARES_A_LANGUAGE
    assert all(s.eligible for s in suggestions)


@pytest.mark.parametrize(
    ("survivor", "clinician"),
    [("ti-ER", "ti"), ("ti", "ti-ER"), ("ti-ER", "ti-ET"), ("ar", "ar-SY")],
)
def test_languages_match_on_their_primary_subtag(survivor: str, clinician: str) -> None:
    [suggestion] = _suggest(_clinician(languages=[clinician]), needs=_needs(languages=(survivor,)))
    assert f"speaks {clinician}" in suggestion.reasons


@pytest.mark.parametrize(("survivor", "clinician"), [("ti", "tig"), ("ar", "arz"), ("fa", "prs")])
def test_a_different_primary_subtag_is_a_different_language(survivor: str, clinician: str) -> None:
    [suggestion] = _suggest(_clinician(languages=[clinician]), needs=_needs(languages=(survivor,)))
    assert "interpreter needed (no shared language)" in suggestion.reasons


def test_any_one_of_the_survivors_languages_will_do() -> None:
    [suggestion] = _suggest(
        _clinician(languages=["en", "am", "ar-EG"]), needs=_needs(languages=("ti", "ar"))
    )
    assert "speaks ar-EG" in suggestion.reasons
    assert (
        suggestion.score == COVERS_ALL_DISCIPLINES + SHARES_A_LANGUAGE + 5 * POINTS_PER_FREE_PLACE
    )


def test_no_shared_language_without_an_interpreter_is_strongly_penalised() -> None:
    arabic = _needs(languages=("ar",), interpreter_needed=False)
    [english_only, speaks_arabic] = [
        _suggest(_clinician(languages=langs), needs=arabic)[0] for langs in (["en"], ["ar"])
    ]
    assert english_only.eligible
    assert "no shared language, and the referral asks for no interpreter" in english_only.reasons
    assert speaks_arabic.score - english_only.score == (
        SHARES_A_LANGUAGE - NO_SHARED_LANGUAGE_NOR_INTERPRETER
    )
    [with_interpreter] = _suggest(_clinician(languages=["en"]), needs=_needs(languages=("ar",)))
    assert english_only.score < with_interpreter.score


def test_unknown_survivor_languages_neither_help_nor_hurt() -> None:
    [suggestion] = _suggest(_clinician(), needs=_needs(languages=(), interpreter_needed=False))
    assert "survivor's languages not recorded" in suggestion.reasons
    assert suggestion.score == COVERS_ALL_DISCIPLINES + 5 * POINTS_PER_FREE_PLACE


# --- suggestions: capacity --------------------------------------------------------------------


def test_a_full_clinician_is_ineligible_and_last_with_the_reason() -> None:
    full_but_ideal = _clinician("dr-a", languages=["ti"], capacity=5)
    weaker = _clinician("dr-b", disciplines=["physical"], capacity=5)
    suggestions = _suggest(full_but_ideal, weaker, caseloads={"dr-a": 5, "dr-b": 4})
    assert _ids(suggestions) == ["dr-b", "dr-a"]
    assert suggestions[0].eligible
    assert "1 of 5 places free" in suggestions[0].reasons
    assert not suggestions[1].eligible
    assert suggestions[1].reasons[0] == "no free places (5 of 5 taken)"
    assert "speaks ti" in suggestions[1].reasons


def test_an_overloaded_or_zero_capacity_clinician_is_ineligible() -> None:
    over = _clinician("dr-a", capacity=3)
    none = _clinician("dr-b", capacity=0)
    suggestions = _suggest(over, none, caseloads={"dr-a": 4})
    assert not any(s.eligible for s in suggestions)
    assert {s.reasons[0] for s in suggestions} == {
        "no free places (4 of 3 taken)",
        "no free places (0 of 0 taken)",
    }


def test_a_clinician_missing_from_the_caseloads_has_none_open() -> None:
    [suggestion] = _suggest(_clinician(capacity=3))
    assert "3 of 3 places free" in suggestion.reasons


def test_more_free_places_rank_higher_up_to_a_cap() -> None:
    ids = ["dr-a", "dr-b", "dr-c", "dr-d"]
    clinicians = [_clinician(i, capacity=20) for i in ids]
    # Free places: 1, 3, FREE_PLACES_COUNTED and 15.
    caseloads = {"dr-a": 19, "dr-b": 17, "dr-c": 20 - FREE_PLACES_COUNTED, "dr-d": 5}
    suggestions = suggest(clinicians, _needs(), caseloads=caseloads, today=TODAY)
    scores = {s.clinician_id: s.score for s in suggestions}
    assert scores["dr-a"] < scores["dr-b"] < scores["dr-c"] == scores["dr-d"]
    assert scores["dr-b"] - scores["dr-a"] == 2 * POINTS_PER_FREE_PLACE
    assert _ids(suggestions) == ["dr-c", "dr-d", "dr-b", "dr-a"]


# --- suggestions: deadline pressure -----------------------------------------------------------


def test_deadline_pressure_prefers_the_clinician_with_most_free_places() -> None:
    speaks_ti_nearly_full = _clinician("dr-a", languages=["ti"], capacity=5)
    interpreter_but_free = _clinician("dr-b", capacity=5)
    relaxed = _needs(report_due=TODAY + timedelta(days=120))
    pressed = _needs(report_due=TODAY + timedelta(days=12))

    calm = _suggest(
        speaks_ti_nearly_full, interpreter_but_free, needs=relaxed, caseloads={"dr-a": 4}
    )
    assert _ids(calm) == ["dr-a", "dr-b"]
    assert "5 of 5 places free" in calm[1].reasons

    urgent = _suggest(
        speaks_ti_nearly_full, interpreter_but_free, needs=pressed, caseloads={"dr-a": 4}
    )
    assert _ids(urgent) == ["dr-b", "dr-a"]
    assert "5 of 5 places free (count double: report due in 12 day(s))" in urgent[0].reasons
    assert "1 of 5 places free (count double: report due in 12 day(s))" in urgent[1].reasons
    assert urgent[0].score - calm[1].score == (DEADLINE_FREE_PLACE_MULTIPLIER - 1) * (
        5 * POINTS_PER_FREE_PLACE
    )


@pytest.mark.parametrize(
    ("days_left", "explained"),
    [
        (30, "report due in 30 day(s)"),
        (0, "report due today"),
        (-3, "report overdue by 3 day(s)"),
    ],
)
def test_deadline_pressure_starts_30_days_out_and_stays_when_overdue(
    days_left: int, explained: str
) -> None:
    needs = _needs(report_due=TODAY + timedelta(days=days_left))
    [suggestion] = _suggest(_clinician(capacity=2), needs=needs)
    assert f"2 of 2 places free (count double: {explained})" in suggestion.reasons


@pytest.mark.parametrize("report_due", [TODAY + timedelta(days=31), None])
def test_no_deadline_pressure_when_the_report_is_not_due_soon(report_due: date | None) -> None:
    [suggestion] = _suggest(_clinician(capacity=2), needs=_needs(report_due=report_due))
    assert "2 of 2 places free" in suggestion.reasons
    assert not any("count double" in r for r in suggestion.reasons)


# --- suggestions: leave -----------------------------------------------------------------------


def test_a_clinician_on_leave_today_is_ineligible_with_the_return_date() -> None:
    on_leave = _clinician(
        "dr-a", languages=["ti"], unavailable_from="2026-05-20", unavailable_until="2026-06-01"
    )
    here = _clinician("dr-b", disciplines=["physical"])
    suggestions = _suggest(on_leave, here)
    assert _ids(suggestions) == ["dr-b", "dr-a"]
    assert not suggestions[1].eligible
    assert suggestions[1].reasons[0] == "on leave until 2026-06-01"


def test_leave_starting_today_makes_a_clinician_ineligible() -> None:
    on_leave = _clinician(unavailable_from="2026-06-01", unavailable_until="2026-12-01")
    [suggestion] = _suggest(on_leave)
    assert not suggestion.eligible
    assert suggestion.reasons[0] == "on leave until 2026-12-01"


def test_leave_that_has_ended_is_not_mentioned() -> None:
    back = _clinician(unavailable_from="2026-05-01", unavailable_until="2026-05-31")
    [suggestion] = _suggest(back)
    assert suggestion.eligible
    assert not any("leave" in r for r in suggestion.reasons)
    assert suggestion.score == _suggest(_clinician())[0].score


def test_leave_before_the_report_is_due_counts_against() -> None:
    going_away = _clinician("dr-a", unavailable_from="2026-08-01", unavailable_until="2026-08-21")
    staying = _clinician("dr-b")
    suggestions = _suggest(going_away, staying, needs=_needs(report_due=date(2026, 10, 1)))
    assert _ids(suggestions) == ["dr-b", "dr-a"]
    assert all(s.eligible for s in suggestions)
    assert (
        "on leave from 2026-08-01 to 2026-08-21, before the report is due" in suggestions[1].reasons
    )
    assert suggestions[0].score - suggestions[1].score == -LEAVE_BEFORE_REPORT_DUE


def test_leave_after_the_report_is_due_does_not_count() -> None:
    later = _clinician(unavailable_from="2026-10-02", unavailable_until="2026-10-20")
    [suggestion] = _suggest(later, needs=_needs(report_due=date(2026, 10, 1)))
    assert not any("leave" in r for r in suggestion.reasons)
    assert (
        suggestion.score
        == _suggest(_clinician(), needs=_needs(report_due=date(2026, 10, 1)))[0].score
    )


def test_upcoming_leave_is_shown_without_penalty_when_no_report_is_due() -> None:
    going_away = _clinician(unavailable_from="2026-08-01", unavailable_until="2026-08-21")
    needs = _needs(report_due=None)
    [suggestion] = _suggest(going_away, needs=needs)
    assert "on leave from 2026-08-01 to 2026-08-21" in suggestion.reasons
    assert suggestion.score == _suggest(_clinician(), needs=needs)[0].score


# --- suggestions: who is listed, and in what order --------------------------------------------


def test_a_clinician_who_has_left_is_not_listed() -> None:
    left = _clinician("dr-a", languages=["ti"], active=False)
    here = _clinician("dr-b")
    assert _ids(_suggest(left, here)) == ["dr-b"]
    assert _suggest(left) == []


def test_an_empty_roster_suggests_no_one() -> None:
    assert _suggest() == []


def test_ties_are_broken_by_clinician_id_whatever_the_input_order() -> None:
    clinicians = [_clinician(i) for i in ("dr-c", "dr-a", "dr-b")]
    forwards = _suggest(*clinicians)
    backwards = _suggest(*reversed(clinicians))
    assert len({s.score for s in forwards}) == 1
    assert _ids(forwards) == _ids(backwards) == ["dr-a", "dr-b", "dr-c"]
    assert forwards == backwards


def test_ineligible_clinicians_come_last_ranked_among_themselves() -> None:
    full_but_speaks_ti = _clinician("dr-a", languages=["ti"], capacity=1)
    full = _clinician("dr-b", capacity=1)
    on_leave = _clinician("dr-c", unavailable_from="2026-05-01", unavailable_until="2026-07-01")
    weakest = _clinician("dr-d", disciplines=["physical"], capacity=1)
    suggestions = _suggest(
        full_but_speaks_ti, full, on_leave, weakest, caseloads={"dr-a": 1, "dr-b": 1}
    )
    assert _ids(suggestions) == ["dr-d", "dr-a", "dr-c", "dr-b"]
    assert [s.eligible for s in suggestions] == [True, False, False, False]


def test_every_reason_that_rules_a_clinician_out_comes_first() -> None:
    needs = _needs(disciplines={Discipline.PSYCHOLOGICAL})
    clinician = _clinician(
        disciplines=["physical"],
        languages=["ti"],
        capacity=2,
        unavailable_from="2026-05-01",
        unavailable_until="2026-06-30",
    )
    [suggestion] = suggest([clinician], needs, caseloads={"dr-a": 2}, today=TODAY)
    assert not suggestion.eligible
    assert suggestion.reasons == [
        "does not cover psychological",
        "no free places (2 of 2 taken)",
        "on leave until 2026-06-30",
        "speaks ti",
    ]


def test_a_suggestion_names_the_clinician() -> None:
    [suggestion] = suggest(
        (c for c in [_clinician("dr.amina@example.org", name="Dr Amina Yusuf")]),
        _needs(),
        caseloads={},
        today=TODAY,
    )
    assert (suggestion.clinician_id, suggestion.name) == ("dr.amina@example.org", "Dr Amina Yusuf")
