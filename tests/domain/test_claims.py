"""Grant claims (R-45), worked by hand.

A 24-month fec SME project (67%) starting 2025-01-01 with the factory's budget and no recorded
profile: each line is planned evenly, so consumables (4,000) are forecast at 500.00 a quarter.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ktpledger.domain.alert_views import message
from ktpledger.domain.alerts import AlertKind, clock_findings
from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import claim_needs_narrative, parse_event, schema_version_of
from ktpledger.domain.reconciliation import History, reconcile
from ktpledger.domain.rules import Category
from tests.domain.support import Ledger
from tests.ledger.factory import claim, event, offer, reversal

D = Decimal
CONSUMABLES = Category("consumables")


def project() -> Ledger:
    return Ledger(offer(date="2024-12-01", start="2025-01-01"))


def test_the_narrative_rule_at_its_edges() -> None:
    assert not claim_needs_narrative(D("1100.00"), D("1000.00"))  # exactly 10%: none needed
    assert claim_needs_narrative(D("1100.01"), D("1000.00"))
    assert claim_needs_narrative(D("899.99"), D("1000.00"))
    assert not claim_needs_narrative(D("0"), D("0"))  # Decision: nothing against nothing
    assert claim_needs_narrative(D("0.01"), D("0"))  # any spend against a forecast of 0


def test_quarter_by_quarter_a_late_cost_is_a_labelled_prior_period_adjustment() -> None:
    ledger = project()
    ledger.add(claim("c1", "500.00", date="2025-02-10"))
    q1 = ledger.worked("2025Q1")
    line = q1.lines[CONSUMABLES]
    assert (line.actual, line.forecast, line.variance) == (D("500.00"), D("500.00"), D("0.00"))
    assert (line.eligible, line.grant, line.prior_period) == (D("500.00"), D("335.00"), D("0.00"))
    assert CONSUMABLES not in dict(q1.needing_narrative())  # on its forecast
    assert Category("travel_subsistence") in dict(q1.needing_narrative())  # nothing against 312.50
    ledger.submit("2025Q1", "2025-04-05")
    [submitted] = ledger.state.grant_claims.values()
    assert submitted.claim.number == 1 and submitted.claim.grant == q1.grant
    # A cost dated in the claimed quarter, recorded after: never rewrites claim 1 ...
    ledger.add(claim("late", "100.00", date="2025-03-20"))
    assert ledger.state.grant_claims[1].claim.grant == q1.grant
    # ... it is the next claim's prior-period adjustment (67% of 100.00), labelled apart.
    ledger.add(claim("c2", "500.00", date="2025-05-10"))
    q2 = ledger.worked("2025Q2")
    line = q2.lines[CONSUMABLES]
    assert (line.actual, line.grant, line.prior_period) == (D("500.00"), D("335.00"), D("67.00"))
    assert q2.prior_period == D("67.00")
    ledger.submit("2025Q2", "2025-07-01")
    # A late reversal of a claimed cost is a negative adjustment.
    ledger.add(reversal("r1", "c1", "200.00", date="2025-06-30"))
    ledger.add(claim("c3", "500.00", date="2025-08-01"))
    q3 = ledger.worked("2025Q3")
    assert q3.lines[CONSUMABLES].prior_period == D("-134.00")
    for quarter, on in (("2025Q3", "2025-10-01"), ("2025Q4", "2026-01-02"), ("2026Q1", "2026-04-01")):
        ledger.submit(quarter, on)
    for quarter, on in (("2026Q2", "2026-07-01"), ("2026Q3", "2026-10-01"), ("2026Q4", "2027-01-01")):
        ledger.submit(quarter, on)
    # The claims add up to the reconciliation's grant.
    claimed = sum((c.claim.grant for c in ledger.state.grant_claims.values()), D("0"))
    assert claimed == reconcile(ledger.state, History()).total("grant")


def test_refusals_name_the_rule_and_the_field() -> None:
    ledger = project()
    ledger.add(claim("c1", "500.00", date="2025-02-10"))
    without = ledger.refused(ledger.claim_event("2025Q1", "2025-04-05", narrate=False))
    assert (without.rule, without.field) == ("R-45", "lines.additional_associate_support.narrative")
    early = ledger.refused(ledger.claim_event("2025Q1", "2025-03-31"))
    assert (early.rule, early.field) == ("R-45", "quarter")
    assert "not in arrears" in str(early)
    skipped = ledger.refused(ledger.claim_event("2025Q2", "2025-07-05"))
    assert skipped.field == "quarter" and "next claim is for 2025Q1" in str(skipped)
    outside = ledger.refused(ledger.claim_event("2024Q4", "2025-04-05"))
    assert outside.field == "quarter" and "outside the project's period" in str(outside)
    numbered = ledger.refused(ledger.claim_event("2025Q1", "2025-04-05", number=2))
    assert numbered.field == "number"
    wrong_total = ledger.refused(ledger.claim_event("2025Q1", "2025-04-05", grant="1.00"))
    assert wrong_total.field == "grant"
    stale = ledger.refused(ledger.claim_event("2025Q1", "2025-04-05", version=1))
    assert stale.field == "version"
    raw = ledger.claim_event("2025Q1", "2025-04-05")
    raw["data"]["lines"]["consumables"]["variance"] = "5.00"
    assert ledger.refused(raw).field == "lines.consumables.variance"
    ledger.add(ledger.claim_event("2025Q1", "2025-04-05"))
    again = ledger.refused(ledger.claim_event("2025Q1", "2025-04-06"))
    assert again.field == "quarter" and "claimed already by claim 1" in str(again)


def test_the_event_reads_back_as_written() -> None:
    ledger = project()
    ledger.add(claim("c1", "500.00", date="2025-02-10"))
    raw = ledger.claim_event("2025Q1", "2025-04-05")
    parsed = parse_event(raw)
    assert parsed.payload.to_data() == raw["data"]
    bad = {**raw, "data": {**raw["data"], "head_hash": "XYZ"}}
    with pytest.raises(RuleViolation) as caught:
        parse_event(bad)
    assert caught.value.field == "head_hash"


def test_claim_due_then_overdue_for_every_ended_quarter_not_submitted() -> None:
    ledger = project()
    ledger.add(claim("c1", "500.00", date="2025-02-10"))

    def deadlines(today: date) -> list[tuple[str, str]]:
        return sorted(
            (str(key.kind), key.subject)
            for key in clock_findings(ledger.state, today)
            if key.kind in (AlertKind.CLAIM_DUE, AlertKind.CLAIM_OVERDUE)
        )

    assert deadlines(date(2025, 4, 19)) == []  # 2025Q1 is due on 2025-04-30
    assert deadlines(date(2025, 4, 20)) == [("claim_due", "2025Q1")]
    assert deadlines(date(2025, 4, 30)) == [("claim_due", "2025Q1")]
    assert deadlines(date(2025, 5, 1)) == [("claim_overdue", "2025Q1")]
    # Every ended quarter not claimed, not the latest only.
    assert deadlines(date(2025, 7, 25)) == [("claim_due", "2025Q2"), ("claim_overdue", "2025Q1")]
    found = clock_findings(ledger.state, date(2025, 5, 1))
    [(key, figures)] = [(k, f) for k, f in found.items() if k.kind == AlertKind.CLAIM_OVERDUE]
    assert message(str(key.kind), "", figures) == (
        "The grant claim for 2025Q1 was due on 30 April 2025, 1 days before 1 May 2025, and is not "
        "submitted: submit it (ktpledger claim submit, R-45)."
    )
    ledger.add(ledger.claim_event("2025Q1", "2025-05-02"))  # submitted late: nothing more about it
    assert deadlines(date(2025, 5, 2)) == []
    assert deadlines(date(2025, 7, 31)) == [("claim_overdue", "2025Q2")]
    # Past the end, every quarter of the period: the last (2026Q4) too.
    assert ("claim_overdue", "2026Q4") in deadlines(date(2027, 3, 1))
    assert ("claim_overdue", "2027Q1") not in deadlines(date(2027, 9, 1))


def test_a_grant_payment_may_name_the_claim_it_pays() -> None:
    ledger = project()
    ledger.add(claim("c1", "500.00", date="2025-02-10"))
    ledger.add(ledger.claim_event("2025Q1", "2025-04-05"))
    claimed = ledger.state.grant_claims[1].claim.grant
    plain = parse_event(event("GrantPayment", "pay-0", "2025-04-06", {"amount": "1.00"}))
    assert schema_version_of(plain.payload) == 1 and plain.payload.to_data() == {"amount": "1.00"}
    named = event("GrantPayment", "pay-1", "2025-05-01", {"amount": "100.00", "claim": 1})
    assert schema_version_of(parse_event(named).payload) == 2
    ledger.add(named)
    paid = ledger.state.grant_claims[1]
    assert (paid.paid, paid.outstanding) == (D("100.00"), claimed - D("100.00"))
    unknown = ledger.refused(event("GrantPayment", "pay-2", "2025-05-01", {"amount": "1.00", "claim": 2}))
    assert (unknown.rule, unknown.field) == ("R-45", "claim")
    too_much = ledger.refused(
        event("GrantPayment", "pay-3", "2025-05-01", {"amount": f"{claimed}", "claim": 1})
    )
    assert too_much.field == "amount"
    early = ledger.refused(event("GrantPayment", "pay-4", "2025-04-04", {"amount": "1.00", "claim": 1}))
    assert early.field == "date"


def test_a_claim_is_refused_before_its_offer_and_after_the_closure_as_any_other_event() -> None:
    """A claim goes straight to its own check (`ProjectState.check`, the bulk of any ledger) only
    on a project with an offer and not closed: without an offer it is R-31, once closed R-36, as
    every other spend."""
    unknown = Ledger().refused(claim("c1"))
    assert (unknown.rule, unknown.field) == ("R-31", "project")
    assert "record its GrantOffered first" in unknown.message
    closed = project()
    closed.add(claim("c1", date="2025-02-03"))
    closed.add(event("ProjectClosed", "close", "2025-03-01", {}))
    late = closed.refused(claim("c2", date="2025-03-02"))
    assert late.rule == "R-36"
    assert "was closed on 2025-03-01" in late.message
