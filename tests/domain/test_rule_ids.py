"""Refusals name the rule actually broken (issue 12, item 8): a quarter that is no quarter breaks
the statements' rule (R-42), not the spend claim's (R-33); a grant offer no rule set covers breaks
the grant offer's rule (R-31), not the associate employment maximum's (R-10)."""

from __future__ import annotations

from datetime import date

import pytest

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.reconciliation import quarter_bounds
from ktpledger.domain.rules import RULE_SETS, rule_set_for


@pytest.mark.parametrize(
    ("quarter", "words"),
    [
        ("2025Q5", "must look like 2025Q2"),
        ("Q1", "must look like 2025Q2"),
        ("2025-Q1", "must look like 2025Q2"),
        ("\u0662\u0660\u0662\u0665Q1", "must look like 2025Q2"),
        ("9999Q4", "outside the years the ledger accepts"),
        ("1989Q4", "outside the years the ledger accepts"),
    ],
)
def test_a_quarter_that_is_no_quarter_breaks_the_statements_rule(quarter: str, words: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        quarter_bounds(quarter)
    assert (caught.value.rule, caught.value.field) == ("R-42", "quarter")
    assert words in caught.value.message


def test_a_quarter_is_read_whatever_its_case_and_spaces() -> None:
    assert quarter_bounds(" 2025q2 ") == (date(2025, 4, 1), date(2025, 6, 30))


def test_no_rule_set_in_force_breaks_the_grant_offers_rule() -> None:
    first = RULE_SETS[0].in_force_from
    with pytest.raises(RuleViolation) as caught:
        rule_set_for(date(first.year - 1, 1, 1))
    assert (caught.value.rule, caught.value.field) == ("R-31", "date")
    assert first.isoformat() in caught.value.message
    assert rule_set_for(first) is RULE_SETS[0]
