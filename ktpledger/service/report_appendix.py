"""What an auditor asks of a report beyond its figures, passed alongside the statement to the
renderers (`ktpledger.reports.render(statement, fmt, appendix)`): who prepared it and on what day,
the threshold above which the final claim needs an independent accountant's report, the grant
payments by date, the transactions per category, the LMC's decisions with their minutes and the
parental-leave costs one by one.

It is read from the project's stream once, here; the renderers stay free of clock and database.
The day it is prepared on is given (`--prepared-on`) or the ledger's latest event's date, never the
clock, so two reports of one ledger position made by one person are the same bytes. The JSON
document is the statement's alone: the appendix does not change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ktpledger.adapters.database import Database
from ktpledger.domain.events import GrantPayment, ParentalLeaveCost
from ktpledger.domain.month_ends import DECISION_TYPES
from ktpledger.service.ledger_reading import project_stream
from ktpledger.service.project_summary import decision_shown
from ktpledger.service.summary_models import DecisionShown
from ktpledger.service.transactions import ProjectTransactions, line_transactions


@dataclass(frozen=True)
class Preparation:
    """Who prepared the report (the command line's `--as` or the OS user; the API token's label),
    the day it says it was prepared on, and the grant above which an independent accountant's
    report is required (None: no such note)."""

    by: str
    on: date
    independent_report_threshold: Decimal | None = None


@dataclass(frozen=True)
class PaymentMade:
    """A grant payment received: its date, amount, the claim it pays (None: unallocated) and version."""

    on: date
    amount: Decimal
    claim: int | None
    version: int


@dataclass(frozen=True)
class LeaveCostItem:
    """One parental-leave cost as recorded (R-35)."""

    on: date
    amount: Decimal
    description: str
    version: int
    recorded_by: str | None


@dataclass(frozen=True)
class AuditAppendix:
    prepared: Preparation
    payments: tuple[PaymentMade, ...] = ()
    transactions: ProjectTransactions | None = None
    decisions: tuple[DecisionShown, ...] = ()
    parental_leave: tuple[LeaveCostItem, ...] = ()


def _name(recorded_by: dict[str, object] | None) -> str | None:
    if recorded_by is None:
        return None
    name = recorded_by.get("name")
    return None if name is None else str(name)


def audit_appendix(
    database: Database,
    project: str,
    *,
    prepared_by: str,
    prepared_on: date | None = None,
    independent_report_threshold: Decimal | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    through_version: int | None = None,
) -> AuditAppendix:
    """The appendix of `project`'s report: of its whole life, or of the events dated from
    `date_from` to `date_to` recorded up to `through_version` (a claim pack's quarter, of the
    ledger the pack was made from: a submitted claim's pack stays the same bytes whatever is
    recorded later). Prepared on `prepared_on`, else the latest date of those events."""
    stream = project_stream(database, project)
    if through_version is not None:
        stream = [item for item in stream if item.version <= through_version] or stream[:1]
    if date_to is not None:
        stream = [item for item in stream if item.date <= date_to] or stream[:1]
    on = prepared_on if prepared_on is not None else max(item.date for item in stream)
    payments: list[PaymentMade] = []
    leave: list[LeaveCostItem] = []
    decisions: list[DecisionShown] = []
    for item in stream:
        if item.type == GrantPayment.TYPE:
            paid = item.event().payload
            assert isinstance(paid, GrantPayment)
            payments.append(PaymentMade(item.date, paid.amount, paid.claim, item.version))
        elif item.type == ParentalLeaveCost.TYPE:
            cost = item.event().payload
            assert isinstance(cost, ParentalLeaveCost)
            recorded = item.to_json().get("recorded_by")
            leave.append(
                LeaveCostItem(item.date, cost.amount, cost.description, item.version, _name(recorded))
            )
        elif item.type in DECISION_TYPES:
            decisions.append(decision_shown(item))
    return AuditAppendix(
        prepared=Preparation(prepared_by, on, independent_report_threshold),
        payments=tuple(payments),
        transactions=line_transactions(stream, project, date_from=date_from, date_to=date_to),
        decisions=tuple(decisions),
        parental_leave=tuple(leave),
    )
