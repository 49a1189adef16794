"""The business's invoices (R-44), worked by hand.

A 24-month fec SME project (67%) starting 2025-01-01, the factory's offer: its business total at
the offer (R-32) is each line's budget less its grant to the penny: 33,000 + 1,320 + 825 + 1,320 +
5,280 + 0 + 11,880 = 53,625.00.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktpledger.domain.alert_views import findings, message
from ktpledger.domain.alerts import AlertKind, clock_findings
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import parse_event, quarter_span
from ktpledger.domain.invoices import (
    InvoiceDue,
    business_share,
    claim_due_quarter,
    offer_business_total,
)
from ktpledger.domain.project import ProjectState
from tests.domain.support import Ledger
from tests.ledger.factory import claim, event, offer, reversal

D = Decimal


def pay(number: str, amount: str, on: str, key: str | None = None) -> dict[str, Any]:
    return event(
        "BusinessPaymentReceived", key or f"pay-{number}-{on}", on, {"invoice": number, "amount": amount}
    )


def project(**terms: Any) -> Ledger:
    return Ledger(offer(date="2024-12-01", start="2025-01-01", **terms))


def parts(due: InvoiceDue) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    return (due.quarter_costs, due.prior_period, due.prior_period_credit, due.offer_top_up, due.amount)


def test_quarter_by_quarter_with_a_late_cost_a_part_payment_and_an_overdue_invoice() -> None:
    ledger = project()
    assert offer_business_total(ledger.state) == D("53625.00")
    # 2025Q1: associate 12,000 (grant 8,040.00, business 3,960.00); consumables 333.33 (grant
    # 223.3311 -> 223.33, business 110.00): 4,070.00.
    ledger.add(claim("ae-q1", "12000.00", category="associate_employment", date="2025-03-31"))
    ledger.add(claim("cons-q1", "333.33", date="2025-02-10"))
    first = ledger.invoice("2025Q1", "INV-1", "2025-04-05")
    assert parts(first) == (D("4070.00"), 0, 0, 0, D("4070.00"))
    ledger.add(pay("INV-1", "4070.00", "2025-04-30"))
    # 2025Q2: associate 12,000 (business 3,960.00), and a Q1 rail fare that arrived late: 150.00,
    # grant 100.50, business 49.50, a prior-period adjustment on this invoice (INV-1 unchanged).
    ledger.add(claim("ae-q2", "12000.00", category="associate_employment", date="2025-05-31"))
    ledger.add(claim("rail-q1", "150.00", category="travel_subsistence", date="2025-03-20"))
    second = ledger.invoice("2025Q2", "INV-2", "2025-07-03")
    assert parts(second) == (D("3960.00"), D("49.50"), 0, 0, D("4009.50"))
    assert ledger.state.invoices["INV-1"].invoice.amount == D("4070.00")
    # A part payment: 2,000.00 of 4,009.50; due 30 days after 2025-07-03, on 2025-08-02.
    ledger.add(pay("INV-2", "2000.00", "2025-07-20"))
    invoice = ledger.state.invoices["INV-2"]
    assert (invoice.due, invoice.paid, invoice.outstanding) == (date(2025, 8, 2), D("2000.00"), D("2009.50"))
    # 2025Q3: associate 12,000 less a reversal of 33.33 of the Q1 consumables dated in Q3: the
    # consumables' business share goes from 110.00 to 300 - 201.00 = 99.00, so 3,960 - 11 = 3,949.00.
    ledger.add(claim("ae-q3", "12000.00", category="associate_employment", date="2025-08-31"))
    ledger.add(reversal("undo-cons", "cons-q1", "33.33", date="2025-08-15"))
    assert parts(ledger.due("2025Q3")) == (D("3949.00"), 0, 0, 0, D("3949.00"))

    # The clock: nothing before 10 days ahead of the due date, then due, then overdue.
    assert not _invoice_alerts(ledger.state, date(2025, 7, 22))
    assert _invoice_alerts(ledger.state, date(2025, 7, 23)) == {("invoice_due", "INV-2")}
    assert _invoice_alerts(ledger.state, date(2025, 8, 2)) == {("invoice_due", "INV-2")}
    assert _invoice_alerts(ledger.state, date(2025, 8, 10)) == {("invoice_overdue", "INV-2")}
    overdue = [
        shown for shown in findings(ledger.state, date(2025, 8, 10)) if shown.kind == "invoice_overdue"
    ]
    assert overdue[0].message == (
        "Invoice INV-2 to the business for 2025Q2 (£4,009.50, £2,000.00 paid) was due on 2 August 2025, "
        "8 days before 10 August 2025: £2,009.50 is outstanding (R-44)."
    )
    ledger.add(pay("INV-2", "2009.50", "2025-08-11"))
    assert not _invoice_alerts(ledger.state, date(2025, 8, 12))


def _invoice_alerts(state: ProjectState, today: date) -> set[tuple[str, str]]:
    return {
        (str(key.kind), key.subject)
        for key in clock_findings(state, today)
        if key.kind in (AlertKind.INVOICE_DUE, AlertKind.INVOICE_OVERDUE)
    }


def test_the_final_invoice_tops_up_to_the_offers_business_total() -> None:
    """Six months, associate employment 20,000 only: the offer's business total is 20,000 - 13,400
    = 6,600.00. 9,000 spent in each quarter: business 2,970.00 each, 5,940.00 in all, 660.00 short."""
    ledger = project(months=6, budget={"associate_employment": "20000"})
    assert offer_business_total(ledger.state) == D("6600.00")
    ledger.add(claim("q1", "9000.00", category="associate_employment", date="2025-03-15"))
    ledger.add(claim("q2", "9000.00", category="associate_employment", date="2025-06-15"))
    first = ledger.invoice("2025Q1", "A-1", "2025-04-01")
    assert (first.final_quarter, first.amount) == (False, D("2970.00"))
    final = ledger.invoice("2025Q2", "A-2", "2025-07-01")
    assert final.final_quarter
    assert parts(final) == (D("2970.00"), 0, 0, D("660.00"), D("3630.00"))
    assert ledger.state.invoiced_total() == D("6600.00")


def test_spend_to_the_offer_needs_no_top_up() -> None:
    ledger = project(months=3, budget={"associate_employment": "10000"})
    ledger.add(claim("all", "10000.00", category="associate_employment", date="2025-02-15"))
    # 10,000 at 67%: grant 6,700.00, business 3,300.00, the offer's business total exactly.
    assert parts(ledger.due("2025Q1")) == (D("3300.00"), 0, 0, 0, D("3300.00"))


def test_a_credit_larger_than_the_invoice_is_carried_to_the_next() -> None:
    ledger = project(months=12, budget={"associate_employment": "40000"})
    ledger.add(claim("q1", "9000.00", category="associate_employment", date="2025-03-15"))
    ledger.invoice("2025Q1", "C-1", "2025-04-01")  # 2,970.00
    ledger.add(reversal("undo", "q1", date="2025-05-01"))
    # 2025Q2 undoes all of Q1: -2,970.00, taken only as far as 0.00.
    assert parts(ledger.invoice("2025Q2", "C-2", "2025-07-01")) == (0, 0, 0, 0, 0)
    ledger.add(claim("q3", "3000.00", category="associate_employment", date="2025-08-15"))
    # 2025Q3 adds 990.00; the 2,970.00 still to credit takes it all (1,980.00 carried on).
    assert parts(ledger.due("2025Q3")) == (D("990.00"), 0, D("990.00"), 0, 0)


def test_what_an_invoice_may_not_be() -> None:
    ledger = project()
    ledger.add(claim("q1", "1000.00", date="2025-02-01"))
    cases = {
        "in advance": (("2025Q1", "2025-03-31"), "quarter", "not in arrears"),
        "outside the period": (("2024Q4", "2025-04-02"), "quarter", "outside the project's period"),
        "after the period": (("2027Q1", "2027-04-02"), "quarter", "outside the project's period"),
        "out of order": (("2025Q2", "2025-07-02"), "quarter", "the next invoice is for 2025Q1"),
    }
    for name, ((quarter, on), field, words) in cases.items():
        data = {"number": "X", "quarter": quarter, "amount": "1.00", "quarter_costs": "1.00"}
        error = ledger.refused(event("BusinessInvoiced", "x", on, data))
        assert (error.rule, error.field) == ("R-44", field), name
        assert words in str(error), (name, str(error))
    ledger.invoice("2025Q1", "N-1", "2025-04-02")
    again = {"number": "N-2", "quarter": "2025Q1", "amount": "0", "quarter_costs": "0"}
    error = ledger.refused(event("BusinessInvoiced", "again", "2025-05-01", again))
    assert (error.rule, error.field) == ("R-44", "quarter") and "invoiced already" in str(error)
    unbalanced = {"number": "N-2", "quarter": "2025Q2", "amount": "2", "quarter_costs": "1"}
    error = ledger.refused(event("BusinessInvoiced", "sum", "2025-07-01", unbalanced))
    assert (error.rule, error.field) == ("R-44", "amount") and "is not what the invoice is made of" in str(
        error
    )
    taken = {"number": "N-1", "quarter": "2025Q2", "amount": "0", "quarter_costs": "0"}
    error = ledger.refused(event("BusinessInvoiced", "taken", "2025-07-01", taken))
    assert (error.rule, error.field) == ("R-44", "number")
    # Payments: an unknown invoice, more than is outstanding (330.00), before the invoice.
    for raw, field in (
        (pay("N-9", "1.00", "2025-05-01"), "invoice"),
        (pay("N-1", "330.01", "2025-05-01"), "amount"),
        (pay("N-1", "1.00", "2025-04-01"), "date"),
    ):
        error = ledger.refused(raw)
        assert (error.rule, error.field) == ("R-44", field), raw
    # A closed project takes no invoice, but a payment still (as a grant payment).
    ledger.add(event("ProjectClosed", "close", "2025-07-05", {}))
    error = ledger.refused(event("BusinessInvoiced", "late", "2025-07-06", taken | {"number": "N-3"}))
    assert error.rule == "R-36"
    ledger.add(pay("N-1", "330.00", "2025-07-10"))
    assert ledger.state.invoices["N-1"].outstanding == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quarter": "2025Q1", "amount": "1", "quarter_costs": "1"}, "number"),
        ({"number": "A", "quarter": "2025Q5", "amount": "1", "quarter_costs": "1"}, "quarter"),
        ({"number": "A", "quarter": "2025Q1", "quarter_costs": "1"}, "amount"),
        ({"number": "A", "quarter": "2025Q1", "amount": "1"}, "quarter_costs"),
        ({"number": "A", "quarter": "2025Q1", "amount": "-1", "quarter_costs": "1"}, "amount"),
        ({"number": "A", "quarter": "2025Q1", "amount": "1", "quarter_costs": "1", "due": "soon"}, "due"),
        ({"number": "A" * 65, "quarter": "2025Q1", "amount": "1", "quarter_costs": "1"}, "number"),
    ],
)
def test_a_malformed_invoice_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_event(event("BusinessInvoiced", "x", "2025-04-02", data))
    assert (caught.value.rule, caught.value.field) == ("R-44", field)


@pytest.mark.parametrize(
    ("data", "field"),
    [({"amount": "1"}, "invoice"), ({"invoice": "A"}, "amount"), ({"invoice": "A", "amount": "0"}, "amount")],
)
def test_a_malformed_payment_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_event(event("BusinessPaymentReceived", "x", "2025-04-02", data))
    assert (caught.value.rule, caught.value.field) == ("R-44", field)


def test_an_invoice_may_name_its_own_due_date() -> None:
    ledger = project()
    ledger.invoice("2025Q1", "D-1", "2025-04-02", due="2025-06-30")
    assert ledger.state.invoices["D-1"].due == date(2025, 6, 30)


def test_claim_due_for_the_latest_ended_quarter_only_until_its_due_date() -> None:
    ledger = project(months=6, budget={"associate_employment": "20000"})
    state = ledger.state
    assert claim_due_quarter(state, date(2025, 3, 31)) is None
    assert claim_due_quarter(state, date(2025, 4, 1)) == ("2025Q1", date(2025, 4, 30))
    assert claim_due_quarter(state, date(2026, 2, 1)) == ("2025Q2", date(2025, 7, 30))

    def claim_alerts(today: date) -> list[str]:
        return [key.subject for key in clock_findings(state, today) if key.kind == AlertKind.CLAIM_DUE]

    assert claim_alerts(date(2025, 4, 19)) == []
    assert claim_alerts(date(2025, 4, 20)) == ["2025Q1"]
    assert claim_alerts(date(2025, 4, 30)) == ["2025Q1"]
    assert claim_alerts(date(2025, 5, 1)) == []  # claim_overdue from then (R-45, tests/domain/test_claims.py)
    detail = clock_findings(state, date(2025, 4, 20))
    said = [message(str(key.kind), "", figures) for key, figures in detail.items()]
    assert said == [
        (
            "The grant claim for 2025Q1 is due on 30 April 2025, in 10 days: make the claim pack and submit "
            "it to Innovate UK (R-45)."
        )
    ]


@settings(max_examples=60, deadline=None)
@given(
    claims=st.lists(
        st.tuples(
            st.sampled_from(
                ["associate_employment", "consumables", "travel_subsistence", "associate_development"]
            ),
            st.integers(1, 900_000),  # pence
            st.integers(0, 364),  # the day of the year it is dated
            st.integers(0, 3),  # the invoice it arrives before (0: the first)
        ),
        max_size=25,
    ),
    rate=st.sampled_from(["sme", "large", "not_for_profit"]),
)
def test_a_projects_invoices_add_up_to_its_business_share_or_the_offers_total(
    claims: list[tuple[str, int, int, int]], rate: str
) -> None:
    """Invoicing every quarter of a 12-month project in turn, with costs arriving late: the
    invoices add up to the reconciliation's business share, or to the offer's business total
    when that is more (R-32, R-44); each invoice's parts add up to its amount."""
    budget = {"associate_employment": "40000", "consumables": "2000", "travel_subsistence": "1250"}
    budget["associate_development"] = "2000"
    ledger = project(months=12, budget=budget, business_type=rate)
    quarters = ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    for index, quarter in enumerate(quarters):
        for number, (category, amount, day, before) in enumerate(claims):
            if before == index:
                on = date(2025, 1, 1) + timedelta(days=day)
                ledger.add(
                    claim(f"c{number}", f"{D(amount) / 100:.2f}", category=category, date=on.isoformat())
                )
        _, _, end = quarter_span(quarter, rule="R-44")
        due = ledger.invoice(quarter, f"I-{quarter}", (end + timedelta(days=3)).isoformat())
        assert due.amount >= 0
    share = business_share(ledger.state)
    assert ledger.state.invoiced_total() == max(share, offer_business_total(ledger.state))
