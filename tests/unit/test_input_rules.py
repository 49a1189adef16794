"""The door's rules one by one (README, "Input rules"): money and whole numbers as written, dates in
range, text that can be stored, JSON Lines split at new lines only, duplicate keys kept to refuse."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation, shown
from ktpledger.domain.events import parse_event
from ktpledger.domain.money import parse_money
from ktpledger.service.json_input import load_json_lines, parse_json
from tests.ledger.factory import claim, decision, offer

D = Decimal


def refusal(line: str) -> RuleViolation:
    """The refusal of one JSON Lines event, parsed as `record` and `POST /events` parse it."""
    with pytest.raises(RuleViolation) as caught:
        parse_event(parse_json(line))
    return caught.value


# --- money: ASCII digits, at most one "." and two decimals, nothing else --------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("184.20", "184.20"),
        ("184.2", "184.2"),
        ("0", "0"),
        ("007", "7"),
        (" 45000\t", "45000"),
        ("1.5", "1.5"),
    ],
)
def test_money_as_written_is_taken(text: str, expected: str) -> None:
    assert parse_money(text, field="amount") == D(expected)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("\u0665\u0660", "ASCII digits 0-9"),  # Arabic-Indic 50
        ("\uff15\uff10", "ASCII digits 0-9"),  # full-width 50
        ("1_000.00", '"_"'),
        ("1e3", "exponent"),
        ("1.5E+2", "exponent"),
        ("-0", "without a sign"),
        ("-0.00", "without a sign"),
        ("+5", "without a sign"),
        ("1 000", "spaces inside"),
        ("1.000", "more than 2 decimal places"),
        (".5", 'such as "184.20"'),
        ("5.", 'such as "184.20"'),
        ("1.2.3", 'such as "184.20"'),
        ("0x10", 'such as "184.20"'),
        ("184.20\n", "line break"),
        ("\u00bd", 'such as "184.20"'),
        ("Infinity", "finite"),
        (D("-0"), "without a sign"),
        (D("1.000"), "more than 2 decimal places"),
    ],
)
def test_money_written_otherwise_is_refused_r22_saying_why(value: object, says: str) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="amount")
    assert caught.value.rule == "R-22" and caught.value.field == "amount"
    assert says in caught.value.message, caught.value.message


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("-0", "amount must be written without a sign, got -0"),
        ("-0.0", "amount must be written without a sign, got -0.0"),
        ("1e3", 'amount must be written without an exponent, as plain digits such as "1000.00", got 1e3'),
        ("1.5E1", 'amount must be written without an exponent, as plain digits such as "1000.00", got 1.5E1'),
        ("1.234", "amount has more than 2 decimal places: 1.234"),
    ],
)
def test_json_numbers_are_judged_as_written(written: str, says: str) -> None:
    line = json.dumps(claim("c")).replace('"amount": "100.00"', f'"amount": {written}')
    error = refusal(line)
    assert (error.rule, error.message) == ("R-22", says)


def test_a_plain_json_number_is_money() -> None:
    line = json.dumps(claim("c")).replace('"amount": "100.00"', '"amount": 184.2')
    assert parse_event(parse_json(line)).payload.to_data()["amount"] == "184.20"


@pytest.mark.parametrize("months", ["24.5", "2.4e1", "-0", '"24"', '"\\u0662\\u0664"'])
def test_whole_numbers_are_whole_json_numbers_in_plain_digits(months: str) -> None:
    error = refusal(json.dumps(offer()).replace('"months": 24', f'"months": {months}'))
    assert (error.rule, error.field) == ("R-02", "months")
    extension = json.dumps(decision("x", kind="extension", months=1)).replace(
        '"months": 1', f'"months": {months}'
    )
    assert refusal(extension).rule == "R-32"


def test_a_whole_number_may_be_written_with_zero_decimals() -> None:
    # JSON (and JSON Schema's `integer`) makes no difference between 24 and 24.0.
    line = json.dumps(offer()).replace('"months": 24', '"months": 24.0')
    assert parse_event(parse_json(line)).payload.to_data()["months"] == 24
    extension = json.dumps(decision("x", kind="extension", months=1)).replace('"months": 1', '"months": 3.00')
    assert parse_event(parse_json(extension)).payload.to_data()["months"] == 3


@pytest.mark.parametrize("rate", ['"\\u0660.\\u0666\\u0667"', "6.7e-1", '"0.6_7"', '"0.67 "'])
def test_a_grant_rate_is_ascii_digits(rate: str) -> None:
    line = json.dumps(offer()).replace('"months": 24', f'"months": 24, "grant_rate": {rate}')
    if rate == '"0.67 "':  # surrounding spaces are dropped, as for money
        assert parse_event(parse_json(line)).payload.to_data()["grant_rate"] == "0.67"
        return
    assert refusal(line).rule == "R-03"


# --- dates: ASCII digits, 1990-01-01 .. 2099-12-31 -----------------------------------------------


@pytest.mark.parametrize("day", ["1990-01-01", "2099-12-31"])
def test_the_bounds_themselves_are_dates(day: str) -> None:
    item = {**claim("c"), "type": "GrantPayment", "date": day, "data": {"amount": "1.00"}}
    assert parse_event(item).date == date.fromisoformat(day)


@pytest.mark.parametrize(
    "day", ["1989-12-31", "2100-01-01", "9999-12-31", "0001-01-01", "\u0662\u0660\u0662\u0665-01-15"]
)
def test_an_event_date_outside_the_range_is_refused_r30(day: str) -> None:
    error = refusal(json.dumps({**claim("c"), "date": day}))
    assert (error.rule, error.field) == ("R-30", "date")


# --- text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "recorded"),
    [
        ("line\nbreak\ttab\r", True),
        ("caf\u00e9 \u00a312 \u2028 \U0001f600 \u200d \ufeff", True),
        ("a\ud800b", False),
        ("a\udce9b", False),
        ("a\x07b", False),
        ("a\x7fb", False),
        ("a\x85b", False),
        ("a\x9fb", False),
    ],
)
def test_text_anywhere_must_be_storable(text: str, recorded: bool) -> None:
    item = claim("c")
    item["data"]["description"] = text
    if recorded:
        assert parse_event(item).payload.to_data()["description"] == text.strip()
        return
    with pytest.raises(RuleViolation) as caught:
        parse_event(item)
    assert (caught.value.rule, caught.value.field) == ("R-30", "description")
    assert "\\u" not in caught.value.message  # names the character as U+XXXX
    caught.value.message.encode("utf-8")


def test_a_surrogate_in_a_nested_key_names_where() -> None:
    item = offer()
    item["data"]["justifications"] = {"consumables\ud800": "why"}
    with pytest.raises(RuleViolation) as caught:
        parse_event(item)
    caught.value.message.encode("utf-8")  # quoted escaped: the message can always be sent


def test_shown_escapes_what_no_utf8_output_carries() -> None:
    assert shown("a\ud800b\x85\u2028") == '"a\\ud800b\\u0085\\u2028"'
    assert shown({"k\udcff": 1}) == '{"k\\udcff": 1}'


# --- JSON: duplicate keys, JSON Lines ------------------------------------------------------------


def test_a_duplicate_key_refuses_its_event_only() -> None:
    event = (
        '{"type": "GrantPayment", "project": "P", "key": "k", "date": "2025-01-01", "data": {"amount": "1"}}'
    )
    twice = event.replace('"data": {', '"data": {"amount": "9", ')
    first, second = parse_json(f"[{twice}, {event}]")  # type: ignore[misc]
    with pytest.raises(RuleViolation) as caught:
        parse_event(first)
    assert (caught.value.rule, caught.value.field) == ("R-30", "amount")
    assert caught.value.message == "amount is given twice in one object: give it once"
    assert parse_event(second).key == "k"


def test_json_lines_split_at_new_lines_only() -> None:
    inside = "x\u2028y\u2029z\x85w"  # str.splitlines would split this line in four
    lines = [json.dumps(claim("a"), ensure_ascii=False).replace("claim a", inside), "", " \t\r", "{"]
    items = load_json_lines("\r\n".join(lines))
    assert len(items) == 2
    assert isinstance(items[0], dict) and items[0]["data"]["description"] == inside
    assert isinstance(items[1], RuleViolation)
