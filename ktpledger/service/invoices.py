"""The business's invoices (R-44): `ktpledger invoice` works out a quarter's invoice from the
ledger (`domain/invoices.invoice_due`, the reconciliation's own figures) and records it as a
`BusinessInvoiced` event; `invoices` lists a project's invoices with what is paid and outstanding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ktpledger.adapters.database import Database
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import (
    INVOICE_PAYMENT_DAYS,
    BusinessInvoiced,
    BusinessPaymentReceived,
    Event,
    parse_event,
    quarter_span,
)
from ktpledger.domain.invoices import InvoiceDue, invoice_due
from ktpledger.domain.money import ZERO, format_money
from ktpledger.domain.project import Invoice, ProjectState, same_content
from ktpledger.domain.recorded import located
from ktpledger.service.ledger import fold as fold_stream
from ktpledger.service.ledger_reading import project_stream


@dataclass(frozen=True)
class InvoiceDraft:
    """A quarter's invoice as `ktpledger invoice` shows it, and the event that records it."""

    project: str
    due: InvoiceDue
    number: str
    on: date
    due_on: date
    event: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        due = self.due
        return {
            "project": self.project,
            "number": self.number,
            "quarter": due.quarter,
            "start": due.start.isoformat(),
            "end": due.end.isoformat(),
            "final_quarter": due.final_quarter,
            "date": self.on.isoformat(),
            "due": self.due_on.isoformat(),
            "amount": format_money(due.amount),
            "quarter_costs": format_money(due.quarter_costs),
            "prior_period": format_money(due.prior_period),
            "prior_period_credit": format_money(due.prior_period_credit),
            "offer_top_up": format_money(due.offer_top_up),
            "business_share": format_money(due.business_share),
            "offer_business": format_money(due.offer_business),
            "invoiced_before": format_money(due.invoiced_before),
        }


def pays(event: Event, number: str) -> bool:
    """Whether `event` is the business's payment of invoice `number` (R-44)."""
    return isinstance(event.payload, BusinessPaymentReceived) and event.payload.invoice == number


def draft_invoice(
    database: Database,
    project: str,
    quarter: str,
    *,
    on: date,
    number: str | None = None,
    payment_days: int = INVOICE_PAYMENT_DAYS,
) -> InvoiceDraft:
    """The invoice for `quarter` dated `on`, checked as the ledger would check it now (R-44,
    R-36): a refusal is raised, so a dry run says what recording would say."""
    label, _, _ = quarter_span(quarter, rule="R-44")
    chosen = number if number is not None else f"{project}-{label}"
    key = f"invoice-{chosen}"
    stream = project_stream(database, project)
    # Worked out without the invoice itself, should it be recorded already, nor the business's
    # payments of it: the same invoice asked for again is then the same event, a duplicate.
    with located(stream):
        state = fold_stream(project, stream)
        events = [(item.event(), item.version, item.hash) for item in stream if item.key != key]
        others = [(event, version, digest) for event, version, digest in events if not pays(event, chosen)]
        due = invoice_due(project, others, quarter)
    if payment_days < 0 or payment_days > 3650:
        raise RuleViolation(
            "R-44", f"the payment term must be 0 to 3650 days, got {payment_days}", field="due"
        )
    due_on = on + timedelta(days=payment_days)
    data = due.data(chosen, None if payment_days == INVOICE_PAYMENT_DAYS else due_on)
    event = {
        "type": BusinessInvoiced.TYPE,
        "project": project,
        "key": key,
        "date": on.isoformat(),
        "data": data,
    }
    parsed = parse_event(event)
    recorded = state.keys.get(parsed.key)
    if recorded is None or not same_content(recorded[0], parsed):  # the same invoice again: a duplicate
        state.check(parsed)
    return InvoiceDraft(project=project, due=due, number=chosen, on=on, due_on=due_on, event=event)


def payment_event(
    project: str, invoice: str, amount: str, on: date, key: str | None = None
) -> dict[str, Any]:
    """The `BusinessPaymentReceived` event of `amount` against `invoice`, dated `on`."""
    return {
        "type": BusinessPaymentReceived.TYPE,
        "project": project,
        "key": key or f"payment-{invoice}-{on.isoformat()}-{amount}",
        "date": on.isoformat(),
        "data": {"invoice": invoice, "amount": amount},
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """One invoice as `GET /projects/{p}/invoices` lists it (the reconciliation's `receivables`
    the same way)."""
    made_of = invoice.invoice
    row: dict[str, Any] = {
        "number": invoice.number,
        "quarter": made_of.quarter,
        "date": invoice.invoiced_on.isoformat(),
        "due": invoice.due.isoformat(),
        "amount": format_money(made_of.amount),
        "quarter_costs": format_money(made_of.quarter_costs),
        "prior_period": format_money(made_of.prior_period),
        "prior_period_credit": format_money(made_of.prior_period_credit),
        "offer_top_up": format_money(made_of.offer_top_up),
        "paid": format_money(invoice.paid),
        "outstanding": format_money(invoice.outstanding),
    }
    return row


def invoices_json(database: Database, project: str) -> dict[str, Any]:
    """`GET /projects/{project}/invoices`: the project's invoices to the business, oldest first,
    with what is paid and outstanding on each, and the totals (refused naming the project when
    the ledger has none, R-31)."""
    stream = project_stream(database, project)
    with located(stream):
        state: ProjectState = fold_stream(project, stream)
    found = list(state.invoices.values())
    invoiced = sum((invoice.invoice.amount for invoice in found), ZERO)
    received = sum((invoice.paid for invoice in found), ZERO)
    return {
        "project": project,
        "invoices": [invoice_json(invoice) for invoice in found],
        "invoiced": format_money(invoiced),
        "received": format_money(received),
        "outstanding": format_money(invoiced - received),
    }
