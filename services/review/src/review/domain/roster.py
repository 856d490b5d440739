"""The clinician roster, and who to suggest for a case: discipline, language, capacity, leave.

Suggestions advise the triage coordinator; they never assign. Every clinician still working is
listed, best first, each with the reasons behind the score, so the coordinator can overrule it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from corroborate.events.contracts import LanguageTag

ClinicianId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._@-]+$")]

# --- weights ----------------------------------------------------------------------------------
# The order of importance: discipline, then language, then free capacity. A full report needs
# both disciplines; covering only one means finding a second clinician, so the gap (80 - 10)
# outweighs a shared language plus the widest gap in free capacity (30 + 40 - 8). A shared
# language beats free capacity (30 > 20 - 4), except under deadline pressure, when free places
# count double and can outweigh it (30 < 40 - 8).
COVERS_ALL_DISCIPLINES = 80
COVERS_SOME_DISCIPLINES = 10
SHARES_A_LANGUAGE = 30
# The referral says the survivor needs no interpreter, yet the clinician speaks none of their
# languages: the assessment could not go ahead as arranged.
NO_SHARED_LANGUAGE_NOR_INTERPRETER = -60
POINTS_PER_FREE_PLACE = 4
# Beyond this many free places a clinician is no more available in practice.
FREE_PLACES_COUNTED = 5
# A report due within this many days (or overdue) puts the case under deadline pressure, and the
# clinician with most room in their caseload is likeliest to turn it round in time.
DEADLINE_PRESSURE_DAYS = 30
DEADLINE_FREE_PLACE_MULTIPLIER = 2
# Leave starting before the report is due interrupts the work and risks the deadline.
LEAVE_BEFORE_REPORT_DUE = -25


class Discipline(StrEnum):
    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"


class Clinician(BaseModel):
    """A clinician on the roster, with what they cover, speak, and can take on."""

    # A validation error never repeats the input.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)

    clinician_id: ClinicianId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    qualifications: Annotated[str, Field(max_length=1000)] = Field(
        default="", description="As the report states them (degrees, registration, experience)."
    )
    disciplines: Annotated[set[Discipline], Field(min_length=1)]
    languages: Annotated[list[LanguageTag], Field(max_length=30)]
    capacity: Annotated[int, Field(ge=0, le=100, description="most open cases at once")]
    senior: bool = False  # may peer-review drafts
    active: bool = True  # False once they have left
    unavailable_from: date | None = None  # first day of leave
    unavailable_until: date | None = None  # last day of leave

    @model_validator(mode="after")
    def _leave_period_is_whole_and_forwards(self) -> Clinician:
        start, end = self.unavailable_from, self.unavailable_until
        if start is None and end is not None:
            raise _leave_error("unavailable_from", "give both ends of the leave period, or neither")
        if start is not None and end is None:
            raise _leave_error(
                "unavailable_until", "give both ends of the leave period, or neither"
            )
        if start is not None and end is not None and end < start:
            raise _leave_error("unavailable_until", "the leave period ends before it starts")
        return self

    def on_leave(self, day: date) -> bool:
        """Whether ``day`` falls within the leave period, both ends included."""
        start, end = self.unavailable_from, self.unavailable_until
        return start is not None and end is not None and start <= day <= end

    def available_on(self, day: date) -> bool:
        return self.active and not self.on_leave(day)


def _leave_error(field: str, message: str) -> ValidationError:
    error = PydanticCustomError("leave_period", message)
    return ValidationError.from_exception_data(
        Clinician.__name__, [{"type": error, "loc": (field,), "input": None}]
    )


# Empty means any discipline will do: a clinical response letter or an addendum answers points
# on an existing report, so whoever is suited (usually its author) may write it.
_DISCIPLINES_BY_SERVICE: dict[str, frozenset[Discipline]] = {
    "full_report": frozenset(Discipline),
    "psychological_report": frozenset({Discipline.PSYCHOLOGICAL}),
    "clinical_response_letter": frozenset(),
    "addendum": frozenset(),
}


def disciplines_needed(service_requested: str) -> set[Discipline]:
    """The disciplines a service needs; an empty set means any discipline will do."""
    try:
        return set(_DISCIPLINES_BY_SERVICE[service_requested])
    except KeyError:
        raise ValueError(f"unknown service requested: {service_requested!r}") from None


@dataclass(frozen=True)
class CaseNeeds:
    disciplines: set[Discipline]
    languages: list[str]  # the survivor's, BCP 47, most preferred first
    interpreter_needed: bool
    report_due: date | None


@dataclass(frozen=True)
class Suggestion:
    clinician_id: str
    name: str
    score: int
    reasons: list[str]
    eligible: bool


def suggest(
    clinicians: Iterable[Clinician],
    needs: CaseNeeds,
    *,
    caseloads: Mapping[str, int],
    today: date,
) -> list[Suggestion]:
    """Every active clinician, eligible ones first, best first; ties go by clinician id.

    ``caseloads`` maps a clinician id to their open cases; a clinician not in it has none.
    """
    suggestions = [
        _suggestion(
            clinician, needs, caseload=caseloads.get(clinician.clinician_id, 0), today=today
        )
        for clinician in clinicians
        if clinician.active
    ]
    return sorted(suggestions, key=lambda s: (not s.eligible, -s.score, s.clinician_id))


# What one aspect of the match contributes: points, a reason to show, and whether it rules the
# clinician out.
_Aspect = tuple[int, str | None, bool]


def _suggestion(
    clinician: Clinician, needs: CaseNeeds, *, caseload: int, today: date
) -> Suggestion:
    aspects = [
        _discipline_aspect(clinician, needs.disciplines),
        _language_aspect(clinician, needs),
        _capacity_aspect(clinician, caseload, _days_left(needs.report_due, today)),
        _leave_aspect(clinician, today, needs.report_due),
    ]
    # What rules a clinician out comes first, so the coordinator sees why at a glance.
    blockers = [reason for _, reason, blocks in aspects if blocks and reason]
    others = [reason for _, reason, blocks in aspects if not blocks and reason]
    return Suggestion(
        clinician_id=clinician.clinician_id,
        name=clinician.name,
        score=sum(points for points, _, _ in aspects),
        reasons=blockers + others,
        eligible=not blockers,
    )


def _discipline_aspect(clinician: Clinician, needed: set[Discipline]) -> _Aspect:
    covered = clinician.disciplines & needed if needed else clinician.disciplines
    missing = needed - clinician.disciplines
    if not covered:
        return 0, f"does not cover {_named(missing)}", True
    if missing:
        return COVERS_SOME_DISCIPLINES, f"covers {_named(covered)}, not {_named(missing)}", False
    return COVERS_ALL_DISCIPLINES, f"covers {_named(covered)}", False


def _named(disciplines: set[Discipline]) -> str:
    return " and ".join(d.value for d in Discipline if d in disciplines)


def _language_aspect(clinician: Clinician, needs: CaseNeeds) -> _Aspect:
    if not needs.languages:
        return 0, "survivor's languages not recorded", False
    wanted = {_primary(tag) for tag in needs.languages}
    shared = [tag for tag in clinician.languages if _primary(tag) in wanted]
    if shared:
        return SHARES_A_LANGUAGE, f"speaks {', '.join(shared)}", False
    if needs.interpreter_needed:
        return 0, "interpreter needed (no shared language)", False
    reason = "no shared language, and the referral asks for no interpreter"
    return NO_SHARED_LANGUAGE_NOR_INTERPRETER, reason, False


def _primary(tag: str) -> str:
    """The primary language subtag: "ti-ER" and "ti" are both Tigrinya."""
    return tag.strip().split("-", 1)[0].lower()


def _days_left(report_due: date | None, today: date) -> int | None:
    return None if report_due is None else (report_due - today).days


def _capacity_aspect(clinician: Clinician, caseload: int, days_left: int | None) -> _Aspect:
    free = clinician.capacity - caseload
    if free <= 0:
        return 0, f"no free places ({caseload} of {clinician.capacity} taken)", True
    points = min(free, FREE_PLACES_COUNTED) * POINTS_PER_FREE_PLACE
    reason = f"{free} of {clinician.capacity} places free"
    if days_left is not None and days_left <= DEADLINE_PRESSURE_DAYS:
        points *= DEADLINE_FREE_PLACE_MULTIPLIER
        reason += f" (count double: {_deadline(days_left)})"
    return points, reason, False


def _deadline(days_left: int) -> str:
    if days_left < 0:
        return f"report overdue by {-days_left} day(s)"
    if days_left == 0:
        return "report due today"
    return f"report due in {days_left} day(s)"


def _leave_aspect(clinician: Clinician, today: date, report_due: date | None) -> _Aspect:
    start, end = clinician.unavailable_from, clinician.unavailable_until
    if start is None or end is None or end < today:
        return 0, None, False
    if start <= today:
        return 0, f"on leave until {end}", True
    if report_due is None:
        # No deadline to weigh it against; still worth knowing.
        return 0, f"on leave from {start} to {end}", False
    if start <= report_due:
        return (
            LEAVE_BEFORE_REPORT_DUE,
            f"on leave from {start} to {end}, before the report is due",
            False,
        )
    return 0, None, False
