"""Money as `Decimal` pounds: parsing, the rounding of R-20, R-21, R-23, and formatting.

Binary floating point never enters (R-22): a float is refused rather than converted, since its
decimal expansion is not what the user typed.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from ktpledger.domain.errors import RuleViolation, shown

ZERO = Decimal("0")
PENNY = Decimal("0.01")
POUND = Decimal("1")
MAX_AMOUNT = Decimal("1000000000")  # far above any KTP budget; stops absurd inputs early


def parse_money(
    value: object,
    *,
    field: str,
    positive: bool = False,
    whole_pounds: bool = False,
    rule: str = "R-22",
) -> Decimal:
    """Parse `value` (str, int or Decimal) as pounds with at most 2 decimal places.

    Raises `RuleViolation` naming `rule` when it is not a number, is negative (or zero when
    `positive`), has more than 2 decimal places (or any, when `whole_pounds`), or is a float.
    """
    if isinstance(value, bool):
        raise RuleViolation(
            rule, f'{field} must be an amount in pounds such as "184.20", got {shown(value)}', field=field
        )
    if isinstance(value, float):
        raise RuleViolation(
            rule,
            f'{field} must be a decimal string such as "184.20", not a binary float ({shown(value)})',
            field=field,
        )
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise RuleViolation(
                rule,
                f'{field} must be an amount in pounds such as "184.20", got {shown(value)}',
                field=field,
            ) from None
    else:
        raise RuleViolation(
            rule, f'{field} must be an amount in pounds such as "184.20", got {shown(value)}', field=field
        )
    if not amount.is_finite():
        raise RuleViolation(rule, f"{field} must be a finite amount, got {shown(value)}", field=field)
    if amount < 0 or (positive and amount == 0):
        need = "greater than 0" if positive else "0 or more"
        raise RuleViolation(rule, f"{field} must be {need}, got {shown(value)}", field=field)
    if amount > MAX_AMOUNT:
        raise RuleViolation(rule, f"{field} must be at most {MAX_AMOUNT:,}, got {shown(value)}", field=field)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if whole_pounds and amount != amount.to_integral_value():
        raise RuleViolation("R-20", f"{field} must be whole pounds, got {shown(value)}", field=field)
    if exponent < -2 and amount != amount.quantize(PENNY):
        raise RuleViolation(rule, f"{field} has more than 2 decimal places: {shown(value)}", field=field)
    return amount.quantize(PENNY) if exponent < -2 else amount


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
    """Exactly two decimals, no separators: the contract's JSON form ("838.00")."""
    return f"{amount.quantize(PENNY, rounding=ROUND_HALF_UP):f}"


def format_pounds(amount: Decimal, *, pence: bool = False) -> str:
    """For people: thousands separators, whole pounds unless `pence` ("51,088" or "1,234.50")."""
    if pence:
        return f"{amount.quantize(PENNY, rounding=ROUND_HALF_UP):,.2f}"
    return f"{amount.quantize(POUND, rounding=ROUND_HALF_UP):,.0f}"
