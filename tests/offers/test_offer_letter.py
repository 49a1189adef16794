"""The pure reading of an offer letter (domain/offer_letter.py): labels, amounts and terms as
offices write them, each refusal naming where."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.offer_letter import (
    LINE_NAMES,
    Written,
    letter_amount,
    letter_date,
    letter_flag,
    letter_months,
    letter_rate,
    normalized,
)
from ktpledger.domain.rules import Category


@pytest.mark.parametrize(
    ("label", "category"),
    [
        ("Travel & Subsistence", Category.TRAVEL_SUBSISTENCE),
        ("TRAVEL AND SUBSISTENCE:", Category.TRAVEL_SUBSISTENCE),
        ("travel_subsistence", Category.TRAVEL_SUBSISTENCE),
        ("Associate Employment Costs (£)", Category.ASSOCIATE_EMPLOYMENT),
        ("Associate Employment", Category.ASSOCIATE_EMPLOYMENT),
        ("Equipment purchase", None),
        ("  associate-employment costs ", Category.ASSOCIATE_EMPLOYMENT),
        ("Knowledge Base Overheads", Category.KNOWLEDGE_BASE_OVERHEADS),
        ("Academic & Secretarial Support", Category.ACADEMIC_SECRETARIAL_SUPPORT),
    ],
)
def test_labels_are_compared_without_case_or_punctuation(label: str, category: Category | None) -> None:
    assert LINE_NAMES.get(normalized(label)) is category


@pytest.mark.parametrize(
    ("text", "pounds"),
    [("£12,345", 12345), ("12345", 12345), ("12345.00", 12345), ("£ 1,000,000", 1000000), ("-", 0), ("", 0)],
)
def test_amounts_as_offices_write_them(text: str, pounds: int) -> None:
    assert letter_amount(text, label="Consumables", where="cell C9") == Decimal(pounds)


@pytest.mark.parametrize(
    ("text", "rule"), [("£12,345.50", "R-20"), ("12,34", "R-31"), ("-5", "R-31"), ("1e3", "R-31")]
)
def test_an_amount_that_is_not_whole_pounds_is_refused_naming_the_cell(text: str, rule: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        letter_amount(text, label="Consumables", where="row 9, cell C9")
    assert refused.value.rule == rule
    assert refused.value.message.startswith("Consumables (row 9, cell C9): ")


@given(st.integers(min_value=0, max_value=10**9))
def test_any_whole_amount_written_with_pound_and_commas_reads_back(pounds: int) -> None:
    assert letter_amount(f"£{pounds:,}", label="x", where="cell A1") == pounds


@pytest.mark.parametrize("text", ["2024-06-01", "01/06/2024", "1/6/2024", "1 June 2024", "1st Jun 2024"])
def test_dates_as_offices_write_them(text: str) -> None:
    assert letter_date(Written(text, "cell B7"), term="start") == date(2024, 6, 1)


@pytest.mark.parametrize("text", ["2024-6-1", "31/02/2024", "June 2024", "06/01/24"])
def test_a_date_that_cannot_be_read_is_refused_naming_the_cell(text: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        letter_date(Written(text, "cell B7"), term="start")
    assert (refused.value.rule, refused.value.message[:16]) == ("R-01", "start (cell B7) ")


@pytest.mark.parametrize(
    ("text", "rate"), [("0.67", "0.67"), ("67%", "0.67"), ("67", "0.67"), ("0.5", "0.5"), ("100%", "1")]
)
def test_grant_rates(text: str, rate: str) -> None:
    assert f"{letter_rate(Written(text, 'cell B11')):f}" == rate


@pytest.mark.parametrize("text", ["0", "0%", "150%", "two thirds"])
def test_a_grant_rate_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        letter_rate(Written(text, "cell B11"))
    assert refused.value.rule == "R-03" and "cell B11" in refused.value.message


def test_months_and_flags() -> None:
    assert letter_months(Written("24 months", "cell B8")) == 24
    assert letter_months(Written("24", "cell B8")) == 24
    with pytest.raises(RuleViolation, match="R-02"):
        letter_months(Written("two years", "cell B8"))
    assert letter_flag(Written("Yes", "cell B12"), term="london") is True
    assert letter_flag(Written("FALSE", "cell B12"), term="london") is False
    assert letter_flag(None, term="london") is False
    with pytest.raises(RuleViolation, match="cell B12"):
        letter_flag(Written("maybe", "cell B12"), term="london")
