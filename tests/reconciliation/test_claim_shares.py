"""`domain/allowances.claim_shares`, the drill-down's judgement of each claim: its shares add up to
the line's figures as `allowances` and `reconciliation.reasons` give them, reason by reason, on
generated histories (the reconciliation's own generator) and on a claim two reasons reach."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from ktpledger.domain.allowances import allowances, claim_shares
from ktpledger.domain.reconciliation import claim_reason, reasons
from ktpledger.domain.rules import Category, LimitKind
from tests.domain.support import D, build, fold_accepted
from tests.ledger.factory import claim, offer
from tests.reconciliation.test_reconciliation import histories


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_shares_of_a_lines_claims_are_its_figures(items: list[dict[str, Any]]) -> None:
    state, _ = fold_accepted("KTP-H", items)
    for line in allowances(state):
        shares = claim_shares(state, line)
        if line.limit_kind is LimitKind.DERIVED:
            assert shares == {}
            continue
        claims = [c for c in state.claims.values() if c.category is line.category]
        assert list(shares) == [c.key for c in claims]
        assert sum((s.outstanding for s in shares.values()), D(0)) == line.spent
        assert sum((s.eligible for s in shares.values()), D(0)) == line.eligible
        by_reason: dict[str, Any] = {}
        for share in shares.values():
            assert D(0) <= share.eligible <= share.outstanding, share
            assert sum(share.reasons.values(), D(0)) == share.ineligible, share
            for reason, amount in share.reasons.items():
                by_reason[reason] = by_reason.get(reason, D(0)) + amount
        assert by_reason == reasons(line), line.category


def test_a_claim_two_reasons_reach_follows_the_lines_figures() -> None:
    """A third conference on a virtual business's travel is excluded twice by `exclusions` (700
    spent, 600 excluded: eligible 100, not 400). The shares follow the line, as `reasons` does:
    the eligible spend the double count leaves out falls as over_budget on the last claims
    recorded, so the drill-down never disagrees with the allowances or the reconciliation."""
    state = build(
        offer(virtual=True),
        claim("k1", "100.00", category="travel_subsistence", tags=["conference"]),
        claim("k2", "100.00", category="travel_subsistence", tags=["conference"]),
        claim("k3", "300.00", category="travel_subsistence", tags=["conference", "associate_travel"]),
        claim("t1", "200.00", category="travel_subsistence"),
    )
    (line,) = [line for line in allowances(state) if line.category is Category.TRAVEL_SUBSISTENCE]
    assert (line.spent, line.eligible) == (D("700.00"), D("100.00"))
    shares = claim_shares(state, line)
    assert {key: share.eligible for key, share in shares.items()} == {
        "k1": D("100.00"),
        "k2": D("0.00"),
        "k3": D("0"),
        "t1": D("0.00"),
    }
    assert shares["k3"].reasons == {"conference": D("300.00"), "associate_travel": D("300.00")}
    assert shares["t1"].reasons == {"over_budget": D("200.00")}
    assert claim_reason(state, line.category, "conference", shares["k3"].nth) == "third conference (R-13)"
