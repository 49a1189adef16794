"""Refusals quote the user's values as they wrote them in JSON, never in Python's spelling (issue 10, C1)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.events import parse_event
from ktpledger.domain.rules import Methodology, parse_choice
from ktpledger.service.json_input import parse_json
from tests.ledger.factory import claim, offer

PYTHON_SPELLINGS = ("Decimal(", "'", "True", "False", "None")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.5"), "1.5"),
        (Decimal("1E+2"), "1E+2"),
        (12, "12"),
        ("abc", '"abc"'),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([Decimal("1.50"), "a", None], '[1.50, "a", null]'),
        ({"x": True}, '{"x": true}'),
        ("a\x00b", '"a\\u0000b"'),
    ],
)
def test_shown_quotes_a_value_as_json_writes_it(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_shown_cuts_what_is_long_or_deep() -> None:
    assert shown("x" * 500) == '"' + "x" * 76 + "..."
    assert shown(list(range(100))) == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert shown([[[[[1]]]]]) == "[[[...]]]"


def refusal(line: str) -> RuleViolation:
    """The refusal of one JSON Lines event, parsed as `ktpledger record` and `POST /events` parse it."""
    with pytest.raises(RuleViolation) as caught:
        parse_event(parse_json(line))
    return caught.value


@pytest.mark.parametrize(
    ("months", "got"),
    [("1.5", "1.5"), ('"abc"', '"abc"'), ("true", "true"), ("null", "null"), ("[1]", "[1]")],
)
def test_months_that_are_not_whole_are_quoted_as_typed(months: str, got: str) -> None:
    line = json.dumps(offer()).replace('"months": 24', f'"months": {months}')
    error = refusal(line)
    assert (error.rule, error.field) == ("R-02", "months")
    assert error.message == f"months must be a whole number, got {got}"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("true", 'amount must be an amount in pounds such as "184.20", got true'),
        ('"ten"', 'amount must be an amount in pounds such as "184.20", got "ten"'),
        ("1.005", "amount has more than 2 decimal places: 1.005"),
        ("-2.5", "amount must be greater than 0, got -2.5"),
        ("null", 'amount must be an amount in pounds such as "184.20", got null'),
    ],
)
def test_money_is_quoted_as_typed(amount: str, message: str) -> None:
    line = json.dumps(claim("c")).replace('"amount": "100.00"', f'"amount": {amount}')
    error = refusal(line)
    assert (error.rule, error.message) == ("R-22", message)


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "GrantOffered", "project": "P", "key": "k", "date": "2025-01-01", "data": {"virtual": 1}}',
        '{"type": "GrantOffered", "project": "P", "key": "k", "date": 20250101, "data": {}}',
        '{"type": "SpendClaimed", "project": "P", "key": "k", "date": "2025-02-30", "data": {}}',
        '{"type": "SpendClaimed", "project": "P", "key": "k", "date": "2025-01-01", "data": {"category": false}}',
        (
            '{"type": "SpendClaimed", "project": "P", "key": "k", "date": "2025-01-01",'
            ' "data": {"category": "consumables", "amount": "5", "description": null}}'
        ),
        '{"type": "LMCDecision", "project": "P", "key": "k", "date": "2025-01-01", "data": {"kind": null}}',
        (
            '{"type": "LMCDecision", "project": "P", "key": "k", "date": "2025-01-01",'
            ' "data": {"kind": "extension", "months": 2.5}}'
        ),
        '{"type": "Spend", "project": "P", "key": "k", "date": "2025-01-01"}',
        '{"type": "ProjectClosed", "project": true, "key": "k", "date": "2025-01-01"}',
        '{"type": "ProjectClosed", "project": "P", "key": 7, "date": "2025-01-01"}',
        '["an", "array"]',
    ],
)
def test_no_refusal_spells_a_value_the_python_way(line: str) -> None:
    message = refusal(line).message
    assert not any(spelling in message for spelling in PYTHON_SPELLINGS), message


def test_a_grant_rate_that_is_no_decimal_is_quoted_as_typed() -> None:
    line = json.dumps(offer(grant_rate="sixty"))
    assert refusal(line).message == 'grant_rate must be a decimal such as "0.67", got "sixty"'
    line = json.dumps(offer()).replace('"months": 24', '"months": 24, "grant_rate": 1.5')
    assert refusal(line).message == "grant_rate must be above 0 and at most 1, got 1.5"


def test_a_choice_names_the_nearest_of_its_names() -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_choice(Methodology, "fecc", field="methodology")
    assert caught.value.message == 'unknown methodology "fecc"; did you mean fec? Use one of fec, non_fec'
    with pytest.raises(RuleViolation) as caught:
        parse_choice(Methodology, "universities", field="methodology")
    assert caught.value.message == 'unknown methodology "universities"; use one of fec, non_fec'
