"""`parse_event` makes its `Event` and a claim's `SpendClaimed` without their dataclasses' `__init__`
(issue 18): each must be the very object the dataclass would make."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, fields, replace
from datetime import date
from decimal import Decimal

import pytest

from ktpledger.domain.errors import RuleViolation
from ktpledger.domain.events import Event, SpendClaimed, parse_event
from ktpledger.domain.rules import Category, Tag
from tests.ledger.factory import claim


def test_a_parsed_claim_is_the_dataclasses_own() -> None:
    raw = claim("c1", amount="12.50", description="  train  ", tags=[next(iter(Tag)).value])
    event = parse_event(raw)
    payload = event.payload
    assert isinstance(payload, SpendClaimed)
    expected_payload = SpendClaimed(
        category=payload.category, amount=Decimal("12.50"), description="train", tags=payload.tags
    )
    expected = Event(
        project=raw["project"], key="c1", date=date.fromisoformat(raw["date"]), payload=expected_payload
    )
    for made, want in ((event, expected), (payload, expected_payload)):
        assert made == want
        assert hash(made) == hash(want)
        assert repr(made) == repr(want)
        assert type(made) is type(want)
        assert {field.name for field in fields(want)} == set(vars(made))
        assert pickle.loads(pickle.dumps(made)) == want
    with pytest.raises(FrozenInstanceError):
        event.key = "other"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        payload.amount = Decimal(1)  # type: ignore[misc]
    assert replace(event, key="c2").key == "c2"
    assert isinstance(payload.category, Category)
    assert payload.tags == (next(iter(Tag)),)


def test_a_claim_s_fields_are_refused_in_their_order() -> None:
    """The category is read (and refused) before the amount, the amount before the description."""
    raw = claim("c1", amount="-1")
    raw["data"]["category"] = "no such category"
    with pytest.raises(RuleViolation) as caught:
        parse_event(raw)
    assert caught.value.field == "category"
    raw = claim("c1", amount="-1")
    raw["data"]["description"] = ""
    with pytest.raises(RuleViolation) as caught:
        parse_event(raw)
    assert caught.value.field == "amount"
