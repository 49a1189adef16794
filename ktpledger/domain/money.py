"""Money as `Decimal` pounds: parsing, the rounding of R-20, R-21, R-23, and formatting.

Binary floating point never enters (R-22): a float is refused rather than converted, since its
decimal expansion is not what the user typed.
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from ktpledger.domain.errors import RuleViolation, shown

ZERO = Decimal(0)
PENNY = Decimal("0.01")
POUND = Decimal(1)
MAX_AMOUNT = Decimal(1000000000)  # far above any KTP budget; stops absurd inputs early


# An amount as written: ASCII digits, at most one "." and then one or two digits. Nothing else: no
# sign (so no "-0"), no exponent, no "_" or "," separators, no other script's digits.
MONEY_TEXT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
SURROUNDING_SPACE = " \t"  # dropped around a string amount (pasted from a spreadsheet); never inside


def parse_money(
    value: object,
    *,
    field: str,
    positive: bool = False,
    whole_pounds: bool = False,
    rule: str = "R-22",
) -> Decimal:
    """Parse `value` as pounds: a string or JSON number written as ASCII digits with at most one
    "." and two decimals, an int, or a Decimal of at most two decimal places.

    Raises `RuleViolation` naming `rule` for anything else: a float, a sign, an exponent, "_",
    other digits than 0-9, more than 2 decimal places (any, with `whole_pounds`: R-20), zero
    when `positive`, more than `MAX_AMOUNT`. A JSON number is judged by its text as written
    (`input_rules.WrittenNumber` keeps `1e3` and `-0` as they were typed).
    """
    if isinstance(value, float):
        raise RuleViolation(
            rule,
            f'{field} must be a decimal string such as "184.20", not a binary float ({shown(value)})',
            field=field,
        )
    if isinstance(value, str):
        text = value.strip(SURROUNDING_SPACE)
    elif isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _signed(value, negative=True, field=field, positive=positive, rule=rule)
        if value > MAX_AMOUNT:  # before it is written out: an int may have more digits than str() takes
            raise _too_large(value, field=field, rule=rule)
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise RuleViolation(rule, f"{field} must be a finite amount, got {shown(value)}", field=field)
        if type(value) is Decimal:
            # Judged by its value before it is written out, so a huge exponent costs nothing.
            if value.is_signed():
                raise _signed(value, negative=value != 0, field=field, positive=positive, rule=rule)
            if value > MAX_AMOUNT:
                raise _too_large(value, field=field, rule=rule)
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -2:
                raise RuleViolation(
                    rule, f"{field} has more than 2 decimal places: {shown(value)}", field=field
                )
            text = f"{value:f}"
        else:
            text = str(value)  # a JSON number as it was written (`input_rules.WrittenNumber`)
    else:
        raise RuleViolation(
            rule, f'{field} must be an amount in pounds such as "184.20", got {shown(value)}', field=field
        )
    if MONEY_TEXT.fullmatch(text) is None:
        raise _badly_written(value, text, field=field, positive=positive, rule=rule)
    amount = Decimal(text)
    if positive and amount == 0:
        raise RuleViolation(rule, f"{field} must be greater than 0, got {shown(value)}", field=field)
    if amount > MAX_AMOUNT:
        raise _too_large(value, field=field, rule=rule)
    if whole_pounds and amount != amount.to_integral_value():
        raise RuleViolation("R-20", f"{field} must be whole pounds, got {shown(value)}", field=field)
    return amount


def _signed(value: object, *, negative: bool, field: str, positive: bool, rule: str) -> RuleViolation:
    """An amount written with a sign: below zero, or a sign on zero or a positive amount ("-0", "+5")."""
    if negative:
        need = "greater than 0" if positive else "0 or more"
        return RuleViolation(rule, f"{field} must be {need}, got {shown(value)}", field=field)
    return RuleViolation(rule, f"{field} must be written without a sign, got {shown(value)}", field=field)


def _too_large(value: object, *, field: str, rule: str) -> RuleViolation:
    return RuleViolation(rule, f"{field} must be at most {MAX_AMOUNT:,}, got {shown(value)}", field=field)


def _badly_written(value: object, text: str, *, field: str, positive: bool, rule: str) -> RuleViolation:
    """Why `text` (the amount as written) is not ASCII digits with at most two decimals."""
    got = shown(value)
    unsigned = text[1:] if text[:1] in "+-" else text
    if MONEY_TEXT.fullmatch(unsigned) is not None:
        negative = text[0] == "-" and Decimal(unsigned) != 0
        return _signed(value, negative=negative, field=field, positive=positive, rule=rule)
    whole, dot, pence = unsigned.partition(".")
    if dot and whole.isdigit() and whole.isascii() and pence.isdigit() and pence.isascii():
        return RuleViolation(rule, f"{field} has more than 2 decimal places: {got}", field=field)
    if unsigned.lower() in _NOT_FINITE:
        return RuleViolation(rule, f"{field} must be a finite amount, got {got}", field=field)
    # Name the one slip that keeps a number from being plain digits, when there is one.
    digits = unsigned.replace(".", "", 1)
    if digits.isdigit() and not digits.isascii():  # another script's digits (str.isdigit takes them)
        reason = "with the ASCII digits 0-9"
    elif MONEY_TEXT.fullmatch(unsigned.replace("_", "")) is not None:
        reason = 'without "_" between the digits'
    elif _EXPONENT.fullmatch(unsigned) is not None:
        reason = 'without an exponent, as plain digits such as "1000.00"'
    elif MONEY_TEXT.fullmatch("".join(unsigned.split())) is not None:
        inside = any(char.isspace() for char in unsigned.strip())
        reason = "without spaces inside" if inside else "without a line break or other space around it"
    else:
        return RuleViolation(
            rule, f'{field} must be an amount in pounds such as "184.20", got {got}', field=field
        )
    return RuleViolation(rule, f"{field} must be written {reason}, got {got}", field=field)


_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})
_EXPONENT = re.compile(r"[0-9]*\.?[0-9]+[eE][+-]?[0-9]+")


def round_pound_half_up(amount: Decimal) -> Decimal:
    """Round half up to the whole pound (R-20 non-maxima, R-21 shares)."""
    return amount.quantize(POUND, rounding=ROUND_HALF_UP)


def round_pound_down(amount: Decimal) -> Decimal:
    """Round down to the whole pound, so a pro-rata maximum is never exceeded (R-20)."""
    return amount.quantize(POUND, rounding=ROUND_FLOOR)


def round_penny_half_up(amount: Decimal) -> Decimal:
    """Round half up to the penny (R-23)."""
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal) -> str:
    """Exactly two decimals, no separators: the contract's JSON form ("838.00"). A Decimal of
    exponent -2 is written so by `str` (never in E notation: that needs an exponent above 0 or
    below -6), in half the time of the format `f` (a claim's canonical data, issue 18)."""
    return str(amount.quantize(PENNY, rounding=ROUND_HALF_UP))


def format_pounds(amount: Decimal, *, pence: bool = False) -> str:
    """For people: thousands separators, whole pounds unless `pence` ("51,088" or "1,234.50")."""
    if pence:
        return f"{amount.quantize(PENNY, rounding=ROUND_HALF_UP):,.2f}"
    return f"{amount.quantize(POUND, rounding=ROUND_HALF_UP):,.0f}"


def to_pence(amount: Decimal) -> int:
    """Whole pence, as projections store money (exact on both backends); half a penny rounds to even,
    as `Decimal.to_integral_value` does (amounts reaching a projection are whole pence already)."""
    return int((amount / PENNY).to_integral_value())


def from_pence(pence: int | None) -> Decimal | None:
    """Pounds to the penny from stored pence (None stays None: a line without a limit)."""
    return None if pence is None else (Decimal(pence) * PENNY).quantize(PENNY)
