"""`domain/allowances.claim_shares`, the drill-down's judgement of each claim: its shares add up to
the line's figures as `allowances` and `reconciliation.reasons` give them, reason by reason, on
generated histories (the reconciliation's own generator) and on a claim two reasons reach."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from ktpledger.domain.allowances import allowances, claim_shares
from ktpledger.domain.reconciliation import claim_reason, ordinal, reasons
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


def test_a_virtual_business_conference_trip_of_the_associate_is_excluded_once_under_r14() -> None:
    """A conference trip tagged associate_travel on a virtual business is wholly the business's
    (R-14): excluded once, and it takes none of the guide's two conferences (R-13), so the next
    conferences counted are k1, k2, k4 and k5: k4 is the third. By hand: travel spent 100 + 100 +
    300 + 200 + 50 + 60 = 810; excluded k3 300 (R-14), k4 50 and k5 60 (third and fourth counted
    conferences, R-13); eligible 810 - 410 = 400 (below the line's budget)."""
    state = build(
        offer(virtual=True),
        claim("k1", "100.00", category="travel_subsistence", tags=["conference"]),
        claim("k2", "100.00", category="travel_subsistence", tags=["conference"]),
        claim("k3", "300.00", category="travel_subsistence", tags=["conference", "associate_travel"]),
        claim("t1", "200.00", category="travel_subsistence"),
        claim("k4", "50.00", category="travel_subsistence", tags=["conference"]),
        claim("k5", "60.00", category="travel_subsistence", tags=["conference"]),
    )
    (line,) = [line for line in allowances(state) if line.category is Category.TRAVEL_SUBSISTENCE]
    assert line.budget >= D("810")
    assert (line.spent, line.eligible) == (D("810.00"), D("400.00"))
    assert (line.exclusions.associate_travel, line.exclusions.conference) == (D("300.00"), D("110.00"))
    assert line.exclusions.conferences == 4
    shares = claim_shares(state, line)
    assert {key: share.eligible for key, share in shares.items()} == {
        "k1": D("100.00"),
        "k2": D("100.00"),
        "k3": D("0.00"),
        "t1": D("200.00"),
        "k4": D("0.00"),
        "k5": D("0.00"),
    }
    assert shares["k3"].reasons == {"associate_travel": D("300.00")}
    assert shares["k5"].reasons == {"conference": D("60.00")}
    assert claim_reason(state, line.category, "conference", shares["k4"].nth) == "third conference (R-13)"
    assert claim_reason(state, line.category, "conference", shares["k5"].nth) == "fourth conference (R-13)"


def test_places_past_the_tenth_have_their_english_suffix() -> None:
    assert [ordinal(n) for n in (11, 12, 13, 21, 22, 23, 24, 101, 111, 112)] == [
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "23rd",
        "24th",
        "101st",
        "111th",
        "112th",
    ]
