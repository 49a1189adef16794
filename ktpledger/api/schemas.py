"""The response models of the reading routes: what `/openapi.json` says each answer holds.

They describe the JSON the read models write (`to_json()`, docs/http-api.md) and are not used to write
it: a route answers with that JSON as it is, so a body keeps its keys' order and its money as
text ("1234.50"). tests/api/test_response_schemas.py checks the bodies against these schemas.
A field with a default may be missing from a body; one without is always there (maybe null).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Money = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]+\.[0-9]{2}$",
        description="an amount in pounds, with two decimals",
        examples=["1234.50"],
    ),
]
Rate = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", description="a grant rate", examples=["0.67"])]
Share = Annotated[
    str, Field(pattern=r"^[0-9]+\.[0-9]{4}$", description="a share, four decimals", examples=["0.6250"])
]
Figures = dict[str, Any]  # an alert's figures, as stored (money as text)
Status = Literal["open", "closed"]


class Shown(BaseModel):
    """A response body's object: no field but those listed."""

    model_config = ConfigDict(extra="forbid")


class Refusal(Shown):
    """A refusal: the rule (R-nn) and what is wrong."""

    rule: str
    message: str
    event: dict[str, Any] | None = Field(None, description="the row that cannot be read (R-30)")


class Health(Shown):
    status: Literal["ok"]


class RecordedByOut(Shown):
    """Who recorded an event (docs/events.md, `recorded_by`)."""

    name: str
    role: str | None = Field(description="the token's role; null on the command line (no token)")
    channel: Literal["api", "cli", "import", "dashboard"]


class RecordedEventOut(Shown):
    """A recorded event (docs/cli.md): as submitted, with its place in the ledger."""

    type: str
    project: str
    key: str | None
    date: date
    data: dict[str, Any] | None
    version: int
    position: int
    recorded_at: str
    hash: str
    prev_hash: str | None
    schema_version: int
    chain_version: int = Field(description="which link document `hash` is of (docs/events.md)")
    recorded_by: RecordedByOut | None = Field(
        description="who recorded it; null on events recorded before it was kept (chain version 1)"
    )
    data_text: str | None = Field(None, description="data that is not JSON, as stored")
    recorded_by_text: str | None = Field(None, description="a recorded_by that is not JSON, as stored")
    unreadable: Refusal | None = Field(None, description="why this row cannot be read (R-30)")


class AllowanceLineOut(Shown):
    category: str
    budget: Money
    limit: Money | None
    limit_kind: str
    spent: Money
    remaining: Money
    eligible: Money
    ineligible: Money


class AllowanceReportOut(Shown):
    """`ktpledger allowances --format json`."""

    project: str
    as_of: date | None = Field(description="the day asked for; null: as of the ledger's head")
    end: date
    grant_rate: Rate
    version: int
    lines: list[AllowanceLineOut]


class AcknowledgedByOut(Shown):
    """Who acknowledged an alert, as the ledger recorded them (`recorded_by`)."""

    name: str | None
    role: str | None = Field(description="the token's role; null on the command line (no token)")
    channel: str | None


class AcknowledgedOut(Shown):
    """An alert's acknowledgement (R-39): the day, who, the note and the event's version."""

    on: date
    by: AcknowledgedByOut
    note: str
    version: int


class AlertOut(Shown):
    """An alert with its figures at the raise (`detail`) and now (`current`, while open), in
    sentences; a calendar finding (`source` clock) has no id and no versions."""

    id: int | None
    project: str
    category: str | None
    kind: str
    subject: str = Field("", description="what tells apart alerts of one kind on one line (R-39)")
    detail: Figures
    current: Figures | None
    status: Status | Literal["resolved"]
    raised_at_version: int | None
    resolved_at_version: int | None
    resolved_reason: str | None
    notified: bool
    raised_on: date | None = Field(
        None, description="the ledger's date of the raise (null: a calendar finding)"
    )
    resolved_on: date | None = Field(None, description="the ledger's date of the resolution")
    acknowledged: AcknowledgedOut | None = Field(None, description="null until acknowledged (R-39)")
    source: Literal["clock"] | None = None
    message: str
    raised_message: str


class GroupProjectOut(Shown):
    project: str
    count: int


class GroupCategoryOut(Shown):
    category: str | None
    count: int


class AlertGroupOut(Shown):
    """The alerts of one kind across projects (issue 16)."""

    kind: str
    label: str
    severity: Literal["red", "amber", "info"]
    count: int
    acknowledged: int
    oldest_raised_on: date | None
    projects: list[GroupProjectOut]
    categories: list[GroupCategoryOut]
    summary: str
    alerts: list[AlertOut]


class AlertGroupsOut(Shown):
    """`GET /alerts/groups`, `ktpledger alerts --group --format json`."""

    as_of: date
    count: int
    projects: int
    groups: list[AlertGroupOut]


class AcknowledgementOut(Shown):
    """`POST /alerts/{alert_id}/acknowledgement`: the `AlertAcknowledged` event recorded (its
    project and version) and the alert as it is now shown."""

    status: Literal["recorded"]
    project: str
    version: int
    alert: AlertOut


class ProjectionOut(Shown):
    """The project's projection: `ok`, or `failed` while quarantined (with the row and why)."""

    status: Literal["ok", "failed"]
    version: int
    error: str | None = None
    failed_version: int | None = None
    failed_position: int | None = None


class PeriodPlaceOut(Shown):
    phase: str
    month: int
    describe: str


class ProjectRowOut(Shown):
    """A project of the list; an unreadable one has its `error` and no more than its reference."""

    project: str
    title: str | None
    knowledge_base: str | None = None
    business: str | None = None
    methodology: str | None = None
    business_type: str | None = None
    status: Status | Literal["unreadable"]
    closed_on: date | None = None
    start: date | None = None
    end: date | None
    months: int | None = None
    grant_rate: Rate | None = None
    version: int | None = None
    error: Refusal | None = None
    projection: ProjectionOut
    period: PeriodPlaceOut | None = None
    ended_not_closed: bool | None = None
    open_alerts: int


class SummaryPeriodOut(Shown):
    phase: str
    month: int
    months: int
    elapsed: Share
    describe: str
    ended_not_closed: bool
    days_past_end: int
    last_spend: date | None
    no_spend_for_three_months: bool


class SummaryLineOut(AllowanceLineOut):
    derived: bool
    forecast: Money
    forecast_over_budget: bool
    used: Share | None


class SummaryTotalsOut(Shown):
    budget: Money
    spent: Money
    eligible: Money
    ineligible: Money
    remaining: Money
    forecast: Money


class SpendPointOut(Shown):
    month: int
    to: date
    cumulative: Money
    budget: Money


class SpendOut(Shown):
    budget: Money
    spent: Money
    spent_share: Share | None
    forecast: Money
    forecast_excess: Money
    forecast_over_budget: bool
    includes_derived: bool
    series: list[SpendPointOut]


class DecisionOut(Shown):
    version: int
    date: date
    key: str | None
    kind: str | None
    summary: str
    minute: str | None
    justification: str | None
    approved_by: str | None
    recorded_by: RecordedByOut | None = Field(None, description="who recorded it; null if not kept")


class ProjectSummaryOut(Shown):
    """The dashboard's figures for one project, judged as of `as_of`."""

    revision: str
    project: str
    title: str
    knowledge_base: str
    business: str
    methodology: str
    business_type: str
    status: Status
    closed_on: date | None
    start: date
    end: date
    months: int
    grant_rate: Rate
    version: int
    as_of: date
    month: int
    period: SummaryPeriodOut
    projection_version: int
    projection: ProjectionOut
    catching_up: bool
    lines: list[SummaryLineOut]
    totals: SummaryTotalsOut
    spend: SpendOut
    open_alerts: list[AlertOut]
    decisions: list[DecisionOut]
    grant_paid: Money
    parental_leave: Money


class QuarantinedOut(Shown):
    """A quarantined projection: how far it folded, the row that stopped it and why, since when."""

    project: str
    status: Literal["failed"]
    version: int
    position: int
    failed_version: int | None
    failed_position: int | None
    error: str | None
    since: datetime


class RetryOut(Shown):
    project: str
    status: Literal["ok", "failed"]
    was: Literal["ok", "failed"]
    version: int
    error: Refusal | None
