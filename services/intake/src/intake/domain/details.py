"""The referral form: what a partner tells us, and what makes it complete enough for triage.

One model serves both the draft and the submission. A draft may lack anything (the partner
completes it over several requests) but nothing in it may be wrong; a submission must be
complete. So a draft is checked against the full model, and "missing" errors are kept apart as
what is still needed rather than refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from corroborate.clock import utc_now
from corroborate.events.contracts import (
    MAX_QUESTIONS,
    CountryCode,
    ImmigrationStage,
    InterpreterGender,
    LanguageTag,
    RiskFlag,
    ServiceRequested,
    YearMonth,
)
from corroborate.vocab import PerpetratorType, TortureMethod

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$", max_length=21)]
Email = Annotated[EmailStr, Field(max_length=254)]
HomeOfficeReference = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/ -]{2,39}$",
        max_length=40,
        description="As the Home Office writes it",
    ),
]

# The paths sealed one by one at rest (field-level encryption): whatever identifies the survivor
# or names a person. Everything else stays readable, so it can be queried and checked.
IDENTITY_PATHS = (
    "representative.name",
    "representative.email",
    "representative.phone",
    "survivor.full_name",
    "survivor.other_names",
    "survivor.date_of_birth",
    "survivor.contact",
    "immigration.home_office_reference",
    "allegations.account",
    "consent.referral_consent_recorded_by",
    "questions",
)

# Errors that mean "not there yet": a draft may have them, a submission may not.
_NOT_YET = frozenset({"missing", "age_unknown", "required_for_submission"})


class Strict(BaseModel):
    # A validation error never repeats the input: it may be a survivor's details.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True)


def _rule(field: tuple[str | int, ...], rule: str, message: str) -> InitErrorDetails:
    return {"type": PydanticCustomError(rule, message), "loc": field, "input": None}


class Representative(Strict):
    """The survivor's legal representative: the only person who may refer."""

    organisation_name: ShortText
    name: ShortText
    email: Email
    phone: Phone | None = None


class SurvivorContact(Strict):
    phone: Phone | None = None
    email: Email | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class Survivor(Strict):
    full_name: ShortText
    other_names: Annotated[list[ShortText], Field(max_length=10)] = []
    date_of_birth: date | None = None
    approximate_age: Annotated[int, Field(ge=0, le=120)] | None = None
    gender: Literal["female", "male", "non_binary", "other", "not_stated"]
    nationality: CountryCode
    country_of_origin: CountryCode
    languages: Annotated[list[LanguageTag], Field(min_length=1, max_length=10)]
    interpreter_needed: bool
    interpreter_gender: InterpreterGender = InterpreterGender.NO_PREFERENCE
    contact: SurvivorContact | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _age_known(cls, data: Any, handler: ModelWrapValidatorHandler[Survivor]) -> Survivor:
        """Date of birth or approximate age, reported beside any other field's error."""
        age_unknown = (
            isinstance(data, Mapping)
            and data.get("date_of_birth") is None
            and data.get("approximate_age") is None
        )
        rule = _rule(("date_of_birth",), "age_unknown", "give date_of_birth or approximate_age")
        try:
            survivor = handler(data)
        except ValidationError as exc:
            if not age_unknown:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, [*_again(exc.errors()), rule]
            ) from None
        if age_unknown:
            raise ValidationError.from_exception_data(cls.__name__, [rule])
        if survivor.date_of_birth is not None and survivor.date_of_birth > utc_now().date():
            raise ValidationError.from_exception_data(
                cls.__name__,
                [_rule(("date_of_birth",), "date_in_future", "date_of_birth is in the future")],
            )
        return survivor


class Immigration(Strict):
    stage: ImmigrationStage
    home_office_reference: HomeOfficeReference | None = None
    decision_date: date | None = None
    appeal_hearing_date: date | None = None
    removal_directions_date: date | None = None

    @model_validator(mode="after")
    def _dates_for_stage(self) -> Immigration:
        errors: list[InitErrorDetails] = []
        if self.stage in {ImmigrationStage.REFUSED, ImmigrationStage.APPEAL_PENDING} and (
            self.decision_date is None
        ):
            errors.append(
                _rule(
                    ("decision_date",),
                    "required_for_submission",
                    f"a case that is {self.stage.value} needs the decision date",
                )
            )
        if self.stage is ImmigrationStage.APPEAL_PENDING and self.appeal_hearing_date is None:
            errors.append(
                _rule(
                    ("appeal_hearing_date",),
                    "required_for_submission",
                    "an appeal pending needs the hearing date (or the date it is expected)",
                )
            )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


class Detention(Strict):
    detained: bool
    place: ShortText | None = None
    rule_35_report: bool | None = Field(
        default=None, description="Whether a Rule 35 report was made (detained only)."
    )

    @model_validator(mode="after")
    def _place_if_detained(self) -> Detention:
        if self.detained and self.place is None:
            rule = _rule(("place",), "required_for_submission", "say where the survivor is held")
        elif not self.detained and (self.place is not None or self.rule_35_report is not None):
            rule = _rule(
                ("place",), "not_detained", "place and rule_35_report apply only when detained"
            )
        else:
            return self
        raise ValidationError.from_exception_data(type(self).__name__, [rule])


class Period(Strict):
    start: YearMonth
    end: YearMonth | None = Field(default=None, description="Empty if it is still going on.")

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.end is not None and self.end < self.start:
            raise ValidationError.from_exception_data(
                type(self).__name__, [_rule(("end",), "period_order", "end is before start")]
            )
        return self


class Allegations(Strict):
    countries: Annotated[list[CountryCode], Field(min_length=1, max_length=20)]
    period: Period | None = None
    methods: Annotated[list[TortureMethod], Field(max_length=50)] = []
    perpetrators: Annotated[list[PerpetratorType], Field(max_length=20)] = []
    account: Annotated[str, Field(min_length=1, max_length=20_000)]


class Consent(Strict):
    referral_and_assessment: Literal[True] = Field(
        description="The survivor consents to the referral and to being assessed."
    )
    referral_consent_recorded_by: ShortText
    referral_consent_recorded_at: datetime
    anonymised_use: bool = Field(
        description="Separately: consent to anonymised use for research and advocacy."
    )


Question = Annotated[str, Field(min_length=3, max_length=2000)]


class ReferralDetails(Strict):
    """What a partner sends to refer a survivor."""

    representative: Representative
    survivor: Survivor
    immigration: Immigration
    detention: Detention
    service_requested: ServiceRequested
    allegations: Allegations
    risk_flags: Annotated[list[RiskFlag], Field(max_length=len(RiskFlag))] = []
    consent: Consent
    questions: Annotated[
        list[Question],
        Field(
            min_length=1,
            max_length=MAX_QUESTIONS,
            description="The letter of instruction's questions for the expert.",
        ),
    ]

    @model_validator(mode="wrap")
    @classmethod
    def _dates_possible(
        cls, data: Any, handler: ModelWrapValidatorHandler[ReferralDetails]
    ) -> ReferralDetails:
        """Dates that cannot be true, across sections, reported beside any other error."""
        impossible = impossible_dates(data) if isinstance(data, Mapping) else []
        try:
            details = handler(data)
        except ValidationError as exc:
            if not impossible:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, [*_again(exc.errors()), *impossible]
            ) from None
        if impossible:
            raise ValidationError.from_exception_data(cls.__name__, impossible)
        return details

    @model_validator(mode="after")
    def _consistent(self) -> ReferralDetails:
        refusal_stages = {ImmigrationStage.REFUSED, ImmigrationStage.APPEAL_PENDING}
        if (
            self.service_requested is ServiceRequested.CLINICAL_RESPONSE_LETTER
            and self.immigration.stage not in refusal_stages
        ):
            message = (
                "a clinical response letter answers a refusal: stage refused or appeal_pending"
            )
            raise ValidationError.from_exception_data(
                type(self).__name__, [_rule(("service_requested",), "needs_refusal", message)]
            )
        if self.detention.detained and RiskFlag.DETAINED not in self.risk_flags:
            self.risk_flags = [*self.risk_flags, RiskFlag.DETAINED]
        return self


CLOCK_SKEW = timedelta(minutes=5)
"""How far ahead of our clock a partner's clock may be when they say "now"."""


def _again(errors: list[ErrorDetails]) -> list[InitErrorDetails]:
    """Errors already found, to raise again with more (each type kept, its message as made)."""
    return [
        {
            "type": PydanticCustomError(e["type"], e["msg"].replace("{", "(").replace("}", ")")),
            "loc": e["loc"],
            "input": None,
        }
        for e in errors
    ]


_DATE: TypeAdapter[date] = TypeAdapter(date)
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _parsed(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` as a date or datetime if it is one (else None: its own field says so)."""
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def _month(value: Any) -> str | None:
    """``value`` if it is a YYYY-MM (which compares in order as text), else None."""
    ok = isinstance(value, str) and len(value) == 7 and value[4] == "-"
    return value if ok and value[:4].isdigit() and value[5:].isdigit() else None


def _section(data: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    for name in path:
        value = data.get(name)
        data = value if isinstance(value, Mapping) else {}
    return data


def impossible_dates(data: Mapping[str, Any]) -> list[InitErrorDetails]:
    """Dates that cannot be true together: ill-treatment before birth or in the future, a
    decision taken in the future, events before the survivor was born. Each rule is checked
    only where both its dates are given and valid (a draft may lack either)."""
    now = utc_now()
    today, this_month = now.date(), now.strftime("%Y-%m")
    survivor = _section(data, "survivor")
    born: date | None = _parsed(_DATE, survivor.get("date_of_birth"))
    if born is not None and born > today:
        born = None  # a date of birth in the future is its own error, and proves nothing here
    age = survivor.get("approximate_age")
    born_month = born.strftime("%Y-%m") if born else None
    if born is None and isinstance(age, int) and 0 <= age <= 120:
        born_month = f"{today.year - age - 1:04d}-01"  # the earliest they can have been born
    problems: list[InitErrorDetails] = []
    period = _section(data, "allegations", "period")
    for end in ("start", "end"):
        month = _month(period.get(end))
        loc = ("allegations", "period", end)
        if month is not None and month > this_month:
            problems.append(_rule(loc, "date_in_future", f"the period's {end} is in the future"))
        elif month is not None and born_month is not None and month < born_month:
            problems.append(
                _rule(loc, "before_birth", f"the period's {end} is before the survivor was born")
            )
    immigration = _section(data, "immigration")
    decided: date | None = _parsed(_DATE, immigration.get("decision_date"))
    if decided is not None and decided > today:
        problems.append(
            _rule(
                ("immigration", "decision_date"),
                "date_in_future",
                "decision_date is in the future: give the date the decision was made",
            )
        )
    for field in ("decision_date", "appeal_hearing_date", "removal_directions_date"):
        when: date | None = _parsed(_DATE, immigration.get(field))
        if when is not None and born is not None and when < born:
            problems.append(
                _rule(
                    ("immigration", field),
                    "before_birth",
                    f"{field} is before the survivor's date of birth",
                )
            )
    hearing: date | None = _parsed(_DATE, immigration.get("appeal_hearing_date"))
    if hearing is not None and decided is not None and hearing < decided:
        problems.append(
            _rule(
                ("immigration", "appeal_hearing_date"),
                "before_decision",
                "appeal_hearing_date is before the decision appealed against",
            )
        )
    recorded: datetime | None = _parsed(
        _DATETIME, _section(data, "consent").get("referral_consent_recorded_at")
    )
    if recorded is not None and recorded.tzinfo is not None and recorded > now + CLOCK_SKEW:
        problems.append(
            _rule(
                ("consent", "referral_consent_recorded_at"),
                "date_in_future",
                "referral_consent_recorded_at is in the future",
            )
        )
    return problems


@dataclass(frozen=True)
class DraftCheck:
    """A draft's problems: ``errors`` are wrong now; ``missing`` are still to be given."""

    errors: list[ErrorDetails]
    missing: list[str]  # "field.path: what is needed"
    details: ReferralDetails | None


def check_draft(data: Mapping[str, Any]) -> DraftCheck:
    """Validate a (possibly partial) draft against the full form."""
    try:
        details = ReferralDetails.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        return DraftCheck(
            errors=[e for e in errors if e["type"] not in _NOT_YET],
            missing=[f"{_dotted(e['loc'])}: {e['msg']}" for e in errors if e["type"] in _NOT_YET],
            details=None,
        )
    return DraftCheck(errors=[], missing=[], details=details)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def age_band(details: ReferralDetails, *, on: date) -> str:
    """A band coarse enough for statistics: never the date of birth itself."""
    survivor = details.survivor
    if survivor.date_of_birth is not None:
        born = survivor.date_of_birth
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    else:
        age = survivor.approximate_age or 0
    for upper, band in ((17, "0-17"), (25, "18-25"), (35, "26-35"), (45, "36-45"), (55, "46-55")):
        if age <= upper:
            return band
    return "56+"
