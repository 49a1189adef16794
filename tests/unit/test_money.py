"""Money parsing, rounding and formatting (docs/rules.md R-20..R-23)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.money import (
    PENNY,
    format_money,
    parse_money,
    round_penny_half_up,
    round_pound_down,
    round_pound_half_up,
)

D = Decimal


# --- parse_money: what is accepted -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("184.20", D("184.20")),
        ("184.2", D("184.2")),
        ("0", D("0")),
        ("  45000  ", D("45000")),
        (45000, D("45000")),
        (0, D("0")),
        (D("838.00"), D("838.00")),
        (D("0.01"), D("0.01")),
    ],
)
def test_parse_money_accepts_str_int_and_decimal(value: object, expected: Decimal) -> None:
    amount = parse_money(value, field="amount")
    assert isinstance(amount, Decimal)
    assert amount == expected


def test_parse_money_keeps_pence_exactly() -> None:
    assert parse_money("0.10", field="amount") + parse_money("0.20", field="amount") == D("0.30")


def test_parse_money_positive_accepts_a_penny() -> None:
    assert parse_money("0.01", field="amount", positive=True) == D("0.01")


def test_parse_money_whole_pounds_accepts_whole_amounts() -> None:
    assert parse_money("1250", field="budget", whole_pounds=True) == D(1250)
    assert parse_money("1250.00", field="budget", whole_pounds=True) == D(1250)
    assert parse_money(1250, field="budget", whole_pounds=True) == D(1250)


# --- parse_money: what is refused, and which rule it names --------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        184.2,  # float: R-22 never lets binary floating point in
        0.0,
        True,
        False,
        None,
        "abc",
        "",
        "12,50",
        "£12",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "-1",
        "-0.01",
        -5,
        D("-0.01"),
        "1.234",
        "0.001",
        "1.000",  # at most two decimals, even zeros: money is written as it is stored
        D("1.005"),
        [],
        {"amount": "1"},
    ],
)
def test_parse_money_refuses_with_r22(value: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="amount")
    assert caught.value.rule == "R-22"
    assert caught.value.field == "amount"
    assert "amount" in caught.value.message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1.5])
def test_parse_money_refuses_any_float(value: float) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="amount")
    assert caught.value.rule == "R-22"
    assert "float" in caught.value.message


@pytest.mark.parametrize("value", ["0", "0.00", 0, D(0)])
def test_parse_money_positive_refuses_zero(value: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="amount", positive=True)
    assert caught.value.rule == "R-22"
    assert "greater than 0" in caught.value.message


def test_parse_money_names_the_rule_it_is_given() -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money("abc", field="amount", rule="R-33")
    assert caught.value.rule == "R-33"
    with pytest.raises(RuleViolation) as caught:
        parse_money("-3", field="amount", rule="R-33")
    assert caught.value.rule == "R-33"


@pytest.mark.parametrize("value", ["0.50", "1250.01", D("10.5"), "0.01"])
def test_parse_money_whole_pounds_refuses_pence_with_r20(value: object) -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money(value, field="budget", whole_pounds=True)
    assert caught.value.rule == "R-20"
    assert caught.value.field == "budget"


def test_parse_money_refuses_absurd_amounts() -> None:
    with pytest.raises(RuleViolation) as caught:
        parse_money("1e30", field="amount")
    assert caught.value.rule == "R-22"
    with pytest.raises(RuleViolation):
        parse_money(10**30, field="amount")


def test_rule_violation_as_dict() -> None:
    error = RuleViolation("R-11", "virtual and london together", field="london")
    assert error.as_dict() == {"rule": "R-11", "message": "virtual and london together"}
    assert isinstance(error, ValueError)
    assert str(error) == "R-11: virtual and london together"


# --- maxima round down, other pro-rata amounts half up, to the pound ----------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("32083.333", "32083"),  # 55,000 x 7 / 12
        ("33833.999", "33833"),
        ("1166.5", "1166"),
        ("1166.99", "1166"),
        ("8750", "8750"),
        ("0.99", "0"),
        ("0", "0"),
    ],
)
def test_r20_maximum_rounds_down(amount: str, expected: str) -> None:
    result = round_pound_down(D(amount))
    assert result == D(expected)
    assert result.as_tuple().exponent == 0


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("729.1666", "729"),  # 1,250 x 7 / 12
        ("1166.6666", "1167"),  # 2,000 x 7 / 12 as a standard
        ("1166.5", "1167"),
        ("1166.49", "1166"),
        ("2.5", "3"),  # half up, not half even
        ("3.5", "4"),
        ("0.5", "1"),
        ("0.49", "0"),
    ],
)
def test_r20_other_pro_rata_amounts_round_half_up(amount: str, expected: str) -> None:
    assert round_pound_half_up(D(amount)) == D(expected)


# --- each share rounded half up to the pound on its own ----------------------------------


def test_r21_fec_sme_travel_shares() -> None:
    eligible = D(1250)
    rate = D("0.67")
    grant = round_pound_half_up(eligible * rate)
    business = round_pound_half_up(eligible * (1 - rate))
    assert (grant, business) == (D(838), D(413))
    assert grant + business == eligible + 1  # the guidance's own table does not balance to the pound


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("837.5", "838"), ("412.5", "413"), ("0.5", "1"), ("30150", "30150"), ("12.4999", "12")],
)
def test_r21_half_up_to_the_pound(amount: str, expected: str) -> None:
    assert round_pound_half_up(D(amount)) == D(expected)


# --- half up to the penny ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),  # half up, not half even
        ("0.025", "0.03"),
        ("838.125", "838.13"),
        ("827.1619", "827.16"),
        ("0.0049", "0.00"),
        ("12", "12.00"),
    ],
)
def test_r23_half_up_to_the_penny(amount: str, expected: str) -> None:
    result = round_penny_half_up(D(amount))
    assert result == D(expected)
    assert result.as_tuple().exponent == -2


def test_r23_a_line_balances_to_the_penny() -> None:
    eligible = D("1234.57")
    grant = round_penny_half_up(eligible * D("0.67"))
    business = eligible - grant
    assert grant == D("827.16")
    assert business == D("407.41")
    assert grant + business == eligible


# --- format_money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (D(838), "838.00"),
        (D("838.0"), "838.00"),
        (D("0.5"), "0.50"),
        (D(0), "0.00"),
        (D("51088"), "51088.00"),
        (D("1E+3"), "1000.00"),
        (D("184.20"), "184.20"),
        (D("838.125"), "838.13"),
        (D("1000000"), "1000000.00"),
    ],
)
def test_format_money_exactly_two_decimals_no_separators(amount: Decimal, expected: str) -> None:
    text = format_money(amount)
    assert text == expected
    _, _, pence = text.partition(".")
    assert len(pence) == 2
    assert "," not in text
    assert "E" not in text.upper()


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(-(10**27), 10**27),
        st.integers(-12, 12),
    )
)
def test_format_money_writes_what_the_format_f_writes(amount: Decimal) -> None:
    """`str` of the amount to the penny (the fast form) is the text `format(.., "f")` writes, for
    any finite amount: signs, negative zero, huge and tiny exponents (E notation never appears)."""
    try:
        expected = f"{amount.quantize(PENNY, rounding=ROUND_HALF_UP):f}"
    except InvalidOperation:  # more digits than the context holds: refused alike
        with pytest.raises(InvalidOperation):
            format_money(amount)
        return
    assert format_money(amount) == expected
